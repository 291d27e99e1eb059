"""Hostile model files, through the real CLI: a crafted `.skops` in a run folder or in the cache
is refused with exit 2 and one paragraph; nothing from it runs, nothing is created or deleted."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import TINY_PROJECT, changed, cli, runs_latest, write_project
from tests.store.test_model_files import GADGETS, NAMED, one_gib_of_spaces

PROJECT = changed(TINY_PROJECT, name="hostile-models",
                  candidates=[{"name": "logistic", "estimator": "LogisticRegression", "scale": True}])
REGRESSION = {
    **PROJECT,
    "objective": {"statement": "s", "task": "regression"},
    "data": {"path": "cat.csv", "label": "z", "features": ["u", "g"]},
    "metric": {"primary": "rmse"},
    "finish_line": {"threshold": 0.5},
    "uncertainty": {"method": "residual"},
    "candidates": [{"name": "linear_model", "estimator": "LinearRegression"}],
}
for key in ("classes", "positive"):
    REGRESSION.pop(key)


def _project(folder: Path, project: dict) -> Path:
    rng = np.random.default_rng(0)
    u, g = rng.normal(18, 1, 80), rng.normal(17, 1, 80)
    folder.mkdir(parents=True)
    pd.DataFrame({"u": u, "g": g, "z": 0.3 * u - 0.2 * g + rng.normal(0, 0.1, 80),
                  "class": np.where(u - g + rng.normal(0, 0.5, 80) > 1, "GALAXY", "STAR")}).to_csv(
        folder / "cat.csv", index=False)
    write_project(folder, project)
    result = cli("run", cwd=folder)
    assert result.exit_code in (0, 1), result.output  # pass or fail: it ran and saved its models
    # Whoever can replace a model file can rewrite its record too: without the recorded SHA-256
    # (tests/e2e/test_tampered_models.py checks it), the type checks alone must refuse the file.
    for record in (runs_latest(folder).resolve() / "models").glob("*.json"):
        info = json.loads(record.read_text())
        record.write_text(json.dumps({k: v for k, v in info.items() if k not in ("sha256", "spread_sha256")}))
    return folder


@pytest.fixture(scope="module")
def classification(tmp_path_factory) -> Path:
    return _project(tmp_path_factory.mktemp("hostile-models") / "project", PROJECT)


def _selected_model(folder: Path) -> Path:
    run = runs_latest(folder).resolve()
    selected = json.loads((run / "verdict.json").read_text())["selected_model"]
    return run / "models" / f"{selected}.skops"


def _predict(folder: Path, out: Path):
    gc.collect()
    result = cli("predict", "--data", "cat.csv", "--out", str(out), cwd=folder)
    gc.collect()  # a __del__ of anything rebuilt would run now
    return result


def _refused(result, *names: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    for name in names:
        assert name in message, message
    return message


def test_the_project_predicts_before_the_model_is_replaced(classification, tmp_path):
    assert _predict(classification, tmp_path / "out.csv").exit_code == 0
    assert (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("gadget", sorted(GADGETS))
def test_a_crafted_model_in_the_run_folder_is_refused_by_predict(classification, tmp_path, gadget):
    model = _selected_model(classification)
    original = model.read_bytes()
    blob, harmless = GADGETS[gadget](tmp_path)
    model.write_bytes(blob)
    try:
        result = _predict(classification, tmp_path / "out.csv")
    finally:
        model.write_bytes(original)
    message = _refused(result, str(model), NAMED[gadget], "Nothing was loaded from it")
    assert "version" not in message.replace(str(classification), "").replace(str(tmp_path), "")
    assert harmless()
    assert not (tmp_path / "out.csv").exists()


def test_a_zip_bomb_in_the_run_folder_is_refused_by_predict(classification, tmp_path):
    model = _selected_model(classification)
    original = model.read_bytes()
    model.write_bytes(one_gib_of_spaces())
    try:
        result = _predict(classification, tmp_path / "out.csv")
    finally:
        model.write_bytes(original)
    _refused(result, str(model), "zip bomb")


def test_a_crafted_spread_model_is_refused_by_predict(tmp_path):
    folder = _project(tmp_path / "regression", REGRESSION)
    spread = _selected_model(folder).with_name(_selected_model(folder).stem + ".spread.skops")
    assert spread.exists()
    blob, harmless = GADGETS["numpy DataSource __del__"](tmp_path)
    spread.write_bytes(blob)
    result = _predict(folder, tmp_path / "out.csv")
    _refused(result, str(spread), "numpy.lib.npyio.DataSource")
    assert harmless()


def _cached_model(folder: Path) -> Path:
    """The cache entry `mlproj run` copies into runs/<run>/models/ for the selected model."""
    from mlproj.execute.cache import Cache
    from mlproj.project.loading import load_project
    from mlproj.workflow.run import CACHE_DIR, prepare

    selected = json.loads((runs_latest(folder) / "verdict.json").read_text())["selected_model"]
    plan = prepare(load_project(folder / "mlproj.yaml")).plan
    return Cache(folder / CACHE_DIR).model_path(plan.final_tasks[selected].key)


@pytest.mark.parametrize("gadget", ["scipy norm_gen __setstate__", "numpy DataSource __del__",
                                    "ConstructorFromReduceNode builtins.exec", "module with side effects"])
def test_a_crafted_model_in_the_cache_stops_the_run(tmp_path, gadget):
    folder = _project(tmp_path / "project", PROJECT)
    cached = _cached_model(folder)
    assert cached.exists()
    runs_before = sorted(p.name for p in (folder / "runs").iterdir())
    latest_before = runs_latest(folder).resolve()
    blob, harmless = GADGETS[gadget](tmp_path)
    cached.write_bytes(blob)

    result = cli("run", "--rerun", cwd=folder)  # every fit comes from the cache, the model too
    gc.collect()
    message = _refused(result, str(cached), NAMED[gadget], "mlproj cache prune --all")
    assert "version" not in message.replace(str(folder), "").replace(str(tmp_path), "")
    assert harmless()
    # No new run folder, not even a hidden half-written one, and the latest run is the old one.
    assert sorted(p.name for p in (folder / "runs").iterdir()) == runs_before
    assert runs_latest(folder).resolve() == latest_before

    cached.unlink()  # as the message says: the next run refits it
    again = cli("run", "--rerun", cwd=folder)
    assert again.exit_code in (0, 1), again.output
    assert cached.exists() and _predict(folder, tmp_path / "out.csv").exit_code == 0
