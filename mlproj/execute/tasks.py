"""Run the tasks of a plan on a backend, with a content-addressed cache.

This module knows nothing about YAML: it receives a compiled plan and arrays. Each task is one
function call that returns plain data (scikit-learn's `_fit_and_score` pattern), so it runs the
same sequentially or under joblib; a worker writes its own cache entry the moment it finishes,
so an interrupted run keeps every completed fit.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from mlproj.execute.boosting import BOOSTING, validation_split
from mlproj.execute.forests import as_float32_rows, fit_predict_in_batches, needs_batches
from mlproj.memory import return_freed_memory
from mlproj.plan.compile import Plan, Task
from mlproj.plan.estimators import ModelSpec, build_estimator
from mlproj.store.files import atomic_write


@dataclass
class TaskOutput:
    key: str
    predictions: np.ndarray | None  # (n_valid, K) probabilities, or (n_valid,) values
    fit_seconds: float
    error: str | None = None
    cached: bool = False
    stored: str | None = None  # the cache entry holding the predictions, when they are not held here

    def loaded(self) -> np.ndarray | None:
        """The predictions, read back from the cache if they were let go (run_tasks(release=True))."""
        if self.predictions is not None or self.stored is None:
            return self.predictions
        try:
            with np.load(self.stored, allow_pickle=False) as entry:
                return entry["predictions"]
        except (OSError, ValueError, KeyError) as exc:
            from mlproj.errors import RunError

            raise RunError(f"the cache entry {self.stored} disappeared or broke during the run ({exc})",
                           hint="run `mlproj run` again: it refits what is missing") from None


class Cache:
    """`.mlproj/cache/<key[:2]>/<key>.npz`; written to a temporary file and renamed into place.

    Each entry holds its own key: one found under another key's name (files swapped or copied by
    hand, or written by an mlproj before keys were stored) is deleted and refitted, never trusted;
    `mismatched` counts them. An entry that cannot be read is deleted and treated as a miss too:
    never trusted, never fatal. A file system that refuses to store an entry (full disk, read-only,
    a file or folder in the way) is a StorageError; the entries already there stay whole.
    """

    # Workers write through Cache objects of their own, and a worker thread's error reaches the
    # caller only as a failed fit: the first storage fault of each cache is kept here for it.
    _write_failures: dict[Path, Exception] = {}

    def __init__(self, root: Path):
        self.root = Path(root)
        self.mismatched = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def model_path(self, key: str) -> Path:
        """Fitted final models are kept (skops format) so that `mlproj predict` needs no refit."""
        return self.root / key[:2] / f"{key}.skops"

    def get(self, key: str, n_rows: int) -> TaskOutput | None:
        path = self.path(key)
        if path.is_dir() and not path.is_symlink():
            raise self._stray_folder(path)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as entry:
                stored = str(entry["key"][()]) if "key" in entry.files else None
                if stored != key:
                    self.mismatched += 1
                    raise ValueError("the entry holds another key's fit")
                predictions = entry["predictions"]
                fit_seconds = float(entry["fit_seconds"])
            if predictions.shape[0] != n_rows:
                raise ValueError("row count does not match the plan")
            return TaskOutput(key, predictions, fit_seconds, cached=True)
        except Exception:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only cache: the refit's put says so
            return None

    def sweep_temporary(self) -> int:
        """Remove half-written entries left by a killed run (only while holding the project lock)."""
        from mlproj.errors import storage_error

        stray = [p for p in self.root.glob("*/.*.tmp") if not p.is_dir()] if self.root.is_dir() else []
        for path in stray:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise storage_error(exc, "remove", path) or exc from None
        return len(stray)

    def prune(self, keep: set[str]) -> tuple[int, int]:
        """Delete entries whose key is not in `keep` (and stray temporary files); (files, bytes) freed.
        Folders inside the cache are not mlproj's: they are left alone."""
        from mlproj.errors import storage_error

        files = freed = 0
        if not self.root.is_dir():
            return 0, 0
        for path in self.root.glob("*/*"):
            key = path.name.split(".")[0]
            if path.is_dir() and not path.is_symlink():
                continue
            if path.name.endswith(".tmp") or key not in keep:
                try:
                    freed += path.lstat().st_size
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    raise storage_error(exc, "remove", path) or exc from None
                files += 1
        return files, freed

    def put(self, output: TaskOutput) -> None:
        if output.error is not None or output.predictions is None:
            return  # failures are retried on the next run, not remembered
        from mlproj.errors import StorageError, storage_error

        path = self.path(output.key)
        try:
            if path.is_dir() and not path.is_symlink():
                raise self._stray_folder(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise storage_error(exc, "create the cache folder", path.parent) or exc from None
            with atomic_write(path, "wb") as stream:  # a full disk leaves the old entry (or none)
                np.savez(stream, predictions=output.predictions, fit_seconds=output.fit_seconds,
                         key=np.array(output.key))
        except StorageError as exc:
            Cache._write_failures.setdefault(self.root, exc)
            raise

    def write_failure(self) -> Exception | None:
        """The first StorageError a put into this cache raised since the last call (also in a
        worker thread, whose error reaches run_tasks' caller only as a failed fit); then forgotten."""
        return Cache._write_failures.pop(self.root, None)

    @staticmethod
    def _stray_folder(path: Path) -> Exception:
        from mlproj.errors import StorageError

        return StorageError(f"{path} is a folder, where mlproj keeps the cache entry of a fit",
                            hint=f"remove it (rm -r '{path}'): the cache holds only copies of results that "
                                 "mlproj can compute again")


def inner_threads(n_workers: int, cores: int | None = None) -> int:
    """OpenMP threads each fit may use so that workers × threads stays within the cores granted.

    `cores` is what `-j` grants (default: every core of the machine); `-j 1` means one core, as
    in make and joblib. OpenMP estimators (histogram gradient boosting) spin-wait for their
    threads: oversubscribed, a one-second fit can take minutes. OMP_NUM_THREADS, when set, is an
    upper bound.
    """
    cores = cores or os.cpu_count() or 1
    threads = max(1, cores // max(1, n_workers))
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return min(threads, int(limit)) if limit.isdigit() and int(limit) > 0 else threads


# Forests grow their trees in threads that release the GIL and never spin-wait, and their fit
# does not depend on the number of threads: they may use every granted core, so a worker that
# runs out of tasks is not left idle while the last, long forest fits finish on the others.
FORESTS = frozenset({"RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
                     "ExtraTreesRegressor"})


# Gradient boosting (mlproj.execute.boosting.BOOSTING) parallelises each of its thousands of histogram
# passes with OpenMP, with Python in between: two fits side by side on one thread each contend
# for the GIL and are no faster than one after the other (0.16 s per fit at 12,800 rows), while
# one fit on two OpenMP threads takes 0.13 s, and 1.8x less time than on one at 100,000 rows.
# Such fits run alone on every granted core (see _execute_in_threads), unless OMP_NUM_THREADS
# allows them only one thread: then they cannot use the other cores and do not hold them.


# A fit whose training matrix is at least this large runs alone, on every granted core (see
# _execute_in_threads): about 400,000 rows of 20 float64 features.
LARGE_FIT_BYTES = 64 * 2**20


def training_bytes(X: np.ndarray, train: np.ndarray, spec: ModelSpec) -> int:
    """Size of one fit's copy of its training rows (with its augmented copies)."""
    return len(train) * (1 + (spec.augment or 0)) * X.shape[1] * X.itemsize


def _grows_trees_in_threads(spec: ModelSpec) -> bool:
    """A forest mlproj may parallelise over trees (not when the project sets n_jobs, nor inside
    calibration, whose inner copies would keep the setting when predicting)."""
    return spec.estimator in FORESTS and "n_jobs" not in spec.params and not spec.calibration


def _forest_in(estimator, spec: ModelSpec):
    """The forest of a built estimator (alone or last in a pipeline), or None (also when
    wrapped by calibration, whose inner copies mlproj does not reach)."""
    if spec.estimator not in FORESTS or spec.calibration:
        return None
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def _training_rows(spec: ModelSpec, estimator, X: np.ndarray, y: np.ndarray, train: np.ndarray, seed: int,
                   errors: np.ndarray | None, ranges: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The training rows (augmented when asked), their labels, and further arguments of `fit`
    (gradient boosting's early-stopping rows, taken out of the table in one copy: mlproj.execute.boosting)."""
    if spec.augment and (errors is not None or ranges is not None):
        X_train, y_train, _ = augmented_training_set(X, y, errors, train, spec.augment, seed, ranges)
        return X_train, y_train, {}
    if _forest_in(estimator, spec) is estimator:
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
    forest = _forest_in(estimator, spec)
    threaded = forest is not None and tree_jobs > 1 and _grows_trees_in_threads(spec)
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


def augmented_training_set(X: np.ndarray, y: np.ndarray, errors: np.ndarray | None, train: np.ndarray, draws: int,
                           seed: int, ranges: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training rows plus `draws` copies of each, and the row each copy came from.

    A copy scatters every measured value by its Gaussian error and draws every non-detection
    uniformly within its allowed range (paper §5.1). Copies are made from the training rows of
    one split only, so an object and its copies are always on the same side of the split.
    """
    rng = np.random.default_rng(seed)
    source = np.concatenate([train, np.repeat(train, draws)])
    copies = source[len(train):]
    X_aug = X[source].copy()
    if errors is not None:
        X_aug[len(train):] += rng.standard_normal((len(copies), X.shape[1])) * errors[copies]
    if ranges is not None:
        low, high = ranges[0][copies], ranges[1][copies]
        limited = ~np.isnan(low)
        uniform = low + rng.random(low.shape) * (high - low)
        X_aug[len(train):][limited] = uniform[limited]
    return X_aug, y[source], source


def fit_and_predict(spec: ModelSpec, task_kind: str, X: np.ndarray, y: np.ndarray, train: np.ndarray,
                    valid: np.ndarray, seed: int, key: str, cache_root: str | None = None,
                    threads: int = 1, errors: np.ndarray | None = None,
                    ranges: np.ndarray | None = None, model_path: str | None = None,
                    tree_jobs: int = 1) -> TaskOutput:
    """Fit one model on the training rows and predict the validation rows.

    Failures are captured per task (as scikit-learn's error_score does) so one bad fit does not
    lose the others; the message reaches the summary. `threads=0`: the caller has already set
    the thread limits and silenced warnings (both are process-wide, so worker threads cannot).
    `tree_jobs`: threads a forest may grow its trees in (see FORESTS).
    """
    start = time.perf_counter()
    try:
        estimator = build_estimator(spec, task_kind, seed)
        start = time.perf_counter()  # fit time is a tie-breaker: exclude one-off imports
        with _quiet_and_limited(threads):
            training = list(_training_rows(spec, estimator, X, y, train, seed, errors, ranges))
            predictions = _fit_predict(estimator, spec, task_kind, training, X, valid, int(y.max()) + 1,
                                       tree_jobs, keep_trees=model_path is not None)
            if task_kind == "regression":
                if spec.uncertainty != "global":
                    # From the original training rows: augmented copies would share inner folds.
                    scale, spread_models = _spread(spec.uncertainty, estimator, X[train], y[train], X[valid], seed)
                    predictions = np.column_stack([predictions, scale])
        output = TaskOutput(key, predictions, time.perf_counter() - start)
        if model_path is not None:
            from mlproj.plan.estimators import is_allowed_estimator_class
            from mlproj.store.model_files import save_model

            Path(model_path).parent.mkdir(parents=True, exist_ok=True)
            save_model(estimator, Path(model_path), is_allowed_estimator_class)
            if task_kind == "regression" and spec.uncertainty != "global":
                save_model(spread_models, spread_path(Path(model_path)), is_allowed_estimator_class)
    except Exception as exc:  # noqa: BLE001 - any estimator failure is this task's result
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        output = TaskOutput(key, None, time.perf_counter() - start, error=last)
    if cache_root is not None:
        Cache(Path(cache_root)).put(output)
    return output


def fit_and_release(*args) -> TaskOutput:
    """fit_and_predict, then hand the memory its copies and trees took back to the system."""
    output = fit_and_predict(*args)
    return_freed_memory()
    return output


@contextmanager
def _quiet_and_limited(threads: int):
    """Silence convergence chatter (it would drown the progress bar) and cap BLAS/OpenMP threads."""
    if threads == 0:
        yield
        return
    import warnings

    with warnings.catch_warnings(), thread_limits(_limits(threads)):
        warnings.simplefilter("ignore")
        yield


_controller = None
_controller_start = threading.Lock()


def threadpool_controller():
    """The process's one threadpoolctl controller, made on first use.

    A new controller (what threadpool_limits makes at each call) lists the shared libraries
    through a ctypes callback that takes the GIL once per library: 3 ms on its own, but 0.15 s
    while another thread runs Python (the background skops import), as every callback then
    waits out the interpreter's switch interval. It keeps the libraries it found: make it after
    scikit-learn is imported, which loads its OpenMP and BLAS libraries (any estimator does).
    """
    global _controller
    with _controller_start:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
    return _controller


def thread_limits(limits: int | dict[str, int], user_api: str | None = None):
    """threadpoolctl's threadpool_limits, through the process's one controller."""
    return threadpool_controller().limit(limits=limits, user_api=user_api)


def _limits(threads: int) -> dict[str, int]:
    """OpenMP threads per fit, but one BLAS thread always.

    Histogram gradient boosting gives identical models for any OpenMP thread count, while BLAS
    sums in a thread-dependent order (logistic regression's Brier score moved in the 17th digit
    between -j 1 and -j 2); one BLAS thread keeps the numbers the same for any -j and machine.
    """
    return {"openmp": threads, "blas": 1}


def _spread(method: str, estimator, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray,
            seed: int) -> tuple[np.ndarray, dict]:
    """Unscaled σ(x) of a regression method, learnt from the training rows only, and its models.

    It is calibrated later on the other folds (analysis), so only its shape across objects
    matters here. residual: a model of |residual| on inner out-of-fold residuals (in-sample
    residuals of a flexible model are too small); quantile: half the distance between the
    gradient-boosted 15.9% and 84.1% quantiles; ensemble: the spread of five models each fitted
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
    """The unscaled σ(x) of models returned by `_spread` (shared by runs and `mlproj predict`)."""
    predictions = [m.predict(X) for m in fitted["models"]]
    if fitted["method"] == "quantile":
        spread = (predictions[1] - predictions[0]) / 2
    elif fitted["method"] == "ensemble":
        spread = np.std(predictions, axis=0)
    else:
        spread = predictions[0]
    return np.maximum(spread, fitted["floor"]) if floor else spread


def spread_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".spread.skops")


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


# Predictions that run_tasks(release=True) may still hold: reading back what fits in this costs
# more time (0.06 s for 20 folds of 3,200 rows) than the memory is worth.
HELD_PREDICTIONS_BYTES = 4 * 2**20


def run_tasks(plan: Plan, tasks: list[Task], X: np.ndarray, y: np.ndarray, cache: Cache, *,
              n_jobs: int = 1, on_done: Callable[[TaskOutput], None] | None = None,
              errors: np.ndarray | None = None, ranges: np.ndarray | None = None,
              keep_models: bool = False, scheduler: str | None = None,
              workers: str = "threads", release: bool = False) -> dict[str, TaskOutput]:
    """Outputs for the given tasks: from the cache where possible, fitted otherwise.

    `on_done` is called once per task as results arrive (progress bars). KeyboardInterrupt
    propagates after the workers stop; every finished fit is already in the cache.
    `release`: keep at most HELD_PREDICTIONS_BYTES of predictions in memory; the rest are let go
    once they are in the cache (`TaskOutput.loaded` reads them back), so that the fits still to
    come do not share the memory with them: at a million rows they are a third of the table's
    size by the last fits.
    """
    outputs: dict[str, TaskOutput] = {}
    pending: list[Task] = []
    held = [0]

    def keep(output: TaskOutput) -> None:
        if on_done:
            on_done(output)
        if release and output.predictions is not None:
            entry = cache.path(output.key)
            if held[0] + output.predictions.nbytes > HELD_PREDICTIONS_BYTES and entry.exists():
                output = replace(output, predictions=None, stored=str(entry))
            else:
                held[0] += output.predictions.nbytes
        outputs[output.key] = output

    for task in tasks:
        _, valid = plan.rows_for(task)
        hit = cache.get(task.key, len(valid))
        if hit is not None and keep_models and not cache.model_path(task.key).exists():
            hit = None  # the predictions are cached but the model file is not: fit again
        if hit is not None:
            keep(hit)
        else:
            pending.append(task)
    if not pending:
        return outputs

    # Unique keys only: two models with identical settings share their fits. Expensive models
    # first (ensembles, then the rest), so that two workers do not end waiting on one long fit.
    unique = sorted({t.key: t for t in pending}.values(), key=lambda t: -plan.model(t.model).simplicity)
    cores = _cores(n_jobs)
    n_workers = min(cores, len(unique))
    threads = inner_threads(n_workers, cores)
    tree_jobs = 1 if scheduler is not None else cores  # a dask worker's cores are not ours to count
    calls = (
        (plan.model(t.model), plan.task_kind, X, y, *plan.rows_for(t), t.seed, t.key, str(cache.root), threads,
         errors if plan.model(t.model).augment else None, ranges if plan.model(t.model).augment else None,
         str(cache.model_path(t.key)) if keep_models else None, tree_jobs)
        for t in unique
    )
    if scheduler is not None and not keep_models:
        results = _execute_on_dask(calls, scheduler, cache)
    elif n_workers == 1:
        results = (fit_and_release(*args) if threads == 1 else on_openmp_thread(fit_and_release, *args)
                   for args in calls)
    elif workers == "processes":
        results = _execute_in_processes(calls, n_workers)
    else:
        results = _execute_in_threads(calls, n_workers, threads, inner_threads(1, cores))
    for output in results:
        keep(output)
    return outputs


def _cores(n_jobs: int) -> int:
    cores = os.cpu_count() or 1
    return max(1, cores + 1 + n_jobs if n_jobs < 0 else n_jobs)  # joblib's convention: -1 = all cores


def _execute_on_dask(calls: Iterable[tuple], scheduler: str, cache: Cache):
    """The same tasks on a dask.distributed cluster (the plan does not know where it runs).

    The data are scattered once to every worker; workers return plain outputs and this process
    writes the cache, so the cluster needs no shared file system.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        from mlproj.errors import MlprojError

        raise MlprojError("the dask backend needs dask.distributed",
                          hint="pip install 'mlproj[dask]', or use --backend local") from None
    calls = list(calls)
    if not calls:
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        from mlproj.errors import MlprojError

        raise MlprojError(f"cannot reach the dask scheduler at {scheduler} ({exc})",
                          hint="start the cluster first (dask scheduler / dask-jobqueue) or check the address") from None
    with client:
        X, y, errors, ranges = calls[0][2], calls[0][3], calls[0][10], calls[0][11]
        shared = {name: client.scatter(value, broadcast=True) if value is not None else None
                  for name, value in (("X", X), ("y", y), ("errors", errors), ("ranges", ranges))}
        futures = [
            client.submit(fit_and_predict, spec, kind, shared["X"], shared["y"], train, valid, seed, key, None,
                          threads, shared["errors"] if err is not None else None,
                          shared["ranges"] if rng is not None else None, None, key=f"mlproj-{key}", pure=False)
            for spec, kind, _, _, train, valid, seed, key, _, threads, err, rng, _, _ in calls
        ]
        for future in as_completed(futures):
            output = future.result()
            cache.put(output)
            yield output


def _execute_in_processes(calls: Iterable[tuple], n_workers: int):
    from joblib import Parallel, delayed

    # Large arrays are memory-mapped to the workers by joblib instead of pickled per task.
    parallel = Parallel(n_jobs=n_workers, return_as="generator_unordered", max_nbytes="1M")
    yield from parallel(delayed(fit_and_release)(*args) for args in calls)


def _fit_with_openmp_threads(threads: int, args: tuple) -> TaskOutput:
    with thread_limits(threads, user_api="openmp"):
        return fit_and_release(*args)


_openmp_calls: "queue.SimpleQueue | None" = None
_openmp_start = threading.Lock()


def on_openmp_thread(call: Callable, *args):
    """call(*args), run on the one thread of this process that fits on several OpenMP threads.

    libgomp gives every thread that opens a parallel region a team of helper threads of its
    own, and once there are more helpers than cores it stops spin-waiting between regions, even
    when the other teams are idle. Gradient boosting opens thousands of short regions, and a fit
    on two threads then took 1.1-1.3 s instead of 0.13 s (12,800 rows, 2 cores) whenever
    another thread had fitted on two threads before. All such fits therefore run on the same
    thread, which keeps one team for the whole run.
    """
    global _openmp_calls
    with _openmp_start:
        if _openmp_calls is None:
            _openmp_calls = queue.SimpleQueue()
            threading.Thread(target=_serve_openmp_calls, args=(_openmp_calls,), name="mlproj-openmp",
                             daemon=True).start()
    reply: queue.SimpleQueue = queue.SimpleQueue()
    _openmp_calls.put((call, args, reply))
    failed, value = reply.get()
    if failed:
        raise value
    return value


def _serve_openmp_calls(calls: "queue.SimpleQueue") -> None:
    while True:
        call, args, reply = calls.get()
        try:
            reply.put((False, call(*args)))
        except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
            reply.put((True, exc))


def _execute_in_threads(calls: Iterable[tuple], n_workers: int, threads: int, wide_threads: int):
    """Worker threads in this process: the arrays are shared as they are, and nothing starts up.

    The threads are daemons pulling from one queue, so Ctrl-C returns at once: the fits still
    running are abandoned (their cache entries are written atomically or not at all) instead of
    being waited for, which joblib's thread pool would do. Thread limits and the warning filter
    are process-wide, so they are set here, once, around all workers (the OpenMP limit, which is
    per thread, by each worker).

    Each worker holds one of `n_workers` cores while it fits; a forest that grows its trees in
    threads holds them all. Forests thus run one at a time on every core, which is as fast as
    two side by side on one core each, keeps one forest's trees in memory instead of two, and
    ends the run without a last forest fitting alone on one core. Gradient boosting holds every
    core too (see BOOSTING), unless OMP_NUM_THREADS allows it only one, as does any fit on a
    large training set: each fit copies its training rows, so side by side they would multiply
    the memory. Such fits use `wide_threads` OpenMP threads (every granted core, at most
    OMP_NUM_THREADS), all on one thread (on_openmp_thread). Tasks start in queue order, so a
    fit waiting for its cores is not overtaken.

    The exception is the lodger: a forest's threads leave the GIL free and never spin-wait, so
    the system can share its cores with one more fit on one thread at no loss. While a forest
    fits and another waits, a lodger thread takes the first small fit of the queue that runs on
    one thread (not a forest, not a large training set) and fits it there, on one OpenMP
    thread. Gradient boosting's Python, which a second OpenMP thread barely speeds up on small
    sets, then runs beside the trees instead of after them (0.1-0.2 s of 6.3 s at -j 2 on
    20,000 rows). A fit that holds several cores by other means than a forest's trees (OpenMP
    threads, which spin-wait) does not start while a lodger fits.
    """
    import warnings

    todo: list[tuple] = [args[:9] + (0,) + args[10:] for args in calls]  # threads=0: limits are set below
    count = len(todo)
    done: queue.SimpleQueue = queue.SimpleQueue()
    state = threading.Condition()
    idle, forests, lodging = [n_workers], [0], [False]

    def is_forest(args: tuple) -> bool:
        return args[-1] > 1 and _grows_trees_in_threads(args[0])

    def is_large(args: tuple) -> bool:
        return training_bytes(args[2], args[4], args[0]) >= LARGE_FIT_BYTES

    def width(args: tuple) -> int:
        wide = is_forest(args) or (args[0].estimator in BOOSTING and wide_threads > 1 and args[-1] > 1)
        return n_workers if wide or is_large(args) else 1

    def may_lodge(args: tuple) -> bool:
        spec = args[0]
        return spec.estimator not in FORESTS and "n_jobs" not in spec.params and not is_large(args)

    def can_start(args: tuple) -> bool:
        need = width(args)
        return idle[0] >= need and not (need > 1 and not is_forest(args) and lodging[0])

    def fit(args: tuple, need: int) -> None:
        try:
            if need > 1:  # alone on every core: OpenMP estimators use them all
                done.put(on_openmp_thread(_fit_with_openmp_threads, wide_threads, args))
            else:
                done.put(fit_and_release(*args))
        except BaseException as exc:  # noqa: BLE001 - the main thread must always hear back
            done.put(TaskOutput(args[7], None, 0.0, error=f"{type(exc).__name__}: {exc}"))

    def work() -> None:
        # OpenMP's thread count is per thread (threadpoolctl sets it in the calling thread only),
        # so each worker sets its own; without it a worker's HGB would use every core.
        with thread_limits(threads, user_api="openmp"):
            while True:
                with state:
                    state.wait_for(lambda: not todo or can_start(todo[0]))
                    if not todo:
                        return
                    args = todo.pop(0)
                    need, forest = width(args), is_forest(args)
                    idle[0] -= need
                    forests[0] += forest
                    state.notify_all()  # a forest has started: the lodger may take a fit
                try:
                    fit(args, need)
                finally:
                    with state:
                        idle[0] += need
                        forests[0] -= forest
                        state.notify_all()

    def lodge() -> None:
        with thread_limits(1, user_api="openmp"):
            while True:
                with state:
                    # Only while another forest waits: the lodger's fit then ends before the
                    # forests do, rather than keep the next fits waiting for it.
                    state.wait_for(lambda: forests[0] > 0 or not any(map(is_forest, todo)))
                    index = next((i for i, args in enumerate(todo) if may_lodge(args)), None)
                    if index is None or not any(map(is_forest, todo)):
                        return
                    args = todo.pop(index)
                    lodging[0] = True
                try:
                    fit(args, 1)
                finally:
                    with state:
                        lodging[0] = False
                        state.notify_all()

    with warnings.catch_warnings(), thread_limits(_limits(threads)):
        warnings.simplefilter("ignore")
        starting = [(work, "mlproj-fit")] * min(n_workers, count)
        if any(map(is_forest, todo)):
            starting.append((lodge, "mlproj-lodger"))
        for target, name in starting:
            threading.Thread(target=target, name=name, daemon=True).start()
        for _ in range(count):
            yield done.get()
