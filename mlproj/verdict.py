"""Judge a run against the finish line (pure: the summary in, the verdict out).

`mlproj verdict` re-runs this on the stored summary, so a verdict can always be re-derived
without refitting anything. The states and exit codes are the CLI contract (DESIGN §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlproj import stats

EXIT_CODES = {"pass": 0, "fail": 1, "undetermined": 3}
_CRITERION_STATUS = {"reached": "pass", "not_reached": "fail", "undetermined": "undetermined"}


@dataclass(frozen=True)
class Rules:
    """What the verdict needs from the project file."""

    threshold: float
    margin: float
    greater_is_better: bool
    folds: int
    repeats: int
    confidence: float
    primary: str  # metric label

    @classmethod
    def from_project(cls, project, primary_label: str, greater_is_better: bool) -> "Rules":
        return cls(project.finish_line.threshold, project.finish_line.margin, greater_is_better,
                   project.validation.folds, project.validation.repeats, project.validation.confidence,
                   primary_label)


def judge(summary: dict, rules: Rules) -> dict:
    """verdict.json: status, selected model, primary score, criteria, comparisons, warnings."""
    models = {m["name"]: m for m in summary["models"]}
    warnings = list(summary.get("warnings", []))
    usable = [m for m in summary["models"] if any(s is not None for s in m["scores"])]
    if not usable:
        return _undetermined_without_models(summary, rules, warnings)

    def scores(model: dict) -> list[float]:
        return [math.nan if s is None else s for s in model["scores"]]

    candidates = [stats.Candidate(m["name"], scores(m), m["simplicity"], m["fit_seconds"] or math.nan)
                  for m in usable]
    selection = stats.select_model(candidates, folds=rules.folds, repeats=rules.repeats, margin=rules.margin,
                                   greater_is_better=rules.greater_is_better, confidence=rules.confidence)
    selected = models[selection.selected]
    primary = stats.summarize(scores(selected), rules.folds, rules.repeats, rules.confidence)
    finish = stats.judge_finish_line(primary, rules.threshold, rules.margin, rules.greater_is_better)

    comparisons = _comparisons(summary["models"], usable, scores, rules)
    criteria = [{
        "name": "finish_line",
        "status": _CRITERION_STATUS[finish.state],
        "value": _num(primary.mean),
        "threshold": rules.threshold,
        "detail": f"{selection.selected}: {rules.primary} {finish.state.replace('_', ' ')} — {finish.detail}",
    }]
    dummy = models.get("dummy")
    if dummy is not None and selection.best != "dummy":
        versus = stats.compare(scores(dummy), scores(models[selection.best]), names=("dummy", selection.best),
                               folds=rules.folds, repeats=rules.repeats, margin=rules.margin,
                               greater_is_better=rules.greater_is_better, confidence=rules.confidence)
        status = {"improved": "pass", "undetermined": "undetermined"}.get(versus.decision, "fail")
        criteria.append({
            "name": "beats_trivial_baseline",
            "status": status,
            "value": _num(versus.difference),
            "threshold": rules.margin,
            "detail": f"{selection.best} vs dummy: {versus.decision} (P(better) = {versus.p_better:.3f}, "
                      f"difference {stats.significant(versus.difference, versus.se)})",
        })
    elif dummy is not None:
        criteria.append({"name": "beats_trivial_baseline", "status": "fail", "value": 0.0, "threshold": rules.margin,
                         "detail": "no model scores better than the uninformative dummy baseline"})

    for model in summary["models"]:
        if model["failed_tasks"]:
            warnings.append(f"{model['name']}: {model['failed_tasks']} of {len(model['scores'])} fits failed "
                            f"({'; '.join(model['errors'][:2])})")
    test = summary.get("test")
    if test and test.get("model") == selection.selected:
        value = test["metrics"].get(rules.primary)
        low_end = primary.interval[0] if rules.greater_is_better else primary.interval[1]
        if value is not None and math.isfinite(low_end):
            worse = value < low_end - rules.margin if rules.greater_is_better else value > low_end + rules.margin
            if worse:
                warnings.append(
                    f"the held-out test score of {selection.selected} ({value:.4g}) is outside the cross-validated "
                    f"interval beyond the margin: the test set may differ from the training data, or be too small"
                )
    elif test:
        warnings.append(f"the held-out test result belongs to {test.get('model')}, not the selected model")

    statuses = [c["status"] for c in criteria]
    status = "fail" if "fail" in statuses else "undetermined" if "undetermined" in statuses else "pass"
    return {
        "status": status,
        "selected_model": selection.selected,
        "reason": selection.reason,
        "primary": {
            "name": rules.primary,
            "mean": _num(primary.mean),
            "se": _num(primary.se),
            "interval": [_num(primary.interval[0]), _num(primary.interval[1])],
            "confidence": rules.confidence,
            "n": primary.n,
            "greater_is_better": rules.greater_is_better,
        },
        "finish_line": finish.to_dict(),
        "criteria": criteria,
        "comparisons": comparisons,
        "test": test,
        "warnings": warnings,
        "exit_code": EXIT_CODES[status],
    }


def _comparisons(all_models: list[dict], usable: list[dict], scores, rules: Rules) -> list[dict]:
    """The best candidate against every baseline (or, without candidates, the best baseline vs the dummy)."""
    def mean(m):
        values = [s for s in scores(m) if not math.isnan(s)]
        return sum(values) / len(values)

    sign = 1 if rules.greater_is_better else -1
    candidates = [m for m in usable if m["role"] == "candidate"]
    baselines = [m for m in all_models if m["role"] == "baseline"]
    if candidates:
        challenger = max(candidates, key=lambda m: sign * mean(m))
    else:
        others = [m for m in usable if m["name"] != "dummy"]
        if not others:
            return []
        challenger = max(others, key=lambda m: sign * mean(m))
    out = []
    for base in baselines:
        if base["name"] == challenger["name"]:
            continue
        comparison = stats.compare(scores(base), scores(challenger), names=(base["name"], challenger["name"]),
                                   folds=rules.folds, repeats=rules.repeats, margin=rules.margin,
                                   greater_is_better=rules.greater_is_better, confidence=rules.confidence)
        record = comparison.to_dict()
        out.append({"a": record["a"], "b": record["b"], "difference": record["difference"],
                    "interval": record["interval"], "p_better": record["p_better"],
                    "p_equivalent": record["p_equivalent"], "p_worse": record["p_worse"],
                    "decision": record["decision"], "margin": record["margin"]})
    return out


def _undetermined_without_models(summary: dict, rules: Rules, warnings: list[str]) -> dict:
    warnings.append("every fit failed: there is nothing to judge")
    for model in summary["models"]:
        if model["errors"]:
            warnings.append(f"{model['name']}: {model['errors'][0]}")
    return {"status": "undetermined", "selected_model": None, "reason": "no model produced scores",
            "primary": {"name": rules.primary, "mean": None, "se": None, "interval": [None, None],
                        "confidence": rules.confidence, "n": 0, "greater_is_better": rules.greater_is_better},
            "finish_line": None, "criteria": [], "comparisons": [], "test": None, "warnings": warnings,
            "exit_code": EXIT_CODES["undetermined"]}


def _num(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
