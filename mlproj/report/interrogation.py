"""The report's "Interrogation" section (paper §6.1.3) and the numbers of its figures.

Sensitivity curves (the selected model's prediction as one feature varies, the others at their
median), the primary metric in quantile bins of chosen features with intervals and where the
finish line stops being met ("how faint can we go?"), and the most confidently wrong objects
beside the correctly handled population. Pure: the Summary in, blocks and figure data out (no
matplotlib; mlproj.report.interrogation_drawing draws)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlproj.analyse.types import BinnedMetric, InterrogationResult, SensitivityCurve, Summary, WorstObjects
from mlproj.report.document import FigureBlock, Paragraph, Section, Table
from mlproj.science.numbers import general, interval

__all__ = ["BinsData", "SensitivityData", "bins_data", "bins_stem", "interrogation_section", "sensitivity_data",
           "sensitivity_stem"]

STATE = {"reached": "reached", "not_reached": "not reached", "undetermined": "undetermined"}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def sensitivity_stem(feature: str) -> str:
    return f"sensitivity-{_safe(feature)}"


def bins_stem(feature: str) -> str:
    return f"metric-by-{_safe(feature)}"


# ------------------------------------------------------------------------------ figure data


@dataclass(frozen=True)
class SensitivityData:
    feature: str
    quantity: str  # the y axis: "p(galaxy)" or "predicted z"
    values: tuple[float, ...]
    curves: tuple[tuple[float | None, ...], ...]
    labels: tuple[str, ...]  # one per curve ("r = 19.2 (10%)"), empty strings without `by`
    probability: bool  # a probability: the y axis spans [0, 1]


def sensitivity_data(curve: SensitivityCurve) -> SensitivityData:
    quantiles = ("10%", "50%", "90%")
    labels = tuple(f"{curve.by} = {general(v, 3) if v is not None else 'n/a'} ({q})"
                   for v, q in zip(curve.by_values, quantiles)) if curve.by else ("",)
    return SensitivityData(curve.feature, curve.quantity, tuple(curve.values),
                           tuple(tuple(p) for p in curve.predictions), labels[:len(curve.predictions)],
                           curve.quantity.startswith("p("))


@dataclass(frozen=True)
class BinsData:
    feature: str
    metric: str
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]
    value: tuple[float | None, ...]
    interval_low: tuple[float | None, ...]
    interval_high: tuple[float | None, ...]
    state: tuple[str, ...]
    threshold: float
    margin: float
    greater_is_better: bool
    met_up_to: float | None
    confidence: float


def bins_data(binned: BinnedMetric) -> BinsData:
    b = binned.bins
    return BinsData(binned.feature, binned.metric, tuple(x.low for x in b), tuple(x.high for x in b),
                    tuple(x.value for x in b), tuple(x.interval[0] for x in b), tuple(x.interval[1] for x in b),
                    tuple(x.state for x in b), binned.threshold, binned.margin, binned.greater_is_better,
                    binned.met_up_to, binned.confidence)


# ------------------------------------------------------------------------------ the section


def _value(v) -> str:
    if v is None:
        return "—"
    return str(v) if isinstance(v, str) else general(float(v), 4)


def interrogation_section(summary: Summary, figures: Mapping[str, FigureBlock]) -> Section | None:
    result: InterrogationResult | None = summary.interrogation
    if result is None:
        return None
    section = Section("interrogation", "Interrogation")
    section.add(Paragraph(f"What {result.model} (the selected model) has learned and where it fails (paper §6.1.3)."))
    if result.sensitivity:
        section.add(Paragraph(
            "Sensitivity curves of the final fit: one feature varied from the 1st to the 99th percentile of the "
            "development objects, every other feature at its median (derived features are not recomputed: the "
            "curve is the model's response to that one input)."))
        for curve in result.sensitivity:
            stem = sensitivity_stem(curve.feature)
            if stem in figures:
                section.add(figures[stem])
    for binned in result.bins:
        section.add(Paragraph(f"{binned.metric} in quantile bins of {binned.feature} (out of fold): {binned.detail}."))
        rows = tuple((f"[{_value(b.low)}, {_value(b.high)}]", str(b.n), _value(b.value),
                      interval(b.interval[0], b.interval[1]) if None not in b.interval else "—",
                      b.method, STATE.get(b.state, b.state)) for b in binned.bins)
        section.add(Table((binned.feature, "objects", binned.metric, f"{binned.confidence:.0%} interval", "interval",
                           "finish line"), rows,
                          caption=f"{binned.metric} of the pooled out-of-fold predictions in bins of {binned.feature}; "
                                  f"the finish line {binned.threshold:g} (margin ±{binned.margin:g}) judged in each bin",
                          numeric=(False, True, True, True, False, False)))
        stem = bins_stem(binned.feature)
        if stem in figures:
            section.add(figures[stem])
    if result.worst is not None and result.worst.objects:
        section.add(_worst_table(result.worst))
    for note in result.notes:
        section.add(Paragraph(note, "note"))
    return section


def _worst_table(worst: WorstObjects) -> Table:
    rows = [(str(o.row), _value(o.truth), _value(o.predicted), _value(o.score), *(_value(v) for v in o.values))
            for o in worst.objects]
    for ref in worst.reference:
        cells = [f"{_value(m)} [{_value(lo)}, {_value(hi)}]" for m, lo, hi in zip(ref.median, ref.p16, ref.p84)]
        rows.append((f"{ref.label} ({ref.n})", "—", "—", "—", *cells))
    return Table(("row", "true", "predicted", worst.measure, *worst.features), tuple(rows),
                 caption=f"The {len(worst.objects)} most confidently wrong objects (out of fold; row among the rows "
                         f"used), then the median [16%, 84%] of the correctly handled ones: {worst.correct}",
                 numeric=(True, False, False, True, *(True for _ in worst.features)),
                 highlight=frozenset(range(len(worst.objects), len(rows))))
