"""The report's "Covariate shift" section (paper §5.5) and the numbers of its figures.

The domain classifier's AUC and the features that drive it, the share of the application sample
outside the labelled range, the importance weights and their effective sample size, and every
model's primary metric as measured and as expected on the application sample. Pure: the Summary
in, blocks and figure data out (mlproj.report.shift_drawing draws)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlproj.analyse.types import ShiftHistogram, ShiftResult, Summary
from mlproj.report.document import FigureBlock, Paragraph, Section, Table
from mlproj.science.numbers import general, interval

__all__ = ["HistogramData", "auc_text", "histogram_data", "histogram_stem", "shift_lines", "shift_section"]


def histogram_stem(feature: str) -> str:
    return "shift-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", feature)


@dataclass(frozen=True)
class HistogramData:
    name: str
    edges: tuple[float, ...]
    labelled: tuple[float, ...]
    application: tuple[float, ...]
    weighted: tuple[float, ...]


def histogram_data(hist: ShiftHistogram) -> HistogramData:
    return HistogramData(hist.name, tuple(hist.edges), tuple(hist.labelled), tuple(hist.application),
                         tuple(hist.weighted))


def _v(x) -> str:
    return "—" if x is None else general(float(x), 4)


def _iv(pair) -> str:
    return "—" if pair is None or None in pair else interval(pair[0], pair[1])


def auc_text(result: ShiftResult) -> str:
    """An AUC to three decimals: its interval spans hundredths, more digits would be noise."""
    lo, hi = result.domain_interval
    shown = "" if lo is None or hi is None else f" [{lo:.3f}, {hi:.3f}]"
    return ("—" if result.domain_auc is None else f"{result.domain_auc:.3f}") + shown


def shift_lines(result: ShiftResult, selected: str | None) -> list[str]:
    """The few lines the console verdict shows."""
    lines = [f"domain AUC {auc_text(result)} ({result.confidence:.0%}, {result.interval_method}; 0.5 = no shift "
             f"a classifier can see), {result.n_labelled} labelled vs {result.n_application} application objects",
             f"{result.outside_any:.0%} of the application objects lie outside the labelled range of some feature"]
    top = sorted(result.features, key=lambda f: -abs((f.auc if f.auc is not None else 0.5) - 0.5))[:3]
    if top:
        lines.append("driven by " + ", ".join(f"{f.name} (AUC {_v(f.auc)}, {f.outside:.0%} outside)" for f in top))
    lines.append(f"importance weights: effective sample size {result.ess:.0f} of {result.n_labelled} "
                 f"({result.weights_clipped} clipped at {result.weight_cap:g}× the mean)")
    metric = result.metric_of(selected)
    if metric is not None:
        lines.append(f"{metric.model} {metric.metric}: measured {_v(metric.measured)} {_iv(metric.measured_interval)}, "
                     f"expected on the application sample {_v(metric.expected)} {_iv(metric.expected_interval)} "
                     f"({metric.method})" + (f": {metric.detail}" if metric.detail else ""))
    return lines


def shift_section(summary: Summary, figures: Mapping[str, FigureBlock], selected: str | None = None) -> Section | None:
    result = summary.shift
    if result is None:
        return None
    section = Section("shift", "Covariate shift")
    section.add(Paragraph(
        f"The labelled development objects against the application sample {result.application} (paper §5.5): a "
        "domain classifier (histogram gradient boosting, out of fold over 5 stratified folds) tells them apart; "
        "its scores p give the labelled objects importance weights w = p/(1 − p) · n_labelled/n_application, "
        f"normalised to mean 1 and clipped at {result.weight_cap:g}× the mean. The metric expected on the application "
        + ("sample weights the pooled out-of-fold predictions by w (weighted bootstrap)."
           if result.method == "weights" else
           "sample combines the metric in quintiles of the application sample's domain score with the application's "
           "share of each (propensity-score strata).")))
    for line in shift_lines(result, selected):
        section.add(Paragraph(line))
    for warning in result.warnings:
        section.add(Paragraph(warning, "warning"))
    rows = tuple((m.model, _v(m.measured), _iv(m.measured_interval), _v(m.expected), _iv(m.expected_interval),
                  m.method) for m in result.metrics)
    if rows:
        metric = result.metrics[0].metric
        section.add(Table(("model", f"{metric} measured", f"{result.confidence:.0%} interval",
                           "expected on application", f"{result.confidence:.0%} interval", "method"), rows,
                          caption="The primary metric of the pooled out-of-fold predictions, as measured (plain "
                                  "bootstrap) and as expected on the application sample",
                          numeric=(False, True, True, True, True, False)))
    chosen = result.metric_of(selected) or (result.metrics[0] if result.metrics else None)
    if chosen is not None and chosen.strata:
        section.add(Table(("domain score", "application share", "labelled objects", chosen.metric),
                          tuple((f"[{general(s.low, 3)}, {general(s.high, 3)}]", f"{s.share:.0%}", str(s.n_labelled),
                                 _v(s.value)) for s in chosen.strata),
                          caption=f"{chosen.model}: the metric in propensity-score strata",
                          numeric=(False, True, True, True)))
    section.add(Table(("feature", "own AUC", "application outside the labelled range", "labelled range"),
                      tuple((f.name, _v(f.auc), f"{f.outside:.1%}", f"[{_v(f.low)}, {_v(f.high)}]")
                            for f in result.features),
                      caption="Each feature alone between the samples (AUC > 0.5: larger in the application sample)",
                      numeric=(False, True, True, False)))
    for hist in result.histograms:
        stem = histogram_stem(hist.name)
        if stem in figures:
            section.add(figures[stem])
    for stem in ("shift_domain_scores", "shift_weights"):
        if stem in figures:
            section.add(figures[stem])
    return section
