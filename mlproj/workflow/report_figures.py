"""Which figures a run gets, and the numbers each is drawn from (the run folder alone).

Classification: the comparison chart, ROC and completeness–contamination curves of every model's
out-of-fold predictions with the selected model's operating point, the reliability diagram, the
corner plot of the features by class. Regression: the comparison chart, predicted against true,
the PIT histogram and the coverage by predicted σ of the held-out test predictions, the corner
plot. A figure whose numbers are missing (a model whose folds failed, no σ method) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlproj.analyse.types import CaseResult, Summary
from mlproj.report import figure_data as data
from mlproj.report.document import FigureBlock
from mlproj.store.tables import read_columns
from mlproj.verdict.types import Verdict
from mlproj.workflow.evaluation import FILES, FOLDER, SEPARATOR, Columns

CORNER_FEATURES = 6  # the first features, unless report.corner_features names them
OPERATING_POINT_METRICS = ("tpr_at_fpr", "fpr_at_fnr")


@dataclass(frozen=True)
class FigureJob:
    """One figure to draw: its file stem, the kind of drawing (report.figures.DRAWERS) and its data."""

    stem: str
    kind: str
    data: object
    caption: str
    alt: str

    @property
    def block(self) -> FigureBlock:
        return FigureBlock(self.stem, self.caption, self.alt)


Drawn = dict[str, tuple[FigureBlock, bytes, bytes]]  # stem -> (its block, PNG, PDF)


def read_evaluation(run_dir: Path) -> tuple[Columns | None, Columns | None, Columns | None]:
    """The run's development, test and features columns (None for a file the run does not have)."""
    folder = run_dir / FOLDER
    return tuple(read_columns(folder / name) if (folder / name).exists() else None for name in FILES)


def make_figures(run_dir: Path, folder: Path, summary: Summary, verdict: Verdict, project: Mapping, *,
                 drawn: Drawn | None = None) -> tuple[dict[str, tuple[FigureBlock, bytes]], list[Path]]:
    """Write every figure of the run in `folder`: stem -> (its block, PNG bytes), and the files.
    `drawn`: figures a run already drew (in its figure workers); otherwise drawn here from the
    run folder's evaluation/."""
    if drawn is None:
        development, test, features = read_evaluation(run_dir)
        jobs = figure_jobs(summary, verdict, project, development, test)
        corner = corner_job(features, summary.data.features, list(summary.data.classes), summary.task, project) \
            if features is not None else None
        drawn = draw_here(jobs + ([corner] if corner else []))
    from mlproj.report.figure_files import write

    made, paths = {}, []
    for stem, (block, png, pdf) in drawn.items():  # in the order the jobs were listed
        paths.extend(write(folder, stem, png, pdf))
        made[stem] = (block, png)
    return made, paths


def draw_here(jobs: list[FigureJob]) -> Drawn:
    from mlproj.report.figures import render

    return {job.stem: (job.block, *render(job.kind, job.data)) for job in jobs}


def figure_jobs(summary: Summary, verdict: Verdict, project: Mapping, development: Columns | None,
                test: Columns | None, *, parts: tuple[str, ...] = ("cross-validation", "test")) -> list[FigureJob]:
    """Every figure of the run but the corner plot (corner_job), with its numbers. `parts`: the
    figures of the cross-validation (known before the final fits) and/or of the held-out test."""
    jobs: list[FigureJob] = []
    cross_validation, held_out = "cross-validation" in parts, "test" in parts
    for index, case in enumerate(summary.cases if cross_validation else ()):
        chart = comparison(summary, verdict, case)
        if chart is not None:
            jobs.append(FigureJob(
                "comparison" if index == 0 else f"comparison-{index}", "comparison", chart,
                f"Cross-validated {case.primary.label} of every model{_of(summary, case)}: mean ± corrected SE "
                f"(thick) and {summary.confidence:.0%} interval (thin); the finish line {case.threshold:g} with its "
                f"margin ±{case.margin:g} shaded; each model's decision against the selected one.",
                f"comparison chart of {case.primary.label}"))
    main = summary.cases[0]
    judged = verdict.selection(main.name)
    selected = judged.selected_model if judged is not None else None
    classes = list(summary.data.classes)
    if summary.task == "classification" and development is not None and cross_validation:
        curves = positive_scores(summary, main, development, classes)
        if curves is not None:
            names, roles, is_positive, scores = curves
            point = operating_point(main, selected)
            jobs.append(FigureJob(
                "roc", "roc", data.roc_data(names, roles, is_positive, scores, selected=selected, operating=point),
                f"ROC curves of the out-of-fold predictions (first repeat, every development object once) for the "
                f"positive class {_positives(main, classes)}"
                + (f"; the selected model's operating point with its 95% Wilson box ({point.tp}/{point.n_pos} "
                   f"positives, {point.fp}/{point.n_neg} negatives selected)" if point else "") + ".",
                "ROC curves"))
            jobs.append(FigureJob(
                "completeness-contamination", "completeness_contamination",
                data.completeness_contamination_data(names, roles, is_positive, scores, selected=selected,
                                                     operating=point),
                "Completeness (true-positive rate) against contamination (the fraction of the selected objects "
                "that are not " + _positives(main, classes) + "), out of fold, over all thresholds"
                + ("; the operating point with its 95% Wilson box" if point else "") + ".",
                "completeness against contamination"))
    calibration = verdict.diagnostics.calibration if verdict.diagnostics is not None else None
    if calibration is not None and calibration.counts and cross_validation:
        jobs.append(FigureJob(
            "reliability", "reliability",
            data.reliability_data(calibration.mean_predicted, calibration.observed_fraction, calibration.counts,
                                  calibration.wilson, calibration.ece, label=verdict.diagnostics.model),
            f"Reliability of {verdict.diagnostics.model}'s out-of-fold probabilities: the observed fraction "
            "of positives in quantile bins of the predicted probability, with 95% Wilson intervals; the "
            "diagonal is perfect calibration.", "reliability diagram"))
    if summary.task == "regression" and selected is not None:
        target = str((project.get("data") or {}).get("label") or "target")
        mu = f"{selected}{SEPARATOR}mu"
        if development is not None and mu in development and cross_validation:
            bound, relative = outlier_bound(project)
            jobs.append(FigureJob(
                "predicted-vs-true", "predicted_vs_true",
                data.predicted_vs_true_data(development["y"], development[mu], target_name=target,
                                            outlier_bound=bound, relative=relative),
                f"Out-of-fold predictions of {selected} against the true {target} (first repeat), with the 1:1 "
                "line and the median prediction (16–84% band) in quantile bins of the truth"
                + (f"; the dashed lines bound the outliers, |Δ| > {bound:g} with Δ = "
                   + ("(ŷ − y)/(1 + y)" if relative else "ŷ − y") if bound else "") + ".",
                f"predicted against true {target}"))
        tested = summary.tested(selected)
        result = tested.cases.get(main.name) if tested is not None else None
        pit = result.pit if result is not None else None
        if pit is not None and pit.histogram and held_out:
            jobs.append(FigureJob(
                "pit", "pit", data.pit_data(pit.histogram, pit.bin_edges),
                f"PIT histogram of the held-out test predictions of {selected} ({pit.method} σ): a calibrated "
                "Gaussian uncertainty gives a flat histogram at 1, inside the ±2σ band; a peak means σ is too "
                "large, a U shape too small.", "PIT histogram"))
            sigma = f"{selected}{SEPARATOR}sigma[{pit.method}]"
            if test is not None and sigma in test and mu in test:
                jobs.append(FigureJob(
                    "coverage-by-sigma", "coverage", data.coverage_data(test["y"], test[mu], test[sigma]),
                    f"Coverage of the held-out test objects in bins of the predicted σ ({pit.method}): the "
                    "fraction inside ±1σ and ±1.96σ with 95% Wilson intervals, against the nominal 68.27% and "
                    "95%.", "coverage by predicted σ"))
    if cross_validation:
        jobs.extend(ablation_jobs(summary))
    if held_out and summary.interrogation is not None:  # asked of the final fit, after the test
        from mlproj.workflow.interrogation import figure_jobs as interrogation_jobs

        jobs.extend(interrogation_jobs(summary))
    if cross_validation and summary.shift is not None:
        from mlproj.workflow.shift import figure_jobs as shift_jobs

        jobs.extend(shift_jobs(summary))
    return jobs


def ablation_jobs(summary: Summary) -> list[FigureJob]:
    """The ablation chart (mlproj.report.ablations), when the run has ablations."""
    from mlproj.report.ablations import FIGURE_STEM, ablation_chart_data

    chart = ablation_chart_data(summary.ablations or [], interval_label=f"{summary.confidence:.0%} interval")
    if chart is None:
        return []
    return [FigureJob(
        FIGURE_STEM, "ablations", chart,
        f"Feature ablations: the cross-validated {chart.metric_label} of each ablation minus that of its full model "
        f"on the same folds, ± corrected SE (thick) and {summary.confidence:.0%} interval (thin), coloured by the "
        f"decision; the margin ±{chart.margin:g} shaded around zero (inside it: the information removed is not "
        "needed).", "ablation chart")]


def _of(summary: Summary, case: CaseResult) -> str:
    return f" (selection {case.name})" if len(summary.cases) > 1 else ""


def _positives(case: CaseResult, classes: list[str]) -> str:
    names = [classes[i] for i in case.positive if i < len(classes)]
    return " + ".join(names) or "positive"


def comparison(summary: Summary, verdict: Verdict, case: CaseResult) -> data.ComparisonData | None:
    judged = verdict.selection(case.name)
    selected = judged.selected_model if judged is not None else None
    against = {c.a: c.decision for c in verdict.comparisons if c.selection in (None, case.name) and c.b == selected}
    roles = {m.name: m.role for m in summary.models}
    names = list(case.models)
    estimates = [case.models[n].metrics.get(case.primary.label) for n in names]
    if not any(e is not None and e.mean is not None for e in estimates):
        return None
    return data.comparison_data(
        names, [roles.get(n, "candidate") for n in names], [e.mean if e else None for e in estimates],
        [e.se if e else None for e in estimates], [tuple(e.interval) if e else None for e in estimates],
        [against.get(n) for n in names], selected, case.threshold, case.margin, case.primary.label,
        case.primary.greater_is_better, interval_label=f"{summary.confidence:.0%} interval")


def positive_scores(summary: Summary, case: CaseResult, columns: Mapping[str, np.ndarray], classes: list[str]):
    """(names, roles, is_positive, scores) of every model with out-of-fold predictions: the summed
    probability of the case's positive classes (a historical score as it is)."""
    if not case.positive:
        return None
    is_positive = np.isin(columns["y"], case.positive)
    names, roles, scores = [], [], []
    for model in summary.models:
        probabilities = [f"{model.name}{SEPARATOR}p[{classes[i]}]" for i in case.positive if i < len(classes)]
        historical = f"{model.name}{SEPARATOR}score"
        if probabilities and all(p in columns for p in probabilities):
            score = np.sum([columns[p].astype(float) for p in probabilities], axis=0)
        elif historical in columns:
            score = columns[historical].astype(float)
        else:
            continue
        names.append(model.name)
        roles.append(model.role)
        scores.append(score)
    return (names, roles, is_positive, scores) if names else None


def operating_point(case: CaseResult, selected: str | None) -> data.OperatingPoint | None:
    """The selected model's out-of-fold operating point (its pooled counts) of an operating-point primary."""
    if selected is None or case.primary.name not in OPERATING_POINT_METRICS:
        return None
    rate = case.models[selected].rates.get(case.primary.label)
    if rate is None:
        return None
    return data.operating_point(rate.true_positives, rate.n_positive, rate.false_positives, rate.n_negative,
                                name=selected)


def outlier_bound(project: Mapping) -> tuple[float | None, bool]:
    """The catastrophic-outlier bound of the project's outlier_fraction metric (DESIGN §6: |Δ| > 0.15)."""
    metric = project.get("metric") or {}
    for spec in [metric.get("primary"), *(metric.get("secondary") or [])]:
        if isinstance(spec, dict) and spec.get("name") == "outlier_fraction":
            params = spec.get("params") or {}
            return float(params.get("threshold", 0.15)), bool(params.get("relative", True))
    return None, False


def corner_job(features: Columns, feature_names: list[str], class_names: list[str], task: str,
               project: Mapping) -> FigureJob | None:
    """The corner plot of the features of a sample of development objects (features.parquet)."""
    chosen = (project.get("report") or {}).get("corner_features") or \
        [f for f in feature_names if f in features][:CORNER_FEATURES]
    chosen = [f for f in chosen if f in features]
    if not chosen or len(features["y"]) == 0:
        return None
    X = np.column_stack([features[f].astype(float) for f in chosen])
    by_class = task == "classification"
    corner = data.Deferred("corner_data", (X, chosen, features["y"].astype(int) if by_class else None,
                                           class_names if by_class else None), {"max_features": len(chosen)})
    return FigureJob("corner", "corner", corner,
                     f"The features {', '.join(chosen)} of a sample of the development objects"
                     + (" coloured by class" if by_class else "") + " (contours for large classes, points for small "
                     "ones; the axes span the 0.5–99.5% range of the values).", "corner plot of the features")
