"""Tampered model files, through the real CLI: `mlproj predict` refuses a model file that is not
the one its run wrote (flipped bytes, a schema.json naming os.system or builtins.eval, a
truncated file, another project's model) with exit 2 and one paragraph naming the file. The run
records each file's SHA-256 in models/<name>.json; a run without it (older runs) still refuses
what the type checks catch."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import TINY_PROJECT, changed, cli, runs_latest, write_project

PROJECT = changed(TINY_PROJECT, name="tampered-models",
                  candidates=[{"name": "logistic", "estimator": "LogisticRegression", "scale": True}])
OTHER = changed(PROJECT, name="other-project",
                candidates=[{"name": "logistic", "estimator": "LogisticRegression", "params": {"C": 0.01}}])


def _project(folder: Path, project: dict) -> Path:
    rng = np.random.default_rng(0)
    u, g = rng.normal(18, 1, 80), rng.normal(17, 1, 80)
    folder.mkdir(parents=True)
    pd.DataFrame({"u": u, "g": g, "class": np.where(u - g + rng.normal(0, 0.5, 80) > 1, "GALAXY", "STAR")}).to_csv(
        folder / "cat.csv", index=False)
    write_project(folder, project)
    result = cli("run", cwd=folder)
    assert result.exit_code in (0, 1), result.output
    return folder


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tampered-models")
    return _project(root / "project", PROJECT), _project(root / "other", OTHER)


def _model(folder: Path) -> Path:
    run = runs_latest(folder).resolve()
    selected = json.loads((run / "verdict.json").read_text())["selected_model"]
    return run / "models" / f"{selected}.skops"


def _flipped(data: bytes, _other: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]


def _schema_naming(module: str, name: str):
    def tamper(data: bytes, _other: bytes) -> bytes:
        source = zipfile.ZipFile(io.BytesIO(data))
        schema = json.loads(source.read("schema.json"))
        schema.update({"__module__": module, "__class__": name, "__loader__": "FunctionNode", "content": {}})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as target:
            for member in source.namelist():
                target.writestr(member, json.dumps(schema) if member == "schema.json" else source.read(member))
        return buffer.getvalue()
    return tamper


TAMPERINGS = {
    "flipped bytes": _flipped,
    "schema.json naming os.system": _schema_naming("os", "system"),
    "schema.json naming builtins.eval": _schema_naming("builtins", "eval"),
    "truncated": lambda data, _other: data[: len(data) // 3],
    "another project's model": lambda _data, other: other,
}


def _predict(folder: Path, out: Path):
    return cli("predict", "--data", "cat.csv", "--out", str(out), cwd=folder)


def _refused(result, *names: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    assert len(result.stderr.strip().split("\n\n")) == 1, result.stderr  # one paragraph
    for name in names:
        assert name in message, message
    return message


@pytest.fixture
def restored(projects):
    """The model files and their records as the run wrote them, again after each test."""
    files = [p for folder in projects for p in _model(folder).parent.iterdir()]
    saved = {p: p.read_bytes() for p in files}
    yield
    for path, data in saved.items():
        path.write_bytes(data)


def test_the_untouched_model_predicts_and_its_digest_is_recorded(projects, restored, tmp_path):
    folder, _ = projects
    model = _model(folder)
    recorded = json.loads(model.with_suffix(".json").read_text())["sha256"]
    import hashlib

    assert recorded == hashlib.sha256(model.read_bytes()).hexdigest()
    assert _predict(folder, tmp_path / "out.csv").exit_code == 0


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_predict_refuses_a_tampered_model_file(projects, restored, tmp_path, tampering):
    folder, other = projects
    model = _model(folder)
    model.write_bytes(TAMPERINGS[tampering](model.read_bytes(), _model(other).read_bytes()))
    message = _refused(_predict(folder, tmp_path / "out.csv"), str(model), "SHA-256", "Nothing was loaded")
    assert "mlproj run" in message
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("tampering", ["flipped bytes", "schema.json naming os.system",
                                       "schema.json naming builtins.eval", "truncated"])
def test_without_a_recorded_digest_the_checks_still_refuse_it(projects, restored, tmp_path, tampering):
    folder, other = projects
    model = _model(folder)
    record = model.with_suffix(".json")
    info = json.loads(record.read_text())
    del info["sha256"]  # a run written before the digest was recorded
    record.write_text(json.dumps(info))
    model.write_bytes(TAMPERINGS[tampering](model.read_bytes(), _model(other).read_bytes()))
    message = _refused(_predict(folder, tmp_path / "out.csv"), str(model))
    if "naming" in tampering:
        assert tampering.rsplit(" ", 1)[1] in message
    assert not (tmp_path / "out.csv").exists()
