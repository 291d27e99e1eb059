"""Feature ablations analysed (paper §6.1, DESIGN §6): what each removed piece of information was
worth to a model.

Every ablation was fitted on the same splits and seeds as its full model, so its fold scores of
the primary metric are paired with the full model's: the mean difference (ablation − full) has
the corrected (Nadeau–Bengio) standard error, and the decision is the one models are compared
with (stats.compare, the margin as the region of equivalence). *Equivalent* means the information
removed is not needed; *worse*, that it carries information. Findings, not criteria: the verdict
lists them and never fails because of one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mlproj.analyse.summary import Case, score_repeat
from mlproj.analyse.types import AblationEffect, CaseResult, finite, or_nan
from mlproj.plan.ablations import FeatureSet
from mlproj.plan.compile import Plan
from mlproj.plan.estimators import ignores_features
from mlproj.science import stats
from mlproj.science.numbers import significant

if TYPE_CHECKING:
    from mlproj.execute.cache import TaskOutput

__all__ = ["ablation_effects", "ablation_scores", "effect_of", "summarize_ablations"]

# stats.compare's words are about b against a; here b is the ablation and the word is its skill.
_DECISION = {"improved": "better", "equivalent": "equivalent", "worse": "worse", "undetermined": "undetermined"}


def ablation_scores(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray, case: Case
                    ) -> dict[tuple[str, str], list[float]]:
    """(model, feature set) -> the primary metric of every fold of the ablation, repeat-major as
    the full model's scores (CaseResult.models[...].scores), NaN where a fit failed."""
    grouped: dict[tuple[str, str, int], dict[int, object]] = {}
    for task in plan.ablation_tasks:
        grouped.setdefault((task.model, task.feature_set, task.repeat), {})[task.fold] = task
    scores: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for (model, name, repeat), tasks in grouped.items():
        fold_outputs = {fold: outputs.get(t.key) for fold, t in tasks.items()}
        values, _ = score_repeat(plan, [case], y, repeat, fold_outputs, blind=ignores_features(plan.model(model)))
        for fold in tasks:
            scores.setdefault((model, name), []).append((repeat, fold, values[fold][case.primary_column]))
    return {key: [value for _, _, value in sorted(found)] for key, found in scores.items()}


def effect_of(feature_set: FeatureSet, model: str, full: list[float | None], ablated: list[float], case: CaseResult,
              *, folds: int, repeats: int, confidence: float, val_train_ratio: float | None = None) -> AblationEffect:
    """One ablation of one model against the full model, on the same folds (DESIGN §6)."""
    better_high = case.primary.greater_is_better
    full_scores = [or_nan(s) for s in full]
    c = stats.compare(full_scores, ablated, names=(model, feature_set.name), folds=folds, repeats=repeats,
                      margin=case.margin, greater_is_better=better_high, confidence=confidence,
                      val_train_ratio=val_train_ratio)
    # compare's difference is oriented (positive: b better); the table shows ablation − full.
    sign = 1.0 if better_high else -1.0
    low, high = c.interval
    interval = (sign * low, sign * high) if better_high else (sign * high, sign * low)
    decision = _DECISION[c.decision]
    effect = AblationEffect(
        model=model, name=feature_set.name, kind=feature_set.kind, removed=list(feature_set.removed),
        dependent=list(feature_set.dependent), description=feature_set.description, metric=case.primary.label,
        greater_is_better=better_high, full_mean=finite(_mean(full_scores)), ablated_mean=finite(_mean(ablated)),
        difference=finite(sign * c.difference), se=finite(c.se), interval=(finite(interval[0]), finite(interval[1])),
        margin=float(case.margin), p_better=finite(c.p_better), p_equivalent=finite(c.p_equivalent),
        p_worse=finite(c.p_worse), decision=decision, sentence="", n=c.n, scores=[finite(s) for s in ablated])
    effect.sentence = sentence(effect, feature_set)
    return effect


def _mean(scores: list[float]) -> float:
    x = np.asarray(scores, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _subject(feature_set: FeatureSet) -> tuple[str, str, bool]:
    """(what was done, what it is about, plural) for the sentence."""
    label = feature_set.name.removeprefix("-")
    if feature_set.kind == "keep_only":
        return f"keeping only {label.removeprefix('only:')}", "the other features", True
    with_derived = f" (with {', '.join(feature_set.dependent)})" if feature_set.dependent else ""
    if feature_set.kind == "replace":
        target, how = feature_set.name.rsplit("=", 1)
        plural = len(feature_set.removed) > 1
        return (f"replacing {target}{with_derived} by {'their' if plural else 'its'} training-fold {how}", target,
                plural)
    plural = feature_set.kind == "group" or len(feature_set.removed) > 1
    return f"dropping {label}{with_derived}", label, plural


def sentence(effect: AblationEffect, feature_set: FeatureSet) -> str:
    """'dropping u is equivalent within ±0.01 → u is not needed'; 'dropping colours is worse by
    0.04 ± 0.01 → colours carry information'."""
    done, about, plural = _subject(feature_set)
    if effect.difference is None:
        return f"{done}: no paired scores (its fits failed), so nothing can be said"
    amount = significant(abs(effect.difference), or_nan(effect.se))
    if effect.decision == "equivalent":
        return f"{done} is equivalent within ±{effect.margin:g} → {about} {'are' if plural else 'is'} not needed"
    if effect.decision == "worse":
        return f"{done} is worse by {amount} → {about} {'carry' if plural else 'carries'} information"
    if effect.decision == "better":
        return (f"{done} is better by {amount} → the model does better without {about} "
                "(noise the model fits, or a difference between the folds)")
    direction = "lower" if effect.difference < 0 else "higher"
    return (f"{done} is undetermined ({amount} {direction}, within neither ±{effect.margin:g} nor clearly outside it) "
            f"→ more folds or objects would decide whether {about} {'are' if plural else 'is'} needed")


def ablation_effects(plan: Plan, scores: dict[tuple[str, str], list[float]], case: CaseResult, *, confidence: float
                     ) -> list[AblationEffect]:
    """Every ablated model × ablation (plan order: feature sets, then models)."""
    effects = []
    for feature_set in plan.feature_sets:
        for model in plan.ablated_models:
            ablated = scores.get((model, feature_set.name))
            if ablated is None or model not in case.models:
                continue
            effects.append(effect_of(feature_set, model, case.models[model].scores, ablated, case, folds=plan.folds,
                                     repeats=plan.repeats, confidence=confidence,
                                     val_train_ratio=plan.val_train_ratio))
    return effects


def summarize_ablations(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray, case: Case,
                        result: CaseResult, *, confidence: float) -> list[AblationEffect] | None:
    """The ablation effects of a run on its main case's primary metric; None without ablations."""
    if not plan.ablation_tasks:
        return None
    return ablation_effects(plan, ablation_scores(plan, outputs, y, case), result, confidence=confidence)
