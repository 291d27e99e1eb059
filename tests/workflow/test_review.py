"""Tests of mlproj.workflow.review: re-judging a stored run, and proving it current without re-parsing."""

from __future__ import annotations

import json
import shutil

import pytest

import mlproj.project.loading
from mlproj.analyse.types import Summary
from mlproj.errors import RunError
from mlproj.verdict.judge import judge
from mlproj.verdict.types import Verdict
from mlproj.workflow import review
from tests.e2e.helpers import cli, runs_latest


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One real run of the `init` demo, copied by each test before it changes anything."""
    root = tmp_path_factory.mktemp("review") / "demo"
    assert cli("init", str(root)).exit_code == 0
    assert cli("run", "-j", "1", cwd=root).exit_code in (0, 1, 3)
    return root


@pytest.fixture
def project(finished, tmp_path):
    copy = tmp_path / "demo"
    shutil.copytree(finished, copy, symlinks=True)
    run = runs_latest(copy).resolve()
    env = json.loads((run / "environment.json").read_text())
    # The run recorded absolute paths of the original folder; point them at the copy.
    env["config"]["path"] = str(copy / "mlproj.yaml")
    env["data"]["path"] = str(copy / "catalogue.csv")
    (run / "environment.json").write_text(json.dumps(env))
    return copy


def _run_files(project):
    run = runs_latest(project).resolve()
    return run, json.loads((run / "environment.json").read_text())


def test_environment_records_the_project_file_bytes(project):
    import hashlib

    _, env = _run_files(project)
    assert env["config"]["file_sha256"] == hashlib.sha256((project / "mlproj.yaml").read_bytes()).hexdigest()


def test_unchanged_project_file_is_not_parsed(project, monkeypatch):
    def forbidden(path):
        raise AssertionError("an unchanged project file was parsed")

    monkeypatch.setattr(mlproj.project.loading, "load_project", forbidden)
    result = review.rejudge(None, project / "mlproj.yaml")
    assert result.stale == []


def test_comment_edit_is_parsed_and_still_current(project, monkeypatch):
    calls = []
    real = mlproj.project.loading.load_project
    monkeypatch.setattr(mlproj.project.loading, "load_project", lambda path: calls.append(path) or real(path))
    path = project / "mlproj.yaml"
    path.write_text(path.read_text() + "\n# a comment added after the run\n")
    result = review.rejudge(None, path)
    assert calls, "changed bytes must be parsed to compare the resolved configuration"
    assert result.stale == []


def test_real_edit_makes_the_run_stale(project):
    path = project / "mlproj.yaml"
    path.write_text(path.read_text().replace("threshold: 0.9", "threshold: 0.8"))
    with pytest.raises(RunError, match="changed after the run"):
        review.rejudge(None, path)
    assert review.rejudge(None, path, allow_stale=True).stale


def test_run_without_file_hash_falls_back_to_parsing(project):
    run, env = _run_files(project)
    del env["config"]["file_sha256"]  # a run written before the hash was recorded
    (run / "environment.json").write_text(json.dumps(env))
    assert review.rejudge(None, project / "mlproj.yaml").stale == []


def _stored_summary(run) -> Summary:
    return Summary.from_dict(json.loads((run / "summary.json").read_text()))


def test_stored_verdict_is_used_when_this_mlproj_wrote_it(project):
    run, _ = _run_files(project)
    stored = json.loads((run / "verdict.json").read_text())
    assert review.rejudge(None, project / "mlproj.yaml").verdict.to_dict() == stored
    # The stored verdict is what judging the stored summary gives: nothing is lost by reusing it.
    assert judge(_stored_summary(run)).to_dict() == stored


def test_stored_files_read_back_into_the_same_json(project):
    """summary.json and verdict.json of a real run, through the types and back: key for key, in order."""
    run, _ = _run_files(project)
    for name, kind in (("summary.json", Summary), ("verdict.json", Verdict)):
        text = (run / name).read_text()
        assert json.dumps(kind.from_dict(json.loads(text)).to_dict(), indent=2) + "\n" == text, name
    result = review.rejudge(None, project / "mlproj.yaml")
    assert isinstance(result.summary, Summary) and isinstance(result.verdict, Verdict)
    assert result.project_name == result.summary.project


def test_a_stored_summary_with_a_value_of_the_wrong_kind_is_damaged_not_a_bug(project):
    run, _ = _run_files(project)
    summary = json.loads((run / "summary.json").read_text())
    summary["cases"][0]["models"] = {"hgb": {"scores": 3}}  # passes the file's outline check
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunError, match="summary.json is damaged"):
        review.rejudge(None, project / "mlproj.yaml")
    assert review.current_run(project / "mlproj.yaml") is None


def test_run_of_another_mlproj_version_is_judged_anew(project):
    run, env = _run_files(project)
    env["packages"]["mlproj"] = "0.0.0-older"
    (run / "environment.json").write_text(json.dumps(env))
    (run / "verdict.json").write_text(json.dumps({"status": "tampered"}))
    verdict = review.rejudge(None, project / "mlproj.yaml").verdict
    assert verdict == judge(_stored_summary(run))
    assert verdict.status in ("pass", "fail", "undetermined")


def test_missing_catalogue_is_stale(project):
    (project / "catalogue.csv").unlink()
    with pytest.raises(RunError, match="missing"):
        review.rejudge(None, project / "mlproj.yaml")


def _verdict(status: str, model: str | None, mean: float | None, se: float | None) -> dict:
    primary = {"name": "roc_auc", "mean": mean, "se": se}
    return {"status": status, "exit_code": 0, "criteria": [], "selected_model": model, "primary": primary,
            "selections": [{"selection": "galaxy", "selected_model": model, "primary": primary}]}


def test_runs_table_reads_time_hash_model_and_primary_of_each_run(tmp_path):
    from datetime import datetime, timezone

    from mlproj.store import rundir

    config = tmp_path / "mlproj.yaml"
    config.write_text("name: p\n")
    runs = tmp_path / "runs" / "p"
    written = []
    for minute, (status, model, mean, se) in enumerate([("pass", "hgb", 0.93, 0.01), ("fail", "lr", 0.7, None)]):
        staging = rundir.start_run_dir(runs, f"{minute:08x}" + "a" * 56,
                                       now=datetime(2026, 12, 4, 14, minute, 5, tzinfo=timezone.utc))
        rundir.write_json(staging / "verdict.json", _verdict(status, model, mean, se))
        written.append(rundir.publish_run(staging))
    rundir.mark_latest(written[0])
    old = runs / "20261204T150000Z-bbbbbbbb"  # written before selections were recorded
    rundir.write_json(old / "verdict.json", {k: v for k, v in _verdict("pass", "rf", 0.8, 0.02).items()
                                             if k != "selections"})
    damaged = runs / "20261204T160000Z-cccccccc"
    damaged.mkdir()
    (damaged / "verdict.json").write_text('{"status": "pa')
    odd = runs / "renamed by hand"
    rundir.write_json(odd / "verdict.json", {**_verdict("undetermined", "hgb", "0.9", 0.01),
                                             "selections": [{"selected_model": "hgb", "primary": [0.9]}]})
    folder, rows = review.runs_table(config)
    assert folder == runs and [row.name for row in rows] == [p.name for p in (*written, old, damaged)] + [odd.name]
    first, second, older, broken, renamed = rows
    assert first == review.RunRow(written[0].name, "pass", "hgb", True, datetime(2026, 12, 4, 14, 0, 5,
                                  tzinfo=timezone.utc), "00000000", "roc_auc", 0.93, 0.01)
    assert (second.status, second.selected, second.latest, second.mean, second.se) == ("fail", "lr", False, 0.7, None)
    assert (older.selected, older.mean, older.se, older.config_hash) == ("rf", 0.8, 0.02, "bbbbbbbb")
    assert (broken.status, broken.selected, broken.mean, broken.started.hour) == ("damaged", None, None, 16)
    # A hand-edited verdict of the right outline: listed, its odd values shown as missing.
    assert (renamed.status, renamed.started, renamed.config_hash, renamed.selected, renamed.mean) == \
        ("undetermined", None, None, "hgb", None)
