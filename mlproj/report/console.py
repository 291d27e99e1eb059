"""The console report: the plan, the data, every case's tables, the criteria and the verdict line.

Renders the typed Summary and Verdict (and, for `mlproj check` and `mlproj plan`, the plan) on
a rich Console the CLI hands in; computes nothing the stages did not already compute (a
comparison's SE is the verdict's). Pure Python apart from rich: `mlproj verdict` prints a stored
run without importing the statistics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mlproj.analyse.failures import failed_fit_warnings
from mlproj.analyse.types import CaseResult, DataDescription, Summary, or_nan
from mlproj.report.sections import counts_text, finish_target
from mlproj.science.numbers import (
    general,
    interval,
    is_probability,
    like,
    probability,
    significant,
    significant_interval,
)
from mlproj.verdict.types import SelectionResult, UncertaintyJudgement, Verdict

__all__ = ["count", "print_data", "print_plan", "print_verdict"]

COLOURS = {"pass": "green", "fail": "red", "undetermined": "yellow"}


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# ------------------------------------------------------------------------------------------ tables

# What must never be cut or split across lines: an interval, a value with its SE, a bounded
# probability, or else one word.
_UNIT = re.compile(r"\[[^\]]*\]|\S+ ± \S+|[<>] \S+|\S+")
_FIELD_SEPARATOR = " · "


def _units_width(text: str) -> int:
    return max((cell_len(unit) for unit in _UNIT.findall(text)), default=0)  # wide (CJK) characters count twice


def print_table(out: Console, headers: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> None:
    """A table that is never truncated: every column is at least as wide as its widest unit
    (rich cuts a long word with "…" otherwise: `undeter…`, `P(bette…`), text wraps inside its
    cell, and when even that is wider than the console (an 80-column terminal, a CI log) each row
    becomes a block: its first cell, then `header value` fields packed into indented lines."""
    minimum = [max(_units_width(header), *(_units_width(_plain(row[i])) for row in rows))
               for i, header in enumerate(headers)]
    # rich's default box: a border before, between and after the columns, one space padding each side
    available = out.width - 3 * len(headers) - 1
    if sum(minimum) <= available:
        # The widths are ours, not rich's: its collapse can leave a table wider than the console,
        # which the console then crops (a CJK cell next to a long number).
        widths = [max(_lines_width(header), *(_lines_width(_plain(row[i])) for row in rows))
                  for i, header in enumerate(headers)]
        _shrink(widths, minimum, available)
        table = Table()
        for header, width in zip(headers, widths):
            table.add_column(header, width=width, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    for row in rows:
        out.print(row[0] if isinstance(row[0], Text) else Text(row[0]), soft_wrap=False)
        fields = [Text(f"{header} ") + (cell if isinstance(cell, Text) else Text(cell))
                  for header, cell in zip(headers[1:], row[1:]) if _plain(cell)]
        for line in _pack(fields, out.width - 2):
            out.print(Text("  ") + line, soft_wrap=False)


def _lines_width(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _shrink(widths: list[int], minimum: Sequence[int], available: int) -> None:
    """Narrow the widest columns, one cell at a time, until the table fits (never below a
    column's widest unit)."""
    excess = sum(widths) - available
    while excess > 0:
        column = max((i for i, w in enumerate(widths) if w > minimum[i]), key=lambda i: widths[i])
        widths[column] -= 1
        excess -= 1


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _pack(fields: list[Text], width: int) -> list[Text]:
    """Fields joined with " · " into lines of at most `width` (a longer field is a line of its own,
    wrapped by the console)."""
    lines: list[Text] = []
    for field in fields:
        if lines and lines[-1].cell_len + len(_FIELD_SEPARATOR) + field.cell_len <= width:
            lines[-1] = lines[-1] + _FIELD_SEPARATOR + field
        else:
            lines.append(field)
    return lines


# ---------------------------------------------------------------------------------- check and plan


def print_data(out: Console, data: DataDescription, positive) -> None:
    """What `mlproj check` read: rows, features, dropped rows, classes."""
    out.print(f"Catalogue {Path(data.path).name}: {data.rows_read} rows read, {data.rows_used} used, "
              f"{len(data.features)} features ({', '.join(data.features)})")
    for reason, n in data.dropped.items():
        out.print(f"  dropped {count(n, 'row')} {reason}")
    if data.classes:
        counts = ", ".join(f"{k} {v}" for k, v in data.classes.items())
        out.print(f"  classes: {counts}; positive: {positive}")


def print_plan(out: Console, plan, rows, cached: int, cases, cached_ablations: int | None = None) -> None:
    """The run plan: fits per model (`rows`: workflow.run.describe_plan), cached fits, primary metrics."""
    out.print(f"[bold]Run plan[/]: {count(plan.repeats, 'repeat')} × {count(plan.folds, 'fold')} on "
              f"{len(plan.development)} objects; "
              f"{len(plan.test)} held out for the test", markup=True)
    print_table(out, ("model", "role", "estimator", "fits"),
                [(row.model, row.role, row.estimator, str(row.fits)) for row in rows])
    out.print(f"Total: {len(plan.tasks)} cross-validation fits ({cached} cached) + 1 final fit of the selected model "
              f"on the development set, scored once on the test set. Primary metric: "
              + ", ".join(f"{c.primary.label} ({c.name})" if len(cases) > 1 else c.primary.label
                          for c in cases) + ".")
    print_plan_kinds(out, plan.to_dict().get("kinds") or {}, cached_ablations)


def print_plan_kinds(out: Console, kinds: dict, cached_ablations: int | None = None) -> None:
    """The plan's variants, ablations and harness checks (Plan.to_dict()["kinds"], DESIGN §4)."""
    variants = kinds.get("variants") or []
    if variants:
        out.print("\n[bold]Variants[/] (each paired with its candidate on the same folds):", markup=True)
        print_table(out, ("variant", "of", "fits"), [(v["name"], str(v.get("parent")), str(v["fits"]))
                                                     for v in variants])
    ablations = kinds.get("ablations") or []
    if ablations:
        total = sum(a["fits"] for a in ablations)
        cached = f" ({cached_ablations} cached)" if cached_ablations is not None else ""
        out.print(f"\n[bold]Ablations[/]: {total} cross-validation fits{cached} on the same folds and seeds as the "
                  "full models (no final fit, no test set):", markup=True)
        rows = []
        for a in ablations:
            removed = ", ".join(a["removed"]) + (" (replaced)" if a["kind"] == "replace" else "")
            if a.get("dependent"):
                removed += f" (+ {', '.join(a['dependent'])}, derived)"
            rows.append((a["name"], removed, ", ".join(a["models"]), str(a["fits"])))
        print_table(out, ("ablation", "removed features", "models", "fits"), rows)
    harness = kinds.get("harness") or []
    if harness:
        out.print("\n[bold]Harness[/] (checks of the final model, each a verdict criterion): "
                  + ", ".join(h["name"] if h["name"].startswith(h["kind"]) else f"{h['name']} ({h['kind']})"
                              for h in harness)
                  + ".", markup=True)


# ------------------------------------------------------------------------------------------ verdict


def print_verdict(out: Console, verdict: Verdict, summary: Summary, already_shown: set[str] = frozenset()) -> None:
    """Failed fits first, then each case's tables, the criteria, power, diagnostics, warnings and
    the verdict line."""
    failures = failed_fit_warnings(summary)
    for failure in failures:  # before the tables: a failed candidate must not go unnoticed under a PASS
        out.print(f"[bold red]failed fits:[/] {escape(failure)}", markup=True)
    already_shown = set(already_shown) | set(failures)
    several = len(summary.cases) > 1
    for case in summary.cases:
        _print_case(out, case, verdict.selection(case.name), summary, verdict, several)
    _print_criteria(out, verdict)
    _print_ablations(out, summary)
    _print_shift(out, summary, verdict)
    power = verdict.power
    if power is not None and power.power is not None:
        best = power.best_operating_point
        out.print(f"Power analysis ({power.model}): {power.detail}"
                  + (f" The most powerful operating point on the ROC (TPR {best.tpr:.3f}, FPR {best.fpr:.4f}) "
                     f"gives power {probability(best.power, 2)}." if best else ""))
    diagnostics = verdict.diagnostics
    calibration = diagnostics.calibration if diagnostics is not None else None
    if calibration is not None and calibration.ece is not None:
        out.print(f"Calibration of {diagnostics.model} (out of fold, {len(calibration.counts)} "
                  f"quantile bins): expected calibration error {calibration.ece:.3f}.")
    prior = diagnostics.toward_prior if diagnostics is not None else None
    if prior is not None and prior.overall_slope is not None:
        out.print(f"Prediction vs truth of {diagnostics.model} (out of fold): slope "
                  f"{prior.overall_slope:.3f} (1 = no pull toward the training sample's bulk).")
    for warning in verdict.warnings:
        if warning not in already_shown:
            out.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
    status = verdict.status
    selected = verdict.selected_model
    chosen = f"selected {escape(selected)}" if selected else "no model selected"
    if verdict.selection_reason is None:  # a run written before the verdict said why: `reason` is the selection's
        line = f"{chosen}: {escape(verdict.reason or '')}"
    else:  # why the status first (DESIGN §4), then which model it is about
        line = f"{escape(verdict.reason or '')} ({chosen})"
    out.print(f"[bold {COLOURS[status]}]VERDICT: {status.upper()}[/] — {line}.", markup=True)


def _print_case(out: Console, case: CaseResult, judged: SelectionResult | None, summary: Summary, verdict: Verdict,
                several: bool) -> None:
    primary = case.primary.label
    title = f"Selection [bold]{escape(case.name)}[/]: " if several else ""
    out.print(f"\n{title}[bold]cross-validated {escape(primary)}[/] over {summary.repeats} × {summary.folds} folds: "
              f"mean ± corrected SE, {summary.confidence * 100:g}% interval", markup=True)
    # Rates come with the counts behind them (paper §2.3), pooled over the folds of the first
    # repeat, which hold every development object once.
    counted = any(model.rates.get(primary) for model in case.models.values())
    headers = ("model", "role", f"mean ± SE [{summary.confidence * 100:g}% interval]") + (
        ("out-of-fold counts, first repeat [95% Wilson]",) if counted else ()) + ("fit s",)
    models = {m.name: m for m in summary.models}
    selected = judged.selected_model if judged is not None else None
    rows = []
    for name, scores in case.models.items():
        s = scores.metrics[primary]
        mean, se = or_nan(s.mean), or_nan(s.se)
        interval = significant_interval(or_nan(s.interval[0]), or_nan(s.interval[1]), se)
        info = models[name]
        rate = scores.rates.get(primary)
        cells = (counts_text(rate, case.primary.name) if rate else "",) if counted else ()
        rows.append((name + (" ◀ selected" if name == selected else ""), info.role,
                     ("—" if math.isnan(mean) else significant(mean, se)) + f" {interval}", *cells,
                     "failed" if info.every_fit_failed else "—" if info.fit_seconds is None
                     else f"{info.fit_seconds:.2f}"))
    print_table(out, headers, rows)
    comparisons = [c for c in verdict.comparisons if c.selection in (None, case.name)]
    if comparisons:
        out.print(f"Paired comparisons of the selected {comparisons[0].b} with every other model "
                  f"(improvement: how much better b scores than a, whichever way the metric improves; "
                  f"margin ±{case.margin:g}):")
        rows = []
        for c in comparisons:
            se = or_nan(c.se)
            rows.append((f"{c.b} vs {c.a}", like(or_nan(c.difference), se),
                         significant_interval(or_nan(c.interval[0]), or_nan(c.interval[1]), se),
                         probability(c.p_better), probability(c.p_equivalent), probability(c.p_worse), c.decision))
        print_table(out, ("b vs a", "improvement", f"{summary.confidence * 100:g}% interval", "P(better)",
                          "P(equiv.)", "P(worse)", "decision"), rows)
    if selected:
        out.print(f"Selected [bold]{escape(selected)}[/]: {escape(judged.reason)}.", markup=True)
        others = [label for label in case.metrics if label != primary]
        if others:
            chosen = case.models[selected].metrics
            shown = [f"{label} = {significant(or_nan(chosen[label].mean), or_nan(chosen[label].se))}"
                     for label in others]
            out.print(f"Secondary metrics of {selected}: " + "; ".join(shown) + ".")
        trend = case.models[selected].trend
        if trend is not None:  # time-ordered windows (DESIGN §6: the per-window trend is reported)
            windows = ", ".join("—" if v is None else general(v, 3) for v in trend.scores)
            drift = "the skill drifts with time" if trend.significant else "no significant drift"
            out.print(f"Trend over the {len(trend.scores)} time windows of {escape(selected)} (earliest first): "
                      f"{windows}; slope {significant(or_nan(trend.slope), or_nan(trend.slope_se))} per window "
                      f"(p = {'—' if trend.p_value is None else probability(trend.p_value)}): {drift}.")
    _print_uncertainty(out, judged.uncertainty if judged is not None else None, case, summary)
    test = summary.tested(selected)
    if test is not None:
        result = test.cases.get(case.name)
        value = result.metrics.get(primary) if result is not None else None
        rate = result.rates.get(primary) if result is not None else None
        chosen = f"the model selected for {case.name}" if several else "the selected model"
        out.print(f"Held-out test of {test.model}, {chosen} ({test.n_test} objects, used once): "
                  f"{primary} = {_beside(value, case.models.get(test.model), primary)}"
                  + (f"; {counts_text(rate, case.primary.name)}" if rate else ""))
        note = getattr(rate, "resolution", None)
        if note:
            out.print(f"[yellow]note:[/] {escape(note)}", markup=True)
    finish = judged.finish_line if judged is not None else None
    if finish is not None:
        # Judged on the cross-validated and the held-out test interval (DESIGN §6): the one that decided first.
        out.print(f"Finish line {finish_target(finish.threshold, finish.margin, case.primary.greater_is_better)}: [bold]{finish.state.replace('_', ' ')}[/] — "
                  f"{escape(finish.detail)}.", markup=True)


def _nominal(judged: UncertaintyJudgement) -> dict[str, float]:
    """The nominal coverages the σ methods were judged against (runs written before the verdict
    recorded them: the definitions themselves)."""
    if judged.nominal is not None:
        return judged.nominal
    from mlproj.science.uncertainty import NOMINAL_COVERAGE

    return NOMINAL_COVERAGE


def _print_uncertainty(out: Console, judged: UncertaintyJudgement | None, case: CaseResult, summary: Summary) -> None:
    """CRPS, NLL and coverage of each σ(x) method, cross-validated and on the test set."""
    if judged is None:
        return
    model = judged.model
    tested = summary.tested(model)
    test = tested.cases.get(case.name) if tested is not None else None
    nominal = _nominal(judged)
    c68, c95 = nominal["coverage_68"], nominal["coverage_95"]
    out.print(f"Predicted uncertainties of {model} (Gaussian σ; coverage should match {c68:.3g} and {c95:.3g}):")
    stored = case.models[model].uncertainty
    held = (test.uncertainty if test is not None else None) or {}
    rows = []
    for method, values in judged.methods.items():
        cells = [significant(or_nan(getattr(values, n)), or_nan(stored[f"{n}[{method}]"].se))
                 for n in ("crps", "nll", "coverage_68", "coverage_95", "pit_ks")]
        rows.append((method, *cells, _beside_estimate(held.get(f"crps[{method}]"), stored.get(f"crps[{method}]")),
                     f"{_beside_estimate(held.get(f'coverage_68[{method}]'), stored.get(f'coverage_68[{method}]'))} / "
                     f"{_beside_estimate(held.get(f'coverage_95[{method}]'), stored.get(f'coverage_95[{method}]'))}"))
    print_table(out, ("σ method", "CRPS", "NLL", f"{c68:.0%} coverage", f"{c95:.0%} coverage", "PIT KS", "test CRPS",
                      f"test {c68:.0%} / {c95:.0%}"), rows)
    for c in judged.comparisons:
        if c.nll_decision is None:  # a run written before σ methods were compared on NLL too
            out.print(f"CRPS of {c.b} vs {c.a}: {c.decision} (P(better) {is_probability(c.p_better)}).")
        else:
            out.print(f"{c.b} σ vs {c.a} σ: {c.decision} (CRPS {c.crps_decision}, P(better) "
                      f"{is_probability(c.p_better)}; NLL {c.nll_decision}, P(better) {is_probability(c.nll_p_better)}; "
                      "improved only if better on both).")
    for method, by_level in ((test.coverage if test is not None else None) or {}).items():
        parts = [f"{c.nominal:.0%}: {c.inside}/{c.n} inside {interval(c.wilson[0], c.wilson[1])}"
                 for c in by_level.values()]
        out.print(f"Test-set coverage ({method} σ, 95% Wilson): " + "; ".join(parts) + ".")


def _beside(value: float | None, scores, label: str) -> str:
    """A value printed beside a model's cross-validated mean ± SE (its held-out test score): to
    the SE's decimals, so that neither looks more or less precise than the other."""
    estimate = scores.metrics.get(label) if scores is not None else None
    return _beside_estimate(value, estimate)


def _beside_estimate(value: float | None, estimate) -> str:
    if value is None:
        return "—"
    return like(value, or_nan(estimate.se) if estimate is not None else math.nan)


def _print_ablations(out: Console, summary: Summary) -> None:
    """Each feature ablation's effect with its interval: findings, not criteria (the verdict stands)."""
    from mlproj.report.ablations import HEADERS, ablation_rows

    effects = summary.ablations
    if not effects:
        return
    first = effects[0]
    out.print(f"\n[bold]Feature ablations[/] ({first.metric}, ablation − full model on the same folds, "
              f"{summary.confidence * 100:g}% interval; margin ±{first.margin:g}; findings, not criteria):",
              markup=True)
    several = len({e.model for e in effects}) > 1
    # The finding goes below the table, a line each: in a column it would wrap to a word per line.
    keep = [i for i, header in enumerate(HEADERS) if header != "finding" and (several or header != "model")]
    rows = ablation_rows(effects)
    print_table(out, [HEADERS[i] for i in keep], [tuple(Text(row[i]) for i in keep) for row in rows])
    for effect, row in zip(effects, rows):
        out.print(Text(f"  {effect.model + ' ' if several else ''}{effect.name}: {row[-1]}"))


def _print_shift(out: Console, summary: Summary, verdict: Verdict) -> None:
    """Covariate shift against data.application (paper §5.5): the finish line as measured and as expected there."""
    from mlproj.report.shift import shift_lines

    if summary.shift is None:
        return
    out.print("\n[bold]Covariate shift[/] (labelled development set vs application sample):", markup=True)
    for line in shift_lines(summary.shift, verdict.selected_model):
        out.print(Text(f"  {line}"))
    if verdict.finish_line is not None:
        out.print(Text(f"  finish line as measured: {verdict.finish_line.state.replace('_', ' ')}"))
    if verdict.application is not None:
        out.print(Text(f"  finish line as expected on the application sample: "
                       f"{verdict.application.state.replace('_', ' ')} ({verdict.application.detail})"))


def _print_criteria(out: Console, verdict: Verdict) -> None:
    out.print("\n[bold]Criteria[/]", markup=True)
    rows = []
    for c in verdict.criteria:
        status = Text(c.status, style=COLOURS[c.status]) + ("" if c.required else " (optional)")
        rows.append((c.name, status, c.detail))
    print_table(out, ("criterion", "status", "detail"), rows)
