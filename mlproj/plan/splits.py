"""Held-out test set and cross-validation folds for the three validation strategies.

The paper (§5.6) asks for a test set that samples the whole domain, kept apart from everything
used to build and choose a model, and warns that information leaking from training into test data
inflates performance. Three strategies:

- ``stratified``: rows are exchangeable. A shuffled test split (stratified by class for
  classification), then per repeat a shuffled (Stratified)KFold of the development rows.
- ``group``: rows come in clusters (a sky field, a plate, a night): whole groups go to the test
  set and to each validation fold, so no group straddles training and evaluation.
- ``time``: rows are ordered (e.g. MJD): "predict from past to future and leave out the most
  recent observations" — the test set is the latest rows and the folds are equal-size sliding
  windows: each trains on the same number of rows just before its validation block.

Everything here is pure and deterministic: the same inputs and seed give the same indices.
scikit-learn and pandas are imported inside the functions so that importing this module (via
``mlproj.plan.compile``) stays cheap.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

STRATEGIES = ("stratified", "group", "time")
TASKS = ("classification", "regression")
GROUP_TEST_CANDIDATES = 50  # random group draws compared when choosing the group test set


@dataclass(frozen=True)
class FoldSplit:
    repeat: int
    fold: int
    seed: int
    train: np.ndarray  # row indices into the dataset
    valid: np.ndarray


@dataclass(frozen=True)
class Splits:
    """The held-out test rows, the development rows and the cross-validation folds over them.

    ``folds`` is repeat-major (all folds of repeat 0, then repeat 1, ...). The number of repeats
    actually used can be smaller than the number asked for (see ``note``): the ``time`` strategy
    always uses one repeat, and the ``group`` strategy uses one when every repeat would give the
    same partition. Read ``n_repeats``/``n_folds`` (or ``len(folds)``), not the configuration.
    """

    test: np.ndarray  # sorted row indices
    development: np.ndarray  # sorted row indices
    folds: list[FoldSplit]
    strategy: str
    note: str | None  # one sentence when something was adapted, else None
    # n_val/n_train of the folds for the corrected SE (DESIGN §6); None: K-fold, 1/(k-1), the
    # ratio baycomp's correlated t-test assumes (stratified and group splits).
    val_train_ratio: float | None = None

    @property
    def n_repeats(self) -> int:
        return len({f.repeat for f in self.folds})

    @property
    def n_folds(self) -> int:
        return len(self.folds) // max(1, self.n_repeats)


def make_splits(*, strategy: str, task: str, labels: np.ndarray, n_folds: int, repeats: int, seed: int,
                test_size: float, groups: np.ndarray | None = None, order: np.ndarray | None = None,
                test_rows: np.ndarray | None = None) -> Splits:
    """Test set and folds for `strategy`; see the module docstring for what each strategy means.

    `test_rows`: a given test set (data.test_path), stratified strategy only: the other rows are
    the development set, folded as below; `test_size` is then not used.

    - ``stratified``: exactly what ``compile_plan`` did before this module: ``train_test_split``
      (stratified for classification, ``random_state=seed``), then per repeat
      ``StratifiedKFold``/``KFold(n_folds, shuffle=True, random_state=seed + repeat)``.
    - ``group`` (needs ``groups``): the test set is whole groups. ``GROUP_TEST_CANDIDATES`` random
      orderings of the groups are drawn from ``numpy.random.default_rng(seed)``; each takes groups in
      that order until the test set holds about ``test_size`` of the rows (at least one group, and
      at most as many as leave ``n_folds`` groups for development). The candidate whose test set
      is closest to the requested size and to the label distribution of all rows wins (class
      fractions for classification, mean of the target in standard deviations for regression);
      ties go to the first. Then per repeat ``StratifiedGroupKFold`` (classification) or
      ``GroupKFold`` (regression), ``shuffle=True, random_state=seed + repeat``, over the
      development rows. If every repeat gives the same partition (e.g. as many development groups
      as folds), one repeat is used and ``note`` says so.
    - ``time`` (needs ``order``): the test set is the latest ``ceil(test_size * n)`` rows by
      ``order`` (ties keep row order: stable sort; tied rows may fall on both sides of a
      boundary); the development rows in time order are cut by ``time_splitter``: the
      validation blocks of ``TimeSeriesSplit(n_folds)``, each trained on the same number of
      rows just before it (as many as the first block has before it). Equal windows make the
      fold scores exchangeable (expanding windows make them a learning curve), and
      ``val_train_ratio`` is their n_val/n_train for the corrected SE. Ordered splits do not depend on a
      seed, so repeats > 1 would be identical: ONLY repeat 0 is returned (``len(folds) ==
      n_folds``) and ``note`` says so when ``repeats > 1``. Callers must take the number of
      scores from ``len(splits.folds)`` / ``splits.n_repeats``, not from the configuration.

    Test, development, train and valid indices are all sorted ascending. Raises ``ValueError``
    for programming errors (unknown strategy or task, missing ``groups``/``order``, bad sizes);
    call ``check_split_feasible`` first to turn data problems into a user-facing message.
    """
    labels = np.asarray(labels)
    if test_rows is not None:
        if strategy != "stratified":
            raise ValueError(f"a given test set needs the stratified strategy, not {strategy!r}")
        _check_arguments(strategy, task, n_folds, repeats, test_size)
        test = np.unique(np.asarray(test_rows, dtype=np.int64))
        development = np.setdiff1d(np.arange(len(labels)), test)
        splits = Splits(test, development, _stratified_folds(task, labels, development, n_folds, repeats, seed),
                        "stratified", None)
        return _compact(splits, len(labels))
    return _compact(_make_splits(strategy, task, labels, n_folds, repeats, seed, test_size, groups, order), len(labels))


def _compact(splits: Splits, n: int) -> Splits:
    """The same splits with 32-bit row indices where they suffice: a run holds the indices of
    every fold for its whole length, 40 MB in 64 bits at a million rows (task keys hash the
    indices as 64-bit integers, so they do not change)."""
    if n >= 2**31:
        return splits
    folds = [replace(f, train=f.train.astype(np.int32), valid=f.valid.astype(np.int32)) for f in splits.folds]
    return replace(splits, test=splits.test.astype(np.int32), development=splits.development.astype(np.int32),
                   folds=folds)


def _make_splits(strategy, task, labels, n_folds, repeats, seed, test_size, groups, order) -> Splits:
    n = len(labels)
    _check_arguments(strategy, task, n_folds, repeats, test_size)
    if strategy == "stratified":
        return _stratified(task, labels, n_folds, repeats, seed, test_size)
    if strategy == "group":
        if groups is None:
            raise ValueError("strategy 'group' needs `groups`")
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"`groups` has {len(groups)} entries but there are {n} labels")
        return _group(task, labels, groups, n_folds, repeats, seed, test_size)
    if order is None:
        raise ValueError("strategy 'time' needs `order`")
    order = np.asarray(order)
    if len(order) != n:
        raise ValueError(f"`order` has {len(order)} entries but there are {n} labels")
    return _time(labels, order, n_folds, repeats, seed, test_size)


def _check_arguments(strategy: str, task: str, n_folds: int, repeats: int, test_size: float) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown split strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if task not in TASKS:
        raise ValueError(f"splits are defined for {' and '.join(TASKS)}, not {task!r}")
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds must be an integer ≥ 2, got {n_folds!r}")
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be an integer ≥ 1, got {repeats!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size!r}")


# ------------------------------------------------------------------------------- stratified

def _stratified(task, labels, n_folds, repeats, seed, test_size) -> Splits:
    # Kept identical to the original compile_plan code: changing it would change every index,
    # hence every task key, and invalidate existing caches.
    from sklearn.model_selection import train_test_split

    classification = task == "classification"
    rows = np.arange(len(labels))
    development, test = train_test_split(
        rows, test_size=test_size, random_state=seed, stratify=labels if classification else None,
    )
    development, test = np.sort(development), np.sort(test)
    return Splits(test, development, _stratified_folds(task, labels, development, n_folds, repeats, seed),
                  "stratified", None)


def _stratified_folds(task, labels, development, n_folds, repeats, seed) -> list[FoldSplit]:
    from sklearn.model_selection import KFold, StratifiedKFold

    classification = task == "classification"
    folds = []
    for repeat in range(repeats):
        fold_seed = seed + repeat
        splitter_class = StratifiedKFold if classification else KFold
        splitter = splitter_class(n_splits=n_folds, shuffle=True, random_state=fold_seed)
        for fold, (train, valid) in enumerate(splitter.split(development, labels[development])):
            folds.append(FoldSplit(repeat, fold, fold_seed, development[train], development[valid]))
    return folds


# ------------------------------------------------------------------------------------ group

def _group_codes(groups: np.ndarray) -> np.ndarray:
    """Integer codes 0..G-1 of the group values (missing values form one group of their own)."""
    import pandas as pd

    codes, _ = pd.factorize(pd.Series(groups, copy=False), sort=False, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64)


def _group(task, labels, groups, n_folds, repeats, seed, test_size) -> Splits:
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    classification = task == "classification"
    codes = _group_codes(groups)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    if n_groups < n_folds + 1:
        raise ValueError(f"{n_groups} distinct groups, but {n_folds} folds plus a test set need at least "
                         f"{n_folds + 1} (check with check_split_feasible first)")
    is_test_group = _choose_test_groups(classification, labels, codes, n_groups, n_folds, seed, test_size)
    in_test = is_test_group[codes]
    rows = np.arange(len(labels))
    test, development = rows[in_test], rows[~in_test]
    notes = []
    fraction = len(test) / len(labels)
    if abs(fraction - test_size) > 0.2 * test_size:
        k = int(is_test_group.sum())
        notes.append(f"the test set holds {k} whole group{'s' if k > 1 else ''} with "
                     f"{fraction:.0%} of the objects (asked for {test_size:.0%}) because the groups "
                     "are large or few")

    dev_codes = codes[development]
    folds = []
    partitions = []
    for repeat in range(repeats):
        fold_seed = seed + repeat
        if classification:
            splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=fold_seed)
        else:
            splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=fold_seed)
        with warnings.catch_warnings():
            # "The least populated class in y has only k members": check_split_feasible reports it.
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            parts = list(splitter.split(development, labels[development], dev_codes))
        partitions.append(frozenset(frozenset(np.unique(dev_codes[valid]).tolist()) for _, valid in parts))
        for fold, (train, valid) in enumerate(parts):
            folds.append(FoldSplit(repeat, fold, fold_seed, development[np.sort(train)],
                                   development[np.sort(valid)]))
    if repeats > 1 and all(p == partitions[0] for p in partitions[1:]):
        folds = [f for f in folds if f.repeat == 0]
        notes.append(f"1 repeat used instead of {repeats}: with {len(np.unique(dev_codes))} development "
                     f"groups every repeat gives the same {n_folds} folds")
    note = "group split: " + "; ".join(notes) + "." if notes else None
    return Splits(test, development, folds, "group", note)


def _choose_test_groups(classification, labels, codes, n_groups, n_folds, seed, test_size) -> np.ndarray:
    """Boolean mask over group codes: the test groups (see make_splits for the rule)."""
    size = np.bincount(codes, minlength=n_groups).astype(np.float64)
    n = float(size.sum())
    if classification:
        _, y = np.unique(labels, return_inverse=True)
        n_classes = int(y.max()) + 1
        per_group = np.zeros((n_groups, n_classes))
        np.add.at(per_group, (codes, y), 1.0)  # counts of each class in each group
        overall = per_group.sum(axis=0) / n
    else:
        y = labels.astype(np.float64)
        scale = float(np.std(y)) or 1.0
        per_group = np.bincount(codes, weights=(y - y.mean()) / scale, minlength=n_groups)[:, None]
    target = test_size * n
    max_groups = n_groups - n_folds
    rng = np.random.default_rng(seed)
    best, best_score = None, math.inf
    for _ in range(GROUP_TEST_CANDIDATES):
        perm = rng.permutation(n_groups)
        cumulative = np.cumsum(size[perm])
        k = int(np.searchsorted(cumulative, target)) + 1  # fewest groups reaching the target
        if k > 1 and abs(cumulative[k - 2] - target) <= abs(cumulative[k - 1] - target):
            k -= 1  # one group fewer comes closer
        k = min(max(k, 1), max_groups)
        chosen = perm[:k]
        n_test = cumulative[k - 1]
        score = abs(n_test / n - test_size)
        if classification:
            fractions = per_group[chosen].sum(axis=0) / n_test
            score += 0.5 * float(np.abs(fractions - overall).sum())  # total variation distance
        else:
            score += abs(float(per_group[chosen].sum()) / n_test)  # standardised mean difference
        if score < best_score - 1e-12:
            best, best_score = chosen, score
    mask = np.zeros(n_groups, dtype=bool)
    mask[best] = True
    return mask


# ------------------------------------------------------------------------------------- time

def _time(labels, order, n_folds, repeats, seed, test_size) -> Splits:
    n = len(labels)
    n_test = math.ceil(test_size * n)
    if n_test >= n or n - n_test < n_folds + 1:
        raise ValueError(f"{n} rows are too few for a {test_size:g} test set and {n_folds} time-ordered folds "
                         "(check with check_split_feasible first)")
    by_time = np.argsort(order, kind="stable")
    test = np.sort(by_time[n - n_test:])
    dev_by_time = by_time[: n - n_test]
    folds = []
    for fold, (train, valid) in enumerate(time_splitter(len(dev_by_time), n_folds).split(dev_by_time)):
        folds.append(FoldSplit(0, fold, seed, np.sort(dev_by_time[train]), np.sort(dev_by_time[valid])))
    note = None
    if repeats > 1:
        note = (f"time order: 1 repeat used instead of {repeats}, because repeats are identical for "
                "ordered splits.")
    ratio = float(np.mean([len(f.valid) for f in folds]) / np.mean([len(f.train) for f in folds]))
    return Splits(test, np.sort(dev_by_time), folds, "time", note, val_train_ratio=ratio)


def time_splitter(n_development: int, n_folds: int):
    """Equal-size sliding windows over `n_development` rows in time order (DESIGN §6).

    TimeSeriesSplit's validation blocks, each trained on the `max_train_size` rows just before
    it: the rows the first block has before it, so every window trains on as many rows.
    """
    from sklearn.model_selection import TimeSeriesSplit

    block = n_development // (n_folds + 1)
    return TimeSeriesSplit(n_splits=n_folds, max_train_size=n_development - n_folds * block)


# ------------------------------------------------------------------------------ feasibility

def required_per_class(n_folds: int, test_size: float) -> int:
    """Objects (or, for groups, groups) a class needs so that every fold can hold one after the test
    set is held out."""
    return max(2, math.ceil(n_folds / (1.0 - test_size)) + 1)


def check_split_feasible(strategy: str, labels: np.ndarray, groups: np.ndarray | None, n_folds: int,
                         test_size: float, task: str, *, order: np.ndarray | None = None,
                         group_name: str = "groups", order_name: str = "order",
                         class_names: list[str] | None = None) -> str | None:
    """One sentence describing why `make_splits` cannot make useful splits of this data, or None.

    Checks (user-facing, unlike the ValueErrors of make_splits):
    - stratified: every class has ``required_per_class`` objects (regression: twice that many rows);
    - group: no missing group values; at least ``n_folds + 1`` distinct groups; for
      classification every class occurs in ``required_per_class`` distinct groups;
    - time: no missing order values (when ``order`` is given); enough rows for the test set and
      ``n_folds`` validation blocks; for classification (when ``order`` is given) every training
      window holds at least two classes and the test set is not a single class.
    ``group_name``/``order_name`` (column names) and ``class_names`` (indexed by label value, for
    integer labels) only make the message clearer.
    """
    labels = np.asarray(labels)
    n = len(labels)
    classification = task == "classification"

    def name_of(value) -> str:
        if class_names is not None and isinstance(value, (int, np.integer)) and 0 <= value < len(class_names):
            return str(class_names[value])
        return str(value)

    if strategy == "stratified":
        needed = required_per_class(n_folds, test_size)
        if classification:
            values, counts = np.unique(labels, return_counts=True)
            if len(values) < 2:
                return "the label has only one class; a classifier needs at least two"
            small = [f"{name_of(v)}: {c}" for v, c in zip(values, counts) if c < needed]
            if small:
                return (f"too few objects per class for {n_folds} folds with a {test_size:g} test set "
                        f"({', '.join(small)}; each class needs at least {needed})")
        elif n < 2 * needed:
            return (f"only {n} rows: too few for {n_folds} folds with a {test_size:g} test set "
                    f"(need at least {2 * needed})")
        return None

    if strategy == "group":
        if groups is None:
            return "validation strategy 'group' needs a group column (data.groups)"
        import pandas as pd

        series = pd.Series(np.asarray(groups), copy=False)
        missing = int(series.isna().sum())
        if missing:
            return (f"{missing} objects have no value in `{group_name}`; give them a group or drop them, "
                    "since objects without a group cannot be kept together")
        codes = _group_codes(series.to_numpy())
        n_groups = int(codes.max()) + 1 if n else 0
        if n_groups < n_folds + 1:
            return (f"only {n_groups} distinct groups in `{group_name}`, but {n_folds} folds plus a test set "
                    f"need at least {n_folds + 1}")
        if classification:
            needed = required_per_class(n_folds, test_size)
            values, y = np.unique(labels, return_inverse=True)
            if len(values) < 2:
                return "the label has only one class; a classifier needs at least two"
            pairs = np.unique(codes * len(values) + y)  # distinct (group, class) pairs
            groups_per_class = np.bincount(pairs % len(values), minlength=len(values))
            small = [f"{name_of(v)}: {c}" for v, c in zip(values, groups_per_class) if c < needed]
            if small:
                return (f"some classes occur in too few groups of `{group_name}` for {n_folds} folds with a "
                        f"{test_size:g} test set ({', '.join(small)} groups; each class needs at least {needed})")
        return None

    if strategy == "time":
        if order is not None:
            order = np.asarray(order)
            try:
                missing = int(np.isnan(order.astype(np.float64)).sum())
            except (TypeError, ValueError):
                import pandas as pd

                missing = int(pd.isna(order).sum())
            if missing:
                return (f"{missing} objects have no value in `{order_name}`; give them a time or drop them, "
                        "since they cannot be placed in time order")
        n_test = math.ceil(test_size * n)
        if n - n_test < n_folds + 1 or n_test < 1:
            return (f"only {n} rows: a {test_size:g} test set and {n_folds} time-ordered folds need at least "
                    f"{n_folds + 1} development rows")
        if classification and order is not None:
            by_time = np.argsort(order, kind="stable")
            if len(np.unique(labels[by_time[n - n_test:]])) < 2:
                return (f"the test set (the latest {n_test} objects by `{order_name}`) holds a single class, "
                        "so its scores are undefined; use more recent data of every class or another strategy")
            dev = labels[by_time[: n - n_test]]
            for fold, (train, _) in enumerate(time_splitter(len(dev), n_folds).split(dev)):
                if len(np.unique(dev[train])) < 2:
                    return (f"the {len(train)} objects by `{order_name}` of the training window of time-ordered "
                            f"fold {fold + 1} (objects {train[0] + 1}–{train[-1] + 1} in time order) hold a single "
                            "class, so no classifier can be fit; use fewer folds or another strategy")
        return None

    raise ValueError(f"unknown split strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
