"""What the report says, section by section, in the paper's order (pure: typed objects in, blocks out).

Objective and finish line; data; plan; baselines and candidates; the selected model; operating
points; uncertainty; power; the verdict; a methods paragraph; the record of trials. Numbers are
printed with the digits their uncertainty supports (science.numbers), probabilities as
`< 0.001`, never `2.2e-16`. Later parts of the plan (ablations, harness, covariate shift) add
their own sections through `extra`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlproj.analyse.failures import failed_fit_warnings
from mlproj.analyse.types import CaseResult, Estimate, RateCounts, Summary, or_nan
from mlproj.report.document import Bullets, Document, FigureBlock, Paragraph, Section, Table
from mlproj.science.numbers import (
    general,
    interval,
    is_probability,
    like,
    probability,
    significant,
    significant_interval,
)
from mlproj.verdict.types import ModelComparison, SelectionResult, Verdict

# The posterior probability a comparison needs for a decision (science.stats.compare's default).
DECISION_PROBABILITY = 0.95
STATES = {"reached": "reached", "not_reached": "not reached", "undetermined": "undetermined"}


@dataclass
class ReportContext:
    """What the run folder holds beside the summary and the verdict."""

    run_name: str
    project: Mapping  # project.yaml as stored (the validated project file)
    environment: Mapping  # environment.json
    plan: Mapping  # plan.json
    trials: Sequence[Mapping[str, str]] = ()  # this project's lines of runs/trials.csv
    figures: Mapping[str, FigureBlock] = field(default_factory=dict)  # stem -> figure made for this run


# ------------------------------------------------------------------------------------ numbers


def mean_se(e: Estimate | None) -> str:
    if e is None or e.mean is None:
        return "—"
    return significant(e.mean, or_nan(e.se))


def estimate_interval(e: Estimate | None) -> str:
    if e is None or e.interval[0] is None or e.interval[1] is None:
        return "—"
    return significant_interval(e.interval[0], e.interval[1], or_nan(e.se))


def finish_target(threshold: float, margin: float, greater_is_better: bool) -> str:
    """'0.9 − 0.01' (or '0.1 + 0.005' for a lower-is-better metric): the line the intervals must clear."""
    if not margin:
        return f"{threshold:g}"
    return f"{threshold:g} {'−' if greater_is_better else '+'} {margin:g}"


def counts_text(rate: RateCounts | None, metric: str) -> str:
    """'TP 1102/1152 [0.943, 0.967] · FP 13/1248': a rate with the counts behind it (paper §2.3)."""
    if not rate:
        return "—"
    low, high = rate.wilson
    wilson = f" {interval(low, high)}" if low is not None and high is not None else ""
    tp, fp, n_pos, n_neg = rate.true_positives, rate.false_positives, rate.n_positive, rate.n_negative
    if metric == "fpr_at_fnr":
        return f"FP {fp}/{n_neg}{wilson} · TP {tp}/{n_pos}"
    if metric == "purity":
        return f"TP {tp}/{tp + fp} selected{wilson}"
    return f"TP {tp}/{n_pos}{wilson} · FP {fp}/{n_neg}"


def _p(value: float | None) -> str:
    return "—" if value is None else probability(value)


# ----------------------------------------------------------------------------------- sections


def objective_section(summary: Summary, verdict: Verdict, project: Mapping) -> Section:
    section = Section("objective", "Objective and finish line")
    statement = (project.get("objective") or {}).get("statement")
    if statement:
        section.add(Paragraph(" ".join(str(statement).split())))
    items = [f"Task: {summary.task}."]
    for case in summary.cases:
        judged = verdict.selection(case.name)
        direction = "higher is better" if case.primary.greater_is_better else "lower is better"
        prefix = f"Selection {case.name}: " if len(summary.cases) > 1 else ""
        items.append(f"{prefix}primary metric {case.primary.label} ({direction}); finish line "
                     f"{case.threshold:g} with an equivalence margin of ±{case.margin:g}: reached when the "
                     f"{summary.confidence:.0%} intervals lie beyond {finish_target(case.threshold, case.margin, case.primary.greater_is_better)}"
                     + (f" — {STATES[judged.finish_line.state]}" if judged and judged.finish_line else "") + ".")
        others = [m for m in case.metrics if m != case.primary.label]
        if others and not prefix:
            items.append("Further metrics, reported but not judged: " + ", ".join(others) + ".")
    section.add(Bullets(tuple(items)))
    return section


def data_section(summary: Summary, project: Mapping, figures: Mapping[str, FigureBlock]) -> Section:
    data = summary.data
    section = Section("data", "Data")
    items = []
    if data.path:
        items.append(f"Catalogue: {Path(data.path).name} — {data.rows_read} rows read, {data.rows_used} used.")
    for reason, n in data.dropped.items():
        items.append(f"Dropped {n} rows {reason}.")
    for column, n in (data.sentinels or {}).items():
        items.append(f"{column}: {n} sentinel values turned into missing values.")
    if data.missing:
        items.append("Missing values per feature: " + ", ".join(f"{k} {v}" for k, v in data.missing.items()) + ".")
    if data.features:
        items.append(f"{len(data.features)} features: " + ", ".join(data.features) + ".")
    if data.n_development is not None:
        items.append(f"{data.n_development} objects for development (cross-validation), {data.n_test} held out "
                     "for the test.")
    section.add(Bullets(tuple(items)))
    definitions = project.get("classes") or {}
    if data.classes:
        rows = tuple((name, str(definitions.get(name, "—")), str(count)) for name, count in data.classes.items())
        positive = project.get("positive")
        section.add(Table(("class", "operational definition", "objects"), rows,
                          caption="Classes as the project file defines them"
                          + (f" (positive: {', '.join(positive) if isinstance(positive, list) else positive})"
                             if positive else ""), numeric=(False, False, True)))
    elif project.get("data", {}).get("label"):
        section.add(Paragraph(f"Target: {project['data']['label']}."))
    if "corner" in figures:
        section.add(figures["corner"])
    return section


def plan_section(summary: Summary, context: ReportContext) -> Section:
    plan, project = context.plan, context.project
    validation = project.get("validation") or {}
    section = Section("plan", "Plan")
    strategy = plan.get("strategy") or validation.get("strategy") or "stratified"
    seeds = sorted({s.get("seed") for s in plan.get("splits") or [] if s.get("seed") is not None})
    items = [f"{summary.repeats} × repeated {summary.folds}-fold {strategy} cross-validation "
             f"({summary.repeats * summary.folds} paired fold scores per model), seeds "
             + (", ".join(str(s) for s in seeds) if seeds else str(validation.get("seed", 0))) + ".",
             f"Test set: {summary.data.n_test} objects ({_share(validation.get('test_size'), project)}), "
             "scored once, by the selected model only.",
             f"{plan.get('total_fits', '—')} cross-validation fits in total."]
    if plan.get("note"):
        items.append(str(plan["note"]))
    section.add(Bullets(tuple(items)))
    rows = []
    for m in summary.models:
        params = ", ".join(f"{k}={v}" for k, v in m.params.items())
        rows.append((m.name, m.role, ("scaled " if m.scale else "") + (m.estimator or "—"), params or "—",
                     str(m.n_tasks if m.n_tasks is not None else "—"),
                     "failed" if m.every_fit_failed else "—" if m.fit_seconds is None else f"{m.fit_seconds:.2f}"))
    section.add(Table(("model", "role", "estimator", "parameters", "fits", "mean fit s"), tuple(rows),
                      numeric=(False, False, False, False, True, True)))
    return section


def comparison_section(summary: Summary, verdict: Verdict, figures: Mapping[str, FigureBlock]) -> Section:
    section = Section("comparison", "Baselines and candidates")
    for failure in failed_fit_warnings(summary):
        section.add(Paragraph(failure, "warning"))
    several = len(summary.cases) > 1
    for index, case in enumerate(summary.cases):
        section.blocks.extend(comparison_blocks(summary, verdict, case, several))
        stem = "comparison" if index == 0 else f"comparison-{index}"
        if stem in figures:
            section.add(figures[stem])
    return section


def comparison_blocks(summary: Summary, verdict: Verdict, case: CaseResult, several: bool) -> list:
    """The model table of one case (mean ± corrected SE, interval, the decision against the
    selected model) and its paired comparisons."""
    judged = verdict.selection(case.name)
    selected = judged.selected_model if judged is not None else None
    primary = case.primary.label
    against = {c.a: c for c in verdict.comparisons if c.selection in (None, case.name) and c.b == selected}
    roles = {m.name: m.role for m in summary.models}
    rows, highlight = [], set()
    for i, (name, scores) in enumerate(case.models.items()):
        estimate = scores.metrics.get(primary)
        decision = "selected" if name == selected else against[name].decision if name in against else "—"
        rows.append((name, roles.get(name, "—"), mean_se(estimate), estimate_interval(estimate),
                     counts_text(scores.rates.get(primary), case.primary.name) if scores.rates.get(primary) else "—",
                     decision))
        if name == selected:
            highlight.add(i)
    title = f"Selection {case.name}: " if several else ""
    blocks: list = [Table(("model", "role", f"{primary} (mean ± SE)", f"{summary.confidence:.0%} interval",
                           "out-of-fold counts [95% Wilson]", f"vs {selected}" if selected else "decision"),
                          tuple(rows), caption=f"{title}cross-validated {primary} over {summary.repeats} × "
                          f"{summary.folds} folds; SE corrected for overlapping training sets (Nadeau–Bengio)",
                          numeric=(False, False, True, True, False, False), highlight=frozenset(highlight))]
    comparisons = [c for c in verdict.comparisons if c.selection in (None, case.name)]
    if comparisons:
        blocks.append(Table(
            ("comparison", "improvement", f"{summary.confidence:.0%} interval", "P(better)", "P(equivalent)",
             "P(worse)", "decision"),
            tuple(_comparison_row(c) for c in comparisons),
            caption=f"Paired comparisons of the selected {comparisons[0].b} with every other model (improvement: "
                    f"how much better it scores, whichever way the metric improves; margin ±{case.margin:g}; a "
                    f"decision needs a posterior probability of {DECISION_PROBABILITY:g})",
            numeric=(False, True, True, True, True, True, False)))
    return blocks


def _comparison_row(c: ModelComparison) -> tuple[str, ...]:
    se = or_nan(c.se)
    return (f"{c.b} vs {c.a}", "—" if c.difference is None else like(c.difference, se),
            "—" if c.interval[0] is None else significant_interval(c.interval[0], or_nan(c.interval[1]), se),
            _p(c.p_better), _p(c.p_equivalent), _p(c.p_worse), c.decision)


def selection_section(summary: Summary, verdict: Verdict) -> Section:
    section = Section("selection", "Selected model")
    for case in summary.cases:
        judged = verdict.selection(case.name)
        if judged is None:
            continue
        prefix = f"{case.name}: " if len(summary.cases) > 1 else ""
        if judged.selected_model is None:
            section.add(Paragraph(f"{prefix}no model selected: {judged.reason}."))
            continue
        section.add(Paragraph(f"{prefix}{judged.selected_model} — {judged.reason}."))
        chosen = case.models[judged.selected_model].metrics
        others = [label for label in case.metrics if label != case.primary.label and label in chosen]
        items = [f"{label} = {mean_se(chosen[label])}" for label in others]
        test = summary.tested(judged.selected_model)
        result = test.cases.get(case.name) if test is not None else None
        if result is not None:
            value = result.metrics.get(case.primary.label)
            se = or_nan(chosen[case.primary.label].se) if case.primary.label in chosen else math.nan
            stored = (result.intervals or {}).get(case.primary.label)
            shown = "—" if value is None else like(value, se)
            if stored is not None and stored.interval[0] is not None:
                shown += (f", {stored.confidence:.0%} interval {interval(stored.interval[0], stored.interval[1])} "
                          f"({stored.method})")
            items.append(f"held-out test ({test.n_test} objects, used once): {case.primary.label} = {shown}")
            for label, value in result.metrics.items():
                if label != case.primary.label and value is not None:
                    items.append(f"held-out test {label} = {general(value, 4)}")
        trend = case.models[judged.selected_model].trend
        if trend is not None:
            windows = ", ".join("—" if v is None else general(v, 3) for v in trend.scores)
            items.append(f"trend over {len(trend.scores)} time windows (earliest first): {windows}; "
                         + ("the skill drifts with time" if trend.significant else "no significant drift"))
        if items:
            section.add(Bullets(tuple(items)))
    return section


def operating_points_section(summary: Summary, verdict: Verdict, figures: Mapping[str, FigureBlock]) -> Section | None:
    rows = []
    for case in summary.cases:
        judged = verdict.selection(case.name)
        selected = judged.selected_model if judged is not None else None
        if selected is None:
            continue
        for label, rate in case.models[selected].rates.items():
            rows.append((case.name, selected, label, "out of fold (first repeat)", counts_text(rate, _metric_of(label)),
                         _rate_value(rate), "—"))
        test = summary.tested(selected)
        result = test.cases.get(case.name) if test is not None else None
        for label, rate in (result.rates if result is not None else {}).items():
            threshold = getattr(rate, "threshold", None)
            rows.append((case.name, selected, label, "held-out test", counts_text(rate, _metric_of(label)),
                         _rate_value(rate), "—" if threshold is None else general(threshold, 4)))
    stems = [s for s in ("roc", "completeness-contamination") if s in figures]
    if not rows and not stems:
        return None
    section = Section("operating-points", "Operating points")
    if rows:
        section.add(Table(("selection", "model", "metric", "measured on", "counts [95% Wilson]", "achieved",
                           "threshold"), tuple(rows),
                          caption="Rates at the operating point with the counts behind them; the test threshold was "
                                  "chosen on the development set's out-of-fold predictions",
                          numeric=(False, False, False, False, False, False, True)))
    for stem in stems:
        section.add(figures[stem])
    return section


def _metric_of(label: str) -> str:
    return label.split("(", 1)[0]


def _rate_value(rate: RateCounts) -> str:
    parts = []
    if rate.achieved_tpr is not None:
        parts.append(f"TPR {general(rate.achieved_tpr, 3)}")
    if rate.achieved_fpr is not None:
        parts.append(f"FPR {general(rate.achieved_fpr, 3)}")
    return ", ".join(parts) or ("—" if rate.value is None else general(rate.value, 3))


def predictions_section(summary: Summary, verdict: Verdict, figures: Mapping[str, FigureBlock]) -> Section | None:
    if "predicted-vs-true" not in figures:
        return None
    section = Section("predictions", "Predictions")
    prior = verdict.diagnostics.toward_prior if verdict.diagnostics is not None else None
    if prior is not None and prior.overall_slope is not None:
        section.add(Paragraph(f"Prediction against truth of {verdict.diagnostics.model} (out of fold): slope "
                              f"{prior.overall_slope:.3f} (1 = no pull toward the training sample's bulk)."
                              + (f" {prior.detail}" if prior.detail else "")))
    section.add(figures["predicted-vs-true"])
    return section


def uncertainty_section(summary: Summary, verdict: Verdict, figures: Mapping[str, FigureBlock]) -> Section | None:
    section = Section("uncertainty", "Uncertainty")
    calibration = verdict.diagnostics.calibration if verdict.diagnostics is not None else None
    if calibration is not None and calibration.ece is not None:
        section.add(Paragraph(f"Calibration of {verdict.diagnostics.model}'s probabilities (out of fold, "
                              f"{len(calibration.counts)} quantile bins): expected calibration error "
                              f"{calibration.ece:.3f}."))
    for case in summary.cases:
        judged = verdict.selection(case.name)
        if judged is not None and judged.uncertainty is not None:
            section.blocks.extend(_uncertainty_blocks(summary, case, judged))
    for stem in ("reliability", "pit", "coverage-by-sigma"):
        if stem in figures:
            section.add(figures[stem])
    return section if section.blocks else None


def _uncertainty_blocks(summary: Summary, case: CaseResult, judged: SelectionResult) -> list:
    u = judged.uncertainty
    nominal = u.nominal or {"coverage_68": 0.6827, "coverage_95": 0.95}
    stored = case.models[u.model].uncertainty
    tested = summary.tested(u.model)
    test = tested.cases.get(case.name) if tested is not None else None
    rows = []
    for method, values in u.methods.items():
        cells = []
        for name in ("crps", "nll", "coverage_68", "coverage_95"):
            estimate = stored.get(f"{name}[{method}]")
            value = getattr(values, name)
            cells.append("—" if value is None else significant(value, or_nan(estimate.se) if estimate else math.nan))
        coverage = ((test.coverage if test is not None else None) or {}).get(method, {})
        held = "; ".join(f"{c.inside}/{c.n} inside ±{'1' if c.nominal < 0.9 else '1.96'}σ" for c in coverage.values())
        rows.append((method, *cells, held or "—"))
    blocks: list = [Table(("σ method", "CRPS", "NLL", f"{nominal['coverage_68']:.1%} coverage",
                           f"{nominal['coverage_95']:.0%} coverage", "held-out test"), tuple(rows),
                          caption=f"Predicted Gaussian uncertainties of {u.model}, cross-validated (mean ± SE); "
                                  "coverage should match the nominal contents",
                          numeric=(False, True, True, True, True, False))]
    for c in u.comparisons:
        blocks.append(Paragraph(f"{c.b} σ vs {c.a} σ: {c.decision}" + (f" — {c.detail}" if c.detail else "")
                                + f" (P(better) {is_probability(c.p_better)})."))
    pit = test.pit if test is not None else None
    if pit is not None:
        blocks.append(Paragraph(f"PIT of the held-out test predictions ({pit.method} σ): {pit.detail}",
                                "warning" if pit.flagged else "text"))
    for flag in u.flags or ():
        blocks.append(Paragraph(flag, "warning"))
    return blocks


def power_section(verdict: Verdict) -> Section | None:
    power = verdict.power
    if power is None:
        return None
    section = Section("power", "Power analysis")
    section.add(Paragraph(f"{power.model}: {power.detail}"))
    best = power.best_operating_point
    if best is not None:
        section.add(Paragraph(f"The most powerful operating point on the ROC (TPR {best.tpr:.3f}, FPR "
                              f"{best.fpr:.4f}) gives power {probability(best.power, 2)}."))
    return section


def verdict_section(verdict: Verdict, summary: Summary, stale: Sequence[str] = ()) -> Section:
    section = Section("verdict", "Verdict")
    for reason in stale:
        section.add(Paragraph(f"stale run: {reason}; this is the old run's verdict", "warning"))
    chosen = f"selected {verdict.selected_model}" if verdict.selected_model else "no model selected"
    section.add(Paragraph(f"{verdict.reason or ''} ({chosen}).", f"verdict-{verdict.status}"))
    for case in summary.cases:
        judged = verdict.selection(case.name)
        finish = judged.finish_line if judged is not None else None
        if finish is not None:
            prefix = f"{case.name}: " if len(summary.cases) > 1 else ""
            section.add(Paragraph(f"{prefix}finish line {finish_target(finish.threshold, finish.margin, case.primary.greater_is_better)}"
                                  f": {STATES[finish.state]} — {finish.detail}."))
    section.add(Table(("criterion", "status", "detail"),
                      tuple((c.name, c.status + ("" if c.required else " (optional)"), c.detail)
                            for c in verdict.criteria), caption="Criteria (every required one must pass)"))
    for warning in verdict.warnings:
        section.add(Paragraph(warning, "warning"))
    return section


def methods_paragraph(summary: Summary, verdict: Verdict, context: ReportContext) -> str:
    """A paragraph a paper's methods section can take as it is: the CV scheme, the test set, the
    margin, the decision rule, the selection rule and the software versions."""
    project, packages = context.project, (context.environment.get("packages") or {})
    validation = project.get("validation") or {}
    case = summary.cases[0]
    strategy = {"stratified": "stratified ", "group": "grouped ", "time": "time-ordered "}.get(
        str(validation.get("strategy", "")), "")
    baselines = [m.name for m in summary.models if m.role == "baseline"]
    candidates = [m.name for m in summary.models if m.role != "baseline"]
    ratio = "n_val/n_train" if summary.val_train_ratio is not None else "1/(k − 1)"
    rate_note = (" Rates have a floor from their counts: the interval is the wider of the corrected-t interval "
                 "and the Wilson interval of the pooled out-of-fold counts.") if any(
        m.proportions for m in case.models.values()) else ""
    test = ""
    if summary.data.n_test:
        test = (f" {summary.data.n_test} objects ({_share(validation.get('test_size'), project)}) were held out "
                "before any fit and used once, to score the selected model; the finish line was judged on both "
                "the cross-validated and the held-out test interval (Wilson for rates, a bootstrap over the test "
                "objects otherwise) and is reached only if both are.")
    versions = ", ".join(f"{name} {packages[name]}" for name in ("mlproj", "scikit-learn", "numpy", "scipy")
                         if name in packages)
    python = context.environment.get("python")
    text = (
        f"We compared {len(candidates)} candidate model{'s' if len(candidates) != 1 else ''} "
        f"({', '.join(candidates) or 'none'}) with {len(baselines)} baseline{'s' if len(baselines) != 1 else ''} "
        f"({', '.join(baselines) or 'none'}) on {case.primary.label}, using {summary.repeats} × repeated "
        f"{summary.folds}-fold {strategy}cross-validation of {summary.data.n_development} development objects, "
        f"with the same splits and seeds for every model.{test} Each model's score is the mean over the "
        f"{summary.repeats * summary.folds} folds with the corrected standard error of Nadeau & Bengio (2003), "
        f"se = sd·√(1/J + {ratio}), and Student-t intervals at {summary.confidence:.0%}.{rate_note} Models were "
        "compared on their paired fold scores with the Bayesian correlated t-test (Corani & Benavoli 2015) and a "
        "region of practical "
        f"equivalence of ±{case.margin:g}; a comparison was decided (improved, equivalent or worse) when a posterior "
        f"probability reached {DECISION_PROBABILITY:g}. Among the models equivalent to the best, the simplest "
        "(trivial baseline, then linear models, then trees, then others) was selected. The finish line was "
        f"{case.primary.label} {'≥' if case.primary.greater_is_better else '≤'} {case.threshold:g} within the "
        f"margin: reached when the interval lies wholly beyond "
        f"{finish_target(case.threshold, case.margin, case.primary.greater_is_better)}, not reached when it "
        f"lies wholly short of it, and undetermined otherwise. The verdict was {verdict.status.upper()}"
        + (f" (selected model: {verdict.selected_model})" if verdict.selected_model else "") + ". "
        f"Software: {versions}" + (f", Python {python}" if python else "") + "."
    )
    return text


def _share(test_size, project: Mapping | None = None) -> str:
    """'20% of the catalogue' for a fraction, '500 objects chosen' for a count."""
    if project is not None and (project.get("data") or {}).get("test_path"):
        return "the external test catalogue data.test_path"
    if isinstance(test_size, (int, float)) and 0 < test_size < 1:
        return f"{test_size:.0%} of the catalogue"
    return "a fixed number of objects" if test_size else "a share of the catalogue"


def methods_section(summary: Summary, verdict: Verdict, context: ReportContext) -> Section:
    section = Section("methods", "Methods (ready to paste)")
    section.add(Paragraph(methods_paragraph(summary, verdict, context)))
    return section


def trials_section(trials: Sequence[Mapping[str, str]]) -> Section:
    section = Section("trials", "Record of trials")
    if not trials:
        section.add(Paragraph("No earlier runs are recorded for this project."))
        return section
    rows = tuple((t.get("time", ""), t.get("run", ""), t.get("models", ""), t.get("selected", "") or "—",
                  _trial_score(t), t.get("verdict", "")) for t in trials)
    section.add(Table(("time (UTC)", "run", "models", "selected", "primary (mean ± SE)", "verdict"), rows,
                      caption="Every run of this project in this folder (runs/trials.csv), including what did not "
                              "work (paper §6.2)"))
    return section


def _trial_score(trial: Mapping[str, str]) -> str:
    try:
        mean, se = float(trial.get("mean", "nan")), float(trial.get("se", "nan"))
    except ValueError:
        return "—"
    return "—" if math.isnan(mean) else significant(mean, se)


def report_document(summary: Summary, verdict: Verdict, context: ReportContext,
                    extra: Sequence[Section] = ()) -> Document:
    """The whole report, sections in the paper's order; `extra` (ablations, harness, shift) before
    the verdict."""
    figures = context.figures
    name = summary.project or context.project.get("name") or context.run_name
    sections = [objective_section(summary, verdict, context.project),
                data_section(summary, context.project, figures),
                plan_section(summary, context),
                comparison_section(summary, verdict, figures),
                selection_section(summary, verdict),
                operating_points_section(summary, verdict, figures),
                predictions_section(summary, verdict, figures),
                uncertainty_section(summary, verdict, figures),
                power_section(verdict),
                *extra,
                verdict_section(verdict, summary),
                methods_section(summary, verdict, context),
                trials_section(context.trials)]
    created = context.environment.get("created", "")
    return Document(f"{name}: {verdict.status.upper()}", f"Run {context.run_name}" + (f", {created}" if created else ""),
                    verdict.status, [s for s in sections if s is not None])


def verdict_document(verdict: Verdict, summary: Summary, project: str, stale: Sequence[str] = ()) -> Document:
    """`mlproj verdict --markdown`: the verdict, the finish line, the criteria, the comparisons."""
    comparisons = Section("comparisons", "Comparisons")
    several = len(summary.cases) > 1
    for case in summary.cases:
        comparisons.blocks.extend(comparison_blocks(summary, verdict, case, several))
    from mlproj.report.ablations import ablation_section

    ablations = ablation_section(summary)  # findings beside the verdict, not criteria
    return Document(f"{project}: {verdict.status.upper()}", f"mlproj verdict (exit code {verdict.exit_code})",
                    verdict.status, [verdict_section(verdict, summary, stale), comparisons]
                    + ([ablations] if ablations is not None else []))
