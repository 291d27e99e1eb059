"""Tests of mlproj.workflow.compare (`mlproj compare A B`): the key-path diff of two project
files, the pairing of scores and decisions, and two stored runs read and laid out."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
import yaml
from rich.console import Console

from mlproj.analyse.types import Summary
from mlproj.errors import RunError
from mlproj.report.compare import Change, Score, ScorePair, change_line, print_comparison, show_value
from mlproj.store import rundir
from mlproj.verdict.types import Verdict
from mlproj.workflow.compare import compare_runs, diff_tree, pair_decisions, pair_scores

# ------------------------------------------------------------------------------------------ diff


def test_identical_trees_have_no_changes():
    tree = {"a": 1, "b": {"c": [1, {"d": None}]}, "e": [{"name": "x", "p": {}}]}
    assert diff_tree(tree, yaml.safe_load(yaml.safe_dump(tree))) == []


def test_nested_mappings_give_added_removed_and_changed_key_paths():
    a = {"validation": {"folds": 5, "repeats": 3, "seed": 0}, "metric": {"primary": "roc_auc"}, "gone": {"x": 1}}
    b = {"validation": {"folds": 5, "repeats": 5}, "metric": {"primary": "roc_auc", "secondary": ["brier"]},
         "new": True}
    assert diff_tree(a, b) == [
        Change("validation.repeats", "changed", 3, 5),
        Change("validation.seed", "removed", before=0),
        Change("metric.secondary", "added", after=["brier"]),
        Change("gone", "removed", before={"x": 1}),
        Change("new", "added", after=True),
    ]


def test_lists_of_named_items_pair_by_name_and_give_indexed_paths():
    a = {"candidates": [{"name": "lr", "estimator": "LogisticRegression"},
                        {"name": "hgb", "params": {"max_iter": 100}},
                        {"name": "old", "estimator": "SVC"}]}
    b = {"candidates": [{"name": "rf", "estimator": "RandomForestClassifier"},  # inserted first
                        {"name": "lr", "estimator": "LogisticRegression"},
                        {"name": "hgb", "params": {"max_iter": 100, "max_depth": 6}}]}
    assert diff_tree(a, b) == [
        Change("candidates[0]", "added", after={"name": "rf", "estimator": "RandomForestClassifier"}),
        Change("candidates[2].params.max_depth", "added", after=6),
        Change("candidates[2]", "removed", before={"name": "old", "estimator": "SVC"}),  # its place in A
    ]
    reordered = {"candidates": list(reversed(a["candidates"]))}
    assert diff_tree(a, reordered) == []  # the same models, so the same results


def test_other_lists_pair_by_position():
    assert diff_tree({"f": ["u", "g", "r"]}, {"f": ["u", "i"]}) == [
        Change("f[1]", "changed", "g", "i"), Change("f[2]", "removed", before="r")]
    assert diff_tree({"f": ["u"]}, {"f": ["u", "g"]}) == [Change("f[1]", "added", after="g")]
    # Items that are not all named (or share a name) cannot be paired by name.
    same_name = [{"name": "m", "x": 1}, {"name": "m", "x": 2}]
    assert diff_tree(same_name, [{"name": "m", "x": 1}, {"name": "m", "x": 3}]) == [Change("[1].x", "changed", 2, 3)]


def test_a_change_of_kind_and_of_type_is_a_change():
    assert diff_tree({"x": {"a": 1}}, {"x": 5}) == [Change("x", "changed", {"a": 1}, 5)]
    assert diff_tree({"x": [1]}, {"x": {"0": 1}}) == [Change("x", "changed", [1], {"0": 1})]
    assert diff_tree({"x": True}, {"x": 1}) == [Change("x", "changed", True, 1)]  # YAML true is not 1
    assert diff_tree({"x": "1"}, {"x": 1}) == [Change("x", "changed", "1", 1)]
    assert diff_tree({"x": 1}, {"x": 1.0}) == []  # one number
    assert diff_tree({"x": None}, {"x": 0}) == [Change("x", "changed", None, 0)]


def test_keys_that_would_misread_as_a_path_are_quoted():
    changes = diff_tree({"derived": {"u.g": "u - g", "g r": "g - r"}}, {"derived": {"u.g": "u - g + 1"}})
    assert [c.path for c in changes] == ['derived["u.g"]', 'derived["g r"]']


def test_change_lines_read_as_the_project_file_writes_values():
    assert change_line(Change("validation.repeats", "changed", 3, 5)) == "validation.repeats: 3 → 5"
    assert change_line(Change("candidates[1].params.max_depth", "added", after=6)) == \
        "candidates[1].params.max_depth: added 6"
    assert change_line(Change("data.order", "removed", before="mjd")) == "data.order: removed (was mjd)"
    assert change_line(Change("x", "changed", None, "5")) == "x: null → '5'"  # the string, not the number
    assert show_value({"name": "rf", "params": {"n_estimators": 10}}) == "{name: rf, params: {n_estimators: 10}}"
    assert show_value(["u", "g"]) == "[u, g]" and show_value(True) == "true" and show_value("a long text") == \
        "a long text"


# ------------------------------------------------------------------------------------- pairing


def _summary(cases: dict[str, dict[str, dict[str, tuple[float | None, float | None]]]]) -> Summary:
    """A summary of cases -> model -> metric label -> (mean, SE); a case's metrics in that order."""
    return Summary.from_dict({
        "task": "classification", "folds": 5, "repeats": 2, "confidence": 0.9, "models": [],
        "cases": [{"name": case, "primary": {"name": "roc_auc", "label": "roc_auc"},
                   "metrics": list(dict.fromkeys(m for scores in models.values() for m in scores)),
                   "models": {model: {"scores": [], "metrics": {m: {"mean": mean, "se": se}
                                                                for m, (mean, se) in scores.items()}}
                              for model, scores in models.items()}} for case, models in cases.items()]})


def test_scores_pair_every_model_and_metric_of_either_run():
    a = _summary({"galaxy": {"dummy": {"roc_auc": (0.5, 0.01)}, "lr": {"roc_auc": (0.9, 0.01), "brier": (0.1, None)}}})
    b = _summary({"galaxy": {"dummy": {"roc_auc": (0.5, 0.02), "accuracy": (0.6, 0.01)},
                             "hgb": {"roc_auc": (0.95, 0.005)}},
                  "quasar": {"hgb": {"roc_auc": (0.8, 0.02)}}})
    pairs = pair_scores(a, b)
    assert [(p.case, p.model, p.metric) for p in pairs] == [
        ("galaxy", "dummy", "roc_auc"), ("galaxy", "dummy", "accuracy"), ("galaxy", "lr", "roc_auc"),
        ("galaxy", "lr", "brier"), ("galaxy", "hgb", "roc_auc"), ("quasar", "hgb", "roc_auc")]
    assert pairs[0] == ScorePair("galaxy", "dummy", "roc_auc", Score(0.5, 0.01), Score(0.5, 0.02))
    assert pairs[1].a is None and pairs[3].b is None and pairs[4].a is None and pairs[5].a is None
    assert pairs[3].a == Score(0.1, None)


def _verdict(status: str, selections: list[tuple[str, str | None, str | None]], criteria: dict) -> Verdict:
    return Verdict.from_dict({
        "status": status, "exit_code": 0,
        "criteria": [{"selection": sel, "name": name, "status": state, "detail": ""}
                     for (sel, name), state in criteria.items()],
        "selections": [{"selection": name, "selected_model": model,
                        "finish_line": None if state is None else {"state": state}} for name, model, state in selections]})


def test_decisions_pair_status_selections_and_criteria_and_say_what_changed():
    a = _verdict("fail", [("galaxy", "lr", "not_reached")],
                 {("galaxy", "finish_line"): "fail", (None, "no_label_leak"): "pass"})
    b = _verdict("pass", [("galaxy", "hgb", "reached"), ("quasar", None, None)],
                 {("galaxy", "finish_line"): "pass", (None, "no_label_leak"): "pass",
                  ("quasar", "finish_line"): "undetermined"})
    pairs = pair_decisions(a, b)
    assert [(p.what, p.a, p.b, p.changed) for p in pairs] == [
        ("verdict", "fail", "pass", True),
        ("galaxy: selected model", "lr", "hgb", True),
        ("galaxy: finish line", "not_reached", "reached", True),
        ("quasar: selected model", None, None, False),
        ("quasar: finish line", None, None, False),
        ("criterion finish_line (galaxy)", "fail", "pass", True),
        ("criterion no_label_leak", "pass", "pass", False),
        ("criterion finish_line (quasar)", None, "undetermined", True),
    ]


# ------------------------------------------------------------------------------- two stored runs


def _write_run(runs, config_hash: str, minute: int, project: dict, data_hash: str, mean: float) -> str:
    staging = rundir.start_run_dir(runs, config_hash, now=datetime(2026, 12, 4, 14, minute, tzinfo=timezone.utc))
    rundir.write_atomic(staging / "project.yaml", yaml.safe_dump(project, sort_keys=False))
    rundir.write_json(staging / "environment.json",
                      rundir.environment(runs / "mlproj.yaml", config_hash, runs / "cat.csv", data_hash))
    summary = _summary({"galaxy": {"hgb": {"roc_auc": (mean, 0.004)}}})
    rundir.write_json(staging / "summary.json", summary.to_dict())
    verdict = _verdict("pass", [("galaxy", "hgb", "reached")], {("galaxy", "finish_line"): "pass"})
    rundir.write_json(staging / "verdict.json", verdict.to_dict())
    return rundir.publish_run(staging).name


@pytest.fixture
def two_runs(tmp_path):
    (tmp_path / "mlproj.yaml").write_text("name: p\n")
    runs = tmp_path / "runs" / "p"
    project = {"name": "p", "validation": {"folds": 5, "repeats": 3}}
    first = _write_run(runs, "aaaa1111" + "0" * 56, 1, project, "d" * 64, 0.91)
    second = _write_run(runs, "bbbb2222" + "0" * 56, 2, {**project, "validation": {"folds": 5, "repeats": 5}},
                        "e" * 64, 0.93)
    return tmp_path, first, second


def test_two_runs_side_by_side(two_runs):
    root, first, second = two_runs
    comparison = compare_runs("aaaa", "bbbb22", root / "mlproj.yaml")
    assert (comparison.a.name, comparison.b.name) == (first, second)
    assert comparison.project == [Change("validation.repeats", "changed", 3, 5)] and comparison.project_note is None
    assert comparison.data_changed
    assert [(p.a.mean, p.b.mean) for p in comparison.scores] == [(0.91, 0.93)]
    assert not any(d.changed for d in comparison.decisions)
    console = Console(width=80, record=True, file=io.StringIO())
    print_comparison(console, comparison)
    text = console.export_text()
    assert "validation.repeats: 3 → 5" in text and "Data: changed, sha256 dddddddd → eeeeeeee" in text
    assert "0.9100 ± 0.0040" in text and "0.9300 ± 0.0040" in text and "Decisions (none changed)" in text
    assert "A: 20261204T140100Z-aaaa1111 (2026-12-04 14:01 UTC)" in text
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text


def test_a_run_without_its_project_file_is_still_compared(two_runs):
    root, first, second = two_runs
    (root / "runs" / "p" / first / "project.yaml").write_text("[not: a mapping")
    comparison = compare_runs(first, second, root / "mlproj.yaml")
    assert comparison.project == [] and first in comparison.project_note
    assert comparison.scores


def test_an_unknown_run_is_a_run_error(two_runs):
    root, first, _ = two_runs
    with pytest.raises(RunError, match="run folder cccc does not exist"):
        compare_runs(first, "cccc", root / "mlproj.yaml")
