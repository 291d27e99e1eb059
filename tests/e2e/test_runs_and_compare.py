"""Issue 23 point 4 end to end: `mlproj runs` as a table, `mlproj compare A B`, and a run named
by its bare hash (or a prefix) wherever a command takes [RUN].

One `mlproj init` project, shrunk to a few fast fits, run twice with a changed project key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlproj.science.numbers import significant
from tests.e2e.helpers import cli, cli_subprocess, runs_latest


def _edit(folder: Path, change) -> None:
    path = folder / "mlproj.yaml"
    project = yaml.safe_load(path.read_text())
    change(project)
    path.write_text(yaml.safe_dump(project, sort_keys=False))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(project folder, first run, second run): the second with two repeats instead of one and a
    regularisation parameter added to the candidate."""
    folder = tmp_path_factory.mktemp("runs-and-compare") / "demo"
    assert cli("init", str(folder)).exit_code == 0

    def shrink(project: dict) -> None:
        project["validation"].update({"folds": 3, "repeats": 1})
        project["baselines"] = ["dummy"]
        project["candidates"] = [{"name": "lr", "estimator": "LogisticRegression", "scale": True}]

    def change(project: dict) -> None:
        project["validation"]["repeats"] = 2
        project["candidates"][0]["params"] = {"C": 0.5}

    runs = []
    for edit in (shrink, change):
        _edit(folder, edit)
        result = cli("run", "-j", "1", cwd=folder)
        assert result.exit_code == 0, result.output
        runs.append(runs_latest(folder).resolve())
    assert runs[0] != runs[1] and runs[0].parent == runs[1].parent
    return folder, runs[0], runs[1]


def _headline(run: Path) -> tuple[str, str, str]:
    """(status, selected model, primary mean ± SE) of the main selection, from the run's verdict.json."""
    verdict = json.loads((run / "verdict.json").read_text())
    main = verdict["selections"][0]
    return verdict["status"], main["selected_model"], significant(main["primary"]["mean"], main["primary"]["se"])


def test_runs_lists_both_runs_with_their_verdicts_and_primary_scores(two_runs):
    folder, first, second = two_runs
    result = cli_subprocess("runs", cwd=folder, env={"COLUMNS": "80"})  # the real entry point, an 80-column terminal
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout
    primary = json.loads((first / "verdict.json").read_text())["selections"][0]["primary"]["name"]
    assert f"primary metric {primary} (mean ± corrected SE)" in " ".join(result.stdout.split())
    for run, latest in ((first, False), (second, True)):
        status, model, score = _headline(run)
        stamp, short = run.name.split("-")
        when = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]} UTC"
        [row] = [line for line in lines if short in line and when in line]
        assert row.split()[-3:] == [status, "◀", "latest"] if latest else row.split()[-1] == status
        assert f"  {model}  " in row and score in row and ("◀ latest" in row) == latest
    assert lines.index(next(line for line in lines if first.name.split("-")[1] in line)) < \
        lines.index(next(line for line in lines if second.name.split("-")[1] in line))  # oldest first


def test_a_damaged_run_keeps_its_row(two_runs, tmp_path):
    import shutil

    folder, first, _ = two_runs
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy, symlinks=True)
    (runs_latest(copy).parent / first.name / "verdict.json").write_text('{"status": "pa')
    result = cli("runs", cwd=copy)
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if first.name.split("-")[1] in line]
    assert row.split()[-1] == "damaged"


def test_compare_shows_the_changed_keys_and_both_runs_scores(two_runs):
    folder, first, second = two_runs
    short_a, short_b = first.name.split("-")[1][:6], second.name.split("-")[1]
    result = cli("compare", short_a, short_b, cwd=folder)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert f"A: {first.name}" in text and f"B: {second.name}" in text
    assert "validation.repeats: 1 → 2" in text and "candidates[0].params.C: added 0.5" in text
    assert "Data: unchanged" in text
    summaries = [json.loads((run / "summary.json").read_text()) for run in (first, second)]
    case = summaries[0]["cases"][0]
    primary = case["primary"]["label"]
    scores = [s["cases"][0]["models"]["lr"]["metrics"][primary] for s in summaries]
    # The model's first row is its primary metric (a long label may fold onto the next line).
    [row] = [line for line in text.splitlines() if line.split()[:1] == ["lr"]]
    assert row.split()[1] == primary[:len(row.split()[1])]
    assert [significant(s["mean"], s["se"]) for s in scores] == [c.strip() for c in row.split("  ") if c.strip()][-2:]
    for metric in case["metrics"][1:]:  # every metric, for every model
        assert sum(metric in line.split()[:2] for line in text.splitlines()) == 2, metric
    status_a, status_b = _headline(first)[0], _headline(second)[0]
    [verdict_row] = [line for line in text.splitlines() if line.startswith("verdict ")]
    assert verdict_row.split()[1:3] == [status_a, status_b] and ("◀ changed" in verdict_row) == (status_a != status_b)
    assert "criterion finish_line" in text


def test_a_bare_hash_prefix_names_a_run(two_runs):
    folder, first, second = two_runs
    prefix = second.name.split("-")[1][:6]
    result = cli("verdict", prefix, cwd=folder)
    status = _headline(second)[0]
    assert result.exit_code == {"pass": 0, "fail": 1, "undetermined": 3}[status], result.output
    assert f"Run: runs/{second.parent.name}/{second.name}" in result.stdout
    # The first run judged the project file as it was: stale now, and said so about that run.
    stale = cli("verdict", first.name.split("-")[1][:6], cwd=folder)
    assert stale.exit_code == 2 and f"run {first.name} is stale" in " ".join(stale.stderr.split())
    assert cli("verdict", first.name.split("-")[1], "--allow-stale", cwd=folder).exit_code in (0, 1, 3)
    common = os.path.commonprefix([first.name, second.name])
    ambiguous = cli("verdict", common, cwd=folder)
    message = " ".join(ambiguous.stderr.split())
    assert ambiguous.exit_code == 2 and "is ambiguous" in message and first.name in message and second.name in message
    assert "Traceback" not in ambiguous.output


PROBE = """
import sys
from typer.testing import CliRunner
from mlproj.cli import app
result = CliRunner().invoke(app, {args!r})
print(result.exit_code, ",".join(m for m in ("numpy", "scipy", "sklearn", "pandas", "matplotlib") if m in sys.modules))
"""


def test_runs_and_compare_read_only_json(two_runs):
    folder, first, second = two_runs
    for args in (["runs"], ["compare", first.name, second.name]):
        done = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], cwd=folder, capture_output=True,
                              text=True, timeout=120)
        code, _, loaded = done.stdout.strip().partition(" ")
        assert (code, loaded) == ("0", ""), (args, done.stdout, done.stderr)
