"""`mlproj compare A B`: two runs side by side, and what it shows, typed.

The types are what mlproj.workflow.compare finds (it reads the runs and pairs their scores,
decisions and project files); this module only lays them out. Pure Python apart from rich and
yaml: comparing two stored runs imports no statistics.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from mlproj.science.numbers import general, significant

__all__ = ["Change", "Comparison", "DecisionPair", "RunSide", "Score", "ScorePair", "print_comparison", "show_value"]


@dataclass(frozen=True)
class Change:
    """One difference between two nested values, at its key path (`candidates[1].params.max_depth`)."""

    path: str
    kind: str  # added | removed | changed
    before: Any = None  # removed, changed
    after: Any = None  # added, changed


@dataclass(frozen=True)
class Score:
    """A cross-validated metric as summary.json holds it: mean ± corrected SE."""

    mean: float | None
    se: float | None


@dataclass(frozen=True)
class ScorePair:
    """One model's metric in one case, in run A and in run B (None: not scored in that run)."""

    case: str
    model: str
    metric: str
    a: Score | None
    b: Score | None


@dataclass(frozen=True)
class DecisionPair:
    """One decision of the verdicts (the status, a selected model, a finish line, a criterion) in A and B."""

    what: str
    a: str | None  # None: the run made no such decision (a selection or criterion it did not have)
    b: str | None

    @property
    def changed(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class RunSide:
    """Which run a side is, and what it was made from (environment.json)."""

    name: str
    path: Path
    started: datetime | None
    config_hash: str
    data_path: str
    data_hash: str


@dataclass
class Comparison:
    a: RunSide
    b: RunSide
    scores: list[ScorePair] = field(default_factory=list)
    decisions: list[DecisionPair] = field(default_factory=list)
    project: list[Change] = field(default_factory=list)  # project.yaml of A → project.yaml of B
    project_note: str | None = None  # why the project files could not be compared (a run without project.yaml)

    @property
    def data_changed(self) -> bool:
        return self.a.data_hash != self.b.data_hash


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def key_path(parent: str, key: Any) -> str:
    """`parent.key`, or `parent["u.g"]` for a key that would misread as a path (a dot, a bracket, a space)."""
    text = str(key)
    if _PLAIN_KEY.fullmatch(text):
        return f"{parent}.{text}" if parent else text
    return f"{parent}[{json.dumps(text, ensure_ascii=False)}]"


def show_value(value: Any) -> str:
    """A project-file value as YAML writes it inline: `6`, `null`, `'3'`, `[u, g]`, `{max_depth: 6}`."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=math.inf, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def change_line(change: Change) -> str:
    where = change.path or "(the whole file)"
    if change.kind == "added":
        return f"{where}: added {show_value(change.after)}"
    if change.kind == "removed":
        return f"{where}: removed (was {show_value(change.before)})"
    return f"{where}: {show_value(change.before)} → {show_value(change.after)}"


def _score(score: Score | None) -> str:
    if score is None:
        return "not scored"
    if score.mean is None:
        return "—"
    return general(score.mean) if score.se is None else significant(score.mean, score.se)


def _side(side: RunSide) -> str:
    when = f" ({side.started:%Y-%m-%d %H:%M} UTC)" if side.started else ""
    return f"{side.name}{when}"


def print_comparison(out: Console, comparison: Comparison) -> None:
    a, b = comparison.a, comparison.b
    out.print(f"A: {_side(a)}")
    out.print(f"B: {_side(b)}")
    if a.path == b.path:
        out.print("A and B are the same run: nothing can have changed.")
    _print_project(out, comparison)
    _print_decisions(out, comparison)
    _print_scores(out, comparison)


def _print_project(out: Console, comparison: Comparison) -> None:
    a, b = comparison.a, comparison.b
    out.print()
    if comparison.project_note:
        out.print(f"Project file: {comparison.project_note}.")
    elif not comparison.project:
        out.print(f"Project file: unchanged (config hash {a.config_hash[:8]}).")
    else:
        out.print(f"Project file, A → B (config hash {a.config_hash[:8]} → {b.config_hash[:8]}):")
        # A grid keeps the indent of a long value's wrapped lines, and folds rather than cuts it.
        lines = Table.grid(padding=(0, 0, 0, 2), pad_edge=True)
        lines.add_column(overflow="fold")
        for change in comparison.project:
            lines.add_row(change_line(change))
        out.print(lines)
    if comparison.data_changed:
        moved = f" ({a.data_path} → {b.data_path})" if a.data_path != b.data_path else ""
        out.print(f"Data: changed{moved}, sha256 {a.data_hash[:8]} → {b.data_hash[:8]}.")
    else:
        out.print(f"Data: unchanged (sha256 {a.data_hash[:8]}).")


def _print_decisions(out: Console, comparison: Comparison) -> None:
    out.print()
    changed = sum(d.changed for d in comparison.decisions)
    out.print("Decisions" + (f" ({changed} changed):" if changed else " (none changed):"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("", overflow="fold")
    table.add_column(f"A {comparison.a.config_hash[:8]}", overflow="fold")
    table.add_column(f"B {comparison.b.config_hash[:8]}", overflow="fold")
    table.add_column("", no_wrap=True)
    for decision in comparison.decisions:
        table.add_row(decision.what, _state(decision.a), _state(decision.b), "◀ changed" if decision.changed else "")
    out.print(table)


def _state(value: str | None) -> str:
    return "—" if value is None else {"not_reached": "not reached"}.get(value, value)


def _print_scores(out: Console, comparison: Comparison) -> None:
    cases = list(dict.fromkeys(pair.case for pair in comparison.scores))
    for case in cases:
        out.print()
        out.print(f"Scores of {case}, cross-validated mean ± corrected SE:" if len(cases) > 1 else
                  "Scores, cross-validated mean ± corrected SE:")
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
        table.add_column("model", overflow="fold")
        table.add_column("metric", overflow="fold")
        table.add_column(f"A {comparison.a.config_hash[:8]}", no_wrap=True)
        table.add_column(f"B {comparison.b.config_hash[:8]}", no_wrap=True)
        previous = None
        for pair in (p for p in comparison.scores if p.case == case):
            # The model once per group of its metrics: the eye finds a model's rows without reading every line.
            table.add_row(pair.model if pair.model != previous else "", pair.metric, _score(pair.a), _score(pair.b))
            previous = pair.model
        out.print(table)
