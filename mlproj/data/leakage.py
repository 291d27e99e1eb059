"""Checks for information leaking into the evaluation, run before any model is fitted.

The paper (§5.6): "If this is not done carefully, information can leak from the training sample
into the test sample, a unfortunately common pitfall leading to over-estimates in model
performance." Three cheap, model-free checks catch the common astronomical cases:

- ``duplicate_rows``: objects in the test set whose features are identical to a development
  object (a catalogue listing the same source twice, or merged surveys); the model has seen
  their twin and its label, so their test score is not independent. With discrete features
  (flags, counts) different objects coincide by chance; only an excess over the coincidences
  expected from how often each feature's values repeat is reported.
- ``strong_features``: single features that alone (almost) perfectly separate a class from the
  rest (classification, AUC) or predict the target (regression, |Spearman ρ| or R²), and features
  that are a deterministic function of the label (a column equal to the class; a redshift that is
  exactly 0 for every star and only for stars). Two one-feature scores are used and the larger
  decides: the rank AUC (direction-free: "large values mean positive" or "small values do") and a
  histogram score (the class fraction in up to 50 quantile bins of the feature, in-sample), which
  also catches a class sitting in the middle of a range: galaxies between stars (z ≈ 0) and
  quasars (z ≳ 0.5) in redshift have rank AUC 0.83 but histogram AUC 0.997 in SDSS DR14.
  Regression likewise uses the R² of the per-bin means (correlation ratio). A feature with AUC
  ≥ 0.999 or that is a function of the label is a label leak (typically derived from the label or
  measured only because it was known, e.g. a spectroscopic redshift when classifying stars from
  photometry) until the project acknowledges it (``data.allowed_strong_features``); the leaks are
  one warning, the strong but physical features one note (DESIGN §6: grouped, not repeated).
- ``shared_groups``: group ids (fields, plates, nights) present in both the development and the
  test set.

The checks are pure and return findings; they never raise because of the data. Runtime is
dominated by one sort per feature: about a second per million rows and 10 features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_PER_SIDE = 10  # fewer positives (or negatives) than this: a perfect AUC may be chance; skip
MAX_BINS = 50  # quantile bins of the one-feature histogram check (catches non-monotone separation)
MIN_PER_BIN = 20  # average rows per bin, so that in-sample bin fractions are not fitted noise


STRONG_LEVEL = 0.99  # from this single-feature AUC (|ρ|, R²) on, a feature is listed as strong
# A single feature this good is a label leak until the project says it is physics (DESIGN §6);
# the verdict's level, mlproj.analyse.types.LEAK_LEVEL (a test keeps the two equal).
LEAK_LEVEL = 0.999


@dataclass(frozen=True)
class LeakageWarning:
    kind: str  # "duplicate_rows" | "shared_groups" | "label_leak" | "strong_features"
    message: str  # one paragraph naming the features/counts and what to do
    detail: dict = field(default_factory=dict)  # numbers, e.g. {"features": ["redshift"], ...}
    severity: str = "warning"  # "warning" | "note" (strong but physical features: information, no fault)


@dataclass(frozen=True)
class FeatureStrength:
    """How well one feature alone separates the classes (predicts the target), on the development set.

    `statistic`: "roc_auc" (rank AUC, direction-free) or "histogram_auc" (the class fraction in
    quantile bins) for classification; "abs_spearman", "r2" or "correlation_ratio" for
    regression: the largest decides `value` (None: no class large enough to judge).
    `label_function`: the feature is a deterministic function of the label (`detail["why"]`).
    """

    feature: str
    statistic: str
    value: float | None
    label_function: bool = False
    detail: dict = field(default_factory=dict)

    @property
    def leaks(self) -> bool:
        return self.label_function or (self.value is not None and self.value >= LEAK_LEVEL)


def strong_features(X: np.ndarray, y: np.ndarray, feature_names: list[str], development: np.ndarray, *,
                    task: str, positive: int | None = None, class_names: Sequence[str] | None = None,
                    level: float = STRONG_LEVEL, binned: bool = True) -> list[FeatureStrength]:
    """The features that alone reach `level` or are a function of the label, in feature order.

    Measured on the development rows only (the test set stays unused for anything that involves
    its labels). Classification: every class against the rest, the best class reported (`positive`
    is accepted for the callers' sake and no longer narrows the check); the label-function check
    looks at every class. Regression: |Spearman ρ|, the R² of a straight line and that of per-bin means.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    development = np.asarray(development, dtype=np.intp)
    if task == "classification":
        return _separating_classification(X, y, feature_names, development, positive, level, class_names, binned)
    return _separating_regression(X, y, feature_names, development, level, binned)


def check_leakage(X: np.ndarray, y: np.ndarray, feature_names: list[str], test: np.ndarray,
                  development: np.ndarray, *, task: str, positive: int | None = None,
                  groups: np.ndarray | None = None, auc_threshold: float = STRONG_LEVEL,
                  r2_threshold: float = STRONG_LEVEL, class_names: Sequence[str] | None = None,
                  group_name: str | None = None, binned: bool = True, acknowledged: Sequence[str] = (),
                  strong: list[FeatureStrength] | None = None) -> list[LeakageWarning]:
    """Leakage findings for a dataset and its test/development split (empty list: none found).

    ``X`` holds all rows (features as numbers, NaN for missing), ``y`` the labels (class indices
    for classification) and ``test``/``development`` are row indices into both.

    - duplicate rows compare every test row with the development rows (all features equal, NaN
      equal to NaN, -0.0 equal to 0.0);
    - strong features (``strong_features``, or ``strong`` if already measured) reaching
      ``auc_threshold`` (classification) or ``r2_threshold`` (regression) are grouped, never one
      finding each: the label leaks (AUC ≥ LEAK_LEVEL or a function of the label) not in
      ``acknowledged`` are one warning, ``"label_leak"``; the others, strong but physical (and the
      acknowledged ones), are one note, ``"strong_features"`` (severity "note"). Rows where a
      feature is NaN are ignored by the AUC, and a class with fewer than ``MIN_PER_SIDE`` objects
      on either side is not judged;
    - shared groups (when ``groups`` is given) count group ids on both sides.

    ``class_names`` (indexed by class index) and ``group_name`` (the column) only make the
    messages readable.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    if X.shape[1] != len(feature_names):
        raise ValueError(f"{X.shape[1]} feature columns but {len(feature_names)} feature names")
    if task not in ("classification", "regression"):
        raise ValueError(f"leakage checks are defined for classification and regression, not {task!r}")
    y = np.asarray(y)
    test = np.asarray(test, dtype=np.intp)
    development = np.asarray(development, dtype=np.intp)

    warnings: list[LeakageWarning] = []
    duplicate = _duplicate_rows(X, test, development)
    if duplicate is not None:
        warnings.append(duplicate)
    if groups is not None:
        shared = _shared_groups(np.asarray(groups), test, development, group_name)
        if shared is not None:
            warnings.append(shared)
    if strong is None:
        strong = strong_features(X, y, feature_names, development, task=task, positive=positive,
                                 class_names=class_names, binned=binned,
                                 level=auc_threshold if task == "classification" else r2_threshold)
    warnings.extend(_grouped_findings(strong, set(acknowledged), task))
    return warnings


# ------------------------------------------------------------------ grouped feature findings

def _shown(value: float | None) -> str:
    """Three decimals that never round a value below 1 up to a perfect 1.000."""
    if value is None:
        return "—"
    text = f"{value:.3f}"
    return "> 0.999" if text == "1.000" and value < 1.0 else text


_STATISTIC = {"roc_auc": "AUC", "histogram_auc": "histogram AUC", "abs_spearman": "|Spearman ρ|",
              "r2": "R²", "correlation_ratio": "correlation ratio"}


def _strength(f: FeatureStrength, against: bool = True) -> str:
    parts = [f.detail["why"]] if f.detail.get("why") else []
    if f.value is not None:
        versus = f", {f.detail['class']} vs the rest" if against and f.detail.get("class") else ""
        parts.append(f"{_STATISTIC.get(f.statistic, f.statistic)} {_shown(f.value)}{versus}")
    return ", ".join(parts)


def _listing(features: list[FeatureStrength]) -> str:
    """`a: AUC 0.992; b: ...`, the class said once when every feature separates the same one."""
    classes = {f.detail.get("class") for f in features if f.value is not None}
    once = len(classes) == 1 and None not in classes
    listed = "; ".join(f"{f.feature}: {_strength(f, against=not once)}" for f in features)
    return f"{classes.pop()} vs the rest: {listed}" if once else listed


def _names(features: list[FeatureStrength]) -> str:
    names = [f.feature for f in features]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _grouped_findings(strong: list[FeatureStrength], acknowledged: set[str], task: str) -> list[LeakageWarning]:
    leaks = [f for f in strong if f.leaks and f.feature not in acknowledged]
    others = [f for f in strong if f not in leaks]
    label = "label" if task == "classification" else "target"
    out = []
    if leaks:
        one = len(leaks) == 1
        names = [f.feature for f in leaks]
        origin = ("derived from the spectrum or the classification itself" if task == "classification"
                  else "derived from the target's own measurement")
        out.append(LeakageWarning(
            "label_leak",
            f"label leak: {_names(leaks)} {'gives' if one else 'give'} the {label} away on "
            f"{'its' if one else 'their'} own on the development set "
            f"({_listing(leaks)}), so the criterion no_label_leak "
            f"fails. If {'it encodes' if one else 'they encode'} the {label} ({origin}) or will not be known for "
            f"the objects the model is for, remove {'it' if one else 'them'} from the features (data.features: "
            f"{{exclude: [{', '.join(names)}]}}, or leave {'it' if one else 'them'} out of the list); if "
            f"{'it is' if one else 'they are'} genuine physics, list {'it' if one else 'them'} in "
            f"data.allowed_strong_features",
            {"features": names, "findings": [_finding(f) for f in leaks]},
        ))
    if others:
        physical = [f for f in others if not f.leaks]
        allowed = [f for f in others if f.leaks]
        sentences = []
        if physical:
            one = len(physical) == 1
            level = "AUC" if task == "classification" else "|ρ| or R²"
            verb = (("separates a class from the rest" if one else "separate a class from the rest")
                    if task == "classification" else ("predicts the target" if one else "predict the target"))
            sentences.append(
                f"{_names(physical)} {verb} strongly on "
                f"{'its' if one else 'their'} own on the development set "
                f"({_listing(physical)}); physical discriminants "
                f"like these make a case easy and are kept (a single feature with {level} ≥ {LEAK_LEVEL:g}, "
                f"or one that is a function of the {label}, would be a label leak)")
        if allowed:
            sentences.append(
                f"{_names(allowed)} ({_listing(allowed)}) "
                f"{'is' if len(allowed) == 1 else 'are'} acknowledged as physics in data.allowed_strong_features")
        out.append(LeakageWarning(
            "strong_features", "strong single features: " + "; ".join(sentences),
            {"features": [f.feature for f in others], "findings": [_finding(f) for f in others]},
            severity="note",
        ))
    return out


def _finding(f: FeatureStrength) -> dict:
    return {"feature": f.feature, "statistic": f.statistic, "value": f.value, "label_function": f.label_function,
            **f.detail}


# ---------------------------------------------------------------------------- duplicates

ROW_CHUNK = 65_536  # rows canonicalised at a time: the check never copies the whole matrix


def _canonical_rows(X: np.ndarray) -> np.ndarray:
    """One opaque value per row, equal exactly when all features are equal (NaN == NaN)."""
    values = np.array(X, dtype=np.float64, order="C", copy=True)
    values[np.isnan(values)] = np.nan  # one NaN bit pattern
    values += 0.0  # -0.0 → 0.0
    return values.view(np.dtype((np.void, values.dtype.itemsize * values.shape[1]))).ravel()


def _row_keys(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A 64-bit FNV-style hash of each canonical row, computed chunk by chunk.

    Equal rows get equal keys; unequal rows almost never do, and the few candidates are then
    compared exactly. 8 bytes per row instead of a copy of the rows keeps a million-row
    catalogue's check within a few megabytes.
    """
    keys = np.empty(len(rows), dtype=np.uint64)
    prime = np.uint64(1099511628211)
    for start in range(0, len(rows), ROW_CHUNK):
        canonical = _canonical_rows(X[rows[start:start + ROW_CHUNK]])
        bits = canonical.view(np.uint64).reshape(len(canonical), -1)
        key = np.full(len(canonical), 14695981039346656037, dtype=np.uint64)
        for column in bits.T:
            key ^= column
            key *= prime  # wraps modulo 2**64, as the hash intends
        keys[start:start + len(canonical)] = key
    return keys


def _duplicate_count(X: np.ndarray, test: np.ndarray, development: np.ndarray) -> int:
    """Test rows whose features equal those of some development row (compared exactly)."""
    test_keys, dev_keys = _row_keys(X, test), _row_keys(X, development)
    candidates = np.isin(test_keys, dev_keys)
    if not candidates.any():
        return 0
    shared = np.unique(test_keys[candidates])
    dev_rows = development[np.isin(dev_keys, shared)]
    return int(np.isin(_canonical_rows(X[test[candidates]]), _canonical_rows(X[dev_rows])).sum())


COINCIDENCE_SAMPLE = 10_000  # development rows used to estimate how often features coincide


def _chance_twins(X: np.ndarray, test: np.ndarray, development: np.ndarray) -> float:
    """Test rows expected to equal some development row by chance, for features as discrete as
    these: n_test × (1 − exp(−n_dev × P)), P the chance that two objects share every feature.

    P is the product over features of the chance that two random development objects share
    the value (an unbiased estimate from a sample). For measured (continuous) features it is ~0,
    so any identical row is suspect; for flags or counts with few values, coincidences are
    expected, and only an excess over them points at duplicated objects.
    """
    rows = development if len(development) <= COINCIDENCE_SAMPLE else \
        np.random.default_rng(0).choice(development, COINCIDENCE_SAMPLE, replace=False)
    m = len(rows)
    if m < 2:
        return 0.0
    both = 1.0
    for j in range(X.shape[1]):
        values = X[rows, j]
        values = np.where(np.isnan(values), np.inf, values)  # missing values coincide with each other
        _, counts = np.unique(values, return_counts=True)
        both *= float((counts * (counts - 1)).sum()) / (m * (m - 1))
        if both == 0.0:
            return 0.0
    return len(test) * -float(np.expm1(-len(development) * both))  # P(a twin among n_dev) per test row


def _duplicate_rows(X, test, development) -> LeakageWarning | None:
    if len(test) == 0 or len(development) == 0 or X.shape[1] == 0:
        return None
    n_dup = _duplicate_count(X, test, development)
    if n_dup == 0:
        return None
    expected = _chance_twins(X, test, development)
    if n_dup <= 2 * expected:
        return None  # as many as discrete features give by chance
    objects = "object" if n_dup == 1 else "objects"
    has = "has" if n_dup == 1 else "have"
    return LeakageWarning(
        "duplicate_rows",
        f"{n_dup} {objects} in the test set {has} identical features to objects in the development set"
        f"{f', where chance alone gives about {expected:.0f}' if expected >= 1 else ''} "
        f"(duplicates in the catalogue?); their test score is not independent, so remove duplicates "
        f"or keep them together with a group column",
        {"n_test_duplicates": n_dup, "n_test": len(test), "fraction": n_dup / len(test),
         "expected_by_chance": round(expected, 1)},
    )


# ------------------------------------------------------------------------------- groups

def _shared_groups(groups, test, development, group_name) -> LeakageWarning | None:
    import pandas as pd

    test_groups = pd.Series(groups[test], copy=False)
    dev_values = pd.unique(pd.Series(groups[development], copy=False).dropna())
    in_dev = test_groups.isin(dev_values).to_numpy()
    if not in_dev.any():
        return None
    n_shared = int(test_groups[in_dev].nunique())
    n_rows = int(in_dev.sum())
    where = f" of `{group_name}`" if group_name else ""
    noun = "group" if n_shared == 1 else "groups"
    verb = "appears" if n_shared == 1 else "appear"
    return LeakageWarning(
        "shared_groups",
        f"{n_shared} {noun}{where} ({n_rows} test objects) {verb} in both the development and the test set; "
        f"objects of one group are not independent, so split by group (validation strategy 'group')",
        {"n_shared_groups": n_shared, "n_test_rows_in_shared_groups": n_rows, "n_test": len(test),
         "n_test_groups": int(test_groups.nunique())},
    )


# ------------------------------------------------------------------ separating features

def _bins_from_ranks(ranks: np.ndarray) -> tuple[np.ndarray, int] | tuple[None, int]:
    """Quantile bins of a feature from its (average) ranks: tied values share a bin."""
    n = len(ranks)
    n_bins = min(MAX_BINS, n // MIN_PER_BIN)
    if n_bins < 2:
        return None, 0
    bins = np.minimum(((ranks - 1.0) * (n_bins / n)).astype(np.intp), n_bins - 1)
    return bins, n_bins


def _binned_auc(bins: np.ndarray, n_bins: int, is_pos: np.ndarray) -> float:
    """In-sample AUC of the positive fraction per bin used as the score (a histogram classifier)."""
    pos = np.bincount(bins, weights=is_pos, minlength=n_bins)
    neg = np.bincount(bins, minlength=n_bins) - pos
    total = pos + neg
    score = np.divide(pos, total, out=np.zeros(n_bins), where=total > 0)
    _, level = np.unique(score, return_inverse=True)  # bins with equal scores are ties
    pos, neg = np.bincount(level, weights=pos), np.bincount(level, weights=neg)
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def _class_text(value, class_names) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if class_names is not None and isinstance(value, (int, np.integer)) and 0 <= value < len(class_names):
        return str(class_names[value])
    return f"class {value}"


def _separating_classification(X, y, names, development, positive, level, class_names, binned):
    values, codes = np.unique(y[development], return_inverse=True)
    if len(values) < 2:
        return []
    # Every class against the rest, whichever is positive: a feature that gives the stars away
    # leaks the label of a galaxies-vs-rest project too (SDSS `redshift`: galaxies against the
    # rest reach AUC 0.998, stars against the rest 0.9998, stars' redshifts being ~1e-5). With two
    # classes both sides give the same direction-free AUC.
    checked = [1] if len(values) == 2 else list(range(len(values)))
    labels = [_class_text(v, class_names) for v in values]

    out = []
    for j, feature in enumerate(names):
        column = np.asarray(X[development, j], dtype=np.float64)  # one column at a time, not a copy of X
        # One sort per feature serves both checks: the distinct values (NaN one of them) and the
        # average ranks of the finite ones (NaN sorts last, so it shifts no finite rank).
        distinct, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
        why = _label_function_classes(distinct, inverse, codes, labels)
        finite = ~np.isnan(column)
        n = int(finite.sum())
        best = None
        if n >= 2:
            c = codes[finite]
            ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse[finite]]
            n_per_class = np.bincount(c, minlength=len(values)).astype(np.float64)
            rank_sum = np.bincount(c, weights=ranks, minlength=len(values))
            bins, n_bins = _bins_from_ranks(ranks) if binned else (None, 0)
            for k in checked:
                n1, n0 = n_per_class[k], n - n_per_class[k]
                if min(n1, n0) < MIN_PER_SIDE:
                    continue
                auc = (rank_sum[k] - n1 * (n1 + 1) / 2) / (n1 * n0)
                rank_auc = max(auc, 1.0 - auc)  # direction-free: "small values mean positive" as well
                binned_auc = _binned_auc(bins, n_bins, (c == k).astype(np.float64)) if bins is not None else np.nan
                separation = max(rank_auc, binned_auc) if bins is not None else rank_auc
                if best is None or separation > best[1]:
                    best = (k, separation, rank_auc, binned_auc)
        if why is None and (best is None or best[1] < level):
            continue
        if best is None:
            out.append(FeatureStrength(feature, "roc_auc", None, True, {"why": why, "n": n}))
            continue
        k, separation, rank_auc, binned_auc = best
        statistic = "histogram_auc" if bins is not None and binned_auc > rank_auc else "roc_auc"
        out.append(FeatureStrength(
            feature, statistic, float(separation), why is not None,
            {"class": labels[k], "rank_auc": float(rank_auc), "binned_auc": float(binned_auc), "n": n,
             **({"why": why} if why else {})},
        ))
    return out


def _label_function_classes(distinct, inverse, codes, labels) -> str | None:
    """Why the feature is a function of the label on these rows, or None.

    Two shapes are recognised: a class (of at least MIN_PER_SIDE objects, with as many outside it)
    whose every object has one value that no other object has (a redshift of exactly 0 for every
    star and only for stars; missing for one class only); and a discrete code whose values never
    overlap between classes (a column equal to the class). A measured quantity has too many
    distinct values for the second shape to arise by chance: its values must repeat, on average
    MIN_PER_SIDE times each.
    """
    n_classes, n = len(labels), len(codes)
    pairs = np.unique(inverse * n_classes + codes)  # the distinct (value, class) pairs
    pair_value, pair_class = pairs // n_classes, pairs % n_classes
    classes_per_value = np.bincount(pair_value, minlength=len(distinct))
    values_per_class = np.bincount(pair_class, minlength=n_classes)
    n_per_class = np.bincount(codes, minlength=n_classes)
    judged = (n_per_class >= MIN_PER_SIDE) & (n - n_per_class >= MIN_PER_SIDE)
    exclusive = classes_per_value == 1
    if judged.any() and len(distinct) * MIN_PER_SIDE <= n and exclusive.all():
        if (values_per_class == 1).all():
            return "one value per class"
        return "its values never overlap between classes"
    for k in np.flatnonzero(judged & (values_per_class == 1)):
        value = pair_value[pair_class == k][0]
        if exclusive[value]:
            shown = "missing" if np.isnan(distinct[value]) else f"{distinct[value]:g}"
            return f"{shown} for every {labels[k]} and only for them"
    return None


def _separating_regression(X, y, names, development, level, binned):
    from scipy.stats import rankdata

    target = np.asarray(y[development], dtype=np.float64)
    usable = np.isfinite(target)
    all_ranks = None
    out = []
    for j, feature in enumerate(names):
        column = np.asarray(X[development, j], dtype=np.float64)  # one column at a time, not a copy of X
        keep = usable & ~np.isnan(column)
        n = int(keep.sum())
        if n < MIN_PER_SIDE:
            continue
        x, t = column[keep], target[keep]
        if np.ptp(x) == 0 or np.ptp(t) == 0:
            continue
        if keep.all():  # the common case: rank the target once
            if all_ranks is None:
                all_ranks = rankdata(target)
            t_ranks = all_ranks
        else:
            t_ranks = rankdata(t)
        x_ranks = rankdata(x)
        spearman = _pearson(x_ranks, t_ranks)
        r2 = _pearson(x, t) ** 2
        binned_r2 = np.nan
        bins, n_bins = _bins_from_ranks(x_ranks) if binned else (None, 0)
        if bins is not None:  # correlation ratio: R² of the step function of per-bin means
            centred = t - t.mean()
            counts = np.bincount(bins, minlength=n_bins)
            sums = np.bincount(bins, weights=centred, minlength=n_bins)
            between = float(np.sum(np.divide(sums ** 2, counts, out=np.zeros(n_bins), where=counts > 0)))
            binned_r2 = between / float(np.dot(centred, centred))
        candidates = {"abs_spearman": abs(spearman), "r2": r2,
                      "correlation_ratio": 0.0 if np.isnan(binned_r2) else binned_r2}
        statistic = max(candidates, key=candidates.get)
        strength = candidates[statistic]
        # Same ranks, in the same or the opposite order: the feature is a monotone function of the target.
        monotone = abs(spearman) >= 1.0 - 1e-12
        if strength < level and not monotone:
            continue
        out.append(FeatureStrength(
            feature, statistic, float(min(strength, 1.0)), monotone,
            {"spearman": float(spearman), "r2": float(r2), "binned_r2": float(binned_r2), "n": n,
             **({"why": "a monotone function of the target"} if monotone else {})},
        ))
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0
