"""Run a plan's tasks on a backend: in this process (one after the other, or in worker threads),
in joblib worker processes, or on a dask.distributed cluster; cached fits are not run again.

The plan does not know where it runs (Kedro's runners). Every backend runs the same task
function on the same `FitCall`s, and thread counts change speed only, so the numbers are the
same on all of them. A local worker writes its own cache entry the moment its fit finishes, so
an interrupted run keeps every completed fit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from mlproj.execute.boosting import BOOSTING
from mlproj.execute.cache import Cache, TaskOutput
from mlproj.execute.feature_sets import FeatureView
from mlproj.execute.forests import FORESTS, grows_trees_in_threads
from mlproj.execute.tasks import FitCall, FitData, fit_and_predict
from mlproj.execute.threads import granted_cores, inner_threads, on_openmp_thread, quiet_and_limited, thread_limits
from mlproj.memory import return_freed_memory
from mlproj.plan.compile import Plan, Task

# Predictions that run_tasks(release=True) may still hold: reading back what fits in this costs
# more time (0.06 s for 20 folds of 3,200 rows) than the memory is worth.
HELD_PREDICTIONS_BYTES = 4 * 2**20

# A fit whose training matrix is at least this large runs alone, on every granted core (see
# _execute_in_threads): about 400,000 rows of 20 float64 features.
LARGE_FIT_BYTES = 64 * 2**20


def run_tasks(plan: Plan, tasks: list[Task], X: np.ndarray, y: np.ndarray, cache: Cache, *,
              n_jobs: int = 1, on_done: Callable[[TaskOutput], None] | None = None,
              errors: np.ndarray | None = None, ranges: np.ndarray | None = None, recompute=None,
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
    data = FitData(X, y, errors, ranges, recompute)  # recompute: derived features of augmented copies
    cores = granted_cores(n_jobs)
    n_workers = min(cores, len(unique))
    threads = inner_threads(n_workers, cores)
    tree_jobs = 1 if scheduler is not None else cores  # a dask worker's cores are not ours to count
    calls = [_fit_call(plan, task, data, cache, keep_models, threads, tree_jobs) for task in unique]
    if scheduler is not None and not keep_models:
        results = _execute_on_dask(calls, data, scheduler, cache)
    elif n_workers == 1:
        results = (_fit_here(call, data, cache) for call in calls)
    elif workers == "processes":
        results = _execute_in_processes(calls, data, cache, n_workers)
    else:
        results = _execute_in_threads(calls, data, cache, n_workers, inner_threads(1, cores))
    for output in results:
        keep(output)
    return outputs


def _fit_call(plan: Plan, task: Task, data: FitData, cache: Cache, keep_models: bool, threads: int,
              tree_jobs: int) -> FitCall:
    spec = plan.model(task.model)
    train, valid = plan.rows_for(task)
    augmented = data.errors is not None or data.ranges is not None
    view = None
    if task.feature_set:  # an ablation: the fit sees its feature set only
        feature_set = plan.feature_set(task.feature_set)
        view = FeatureView(feature_set.columns, feature_set.replaced)
    return FitCall(spec, plan.task_kind, task.key, train, valid, task.seed,
                   draws=spec.augment if augmented else 0,
                   model_path=str(cache.model_path(task.key)) if keep_models else None,
                   threads=threads, tree_jobs=tree_jobs, view=view)


def fit_and_store(call: FitCall, data: FitData, cache_root: str) -> TaskOutput:
    """A local worker's task: fit, write the cache entry, hand the memory its copies and trees
    took back to the system."""
    output = fit_and_predict(call, data)
    Cache(cache_root).put(output)
    return_freed_memory()
    return output


def _fit_here(call: FitCall, data: FitData, cache: Cache) -> TaskOutput:
    """One fit in this thread; on several OpenMP threads, on the process's OpenMP thread."""
    if call.threads == 1:
        return fit_and_store(call, data, str(cache.root))
    return on_openmp_thread(fit_and_store, call, data, str(cache.root))


def _execute_on_dask(calls: list[FitCall], data: FitData, scheduler: str, cache: Cache) -> Iterator[TaskOutput]:
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
    if not calls:
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        from mlproj.errors import MlprojError

        raise MlprojError(f"cannot reach the dask scheduler at {scheduler} ({exc})",
                          hint="start the cluster first (dask scheduler / dask-jobqueue) or check the address") from None
    with client:
        shared = client.scatter(data, broadcast=True)
        futures = [client.submit(fit_and_predict, call, shared, key=f"mlproj-{call.key}", pure=False)
                   for call in calls]
        for future in as_completed(futures):
            output = future.result()
            cache.put(output)
            yield output


def _execute_in_processes(calls: list[FitCall], data: FitData, cache: Cache, n_workers: int) -> Iterator[TaskOutput]:
    from joblib import Parallel, delayed

    # Large arrays are memory-mapped to the workers by joblib instead of pickled per task.
    parallel = Parallel(n_jobs=n_workers, return_as="generator_unordered", max_nbytes="1M")
    yield from parallel(delayed(fit_and_store)(call, data, str(cache.root)) for call in calls)


def training_bytes(X: np.ndarray, call: FitCall) -> int:
    """Size of one fit's copy of its training rows (with its augmented copies)."""
    return len(call.train) * (1 + call.draws) * X.shape[1] * X.itemsize


def cores_held(call: FitCall, X: np.ndarray, n_workers: int, wide_threads: int) -> int:
    """The cores a fit holds among `n_workers` worker threads: one, or every one.

    Every one for a forest that grows its trees in threads, for gradient boosting when it may use
    several OpenMP threads (`wide_threads`; see BOOSTING), and for a large training set: each fit
    copies its training rows, so side by side they would multiply the memory.
    """
    boosting = call.spec.estimator in BOOSTING and wide_threads > 1 and call.tree_jobs > 1
    wide = _grows_trees(call) or boosting or training_bytes(X, call) >= LARGE_FIT_BYTES
    return n_workers if wide else 1


def _grows_trees(call: FitCall) -> bool:
    return call.tree_jobs > 1 and grows_trees_in_threads(call.spec)


def _may_lodge(call: FitCall, X: np.ndarray) -> bool:
    """Whether a fit may run on one thread beside a forest's trees (see _execute_in_threads)."""
    spec = call.spec
    return spec.estimator not in FORESTS and "n_jobs" not in spec.params and training_bytes(X, call) < LARGE_FIT_BYTES


def _fit_reported(call: FitCall, data: FitData, cache: Cache, wide_threads: int | None) -> TaskOutput:
    """The fit of a worker thread, whose exceptions reach the main thread only as a failed fit.
    `wide_threads`: alone on every core, on the OpenMP thread with that many OpenMP threads."""
    try:
        if wide_threads is None:
            return fit_and_store(call, data, str(cache.root))
        return on_openmp_thread(_fit_on_openmp_threads, call, data, cache, wide_threads)
    except BaseException as exc:  # noqa: BLE001 - the main thread must always hear back
        return TaskOutput(call.key, None, 0.0, error=f"{type(exc).__name__}: {exc}")


def _fit_on_openmp_threads(call: FitCall, data: FitData, cache: Cache, threads: int) -> TaskOutput:
    with thread_limits(threads, user_api="openmp"):
        return fit_and_store(call, data, str(cache.root))


def _execute_in_threads(calls: list[FitCall], data: FitData, cache: Cache, n_workers: int,
                        wide_threads: int) -> Iterator[TaskOutput]:
    """Worker threads in this process: the arrays are shared as they are, and nothing starts up.

    The threads are daemons pulling from one queue, so Ctrl-C returns at once: the fits still
    running are abandoned (their cache entries are written atomically or not at all) instead of
    being waited for, which joblib's thread pool would do. Thread limits and the warning filter
    are process-wide, so they are set here, once, around all workers (the OpenMP limit, which is
    per thread, by each worker).

    Each fit holds one core or all `n_workers` of them (cores_held), and starts in queue order
    once they are free, so a fit waiting for its cores is not overtaken. Forests thus run one at
    a time on every core: at 100,000 rows two side by side on one thread each (or on two
    threads each) took 5-10 % longer, with two forests' trees in memory, and a last forest
    fitting alone on one core. A fit that holds every core and may use several OpenMP threads
    uses `wide_threads` of them (every granted core, at most OMP_NUM_THREADS), on the OpenMP
    thread (threads.on_openmp_thread).

    The exception is the lodger: a forest's threads leave the GIL free and never spin-wait, so
    the system can share its cores with one more fit on one thread at no loss. While a forest
    fits and another waits, a lodger thread takes the first small fit of the queue that runs on
    one thread (not a forest, not a large training set) and fits it there, on one OpenMP
    thread. Without it, the small fits wait for the forests: at 20,000 rows -j 2 took 5-13 %
    longer. A fit that holds every core by other means than a forest's trees (OpenMP threads,
    which spin-wait) does not start while a lodger fits.
    """
    threads = calls[0].threads
    todo = [replace(call, threads=None) for call in calls]  # the limits are set below, once
    done: queue.SimpleQueue = queue.SimpleQueue()
    state = threading.Condition()
    idle, forests, lodging = [n_workers], [0], [False]

    def held(call: FitCall) -> int:
        return cores_held(call, data.X, n_workers, wide_threads)

    def can_start(call: FitCall) -> bool:
        need = held(call)
        return idle[0] >= need and not (need > 1 and not _grows_trees(call) and lodging[0])

    def forest_waits() -> bool:
        return any(map(_grows_trees, todo))

    def work() -> None:
        # OpenMP's thread count is per thread (threadpoolctl sets it in the calling thread only),
        # so each worker sets its own; without it a worker's HGB would use every core.
        with thread_limits(threads, user_api="openmp"):
            while True:
                with state:
                    state.wait_for(lambda: not todo or can_start(todo[0]))
                    if not todo:
                        return
                    call = todo.pop(0)
                    need, forest = held(call), _grows_trees(call)
                    idle[0] -= need
                    forests[0] += forest
                    state.notify_all()  # a forest has started: the lodger may take a fit
                try:
                    done.put(_fit_reported(call, data, cache, wide_threads if need > 1 else None))
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
                    state.wait_for(lambda: forests[0] > 0 or not forest_waits())
                    index = next((i for i, call in enumerate(todo) if _may_lodge(call, data.X)), None)
                    if index is None or not forest_waits():
                        return
                    call = todo.pop(index)
                    lodging[0] = True
                try:
                    done.put(_fit_reported(call, data, cache, None))
                finally:
                    with state:
                        lodging[0] = False
                        state.notify_all()

    with quiet_and_limited(threads):
        starting = [(work, "mlproj-fit")] * min(n_workers, len(todo))
        if forest_waits():
            starting.append((lodge, "mlproj-lodger"))
        for target, name in starting:
            threading.Thread(target=target, name=name, daemon=True).start()
        for _ in calls:
            yield done.get()
