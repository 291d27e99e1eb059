"""Histogram gradient boosting fitted on the table's rows with one copy of them instead of two.

With early stopping (on by default above 10,000 rows) scikit-learn's HistGradientBoosting*
splits off a validation set: `train_test_split(X, y, ...)` copies the rows it was given, which
were already a copy of the training rows taken out of the table. For a cross-validation fit at
640,000 rows that is 100 MB held twice. scikit-learn also accepts the validation set directly
(`fit(X, y, X_val=..., y_val=...)`): mlproj draws the very split scikit-learn would draw, on row
indices, and takes both parts straight out of the table. The model is the same bit for bit
(tests compare the predictions with a plain fit). Where the split cannot be reproduced exactly
(class weights, categorical features, no fixed seed, early stopping decided differently for
the smaller part) the estimator fits as usual.
"""

from __future__ import annotations

import numpy as np

BOOSTING = frozenset({"HistGradientBoostingClassifier", "HistGradientBoostingRegressor"})
# scikit-learn's `early_stopping="auto"`: on when the rows given to fit are more than this.
AUTO_EARLY_STOPPING_ROWS = 10_000


def validation_split(estimator, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions (within the training rows) of the inner training and validation rows that
    `estimator.fit` on these rows would use for early stopping, or None when mlproj cannot
    reproduce them, or the estimator would not split."""
    if type(estimator).__name__ not in BOOSTING:
        return None
    params = estimator.get_params()
    seed, fraction = params["random_state"], params["validation_fraction"]
    if (params["warm_start"] or params.get("class_weight") is not None or fraction is None
            or not isinstance(seed, (int, np.integer)) or params["early_stopping"] not in ("auto", True)
            # categories are read from all the rows given to fit, not from the inner part only
            or params["categorical_features"] not in (None, "from_dtype")):
        return None
    from sklearn.base import is_classifier
    from sklearn.model_selection import train_test_split

    # As HistGradientBoosting*.fit: the split's seed is the first draw of the estimator's seed.
    split_seed = np.random.RandomState(seed).randint(np.iinfo(np.uint32).max, dtype="u8")
    stratify = y_train if is_classifier(estimator) else None
    inner, held = train_test_split(np.arange(len(y_train)), test_size=fraction, stratify=stratify,
                                   random_state=split_seed)
    if params["early_stopping"] == "auto" and len(inner) <= AUTO_EARLY_STOPPING_ROWS:
        return None  # fitted on the inner rows alone, it would decide against early stopping
    if stratify is not None and len(np.unique(y_train[inner])) != len(np.unique(y_train)):
        return None  # a class only in the validation part: scikit-learn's own split handles it
    return inner, held
