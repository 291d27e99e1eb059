"""Checks for information leaking into the evaluation, run before any model is fitted.

The paper (§5.6): "If this is not done carefully, information can leak from the training sample
into the test sample, a unfortunately common pitfall leading to over-estimates in model
performance." Three cheap, model-free checks catch the common astronomical cases:

- ``duplicate_rows``: objects in the test set whose features are identical to a development
  object (a catalogue listing the same source twice, or merged surveys); the model has seen
  their twin and its label, so their test score is not independent. With discrete features
  (flags, counts) different objects coincide by chance; only an excess over the coincidences
  expected from how often each feature's values repeat is reported.
- ``separating_feature``: a single feature that alone (almost) perfectly separates the positive
  class from the rest (classification, AUC) or predicts the target (regression, |Spearman ρ| or
  R²). Typically a quantity derived from the label or measured only because the label was known
  (e.g. a spectroscopic redshift when classifying stars from photometry). Two one-feature scores
  are used and the larger decides: the rank AUC (monotone: "large values mean positive") and a
  histogram score (the class fraction in up to 50 quantile bins of the feature, in-sample), which
  also catches a class sitting in the middle of a range: galaxies between stars (z ≈ 0) and
  quasars (z ≳ 0.5) in redshift have rank AUC 0.83 but histogram AUC 0.997 in SDSS DR14.
  Regression likewise uses the R² of the per-bin means (correlation ratio).
- ``shared_groups``: group ids (fields, plates, nights) present in both the development and the
  test set.

The checks are pure and return warnings; they never raise because of the data. Runtime is
dominated by one sort per feature: about a second per million rows and 10 features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_PER_SIDE = 10  # fewer positives (or negatives) than this: a perfect AUC may be chance; skip
MAX_BINS = 50  # quantile bins of the one-feature histogram check (catches non-monotone separation)
MIN_PER_BIN = 20  # average rows per bin, so that in-sample bin fractions are not fitted noise


@dataclass(frozen=True)
class LeakageWarning:
    kind: str  # "duplicate_rows" | "separating_feature" | "shared_groups"
    message: str  # one sentence naming the feature/count and what to do
    detail: dict = field(default_factory=dict)  # numbers, e.g. {"feature": "redshift", "auc": 0.998}


def check_leakage(X: np.ndarray, y: np.ndarray, feature_names: list[str], test: np.ndarray,
                  development: np.ndarray, *, task: str, positive: int | None = None,
                  groups: np.ndarray | None = None, auc_threshold: float = 0.99,
                  r2_threshold: float = 0.99, class_names: Sequence[str] | None = None,
                  group_name: str | None = None, binned: bool = True) -> list[LeakageWarning]:
    """Leakage warnings for a dataset and its test/development split (empty list: none found).

    ``X`` holds all rows (features as numbers, NaN for missing), ``y`` the labels (class indices
    for classification) and ``test``/``development`` are row indices into both.

    - duplicate rows compare every test row with the development rows (all features equal, NaN
      equal to NaN, -0.0 equal to 0.0);
    - separating features are measured on the development rows only (the test set stays unused
      for anything that involves its labels); rows where the feature is NaN are ignored, and a
      class with fewer than ``MIN_PER_SIDE`` objects on either side is not judged. Classification:
      the positive class against the rest, flagged when ``max(rank AUC, 1 - rank AUC)`` or the
      histogram AUC (``binned=True``; see the module docstring) reaches ``auc_threshold``; other
      classes of a multi-class problem are not checked when ``positive`` is given. Without
      ``positive``: class 1 for two classes, every class against the rest for more (the best
      class is reported). Regression: flagged when ``|Spearman ρ|``, the R² of a straight-line fit
      or (``binned=True``) the R² of per-bin means reaches ``r2_threshold``;
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
    if task == "classification":
        warnings.extend(_separating_classification(X, y, feature_names, development, positive,
                                                   auc_threshold, class_names, binned))
    else:
        warnings.extend(_separating_regression(X, y, feature_names, development, r2_threshold, binned))
    return warnings


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


def _separating_classification(X, y, names, development, positive, threshold, class_names, binned):
    from scipy.stats import rankdata

    values, codes = np.unique(y[development], return_inverse=True)
    if len(values) < 2:
        return []
    if positive is not None:
        if positive not in values:
            return []
        checked = [int(np.flatnonzero(values == positive)[0])]
    elif len(values) == 2:
        checked = [1]
    else:
        checked = list(range(len(values)))

    def class_name(value) -> str:
        if class_names is not None and isinstance(value, (int, np.integer)) and 0 <= value < len(class_names):
            return str(class_names[value])
        return f"class {value}"

    out = []
    for j, feature in enumerate(names):
        column = np.asarray(X[development, j], dtype=np.float64)  # one column at a time, not a copy of X
        finite = ~np.isnan(column)
        n = int(finite.sum())
        if n < 2:
            continue
        c = codes[finite]
        ranks = rankdata(column[finite])  # average ranks for ties
        n_per_class = np.bincount(c, minlength=len(values)).astype(np.float64)
        rank_sum = np.bincount(c, weights=ranks, minlength=len(values))
        bins, n_bins = _bins_from_ranks(ranks) if binned else (None, 0)
        best = None
        for k in checked:
            n1, n0 = n_per_class[k], n - n_per_class[k]
            if min(n1, n0) < MIN_PER_SIDE:
                continue
            auc = (rank_sum[k] - n1 * (n1 + 1) / 2) / (n1 * n0)
            rank_auc = max(auc, 1.0 - auc)
            binned_auc = _binned_auc(bins, n_bins, (c == k).astype(np.float64)) if bins is not None else np.nan
            separation = max(rank_auc, binned_auc) if bins is not None else rank_auc
            if best is None or separation > best[1]:
                best = (k, separation, rank_auc, binned_auc)
        if best is None or best[1] < threshold:
            continue
        k, separation, rank_auc, binned_auc = best
        label = class_name(values[k].item() if isinstance(values[k], np.generic) else values[k])
        out.append(LeakageWarning(
            "separating_feature",
            f"feature '{feature}' alone separates {label} from the rest almost perfectly (AUC {separation:.3f}): "
            f"check that it does not encode the label (leakage: derived from the spectrum or the "
            f"classification itself) and is available for the objects you will classify; a genuine "
            f"physical discriminant (a colour cut, say) may simply make this case easy, and is kept",
            {"feature": feature, "auc": float(separation), "rank_auc": float(rank_auc),
             "binned_auc": float(binned_auc), "class": label, "n": n},
        ))
    return out


def _separating_regression(X, y, names, development, threshold, binned):
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
        strength = max(abs(spearman), r2, 0.0 if np.isnan(binned_r2) else binned_r2)
        if strength < threshold:
            continue
        out.append(LeakageWarning(
            "separating_feature",
            f"feature '{feature}' alone predicts the target almost perfectly (|Spearman ρ| {abs(spearman):.3f}, "
            f"R² {max(r2, 0.0 if np.isnan(binned_r2) else binned_r2):.3f}): check that it does not "
            f"encode the target (leakage: derived from the target's own measurement) and is available "
            f"for the objects you will predict; a genuine physical predictor may simply make this case easy",
            {"feature": feature, "spearman": float(spearman), "r2": float(r2), "binned_r2": float(binned_r2),
             "n": n},
        ))
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0
