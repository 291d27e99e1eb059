"""Nested tuning (a candidate's `search:`): scikit-learn's GridSearchCV or RandomizedSearchCV
around one fit's model, run on that fit's training rows only.

The search's inner folds split the outer *training* rows (StratifiedKFold for classification,
KFold for regression, shuffled with the task's seed), score each combination with the
project's primary metric, and refit the best on the whole training part; the outer validation
rows are predicted by that refit model alone, so the cross-validated scores stay honest (the
choice never saw them). The values chosen in each fold are returned with the fit's output
(`chosen`), and the saved model is the refit one (`final_model`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlproj.plan.estimators import ModelSpec


@dataclass(frozen=True)
class SearchScorer:
    """The project's primary metric as a scikit-learn scorer (estimator, X, y) -> higher is
    better, computed as mlproj scores a fold (science.metrics). Picklable, for process and dask
    workers."""

    metric: str
    params: dict
    positives: tuple[int, ...]
    greater_is_better: bool
    task: str

    def __call__(self, estimator, X, y) -> float:
        from mlproj.science import metrics

        y = np.asarray(y)
        if self.task == "regression":
            value = metrics.compute(self.metric, self.params, y, np.asarray(estimator.predict(X), dtype=float))
        else:
            proba = np.asarray(estimator.predict_proba(X), dtype=float)
            classes = np.asarray(estimator.classes_).astype(int)
            width = int(max(classes.max(initial=0), y.max(initial=0), max(self.positives, default=0))) + 1
            full = np.zeros((len(proba), width))
            full[:, classes] = proba
            if metrics.METRICS[self.metric].binary:
                positive = np.isin(y, self.positives)
                score = full[:, list(self.positives)].sum(axis=1)
                value = metrics.compute(self.metric, self.params, positive.astype(int), np.c_[1 - score, score],
                                        positive=1)
            else:
                value = metrics.compute(self.metric, self.params, y, full)
        value = float(value)
        return value if self.greater_is_better or math.isnan(value) else -value


def with_search(estimator, spec: ModelSpec, task: str, seed: int):
    """`estimator` (as build_estimator made it) inside the spec's nested search, or unchanged."""
    if not spec.search:
        return estimator
    from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid, RandomizedSearchCV, StratifiedKFold

    search = spec.search
    prefix = parameter_prefix(spec)
    grid = {prefix + key: list(values) for key, values in search["grid"].items()}
    splitter = StratifiedKFold if task == "classification" else KFold
    inner = splitter(n_splits=search["folds"], shuffle=True, random_state=seed)
    scoring = search.get("scoring")
    scorer = None if scoring is None else SearchScorer(scoring["metric"], dict(scoring["params"]),
                                                       tuple(scoring["positives"]), scoring["greater_is_better"], task)
    size = len(ParameterGrid(grid))
    if search.get("iterations") and search["iterations"] < size:
        return RandomizedSearchCV(estimator, grid, n_iter=search["iterations"], cv=inner, scoring=scorer, refit=True,
                                  random_state=seed, error_score="raise")
    return GridSearchCV(estimator, grid, cv=inner, scoring=scorer, refit=True, error_score="raise")


def parameter_prefix(spec: ModelSpec) -> str:
    """Where the candidate's own parameters sit in the model build_estimator makes: behind the
    imputation/scaling pipeline (its last step) and the calibration (`estimator`)."""
    prefix = ""
    if spec.impute or spec.scale:
        inner = "pipeline" if spec.steps is not None else (
            "calibratedclassifiercv" if spec.calibration else spec.estimator.rsplit(".", 1)[-1].lower())
        prefix += inner + "__"
    if spec.calibration:
        prefix += "estimator__"
    return prefix


def is_search(estimator) -> bool:
    return hasattr(estimator, "best_params_") and hasattr(estimator, "best_estimator_")


def chosen(estimator, spec: ModelSpec) -> dict | None:
    """The values the fitted search chose, by the names the project file gives them."""
    if not spec.search or not is_search(estimator):
        return None
    prefix = parameter_prefix(spec)
    return {key[len(prefix):]: _plain(value) for key, value in sorted(estimator.best_params_.items())}


def final_model(estimator):
    """The model that predicted: a search's refit best estimator, or the estimator itself."""
    return estimator.best_estimator_ if is_search(estimator) else estimator


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
