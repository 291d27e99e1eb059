"""The application sample in `mlproj run` (paper §5.5): shift diagnostics and its predictions.

`assess_shift` reads data.application with the labelled catalogue's definitions, compares it with
the labelled development rows (never the held-out test set) and puts a ShiftResult into the
Summary; `write_application_predictions` applies the selected model to it once the run is in
place, with the columns of `mlproj predict` (application_predictions.csv in the run folder).
The figures are drawn from the Summary alone (`figure_jobs`), so `mlproj report` draws them again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlproj.analyse.shift import shift_result
from mlproj.analyse.types import Summary
from mlproj.data.application import load_application
from mlproj.errors import MlprojError
from mlproj.report import shift as report

__all__ = ["APPLICATION_PREDICTIONS", "assess_shift", "save_domain_model", "write_application_predictions",
           "figure_jobs"]

APPLICATION_PREDICTIONS = "application_predictions.csv"


def assess_shift(prepared, summary: Summary, pooled: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """summary.shift for a project with `shift:` (or only data.application: the diagnostics without a
    method are still worth having, judged by nothing)."""
    loaded, dataset, plan = prepared.loaded, prepared.dataset, prepared.plan
    application = prepared.application or load_application(loaded, dataset.feature_names)
    development = np.asarray(plan.development)
    position = np.full(dataset.n_rows, -1)
    position[development] = np.arange(len(development))
    positions = {model: (position[rows], predictions) for model, (rows, predictions) in pooled.items()
                 if (position[rows] >= 0).all()}
    asked = loaded.project.shift
    seed = plan.splits[0].seed if plan.splits else loaded.project.validation.seed
    result, _ = shift_result(
        dataset.X[development], application.X, dataset.feature_names,
        method=asked.method if asked is not None else "weights", required=bool(asked and asked.required),
        application=str(loaded.project.data.application), seed=seed,
        confidence=loaded.project.validation.confidence, task_kind=plan.task_kind, case=prepared.cases[0],
        y_labelled=dataset.y[development], pooled=positions)
    summary.shift = result
    summary.warnings.extend(result.warnings)


def save_domain_model(run_dir: Path, prepared) -> None:
    """models/domain.skops: the domain classifier on every labelled development and application object,
    for the domain_score of `mlproj predict` (saved with skops, loaded after the type check)."""
    from mlproj.plan.estimators import model_types
    from mlproj.science.shift import domain_model
    from mlproj.store.model_files import save_model
    from mlproj.workflow.predict import DOMAIN_MODEL

    plan, dataset = prepared.plan, prepared.dataset
    seed = plan.splits[0].seed if plan.splits else prepared.loaded.project.validation.seed
    model = domain_model(dataset.X[np.asarray(plan.development)], prepared.application.X, seed=seed)
    folder = Path(run_dir) / "models"
    folder.mkdir(exist_ok=True)
    save_model(model, folder / DOMAIN_MODEL, model_types(prepared.loaded.project.allow_imports))


def write_application_predictions(run_dir: Path, loaded) -> Path | None:
    """The selected model's predictions of data.application, as `mlproj predict` writes them (its
    extrapolated flag included); None when the run saved no model to apply."""
    from mlproj.workflow.predict import predict

    out = Path(run_dir) / APPLICATION_PREDICTIONS
    try:
        predict(Path(run_dir), loaded.resolve(loaded.project.data.application), out)
    except MlprojError:
        return None  # no saved model (a historical method selected): nothing to apply
    return out


def figure_jobs(summary: Summary) -> list:
    """The covariate-shift figures: key features labelled vs application, domain scores, weights."""
    from mlproj.workflow.report_figures import FigureJob

    result = summary.shift
    if result is None:
        return []
    jobs = []
    for hist in result.histograms:
        jobs.append(FigureJob(report.histogram_stem(hist.name), "shift_histogram", report.histogram_data(hist),
                              f"{hist.name}: the labelled development objects, the application sample and the "
                              "labelled objects reweighted by the importance weights (densities).",
                              f"{hist.name}, labelled vs application"))
    if result.domain_scores is not None:
        jobs.append(FigureJob("shift_domain_scores", "shift_histogram", report.histogram_data(result.domain_scores),
                              "Out-of-fold domain score P(application | x) of the labelled and the application "
                              f"objects (domain AUC {report.auc_text(result)}).", "domain scores"))
    if result.weights is not None:
        jobs.append(FigureJob("shift_weights", "shift_histogram", report.histogram_data(result.weights),
                              f"Importance weights of the labelled objects (mean 1, clipped at {result.weight_cap:g}; "
                              f"effective sample size {result.ess:.0f} of {result.n_labelled}).", "importance weights"))
    return jobs
