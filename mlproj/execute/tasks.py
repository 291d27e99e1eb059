"""The task function: one fit of a plan, from a named `FitCall` to a `TaskOutput`.

It knows nothing about YAML or backends: it receives the shared arrays and one call, and returns
plain data (scikit-learn's `_fit_and_score` pattern), so it runs the same sequentially, in
worker threads or processes, or on a dask worker.
"""

from __future__ import annotations

import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlproj.execute.boosting import validation_split
from mlproj.execute.cache import TaskOutput
from mlproj.execute.feature_sets import FeatureView, localise
from mlproj.execute.forests import (
    as_float32_rows,
    fit_predict_in_batches,
    forest_in,
    grows_trees_in_threads,
    needs_batches,
)
from mlproj.execute.search import chosen, final_model, with_search
from mlproj.execute.threads import quiet_and_limited
from mlproj.plan.estimators import ModelSpec, build_estimator
from mlproj.science.augmentation import Recompute, augmented_training_set
from mlproj.science.sigma import fit_spread


@dataclass(frozen=True)
class FitData:
    """The arrays every fit of a run shares (never copied per task)."""

    X: np.ndarray
    y: np.ndarray
    errors: np.ndarray | None = None  # 1σ measurement errors per value, for augmented copies
    ranges: np.ndarray | None = None  # (2, n, p) bounds of non-detections, for augmented copies
    # Derived features from drawn values, for augmented copies (mlproj.data.dataset.DerivedFeatures:
    # picklable, for process and dask workers; what it computes is in every task key through
    # data.derived and data.errors).
    recompute: Recompute | None = None


@dataclass(frozen=True, eq=False)
class FitCall:
    """One fit: which model, on which rows, with which seed, and how it may use the machine."""

    spec: ModelSpec
    task_kind: str  # "classification" | "regression"
    key: str  # the task's content hash: its cache entry
    train: np.ndarray  # row indices into FitData.X
    valid: np.ndarray  # the rows to predict
    seed: int
    draws: int = 0  # augmented copies of each training row (spec.augment, when the data has errors)
    model_path: str | None = None  # keep the fitted model there (skops), with its σ(x) models
    threads: int | None = 1  # OpenMP threads; None: the caller has set the limits and silenced warnings
    tree_jobs: int = 1  # threads a forest may grow its trees in (see forests.FORESTS)
    view: FeatureView | None = None  # an ablation's feature set: the columns it keeps and replaces


def fit_and_predict(call: FitCall, data: FitData) -> TaskOutput:
    """Fit one model on the training rows and predict the validation rows.

    Failures are captured per task (as scikit-learn's error_score does) so one bad fit does not
    lose the others; the message reaches the summary.
    """
    spec = call.spec
    start = time.perf_counter()
    try:
        if call.view is not None:
            call, data = localise(call, data)
        estimator = with_search(build_estimator(spec, call.task_kind, call.seed), spec, call.task_kind, call.seed)
        start = time.perf_counter()  # fit time is a tie-breaker: exclude one-off imports
        with quiet_and_limited(call.threads) if call.threads is not None else nullcontext():
            training = list(_training_rows(call, estimator, data))
            predictions = _fit_predict(estimator, spec, call.task_kind, training, data.X, call.valid,
                                       int(data.y.max()) + 1, call.tree_jobs, keep_trees=call.model_path is not None)
            if call.task_kind == "regression" and spec.uncertainty != "global":
                # From the original training rows: augmented copies would share inner folds.
                X, y = data.X, data.y
                # A search's σ(x) models clone its refit model, with the values chosen on these rows.
                scale, spread_models = fit_spread(spec.uncertainty, final_model(estimator), X[call.train],
                                                  y[call.train], X[call.valid], call.seed)
                predictions = np.column_stack([predictions, scale])
        output = TaskOutput(call.key, predictions, time.perf_counter() - start, search=chosen(estimator, spec))
        if call.model_path is not None:
            from mlproj.plan.estimators import model_types
            from mlproj.store.model_files import save_model

            path = Path(call.model_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            types = model_types(spec.imports)
            save_model(final_model(estimator), path, types)
            if call.task_kind == "regression" and spec.uncertainty != "global":
                save_model(spread_models, spread_path(path), types)
    except Exception as exc:  # noqa: BLE001 - any estimator failure is this task's result
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        output = TaskOutput(call.key, None, time.perf_counter() - start, error=last)
    return output


def spread_path(model_path: Path) -> Path:
    """Where the σ(x) models of a kept regression model are saved, beside it."""
    return model_path.with_name(model_path.stem + ".spread.skops")


def _training_rows(call: FitCall, estimator, data: FitData) -> tuple[np.ndarray, np.ndarray, dict]:
    """The training rows (augmented when asked), their labels, and further arguments of `fit`
    (gradient boosting's early-stopping rows, taken out of the table in one copy: mlproj.execute.boosting)."""
    X, y, train = data.X, data.y, call.train
    if call.draws:
        X_train, y_train, _ = augmented_training_set(X, y, data.errors, train, call.draws, call.seed, data.ranges,
                                                     data.recompute)
        return X_train, y_train, {}
    if forest_in(estimator, call.spec) is estimator:
        return as_float32_rows(X, train), y[train], {}
    split = validation_split(estimator, y[train])
    if split is not None:
        inner, held = train[split[0]], train[split[1]]
        return X[inner], y[inner], {"X_val": X[held], "y_val": y[held]}
    return X[train], y[train], {}


def _fit_predict(estimator, spec: ModelSpec, task_kind: str, training: list, X: np.ndarray, valid: np.ndarray,
                 n_classes: int, tree_jobs: int, keep_trees: bool) -> np.ndarray:
    """Fit on `training` ([rows, labels, further arguments of fit]), then predict the validation
    rows: class probabilities, or values.

    The list is emptied, so that the training rows are freed as soon as the fit is done, before
    the validation rows are copied out of X for the predictions (at a million rows the two
    would otherwise add up to the largest memory of the run). A forest grows its trees in
    `tree_jobs` threads (unless the project sets n_jobs) and, when its trees are not kept and
    would not fit the memory budget, a batch at a time (mlproj.execute.forests).
    """
    X_train, y_train, fit_params = training
    training.clear()
    forest = forest_in(estimator, spec)
    threaded = forest is not None and tree_jobs > 1 and grows_trees_in_threads(spec)
    if threaded:
        forest.set_params(n_jobs=tree_jobs)
    if forest is estimator and not keep_trees and needs_batches(forest, len(X_train)):
        summed = fit_predict_in_batches(forest, X_train, y_train, as_float32_rows(X, valid), tree_jobs if threaded else 1)
        return _class_columns(summed, forest.classes_, n_classes) if task_kind == "classification" else summed
    estimator.fit(X_train, y_train, **fit_params)
    del X_train, y_train, fit_params
    if threaded:
        # Predict in one thread: votes summed in completion order would change the last digits.
        forest.set_params(n_jobs=None)
    X_valid = as_float32_rows(X, valid) if forest is estimator else X[valid]
    if task_kind == "classification":
        return _probabilities(estimator, X_valid, n_classes)
    return np.asarray(estimator.predict(X_valid), dtype=np.float64)


def _probabilities(estimator, X: np.ndarray, n_classes: int) -> np.ndarray:
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    return _class_columns(proba, estimator.classes_ if hasattr(estimator, "classes_") else estimator[-1].classes_,
                          n_classes)


def _class_columns(proba: np.ndarray, classes, n_classes: int) -> np.ndarray:
    """Probabilities in class-index order, with zero columns for classes absent from training."""
    classes = np.asarray(classes)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, classes.astype(int)] = proba
    return full
