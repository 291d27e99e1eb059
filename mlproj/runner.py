"""The `mlproj run` workflow as a library: prepare, execute, analyse, judge, record.

The CLI only renders what these functions return. Nothing is written to the run directory
until every task has finished, and every finished fit is in the cache at once, so an
interrupted run loses nothing and leaves no half-written run behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from mlproj import analysis, rundir
from mlproj.config import LoadedProject
from mlproj.data import Dataset, load_dataset
from mlproj.errors import DataError
from mlproj.execute import Cache, TaskOutput, run_tasks
from mlproj.models import ModelSpec, resolve_specs, supports_missing_values
from mlproj.plan import Plan, compile_plan
from mlproj.verdict import Rules, judge

CACHE_DIR = Path(".mlproj") / "cache"


@dataclass
class Prepared:
    loaded: LoadedProject
    dataset: Dataset
    plan: Plan
    metrics: list[analysis.ResolvedMetric]
    rules: Rules


@dataclass
class RunOutcome:
    run_dir: Path
    verdict: dict
    fitted: int
    cached: int
    failed: int
    summary: dict = field(repr=False, default_factory=dict)


def prepare(loaded: LoadedProject) -> Prepared:
    """Validate estimators and data, and compile the plan (no fitting)."""
    from sklearn import __version__ as sklearn_version

    specs = resolve_specs(loaded)
    metric_list = analysis.resolve_metrics(loaded.project)
    dataset = load_dataset(loaded)
    _check_missing_values(dataset, specs, loaded)
    plan = compile_plan(loaded.project, specs, dataset.y, dataset.feature_names, dataset.file_hash,
                        library_version=sklearn_version)
    rules = Rules.from_project(loaded.project, metric_list[0].label, metric_list[0].greater_is_better)
    return Prepared(loaded, dataset, plan, metric_list, rules)


def _check_missing_values(dataset: Dataset, specs: list[ModelSpec], loaded: LoadedProject) -> None:
    missing = dataset.missing_by_feature()
    if not missing:
        return
    task = loaded.project.objective.task
    unable = [s.name for s in specs if not supports_missing_values(s, task)]
    if unable:
        listed = ", ".join(f"{k} ({v})" for k, v in list(missing.items())[:6])
        raise DataError(
            f"features have missing values (NaN or empty cells: {listed}), which {', '.join(unable)} cannot handle",
            where=loaded.where("data", "features"),
            hint="drop those features, fill the values in the catalogue, or use only estimators that accept missing "
                 "values (e.g. HistGradientBoostingClassifier/Regressor, RandomForest) and remove `standard` from baselines",
        )


def run_project(prepared: Prepared, *, n_jobs: int, on_task: Callable[[TaskOutput], None] | None = None) -> RunOutcome:
    loaded, dataset, plan = prepared.loaded, prepared.dataset, prepared.plan
    cache = Cache(loaded.root / CACHE_DIR)
    outputs = run_tasks(plan, plan.tasks, dataset.X, dataset.y, cache, n_jobs=n_jobs, on_done=on_task)

    rows = analysis.results_rows(plan, outputs, dataset.y, prepared.metrics, dataset.positive)
    summary = build_summary(prepared, rows)
    provisional = judge(summary, prepared.rules)
    selected = provisional["selected_model"]
    final_outputs: dict[str, TaskOutput] = {}
    if selected is not None:
        # The held-out test set is touched once, by the selected model only (paper §5.6).
        final = plan.final_tasks[selected]
        final_outputs = run_tasks(plan, [final], dataset.X, dataset.y, cache, n_jobs=1)
        summary["test"] = analysis.score_final(final, final_outputs[final.key], plan, dataset.y,
                                               prepared.metrics, dataset.positive)
    verdict = judge(summary, prepared.rules)

    run_dir = rundir.new_run_dir(loaded.root, loaded.config_hash)
    rundir.write_atomic(run_dir / "project.yaml",
                        yaml.safe_dump(loaded.project.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
    rundir.write_json(run_dir / "plan.json", plan.to_dict())
    rundir.write_csv(run_dir / "results.csv", rows)
    rundir.write_json(run_dir / "summary.json", summary)
    rundir.write_json(run_dir / "environment.json",
                      rundir.environment(loaded.path, loaded.config_hash, dataset.source, dataset.file_hash))
    rundir.write_json(run_dir / "verdict.json", verdict)
    rundir.mark_latest(run_dir)
    everything = list(outputs.values()) + list(final_outputs.values())
    return RunOutcome(
        run_dir=run_dir, verdict=verdict, summary=summary,
        fitted=sum(1 for o in everything if not o.cached and o.error is None),
        cached=sum(1 for o in everything if o.cached),
        failed=sum(1 for o in everything if o.error is not None),
    )


def build_summary(prepared: Prepared, rows: list[dict]) -> dict:
    dataset, plan, loaded = prepared.dataset, prepared.plan, prepared.loaded
    primary = prepared.metrics[0]
    return {
        "project": loaded.project.name,
        "task": plan.task_kind,
        "primary": {"name": primary.name, "params": primary.params, "label": primary.label,
                    "greater_is_better": primary.greater_is_better},
        "metrics": [m.label for m in prepared.metrics],
        "folds": plan.folds,
        "repeats": plan.repeats,
        "confidence": prepared.rules.confidence,
        "data": {
            "path": str(dataset.source),
            "rows_read": dataset.n_rows_read,
            "rows_used": dataset.n_rows,
            "dropped": dataset.dropped,
            "classes": dataset.class_counts(),
            "positive": loaded.project.positive,
            "features": dataset.feature_names,
            "n_development": int(len(plan.development)),
            "n_test": int(len(plan.test)),
        },
        "models": analysis.summarize_models(plan, rows, prepared.metrics, prepared.rules.confidence),
        "test": None,
        "warnings": list(dataset.warnings),
    }


def describe_plan(plan: Plan) -> list[dict]:
    """Rows for `mlproj plan`: fits per model and what they are."""
    rows = []
    for spec in plan.models:
        fits = sum(1 for t in plan.tasks if t.model == spec.name)
        params = ", ".join(f"{k}={v}" for k, v in spec.params.items())
        rows.append({"model": spec.name, "role": spec.role,
                     "estimator": ("scaled " if spec.scale else "") + spec.estimator + (f"({params})" if params else ""),
                     "fits": fits})
    return rows


def cached_count(prepared: Prepared) -> int:
    cache = Cache(prepared.loaded.root / CACHE_DIR)
    return sum(1 for t in prepared.plan.tasks if cache.path(t.key).exists())


def is_finite(value) -> bool:
    return value is not None and math.isfinite(value)
