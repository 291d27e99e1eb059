"""Random forests and extra trees fitted with bounded memory, giving the same predictions.

A fully grown tree has about one leaf per few training rows, so the trees of a default
100-tree forest take ~100 bytes per training row each: 2.5 GB at 800,000 rows, fifteen times
the table. A cross-validation fit only needs the validation predictions, so its trees are grown
a batch at a time with scikit-learn's `warm_start` (which draws the per-tree seeds exactly as
one fit would), each batch's votes are added to a running sum in tree order, and the batch is
let go. The forest's own `predict_proba`/`predict` computes the same float64 sum of the same
trees in the same order and divides by their number, so the predictions are identical bit for
bit (tests compare them with the plain forest's).

The final model of a run is a whole forest, fitted as usual: it is saved and predicts later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mlproj.memory import return_freed_memory

if TYPE_CHECKING:
    from mlproj.plan.estimators import ModelSpec

# Forests grow their trees in threads that release the GIL and never spin-wait, and their fit
# does not depend on the number of threads: they may use every granted core, so a worker that
# runs out of tasks is not left idle while the last, long forest fits finish on the others.
FORESTS = frozenset({"RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
                     "ExtraTreesRegressor"})


def grows_trees_in_threads(spec: ModelSpec) -> bool:
    """A forest mlproj may parallelise over trees: not when the project sets n_jobs,
    nor inside calibration, whose inner copies would keep the setting when predicting."""
    return spec.estimator in FORESTS and "n_jobs" not in spec.params and not spec.calibration


def forest_in(estimator, spec: ModelSpec):
    """The forest of a built estimator (alone or last in a pipeline), or None (also when
    wrapped by calibration, whose inner copies mlproj does not reach)."""
    if spec.estimator not in FORESTS or spec.calibration or spec.search:
        return None
    return estimator[-1] if hasattr(estimator, "steps") else estimator


# Size of one fully grown tree per training row, to decide before fitting: 19 B measured on
# noisy two-class labels (nodes of 64 + 8 x classes bytes); 40 leaves room for more classes.
TREE_BYTES_PER_ROW = 40
# Forests expected to be larger than this are grown in batches of at most TREE_BUDGET_BYTES
# of trees (but one tree per thread at least); smaller ones are fitted in one go.
WHOLE_FOREST_BYTES = 512 * 2**20
TREE_BUDGET_BYTES = 64 * 2**20


def needs_batches(forest, n_rows: int) -> bool:
    """Whether the whole forest might be too large, and can be grown in batches (which needs
    warm_start for itself, and no out-of-bag score, which needs every tree)."""
    params = forest.get_params()
    if params.get("oob_score") or params.get("warm_start"):
        return False
    return params["n_estimators"] > 1 and params["n_estimators"] * TREE_BYTES_PER_ROW * n_rows > WHOLE_FOREST_BYTES


def _next_batch(tree_bytes: float, remaining: int, tree_jobs: int) -> int:
    """Trees in the next batch, from the measured size of those grown so far: as many as the
    budget holds, in whole rounds of `tree_jobs` so that no thread waits for the others."""
    fitting = int(TREE_BUDGET_BYTES // max(tree_bytes, 1.0))
    rounds = max(1, fitting // tree_jobs) * tree_jobs
    return min(remaining, rounds)


NODE_BYTES = 64  # scikit-learn's tree node record


def _size_of(tree) -> int:
    return tree.tree_.capacity * NODE_BYTES + tree.tree_.value.nbytes


def as_float32_rows(X: np.ndarray, rows: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """X[rows] as float32, without the float64 copy in between.

    Trees split on float32 values (scikit-learn converts any input), so a forest fitted on
    this copy is the same forest, and the copy takes half the memory.
    """
    out = np.empty((len(rows), X.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        out[start:start + chunk] = X[rows[start:start + chunk]]
    return out


def fit_predict_in_batches(forest, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray,
                           tree_jobs: int = 1) -> np.ndarray:
    """Fit `forest` a batch of trees at a time and return what its predict_proba (classifiers)
    or predict (regressors) would give for X_valid; the forest keeps none of its trees.

    The first batch has one tree per thread; later batches are as large as the budget allows
    for trees of the size measured so far.
    """
    total = forest.get_params()["n_estimators"]
    classifier = hasattr(forest, "predict_proba")
    X_valid = np.ascontiguousarray(X_valid, dtype=np.float32)  # the dtype the forest predicts in
    summed = None
    grown, largest = 0, 0
    forest.set_params(warm_start=True)
    try:
        while grown < total:
            new = min(tree_jobs, total) if grown == 0 else _next_batch(largest, total - grown, tree_jobs)
            forest.set_params(n_estimators=grown + new)
            forest.fit(X_train, y_train)
            for index in range(grown, grown + new):
                tree = forest.estimators_[index]
                largest = max(largest, _size_of(tree))
                votes = (tree.predict_proba(X_valid, check_input=False) if classifier
                         else tree.predict(X_valid, check_input=False))
                if summed is None:
                    summed = np.zeros(votes.shape, dtype=np.float64)
                summed += votes
                # warm_start counts the trees already grown but never reads them again
                forest.estimators_[index] = None
            grown += new
            return_freed_memory()
    finally:
        forest.set_params(warm_start=False, n_estimators=total)
    summed /= total
    return summed
