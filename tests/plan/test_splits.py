"""Tests of mlproj.plan.splits: the three strategies keep evaluation rows apart, deterministically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlproj.plan.splits import FoldSplit, Splits, check_split_feasible, make_splits, required_per_class


def reference_stratified(task, labels, n_folds, repeats, seed, test_size):
    """The split code of compile_plan before mlproj.plan.splits existed, copied verbatim: stratified
    splits must never change, or every cached task key would change with them."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    classification = task == "classification"
    rows = np.arange(len(labels))
    development, test = train_test_split(
        rows, test_size=test_size, random_state=seed,
        stratify=labels if classification else None,
    )
    development, test = np.sort(development), np.sort(test)
    splits = []
    for repeat in range(repeats):
        fold_seed = seed + repeat
        splitter_class = StratifiedKFold if classification else KFold
        splitter = splitter_class(n_splits=n_folds, shuffle=True, random_state=fold_seed)
        for fold, (train, valid) in enumerate(splitter.split(development, labels[development])):
            splits.append((repeat, fold, fold_seed, development[train], development[valid]))
    return test, development, splits


def class_labels(n=300, fractions=(0.6, 0.3, 0.1), seed=3):
    counts = np.round(np.array(fractions) * n).astype(int)
    counts[0] += n - counts.sum()
    y = np.repeat(np.arange(len(fractions)), counts)
    return np.random.default_rng(seed).permutation(y)


def assert_same(a: Splits, b: Splits):
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.development, b.development)
    assert len(a.folds) == len(b.folds)
    for fa, fb in zip(a.folds, b.folds):
        assert (fa.repeat, fa.fold, fa.seed) == (fb.repeat, fb.fold, fb.seed)
        np.testing.assert_array_equal(fa.train, fb.train)
        np.testing.assert_array_equal(fa.valid, fb.valid)
    assert a.note == b.note


def assert_partition(s: Splits, n: int):
    assert np.array_equal(np.sort(np.concatenate([s.test, s.development])), np.arange(n))
    assert np.all(np.diff(s.test) > 0) and np.all(np.diff(s.development) > 0)
    dev = set(s.development.tolist())
    for f in s.folds:
        assert np.all(np.diff(f.train) > 0) and np.all(np.diff(f.valid) > 0)
        assert set(f.train.tolist()) <= dev and set(f.valid.tolist()) <= dev
        assert not set(f.train.tolist()) & set(f.valid.tolist())
        assert len(f.train) and len(f.valid)


# ------------------------------------------------------------------------------- stratified

@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("n_folds,repeats,seed,test_size", [(5, 3, 0, 0.2), (3, 2, 7, 0.25), (10, 1, 42, 0.3)])
def test_stratified_reproduces_the_original_plan_code(task, n_folds, repeats, seed, test_size):
    labels = class_labels(400) if task == "classification" else np.random.default_rng(1).normal(size=400)
    splits = make_splits(strategy="stratified", task=task, labels=labels, n_folds=n_folds, repeats=repeats,
                         seed=seed, test_size=test_size)
    test, development, reference = reference_stratified(task, labels, n_folds, repeats, seed, test_size)
    np.testing.assert_array_equal(splits.test, test)
    np.testing.assert_array_equal(splits.development, development)
    assert len(splits.folds) == len(reference) == n_folds * repeats
    for fold, (repeat, k, fold_seed, train, valid) in zip(splits.folds, reference):
        assert (fold.repeat, fold.fold, fold.seed) == (repeat, k, fold_seed)
        np.testing.assert_array_equal(fold.train, train)
        np.testing.assert_array_equal(fold.valid, valid)
    assert splits.strategy == "stratified" and splits.note is None
    assert (splits.n_repeats, splits.n_folds) == (repeats, n_folds)
    assert_partition(splits, len(labels))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_stratified_matches_compile_plan(task):
    from mlproj.plan.compile import compile_plan
    from mlproj.plan.estimators import model_specs
    from mlproj.project.loading import parse_project

    rest = ("classes: {galaxy: \"c == 'G'\", star: \"c == 'S'\"}\npositive: galaxy\nmetric: {primary: roc_auc}\n"
            if task == "classification" else "metric: {primary: rmse}\n")
    text = (f"name: p\nobjective: {{statement: s, task: {task}}}\ndata: {{path: x.csv, label: c}}\n{rest}"
            "finish_line: {threshold: 0.5}\nvalidation: {folds: 4, repeats: 2, seed: 5, test_size: 0.25}\n")
    project = parse_project(text, Path("mlproj.yaml")).project
    labels = class_labels(200, (0.75, 0.25)) if task == "classification" else np.random.default_rng(2).normal(size=200)
    plan = compile_plan(project, model_specs(project), labels, ["u", "g"], "abc", library_version="x")
    splits = make_splits(strategy="stratified", task=task, labels=labels, n_folds=4, repeats=2, seed=5,
                         test_size=0.25)
    np.testing.assert_array_equal(plan.test, splits.test)
    np.testing.assert_array_equal(plan.development, splits.development)
    assert len(plan.splits) == len(splits.folds)
    for a, b in zip(plan.splits, splits.folds):
        assert (a.repeat, a.fold, a.seed) == (b.repeat, b.fold, b.seed)
        np.testing.assert_array_equal(a.train, b.train)
        np.testing.assert_array_equal(a.valid, b.valid)


# ------------------------------------------------------------------------------------ group

def grouped(n=600, n_groups=40, seed=0):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n)
    # class fractions differ between groups, as they would between sky fields
    p = rng.uniform(0.1, 0.6, n_groups)
    y = (rng.random(n) < p[groups]).astype(int)
    return groups, y


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_group_no_group_straddles(task):
    groups, y = grouped()
    labels = y if task == "classification" else np.random.default_rng(1).normal(size=len(y)) + groups
    s = make_splits(strategy="group", task=task, labels=labels, n_folds=5, repeats=3, seed=11, test_size=0.2,
                    groups=groups)
    assert s.strategy == "group"
    assert_partition(s, len(labels))
    assert not set(groups[s.test]) & set(groups[s.development])
    assert s.n_repeats == 3 and len(s.folds) == 15
    for f in s.folds:
        assert not set(groups[f.train]) & set(groups[f.valid])
    for repeat in range(3):  # the validation parts of one repeat partition the development rows
        valid = np.concatenate([f.valid for f in s.folds if f.repeat == repeat])
        np.testing.assert_array_equal(np.sort(valid), s.development)
    assert abs(len(s.test) / len(labels) - 0.2) < 0.05
    # repeats use different seeds and give different folds
    assert {f.seed for f in s.folds} == {11, 12, 13}
    first = [f.valid for f in s.folds if f.repeat == 0]
    second = [f.valid for f in s.folds if f.repeat == 1]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))


def test_group_test_set_keeps_class_fractions():
    groups, y = grouped(n=3000, n_groups=150, seed=4)
    s = make_splits(strategy="group", task="classification", labels=y, n_folds=5, repeats=1, seed=0,
                    test_size=0.2, groups=groups)
    assert abs(y[s.test].mean() - y.mean()) < 0.02


def test_group_string_groups_and_determinism():
    groups, y = grouped()
    names = np.array([f"field-{g}" for g in groups], dtype=object)
    a = make_splits(strategy="group", task="classification", labels=y, n_folds=4, repeats=2, seed=3, test_size=0.25,
                    groups=names)
    b = make_splits(strategy="group", task="classification", labels=y, n_folds=4, repeats=2, seed=3, test_size=0.25,
                    groups=names)
    assert_same(a, b)
    c = make_splits(strategy="group", task="classification", labels=y, n_folds=4, repeats=2, seed=4, test_size=0.25,
                    groups=names)
    assert not np.array_equal(a.test, c.test)


def test_group_identical_repeats_collapse_to_one_with_a_note():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(6), 20)  # 6 equal groups: 1 for the test set, 5 for 5 folds
    y = rng.normal(size=len(groups))
    s = make_splits(strategy="group", task="regression", labels=y, n_folds=5, repeats=3, seed=0, test_size=0.2,
                    groups=groups)
    assert s.n_repeats == 1 and len(s.folds) == 5 and {f.repeat for f in s.folds} == {0}
    assert "1 repeat used instead of 3" in s.note
    assert len(np.unique(groups[s.test])) == 1


def test_group_large_groups_note_the_test_fraction():
    groups = np.repeat(np.arange(7), [400, 20, 20, 20, 20, 20, 20])
    y = np.random.default_rng(0).normal(size=len(groups))
    s = make_splits(strategy="group", task="regression", labels=y, n_folds=5, repeats=1, seed=0, test_size=0.2,
                    groups=groups)
    assert s.note is not None and "asked for 20%" in s.note
    assert not set(groups[s.test]) & set(groups[s.development])


# ------------------------------------------------------------------------------------- time

@pytest.mark.parametrize("task", ["classification", "regression"])
def test_time_predicts_forward_and_tests_on_the_latest(task):
    rng = np.random.default_rng(5)
    n = 503
    mjd = rng.uniform(50000, 58000, n)
    labels = rng.integers(0, 2, n) if task == "classification" else rng.normal(size=n)
    s = make_splits(strategy="time", task=task, labels=labels, n_folds=4, repeats=3, seed=9, test_size=0.2,
                    order=mjd)
    assert s.strategy == "time"
    assert_partition(s, n)
    assert len(s.test) == int(np.ceil(0.2 * n))
    assert mjd[s.test].min() > mjd[s.development].max()
    # only repeat 0: repeats of an ordered split would be identical
    assert len(s.folds) == 4 and s.n_repeats == 1 and s.n_folds == 4
    assert all(f.repeat == 0 and f.seed == 9 for f in s.folds)
    assert "1 repeat used" in s.note
    for f in s.folds:
        assert mjd[f.valid].min() > mjd[f.train].max()
        # the training window is the block of rows just before the validation block (sliding window)
        before = s.development[mjd[s.development] < mjd[f.valid].min()]
        np.testing.assert_array_equal(f.train, np.sort(before[np.argsort(mjd[before])][-len(f.train):]))
    assert make_splits(strategy="time", task=task, labels=labels, n_folds=4, repeats=1, seed=9, test_size=0.2,
                       order=mjd).note is None


def test_time_windows_slide_with_one_training_size_so_fold_scores_are_exchangeable():
    """DESIGN §6: expanding windows make the fold scores a learning curve; equal-size sliding windows
    make them exchangeable, and their n_val/n_train (not K-fold's 1/(k-1)) enters the corrected SE."""
    from sklearn.model_selection import TimeSeriesSplit

    rng = np.random.default_rng(1)
    n = 1000
    mjd = rng.permutation(n).astype(float)
    s = make_splits(strategy="time", task="regression", labels=rng.normal(size=n), n_folds=5, repeats=1, seed=0,
                    test_size=0.2, order=mjd)
    sizes = {len(f.train) for f in s.folds}
    assert len(sizes) == 1  # one training size: no learning curve across the windows
    blocks = list(TimeSeriesSplit(n_splits=5).split(np.arange(len(s.development))))
    assert [len(f.valid) for f in s.folds] == [len(v) for _, v in blocks]
    assert sizes == {len(blocks[0][0])}  # as large as the first window allows
    starts = [mjd[f.train].min() for f in s.folds]
    assert starts == sorted(starts) and len(set(starts)) == 5  # the window slides forward
    expected = np.mean([len(f.valid) for f in s.folds]) / np.mean([len(f.train) for f in s.folds])
    assert s.val_train_ratio == pytest.approx(expected)
    assert 0.5 < s.val_train_ratio < 1.5  # not K-fold's 1/(k-1) = 0.25


@pytest.mark.parametrize("strategy", ["stratified", "group"])
def test_k_fold_strategies_keep_the_k_fold_ratio(strategy):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 400)
    s = make_splits(strategy=strategy, task="classification", labels=labels, n_folds=4, repeats=2, seed=0,
                    test_size=0.2, groups=rng.integers(0, 60, 400))
    assert s.val_train_ratio is None  # None: K-fold, 1/(k-1) (baycomp's rho = 1/k)


def test_time_feasibility_checks_the_training_windows_actually_used():
    """A sliding window can hold one class even when everything before it holds two."""
    n = 600
    labels = np.zeros(n, dtype=int)
    labels[:40] = 1  # the second class only at the very start
    labels[-60:] = 1  # ... and in the test set
    order = np.arange(n, dtype=float)
    problem = check_split_feasible("time", labels, None, 5, 0.2, "classification", order=order, order_name="mjd")
    assert problem is not None and "single class" in problem and "mjd" in problem


def test_time_ties_are_stable():
    order = np.array([3, 1, 2, 2, 2, 2, 1, 0, 3, 3] * 3)
    labels = np.arange(len(order), dtype=float)
    s = make_splits(strategy="time", task="regression", labels=labels, n_folds=3, repeats=1, seed=0, test_size=0.2,
                    order=order)
    by_time = np.argsort(order, kind="stable")
    np.testing.assert_array_equal(s.test, np.sort(by_time[-6:]))
    for f in s.folds:
        assert order[f.valid].min() >= order[f.train].max()


# --------------------------------------------------------------------------- errors, checks

def test_programming_errors_raise_value_error():
    y = class_labels(100, (0.5, 0.5))
    common = {"task": "classification", "labels": y, "n_folds": 5, "repeats": 1, "seed": 0, "test_size": 0.2}
    with pytest.raises(ValueError, match="unknown split strategy"):
        make_splits(strategy="random", **common)
    with pytest.raises(ValueError, match="needs `groups`"):
        make_splits(strategy="group", **common)
    with pytest.raises(ValueError, match="needs `order`"):
        make_splits(strategy="time", **common)
    with pytest.raises(ValueError, match="classification and regression"):
        make_splits(strategy="stratified", **{**common, "task": "embedding"})
    with pytest.raises(ValueError, match="test_size"):
        make_splits(strategy="stratified", **{**common, "test_size": 1.5})
    with pytest.raises(ValueError, match="entries"):
        make_splits(strategy="group", groups=np.zeros(3), **common)


def test_feasibility_messages():
    y = class_labels(200, (0.5, 0.5))
    assert check_split_feasible("stratified", y, None, 5, 0.2, "classification") is None
    few = np.array([0] * 100 + [1] * 4)
    message = check_split_feasible("stratified", few, None, 5, 0.2, "classification", class_names=["gal", "star"])
    assert message and "star: 4" in message and "at least 8" in message
    assert "only 10 rows" in check_split_feasible("stratified", np.zeros(10), None, 5, 0.2, "regression")

    groups = np.repeat(["a", "b", "c"], 30)
    message = check_split_feasible("group", np.arange(90) % 2, groups, 5, 0.2, "classification", group_name="field")
    assert message == "only 3 distinct groups in `field`, but 5 folds plus a test set need at least 6"
    assert "needs a group column" in check_split_feasible("group", y, None, 5, 0.2, "classification")
    with_missing = np.array([1.0, np.nan] * 100)
    message = check_split_feasible("group", y, with_missing, 5, 0.2, "classification")
    assert "100 objects have no value in `groups`" in message
    groups, labels = grouped(n=600, n_groups=40)
    assert check_split_feasible("group", labels, groups, 5, 0.2, "classification") is None
    rare = labels.copy()
    rare[groups < 3] = 2  # class 2 lives in only 3 groups
    message = check_split_feasible("group", rare, groups, 5, 0.2, "classification", class_names=["a", "b", "qso"])
    assert message and "qso: 3" in message

    mjd = np.arange(200.0)
    assert check_split_feasible("time", y, None, 5, 0.2, "classification", order=mjd) is None
    early = np.where(mjd < 60, 0, np.arange(200) % 2)  # the first training window is one class
    message = check_split_feasible("time", early, None, 5, 0.2, "classification", order=mjd, order_name="mjd")
    assert message and "single class" in message and "`mjd`" in message
    late = np.where(mjd >= 150, 1, np.arange(200) % 2)
    assert "test set" in check_split_feasible("time", late, None, 5, 0.2, "classification", order=mjd)
    assert "no value in `order`" in check_split_feasible("time", y, None, 5, 0.2, "classification",
                                                         order=np.where(mjd < 3, np.nan, mjd))
    assert "only 6 rows" in check_split_feasible("time", np.zeros(6), None, 5, 0.2, "regression")


def test_feasible_splits_can_be_made():
    """Whatever check_split_feasible accepts, make_splits must produce without error."""
    rng = np.random.default_rng(0)
    made = 0
    for trial in range(60):
        n = int(rng.integers(20, 200))
        groups = rng.integers(0, int(rng.integers(3, 20)), n)
        y = rng.integers(0, 2, n)
        folds = int(rng.integers(2, 6))
        if check_split_feasible("group", y, groups, folds, 0.2, "classification") is None:
            s = make_splits(strategy="group", task="classification", labels=y, n_folds=folds, repeats=2,
                            seed=trial, test_size=0.2, groups=groups)
            assert_partition(s, n)
            made += 1
    assert made > 10


def test_fold_split_is_the_plan_dataclass_shape():
    f = FoldSplit(0, 1, 2, np.arange(3), np.arange(3, 5))
    assert (f.repeat, f.fold, f.seed) == (0, 1, 2)
    with pytest.raises(AttributeError):
        f.repeat = 1  # frozen


@pytest.mark.parametrize("strategy", ["stratified", "group", "time"])
def test_row_indices_are_32_bit_and_keep_their_task_keys(strategy):
    from mlproj.plan.compile import _hash_indices

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    splits = make_splits(strategy=strategy, task="classification", labels=labels, n_folds=3, repeats=2, seed=1,
                         test_size=0.2, groups=rng.integers(0, 40, 300), order=rng.random(300))
    arrays = [splits.test, splits.development] + [a for f in splits.folds for a in (f.train, f.valid)]
    assert all(a.dtype == np.int32 for a in arrays)
    # The cache keys of runs made with 64-bit indices stay valid.
    assert all(_hash_indices(a) == _hash_indices(a.astype(np.int64)) for a in arrays)
    assert sorted(np.concatenate([splits.test, splits.development]).tolist()) == list(range(300))


def test_required_per_class():
    assert required_per_class(5, 0.2) == 8  # ceil(5/0.8) + 1 = 7 + 1
    assert required_per_class(2, 0.2) == 4
    assert required_per_class(1, 0.5) >= 2
