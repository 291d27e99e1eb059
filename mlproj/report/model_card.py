"""models/model_card.md: what someone who did not run the project needs to reuse its model
(paper §6.2, FAIR): the objective, the data and their hash, the classes' operational
definitions, the selected model, its metrics with their intervals, the finish line and the
verdict, the validation design, the known limits (failed criteria, warnings, covariate shift),
the software and how to apply the model.

Plain Markdown rendered from the run's typed Summary and Verdict and its resolved project file,
not skops' `skops.card.Card`: a Card is built around a model object (its parameters table and
diagram come from the fitted estimator), so writing one would mean loading the model file
again only to describe it, and its sections would repeat what mlproj already holds, typed and
with its uncertainties. The card is a pure function of the run's files, so `mlproj report`
rewrites the same text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mlproj.analyse.types import Estimate, Summary
from mlproj.science.numbers import general, interval, like, significant
from mlproj.verdict.types import Verdict

CARD = "model_card.md"


def render_model_card(summary: Summary, verdict: Verdict, project: dict, environment: dict,
                      models: dict[str, dict], run_name: str) -> str:
    """The card's Markdown. `project`: the run's project.yaml; `environment`: environment.json;
    `models`: models/<name>.json by model name (what `mlproj predict` reads)."""
    objective = project.get("objective") or {}
    lines = [f"# Model card: {summary.project or project.get('name') or 'mlproj project'}", "",
             f"Run `{run_name}`, written by mlproj {_version(environment, 'mlproj')}. "
             "Every number below comes from the run's summary.json and verdict.json.", ""]
    lines += ["## Objective", "", str(objective.get("statement") or "—").strip(), "",
              f"- Task: {summary.task}"]
    if summary.task == "classification" and project.get("positive"):
        lines.append(f"- Positive class: {project['positive']}")
    lines += ["", *_data(summary, project, environment), "", *_classes(summary, project), "",
              *_models(summary, verdict, models), "", *_metrics(summary, verdict), "",
              *_verdict(verdict), "", *_validation(summary, project), "", *_limits(summary, verdict), "",
              *_software(environment), "", *_usage(summary, verdict, project, environment, models, run_name), ""]
    return "\n".join(lines)


def write_model_card(run_dir: Path) -> Path:
    """Write models/model_card.md of a run from its files, atomically."""
    import yaml

    from mlproj.store import rundir
    from mlproj.store.files import write_text_atomic

    run_dir = Path(run_dir)
    summary = Summary.from_dict(rundir.read_json(run_dir / "summary.json"))
    verdict = Verdict.from_dict(rundir.read_json(run_dir / "verdict.json"))
    project = yaml.safe_load((run_dir / "project.yaml").read_text(encoding="utf-8")) or {}
    environment = rundir.read_json(run_dir / "environment.json")
    folder = run_dir / "models"
    models = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            models[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # `mlproj predict` reports a damaged record; the card describes what it can
    rundir.make_folder(folder)
    target = folder / CARD
    write_text_atomic(target, render_model_card(summary, verdict, project, environment, models, run_dir.name))
    return target


# --------------------------------------------------------------------------- sections

def _data(summary: Summary, project: dict, environment: dict) -> list[str]:
    data, spec, env = summary.data, project.get("data") or {}, environment.get("data") or {}
    lines = ["## Data", "",
             f"- Catalogue: `{spec.get('path') or data.path}` (read from `{env.get('path') or data.path}`)"]
    if env.get("content_sha256"):
        lines.append(f"- Content hash (SHA-256 of the table): `{env['content_sha256']}`")
    if env.get("sha256"):
        lines.append(f"- File hash (SHA-256): `{env['sha256']}`")
    for name in ("files", "units"):
        if env.get(name):
            lines.append(f"- {name.capitalize()}: {_inline(env[name])}")
    lines.append(f"- Rows: {data.rows_read} read, {data.rows_used} used"
                 + (f" ({data.n_development} development, {data.n_test} held-out test)"
                    if data.n_development is not None else ""))
    for reason, count in data.dropped.items():
        lines.append(f"  - {count} dropped {reason}")
    lines.append(f"- Label column: `{spec.get('label')}`")
    lines.append(f"- Features ({len(data.features)}): {', '.join(f'`{f}`' for f in data.features)}")
    for name, text in (spec.get("derived") or {}).items():
        lines.append(f"  - derived `{name}` = `{text}`")
    if spec.get("errors"):
        lines.append(f"- Measurement errors (1σ): {_pairs(spec['errors'])}")
    if spec.get("sentinels"):
        lines.append(f"- Sentinels (made missing): {_pairs(spec['sentinels'])}"
                     + (f"; replaced: {_pairs(data.sentinels)}" if data.sentinels else ""))
    for column, limit in (spec.get("limits") or {}).items():
        marker = f"flag `{limit['flag']}`" if limit.get("flag") else f"sentinel {limit.get('sentinel')}"
        bound = limit.get("bound", limit.get("limit"))
        lines.append(f"- Non-detections of `{column}` ({limit.get('kind', 'magnitude')}): {marker}, bound "
                     f"{'the value itself' if bound is None else f'`{bound}`'}; indicator feature "
                     f"`{column}_nondetection`" + ("" if f"{column}_nondetection" in data.features else " (not used: "
                                                  f"`{column}` is not a feature)"))
    if data.missing:
        lines.append(f"- Missing values among the rows used: {_pairs(data.missing)}")
    if spec.get("application"):
        lines.append(f"- Application sample: `{spec['application']}`")
    return lines


def _classes(summary: Summary, project: dict) -> list[str]:
    if summary.task != "classification":
        label = (project.get("data") or {}).get("label")
        return ["## Target", "", f"Regression of the column `{label}` (its values as they are in the catalogue)."]
    lines = ["## Classes (operational definitions)", "", "| class | definition | objects |", "|---|---|---|"]
    for name, text in (project.get("classes") or {}).items():
        lines.append(f"| {name} | `{_cell(text)}` | {summary.data.classes.get(name, '—')} |")
    return lines


def _models(summary: Summary, verdict: Verdict, models: dict[str, dict]) -> list[str]:
    lines = ["## Selected model", ""]
    chosen = _selected(verdict)
    if not chosen:
        return lines + ["No model was selected."]
    by_name = {m.name: m for m in summary.models}
    for case, name in chosen:
        info = by_name.get(name)
        where = f" (selection {case})" if case and len(chosen) > 1 else ""
        if info is None:
            lines.append(f"- `{name}`{where}")
            continue
        params = ", ".join(f"{k}={_inline(v)}" for k, v in sorted(info.params.items()))
        params = f"{params}; other parameters at their defaults" if params else "every parameter at its default"
        lines.append(f"- `{name}`{where}: {info.estimator or info.role} ({params})"
                     + ("; features standardised" if info.scale else ""))
        record = models.get(name) or {}
        if record.get("sha256"):
            lines.append(f"  - file `models/{name}.skops`, SHA-256 `{record['sha256']}`")
        elif name in models:
            lines.append(f"  - file `models/{name}.skops`")
        else:
            lines.append("  - no model file (a method read from the catalogue, or not saved)")
    if verdict.selection_reason:
        lines += ["", f"Why: {verdict.selection_reason}"]
    return lines


def _metrics(summary: Summary, verdict: Verdict) -> list[str]:
    chosen = dict((case, name) for case, name in _selected(verdict))
    lines = ["## Metrics", "",
             f"Cross-validated: mean ± corrected standard error over {summary.folds} folds × {summary.repeats} repeats, and "
             f"the {_percent(summary.confidence)} interval; test: the held-out test set, with its interval.", "",
             "| selection | model | metric | cross-validated | interval | test | test interval |",
             "|---|---|---|---|---|---|---|"]
    for case in summary.cases:
        name = chosen.get(case.name) or (verdict.selected_model if case is summary.cases[0] else None)
        scores = case.models.get(name) if name else None
        if scores is None:
            continue
        tested = summary.tested(name)
        test_case = tested.cases.get(case.name) if tested is not None else None
        for label in case.metrics:
            estimate = scores.metrics.get(label)
            if estimate is None:
                continue
            value, low_high = _estimate(estimate)
            test_value = test_case.metrics.get(label) if test_case is not None else None
            test_interval = (test_case.intervals or {}).get(label) if test_case is not None else None
            lines.append(f"| {case.name} | {name} | {label} | {value} | {low_high} | "
                         f"{_number(test_value)} | {_interval(test_interval.interval) if test_interval else '—'} |")
    return lines


def _verdict(verdict: Verdict) -> list[str]:
    lines = ["## Finish line and verdict", ""]
    line = verdict.finish_line
    if line is not None:
        lines.append(f"- Finish line: {line.threshold:g} (margin {line.margin:g}), {line.state.replace('_', ' ')}")
    application = getattr(verdict, "application", None)
    if application is not None:
        lines.append(f"- Expected on the application sample: {application.state.replace('_', ' ')}")
    lines += [f"- Verdict: **{verdict.status}** (exit code {verdict.exit_code})",
              f"- Reason: {verdict.reason or '—'}", "", "| criterion | selection | status | detail |",
              "|---|---|---|---|"]
    for c in verdict.criteria:
        lines.append(f"| {c.name} | {c.selection or '—'} | {c.status} | {_cell(c.detail)} |")
    return lines


def _validation(summary: Summary, project: dict) -> list[str]:
    v = project.get("validation") or {}
    lines = ["## Validation design", "",
             f"- {v.get('strategy', 'random')} splits: {summary.folds} folds × {summary.repeats} repeats, seed "
             f"{v.get('seed', 0)}; intervals at {_percent(summary.confidence)}"]
    if summary.data.n_test:
        uses = summary.test.uses if summary.test is not None and summary.test.uses else None
        lines.append(f"- Held-out test set: {summary.data.n_test} objects (test_size {v.get('test_size')})"
                     + (f", used by {uses} distinct model configuration(s) so far" if uses else ""))
    if (project.get("data") or {}).get("groups"):
        lines.append(f"- Groups kept together across splits: `{project['data']['groups']}`")
    if summary.val_train_ratio is not None:
        lines.append(f"- n_val/n_train for the corrected standard error: {general(summary.val_train_ratio, 3)}")
    return lines


def _limits(summary: Summary, verdict: Verdict) -> list[str]:
    lines = ["## Known limits", ""]
    failed = [c for c in verdict.criteria if c.status != "pass"]
    for c in failed:
        lines.append(f"- Criterion {c.name} ({c.selection or 'all'}) is {c.status}: {c.detail}")
    warnings = list(dict.fromkeys([*verdict.warnings, *summary.warnings]))
    lines += [f"- Warning: {w}" for w in warnings]
    lines += _shift(getattr(summary, "shift", None))
    if summary.failed_fits:
        lines.append(f"- {summary.failed_fits} fit(s) failed")
    if len(lines) == 2:
        lines.append("- None found by the run's criteria and checks. The model is only validated on objects like "
                     "the labelled catalogue's.")
    return lines


def _shift(shift: Any) -> list[str]:
    """Covariate shift against the application sample, as far as the run measured it."""
    if shift is None:
        return ["- Covariate shift: not measured (no data.application); the model is validated only on objects "
                "like the labelled catalogue's"]
    auc = getattr(shift, "domain_auc", None)
    low_high = getattr(shift, "domain_interval", None) or [None, None]
    width = (low_high[1] - low_high[0]) / 2 if None not in low_high[:2] else 0.0
    parts = [f"domain classifier AUC {like(auc, width)} {_interval(low_high)}" if auc is not None else None,
             f"effective sample size of the weights {general(shift.ess, 3)}" if getattr(shift, "ess", None) else None,
             (f"{_percent(shift.outside_any)} of the application objects outside the labelled range of some feature"
              if getattr(shift, "outside_any", None) is not None else None)]
    lines = [f"- Covariate shift ({getattr(shift, 'application', 'application sample')}): "
             + "; ".join(p for p in parts if p)]
    lines += [f"  - {w}" for w in getattr(shift, "warnings", []) or []]
    return lines


def _software(environment: dict) -> list[str]:
    packages = environment.get("packages") or {}
    return ["## Software", "", f"- Python {environment.get('python', '?')} on {environment.get('platform', '?')}",
            *[f"- {name} {version}" for name, version in packages.items()]]


def _usage(summary: Summary, verdict: Verdict, project: dict, environment: dict, models: dict[str, dict],
           run_name: str) -> list[str]:
    config = (environment.get("config") or {}).get("path") or "mlproj.yaml"
    name = verdict.selected_model
    features = (models.get(name) or {}).get("features") or summary.data.features
    spec = project.get("data") or {}
    made = set(spec.get("derived") or {}) | {f"{c}_nondetection" for c in spec.get("limits") or {}}
    read = [f for f in features if f not in made]
    lines = ["## How to use it", "",
             "Apply the selected model to a catalogue with the same columns (the label is not needed); mlproj "
             "checks the model file (its SHA-256 and every type in it) before loading it:", "", "```",
             f"mlproj predict {run_name} -c {Path(config).name} --data catalogue.csv --out predictions.csv", "```", "",
             f"The catalogue needs the columns {', '.join(f'`{f}`' for f in read)}"
             + (f" and the columns read by {', '.join(f'`{f}`' for f in features if f in made)}"
                if len(read) < len(features) else "")
             + ": derived features, sentinels, limits and their non-detection indicators are applied as in the "
             "project file. A catalogue that names the columns differently: `--columns new=project,...`. "
             "`predict` flags the objects outside the labelled data's range (`extrapolated`) and says how many "
             "there are: predictions for them are extrapolations."]
    if name and name not in models:
        lines.append(f"The selected model `{name}` has no model file, so `mlproj predict` cannot apply it.")
    return lines


# --------------------------------------------------------------------------- formatting

def _selected(verdict: Verdict) -> list[tuple[str | None, str]]:
    chosen = [(s.selection, s.selected_model) for s in verdict.selections if s.selected_model]
    if not chosen and verdict.selected_model:
        chosen = [(None, verdict.selected_model)]
    return list(dict.fromkeys(chosen))


def _estimate(estimate: Estimate) -> tuple[str, str]:
    if estimate.mean is None:
        return "—", "—"
    se = estimate.se if estimate.se is not None and math.isfinite(estimate.se) else 0.0
    value = significant(estimate.mean, se) if se else general(estimate.mean)
    return value, _interval(estimate.interval)


def _interval(pair) -> str:
    low, high = (list(pair) + [None, None])[:2] if pair is not None else (None, None)
    if low is None or high is None:
        return "—"
    return interval(float(low), float(high))


def _number(value) -> str:
    return "—" if value is None else general(float(value))


def _percent(fraction: float) -> str:
    return f"{100 * fraction:g}%"


def _version(environment: dict, package: str) -> str:
    return str((environment.get("packages") or {}).get(package, "?"))


def _pairs(mapping: dict) -> str:
    return ", ".join(f"`{k}`: {_inline(v)}" for k, v in mapping.items())


def _inline(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _cell(text: str | None) -> str:
    """Text inside a Markdown table cell: one line, no column separator."""
    return " ".join(str(text or "").split()).replace("|", "\\|")
