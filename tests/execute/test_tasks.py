"""Tests of mlproj.execute.tasks: the content-addressed cache and running tasks."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mlproj.errors import StorageError
from mlproj.execute.tasks import Cache, TaskOutput, fit_and_predict, run_tasks
from mlproj.plan.compile import compile_plan
from mlproj.plan.estimators import ModelSpec
from mlproj.project.config import parse_project

KEY = "ab" + "0" * 62


def dataset(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 3 == 0).astype(np.int64)
    X = np.column_stack([y + rng.normal(0, 0.7, n), rng.normal(size=n)])
    return np.ascontiguousarray(X), y


MODELS = [
    ModelSpec("dummy", "UninformativeClassifier", role="baseline", simplicity=0),
    ModelSpec("logistic", "LogisticRegression", {"max_iter": 200}, scale=True, role="baseline", simplicity=1),
    ModelSpec("tree", "DecisionTreeClassifier", {"max_depth": 3}, simplicity=2),
]


def make_plan(y, models=MODELS):
    text = ("name: p\nobjective: {statement: s, task: classification}\ndata: {path: x.csv, label: c}\n"
            "classes: {a: \"c == 'A'\", b: \"c == 'B'\"}\npositive: b\nmetric: {primary: roc_auc}\n"
            "finish_line: {threshold: 0.5}\nvalidation: {folds: 3, repeats: 2, test_size: 0.25}\n")
    project = parse_project(text, Path("mlproj.yaml")).project
    return compile_plan(project, models, y, ["x0", "x1"], "fingerprint", library_version="test")


# --------------------------------------------------------------------------- cache

def test_cache_round_trip(tmp_path):
    cache = Cache(tmp_path)
    predictions = np.random.default_rng(0).random((7, 3))
    cache.put(TaskOutput(KEY, predictions, 1.25))
    assert cache.path(KEY) == tmp_path / "ab" / f"{KEY}.npz"
    hit = cache.get(KEY, 7)
    assert hit is not None and hit.cached and hit.error is None and hit.key == KEY
    np.testing.assert_array_equal(hit.predictions, predictions)
    assert hit.fit_seconds == pytest.approx(1.25)
    assert [p.name for p in (tmp_path / "ab").iterdir()] == [f"{KEY}.npz"]  # no temporary files left


def test_cache_regression_vector_round_trip(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.array([0.5, 1.5, -2.0]), 0.1))
    np.testing.assert_array_equal(cache.get(KEY, 3).predictions, [0.5, 1.5, -2.0])


def test_cache_miss(tmp_path):
    assert Cache(tmp_path).get(KEY, 3) is None


def test_corrupted_entry_is_deleted_and_missed(tmp_path):
    cache = Cache(tmp_path)
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage, not an npz file\xff" * 10)
    assert cache.get(KEY, 3) is None
    assert not path.exists()


def test_truncated_entry_is_deleted_and_missed(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.ones((50, 2)), 0.1))
    path = cache.path(KEY)
    path.write_bytes(path.read_bytes()[:40])
    assert cache.get(KEY, 50) is None
    assert not path.exists()


def test_entry_with_wrong_row_count_is_missed(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.ones((5, 2)), 0.1))
    assert cache.get(KEY, 6) is None
    assert not cache.path(KEY).exists()


def test_entry_with_missing_field_is_missed(tmp_path):
    cache = Cache(tmp_path)
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:
        np.savez(handle, something_else=np.ones(3))
    assert cache.get(KEY, 3) is None


def test_failed_outputs_are_not_cached(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, None, 0.1, error="ValueError: boom"))
    cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1, error="ValueError: boom"))
    assert not cache.path(KEY).exists()
    assert cache.get(KEY, 3) is None


OTHER = "cd" + "1" * 62


def test_swapped_entries_of_the_same_size_are_missed_and_counted(tmp_path):
    cache = Cache(tmp_path)
    mine, theirs = np.full((4, 2), 0.9), np.full((4, 2), 0.5)
    cache.put(TaskOutput(KEY, mine, 0.1))
    cache.put(TaskOutput(OTHER, theirs, 0.1))
    first, second = cache.path(KEY), cache.path(OTHER)
    swap = first.with_name("swap")
    first.rename(swap)
    second.rename(first)
    swap.rename(second)
    assert cache.get(KEY, 4) is None and cache.get(OTHER, 4) is None
    assert cache.mismatched == 2
    assert not first.exists() and not second.exists()  # refitted, then trusted again
    cache.put(TaskOutput(KEY, mine, 0.1))
    np.testing.assert_array_equal(cache.get(KEY, 4).predictions, mine)
    assert cache.mismatched == 2


def test_an_entry_without_its_key_is_refitted_once(tmp_path):
    cache = Cache(tmp_path)
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:  # as written before entries held their key
        np.savez(handle, predictions=np.ones((3, 2)), fit_seconds=0.1)
    assert cache.get(KEY, 3) is None and cache.mismatched == 1
    assert not path.exists()


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_keeps_the_cached_entry_whole(tmp_path, monkeypatch):
    import mlproj.store.files

    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    monkeypatch.setattr(mlproj.store.files.os, "fsync", _disk_full)
    with pytest.raises(StorageError, match="the disk is full") as caught:
        cache.put(TaskOutput(KEY, np.zeros((3, 2)), 0.2))
    assert str(cache.path(KEY)) in str(caught.value)
    monkeypatch.undo()
    np.testing.assert_array_equal(cache.get(KEY, 3).predictions, np.ones((3, 2)))
    assert [p.name for p in cache.path(KEY).parent.iterdir()] == [f"{KEY}.npz"]  # no temporary left
    assert cache.write_failure() is caught.value and cache.write_failure() is None


def test_a_full_disk_while_an_entry_is_written(tmp_path, monkeypatch):
    def half_then_full(stream, **arrays):
        stream.write(b"PK\x03\x04 half an archive")
        _disk_full()

    monkeypatch.setattr(np, "savez", half_then_full)
    cache = Cache(tmp_path)
    with pytest.raises(StorageError, match="the disk is full"):
        cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    monkeypatch.undo()
    assert not cache.path(KEY).exists() and list(cache.path(KEY).parent.iterdir()) == []


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_a_cache_that_cannot_be_written(tmp_path, monkeypatch, code, words):
    real = os.mkdir

    def refuse(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "cache")):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse)
    with pytest.raises(StorageError, match=words) as caught:
        Cache(tmp_path / "cache").put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    assert str(tmp_path / "cache" / "ab") in str(caught.value) and "make it writable" in str(caught.value).lower()


def test_a_cache_that_is_a_file(tmp_path):
    (tmp_path / "cache").write_text("not a folder")
    cache = Cache(tmp_path / "cache")
    assert cache.get(KEY, 3) is None
    with pytest.raises(StorageError, match=f"{tmp_path / 'cache'} is a file, where a folder is needed"):
        cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    assert cache.sweep_temporary() == 0 and cache.prune(set()) == (0, 0)


def test_a_stray_folder_in_the_cache(tmp_path):
    cache = Cache(tmp_path)
    cache.path(KEY).mkdir(parents=True)
    with pytest.raises(StorageError, match="is a folder, where mlproj keeps the cache entry"):
        cache.get(KEY, 3)
    with pytest.raises(StorageError, match="Remove it"):
        cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    (tmp_path / "ab" / ".half.npz.1234.tmp").mkdir()
    assert cache.sweep_temporary() == 0 and cache.prune(set()) == (0, 0)  # folders are not mlproj's to delete
    assert cache.path(KEY).is_dir()


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


# --------------------------------------------------------------------------- one task

def test_fit_and_predict_probabilities():
    X, y = dataset()
    train, valid = np.arange(0, 45), np.arange(45, 60)
    out = fit_and_predict(MODELS[1], "classification", X, y, train, valid, seed=0, key=KEY)
    assert out.error is None and not out.cached and out.key == KEY
    assert out.predictions.shape == (15, 2)
    np.testing.assert_allclose(out.predictions.sum(axis=1), 1.0)
    assert out.fit_seconds >= 0


def test_fit_and_predict_class_absent_from_training_gets_zero_column():
    X, y = dataset()
    y3 = y.copy()
    y3[-3:] = 2  # class 2 only in the validation rows
    train, valid = np.arange(0, 45), np.arange(45, 60)
    out = fit_and_predict(MODELS[2], "classification", X, y3, train, valid, seed=0, key=KEY)
    assert out.error is None and out.predictions.shape == (15, 3)
    np.testing.assert_array_equal(out.predictions[:, 2], 0.0)


def test_fit_and_predict_regression():
    X, y = dataset()
    target = X[:, 0] * 2.0
    spec = ModelSpec("linear", "LinearRegression")
    out = fit_and_predict(spec, "regression", X, target, np.arange(40), np.arange(40, 60), 0, KEY)
    assert out.error is None and out.predictions.shape == (20,)
    np.testing.assert_allclose(out.predictions, target[40:], atol=1e-9)


def test_fit_and_predict_captures_estimator_failure(tmp_path):
    X, y = dataset()
    bad = ModelSpec("bad", "HistGradientBoostingClassifier", {"max_iter": -5})
    out = fit_and_predict(bad, "classification", X, y, np.arange(40), np.arange(40, 60), 0, KEY,
                          cache_root=str(tmp_path))
    assert out.predictions is None
    assert out.error and "max_iter" in out.error
    assert not Cache(tmp_path).path(KEY).exists()


def test_fit_and_predict_writes_cache(tmp_path):
    X, y = dataset()
    out = fit_and_predict(MODELS[0], "classification", X, y, np.arange(40), np.arange(40, 60), 3, KEY,
                          cache_root=str(tmp_path))
    hit = Cache(tmp_path).get(KEY, 20)
    np.testing.assert_array_equal(hit.predictions, out.predictions)


# --------------------------------------------------------------------------- run_tasks

def _predictions(outputs):
    return {key: out.predictions for key, out in outputs.items()}


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
    models = MODELS + [ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 20}, simplicity=3)]
    plan = make_plan(y, models)
    serial = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "a"), n_jobs=1)
    parallel = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "b"), n_jobs=2, workers=workers)
    assert set(parallel) == set(serial)
    for key in serial:
        assert parallel[key].error is None
        np.testing.assert_array_equal(serial[key].predictions, parallel[key].predictions)
    assert len(list((tmp_path / "b").rglob("*.npz"))) == len(serial)  # each worker wrote its entry


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
    import mlproj.execute.tasks

    def dies(*args):
        raise SystemExit("worker gone")  # not an Exception: escapes fit_and_predict's own handler

    X, y = dataset()
    plan = make_plan(y)
    monkeypatch.setattr(mlproj.execute.tasks, "fit_and_predict", dies)
    outputs = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path), n_jobs=2, workers="threads")
    assert len(outputs) == len(plan.tasks)
    assert all(out.error == "SystemExit: worker gone" for out in outputs.values())
    assert not list(tmp_path.rglob("*.npz"))


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


def test_run_tasks_final_task(tmp_path):
    X, y = dataset()
    plan = make_plan(y)
    final = plan.final_tasks["logistic"]
    out = run_tasks(plan, [final], X, y, Cache(tmp_path))
    assert out[final.key].predictions.shape == (len(plan.test), 2)


def test_run_tasks_captures_failures(tmp_path):
    X, y = dataset()
    bad = ModelSpec("bad", "HistGradientBoostingClassifier", {"max_iter": -5})
    plan = make_plan(y, [MODELS[0], bad])
    out = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path))
    failed = [t for t in plan.tasks if out[t.key].error]
    assert {t.model for t in failed} == {"bad"} and len(failed) == 6
    again = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path))
    assert sum(o.cached for o in again.values()) == 6  # failures are retried, successes cached


def test_sweep_removes_only_half_written_entries(tmp_path):
    from mlproj.execute.tasks import Cache

    (tmp_path / "ab").mkdir()
    (tmp_path / "ab" / ".abcd.npz.1234.tmp").write_bytes(b"half")
    (tmp_path / "ab" / "abcd.npz").write_bytes(b"whole")
    assert Cache(tmp_path).sweep_temporary() == 1
    assert [p.name for p in (tmp_path / "ab").iterdir()] == ["abcd.npz"]


def test_threads_per_fit_follow_the_cores_granted(monkeypatch):
    from mlproj.execute.tasks import inner_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert inner_threads(1, 1) == 1  # -j 1: one core, as in make and joblib
    assert inner_threads(1, 4) == 4  # a lone final fit gets every granted core
    assert inner_threads(2, 4) == 2
    assert inner_threads(3, 2) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert inner_threads(1, 4) == 1


def test_forest_grows_trees_in_threads_with_identical_results(tmp_path):
    from mlproj.plan.estimators import is_allowed_estimator_class as ESTIMATORS
    from mlproj.store.model_files import load_model

    X, y = dataset(n=300)
    train, valid = np.arange(200), np.arange(200, 300)
    spec = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 40}, simplicity=2)
    alone = fit_and_predict(spec, "classification", X, y, train, valid, seed=3, key=KEY, tree_jobs=1)
    threaded = fit_and_predict(spec, "classification", X, y, train, valid, seed=3, key=KEY, tree_jobs=2,
                               model_path=str(tmp_path / "rf.skops"))
    np.testing.assert_array_equal(alone.predictions, threaded.predictions)
    assert load_model(tmp_path / "rf.skops", ESTIMATORS).get_params()["n_jobs"] is None  # saved as configured


def test_forest_setting_of_the_user_is_kept():
    from mlproj.execute.tasks import _forest_in, _grows_trees_in_threads
    from mlproj.plan.estimators import build_estimator

    mine = ModelSpec("rf", "RandomForestClassifier", {"n_jobs": 1}, simplicity=2)
    assert not _grows_trees_in_threads(mine)
    scaled = ModelSpec("rf", "ExtraTreesClassifier", {}, scale=True, simplicity=2)
    assert _grows_trees_in_threads(scaled)
    assert type(_forest_in(build_estimator(scaled, "classification", 0), scaled)).__name__ == "ExtraTreesClassifier"
    assert _forest_in(build_estimator(MODELS[2], "classification", 0), MODELS[2]) is None  # a single tree
    calibrated = ModelSpec("rf", "RandomForestClassifier", {}, calibration="isotonic", simplicity=2)
    assert _forest_in(build_estimator(calibrated, "classification", 0), calibrated) is None


@pytest.mark.parametrize("task_kind", ["classification", "regression"])
def test_large_forests_are_fitted_in_batches_with_the_same_predictions(monkeypatch, task_kind):
    import mlproj.execute.forests as forests
    import mlproj.execute.tasks as execute

    X, y = dataset(n=400)
    target = y if task_kind == "classification" else X[:, 0] * 2 + y
    train, valid = np.arange(300), np.arange(300, 400)
    name = "RandomForestClassifier" if task_kind == "classification" else "ExtraTreesRegressor"
    spec = ModelSpec("rf", name, {"n_estimators": 11}, simplicity=2)
    whole = fit_and_predict(spec, task_kind, X, target, train, valid, seed=5, key=KEY, tree_jobs=2)
    batches = []
    real = execute.fit_predict_in_batches
    monkeypatch.setattr(execute, "fit_predict_in_batches", lambda *a: batches.append(a[-1]) or real(*a))
    monkeypatch.setattr(forests, "WHOLE_FOREST_BYTES", 300 * forests.TREE_BYTES_PER_ROW * 3)
    monkeypatch.setattr(forests, "TREE_BUDGET_BYTES", 300 * 8 * 3)  # a few trees
    batched = fit_and_predict(spec, task_kind, X, target, train, valid, seed=5, key=KEY, tree_jobs=2)
    assert batches == [2] and whole.error is None and batched.error is None  # batched, on two threads
    np.testing.assert_array_equal(whole.predictions, batched.predictions)


def test_forest_whose_model_is_kept_is_fitted_whole(tmp_path, monkeypatch):
    import mlproj.execute.forests as forests
    import mlproj.execute.tasks as execute
    from mlproj.plan.estimators import is_allowed_estimator_class as ESTIMATORS
    from mlproj.store.model_files import load_model

    monkeypatch.setattr(forests, "WHOLE_FOREST_BYTES", 1)
    monkeypatch.setattr(execute, "fit_predict_in_batches", lambda *a: pytest.fail("a kept model was batched"))
    X, y = dataset(n=200)
    spec = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 6}, simplicity=2)
    output = fit_and_predict(spec, "classification", X, y, np.arange(150), np.arange(150, 200), seed=1, key=KEY,
                             model_path=str(tmp_path / "rf.skops"))
    assert output.error is None and len(load_model(tmp_path / "rf.skops", ESTIMATORS).estimators_) == 6


def _most_fits_side_by_side(monkeypatch, tmp_path, models) -> dict[str, int]:
    """Run a plan at -j 2 and return, per model, the most fits running when one of it started."""
    fits = _fits_over_time(monkeypatch, tmp_path, models)
    peak: dict[str, int] = {}
    for f in fits:
        peak[f.name] = max(peak.get(f.name, 0), sum(1 for g in fits if g.start <= f.start < g.end))
    return peak


def test_forests_hold_every_core_so_they_never_fit_side_by_side(tmp_path, monkeypatch):
    forest = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 5}, simplicity=2)
    fits = _fits_over_time(monkeypatch, tmp_path, [MODELS[0], MODELS[1], forest])
    forests = [f for f in fits if f.name == "rf"]
    assert not any(_overlap(a, b) for a in forests for b in forests if a is not b)
    # the only fit beside a forest is the lodger's, one at a time
    beside = [f for f in fits if f.name != "rf" and any(_overlap(f, g) for g in forests)]
    assert beside and {f.thread for f in beside} == {"mlproj-lodger"}
    assert max(sum(1 for g in fits if g.start <= f.start < g.end) for f in fits) == 2


def test_a_fit_lodges_beside_a_forest_only_while_another_forest_waits(tmp_path, monkeypatch):
    """So that the lodger's fit ends before the forests do, instead of keeping the next fits waiting."""
    forest = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 5}, simplicity=2)
    # More to lodge than the forests take time for: 12 fits of 0.25 s beside 6 forests of 0.3 s
    fits = _fits_over_time(monkeypatch, tmp_path, [MODELS[0], MODELS[1], forest],
                           seconds={"rf": 0.3, "dummy": 0.25, "logistic": 0.25})
    lodged = [f for f in fits if f.thread == "mlproj-lodger"]
    assert lodged and max(f.end for f in lodged) < max(f.end for f in fits if f.name == "rf")


def test_gradient_boosting_on_several_threads_never_runs_beside_a_lodger(tmp_path, monkeypatch):
    """Its OpenMP threads spin-wait: beside a third busy thread on two cores they crawl."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the suite sets 1
    forest = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 5}, simplicity=3)
    hgb = ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 5}, simplicity=2)
    # Slower than the forests, so that not all of them lodge beside one
    fits = _fits_over_time(monkeypatch, tmp_path, [MODELS[0], hgb, forest], n=200, seconds={"hgb": 0.2})
    wide = [f for f in fits if f.name == "hgb" and f.thread != "mlproj-lodger"]
    assert wide and not any(_overlap(f, g) for f in wide for g in fits if g is not f)
    assert any(f.name == "hgb" and f.thread == "mlproj-lodger" for f in fits)  # the others lodged


@dataclass
class Fit:
    name: str
    thread: str
    start: float
    end: float


def _overlap(a: Fit, b: Fit) -> bool:
    return a.start < b.end and b.start < a.end


def _fits_over_time(monkeypatch, tmp_path, models, n: int = 120, seconds: dict | None = None) -> list[Fit]:
    """Run a plan at -j 2 (each fit made to last 0.05 s at least, or `seconds[model]`) and return
    when each fit ran, on which thread; the predictions must equal those of -j 1."""
    import threading
    import time

    import mlproj.execute.tasks as execute

    fits, lock = [], threading.Lock()
    real = execute.fit_and_predict

    def watched(*args):
        start = time.perf_counter()
        time.sleep((seconds or {}).get(args[0].name, 0.05))
        try:
            return real(*args)
        finally:
            with lock:
                fits.append(Fit(args[0].name, threading.current_thread().name, start, time.perf_counter()))

    X, y = dataset(n=n)
    plan = make_plan(y, models)
    serial = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "serial"), n_jobs=1)
    monkeypatch.setattr(execute, "fit_and_predict", watched)
    outputs = run_tasks(plan, plan.tasks, X, y, Cache(tmp_path / "parallel"), n_jobs=2, workers="threads")
    assert len(outputs) == len(plan.tasks) and all(o.error is None for o in outputs.values())
    for key, output in serial.items():
        np.testing.assert_array_equal(outputs[key].predictions, output.predictions)
    return fits


def test_gradient_boosting_holds_every_core(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the suite sets 1
    hgb = ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 5}, simplicity=3)
    peak = _most_fits_side_by_side(monkeypatch, tmp_path, [MODELS[0], MODELS[1], hgb])
    assert peak["hgb"] == 1
    assert max(peak["dummy"], peak["logistic"]) == 2


def test_gradient_boosting_on_one_openmp_thread_runs_beside_other_fits(tmp_path, monkeypatch):
    """With OMP_NUM_THREADS=1 it could not use the other core, so it does not hold it."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    hgb = ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 5}, simplicity=3)
    peak = _most_fits_side_by_side(monkeypatch, tmp_path, [MODELS[0], MODELS[1], hgb])
    assert peak["hgb"] == 2


def test_calls_on_the_openmp_thread_return_and_raise_in_the_caller():
    import threading

    from mlproj.execute.tasks import on_openmp_thread

    idents = {on_openmp_thread(threading.get_ident) for _ in range(3)}
    assert len(idents) == 1 and threading.get_ident() not in idents
    with pytest.raises(ZeroDivisionError):
        on_openmp_thread(divmod, 1, 0)
    assert on_openmp_thread(divmod, 7, 2) == (3, 1)  # the thread survives a failed call


def test_large_fits_run_alone(tmp_path, monkeypatch):
    import mlproj.execute.tasks as execute

    monkeypatch.setattr(execute, "LARGE_FIT_BYTES", 1)
    peak = _most_fits_side_by_side(monkeypatch, tmp_path, MODELS[:2])
    assert peak == {"dummy": 1, "logistic": 1}


def test_training_bytes_count_augmented_copies():
    from mlproj.execute.tasks import training_bytes

    X = np.zeros((10, 3))
    assert training_bytes(X, np.arange(6), MODELS[0]) == 6 * 3 * 8
    assert training_bytes(X, np.arange(6), ModelSpec("a", "LogisticRegression", augment=4)) == 5 * 6 * 3 * 8


def test_worker_threads_limit_their_own_openmp_threads(tmp_path):
    """OpenMP's thread count is per thread: a limit set in the main thread does not reach the
    workers, whose gradient boosting would then use every core beside each other (spin-waiting)."""
    import os
    import subprocess
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores to tell one OpenMP thread per fit from all of them")
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
import numpy as np
import mlproj.execute.tasks as execute
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from tests.execute.test_tasks import dataset, make_plan
from mlproj.execute.tasks import Cache, run_tasks
import threading
seen, wide_threads = [], set()
def record(*args):
    seen.append(_openmp_effective_n_threads())
    if seen[-1] > 1:
        wide_threads.add(threading.get_ident())
    return execute.TaskOutput(args[7], np.zeros((len(args[5]), 2)), 0.0)
execute.fit_and_predict = record
X, y = dataset()
plan = make_plan(y)
run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path)!r}), n_jobs=2, workers="threads")
print("threads", sorted(set(seen)), "default", _openmp_effective_n_threads())
seen.clear()
execute.LARGE_FIT_BYTES = 1  # every fit alone, on both cores
run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path / "large")!r}), n_jobs=2, workers="threads")
print("large", sorted(set(seen)))
seen.clear()
run_tasks(plan, plan.tasks[:1], X, y, Cache({str(tmp_path / "one")!r}), n_jobs=2, workers="threads")
print("one", sorted(set(seen)))
import os
os.environ["OMP_NUM_THREADS"] = "1"  # e.g. set by the user because other jobs share the machine
seen.clear()
run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path / "capped")!r}), n_jobs=2, workers="threads")
print("capped", sorted(set(seen)))
print("wide fits ran on", len(wide_threads), "thread(s), the main thread among them:",
      threading.get_ident() in wide_threads)
del os.environ["OMP_NUM_THREADS"]
execute.LARGE_FIT_BYTES = 64 * 2**20
import time
from mlproj.plan.estimators import ModelSpec
from tests.execute.test_tasks import MODELS
lodged = set()
def record_slowly(*args):
    time.sleep(0.05)  # long enough for the lodger to start beside a forest
    if threading.current_thread().name == "mlproj-lodger":
        lodged.add(_openmp_effective_n_threads())
    return record(*args)
execute.fit_and_predict = record_slowly
hgb = ModelSpec("hgb", "HistGradientBoostingClassifier", {{"max_iter": 5}}, simplicity=2)
forest = ModelSpec("rf", "RandomForestClassifier", {{"n_estimators": 5}}, simplicity=3)
plan = make_plan(y, [MODELS[0], hgb, forest])
run_tasks(plan, plan.tasks, X, y, Cache({str(tmp_path / "lodged")!r}), n_jobs=2, workers="threads")
print("lodged", sorted(lodged))
"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    line, large, one, capped, wide, lodged = done.stdout.strip().splitlines()[-6:]
    assert line.startswith("threads [1] default "), line
    assert int(line.split()[-1]) >= 2  # the limit was needed: unlimited, a worker would use more
    assert large == "large [2]"  # a fit that runs alone uses both cores
    assert one == "one [2]"  # as does a single fit (the final model)
    # OMP_NUM_THREADS is an upper bound for those too: with two processes on two cores, each
    # gradient boosting on two spin-waiting threads took 100x longer (the test suite under -n 2)
    assert capped == "capped [1]"
    # ... and all of them on one thread, so that libgomp keeps one team of helper threads
    # (with two teams on two cores it stops spin-waiting, and gradient boosting slows 10x)
    assert wide == "wide fits ran on 1 thread(s), the main thread among them: False"
    # a fit beside a forest's threads uses one thread, whatever fits of its kind use alone
    assert lodged == "lodged [1]"


def test_training_rows_are_freed_before_the_validation_rows_are_predicted():
    import weakref

    from mlproj.execute.tasks import _fit_predict

    X, y = dataset(n=100)
    X_train = X[np.arange(80)]
    alive = weakref.ref(X_train)

    class Probe:
        classes_ = np.array([0, 1])

        def fit(self, X, y):
            assert alive() is not None
            return self

        def predict_proba(self, X):
            assert alive() is None, "the training rows are still held while predicting"
            return np.full((len(X), 2), 0.5)

    training = [X_train, y[:80], {}]
    del X_train
    got = _fit_predict(Probe(), MODELS[1], "classification", training, X, np.arange(80, 100), 2, 1, keep_trees=False)
    assert got.shape == (20, 2) and training == []


def test_released_predictions_are_read_back_from_the_cache(tmp_path, monkeypatch):
    """run_tasks(release=True) holds no predictions once they are cached (at a million rows they
    would share the memory with the fits still to come); loaded() gives the same numbers."""
    import mlproj.execute.tasks as execute
    from mlproj.errors import RunError

    monkeypatch.setattr(execute, "HELD_PREDICTIONS_BYTES", 0)  # these are small
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
    import mlproj.execute.tasks as execute

    X, y = dataset()
    plan = make_plan(y)
    fold_bytes = len(plan.rows_for(plan.tasks[0])[1]) * 2 * 8  # validation rows x two classes
    monkeypatch.setattr(execute, "HELD_PREDICTIONS_BYTES", 3 * fold_bytes)
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


def test_thread_limits_share_one_controller_and_restore_the_limits():
    from threadpoolctl import threadpool_info

    from mlproj.execute.tasks import thread_limits, threadpool_controller

    before = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
    with thread_limits({"blas": 1, "openmp": 1}):
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
    assert {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()} == before
    assert threadpool_controller() is threadpool_controller()
