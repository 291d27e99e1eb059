"""Tests of mlproj.data.dataset's checks of meaning (issue 22): identifier and error columns among
the default features, acknowledged strong features, and targets outside a metric's domain."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.data.dataset import load_dataset
from mlproj.errors import ConfigError, DataError
from mlproj.project.loading import parse_project


def classification(root: Path, data_extra: str = "") -> object:
    text = ("name: t\nobjective: {statement: s, task: classification}\n"
            f"data:\n  path: cat.csv\n  label: class\n{data_extra}"
            "classes: {galaxy: \"class == 'GALAXY'\", star: \"class == 'STAR'\"}\npositive: galaxy\n"
            "metric: {primary: roc_auc}\nfinish_line: {threshold: 0.5}\nvalidation: {folds: 2, repeats: 1}\n")
    return parse_project(text, root / "mlproj.yaml")


def regression(root: Path, data_extra: str = "", metric: str = "{name: sigma_nmad, relative: true}",
               secondary: str = "[rmse]") -> object:
    text = ("name: t\nobjective: {statement: s, task: regression}\n"
            f"data:\n  path: cat.csv\n  label: z_spec\n  features: [u, g]\n{data_extra}"
            f"metric: {{primary: {metric}, secondary: {secondary}}}\nfinish_line: {{threshold: 0.05}}\n"
            "validation: {folds: 2, repeats: 1}\n")
    return parse_project(text, root / "mlproj.yaml")


def catalogue(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "objid": rng.permutation(np.arange(10_000, 10_000 + n)),  # unique integers
        "specObjID": rng.normal(1e17, 1e15, n),  # floats that lost precision: identified by name
        "u": rng.normal(20, 1, n), "u_err": rng.uniform(0.01, 0.1, n), "e_g": rng.uniform(0.01, 0.1, n),
        "g": rng.normal(19, 1, n), "eg": rng.uniform(0.01, 0.1, n), "mode": rng.integers(1, 3, n),
        "valid_frac": rng.uniform(0, 1, n),
        "class": (["GALAXY", "STAR"] * n)[:n],
    })


# ------------------------------------------------------- identifier and error columns (issue 22.5)

def test_identifier_and_error_columns_among_the_default_features_are_named(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    dataset = load_dataset(classification(tmp_path))
    assert "objid" in dataset.feature_names  # still used: a warning, not a decision
    named = [w for w in dataset.warnings if "identifier" in w]
    assert len(named) == 1
    warning = named[0]
    for words in ("objid", "specObjID", "u_err", "e_g", "eg", "data.features: {exclude: [objid, specObjID, "
                  "u_err, e_g, eg]}"):
        assert words in warning, (words, warning)
    assert "valid_frac" not in warning and not re.search(r"\bmode\b", warning)


def test_an_existing_exclusion_list_is_kept_in_the_suggestion(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    dataset = load_dataset(classification(tmp_path, "  features: {exclude: [objid, valid_frac]}\n"))
    warning = next(w for w in dataset.warnings if "identifier" in w)
    assert "objid" not in warning.split("data.features")[0]
    assert "data.features: {exclude: [objid, valid_frac, specObjID, u_err, e_g, eg]}" in warning


def test_explicit_features_are_the_users_choice(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    dataset = load_dataset(classification(tmp_path, "  features: [objid, u, u_err]\n"))
    assert not any("identifier" in w for w in dataset.warnings)


@settings(max_examples=50, deadline=None)
@given(st.integers(-10**9, 10**9), st.integers(20, 200), st.integers(0, 2**32 - 1))
def test_unique_integers_look_like_identifiers_repeated_values_do_not(offset, n, seed):
    from mlproj.data.dataset import identifier_like

    rng = np.random.default_rng(seed)
    keys = rng.permutation(np.arange(n)) * rng.integers(1, 5) + offset
    assert identifier_like("number", keys.astype(np.float64))
    repeated = keys.astype(np.float64)
    repeated[1] = repeated[0]
    assert not identifier_like("number", repeated)
    assert not identifier_like("number", keys + 0.5)


@pytest.mark.parametrize("name", ["objid", "specObjID", "fiberID", "source_id", "ID", "gaia_dr3_id", "ObjId"])
def test_identifier_names(name):
    from mlproj.data.dataset import identifier_like

    assert identifier_like(name, np.array([1.5, 1.5, 2.5]))


@pytest.mark.parametrize("name", ["valid_frac", "ellipsoid", "mid_mag", "fluid", "width", "idx_g", "hybrid"])
def test_words_that_end_in_id_are_no_identifiers(name):
    from mlproj.data.dataset import identifier_like

    assert not identifier_like(name, np.array([1.5, 1.5, 2.5]))


@pytest.mark.parametrize(("name", "is_error"), [("u_err", True), ("err_g", True), ("e_r", True), ("psfMagErr_i", True),
                                                ("z_error", True), ("eu", True), ("energy", False), ("u", False),
                                                ("magerr_r", True), ("terrain", False), ("ferret", False)])
def test_error_names(name, is_error):
    from mlproj.data.dataset import error_like

    assert error_like(name, ["u", "g", "r"]) == is_error


# ------------------------------------------------------------------ data.allowed_strong_features

def test_allowed_strong_features_must_be_features(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    with pytest.raises(ConfigError) as caught:
        load_dataset(classification(tmp_path, "  features: [u, g]\n  allowed_strong_features: [u, gg]\n"))
    text = caught.value.render()
    assert "'gg'" in text and "did you mean 'g'" in text and "allowed_strong_features" in text
    assert load_dataset(classification(tmp_path, "  features: [u, g]\n  allowed_strong_features: [u]\n"))


def test_an_excluded_column_is_no_strong_feature_to_allow(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    with pytest.raises(ConfigError, match="a column of the catalogue, but not one of the features"):
        load_dataset(classification(tmp_path, "  features: [u, g]\n  allowed_strong_features: [u_err]\n"))


# ------------------------------------------------------------- targets outside a metric's domain (22.8)

def photoz(n: int = 60, unknown: tuple[int, ...] = (2, 6, 11)) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    z = rng.uniform(0.01, 0.6, n)
    z[list(unknown)] = -1.0  # "no spectroscopic redshift"
    return pd.DataFrame({"u": rng.normal(20, 1, n), "g": rng.normal(19, 1, n), "z_spec": z})


def test_a_relative_metric_refuses_targets_with_one_plus_y_not_positive(tmp_path):
    photoz().to_csv(tmp_path / "cat.csv", index=False)
    with pytest.raises(DataError) as caught:
        load_dataset(regression(tmp_path))
    text = caught.value.render()
    for words in ("3 targets", "'z_spec'", "sigma_nmad", "1 + z_spec > 0", "data rows 3, 7, 12",
                  "data.sentinels: {z_spec: [-1]}", "data.label"):
        assert words in text, (words, text)


def test_the_first_rows_are_named_and_the_rest_counted(tmp_path):
    photoz(unknown=tuple(range(0, 40, 3))).to_csv(tmp_path / "cat.csv", index=False)
    text = pytest.raises(DataError, load_dataset, regression(tmp_path,
                                                             metric="rmse", secondary="[outlier_fraction]")).value.render()
    assert "14 targets" in text and "data rows 1, 4, 7, 10, 13 and 9 more" in text and "outlier_fraction" in text


def test_a_declared_sentinel_drops_the_rows_instead(tmp_path):
    photoz().to_csv(tmp_path / "cat.csv", index=False)
    dataset = load_dataset(regression(tmp_path, "  sentinels: {z_spec: [-1]}\n"))
    assert dataset.n_rows == 57 and dataset.dropped == {"with a missing or infinite target": 3}


@pytest.mark.parametrize(("metric", "secondary"), [("{name: sigma_nmad, relative: false}", "[rmse]"),
                                                   ("rmse", "[mae, r2]")])
def test_absolute_metrics_take_any_target(tmp_path, metric, secondary):
    photoz().to_csv(tmp_path / "cat.csv", index=False)
    assert load_dataset(regression(tmp_path, metric=metric, secondary=secondary)).n_rows == 60


def test_a_sentinel_of_the_label_needs_no_label_column_in_a_catalogue_to_predict_for(tmp_path):
    from mlproj.data.dataset import prepare_table

    table = photoz().drop(columns=["z_spec"])  # what `mlproj predict` reads: no target
    replaced, _, _ = prepare_table(table, regression(tmp_path, "  sentinels: {z_spec: [-1]}\n"))
    assert replaced == {}
    with pytest.raises(DataError, match="sentinel column 'u_err' is not in the catalogue"):
        prepare_table(table, regression(tmp_path, "  sentinels: {u_err: [-99]}\n"))
