"""The `mlproj run` workflow as a library: prepare, execute, analyse, judge, record.

The CLI only renders what these functions return. Nothing is written to the run directory
until every task has finished, and every finished fit is in the cache at once, so an
interrupted run loses nothing and leaves no half-written run behind: the run folder is written
hidden and renamed into place when complete (rundir.start_run_dir, publish_run).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from mlproj.analyse import summary as analysis
from mlproj.analyse.ablations import summarize_ablations
from mlproj.analyse.diagnostics import hypothesis_power, model_diagnostics
from mlproj.analyse.types import DataDescription, StrongFeature, Summary, TestSet, finite
from mlproj.analyse.variants import search_choices, search_warnings
from mlproj.data.dataset import Dataset, load_dataset
from mlproj.data.leakage import check_leakage, strong_features
from mlproj.errors import STORAGE_ERRNOS, DataError, MlprojError, RunError, storage_error
from mlproj.execute.backends import run_tasks
from mlproj.execute.cache import Cache, TaskOutput
from mlproj.execute.tasks import spread_path
from mlproj.execute.threads import threadpool_controller
from mlproj.memory import heavy_imports, return_freed_memory
from mlproj.plan.compile import Plan, Task, compile_plan
from mlproj.plan.estimators import (
    HISTORICAL,
    ModelSpec,
    model_types,
    resolve_specs,
    supports_missing_values,
)
from mlproj.plan.splits import check_split_feasible
from mlproj.project.loading import LoadedProject
from mlproj.store import model_files as persist
from mlproj.store import rundir
from mlproj.store.trials import FILE as TRIALS_FILE
from mlproj.store.trials import append_trial
from mlproj.verdict.judge import judge
from mlproj.verdict.types import Verdict
from mlproj.workflow.evaluation import (
    development_columns,
    features_columns,
    pooled_predictions,
    test_columns,
    write_evaluation,
)
from mlproj.workflow.figure_pool import FigureDrawing, figure_pool
from mlproj.workflow.report import figures_enabled, write_report
from mlproj.workflow.report_figures import corner_job, figure_jobs

CACHE_DIR = Path(".mlproj") / "cache"


@dataclass
class Prepared:
    loaded: LoadedProject
    dataset: Dataset
    plan: Plan
    cases: list[analysis.Case]
    # Single features that separate the classes (predict the target) alone, on the development set.
    strong_features: list[StrongFeature] = field(default_factory=list)
    application: object | None = None  # data.application read with the same definitions (workflow.shift)


@dataclass
class RunOutcome:
    run_dir: Path
    verdict: Verdict
    fitted: int
    cached: int
    failed: int
    summary: Summary | None = field(repr=False, default=None)
    mismatched: int = 0  # cache entries that held another key's fit (or none): refitted
    report: Path | None = None  # report.html of the run, when it was written
    report_error: str | None = None  # why the report could not be written (the run is complete without it)


def prepare(loaded: LoadedProject) -> Prepared:
    """Validate estimators and data, and compile the plan (no fitting)."""
    if figures_enabled(loaded.project.model_dump(include={"report"}, mode="json")):
        figure_pool()  # its worker imports matplotlib while the catalogue is read (workflow.figure_pool)
    with heavy_imports():
        from sklearn import __version__ as sklearn_version

        specs = resolve_specs(loaded)  # imports the estimators' modules
    cases = analysis.resolve_cases(loaded.project)
    dataset = load_dataset(loaded)
    _check_missing_values(dataset, specs, loaded)
    validation = loaded.project.validation
    problem = check_split_feasible(validation.strategy, dataset.y, dataset.groups, validation.folds,
                                   validation.test_size, loaded.project.objective.task, order=dataset.order,
                                   group_name=loaded.project.data.groups or "groups",
                                   order_name=loaded.project.data.order or "order", class_names=dataset.classes)
    if problem:
        stratified = validation.strategy == "stratified"
        raise DataError(problem, where=loaded.where("validation", "folds" if stratified else "strategy"),
                        hint="reduce validation.folds or test_size, merge rare classes, or add labelled objects"
                        if stratified else "choose fewer folds, a smaller test set or another strategy")
    plan = compile_plan(loaded.project, specs, dataset.y, dataset.feature_names, dataset.fingerprint,
                        library_version=sklearn_version, groups=dataset.groups, order=dataset.order,
                        where=loaded.where, test_rows=dataset.test_rows)
    if plan.note:
        dataset.warnings.append(plan.note)
    task = loaded.project.objective.task
    positive = cases[0].positives[0] if cases[0].positives else None
    allowed = loaded.project.data.allowed_strong_features
    # Measured once: the grouped messages and the verdict's no_label_leak read the same findings.
    strong = strong_features(dataset.X, dataset.y, dataset.feature_names, plan.development, task=task,
                             positive=positive, class_names=dataset.classes)
    for finding in check_leakage(dataset.X, dataset.y, dataset.feature_names, plan.test, plan.development,
                                 task=task, positive=positive, groups=dataset.groups, class_names=dataset.classes,
                                 group_name=loaded.project.data.groups, acknowledged=allowed, strong=strong):
        (dataset.notes if finding.severity == "note" else dataset.warnings).append(finding.message)
    return_freed_memory()  # what reading and the checks used, before the fits need it
    prepared = Prepared(loaded, dataset, plan, cases,
                        [StrongFeature(f.feature, f.statistic, finite(f.value), f.label_function,
                                       f.feature in allowed) for f in strong])
    if loaded.project.data.application:  # read before any fit (and at `mlproj check`): a missing column stops here
        from mlproj.data.application import load_application

        prepared.application = load_application(loaded, dataset.feature_names)
    if loaded.project.harness:  # its cases files and feature names, before any fit (and at `mlproj check`)
        from mlproj.workflow.harness import check_harness

        check_harness(prepared)
    return prepared


def _check_missing_values(dataset: Dataset, specs: list[ModelSpec], loaded: LoadedProject) -> None:
    missing = dataset.missing_by_feature()
    if not missing:
        return
    task = loaded.project.objective.task
    unable = [s.name for s in specs if not s.impute and not supports_missing_values(s, task)]
    if unable:
        listed = ", ".join(f"{k} ({v})" for k, v in list(missing.items())[:6])
        raise DataError(
            f"features have missing values (NaN or empty cells: {listed}), which {', '.join(unable)} cannot handle",
            where=loaded.where("data", "features"),
            hint="set data.missing: impute (median imputation plus a missing-value indicator inside every model), "
                 "use only estimators that accept missing values (e.g. HistGradientBoosting, RandomForest), or "
                 "drop those features",
        )


def _import_skops_in_background() -> None:
    """Import skops beside the fits (compiled fits leave the GIL free).

    The final model is saved with skops, whose import takes ~0.1 s of CPU even without its list
    of estimators (see persist.skops_io). At -j 1 it runs on the core the fits leave spare; at
    -j 2 it only moves that time off the end of the run. The fits' thread controller is made
    first: made beside the import, it would wait for it.
    """
    import threading

    threadpool_controller()

    def load() -> None:
        try:
            persist.skops_io()
        except Exception:  # noqa: BLE001 - the real import later reports any problem
            pass

    threading.Thread(target=load, name="import-skops", daemon=True).start()


def run_project(prepared: Prepared, *, n_jobs: int, on_task: Callable[[TaskOutput], None] | None = None,
                scheduler: str | None = None) -> RunOutcome:
    loaded, dataset, plan, cases = prepared.loaded, prepared.dataset, prepared.plan, prepared.cases
    _import_skops_in_background()
    cache = Cache(loaded.root / CACHE_DIR)
    cache.sweep_temporary()
    cache.write_failure()  # forget one an earlier run in this process left
    runs = project_runs(loaded)
    rundir.sweep_unfinished_runs(runs)
    project = loaded.project.model_dump(mode="json")
    # The corner plot needs only the data: drawn by a figure worker while the fits run.
    drawing = FigureDrawing(figures_enabled(project))
    features = features_columns(prepared)
    if drawing.enabled:
        drawing.submit(corner_job(features, dataset.feature_names, dataset.classes or [], plan.task_kind, project))
    fitted_tasks = [t for t in plan.tasks if plan.model(t.model).estimator != HISTORICAL]
    outputs = run_tasks(plan, fitted_tasks, dataset.X, dataset.y, cache, n_jobs=n_jobs, on_done=on_task,
                        errors=dataset.errors, ranges=dataset.limit_ranges, recompute=dataset.recompute,
                        scheduler=scheduler, workers=loaded.project.execution.workers, release=True)
    _check_stored(cache, outputs)
    if fitted_tasks and len(fitted_tasks) == len(plan.tasks) and all(o.error for o in outputs.values()):
        raise RunError(_every_fit_failed(plan, outputs), where=str(loaded.path),
                       hint="fix the estimators or their params (`mlproj estimators` lists the allowed ones; "
                            "`mlproj check` knows parameter names, not every combination), then run again")
    outputs.update(_historical_outputs(plan, [t for t in plan.tasks if t not in fitted_tasks], dataset, on_task))

    rows, rates = analysis.results_rows(plan, outputs, dataset.y, cases)
    summary = build_summary(prepared, rows, rates)
    # Feature ablations: cross-validation only, on the same splits and seeds (never the test set).
    ablation_outputs = run_tasks(plan, plan.ablation_tasks, dataset.X, dataset.y, cache, n_jobs=n_jobs,
                                 on_done=on_task, errors=dataset.errors, ranges=dataset.limit_ranges,
                                 recompute=dataset.recompute, scheduler=scheduler,
                                 workers=loaded.project.execution.workers, release=True)
    _check_stored(cache, ablation_outputs)
    summary.ablations = summarize_ablations(plan, ablation_outputs, dataset.y, cases[0], summary.cases[0],
                                            confidence=loaded.project.validation.confidence)
    provisional = judge(summary)
    selected = sorted({case.selected_model for case in provisional.selections if case.selected_model})
    main_selected = provisional.selections[0].selected_model
    if main_selected is not None:  # out-of-fold only: known before the final fits
        summary.diagnostics = model_diagnostics(plan, outputs, dataset.y, cases[0], main_selected)
    pooled = pooled_predictions(prepared, outputs)
    if prepared.application is not None:  # covariate shift (paper §5.5), before its figures are submitted
        from mlproj.workflow.shift import assess_shift

        assess_shift(prepared, summary, pooled)
    development = development_columns(prepared, pooled)
    if drawing.enabled:  # drawn by the figure workers while the selected models are fitted and tested
        for job in figure_jobs(summary, judge(summary), project, development, None, parts=("cross-validation",)):
            drawing.submit(job)
    final_outputs: dict[str, TaskOutput] = {}
    if selected:
        # The held-out test set is touched once, by the selected models only (paper §5.6).
        finals = [plan.final_tasks[name] for name in selected]
        to_fit = [t for t in finals if plan.model(t.model).estimator != HISTORICAL]
        final_outputs = run_tasks(plan, to_fit, dataset.X, dataset.y, cache, n_jobs=n_jobs, errors=dataset.errors,
                                  ranges=dataset.limit_ranges, recompute=dataset.recompute, keep_models=True,
                                  workers=loaded.project.execution.workers)
        _check_stored(cache, final_outputs)
        final_outputs.update(_historical_outputs(plan, [t for t in finals if t not in to_fit], dataset, None))
        summary.test = TestSet(uses=record_test_use(loaded, {t.model: t.key for t in finals}, dataset.file_hash,
                                                    plan.test))
        for task in finals:
            output = final_outputs[task.key]
            if output.predictions is not None:
                # Each model is scored only on the cases that selected it: a score of another
                # case's model on this case would be a second look at the test set, unasked.
                chosen_for = {s.selection for s in provisional.selections if s.selected_model == task.model}
                summary.test.models[task.model] = analysis.score_test(
                    task.model, output.predictions, plan, dataset.y, cases,
                    analysis.pooled_development_predictions(plan, outputs, task.model), only=chosen_for,
                    confidence=loaded.project.validation.confidence)
        if summary.test.uses > 1:
            summary.warnings.append(
                f"the held-out test set has now been used by {summary.test.uses} different model configurations "
                "in this folder (of this or another project file scored on the same test objects): choosing "
                "between them on it makes it part of the training; its score is no longer an independent "
                "estimate (paper §5.6)")
    for judged in provisional.selections:  # time-ordered windows: does the chosen model's skill drift?
        drift = analysis.trend_warning(summary, judged.selection, judged.selected_model)
        if drift:
            summary.warnings.append(drift)
    if main_selected is not None:
        prior = summary.diagnostics.toward_prior
        if prior is not None and prior.detail:
            summary.warnings.append(f"{main_selected}: {prior.detail}")
    if loaded.project.harness or loaded.project.interrogate is not None:
        _probe_selected(prepared, summary, cache, main_selected if selected else None, pooled)
    hypotheses = loaded.project.objective.hypotheses
    if hypotheses is not None and main_selected is not None:
        summary.power = hypothesis_power(plan, outputs, dataset.y, cases[0], summary.cases[0], main_selected,
                                         hypotheses)
    # The values each nested search chose, fold by fold (and for the final fit), and whether they agree.
    summary.search = search_choices(plan.tasks, outputs, plan.final_tasks, final_outputs)
    summary.warnings.extend(search_warnings(summary.search))
    verdict = judge(summary)
    everything = list(outputs.values()) + list(final_outputs.values()) + list(ablation_outputs.values())
    # A run with failed fits is never "up to date": the next `mlproj run` retries them.
    summary.failed_fits = sum(1 for o in everything if o.error is not None)

    # Written hidden and renamed into place once verdict.json is in it: a full disk or a kill
    # part-way leaves no folder that looks like a run (the next run sweeps what a kill leaves).
    evaluation = (development, test_columns(prepared, pooled, final_outputs, selected), features)
    if drawing.enabled:
        for job in figure_jobs(summary, verdict, project, development, evaluation[1], parts=("test",)):
            drawing.submit(job)
    staging = rundir.start_run_dir(runs, loaded.config_hash)
    try:
        rundir.write_atomic(staging / "project.yaml",
                            yaml.safe_dump(project, sort_keys=False, allow_unicode=True))
        rundir.write_json(staging / "plan.json", plan.to_dict())
        rundir.write_csv(staging / "results.csv", rows)
        rundir.write_json(staging / "summary.json", summary.to_dict())
        environment = rundir.environment(loaded.path, loaded.config_hash, dataset.source, dataset.file_hash,
                                         loaded.source_sha256)
        environment["data"].update(dataset.provenance())  # content hash, files, units (mlproj.data.catalogue)
        rundir.write_json(staging / "environment.json", environment)
        _store_models(staging, cache, plan, selected, outputs, prepared, summary.test.to_dict() if summary.test else {})
        if prepared.application is not None:
            from mlproj.workflow.shift import save_domain_model

            save_domain_model(staging, prepared)
        write_evaluation(staging, evaluation)
        rundir.write_json(staging / "verdict.json", verdict.to_dict())
        rundir.claim_project_runs(runs, loaded.path)  # once there is a run to own
        run_dir = rundir.publish_run(staging)
    except BaseException as exc:
        rundir.discard_run_dir(staging)
        error = storage_error(exc, "write") if isinstance(exc, OSError) else None
        if error is not None:
            raise error from None
        raise
    rundir.mark_latest(run_dir)
    if prepared.application is not None:  # the selected model applied where it will be used
        from mlproj.workflow.shift import write_application_predictions

        write_application_predictions(run_dir, loaded)
    append_trial(runs.parent / TRIALS_FILE, trial_record(run_dir, loaded, summary, verdict))
    outcome = RunOutcome(
        run_dir=run_dir, verdict=verdict, summary=summary,
        fitted=sum(1 for o in everything if not o.cached and o.error is None and o.fit_seconds > 0),
        cached=sum(1 for o in everything if o.cached),
        failed=summary.failed_fits,
        mismatched=cache.mismatched,
    )
    try:
        outcome.report = write_report(run_dir, drawn=drawing.collect() if drawing.enabled else None).html
    except MlprojError as exc:  # a full disk while drawing: the run itself is in place and judged
        outcome.report_error = exc.render()
    except Exception as exc:  # noqa: BLE001 - a bug in a figure must not hide the verdict of a finished run
        outcome.report_error = f"{type(exc).__name__}: {exc} (a bug in mlproj; `mlproj --debug report` shows where)"
    return outcome


def _probe_selected(prepared: Prepared, summary: Summary, cache: Cache, model: str | None,
                    pooled: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """The test harness and the interrogation of the main case's selected model (paper §2.4, §6.1.3):
    its final fit, the one `mlproj predict` applies, and its pooled out-of-fold predictions."""
    from mlproj.workflow.harness import run_harness
    from mlproj.workflow.interrogation import interrogate

    task = prepared.plan.final_tasks.get(model) if model is not None else None
    path = cache.model_path(task.key) if task is not None else None
    if prepared.loaded.project.harness:
        summary.harness = run_harness(prepared, model, path)
    if prepared.loaded.project.interrogate is not None and model is not None:
        summary.interrogation = interrogate(prepared, summary, model, path, pooled.get(model))


def trial_record(run_dir: Path, loaded: LoadedProject, summary: Summary, verdict: Verdict) -> dict[str, object]:
    """The run's line of runs/trials.csv: what was tried and how it came out (paper §6.2)."""
    primary = verdict.primary
    case = summary.cases[0]
    decisions = "; ".join(f"{c.b} vs {c.a}: {c.decision}" for c in verdict.comparisons
                          if c.selection in (None, case.name))
    stamp = run_dir.name.split("-", 1)[0]
    time = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}" \
        if len(stamp) >= 15 else stamp
    return {"time": time, "project": summary.project or "", "run": run_dir.name, "config_hash": loaded.config_hash[:8],
            "models": " ".join(m.name for m in summary.models), "selected": verdict.selected_model or "",
            "metric": case.primary.label, "mean": "" if primary is None or primary.mean is None else repr(primary.mean),
            "se": "" if primary is None or primary.se is None else repr(primary.se), "decisions": decisions,
            "verdict": verdict.status}


_OS_ERROR = re.compile(r"^\w*Error: \[Errno (\d+)\]")


def project_runs(loaded: LoadedProject) -> Path:
    """`runs/<project>/`, this project file's runs (a name another project file of the folder owns
    is a ConfigError at its `name:` line)."""
    return rundir.project_runs(loaded.root, loaded.project.name, loaded.path, where=loaded.where("name"))


def _check_stored(cache: Cache, outputs: dict[str, TaskOutput]) -> None:
    """A fit the file system refused to store (a full disk, a read-only or blocked cache) stops
    the run with what to do, instead of counting as a failed fit of the model."""
    failure = cache.write_failure()
    if failure is not None:
        raise failure
    for output in outputs.values():
        found = _OS_ERROR.match(output.error or "")
        if found and int(found.group(1)) in STORAGE_ERRNOS:  # saving a final model failed
            code = int(found.group(1))
            raise storage_error(OSError(code, os.strerror(code)), "save a fitted model in", cache.root) from None


def _every_fit_failed(plan: Plan, outputs: dict[str, TaskOutput]) -> str:
    """What went wrong, one error per model: nothing was fitted, so there is nothing to judge."""
    first: dict[str, str] = {}
    for task in plan.tasks:
        output = outputs.get(task.key)
        if output is not None and output.error:
            first.setdefault(task.model, output.error)
    return "every fit failed, so there is nothing to judge: " + "; ".join(f"{m}: {e}" for m, e in first.items())


def _store_models(run_dir: Path, cache: Cache, plan: Plan, selected: list[str], outputs: dict[str, TaskOutput],
                  prepared: Prepared, test: dict) -> None:
    """models/<name>.skops and models/<name>.json: what `mlproj predict` needs to apply a model,
    including the operating points validated on the test set (their thresholds were chosen on
    the development set's out-of-fold predictions).

    The cached model files are copied only after the checks `mlproj predict` makes when it
    loads them (persist.copy_model): a crafted file in `.mlproj/cache/` stops the run with a
    RunError naming it, and never reaches the run folder."""
    dataset, cases = prepared.dataset, prepared.cases
    types = model_types(prepared.loaded.project.allow_imports)  # the project's allow-list, with its imports
    for name in selected:
        task = plan.final_tasks[name]
        source = cache.model_path(task.key)
        if plan.model(name).estimator == HISTORICAL or not source.exists():
            continue
        target = run_dir / "models" / f"{name}.skops"
        target.parent.mkdir(exist_ok=True)
        sha256 = persist.copy_model(source, target, types)  # `mlproj predict` refuses any other bytes
        tested = test.get("models", {}).get(name, {}).get("cases", {})
        info = {"model": name, "task": plan.task_kind, "features": plan.feature_names, "classes": dataset.classes,
                "cases": [{"name": c.name, "positives": list(c.positives),
                           "operating_point": _operating_point(tested.get(c.name, {}), c.primary.label)}
                          for c in cases],
                "support": _support(dataset, plan), "sha256": sha256}
        oof = analysis.pooled_development_predictions(plan, outputs, name) if plan.task_kind == "regression" else None
        if oof is not None:
            # The global σ (paper §5.2, first level): the out-of-fold RMS residual of the development
            # set; a σ(x) model is scaled by the factor calibrated on the same predictions.
            rows, stacked = oof[0], analysis.as_columns(oof[1])
            info["sigma_global"] = analysis.global_sigma(dataset.y[rows], stacked[:, 0])
            spread = spread_path(source)
            if stacked.shape[1] == 2 and spread.exists():
                info["spread_sha256"] = persist.copy_model(spread, spread_path(target), types)
                info["sigma_method"] = plan.model(name).uncertainty
                info["sigma_factor"] = analysis.sigma_factor(dataset.y[rows], stacked)
        rundir.write_json(target.with_suffix(".json"), info)


def _support(dataset: Dataset, plan: Plan) -> dict:
    """The labelled development set's min and max per feature: `mlproj predict` flags an object
    outside them as extrapolated (plain numbers, safe to load)."""
    from mlproj.science.shift import support_of

    low, high = support_of(dataset.X[np.asarray(plan.development)])
    return {"low": [finite(v) for v in low], "high": [finite(v) for v in high]}


def _operating_point(tested_case: dict, primary: str) -> dict | None:
    """The threshold of the case's primary metric when it is a rate at an operating point
    (tpr_at_fpr, fpr_at_fnr): the selection the finish line judged."""
    threshold = tested_case.get("rates", {}).get(primary, {}).get("threshold")
    return None if threshold is None else {"metric": primary, "threshold": threshold}


def _historical_outputs(plan: Plan, tasks: list[Task], dataset: Dataset, on_task) -> dict[str, TaskOutput]:
    """The classical method's predictions are read, not fitted: the same rows as every model."""
    outputs = {}
    for task in tasks:
        _, rows = plan.rows_for(task)
        output = TaskOutput(task.key, dataset.historical[rows], 0.0)
        outputs[task.key] = output
        if on_task:
            on_task(output)
    return outputs


def record_test_use(loaded: LoadedProject, fits: dict[str, str], data_hash: str, test_rows) -> int:
    """Count the distinct model configurations that have looked at this test set.

    `fits`: the selected models' final fits (model name -> task key). A key changes with
    anything that changes the fitted model or the test rows (estimator, parameters, features,
    split, catalogue), and not with a new name, statement or finish line, which choose nothing
    on the test set. Uses are counted per test set, identified by the catalogue and the test
    rows (`test_rows`: their indices), so another split of the catalogue starts its own count.
    Entries written before the test rows were recorded count for every test set of their
    catalogue (they may have been this one), and before the keys, by configuration.
    """
    # The folder's ledger, not one project file's (runs are per project file, DESIGN §5): another
    # project file of the folder scored on the same test objects has looked at the same test set.
    ledger_path = loaded.root / ".mlproj" / "test-uses.json"
    ledger = _read_ledger(ledger_path)
    test = held_out_key(data_hash, test_rows)
    entry = {"config": loaded.config_hash, "data": data_hash, "test": test, "models": sorted(fits),
             "fits": sorted(fits.values())}
    if entry not in ledger:
        ledger.append(entry)
        rundir.write_json(ledger_path, ledger)
    return len({tuple(e["fits"]) if "fits" in e else e["config"] for e in ledger
                if e.get("test", test) == test and e.get("data") == data_hash})


def held_out_key(data_hash: str, test_rows) -> str:
    """SHA-256 of the catalogue's hash and the test rows' indices: which objects were held out."""
    digest = hashlib.sha256(data_hash.encode())
    digest.update(np.ascontiguousarray(test_rows, dtype="<i8").tobytes())
    return digest.hexdigest()


LEDGER_SHAPE = [{"data": str, "config?": str, "test?": str, "models?": [str], "fits?": [str]}]


def _read_ledger(path: Path) -> list[dict]:
    """The test-set ledger; none yet is an empty one, a damaged one is an error (not a new count)."""
    damaged = RunError(f"{path} is damaged", hint="it counts the configurations that have used the held-out test "
                       "set: restore it from a backup, or delete it to start that count again, then run "
                       "`mlproj run` again")
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (ValueError, RecursionError):
        raise damaged from None
    except OSError as exc:
        raise storage_error(exc, "read", path) or exc from None
    if rundir.shape_problem(ledger, LEDGER_SHAPE) or any("fits" not in e and "config" not in e for e in ledger):
        raise damaged
    return ledger


def describe_data(prepared: Prepared) -> DataDescription:
    """What was read and used, for the summary and for `mlproj check`."""
    dataset, plan = prepared.dataset, prepared.plan
    return DataDescription(
        path=str(dataset.source),
        rows_read=dataset.n_rows_read,
        rows_used=dataset.n_rows,
        dropped=dataset.dropped,
        classes=dataset.class_counts(),
        features=dataset.feature_names,
        n_development=int(len(plan.development)),
        n_test=int(len(plan.test)),
        sentinels=dict(dataset.sentinels),
        missing=dataset.missing_by_feature(),
    )


def build_summary(prepared: Prepared, rows: list[dict], rates: dict) -> Summary:
    """The cross-validated Summary of the run (test set, power and diagnostics follow)."""
    loaded = prepared.loaded
    summary = analysis.summarize_run(prepared.plan, rows, prepared.cases, rates, project=loaded.project.name,
                                     confidence=loaded.project.validation.confidence, data=describe_data(prepared),
                                     warnings=prepared.dataset.warnings)
    summary.strong_features = list(prepared.strong_features)
    return summary


@dataclass(frozen=True)
class PlanRow:
    """One model's line of `mlproj plan`: its fits and what they are."""

    model: str
    role: str
    estimator: str
    fits: int


def describe_plan(plan: Plan) -> list[PlanRow]:
    """Rows for `mlproj plan`: fits per model and what they are."""
    rows = []
    for spec in plan.models:
        fits = sum(1 for t in plan.tasks if t.model == spec.name)
        params = ", ".join(f"{k}={v}" for k, v in spec.params.items())
        rows.append(PlanRow(spec.name, spec.role,
                            ("scaled " if spec.scale else "") + spec.estimator + (f"({params})" if params else ""),
                            fits))
    return rows


def cached_count(prepared: Prepared) -> int:
    cache = Cache(prepared.loaded.root / CACHE_DIR)
    return sum(1 for t in prepared.plan.tasks if cache.path(t.key).exists())


def cached_ablation_count(prepared: Prepared) -> int:
    cache = Cache(prepared.loaded.root / CACHE_DIR)
    return sum(1 for t in prepared.plan.ablation_tasks if cache.path(t.key).exists())
