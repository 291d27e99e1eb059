"""Tests of mlproj.store.trials: runs/trials.csv, one line per run, nothing lost."""

from __future__ import annotations

import pytest

from mlproj.errors import RunError
from mlproj.store.trials import COLUMNS, append_trial, read_trials


def trial(**values):
    return {"time": "2026-12-03 10:00:00", "project": "p", "run": "r1", "mean": 0.9, "se": None, **values}


def test_lines_are_appended_in_order(tmp_path):
    path = tmp_path / "runs" / "trials.csv"
    append_trial(path, trial(run="r1"))
    append_trial(path, trial(run="r2", decisions="hgb vs dummy: improved, by far"))
    rows = read_trials(path)
    assert [r["run"] for r in rows] == ["r1", "r2"]
    assert list(rows[0]) == list(COLUMNS)
    assert rows[1]["decisions"] == "hgb vs dummy: improved, by far" and rows[0]["se"] == ""
    assert not list(tmp_path.glob("runs/.*.tmp"))


def test_a_new_column_keeps_the_old_lines(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("time,project,run\n2026,p,old\n")
    append_trial(path, trial(run="new", variants="shallow"))
    rows = read_trials(path)
    assert rows[0]["run"] == "old" and rows[0]["variants"] == "" and rows[1]["variants"] == "shallow"


def test_a_line_edited_by_hand_keeps_what_has_a_name(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("time,project,run\n2026,p,old,extra\n")
    append_trial(path, trial(run="new"))
    assert [r["run"] for r in read_trials(path)] == ["old", "new"]


def test_no_file_is_no_trials_and_a_binary_one_is_damaged(tmp_path):
    assert read_trials(tmp_path / "none.csv") == []
    bad = tmp_path / "trials.csv"
    bad.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(RunError, match="damaged"):
        read_trials(bad)
