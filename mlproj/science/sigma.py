"""σ(x): the per-object spread of a regression model's predictions, learnt from its training rows
(paper §5.2). Pure: arrays in, arrays and fitted scikit-learn models out.

The spread returned here is unscaled: a run calibrates it on the out-of-fold residuals of the
other folds (mlproj.analyse), so only its shape across objects matters. `mlproj predict`
recomputes it for new objects with `spread_of` on the models `fit_spread` returned.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_spread", "spread_of"]


def fit_spread(method: str, estimator, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray,
               seed: int) -> tuple[np.ndarray, dict]:
    """Unscaled σ(x) of the validation rows, and the fitted models that give it.

    residual: a model of |residual| on inner out-of-fold residuals (in-sample residuals of a
    flexible model are too small); quantile: half the distance between the gradient-boosted
    15.9% and 84.1% quantiles; ensemble: the spread of five clones of `estimator`, each fitted
    on four fifths of the training rows.
    """
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import KFold, cross_val_predict

    if method == "quantile":
        models = [HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=100, random_state=seed)
                  .fit(X_train, y_train) for q in (0.159, 0.841)]
    elif method == "ensemble":
        models = [clone(estimator).fit(X_train[part], y_train[part])
                  for part, _ in KFold(5, shuffle=True, random_state=seed).split(X_train)]
    else:
        inner = cross_val_predict(clone(estimator), X_train, y_train, cv=KFold(3, shuffle=True, random_state=seed))
        models = [HistGradientBoostingRegressor(max_iter=100, random_state=seed).fit(X_train, np.abs(y_train - inner))]
    fitted = {"method": method, "models": models}
    # A fitted spread can dip to zero or below; a σ of ~0 would let one object's NLL dominate
    # everything, so keep at least a fifth of the typical value on the training rows.
    fitted["floor"] = max(0.2 * float(np.median(np.abs(spread_of(fitted, X_train, floor=False)))), 1e-12)
    return spread_of(fitted, X_valid), fitted


def spread_of(fitted: dict, X: np.ndarray, floor: bool = True) -> np.ndarray:
    """The unscaled σ(x) of models returned by `fit_spread` (shared by runs and `mlproj predict`)."""
    predictions = [m.predict(X) for m in fitted["models"]]
    if fitted["method"] == "quantile":
        spread = (predictions[1] - predictions[0]) / 2
    elif fitted["method"] == "ensemble":
        spread = np.std(predictions, axis=0)
    else:
        spread = predictions[0]
    return np.maximum(spread, fitted["floor"]) if floor else spread
