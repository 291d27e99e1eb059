"""`mlproj --help`, `schema` and `verdict` start without scikit-learn, pandas or matplotlib (DESIGN §8)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sklearn", "pandas", "matplotlib")
PROBE = """
import sys
from typer.testing import CliRunner
from mlproj.cli import app
result = CliRunner().invoke(app, {args!r})
print("exit", result.exit_code)
print("loaded", ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _probe(args: list[str], cwd: Path, watch: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    code = PROBE.format(args=args, heavy=watch)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in done.stdout.splitlines())
    return int(lines["exit"]), [m for m in lines.get("loaded", "").split(",") if m]


def test_help_imports_no_heavy_library(tmp_path):
    code, loaded = _probe(["--help"], tmp_path)
    assert code == 0
    assert loaded == []


def test_schema_imports_no_heavy_library(tmp_path):
    code, loaded = _probe(["schema"], tmp_path, watch=(*HEAVY, "corner"))
    assert code == 0
    assert loaded == []


@pytest.mark.slow
def test_verdict_imports_no_heavy_library(tmp_path):
    from tests.e2e.helpers import cli

    assert cli("init", str(tmp_path / "demo")).exit_code == 0
    assert cli("run", cwd=tmp_path / "demo").exit_code == 0
    code, loaded = _probe(["verdict"], tmp_path / "demo")
    assert code in (0, 1, 3)
    assert loaded == []
    # An unchanged project needs neither the config models nor the statistics (numpy, scipy).
    code, loaded = _probe(["verdict"], tmp_path / "demo", watch=("numpy", "scipy", "mlproj.project.schema", "mlproj.project.loading", "mlproj.science.stats"))
    assert code in (0, 1, 3)
    assert loaded == []
