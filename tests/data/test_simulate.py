import numpy as np
import pandas as pd
import pytest

from mlproj.data.simulate import photoz_catalogue, star_galaxy_catalogue

BANDS = ["u", "g", "r", "i", "z"]
ERRORS = [f"{b}_err" for b in BANDS]


@pytest.fixture(scope="module")
def stars_galaxies() -> pd.DataFrame:
    return star_galaxy_catalogue(3000, seed=0)


@pytest.fixture(scope="module")
def photoz() -> pd.DataFrame:
    return photoz_catalogue(3000, seed=0)


# ------------------------------------------------------------------ determinism and shape

@pytest.mark.parametrize("simulate", [star_galaxy_catalogue, photoz_catalogue])
def test_same_seed_gives_identical_frames(simulate):
    pd.testing.assert_frame_equal(simulate(400, seed=7), simulate(400, seed=7))
    assert not simulate(400, seed=7).equals(simulate(400, seed=8))


@pytest.mark.parametrize("simulate", [star_galaxy_catalogue, photoz_catalogue])
def test_generation_is_vectorised(simulate, python_steps):
    """Fast by construction, not by the clock: the Python steps executed do not grow with the
    number of objects (no Python loop over objects), so the time is numpy's, linear in n."""
    simulate(100)  # first-call imports and caches are not the generator's work
    (_, small), (_, large) = python_steps(simulate, 300, seed=1), python_steps(simulate, 30_000, seed=1)
    assert large <= 1.1 * small, f"{small} Python steps for 300 objects, {large} for 30,000"


@pytest.mark.parametrize("simulate", [star_galaxy_catalogue, photoz_catalogue])
def test_rejects_silly_sizes(simulate):
    for n in (0, 5, -3, 2.5, True):
        with pytest.raises(ValueError):
            simulate(n)


def test_star_galaxy_columns_and_classes(stars_galaxies):
    df = stars_galaxies
    assert list(df.columns) == BANDS + ERRORS + ["psf_minus_model", "class"]
    assert len(df) == 3000
    assert df.drop(columns="class").notna().all().all()
    assert all(pd.api.types.is_float_dtype(df[c]) for c in BANDS + ERRORS + ["psf_minus_model"])
    fractions = df["class"].value_counts(normalize=True)
    assert fractions.to_dict() == pytest.approx({"STAR": 0.45, "GALAXY": 0.48, "QSO": 0.07}, abs=1e-3)
    # Exact counts for any n, not just on average.
    assert star_galaxy_catalogue(101, seed=3)["class"].value_counts().sum() == 101


def test_star_galaxy_magnitude_range_and_morphology(stars_galaxies):
    df = stars_galaxies
    assert 15.8 < df["r"].min() < 16.5 and 22.0 < df["r"].max() < 22.8
    by_class = df.groupby("class")["psf_minus_model"].median()
    assert abs(by_class["STAR"]) < 0.02 and abs(by_class["QSO"]) < 0.05
    assert by_class["GALAXY"] > 0.15
    # Point sources scatter more around zero when faint.
    stars = df[df["class"] == "STAR"]
    bright, faint = stars[stars["r"] < 18], stars[stars["r"] > 21.5]
    assert faint["psf_minus_model"].std() > 1.5 * bright["psf_minus_model"].std()


def test_quasars_show_uv_excess(stars_galaxies):
    df = stars_galaxies
    ug = (df["u"] - df["g"]).groupby(df["class"]).median()
    assert ug["QSO"] < 0.5 < ug["STAR"]


@pytest.mark.parametrize("which", ["stars_galaxies", "photoz"])
def test_noise_grows_toward_the_faint_end(which, request):
    df = request.getfixturevalue(which)
    for band in BANDS:
        bins = pd.qcut(df[band], 5, labels=False)
        medians = df[f"{band}_err"].groupby(bins).median().to_numpy()
        assert np.all(np.diff(medians) >= 0), band
        assert medians[-1] > 2 * medians[0], band
        assert df[f"{band}_err"].min() >= 0.0099  # calibration floor


@pytest.mark.parametrize("magnitude", [18.0, 21.0, 22.5])
def test_error_columns_describe_the_actual_scatter(magnitude):
    from mlproj.data.simulate import _DEPTH_DEEP, _observe

    true = np.full((20000, 5), magnitude)
    mags, errors = _observe(np.random.default_rng(0), true, _DEPTH_DEEP)
    scatter, quoted = mags.std(axis=0), np.median(errors, axis=0)
    assert scatter == pytest.approx(quoted, rel=0.1)
    assert np.isfinite(mags).all()  # asinh magnitudes: negative fluxes still have a magnitude


def test_photoz_columns_range_and_skew(photoz):
    df = photoz
    assert list(df.columns) == ["z_spec"] + BANDS + ERRORS
    assert len(df) == 3000
    assert df.notna().all().all()
    z = df["z_spec"]
    assert z.min() >= 0.01 and z.max() <= 0.6
    assert z.max() > 0.5  # reaches the high-redshift tail
    assert z.median() < 0.3 and z.skew() > 0  # magnitude-limited: most galaxies are nearby
    assert df["r"].max() < 21.3


def test_photoz_colours_follow_the_4000A_break(photoz):
    df = photoz
    gr, ri = df["g"] - df["r"], df["r"] - df["i"]
    low, mid, high = df["z_spec"] < 0.1, df["z_spec"].between(0.25, 0.35), df["z_spec"] > 0.45
    # The break moves through g-r first, then through r-i.
    assert gr[mid].median() > gr[low].median() + 0.2
    assert ri[high].median() > ri[mid].median() + 0.1
    assert abs(ri[mid].median() - ri[low].median()) < 0.1


# ------------------------------------------------------------------ learnable, but not trivially

def _tpr_at_fpr(is_positive, score, alpha=0.01):
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(is_positive, score, drop_intermediate=False)
    return float(tpr[fpr <= alpha].max())


def test_galaxy_selection_is_learnable_but_not_trivial(stars_galaxies):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = stars_galaxies
    X = df[BANDS + ["psf_minus_model"]].to_numpy()
    y = (df["class"] == "GALAXY").to_numpy()
    logistic, forest = [], []
    for train, test in StratifiedKFold(2, shuffle=True, random_state=0).split(X, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[train], y[train])
        logistic.append(_tpr_at_fpr(y[test], model.predict_proba(X[test])[:, 1]))
        model = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2).fit(X[train], y[train])
        forest.append(_tpr_at_fpr(y[test], model.predict_proba(X[test])[:, 1]))
    assert 0.80 <= np.mean(logistic) <= 0.97
    assert 0.88 <= np.mean(forest) <= 0.995
    assert np.mean(forest) >= np.mean(logistic) - 0.02
    # Morphology alone is not enough at 1% contamination: the colours matter too.
    assert _tpr_at_fpr(y, df["psf_minus_model"].to_numpy()) < np.mean(forest)


def test_photoz_is_learnable_with_realistic_scatter(photoz):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import KFold

    df = photoz
    mags = df[BANDS].to_numpy()
    X = np.column_stack([mags, mags[:, :-1] - mags[:, 1:]])
    z = df["z_spec"].to_numpy()
    nmad, outliers = [], []
    for train, test in KFold(2, shuffle=True, random_state=0).split(X):
        pred = RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=2).fit(X[train], z[train]).predict(X[test])
        delta = (pred - z[test]) / (1 + z[test])
        nmad.append(1.4826 * np.median(np.abs(delta - np.median(delta))))
        outliers.append(np.mean(np.abs(delta) > 0.15))
    assert 0.02 <= np.mean(nmad) <= 0.05
    assert 0.005 <= np.mean(outliers) <= 0.04  # the injected ~1.5% catastrophic outliers
