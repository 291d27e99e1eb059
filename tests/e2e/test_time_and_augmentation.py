"""End to end: time-ordered validation (sliding windows, their correction, the trend) and
augmentation that recomputes derived features (issue 22, points 6 and 10)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import cli, write_project


def _run_file(folder: Path, name: str) -> dict:
    """`name` of the one run in `folder`, wherever the run layout puts it."""
    found = [p for p in folder.glob(f"runs/**/{name}") if not any(part.startswith(".") for part in p.parts)]
    assert found, f"no {name} under {folder / 'runs'}"
    return json.loads(sorted(found, key=lambda p: p.stat().st_mtime)[-1].read_text())


def _flat(output: str) -> str:
    """The console output with rich's line wrapping undone."""
    return " ".join(output.split())


def _drifting_catalogue(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """A regression whose noise grows with time: a model's error rises window after window."""
    rng = np.random.default_rng(seed)
    mjd = np.sort(rng.uniform(55000, 58000, n))
    t = (mjd - mjd.min()) / np.ptp(mjd)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = 2.0 * x1 - x2 + rng.normal(size=n) * (0.1 + 1.5 * t)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "mjd": mjd, "y": y})
    return frame.sample(frac=1.0, random_state=1)  # rows not in time order: the order column decides


TIME_PROJECT = {
    "name": "drift",
    "objective": {"statement": "s", "task": "regression"},
    "data": {"path": "cat.csv", "label": "y", "features": ["x1", "x2"], "order": "mjd"},
    "metric": {"primary": "rmse"},
    "finish_line": {"threshold": 0.5, "margin": 0.01},
    "validation": {"strategy": "time", "folds": 5, "test_size": 0.2},
    "baselines": ["dummy"],
    "candidates": [{"name": "ols", "estimator": "LinearRegression"}],
}


def test_time_split_uses_sliding_windows_their_own_correction_and_reports_the_trend(tmp_path):
    _drifting_catalogue().to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, TIME_PROJECT)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code in (0, 1, 3), result.output
    plan, summary = _run_file(tmp_path, "plan.json"), _run_file(tmp_path, "summary.json")
    n_train = {s["n_train"] for s in plan["splits"]}
    assert len(n_train) == 1  # equal-size windows
    ratio = np.mean([s["n_valid"] for s in plan["splits"]]) / np.mean([s["n_train"] for s in plan["splits"]])
    assert summary["val_train_ratio"] == pytest.approx(ratio)
    ols = summary["cases"][0]["models"]["ols"]
    estimate = ols["metrics"]["rmse"]
    assert estimate["se"] == pytest.approx(estimate["sd"] * math.sqrt(1 / 5 + ratio))  # not 1/(k-1)
    trend = ols["trend"]
    assert trend["scores"] == ols["scores"] and trend["significant"] and trend["slope"] > 0
    text = _flat(result.output)
    assert "ols drifts with time across the 5 validation windows (worse by" in text  # the warning
    assert "Trend over the 5 time windows of ols (earliest first)" in text
    assert "the skill drifts with time" in text
    again = cli("verdict", cwd=tmp_path)
    assert "Trend over the 5 time windows of ols" in _flat(again.output)


def _magnitudes(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.uniform(17, 21, n)
    u = g + rng.normal(1.5, 0.4, n)
    return pd.DataFrame({"u": u, "g": g, "u_err": rng.uniform(0.02, 0.2, n), "g_err": rng.uniform(0.01, 0.1, n),
                         "z": 0.1 * (u - g) + rng.normal(0, 0.01, n) + 0.2})


AUGMENTED = {
    "name": "colours",
    "objective": {"statement": "s", "task": "regression"},
    "data": {"path": "cat.csv", "label": "z", "features": ["u", "g"], "derived": {"u_g": "u - g"},
             "errors": {"u": "u_err", "g": "g_err"}, "augment": 2},
    "metric": {"primary": "rmse"},
    "finish_line": {"threshold": 0.5},
    "validation": {"folds": 3, "repeats": 1},
    "baselines": ["dummy"],
}


def test_check_warns_once_about_errors_larger_than_the_feature_range(tmp_path):
    frame = _magnitudes()
    frame.loc[frame.index[7], "u_err"] = 14749.0  # seen in a real catalogue: an error of 14,749 mag
    frame.loc[frame.index[[3, 9]], "g_err"] = 50.0
    frame.to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, AUGMENTED)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert text.count("implausible") == 1, result.output  # one warning for every column
    warning = text[text.index("implausible"):].split("warning:")[0]
    assert "u_err: 1 row, up to 14749" in warning and "g_err: 2 rows, up to 50" in warning


def test_plausible_errors_give_no_warning(tmp_path):
    _magnitudes().to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, AUGMENTED)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "implausible" not in result.output


def test_predict_draws_recompute_the_colour_from_each_drawn_magnitude(tmp_path):
    from mlproj.data.dataset import derived_features, error_matrix, feature_matrix, prepare_table
    from mlproj.project.loading import load_project
    from mlproj.workflow.predict import _input_draws

    frame = _magnitudes()
    frame.to_csv(tmp_path / "cat.csv", index=False)
    path = write_project(tmp_path, AUGMENTED)
    loaded = load_project(path)
    table = frame.copy()
    _, _, derived = prepare_table(table, loaded)
    names = ["u", "g", "u_g"]
    X = feature_matrix(table, names, loaded, derived)
    draws = _input_draws(X, table, loaded, names, 3, seed=4)
    assert len(draws) == 3
    for drawn in draws:
        assert not np.allclose(drawn[:, 0], X[:, 0])  # the magnitudes are drawn ...
        np.testing.assert_allclose(drawn[:, 2], drawn[:, 0] - drawn[:, 1], atol=1e-12)  # ... the colour follows
    assert derived_features(table, loaded, names, error_matrix(table, loaded, names)) is not None


@pytest.mark.slow
def test_an_augmented_run_recomputes_colours_and_runs_end_to_end(tmp_path):
    _magnitudes().to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, AUGMENTED)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code in (0, 1, 3), result.output
    assert "Traceback" not in result.output


def test_check_names_catalogue_colours_that_draws_would_scatter_apart_from_their_magnitudes(tmp_path):
    """A colour column with its own error is drawn independently of its magnitudes (the shipped
    MLZ photo-z project did this): the project should derive it."""
    frame = _magnitudes()
    frame["ug"] = frame["u"] - frame["g"]
    frame["e_ug"] = np.hypot(frame["u_err"], frame["g_err"])
    frame.to_csv(tmp_path / "cat.csv", index=False)
    project = {**AUGMENTED, "data": {"path": "cat.csv", "label": "z", "features": ["u", "g", "ug"],
                                     "errors": {"u": "u_err", "g": "g_err", "ug": "e_ug"}, "augment": 2}}
    write_project(tmp_path, project)
    text = _flat(cli("check", cwd=tmp_path).output)
    assert "ug = u - g: a colour read from the catalogue" in text
    assert 'ug_derived: "u - g"' in text
    # derived, it is recomputed, and nothing is said
    write_project(tmp_path, AUGMENTED)
    assert "colour read from the catalogue" not in _flat(cli("check", cwd=tmp_path).output)


def test_catalogue_colours_with_their_own_errors_are_named_and_the_shipped_project_derives_them(tmp_path):
    from mlproj.data.dataset import load_dataset
    from mlproj.project.loading import load_project
    from tests.e2e.helpers import REPO, copy_config

    config = REPO / "configs" / "mlz-photoz-uncertainty.yaml"
    data = REPO.parent / "shared" / "data" / "mlz-sdss-mgs" / "sdss_mgs_train.csv"
    if not data.exists():
        pytest.skip("the shared catalogues are not beside the checkout")
    shipped = load_dataset(load_project(copy_config(config, tmp_path / "shipped")))
    assert not [w for w in shipped.warnings if "colours read from the catalogue" in w]
    assert {"u_g", "g_r", "r_i", "i_z"} <= set(shipped.feature_names)
    # The shipped project as it was: the catalogue's colour columns, scattered on their own errors.
    colours = ["u-g", "g-r", "r-i", "i-z"]
    bands = ["u", "g", "r", "i", "z"]
    errors = {**{b: f"e{b}" for b in bands}, **{c: f"e{c}" for c in colours}}
    old = copy_config(config, tmp_path / "old", data__features=bands + colours, data__errors=errors, data__derived={})
    dataset = load_dataset(load_project(old))
    warning = next((w for w in dataset.warnings if "colours read from the catalogue" in w), "")
    assert warning.startswith("u-g = u - g, g-r = g - r, r-i = r - i, i-z = i - z")
