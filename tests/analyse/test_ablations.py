"""Tests of mlproj.analyse.ablations: paired differences (ablation − full, same folds), the
corrected SE and the margin's decisions, sentences, and the summary's new optional part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlproj.analyse.ablations import ablation_effects, ablation_scores, effect_of, summarize_ablations
from mlproj.analyse.summary import resolve_cases, results_rows, summarize_run
from mlproj.analyse.types import AblationEffect, CaseResult, DataDescription, ModelScores, PrimaryMetric, Summary
from mlproj.execute.cache import TaskOutput
from mlproj.plan.ablations import FeatureSet
from mlproj.plan.compile import compile_plan
from mlproj.plan.estimators import model_specs
from mlproj.project.loading import parse_project
from mlproj.science import stats
from tests.conftest import minimal_project_text

FOLDS, REPEATS = 3, 2
DROP_U = FeatureSet("-u", "drop", (1, 2), (), ("u",), ("u_g",), "without u (and u_g, derived from it)")
COLOURS = FeatureSet("-colours", "group", (0,), (), ("u_g", "g_r"), (), "without u_g, g_r")


def case(full: list[float], *, greater_is_better: bool = True, margin: float = 0.01) -> CaseResult:
    return CaseResult("galaxy", [0], True, PrimaryMetric("roc_auc", {}, "roc_auc", greater_is_better), ["roc_auc"],
                      0.9, margin, models={"hgb": ModelScores({}, list(full))})


FULL = [0.90, 0.92, 0.91, 0.93, 0.90, 0.92]


def test_paired_difference_is_ablation_minus_full_with_the_corrected_se():
    ablated = [s - 0.04 + e for s, e in zip(FULL, [0.003, -0.002, 0.001, -0.001, 0.002, -0.003])]
    effect = effect_of(COLOURS, "hgb", FULL, ablated, case(FULL), folds=FOLDS, repeats=REPEATS, confidence=0.9)
    d = np.subtract(ablated, FULL)
    assert effect.difference == pytest.approx(d.mean())
    assert effect.se == pytest.approx(stats.corrected_se_from_sd(d.std(ddof=1), 6, 1 / (FOLDS - 1)))
    assert effect.interval[0] < effect.difference < effect.interval[1]
    assert effect.decision == "worse" and effect.p_worse > 0.95
    assert effect.sentence.startswith("dropping colours is worse by 0.0400 ± 0.0019")
    assert effect.sentence.endswith("→ colours carry information")
    assert effect.full_mean == pytest.approx(np.mean(FULL)) and effect.n == 6


def test_a_difference_inside_the_margin_is_equivalent():
    ablated = [s + e for s, e in zip(FULL, [0.001, -0.001, 0.0005, -0.0005, 0.001, -0.001])]
    effect = effect_of(DROP_U, "hgb", FULL, ablated, case(FULL), folds=FOLDS, repeats=REPEATS, confidence=0.9)
    assert effect.decision == "equivalent"
    assert effect.sentence == "dropping u (with u_g) is equivalent within ±0.01 → u is not needed"
    assert effect.removed == ["u"] and effect.dependent == ["u_g"]


def test_noisy_differences_are_undetermined_and_better_is_said():
    noisy = [s + e for s, e in zip(FULL, [0.05, -0.04, 0.03, -0.05, 0.04, -0.03])]
    effect = effect_of(DROP_U, "hgb", FULL, noisy, case(FULL), folds=FOLDS, repeats=REPEATS, confidence=0.9)
    assert effect.decision == "undetermined" and "more folds or objects would decide" in effect.sentence
    better = [s + 0.05 for s in FULL[:-1]] + [FULL[-1] + 0.051]
    effect = effect_of(DROP_U, "hgb", FULL, better, case(FULL), folds=FOLDS, repeats=REPEATS, confidence=0.9)
    assert effect.decision == "better" and "does better without u" in effect.sentence


def test_lower_is_better_keeps_the_difference_in_the_metric_units():
    full = [0.10, 0.11, 0.12, 0.10, 0.11, 0.12]
    ablated = [s + 0.05 + e for s, e in zip(full, [0.001, -0.001, 0.002, -0.002, 0.0, 0.001])]  # larger error
    c = case(full, greater_is_better=False)
    effect = effect_of(COLOURS, "hgb", full, ablated, c, folds=FOLDS, repeats=REPEATS, confidence=0.9)
    assert effect.difference == pytest.approx(0.05, abs=0.002)  # ablation − full: positive, and worse
    assert effect.interval[0] < effect.difference < effect.interval[1] and effect.interval[0] > 0
    assert effect.decision == "worse"


def test_a_failed_fold_drops_its_pair_and_all_failed_is_said():
    ablated = [s - 0.04 for s in FULL]
    ablated[2] = float("nan")
    effect = effect_of(COLOURS, "hgb", FULL, ablated, case(FULL), folds=FOLDS, repeats=REPEATS, confidence=0.9)
    assert effect.n == 5 and effect.scores[2] is None
    failed = effect_of(COLOURS, "hgb", FULL, [float("nan")] * 6, case(FULL), folds=FOLDS, repeats=REPEATS,
                       confidence=0.9)
    assert failed.decision == "undetermined" and failed.difference is None and "fits failed" in failed.sentence


def test_effect_round_trips_and_old_summaries_load_without_it():
    effect = effect_of(DROP_U, "hgb", FULL, [s - 0.04 for s in FULL], case(FULL), folds=FOLDS, repeats=REPEATS,
                       confidence=0.9)
    assert AblationEffect.from_dict(effect.to_dict()) == effect
    summary = Summary("p", "classification", FOLDS, REPEATS, 0.9, DataDescription(), [], [case(FULL)])
    assert "ablations" not in summary.to_dict()  # a project without ablations writes the same summary.json
    assert Summary.from_dict(summary.to_dict()).ablations is None
    summary.ablations = [effect]
    assert Summary.from_dict(summary.to_dict()).ablations == [effect]


# ------------------------------------------------------------------------ from task outputs


def test_scores_of_the_ablation_tasks_pair_with_the_full_model():
    text = minimal_project_text(extra="validation: {folds: 3, repeats: 2}\nbaselines: [dummy]\n"
                                "candidates:\n  - {name: lr, estimator: LogisticRegression}\n"
                                "ablations: {features: [u, g]}\n")
    project = parse_project(text, Path("mlproj.yaml")).project
    rng = np.random.default_rng(0)
    y = rng.permutation(np.arange(120) % 2)
    plan = compile_plan(project, model_specs(project), y, ["u", "g"], "data")
    signal = np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.05, len(y))  # a near-perfect full model

    def output(task, probability):
        _, valid = plan.rows_for(task)
        p = probability[valid]
        return TaskOutput(task.key, np.column_stack([1 - p, p]), 0.1)

    outputs = {t.key: output(t, signal) for t in plan.tasks}
    # Without u the model guesses; without g it is as good as the full model.
    ablations = {t.key: output(t, rng.random(len(y)) if t.feature_set == "-u" else signal)
                 for t in plan.ablation_tasks}
    cases = resolve_cases(project)
    rows, rates = results_rows(plan, outputs, y, cases)
    summary = summarize_run(plan, rows, cases, rates, project="p", confidence=0.9, data=DataDescription(),
                            warnings=[])
    scores = ablation_scores(plan, ablations, y, cases[0])
    assert set(scores) == {("lr", "-u"), ("lr", "-g")} and all(len(s) == 6 for s in scores.values())
    assert scores[("lr", "-g")] == pytest.approx(summary.cases[0].models["lr"].scores)
    effects = ablation_effects(plan, scores, summary.cases[0], confidence=0.9)
    assert [(e.name, e.decision) for e in effects] == [("-u", "worse"), ("-g", "equivalent")]
    assert summarize_ablations(plan, ablations, y, cases[0], summary.cases[0], confidence=0.9) == effects
