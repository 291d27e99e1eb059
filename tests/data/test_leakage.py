"""Tests of mlproj.data.leakage: each warning on constructed data, silence on honest data, SDSS redshift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.data.leakage import LEAK_LEVEL, LeakageWarning, check_leakage, strong_features


def split_rows(n, test_fraction=0.2, seed=0):
    rows = np.random.default_rng(seed).permutation(n)
    k = int(n * test_fraction)
    return np.sort(rows[:k]), np.sort(rows[k:])


def kinds(warnings):
    return [w.kind for w in warnings]


def separating(findings, names=None):
    """The per-feature findings of the two grouped kinds (label leaks, strong features), in feature order."""
    found = [f for w in findings if w.kind in ("label_leak", "strong_features") for f in w.detail["findings"]]
    return sorted(found, key=lambda f: names.index(f["feature"])) if names else found


def noise(n=2000, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), [f"f{j}" for j in range(d)]


# ----------------------------------------------------------------------------- no warnings

@pytest.mark.parametrize("seed", range(5))
def test_independent_noise_gives_no_warning(seed):
    X, names = noise(seed=seed)
    rng = np.random.default_rng(100 + seed)
    test, dev = split_rows(len(X), seed=seed)
    groups = np.arange(len(X))  # every object its own group: nothing shared
    y = rng.integers(0, 3, len(X))
    assert check_leakage(X, y, names, test, dev, task="classification", positive=2, groups=groups) == []
    assert check_leakage(X, y, names, test, dev, task="classification") == []  # every class vs rest
    assert check_leakage(X, rng.normal(size=len(X)), names, test, dev, task="regression", groups=groups) == []


def test_small_noisy_data_gives_no_warning():
    for seed in range(20):
        X, names = noise(n=120, d=5, seed=seed)
        y = np.random.default_rng(seed).integers(0, 2, 120)
        test, dev = split_rows(120, seed=seed)
        assert check_leakage(X, y, names, test, dev, task="classification", positive=1) == []
        target = X[:, 0] + np.random.default_rng(seed).normal(size=120)  # related, but not a leak
        assert check_leakage(X, target, names, test, dev, task="regression") == []


def test_realistically_informative_feature_is_not_flagged():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 5000)
    X = np.column_stack([y * 2.0 + rng.normal(size=5000), rng.normal(size=5000)])  # AUC ≈ 0.92
    test, dev = split_rows(5000)
    assert check_leakage(X, y, ["colour", "noise"], test, dev, task="classification", positive=1) == []


# ------------------------------------------------------------------------------ duplicates

def test_discrete_features_coinciding_by_chance_are_not_duplicates():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(1000, 2)).astype(float)  # 16 possible rows: most test rows have a twin
    test, dev = split_rows(1000)
    assert check_leakage(X, np.zeros(1000), ["a", "b"], test, dev, task="regression") == []
    X[:, 1] = rng.normal(size=1000)  # one measured feature: coincidences are now real duplicates
    X[test[:3]] = X[dev[:3]]
    warnings = check_leakage(X, np.zeros(1000), ["a", "b"], test, dev, task="regression")
    assert kinds(warnings) == ["duplicate_rows"] and warnings[0].detail["n_test_duplicates"] == 3


def test_discrete_features_with_many_real_duplicates_are_reported():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 10, size=(2000, 5)).astype(float)  # 100,000 combinations: few chance twins
    test, dev = split_rows(2000)
    X[test[:150]] = X[dev[:150]]
    warnings = check_leakage(X, np.zeros(2000), list("abcde"), test, dev, task="regression")
    assert kinds(warnings) == ["duplicate_rows"]
    assert warnings[0].detail["n_test_duplicates"] > 2 * warnings[0].detail["expected_by_chance"] > 0
    assert "where chance alone gives about" in warnings[0].message


def test_rounded_magnitudes_are_not_discrete_enough_to_hide_duplicates():
    rng = np.random.default_rng(2)
    X = np.round(rng.normal(20, 1, size=(5000, 5)), 2)  # catalogue magnitudes to 0.01 mag
    test, dev = split_rows(5000)
    X[test[:3]] = X[dev[:3]]
    warnings = check_leakage(X, np.zeros(5000), [f"m{j}" for j in range(5)], test, dev, task="regression")
    assert kinds(warnings) == ["duplicate_rows"] and warnings[0].detail["n_test_duplicates"] == 3


def test_many_duplicated_objects_are_still_found():
    X, names = noise(n=1000, d=3)
    test, dev = split_rows(1000)
    X[dev[400:]] = X[dev[:400]]  # half the development set are copies
    X[test[:20]] = X[dev[:20]]
    warnings = check_leakage(X, np.zeros(1000), names, test, dev, task="regression")
    assert warnings[0].detail["n_test_duplicates"] == 20


def test_duplicate_rows_are_counted():
    X, names = noise(n=1000, d=4)
    test, dev = split_rows(1000)
    X[test[:37]] = X[dev[:37]]  # 37 test objects copied from the development set
    X[dev[100], 2] = np.nan
    X[test[50]] = X[dev[100]]  # NaN equals NaN
    X[dev[101], 1] = -0.0
    X[test[51]] = X[dev[101]]
    X[test[51], 1] = 0.0  # -0.0 equals 0.0
    X[test[52]] = X[test[53]]  # duplicates inside the test set do not count
    warnings = check_leakage(X, np.zeros(1000), names, test, dev, task="regression")
    assert kinds(warnings) == ["duplicate_rows"]
    w = warnings[0]
    assert isinstance(w, LeakageWarning)
    assert w.detail["n_test_duplicates"] == 39 and w.detail["n_test"] == 200
    assert w.message.startswith("39 objects in the test set have identical features to objects in the "
                                "development set (duplicates in the catalogue?)")


# ------------------------------------------------------------------------ separating feature

def test_label_encoding_feature_is_flagged_and_named():
    rng = np.random.default_rng(2)
    n = 3000
    y = rng.integers(0, 3, n)
    leak = np.where(y == 1, 5.0, 0.0) + rng.normal(scale=0.1, size=n)  # class 1 separated
    X = np.column_stack([rng.normal(size=n), leak, rng.normal(size=n)])
    X[rng.random(n) < 0.1, 1] = np.nan  # missing values are ignored
    test, dev = split_rows(n)
    warnings = check_leakage(X, y, ["u", "specz", "g"], test, dev, task="classification", positive=1,
                             class_names=["galaxy", "star", "qso"])
    assert kinds(warnings) == ["label_leak"]
    w = warnings[0]
    [found] = w.detail["findings"]
    assert found["feature"] == "specz" and found["class"] == "star" and found["value"] > 0.999
    assert not found["label_function"]  # measured with noise: a leak by its AUC alone
    assert "label leak: specz gives the label away on its own" in w.message
    assert "(star vs the rest: specz: AUC 1.000)" in w.message
    # a decreasing relation counts as well
    X[:, 1] = -X[:, 1]
    assert kinds(check_leakage(X, y, ["u", "specz", "g"], test, dev, task="classification", positive=1)) == [
        "label_leak"]
    # every class is checked, whichever is positive: a feature that gives class 1 away leaks the
    # label of a class-0-vs-rest project too
    assert kinds(check_leakage(X, y, ["u", "specz", "g"], test, dev, task="classification", positive=0)) == [
        "label_leak"]
    # without a positive class every class is checked
    assert kinds(check_leakage(X, y, ["u", "specz", "g"], test, dev, task="classification")) == [
        "label_leak"]


def test_class_in_the_middle_of_a_range_is_flagged_by_the_histogram_check():
    rng = np.random.default_rng(3)
    n = 4000
    band = rng.integers(0, 3, n)  # 0: low values, 1: middle, 2: high
    z = np.choose(band, [rng.uniform(0, 0.01, n), rng.uniform(0.05, 0.4, n), rng.uniform(0.6, 3, n)])
    y = (band == 1).astype(int)  # the middle against both ends: no threshold on z separates them
    X = np.column_stack([z, rng.normal(size=n)])
    test, dev = split_rows(n)
    warnings = check_leakage(X, y, ["z", "noise"], test, dev, task="classification", positive=1)
    [found] = separating(warnings)
    assert found["feature"] == "z" and found["statistic"] == "histogram_auc"
    assert found["rank_auc"] < 0.8 and found["binned_auc"] > 0.99
    assert check_leakage(X, y, ["z", "noise"], test, dev, task="classification", positive=1, binned=False) == []


def test_rare_class_is_not_judged():
    rng = np.random.default_rng(4)
    y = np.zeros(500, dtype=int)
    y[:8] = 1  # fewer than 10 positives in the development rows
    X = np.column_stack([y + rng.normal(scale=0.01, size=500)])
    assert check_leakage(X, y, ["leak"], np.array([], dtype=int), np.arange(500), task="classification",
                         positive=1) == []


def test_regression_target_in_disguise_is_flagged():
    rng = np.random.default_rng(5)
    n = 3000
    v = rng.uniform(0, 3, n)
    target = (v - 1.5) ** 2  # a function of v, but not a monotone one
    X = np.column_stack([rng.normal(size=n), np.exp(target) + rng.normal(scale=1e-3, size=n),
                         v, target + rng.normal(size=n)])
    test, dev = split_rows(n)
    warnings = check_leakage(X, target, ["noise", "exp_z", "v", "noisy_z"], test, dev, task="regression")
    names = ["noise", "exp_z", "v", "noisy_z"]
    exp_z, v = separating(warnings, names)
    assert [exp_z["feature"], v["feature"]] == ["exp_z", "v"]
    assert exp_z["spearman"] > 0.999 and warnings[0].kind == "label_leak"
    assert "label leak: exp_z gives the target away on its own" in warnings[0].message
    assert abs(v["spearman"]) < 0.5 and v["binned_r2"] > 0.99 and v["statistic"] == "correlation_ratio"
    only_linear = check_leakage(X, target, names, test, dev, task="regression", binned=False)
    assert [f["feature"] for f in separating(only_linear)] == ["exp_z"]


# --------------------------------------------------------------------------- shared groups

def test_shared_groups_are_counted():
    X, names = noise(n=400, d=3)
    groups = np.repeat(np.arange(40), 10).astype(object)
    test = np.arange(0, 80)  # groups 0..7 whole
    test = np.concatenate([test, [100, 101, 205]])  # plus parts of groups 10 and 20
    dev = np.setdiff1d(np.arange(400), test)
    warnings = check_leakage(X, np.zeros(400), names, test, dev, task="regression", groups=groups,
                             group_name="field")
    assert kinds(warnings) == ["shared_groups"]
    assert warnings[0].detail["n_shared_groups"] == 2
    assert warnings[0].detail["n_test_rows_in_shared_groups"] == 3
    assert warnings[0].message.startswith("2 groups of `field` (3 test objects) appear in both")


def _all_kinds(n: int, d: int = 10):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, 2, n)
    X[:, 3] = y + rng.normal(scale=0.01, size=n)
    test, dev = split_rows(n)
    X[test[:5]] = X[dev[:5]]
    groups = rng.integers(0, 1000, n)
    return dict(X=X, y=y, feature_names=[f"f{j}" for j in range(d)], test=test, development=dev,
                task="classification", positive=1, groups=groups)


def test_all_kinds_together_and_speed(python_steps):
    """Speed by construction, not by the clock (the 1,000,000 × 20 target, < 10 s, is a
    benchmark): the Python steps do not grow with the rows, so the work is numpy's sorts."""
    check_leakage(**_all_kinds(2000))  # first-call imports (scipy.stats) are not the check's work
    _, small = python_steps(check_leakage, **_all_kinds(20_000))
    warnings, large = python_steps(check_leakage, **_all_kinds(200_000))
    assert kinds(warnings) == ["duplicate_rows", "shared_groups", "label_leak"]
    assert warnings[0].detail["n_test_duplicates"] == 5
    assert large <= 1.2 * small, f"{small} Python steps for 20,000 rows, {large} for 200,000"


# ----------------------------------------------------------------------------------- SDSS

def test_sdss_redshift_encodes_the_class(shared_data):
    pd = pytest.importorskip("pandas")
    path = shared_data / "sdss-dr14-10k" / "sdss_dr14_10k.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    table = pd.read_csv(path)
    names = ["GALAXY", "STAR", "QSO"]
    y = table["class"].map({c: i for i, c in enumerate(names)}).to_numpy()
    features = ["u", "g", "r", "i", "z", "redshift"]
    X = table[features].to_numpy(dtype=float)
    from mlproj.plan.splits import make_splits

    s = make_splits(strategy="stratified", task="classification", labels=y, n_folds=5, repeats=1, seed=0,
                    test_size=0.2)
    star = check_leakage(X, y, features, s.test, s.development, task="classification", positive=1,
                         class_names=names)
    [found] = separating(star)
    assert found["feature"] == "redshift" and found["class"] == "STAR" and found["rank_auc"] > 0.99
    assert star[0].kind == "label_leak" and "redshift gives the label away" in star[0].message
    assert "STAR vs the rest" in star[0].message and found["value"] >= LEAK_LEVEL
    # a galaxies-vs-rest project is flagged too, through the stars (QA of issue 22: it had passed
    # with the redshift as a feature, galaxies against the rest reaching only AUC 0.998)
    galaxy = check_leakage(X, y, features, s.test, s.development, task="classification", positive=0,
                           class_names=names)
    [found] = separating(galaxy)
    assert found["feature"] == "redshift" and found["class"] == "STAR" and galaxy[0].kind == "label_leak"
    # photometry alone is not flagged for any class
    for positive in range(3):
        assert check_leakage(X[:, :5], y, features[:5], s.test, s.development, task="classification",
                             positive=positive) == []


def _reference_duplicates(X, test, dev):
    """The plain definition: compare every canonical test row with every development row."""
    from mlproj.data.leakage import _canonical_rows

    return int(np.isin(_canonical_rows(X[test]), _canonical_rows(X[dev])).sum())


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(20, 400), st.integers(1, 4), st.floats(0.0, 0.5))
def test_hashed_duplicate_count_equals_the_definition(seed, n, d, special):
    from mlproj.data.leakage import _duplicate_count

    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, d)).astype(float)  # few values: many duplicates
    X[rng.random((n, d)) < special] = np.nan
    X[rng.random((n, d)) < special] = -0.0
    order = rng.permutation(n)
    test, dev = order[: n // 4], order[n // 4:]
    assert _duplicate_count(X, test, dev) == _reference_duplicates(X, test, dev)


def test_hash_collisions_are_resolved_exactly(monkeypatch):
    import mlproj.data.leakage as leakage

    X, _ = noise(n=600, d=3)
    test, dev = split_rows(600)
    X[test[:7]] = X[dev[:7]]
    monkeypatch.setattr(leakage, "_row_keys", lambda X, rows: np.zeros(len(rows), dtype=np.uint64))
    assert leakage._duplicate_count(X, test, dev) == 7


def test_duplicate_check_works_in_chunks(monkeypatch):
    import mlproj.data.leakage as leakage

    X, _ = noise(n=1000, d=4)
    test, dev = split_rows(1000)
    X[test[:37]] = X[dev[:37]]
    monkeypatch.setattr(leakage, "ROW_CHUNK", 64)
    assert leakage._duplicate_count(X, test, dev) == 37 == _reference_duplicates(X, test, dev)


# ------------------------------------------------------- strong features and label leaks (issue 22.5)

MORPHOLOGY = ["concentration", "petro_r50", "fracdev", "mrrcc", "texture"]


def leaky_catalogue(n: int = 3000, seed: int = 7):
    """Galaxies (0) and stars (1): two weak magnitudes, five physical discriminants with a
    single-feature AUC between 0.99 and 0.999, a photometric type equal to the class, and a
    redshift that is 0 for every star and only for stars."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    columns = [rng.normal(size=n) + 0.3 * y, rng.normal(size=n)]
    columns += [rng.normal(size=n) + shift * y for shift in (3.4, 3.5, 3.6, 3.7, 3.8)]  # AUC Φ(d/√2) ≈ 0.992–0.996
    columns += [np.where(y == 0, 3.0, 6.0), np.where(y == 1, 0.0, rng.uniform(0.01, 0.3, n))]
    names = ["u", "g", *MORPHOLOGY, "type_r", "redshift"]
    test, dev = split_rows(n, seed=seed)
    return np.column_stack(columns), y, names, test, dev


def test_a_copy_of_the_class_and_a_zero_redshift_for_stars_are_label_functions():
    X, y, names, test, dev = leaky_catalogue()
    found = {f.feature: f for f in strong_features(X, y, names, dev, task="classification", positive=0,
                                                   class_names=["galaxy", "star"])}
    assert set(found) == {*MORPHOLOGY, "type_r", "redshift"}
    assert {name for name, f in found.items() if f.label_function} == {"type_r", "redshift"}
    assert {name for name, f in found.items() if f.leaks} == {"type_r", "redshift"}
    for name in MORPHOLOGY:
        assert found[name].statistic in ("roc_auc", "histogram_auc")
        assert 0.99 <= found[name].value < LEAK_LEVEL
    assert found["redshift"].value == 1.0 and "0 for every star" in found["redshift"].detail["why"]
    assert "one value per class" in found["type_r"].detail["why"]


def test_leaks_are_one_warning_and_physical_discriminants_one_note():
    X, y, names, test, dev = leaky_catalogue()
    findings = check_leakage(X, y, names, test, dev, task="classification", positive=0,
                             class_names=["galaxy", "star"])
    assert kinds(findings) == ["label_leak", "strong_features"]
    leak, note = findings
    assert leak.severity == "warning" and note.severity == "note"
    assert leak.detail["features"] == ["type_r", "redshift"]
    for words in ("type_r", "redshift", "no_label_leak", "data.allowed_strong_features",
                  "exclude: [type_r, redshift]"):
        assert words in leak.message
    assert not any(name in leak.message for name in MORPHOLOGY)
    assert note.detail["features"] == MORPHOLOGY
    assert all(name in note.message for name in MORPHOLOGY) and "type_r" not in note.message


def test_acknowledged_strong_features_are_noted_not_warned():
    X, y, names, test, dev = leaky_catalogue()
    findings = check_leakage(X, y, names, test, dev, task="classification", positive=0,
                             acknowledged=["redshift"])
    leak, note = findings
    assert leak.detail["features"] == ["type_r"] and "redshift" not in leak.message
    assert "redshift" in note.message and "allowed_strong_features" in note.message
    assert check_leakage(X, y, names, test, dev, task="classification", positive=0,
                         acknowledged=["redshift", "type_r", *MORPHOLOGY])[0].kind == "strong_features"


def test_the_leak_level_is_the_verdicts():
    from mlproj.analyse import types

    assert LEAK_LEVEL == types.LEAK_LEVEL


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=4, unique=True),
       st.integers(0, 2**32 - 1))
def test_a_feature_that_is_any_function_of_the_class_is_found(codes, seed):
    rng = np.random.default_rng(seed)
    k = len(codes)
    y = rng.permutation(np.repeat(np.arange(k), 15))
    X = np.column_stack([np.asarray(codes)[y], rng.normal(size=len(y))])
    dev = np.arange(len(y))
    found = strong_features(X, y, ["code", "noise"], dev, task="classification")
    assert [f.feature for f in found] == ["code"] and found[0].label_function and found[0].leaks
    # the same values with the classes overlapping are no function of the class
    for c in range(k):
        X[np.flatnonzero(y == c)[:5], 0] = codes[(c + 1) % k]
    assert not any(f.label_function for f in strong_features(X, y, ["code", "noise"], dev, task="classification"))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.5, 4.0))
def test_separating_power_is_free_of_direction_and_scale(seed, shift):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    x = rng.normal(size=400) + shift * y
    dev = np.arange(400)

    def value(column):
        found = strong_features(column[:, None], y, ["x"], dev, task="classification", positive=1, level=0.0)
        return found[0].value

    assert value(x) == pytest.approx(value(-x)) == pytest.approx(value(np.exp(x / 3)))
    assert 0.5 <= value(x) <= 1.0
    from sklearn.metrics import roc_auc_score

    x[:40] = np.round(x[:40])  # ties share an average rank, as in the ROC curve
    [found] = strong_features(x[:, None], y, ["x"], dev, task="classification", positive=1, level=0.0)
    auc = roc_auc_score(y == 1, x)
    assert found.detail["rank_auc"] == pytest.approx(max(auc, 1 - auc), abs=1e-12)


def test_missing_for_exactly_one_class_is_a_label_function():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 1000)
    x = rng.normal(size=1000)
    x[y == 1] = np.nan  # a spectroscopic quantity measured only for galaxies
    found = strong_features(x[:, None], y, ["z_spec_flag"], np.arange(1000), task="classification", positive=0)
    assert [f.feature for f in found] == ["z_spec_flag"] and found[0].label_function
    assert "missing for every class 1" in found[0].detail["why"]


def test_regression_copy_of_the_target_is_a_label_function_a_strong_predictor_is_not():
    rng = np.random.default_rng(9)
    target = rng.uniform(0, 1, 2000)
    X = np.column_stack([np.log1p(target), target + rng.normal(scale=0.03, size=2000), rng.normal(size=2000)])
    found = {f.feature: f for f in strong_features(X, target, ["log1p_z", "close", "noise"], np.arange(2000),
                                                   task="regression")}
    assert set(found) == {"log1p_z", "close"}
    assert found["log1p_z"].label_function and found["log1p_z"].leaks
    assert not found["close"].label_function and 0.99 <= found["close"].value < LEAK_LEVEL
