"""Tests of mlproj.execute.backends: running tasks from the cache, sequentially, in worker threads
or processes, and how many cores each fit holds. Scheduling is checked by counting which fits
ran with which thread limits and how many cores were held at once, never by the clock."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import mlproj.execute.backends as backends
from mlproj.errors import StorageError
from mlproj.execute.backends import cores_held, fit_and_store, run_tasks, training_bytes
from mlproj.execute.cache import Cache, TaskOutput
from mlproj.execute.tasks import FitData
from mlproj.plan.estimators import ModelSpec
from tests.execute.helpers import KEY, MODELS, call, dataset, make_plan


def _disk_full(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def _predictions(outputs):
    return {key: out.predictions for key, out in outputs.items()}


# --------------------------------------------------------------------------- one local task

def test_fit_and_store_writes_the_cache_entry(tmp_path):
    X, y = dataset()
    out = fit_and_store(call(MODELS[0], np.arange(40), np.arange(40, 60), seed=3), FitData(X, y), str(tmp_path))
    np.testing.assert_array_equal(Cache(tmp_path).get(KEY, 20).predictions, out.predictions)


def test_a_failed_fit_is_not_stored(tmp_path):
    X, y = dataset()
    bad = ModelSpec("bad", "HistGradientBoostingClassifier", {"max_iter": -5})
    out = fit_and_store(call(bad, np.arange(40), np.arange(40, 60)), FitData(X, y), str(tmp_path))
    assert out.error and "max_iter" in out.error
    assert not Cache(tmp_path).path(KEY).exists()


# --------------------------------------------------------------------------- run_tasks

def test_run_tasks_sequential_and_parallel_agree_and_cache(tmp_path):
    X, y = dataset()
    plan = make_plan(y)
    seen: list[TaskOutput] = []
    serial = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "a"), n_jobs=1, on_done=seen.append)
    parallel = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "b"), n_jobs=2)
    assert len(seen) == len(plan.tasks) == 18
    assert set(serial) == set(parallel) == {t.key for t in plan.tasks}
    for key in serial:
        assert serial[key].error is None and parallel[key].error is None
        np.testing.assert_array_equal(serial[key].predictions, parallel[key].predictions)
        assert not serial[key].cached and not parallel[key].cached
    for task in plan.tasks:
        _, valid = plan.rows_for(task)
        assert serial[task.key].predictions.shape == (len(valid), 2)

    again = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "a"), n_jobs=1)
    assert all(out.cached for out in again.values()) and len(again) == 18
    for key in serial:
        np.testing.assert_array_equal(again[key].predictions, serial[key].predictions)


@pytest.mark.parametrize("workers", ["threads", "processes"])
def test_parallel_workers_give_the_sequential_numbers(tmp_path, workers):
    X, y = dataset(n=90)
    models = MODELS + [ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 20}, simplicity=3),
                       ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 8}, simplicity=2)]
    plan = make_plan(y, models)
    serial = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "a"), n_jobs=1)
    parallel = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "b"), n_jobs=2, workers=workers)
    assert set(parallel) == set(serial)
    for key in serial:
        assert parallel[key].error is None
        np.testing.assert_array_equal(serial[key].predictions, parallel[key].predictions)
    assert len(list((tmp_path / "b").rglob("*.npz"))) == len(serial)  # each worker wrote its entry


def test_augmented_fits_get_the_measurement_errors(tmp_path):
    X, y = dataset(n=90)
    errors = np.full(X.shape, 0.2)
    models = [MODELS[0], ModelSpec("tree", "DecisionTreeClassifier", {"max_depth": 3}, augment=2, simplicity=2)]
    plan = make_plan(y, models)
    plain = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "plain"), n_jobs=1)
    augmented = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "a"), n_jobs=1, errors=errors)
    parallel = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "b"), n_jobs=2, errors=errors)
    tree = [t.key for t in plan.tasks if t.model == "tree"]
    dummy = [t.key for t in plan.tasks if t.model == "dummy"]
    assert any(not np.array_equal(plain[k].predictions, augmented[k].predictions) for k in tree)
    for key in dummy:  # a model without augment is fitted on the rows as they are
        np.testing.assert_array_equal(plain[key].predictions, augmented[key].predictions)
    for key in augmented:
        np.testing.assert_array_equal(augmented[key].predictions, parallel[key].predictions)


def test_worker_threads_restore_process_wide_settings(tmp_path):
    import warnings

    from threadpoolctl import threadpool_info

    X, y = dataset()
    plan = make_plan(y)
    filters, limits = list(warnings.filters), [(i["prefix"], i["num_threads"]) for i in threadpool_info()]
    run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), n_jobs=2, workers="threads")
    assert warnings.filters == filters
    assert [(i["prefix"], i["num_threads"]) for i in threadpool_info()] == limits


def test_a_dying_worker_thread_is_reported_not_waited_for(tmp_path, monkeypatch):
    def dies(*args):
        raise SystemExit("worker gone")  # not an Exception: escapes fit_and_predict's own handler

    X, y = dataset()
    plan = make_plan(y)
    monkeypatch.setattr(backends, "fit_and_predict", dies)
    outputs = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), n_jobs=2, workers="threads")
    assert len(outputs) == len(plan.tasks)
    assert all(out.error == "SystemExit: worker gone" for out in outputs.values())
    assert not list(tmp_path.rglob("*.npz"))


def test_a_worker_thread_whose_entry_cannot_be_stored_is_reported(tmp_path, monkeypatch):
    """A worker thread's exception reaches the caller only as a failed fit: the cache keeps it."""
    X, y = dataset()
    plan = make_plan(y)
    cache = Cache(tmp_path)
    monkeypatch.setattr(np, "savez", _disk_full)
    outputs = run_tasks(plan, plan.tasks, X, y, cache, n_jobs=2)
    assert all(o.error and o.error.startswith("StorageError") for o in outputs.values())
    failure = cache.write_failure()
    assert isinstance(failure, StorageError) and "the disk is full" in str(failure)
    assert cache.write_failure() is None


def test_run_tasks_only_fits_what_is_missing(tmp_path):
    X, y = dataset()
    cache = Cache(tmp_path)
    first = make_plan(y, MODELS[:2])
    run_tasks(first, first.tasks, X, y, cache)
    second = make_plan(y, MODELS)
    out = run_tasks(second, second.tasks, X, y, cache)
    assert {second.model(t.model).name for t in second.tasks if not out[t.key].cached} == {"tree"}
    assert sum(o.cached for o in out.values()) == 12


def test_run_tasks_refits_failed_and_corrupt(tmp_path):
    X, y = dataset()
    plan = make_plan(y, MODELS[:1])
    cache = Cache(tmp_path)
    run_tasks(plan, plan.tasks, X, y, cache)
    broken = plan.tasks[0].key
    cache.path(broken).write_bytes(b"garbage")
    out = run_tasks(plan, plan.tasks, X, y, cache)
    assert not out[broken].cached and out[broken].error is None
    assert sum(o.cached for o in out.values()) == len(plan.tasks) - 1


def test_run_tasks_identical_models_share_fits(tmp_path):
    X, y = dataset()
    twin = ModelSpec("twin", "DecisionTreeClassifier", {"max_depth": 3}, simplicity=2)
    plan = make_plan(y, [MODELS[2], twin])
    calls: list[TaskOutput] = []
    out = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), on_done=calls.append)
    assert len(out) == 6 and len(calls) == 6  # 12 tasks, 6 distinct keys


def test_run_tasks_final_task_keeps_its_model(tmp_path):
    X, y = dataset()
    plan = make_plan(y)
    final = plan.final_tasks["logistic"]
    cache = Cache(tmp_path)
    out = run_tasks(plan, [final], X, y, cache, keep_models=True)
    assert out[final.key].predictions.shape == (len(plan.test), 2)
    assert cache.model_path(final.key).exists()
    assert run_tasks(plan, [final], X, y, cache, keep_models=True)[final.key].cached
    cache.model_path(final.key).unlink()  # predictions cached, model file gone: fitted again
    assert not run_tasks(plan, [final], X, y, cache, keep_models=True)[final.key].cached


def test_run_tasks_captures_failures(tmp_path):
    X, y = dataset()
    bad = ModelSpec("bad", "HistGradientBoostingClassifier", {"max_iter": -5})
    plan = make_plan(y, [MODELS[0], bad])
    out = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path))
    failed = [t for t in plan.tasks if out[t.key].error]
    assert {t.model for t in failed} == {"bad"} and len(failed) == 6
    again = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path))
    assert sum(o.cached for o in again.values()) == 6  # failures are retried, successes cached


def test_released_predictions_are_read_back_from_the_cache(tmp_path, monkeypatch):
    """run_tasks(release=True) holds no predictions once they are cached (at a million rows they
    would share the memory with the fits still to come); loaded() gives the same numbers."""
    from mlproj.errors import RunError

    monkeypatch.setattr(backends, "HELD_PREDICTIONS_BYTES", 0)  # these are small
    X, y = dataset()
    plan = make_plan(y)
    held = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "held"), n_jobs=2)
    for n_jobs in (1, 2):  # fitted, then the same tasks as cache hits
        released = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "released"), n_jobs=n_jobs, release=True)
        assert released.keys() == held.keys()
        for key, output in released.items():
            assert output.predictions is None and output.stored is not None
            np.testing.assert_array_equal(output.loaded(), held[key].predictions)
            assert output.loaded() is not output.loaded()  # read each time, never kept
    assert all(o.cached for o in released.values())
    assert all(o.loaded() is o.predictions for o in held.values())  # held: nothing to read

    stored = Path(next(iter(released.values())).stored)
    stored.unlink()
    with pytest.raises(RunError, match="disappeared or broke"):
        next(iter(released.values())).loaded()


def test_predictions_up_to_a_budget_are_held_not_released(tmp_path, monkeypatch):
    X, y = dataset()
    plan = make_plan(y)
    fold_bytes = len(plan.rows_for(plan.tasks[0])[1]) * 2 * 8  # validation rows x two classes
    monkeypatch.setattr(backends, "HELD_PREDICTIONS_BYTES", 3 * fold_bytes)
    outputs = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), n_jobs=1, release=True)
    held = [o for o in outputs.values() if o.predictions is not None]
    assert len(held) == 3 and sum(o.predictions.nbytes for o in held) == 3 * fold_bytes
    released = [o for o in outputs.values() if o.predictions is None]
    assert len(released) == len(outputs) - 3 and all(o.stored is not None for o in released)


def test_failed_fits_are_not_released(tmp_path):
    X, y = dataset()
    broken = ModelSpec("broken", "LogisticRegression", {"C": -1.0}, role="candidate", simplicity=1)
    plan = make_plan(y, [MODELS[0], broken])
    outputs = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), n_jobs=1, release=True)
    failed = [o for o in outputs.values() if o.error is not None]
    assert failed and all(o.stored is None and o.loaded() is None for o in failed)


# --------------------------------------------------------------------------- cores per fit

FOREST = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 5}, simplicity=2)
HGB = ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 5}, simplicity=3)


def test_training_bytes_count_augmented_copies():
    X = np.zeros((10, 3))
    assert training_bytes(X, call(MODELS[0], np.arange(6), [])) == 6 * 3 * 8
    assert training_bytes(X, call(MODELS[1], np.arange(6), [], draws=4)) == 5 * 6 * 3 * 8


def test_which_fits_hold_every_core():
    X = np.zeros((100, 2))
    rows = np.arange(80)

    def held(spec, wide_threads=2, **fields):
        return cores_held(call(spec, rows, [], **{"tree_jobs": 2, **fields}), X, 2, wide_threads)

    assert held(MODELS[0]) == held(MODELS[1]) == 1  # a dummy, a linear model: one core
    assert held(FOREST) == 2  # its trees grow on every core
    assert held(ModelSpec("rf", "RandomForestClassifier", {"n_jobs": 1}, simplicity=2)) == 1  # the project's n_jobs
    assert held(FOREST, tree_jobs=1) == 1  # not allowed to grow its trees in threads
    assert held(HGB) == 2  # OpenMP threads on every core
    assert held(HGB, wide_threads=1) == 1  # OMP_NUM_THREADS=1: it could not use the other core


def test_a_large_training_set_holds_every_core(monkeypatch):
    X = np.zeros((100, 2))
    monkeypatch.setattr(backends, "LARGE_FIT_BYTES", 80 * 2 * 8)
    assert cores_held(call(MODELS[1], np.arange(79), [], tree_jobs=2), X, 2, 1) == 1
    assert cores_held(call(MODELS[1], np.arange(80), [], tree_jobs=2), X, 2, 1) == 2
    assert cores_held(call(MODELS[1], np.arange(40), [], tree_jobs=2, draws=1), X, 2, 1) == 2  # with its copies


class _Recorder:
    """Stands in for each fit of a -j 2 run: records the OpenMP and BLAS threads the fit was
    given and counts the cores held at once (what cores_held says each running fit holds)."""

    def __init__(self, n_workers: int, wide_threads: int):
        self.n_workers, self.wide_threads = n_workers, wide_threads
        self.lock = threading.Lock()
        self.holding: list[int] = []  # cores held by each fit running now
        self.fits: list[dict] = []

    def __call__(self, call, data, cache_root):
        from mlproj.execute.threads import threadpool_controller

        need = cores_held(call, data.X, self.n_workers, self.wide_threads)
        limits = {lib["user_api"]: lib["num_threads"] for lib in threadpool_controller().info()}
        with self.lock:
            self.fits.append({"name": call.spec.name, "cores": need, "beside": list(self.holding),
                              "openmp": limits.get("openmp"), "blas": limits.get("blas"),
                              "tree_jobs": call.tree_jobs, "thread": threading.current_thread().name})
            self.holding.append(need)
        try:
            return TaskOutput(call.key, np.zeros((len(call.valid), 2)), 0.0)
        finally:
            with self.lock:
                self.holding.remove(need)


def _recorded_run(tmp_path, monkeypatch, models, *, n: int = 120, omp_limit: str | None = None) -> list[dict]:
    if omp_limit is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the suite sets 1
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp_limit)
    X, y = dataset(n=n)
    plan = make_plan(y, models)
    from mlproj.execute.threads import inner_threads

    recorder = _Recorder(2, inner_threads(1, 2))
    monkeypatch.setattr(backends, "fit_and_store", recorder)
    outputs = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), n_jobs=2, workers="threads")
    assert len(outputs) == len(plan.tasks) == len(recorder.fits)
    return recorder.fits


def test_a_fit_never_starts_when_its_cores_are_held(tmp_path, monkeypatch):
    fits = _recorded_run(tmp_path, monkeypatch, [MODELS[0], MODELS[1], FOREST, HGB])
    assert all(f["cores"] + sum(f["beside"]) <= 2 for f in fits)
    wide = [f for f in fits if f["cores"] == 2]
    assert {f["name"] for f in wide} == {"rf", "hgb"} and len(wide) == 12
    assert not any(f["beside"] for f in wide)  # alone on both cores


def test_each_fit_gets_the_threads_of_the_cores_it_holds(tmp_path, monkeypatch):
    import os

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores to grant two")
    fits = _recorded_run(tmp_path, monkeypatch, [MODELS[0], MODELS[1], FOREST, HGB])
    threads = {(f["name"], f["openmp"], f["blas"], f["tree_jobs"]) for f in fits}
    assert threads == {("dummy", 1, 1, 2), ("logistic", 1, 1, 2), ("rf", 2, 1, 2), ("hgb", 2, 1, 2)}
    # all fits on several OpenMP threads on one thread: libgomp keeps one team of helpers
    assert {f["thread"] for f in fits if f["openmp"] == 2} == {"mlproj-openmp"}


def test_with_one_openmp_thread_gradient_boosting_holds_one_core(tmp_path, monkeypatch):
    """With OMP_NUM_THREADS=1 it could not use the other core, so it does not hold it."""
    fits = _recorded_run(tmp_path, monkeypatch, [MODELS[0], HGB, FOREST], omp_limit="1")
    assert {f["cores"] for f in fits if f["name"] == "hgb"} == {1}
    assert {f["openmp"] for f in fits} == {1}
    assert {f["cores"] for f in fits if f["name"] == "rf"} == {2}  # trees are threads, not OpenMP


def test_large_fits_run_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(backends, "LARGE_FIT_BYTES", 1)
    fits = _recorded_run(tmp_path, monkeypatch, MODELS[:2])
    assert {f["cores"] for f in fits} == {2} and not any(f["beside"] for f in fits)
    assert {f["openmp"] for f in fits} <= {2, None}


def test_worker_threads_limit_their_own_openmp_threads(tmp_path):
    """OpenMP's thread count is per thread: a limit set in the main thread does not reach the
    workers, whose gradient boosting would then use every core beside each other (spin-waiting).
    In a fresh process, without the suite's OMP_NUM_THREADS=1."""
    import os
    import subprocess
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores to tell one OpenMP thread per fit from all of them")
    script = f"""
import os, sys, threading
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
import numpy as np
import mlproj.execute.backends as backends
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from mlproj.execute.cache import Cache, TaskOutput
from tests.execute.helpers import dataset, make_plan
seen, wide_threads = [], set()
def record(call, data, cache_root):
    seen.append(_openmp_effective_n_threads())
    if seen[-1] > 1:
        wide_threads.add(threading.get_ident())
    return TaskOutput(call.key, np.zeros((len(call.valid), 2)), 0.0)
backends.fit_and_store = record
X, y = dataset()
plan = make_plan(y)
backends.run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path)!r}), n_jobs=2, workers="threads")
print("threads", sorted(set(seen)), "default", _openmp_effective_n_threads())
seen.clear()
backends.LARGE_FIT_BYTES = 1  # every fit alone, on both cores
backends.run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path / "large")!r}), n_jobs=2, workers="threads")
print("large", sorted(set(seen)))
seen.clear()
backends.run_tasks(plan, plan.tasks[:1], X, y, Cache({str(tmp_path / "one")!r}), n_jobs=2, workers="threads")
print("one", sorted(set(seen)))
os.environ["OMP_NUM_THREADS"] = "1"  # e.g. set by the user because other jobs share the machine
seen.clear()
backends.run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path / "capped")!r}), n_jobs=2, workers="threads")
print("capped", sorted(set(seen)))
print("wide fits ran on", len(wide_threads), "thread(s), the main thread among them:",
      threading.get_ident() in wide_threads)
"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    line, large, one, capped, wide = done.stdout.strip().splitlines()[-5:]
    assert line.startswith("threads [1] default "), line
    assert int(line.split()[-1]) >= 2  # the limit was needed: unlimited, a worker would use more
    assert large == "large [2]"  # a fit that runs alone uses both cores
    assert one == "one [2]"  # as does a single fit (the final model)
    # OMP_NUM_THREADS is an upper bound for those too: with two processes on two cores, each
    # gradient boosting on two spin-waiting threads took 100x longer (the test suite under -n 2)
    assert capped == "capped [1]"
    # ... and all of them on one thread, so that libgomp keeps one team of helper threads
    assert wide == "wide fits ran on 1 thread(s), the main thread among them: False"
