"""Model variants against their candidates, and the values nested searches chose (pure).

A variant (`<candidate>.<variant>`) is fitted on the same folds as its candidate, so its fold
scores pair with the candidate's and the two are compared with the margin like any two models
(science.stats.compare, DESIGN §6): "equivalent" says the changed settings are not needed.
A nested search's choices are gathered per fold; one that changes from fold to fold is
reported, since the tuned value is then no property of the data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from mlproj.analyse.types import Summary, or_nan
from mlproj.science import stats


@dataclass(frozen=True)
class VariantComparison:
    """One variant against its parent in one case: b = the variant, a = the parent."""

    case: str
    variant: str
    parent: str
    changes: dict  # the parameters the variant sets differently
    comparison: stats.Comparison


def variant_changes(summary: Summary, variant: str) -> dict:
    """The parameters in which a variant differs from its parent (from their stored params)."""
    models = {m.name: m for m in summary.models}
    mine, parent = models[variant], models.get(models[variant].parent or "")
    if parent is None:
        return dict(mine.params)
    return {k: v for k, v in mine.params.items() if parent.params.get(k, _MISSING) != v}


_MISSING = object()


def variant_comparisons(summary: Summary) -> list[VariantComparison]:
    """Every variant with scores against its parent, per case (paired on the same folds)."""
    out = []
    for case in summary.cases:
        for model in summary.models:
            parent = model.parent
            if parent is None or model.name not in case.models or parent not in case.models:
                continue
            scores_a = [or_nan(s) for s in case.models[parent].scores]
            scores_b = [or_nan(s) for s in case.models[model.name].scores]
            if not any(math.isfinite(s) for s in scores_b):
                continue
            comparison = stats.compare(scores_a, scores_b, names=(parent, model.name), folds=summary.folds,
                                       repeats=summary.repeats, margin=case.margin,
                                       greater_is_better=case.primary.greater_is_better,
                                       confidence=summary.confidence, val_train_ratio=summary.val_train_ratio)
            out.append(VariantComparison(case.name, model.name, parent, variant_changes(summary, model.name),
                                         comparison))
    return out


def search_choices(tasks, outputs: Mapping, final_tasks: Mapping | None = None,
                   final_outputs: Mapping | None = None) -> dict[str, list[dict]] | None:
    """model -> [{"repeat", "fold", "params"}] of every fit whose nested search ran (cross-
    validation folds in plan order, then the final fit as fold -1); None when no search ran."""
    found: dict[str, list[dict]] = {}
    for task in tasks:
        output = outputs.get(task.key)
        if output is not None and output.search is not None:
            found.setdefault(task.model, []).append({"repeat": task.repeat, "fold": task.fold,
                                                     "params": dict(output.search)})
    for model, task in (final_tasks or {}).items():
        output = (final_outputs or {}).get(task.key)
        if output is not None and output.search is not None:
            found.setdefault(model, []).append({"repeat": 0, "fold": -1, "params": dict(output.search)})
    return found or None


# A choice the folds agree on less often than this is unstable.
STABLE_SHARE = 0.5


def search_warnings(search: Mapping[str, list[dict]] | None) -> list[str]:
    """One warning per model whose most common choice was made in fewer than half of the
    cross-validation folds: the tuned values depend on which objects were trained on."""
    warnings = []
    for model, choices in (search or {}).items():
        folds = [c for c in choices if c["fold"] >= 0]
        if len(folds) < 2:
            continue
        counts = Counter(_key(c["params"]) for c in folds)
        key, most = counts.most_common(1)[0]
        if most / len(folds) < STABLE_SHARE:
            warnings.append(
                f"the nested search of {model} is unstable: its most common choice ({key}) was made in only {most} "
                f"of {len(folds)} folds, so the tuned values depend on which objects were trained on; widen the "
                "margin of what matters, fix the parameter, or add data")
    return warnings


def _key(params: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def choice_text(params: Mapping) -> str:
    """A choice as the report prints it: `max_depth=3, learning_rate=0.1`."""
    return _key(params)
