"""The report's "Test harness" section (paper §2.4): each declared check on the selected model's
final fit, what it does, what it measured against its tolerance, and whether it passed (each is
a verdict criterion, so a failed check fails the verdict). Pure: the Summary and Verdict in, blocks out."""

from __future__ import annotations

from mlproj.analyse.types import HarnessResult, Summary
from mlproj.report.document import Paragraph, Section, Table
from mlproj.science.numbers import general
from mlproj.verdict.types import Verdict

__all__ = ["harness_section"]


def _number(result: HarnessResult, value: float | None) -> str:
    if value is None:
        return "—"
    if result.measure in ("changed class", "as expected"):
        return f"{100 * value:.3g}%"
    return general(value, 3)


def harness_section(summary: Summary, verdict: Verdict) -> Section | None:
    if not summary.harness:
        return None
    judged = {c.name: c.status for c in verdict.criteria}
    section = Section("harness", "Test harness")
    model = next((r.model for r in summary.harness if r.model), None)
    section.add(Paragraph(
        "Declared checks on the selected model's final fit" + (f" ({model}, fitted on every development object)"
                                                               if model else "")
        + ": invariance (predictions must not change beyond the tolerance when inputs are perturbed), hand-crafted "
        "inputs with expected outputs, and hybrids of two objects that must stay in a class. Each is a verdict "
        "criterion: a failed check fails the verdict."))
    rows = []
    for r in summary.harness:
        status = judged.get(r.name, "undetermined" if r.passed is None else "pass" if r.passed else "fail")
        tolerance = ("≤ " if r.at_most else "≥ ") + _number(r, r.threshold)
        rows.append((r.name.removeprefix("harness: "), r.description or "—",
                     f"{_number(r, r.value)} ({r.measure})" if r.measure else _number(r, r.value), tolerance,
                     {"pass": "passed", "fail": "FAILED"}.get(status, status)))
    section.add(Table(("check", "what it does", "measured", "tolerance", "passed"), tuple(rows),
                      caption="Test harness (paper §2.4); invariance is measured on held-out test objects without "
                              "their labels, hybrids on development objects",
                      numeric=(False, False, True, True, False)))
    for r in summary.harness:
        if judged.get(r.name) != "pass":
            section.add(Paragraph(f"{r.name}: {r.detail}", "warning"))
    return section
