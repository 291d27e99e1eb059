"""The feature ablations of a run as the report and the console show them (paper §6.1).

One table (ablation, removed features, difference ± corrected SE, interval, decision, sentence)
and one chart: each ablation's difference (ablation − full model) with its interval, the ±margin
band shaded and the zero line. Pure: the Summary's AblationEffects in, blocks, rows and chart data
out (the chart is drawn in mlproj.report.figures with the other figures). Ablations are findings,
not criteria: nothing here changes the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlproj.analyse.types import AblationEffect, Summary, or_nan
from mlproj.report.document import FigureBlock, Paragraph, Section, Table
from mlproj.science.numbers import like, significant_interval

__all__ = ["FIGURE_STEM", "HEADERS", "AblationBar", "AblationChartData", "ablation_chart_data", "ablation_rows",
           "ablation_section"]

FIGURE_STEM = "ablations"
HEADERS = ("ablation", "model", "removed features", "difference ± SE", "interval", "decision", "finding")


def removed_text(effect: AblationEffect) -> str:
    """The features an ablation takes away, those that went with them in parentheses."""
    text = ", ".join(effect.removed) or "—"
    if effect.kind == "replace":
        text += " (replaced)"
    if effect.dependent:
        text += f" (+ {', '.join(effect.dependent)}, derived)"
    return text


def difference_text(effect: AblationEffect) -> str:
    if effect.difference is None:
        return "—"
    se = or_nan(effect.se)
    if math.isnan(se):
        return like(effect.difference, se)
    return f"{like(effect.difference, se)} ± {like(abs(se), se)}"


def interval_text(effect: AblationEffect) -> str:
    low, high = effect.interval
    if low is None or high is None:
        return "—"
    return significant_interval(low, high, or_nan(effect.se))


def ablation_rows(effects: Sequence[AblationEffect]) -> list[tuple[str, ...]]:
    """One row per model × ablation, in the summary's order (HEADERS)."""
    return [(e.name, e.model, removed_text(e), difference_text(e), interval_text(e), e.decision, e.sentence)
            for e in effects]


def ablation_section(summary: Summary, figures: Mapping[str, FigureBlock] = {}) -> Section | None:  # noqa: B006
    """The report's "Ablations" section; None when the project asks for none."""
    effects = summary.ablations
    if not effects:
        return None
    first = effects[0]
    section = Section("ablations", "Ablations")
    section.add(Paragraph(
        f"Each ablation was fitted on the same {summary.repeats} × {summary.folds} folds and seeds as its full model "
        f"and paired with it fold by fold: the difference is ablation − full model in {first.metric} "
        f"({'higher' if first.greater_is_better else 'lower'} is better), with the corrected (Nadeau–Bengio) SE "
        f"and its {summary.confidence:.0%} interval; decided with the margin ±{first.margin:g} (equivalent: the "
        "information removed is not needed). Derived features go with the columns they are computed from. "
        "Findings, not criteria: they do not change the verdict. Cross-validation only; the held-out test set "
        "is not used."))
    section.add(Table(HEADERS, tuple(ablation_rows(effects)),
                      caption=f"Feature ablations: {first.metric}, ablation − full model",
                      numeric=(False, False, False, True, True, False, False)))
    if FIGURE_STEM in figures:
        section.add(figures[FIGURE_STEM])
    return section


# ------------------------------------------------------------------------------------ chart


@dataclass(frozen=True)
class AblationBar:
    label: str  # "-u" or "hgb -u" when several models are ablated
    difference: float | None
    se: float | None
    interval: tuple[float, float] | None
    decision: str


@dataclass(frozen=True)
class AblationChartData:
    """Each ablation's difference from its full model with its interval; the ±margin band."""

    bars: tuple[AblationBar, ...]  # drawn top to bottom
    margin: float
    metric_label: str
    greater_is_better: bool
    interval_label: str = "interval"


def _number(value) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def ablation_chart_data(effects: Sequence[AblationEffect], *, interval_label: str = "interval"
                        ) -> AblationChartData | None:
    """The chart's numbers (None without an ablation that has a difference)."""
    if not any(e.difference is not None for e in effects):
        return None
    several = len({e.model for e in effects}) > 1
    bars = []
    for e in effects:
        low, high = _number(e.interval[0]), _number(e.interval[1])
        bars.append(AblationBar(f"{e.model} {e.name}" if several else e.name, _number(e.difference), _number(e.se),
                                (low, high) if low is not None and high is not None else None, e.decision))
    first = effects[0]
    return AblationChartData(tuple(bars), abs(float(first.margin)), first.metric, bool(first.greater_is_better),
                             interval_label)


# Decision → Okabe–Ito colour of the bar (mlproj.report.figures.OKABE_ITO).
DECISION_COLOURS = {"equivalent": "#009E73", "worse": "#D55E00", "better": "#0072B2", "undetermined": "#999999"}
