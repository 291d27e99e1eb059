"""Compare two finished runs (`mlproj compare A B`): their scores, their decisions and what
changed in the project file and the data between them.

Reads only the runs' JSON and project.yaml, through the pure-Python types: no fitting, no
statistics. Each run is shown as it was judged, by its own verdict.json, even if a newer mlproj
would judge it anew (`mlproj verdict` does that): the question is what changed between the two.
The pairing and the diff are pure functions of the stored data (diff_tree, pair_scores,
pair_decisions), tested on their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlproj.analyse.types import Summary
from mlproj.report.compare import Change, Comparison, DecisionPair, RunSide, Score, ScorePair, key_path
from mlproj.store import rundir
from mlproj.verdict.types import Verdict
from mlproj.workflow import review

__all__ = ["compare_runs", "diff_tree", "pair_decisions", "pair_scores"]


def compare_runs(run_a: str, run_b: str, config: Path) -> Comparison:
    """Runs A and B (each a path, folder name, hash or prefix: rundir.find_run) of this project file."""
    runs = review.runs_of(config)
    path_a, path_b = rundir.find_run(run_a, runs), rundir.find_run(run_b, runs)
    side_a, side_b = _side(path_a), _side(path_b)
    project_a, project_b = _project(path_a), _project(path_b)
    missing = [path.name for path, project in ((path_a, project_a), (path_b, project_b)) if project is None]
    return Comparison(
        side_a, side_b,
        pair_scores(review.read_summary(path_a), review.read_summary(path_b)),
        pair_decisions(review.read_verdict(path_a), review.read_verdict(path_b)),
        [] if missing else diff_tree(project_a, project_b),
        f"not compared: no readable project.yaml in {' and '.join(missing)}" if missing else None,
    )


def _side(run_dir: Path) -> RunSide:
    env = rundir.read_json(run_dir / "environment.json")
    started, _ = rundir.run_name_parts(run_dir.name)
    return RunSide(run_dir.name, run_dir, started, env["config"]["hash"], env["data"]["path"], env["data"]["sha256"])


def _project(run_dir: Path) -> dict | None:
    """The run's stored project.yaml (the validated project, defaults filled in), or None if it
    is missing or damaged: the scores and decisions can be compared without it."""
    import yaml

    try:
        data = yaml.safe_load((run_dir / "project.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------- diff

_MISSING = object()


def diff_tree(a: Any, b: Any, path: str = "") -> list[Change]:
    """The changes that make `a` into `b`, at their key paths: mappings key by key (A's order,
    then B's new keys), lists item by item, anything else compared as a value.

    A list of mappings that all have a distinct `name` (candidates, baselines written out) is
    paired by name, so that inserting a candidate does not read as a change of every one after
    it; the path then gives the item's place in B (in A for a removed one). Only the changes
    that matter to the results are reported: a mere reordering of named items is not one.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        changes = []
        for key in list(a) + [k for k in b if k not in a]:
            changes += _diff_or_edge(a.get(key, _MISSING), b.get(key, _MISSING), key_path(path, key))
        return changes
    if isinstance(a, list) and isinstance(b, list):
        named_a, named_b = _by_name(a), _by_name(b)
        if named_a is not None and named_b is not None:
            changes = []
            for index, (name, item) in enumerate(named_b.items()):
                changes += _diff_or_edge(named_a.get(name, _MISSING), item, f"{path}[{index}]")
            changes += [Change(f"{path}[{index}]", "removed", before=item)
                        for index, (name, item) in enumerate(named_a.items()) if name not in named_b]
            return changes
        changes = []
        for index in range(max(len(a), len(b))):
            changes += _diff_or_edge(a[index] if index < len(a) else _MISSING,
                                     b[index] if index < len(b) else _MISSING, f"{path}[{index}]")
        return changes
    return [] if _same(a, b) else [Change(path, "changed", before=a, after=b)]


def _diff_or_edge(a: Any, b: Any, path: str) -> list[Change]:
    if a is _MISSING:
        return [Change(path, "added", after=b)]
    if b is _MISSING:
        return [Change(path, "removed", before=a)]
    return diff_tree(a, b, path)


def _same(a: Any, b: Any) -> bool:
    # YAML's `true` and `1` are different settings, though Python calls them equal; 1 and 1.0 are one number.
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _by_name(items: list) -> dict[str, dict] | None:
    """name -> item, if every item is a mapping with a distinct string `name`; else None."""
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    if not items or not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        return None
    return dict(zip(names, items))


# ---------------------------------------------------------------------------------------- pairing


def pair_scores(a: Summary, b: Summary) -> list[ScorePair]:
    """Every model's every metric in every case of either run, A's and B's (None where a run has
    no such case, model or metric); cases, models and metrics in A's order, then B's new ones."""
    cases_a, cases_b = {c.name: c for c in a.cases}, {c.name: c for c in b.cases}
    pairs = []
    for case in _union(cases_a, cases_b):
        ca, cb = cases_a.get(case), cases_b.get(case)
        models = _union(ca.models if ca else {}, cb.models if cb else {})
        metrics = _union(ca.metrics if ca else [], cb.metrics if cb else [])
        for model in models:
            for metric in metrics:
                score_a, score_b = _estimate(ca, model, metric), _estimate(cb, model, metric)
                if score_a is not None or score_b is not None:
                    pairs.append(ScorePair(case, model, metric, score_a, score_b))
    return pairs


def _estimate(case, model: str, metric: str) -> Score | None:
    scores = case.models.get(model) if case is not None else None
    estimate = scores.metrics.get(metric) if scores is not None else None
    return None if estimate is None else Score(estimate.mean, estimate.se)


def _union(first, second) -> list:
    return list(dict.fromkeys([*first, *second]))


def pair_decisions(a: Verdict, b: Verdict) -> list[DecisionPair]:
    """The verdict's status, each selection's selected model and finish line, and each
    criterion's state, in A and in B (None where a run has no such selection or criterion)."""
    pairs = [DecisionPair("verdict", a.status, b.status)]
    selections_a, selections_b = {s.selection: s for s in a.selections}, {s.selection: s for s in b.selections}
    for name in _union(selections_a, selections_b):
        sa, sb = selections_a.get(name), selections_b.get(name)
        pairs.append(DecisionPair(f"{name}: selected model", sa.selected_model if sa else None,
                                  sb.selected_model if sb else None))
        pairs.append(DecisionPair(f"{name}: finish line", _finish(sa), _finish(sb)))
    criteria_a = {(c.selection, c.name): c.status for c in a.criteria}
    criteria_b = {(c.selection, c.name): c.status for c in b.criteria}
    for key in _union(criteria_a, criteria_b):
        selection, name = key
        pairs.append(DecisionPair(f"criterion {name}" + (f" ({selection})" if selection else ""),
                                  criteria_a.get(key), criteria_b.get(key)))
    return pairs


def _finish(selection) -> str | None:
    return None if selection is None or selection.finish_line is None else selection.finish_line.state

