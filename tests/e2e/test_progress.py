"""`mlproj run` shows its progress where people look: plain lines in a CI log (even under
FORCE_COLOR), a bar naming the model on a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from tests.e2e.helpers import cli_subprocess

# Cursor movement, erasing, hiding the cursor: every CSI sequence but colour (SGR, ending in "m").
CURSOR_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]")


def quick_project(folder: Path) -> Path:
    """`mlproj init`, cut down to two quick models on two folds (about a second of fitting)."""
    init = cli_subprocess("init", str(folder), "--template", "classification", cwd=folder.parent)
    assert init.returncode == 0, init.stderr
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["validation"].update({"folds": 2, "repeats": 1})
    project["baselines"] = ["dummy"]
    project["candidates"] = [{"name": "quick_tree", "estimator": "DecisionTreeClassifier",
                              "params": {"max_depth": 3}}]
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder / "mlproj.yaml"


def test_a_ci_log_gets_plain_lines_naming_the_models(tmp_path: Path):
    config = quick_project(tmp_path / "demo")
    env = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}  # rich would take a pipe for a terminal
    first = cli_subprocess("run", "-c", str(config), cwd=tmp_path, env=env, timeout=120)
    assert first.returncode in (0, 1, 3), first.stderr
    lines = first.stderr.splitlines()
    for model in ("quick_tree", "dummy"):
        assert any(line.startswith(f"  {model}: 2/2 fits done · ") for line in lines), first.stderr
    assert all(" overall · " in line for line in lines if "fits done" in line)
    # The progress lines are plain text: no colour, no cursor code, no carriage return.
    assert "\x1b" not in first.stderr and "\r" not in first.stderr, repr(first.stderr)
    # stdout keeps the colours FORCE_COLOR asks for, but never a bar's cursor codes.
    assert "\r" not in first.stdout and not CURSOR_CODES.search(first.stdout), repr(first.stdout)

    again = cli_subprocess("run", "--rerun", "-c", str(config), cwd=tmp_path, env=env, timeout=120)
    assert again.returncode == first.returncode, again.stderr
    assert again.stderr == "  all 4 fits from the cache\n"


def test_a_terminal_gets_a_bar_that_names_the_model(tmp_path: Path):
    config = quick_project(tmp_path / "demo")
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "MLPROJ_FIGURES": "off"}
    process = subprocess.Popen([sys.executable, "-m", "mlproj", "run", "-c", str(config)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []

    def read() -> None:  # drained as it comes, so that a full terminal buffer never blocks the run
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(leader)
    assert process.returncode in (0, 1, 3), stdout
    terminal = b"".join(chunks).decode(errors="replace")
    assert re.search(r"fitting (quick_tree|dummy)", terminal), repr(terminal)
    assert "fits done" not in terminal  # the plain lines are for logs
