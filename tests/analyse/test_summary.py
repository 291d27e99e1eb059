"""Tests of mlproj.analyse.summary: science cases, per-fold metrics with transferred thresholds, pooled
rate counts, summaries and the held-out test score.

Predictions are made by hand (no fitting) so that every number can be recomputed here
independently: thresholds are found by brute force over the reference scores, not with
mlproj.science.metrics.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlproj.analyse.summary import (
    pool_folds,
    pooled_development_predictions,
    rate_record,
    resolve_cases,
    resolve_metrics,
    results_rows,
    score_repeat,
    score_test,
    summarize_cases,
    summarize_models,
)
from mlproj.analyse.types import TestScores
from mlproj.errors import ConfigError
from mlproj.execute.tasks import TaskOutput
from mlproj.plan.compile import compile_plan
from mlproj.plan.estimators import model_specs
from mlproj.project.loading import parse_project
from mlproj.science import stats

CLASSES = "{star: \"c == 'S'\", qso: \"c == 'Q'\", galaxy: \"c == 'G'\"}"
STAR, QSO, GALAXY = 0, 1, 2
N_ROWS = 60
LABELS = np.array([STAR, QSO, GALAXY] * (N_ROWS // 3), dtype=np.int64)


def load(text: str):
    return parse_project(text, Path("p.yaml")).project


def project(*, positive: str = "star", primary: str = "{name: tpr_at_fpr, fpr: 0.1}", secondary: str = "[]",
            selections: str = "", repeats: int = 1, baselines: str = "[dummy]", extra: str = "",
            validation: str = "", data_extra: str = "", classes: str = CLASSES):
    text = (
        "name: p\n"
        "objective: {statement: s, task: classification}\n"
        f"data: {{path: x.csv, label: c{data_extra}}}\n"
        f"classes: {classes}\n"
        f"positive: {positive}\n"
        f"metric: {{primary: {primary}, secondary: {secondary}}}\n"
        "finish_line: {threshold: 0.5, margin: 0.01}\n"
        f"validation: {{folds: 3, repeats: {repeats}, test_size: 0.2{validation}}}\n"
        f"baselines: {baselines}\n"
        "candidates: [{name: hgb, estimator: HistGradientBoostingClassifier}]\n"
        + extra
        + (f"selections:\n{selections}" if selections else "")
    )
    return load(text)


def make_plan(proj, labels=LABELS, **kwargs):
    return compile_plan(proj, model_specs(proj), labels, ["f"], "fingerprint", **kwargs)


def probabilities(seed: int = 0, labels=LABELS, signal: float = 1.0) -> np.ndarray:
    """Continuous (tie-free) class probabilities for every row, informative about the true class."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(labels), 3))
    logits[np.arange(len(labels)), labels] += signal
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def outputs_from(plan, per_row: dict[str, np.ndarray], *, fail: set = frozenset(), skip: set = frozenset(),
                 by_task=None) -> dict[str, TaskOutput]:
    """TaskOutputs that predict, for every validation row, the model's row of `per_row`.

    `fail`/`skip` hold (model, repeat, fold) triples: failed fits (None predictions) or tasks
    that never ran. `by_task(task, valid)` may override the predictions of a task.
    """
    outputs = {}
    for task in plan.tasks:
        where = (task.model, task.repeat, task.fold)
        if where in skip:
            continue
        if where in fail:
            outputs[task.key] = TaskOutput(task.key, None, 0.02, error="ValueError: boom")
            continue
        _, valid = plan.rows_for(task)
        predictions = by_task(task, valid) if by_task else None
        if predictions is None:
            predictions = per_row[task.model][valid]
        outputs[task.key] = TaskOutput(task.key, predictions, 0.5)
    return outputs


# ------------------------------------------------------------------------ independent references


def threshold_at_fpr(is_positive, score, fpr: float) -> float:
    """Brute force: the threshold (select score >= t) of largest TPR with FPR <= fpr, ties to fewer FP."""
    is_positive = np.asarray(is_positive, bool)
    n_neg = int((~is_positive).sum())
    best_t, best_tp, best_fp = math.inf, 0, 0
    for t in np.unique(score):
        selected = score >= t
        tp, fp = int((selected & is_positive).sum()), int((selected & ~is_positive).sum())
        if fp <= fpr * n_neg and (tp > best_tp or (tp == best_tp and fp < best_fp)):
            best_t, best_tp, best_fp = float(t), tp, fp
    return best_t


def threshold_at_fnr(is_positive, score, fnr: float) -> float:
    """Brute force: the threshold of smallest FPR with FNR <= fnr, ties to more TP."""
    is_positive = np.asarray(is_positive, bool)
    n_pos = int(is_positive.sum())
    best = None
    for t in np.unique(score):
        selected = score >= t
        tp, fp = int((selected & is_positive).sum()), int((selected & ~is_positive).sum())
        if n_pos - tp <= fnr * n_pos and (best is None or (fp, -tp) < (best[1], -best[2])):
            best = (float(t), fp, tp)
    return best[0]


def rate_at(is_positive, score, threshold: float, of: str = "tpr") -> float:
    is_positive = np.asarray(is_positive, bool)
    selected = np.asarray(score) >= threshold
    if of == "tpr":
        return float(selected[is_positive].mean())
    return float(selected[~is_positive].mean())


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def row_of(rows, model: str, repeat: int, fold: int) -> dict:
    return next(r for r in rows if (r["model"], r["repeat"], r["fold"]) == (model, repeat, fold))


# ------------------------------------------------------------------------------- resolve_metrics


def test_resolve_metrics_labels_directions_and_binary():
    proj = project(secondary="[roc_auc, brier, completeness, {name: purity, threshold: 0.8}, log_loss, accuracy]")
    resolved = resolve_metrics(proj.metric, "classification")
    assert [m.label for m in resolved] == ["tpr_at_fpr(fpr=0.1)", "roc_auc", "brier", "completeness(threshold=0.5)",
                                           "purity(threshold=0.8)", "log_loss", "accuracy"]
    assert [m.greater_is_better for m in resolved] == [True, True, False, True, True, False, True]
    assert [m.binary for m in resolved] == [True, True, True, True, True, False, False]
    assert resolved[0].name == "tpr_at_fpr" and resolved[0].params == {"fpr": 0.1}


def test_resolve_metrics_fills_defaults_and_drops_duplicates():
    proj = project(primary="tpr_at_fpr",
                   secondary="[{name: tpr_at_fpr, fpr: 0.01}, roc_auc, roc_auc, {name: tpr_at_fpr, fpr: 0.001}]")
    resolved = resolve_metrics(proj.metric, "classification")
    # tpr_at_fpr defaults to fpr=0.01, so the first secondary is the primary again
    assert [m.label for m in resolved] == ["tpr_at_fpr(fpr=0.01)", "roc_auc", "tpr_at_fpr(fpr=0.001)"]


def test_resolve_metrics_integer_and_float_parameters_give_one_label():
    a = resolve_metrics(project(primary="{name: completeness, threshold: 1}").metric, "classification")
    b = resolve_metrics(project(primary="{name: completeness, threshold: 1.0}").metric, "classification")
    assert a[0].label == b[0].label == "completeness(threshold=1)"


def test_resolve_metrics_regression():
    proj = load("name: p\nobjective: {statement: s, task: regression}\ndata: {path: x.csv, label: z}\n"
                "metric: {primary: rmse, secondary: [sigma_nmad, r2, rmse]}\nfinish_line: {threshold: 0.1}\n")
    resolved = resolve_metrics(proj.metric, "regression")
    assert [m.label for m in resolved] == ["rmse", "sigma_nmad(relative=True)", "r2"]
    assert [m.greater_is_better for m in resolved] == [False, False, True]


# --------------------------------------------------------------------------------- resolve_cases


def test_single_case_has_no_prefix_and_is_named_after_the_positive_class():
    (case,) = resolve_cases(project(positive="qso", secondary="[roc_auc]"))
    assert case.name == "qso" and case.positives == (QSO,)
    assert case.prefix == "" and case.primary_column == "tpr_at_fpr(fpr=0.1)"
    assert case.column(case.metrics[1]) == "roc_auc"
    assert case.threshold == 0.5 and case.margin == 0.01 and case.required is True


def test_list_positive_merges_classes_with_sorted_indices():
    # galaxy=0, qso=1, star=2 here, so [star, qso] is written out of index order
    classes = "{galaxy: \"c == 'G'\", qso: \"c == 'Q'\", star: \"c == 'S'\"}"
    (case,) = resolve_cases(project(positive="[star, qso]", classes=classes))
    assert case.name == "star+qso"
    assert case.positives == (1, 2)


SELECTIONS = (
    "  - {name: both, positive: [star, qso], metric: {primary: roc_auc, secondary: [completeness]},"
    " finish_line: {threshold: 0.7, margin: 0.02}}\n"
    "  - {name: gal, positive: galaxy, metric: {primary: {name: fpr_at_fnr, fnr: 0.1}},"
    " finish_line: {threshold: 0.3}, required: false}\n"
)


def test_selections_add_cases_with_prefixed_columns():
    cases = resolve_cases(project(secondary="[roc_auc]", selections=SELECTIONS))
    assert [c.name for c in cases] == ["star", "both", "gal"]
    assert [c.prefix for c in cases] == ["star:", "both:", "gal:"]
    assert [c.positives for c in cases] == [(STAR,), (STAR, QSO), (GALAXY,)]
    assert [c.required for c in cases] == [True, True, False]
    assert [(c.threshold, c.margin) for c in cases] == [(0.5, 0.01), (0.7, 0.02), (0.3, 0.0)]
    assert cases[0].primary_column == "star:tpr_at_fpr(fpr=0.1)"
    assert [cases[1].column(m) for m in cases[1].metrics] == ["both:roc_auc", "both:completeness(threshold=0.5)"]
    assert cases[2].primary_column == "gal:fpr_at_fnr(fnr=0.1)"
    assert cases[2].primary.greater_is_better is False


def test_regression_case_is_named_after_the_label_column():
    proj = load("name: p\nobjective: {statement: s, task: regression}\ndata: {path: x.csv, label: redshift}\n"
                "metric: {primary: rmse}\nfinish_line: {threshold: 0.1, margin: 0.01}\n")
    (case,) = resolve_cases(proj)
    assert case.name == "redshift" and case.positives == () and case.prefix == ""
    assert case.primary_column == "rmse"


def test_selection_named_like_the_main_case_does_not_share_its_columns():
    text = ("name: p\nobjective: {statement: s, task: classification}\ndata: {path: x.csv, label: c}\n"
            f"classes: {CLASSES}\npositive: qso\nmetric: {{primary: roc_auc}}\nfinish_line: {{threshold: 0.5}}\n"
            "selections:\n  - {name: qso, positive: [star, qso], metric: {primary: roc_auc},"
            " finish_line: {threshold: 0.9}}\n")
    try:
        proj = load(text)
    except ConfigError:
        return  # rejecting the clash is a fine fix too
    columns = [c.primary_column for c in resolve_cases(proj)]
    assert len(set(columns)) == len(columns), columns


# ------------------------------------------------------------------------- threshold transfer


def test_fold_rates_use_the_threshold_of_the_other_folds():
    proj = project(secondary="[{name: fpr_at_fnr, fnr: 0.2}]")
    plan = make_plan(proj)
    P = probabilities(0)
    rows, _ = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}), LABELS, resolve_cases(proj))
    is_star = LABELS == STAR
    for fold in range(3):
        valid = plan.split(0, fold).valid
        reference = np.concatenate([plan.split(0, f).valid for f in range(3) if f != fold])
        t = threshold_at_fpr(is_star[reference], P[reference, STAR], 0.1)
        expected_tpr = rate_at(is_star[valid], P[valid, STAR], t, "tpr")
        t_fnr = threshold_at_fnr(is_star[reference], P[reference, STAR], 0.2)
        expected_fpr = rate_at(is_star[valid], P[valid, STAR], t_fnr, "fpr")
        row = row_of(rows, "hgb", 0, fold)
        assert row["tpr_at_fpr(fpr=0.1)"] == pytest.approx(expected_tpr)
        assert row["fpr_at_fnr(fnr=0.2)"] == pytest.approx(expected_fpr)


def test_transferred_threshold_differs_from_tuning_on_the_scored_fold():
    """Fold 0 is scored on a different scale: tuned on itself it is perfect, transferred it selects nothing."""
    proj = project()
    plan = make_plan(proj)
    is_star = LABELS == STAR
    P = np.where(is_star[:, None], [0.9, 0.05, 0.05], [0.1, 0.45, 0.45])
    P = P + np.linspace(0, 0.01, N_ROWS)[:, None] * [1, -0.5, -0.5]  # break ties, rows still sum to 1

    def shrink_fold_0(task, valid):
        if task.fold == 0:
            q = P[valid].copy()
            q[:, STAR] = np.where(is_star[valid], 0.6, q[:, STAR])
            q[:, QSO] = 1 - q[:, STAR] - q[:, GALAXY]
            return q
        return None

    outputs = outputs_from(plan, {"dummy": P, "hgb": P}, by_task=shrink_fold_0)
    rows, rates = results_rows(plan, outputs, LABELS, resolve_cases(proj))
    valid = plan.split(0, 0).valid
    fold_scores = outputs[next(t.key for t in plan.tasks if (t.model, t.fold) == ("hgb", 0))].predictions[:, STAR]
    reference = np.concatenate([plan.split(0, f).valid for f in (1, 2)])
    t = threshold_at_fpr(is_star[reference], P[reference, STAR], 0.1)
    assert t > 0.6  # the other folds put every star near 0.9
    transferred = rate_at(is_star[valid], fold_scores, t, "tpr")
    tuned_on_itself = rate_at(is_star[valid], fold_scores, threshold_at_fpr(is_star[valid], fold_scores, 0.1), "tpr")
    assert (transferred, tuned_on_itself) == (0.0, 1.0)
    assert row_of(rows, "hgb", 0, 0)["tpr_at_fpr(fpr=0.1)"] == transferred
    assert row_of(rows, "hgb", 0, 1)["tpr_at_fpr(fpr=0.1)"] == 1.0
    # the pooled counts carry the miss: the stars of fold 0 were not selected
    pooled = rates["hgb"]["tpr_at_fpr(fpr=0.1)"]
    assert pooled.true_positives == int(is_star[plan.development].sum() - is_star[valid].sum())


def _blind_dummy(task, valid):
    """What the uninformative dummy predicts: its training fold's prior (different in every fold)
    plus a tie-breaker far smaller than the differences between the folds' priors."""
    if task.model != "dummy":
        return None
    rng = np.random.default_rng(task.fold)
    prior = np.array([0.30 + 0.01 * task.fold, 0.35, 0.35 - 0.01 * task.fold])
    return prior + 1e-6 * rng.uniform(-0.5, 0.5, size=(len(valid), 3))


def test_a_dummy_that_ignores_the_features_chooses_its_operating_point_on_its_own_fold():
    proj = project()
    plan = make_plan(proj)
    P = probabilities(3)
    outputs = outputs_from(plan, {"dummy": P, "hgb": P}, by_task=_blind_dummy)
    rows, _ = results_rows(plan, outputs, LABELS, resolve_cases(proj))
    is_star = LABELS == STAR
    scores = {t.fold: outputs[t.key].predictions[:, STAR] for t in plan.tasks if t.model == "dummy"}
    for fold in range(3):
        valid = plan.split(0, fold).valid
        own = rate_at(is_star[valid], scores[fold], threshold_at_fpr(is_star[valid], scores[fold], 0.1))
        assert row_of(rows, "dummy", 0, fold)["tpr_at_fpr(fpr=0.1)"] == pytest.approx(own)
        # a threshold from the other folds sees only their priors: all of this fold or none of it
        others = [f for f in range(3) if f != fold]
        reference = np.concatenate([plan.split(0, f).valid for f in others])
        t = threshold_at_fpr(is_star[reference], np.concatenate([scores[f] for f in others]), 0.1)
        assert rate_at(is_star[valid], scores[fold], t) in (0.0, 1.0)


def test_score_test_of_a_dummy_that_ignores_the_features_uses_its_own_test_scores():
    proj = project(primary="{name: tpr_at_fpr, fpr: 0.5}")
    plan = make_plan(proj)
    P = probabilities(4)
    P[:, STAR] += 1.0  # the development predictions of the CV folds sit far above the final model's
    task = next(t for t in plan.tasks if t.model == "dummy")
    test_predictions = _blind_dummy(task, plan.test)
    result = score_test("dummy", test_predictions, plan, LABELS, resolve_cases(proj), development_of(plan, P))
    is_star = LABELS[plan.test] == STAR
    score = test_predictions[:, STAR]
    expected = rate_at(is_star, score, threshold_at_fpr(is_star, score, 0.5))
    assert expected > 0  # a threshold from the development predictions would select nothing
    assert result.cases["star"].metrics["tpr_at_fpr(fpr=0.5)"] == pytest.approx(expected)


def test_score_repeat_returns_fold_values_and_pooled_counts():
    proj = project(secondary="[roc_auc]")
    plan = make_plan(proj)
    P = probabilities(1)
    outputs = outputs_from(plan, {"dummy": P, "hgb": P})
    fold_outputs = {t.fold: outputs[t.key] for t in plan.tasks if t.model == "hgb" and t.repeat == 0}
    values, pooled = score_repeat(plan, resolve_cases(proj), LABELS, 0, fold_outputs)
    assert set(values) == {0, 1, 2}
    for fold, valid in ((f, plan.split(0, f).valid) for f in range(3)):
        assert values[fold]["roc_auc"] == pytest.approx(roc_auc_score(LABELS[valid] == STAR, P[valid, STAR]))
    assert set(pooled) == {"tpr_at_fpr(fpr=0.1)"}  # AUC has no counts


# ----------------------------------------------------------------------------------- pooled rates


def test_pooled_counts_of_repeat_0_cover_the_development_set_once():
    proj = project(secondary="[completeness, {name: purity, threshold: 0.4}]", repeats=2)
    plan = make_plan(proj)
    assert len(plan.development) == 48 and len(plan.splits) == 6
    P = probabilities(2)

    def repeat_1_is_different(task, valid):
        return np.full((len(valid), 3), 1 / 3) if task.repeat == 1 else None

    rows, rates = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}, by_task=repeat_1_is_different),
                               LABELS, resolve_cases(proj))
    is_star = LABELS == STAR
    dev = plan.development
    tpr = rates["hgb"]["tpr_at_fpr(fpr=0.1)"]
    assert tpr.n_positive + tpr.n_negative == len(dev) == 48
    assert tpr.n_positive == int(is_star[dev].sum()) == 16
    expected_tp = expected_fp = 0
    for fold in range(3):
        valid = plan.split(0, fold).valid
        reference = np.concatenate([plan.split(0, f).valid for f in range(3) if f != fold])
        selected = P[valid, STAR] >= threshold_at_fpr(is_star[reference], P[reference, STAR], 0.1)
        expected_tp += int((selected & is_star[valid]).sum())
        expected_fp += int((selected & ~is_star[valid]).sum())
    assert (tpr.true_positives, tpr.false_positives) == (expected_tp, expected_fp)
    assert tpr.value == pytest.approx(expected_tp / 16)
    assert tpr.achieved_fpr == pytest.approx(expected_fp / 32)
    assert tpr.wilson == pytest.approx(wilson(expected_tp, 16))

    completeness = rates["hgb"]["completeness(threshold=0.5)"]
    selected = P[dev, STAR] >= 0.5
    assert completeness.n_positive + completeness.n_negative == 48
    assert completeness.true_positives == int((selected & is_star[dev]).sum())
    assert completeness.false_positives == int((selected & ~is_star[dev]).sum())
    purity = rates["hgb"]["purity(threshold=0.4)"]
    selected = P[dev, STAR] >= 0.4
    tp, fp = int((selected & is_star[dev]).sum()), int((selected & ~is_star[dev]).sum())
    assert (purity.true_positives, purity.false_positives) == (tp, fp)
    assert purity.value == pytest.approx(tp / (tp + fp))
    # repeat 1 (constant predictions) is scored in the rows but not pooled
    assert row_of(rows, "hgb", 1, 0)["completeness(threshold=0.5)"] == 0.0


def test_pooled_fpr_counts_false_positives_of_every_negative_it_counts():
    labels = LABELS.copy()
    # time order = row order; the development rows 0..47 form validation blocks 12-23, 24-35, 36-47
    labels[24:36] = np.where(labels[24:36] == STAR, GALAXY, labels[24:36])
    proj = project(primary="{name: fpr_at_fnr, fnr: 0.1}", validation=", strategy: time", data_extra=", order: t")
    plan = make_plan(proj, labels=labels, order=np.arange(N_ROWS))
    blocks = [plan.split(0, f).valid for f in range(plan.folds)]
    assert [(b.min(), b.max()) for b in blocks] == [(12, 23), (24, 35), (36, 47)]
    assert not (labels[blocks[1]] == STAR).any()
    P = probabilities(3, labels=labels, signal=2.0)
    P[blocks[1], STAR] = 0.99  # every negative of the positive-free fold would be selected
    _, rates = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}), labels, resolve_cases(proj))
    pooled = rates["hgb"]["fpr_at_fnr(fnr=0.1)"]
    is_star = labels == STAR
    fp = n_neg = 0
    for fold in (0, 2):  # the folds where the rate is defined
        reference = np.concatenate([blocks[f] for f in range(3) if f != fold])
        t = threshold_at_fnr(is_star[reference], P[reference, STAR], 0.1)
        valid = blocks[fold]
        fp += int(((P[valid, STAR] >= t) & ~is_star[valid]).sum())
        n_neg += int((~is_star[valid]).sum())
    counted_everywhere = (fp + 12) / (n_neg + 12)
    counted_where_defined = fp / n_neg
    assert pooled.value in (pytest.approx(counted_everywhere), pytest.approx(counted_where_defined))


# -------------------------------------------------------------------------------- merged positives


def test_merged_positive_case_sums_the_probability_columns():
    proj = project(secondary="[roc_auc]", selections=SELECTIONS)
    plan = make_plan(proj)
    P = probabilities(4)
    # a qso row whose star and qso probabilities are each below 0.5 but sum to more
    P[1] = [0.3, 0.3, 0.4]
    rows, rates = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}), LABELS, resolve_cases(proj))
    merged = np.isin(LABELS, [STAR, QSO])
    score = P[:, STAR] + P[:, QSO]
    for fold in range(3):
        valid = plan.split(0, fold).valid
        row = row_of(rows, "hgb", 0, fold)
        assert row["both:roc_auc"] == pytest.approx(roc_auc_score(merged[valid], score[valid]))
        assert row["star:roc_auc"] == pytest.approx(roc_auc_score(LABELS[valid] == STAR, P[valid, STAR]))
        assert row["both:completeness(threshold=0.5)"] == pytest.approx((score[valid][merged[valid]] >= 0.5).mean())
    dev = plan.development
    pooled = rates["hgb"]["both:completeness(threshold=0.5)"]
    assert pooled.n_positive == int(merged[dev].sum()) == 32
    assert pooled.true_positives == int(((score >= 0.5) & merged)[dev].sum())
    assert 1 in dev  # the constructed row is counted through the summed score
    assert pooled.true_positives > int(((P[:, STAR] >= 0.5) & merged)[dev].sum())


def test_summarize_cases_one_entry_per_case_with_paired_scores():
    proj = project(secondary="[roc_auc]", selections=SELECTIONS)
    plan = make_plan(proj)
    P = probabilities(5)
    cases = resolve_cases(proj)
    rows, rates = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}), LABELS, cases)
    summary = summarize_cases(plan, rows, cases, rates, confidence=0.9)
    assert [c.name for c in summary] == ["star", "both", "gal"]
    star, both, gal = summary
    assert star.positive == [STAR] and both.positive == [STAR, QSO] and gal.required is False
    assert star.primary.to_dict() == {"name": "tpr_at_fpr", "params": {"fpr": 0.1}, "label": "tpr_at_fpr(fpr=0.1)",
                               "greater_is_better": True, "bounds": [0.0, 1.0]}
    assert gal.primary.greater_is_better is False
    assert star.metrics == ["tpr_at_fpr(fpr=0.1)", "roc_auc"]
    assert (both.threshold, both.margin) == (0.7, 0.02)
    assert set(star.models) == {"dummy", "hgb"}
    hgb = both.models["hgb"]
    assert hgb.scores == [row_of(rows, "hgb", 0, f)["both:roc_auc"] for f in range(3)]
    assert hgb.metrics["roc_auc"].mean == pytest.approx(np.mean(hgb.scores))
    assert hgb.metrics["roc_auc"].n == 3
    assert set(hgb.rates) == {"completeness(threshold=0.5)"}
    assert set(gal.models["hgb"].rates) == {"fpr_at_fnr(fnr=0.1)"}
    json.dumps([c.to_dict() for c in summary], allow_nan=False)


# --------------------------------------------------------------------------- historical (1-D) scores


HISTORICAL = "historical: {column: h, kind: score}\n"


def test_historical_score_is_scored_for_the_main_binary_metrics_only():
    proj = project(secondary="[roc_auc, accuracy, log_loss, completeness]", selections=SELECTIONS,
                   baselines="[dummy, historical]", extra=HISTORICAL)
    plan = make_plan(proj)
    assert [m.name for m in plan.models] == ["dummy", "historical", "hgb"]
    P = probabilities(6)
    h = P[:, STAR] + 0.2 * probabilities(7)[:, 0]  # a noisy 1-D ranking score
    rows, rates = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P, "historical": h}), LABELS,
                               resolve_cases(proj))
    is_star = LABELS == STAR
    for fold in range(3):
        valid = plan.split(0, fold).valid
        reference = np.concatenate([plan.split(0, f).valid for f in range(3) if f != fold])
        row = row_of(rows, "historical", 0, fold)
        assert row["star:roc_auc"] == pytest.approx(roc_auc_score(is_star[valid], h[valid]))
        t = threshold_at_fpr(is_star[reference], h[reference], 0.1)
        assert row["star:tpr_at_fpr(fpr=0.1)"] == pytest.approx(rate_at(is_star[valid], h[valid], t))
        # a score on its own scale is no probability: a 0.5 cut, class probabilities and other
        # science cases are not scored
        for column in ("star:completeness(threshold=0.5)", "star:accuracy", "star:log_loss", "both:roc_auc",
                       "both:completeness(threshold=0.5)",
                       "gal:fpr_at_fnr(fnr=0.1)"):
            assert math.isnan(row[column]), column
        assert row["error"] == ""
        # the 2-D model is scored everywhere
        assert not any(math.isnan(v) for k, v in row_of(rows, "hgb", 0, fold).items() if ":" in k)
    assert set(rates["historical"]) == {"star:tpr_at_fpr(fpr=0.1)"}
    assert rates["historical"]["star:tpr_at_fpr(fpr=0.1)"].n_positive == 16


def test_historical_score_outside_unit_interval_does_not_crash_probability_metrics():
    proj = project(secondary="[roc_auc, brier]", baselines="[dummy, historical]",
                   extra="historical: {column: h, kind: score, direction: lower}\n")
    plan = make_plan(proj)
    P = probabilities(8)
    h = -(1 - P[:, STAR])  # data.py stores -values for direction: lower
    rows, _ = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P, "historical": h}), LABELS,
                           resolve_cases(proj))
    row = row_of(rows, "historical", 0, 0)
    assert row["roc_auc"] > 0.5
    assert math.isnan(row["brier"]) or 0 <= row["brier"] <= 1


# ----------------------------------------------------------------------------------- rate_record


def test_rate_record_completeness_counts_and_wilson_interval():
    record = rate_record("completeness", {"true_positives": 20, "false_positives": 5, "n_positive": 2000,
                                          "n_negative": 8000})
    assert record.value == pytest.approx(0.01)
    low, high = record.wilson
    assert (round(low, 4), round(high, 4)) == (0.0065, 0.0154)
    assert (low, high) == pytest.approx(wilson(20, 2000))
    assert record.achieved_tpr == pytest.approx(0.01) and record.achieved_fpr == pytest.approx(5 / 8000)
    assert record.true_positives == 20 and record.n_positive == 2000  # the counts travel with it
    assert record.confidence == 0.95
    json.dumps(record.to_dict(), allow_nan=False)


def test_rate_record_numerator_and_denominator_per_metric():
    counts = {"true_positives": 30, "false_positives": 10, "n_positive": 60, "n_negative": 200}
    assert rate_record("tpr_at_fpr", counts).value == pytest.approx(30 / 60)
    purity = rate_record("purity", counts)
    assert purity.value == pytest.approx(30 / 40) and purity.wilson == pytest.approx(wilson(30, 40))
    fpr = rate_record("fpr_at_fnr", counts)
    assert fpr.value == pytest.approx(10 / 200) and fpr.wilson == pytest.approx(wilson(10, 200))
    ninety = rate_record("completeness", counts, confidence=0.9)
    assert ninety.wilson == pytest.approx(wilson(30, 60, z=1.6448536269514722))


def test_rate_record_without_objects_is_null_not_nan():
    record = rate_record("purity", {"true_positives": 0, "false_positives": 0, "n_positive": 10, "n_negative": 5})
    assert record.value is None and record.wilson == (None, None)
    assert record.achieved_tpr == 0.0
    json.dumps(record.to_dict(), allow_nan=False)


# ------------------------------------------------------------------------------------ score_test


def development_of(plan, P) -> tuple[np.ndarray, np.ndarray]:
    """The pooled out-of-fold predictions of repeat 0: rows in fold order and their predictions."""
    rows = np.concatenate([plan.split(0, f).valid for f in range(plan.folds)])
    return rows, P[rows]


def test_score_test_takes_the_threshold_from_the_development_predictions():
    proj = project(secondary="[roc_auc, {name: fpr_at_fnr, fnr: 0.2}]", selections=SELECTIONS)
    plan = make_plan(proj)
    test = plan.test
    assert len(test) == 12
    P = probabilities(9)
    test_predictions = P[test].copy()
    test_predictions[:, STAR] *= 0.5  # the final model is less confident: tuning on the test set would differ
    test_predictions[:, GALAXY] = 1 - test_predictions[:, STAR] - test_predictions[:, QSO]
    cases = resolve_cases(proj)
    result = score_test("hgb", test_predictions, plan, LABELS, cases, development_of(plan, P))
    assert result.model == "hgb" and result.n_test == 12
    assert set(result.cases) == {"star", "both", "gal"}
    star = result.cases["star"]
    is_star = LABELS == STAR
    dev = plan.development
    t = threshold_at_fpr(is_star[dev], P[dev, STAR], 0.1)
    expected = rate_at(is_star[test], test_predictions[:, STAR], t)
    own = threshold_at_fpr(is_star[test], test_predictions[:, STAR], 0.1)
    assert expected != rate_at(is_star[test], test_predictions[:, STAR], own)  # the construction matters
    assert star.metrics["tpr_at_fpr(fpr=0.1)"] == pytest.approx(expected)
    record = star.rates["tpr_at_fpr(fpr=0.1)"]
    assert record.threshold == pytest.approx(t)
    assert record.n_positive + record.n_negative == 12 and record.n_positive == int(is_star[test].sum())
    assert record.true_positives == int(((test_predictions[:, STAR] >= t) & is_star[test]).sum())
    t_fnr = threshold_at_fnr(is_star[dev], P[dev, STAR], 0.2)
    assert star.metrics["fpr_at_fnr(fnr=0.2)"] == pytest.approx(rate_at(is_star[test], test_predictions[:, STAR],
                                                                           t_fnr, "fpr"))
    assert star.metrics["roc_auc"] == pytest.approx(roc_auc_score(is_star[test], test_predictions[:, STAR]))
    # keyed by the metric label (no case prefix), per case
    both = result.cases["both"]
    merged = np.isin(LABELS[test], [STAR, QSO])
    assert both.metrics["roc_auc"] == pytest.approx(
        roc_auc_score(merged, test_predictions[:, STAR] + test_predictions[:, QSO]))
    assert both.rates == {}
    is_gal = LABELS == GALAXY
    t_gal = threshold_at_fnr(is_gal[dev], P[dev, GALAXY], 0.1)
    assert result.cases["gal"].metrics["fpr_at_fnr(fnr=0.1)"] == pytest.approx(
        rate_at(is_gal[test], test_predictions[:, GALAXY], t_gal, "fpr"))
    json.dumps(result.to_dict(), allow_nan=False)


def test_score_test_without_development_predictions_leaves_operating_points_empty():
    proj = project(secondary="[roc_auc]")
    plan = make_plan(proj)
    P = probabilities(10)
    result = score_test("hgb", P[plan.test], plan, LABELS, resolve_cases(proj), None)
    star = result.cases["star"]
    assert star.metrics["tpr_at_fpr(fpr=0.1)"] is None and star.rates == {}
    assert star.metrics["roc_auc"] == pytest.approx(roc_auc_score(LABELS[plan.test] == STAR, P[plan.test, STAR]))


def test_score_test_of_a_historical_score():
    proj = project(secondary="[accuracy]", selections=SELECTIONS, baselines="[dummy, historical]", extra=HISTORICAL)
    plan = make_plan(proj)
    h = probabilities(11)[:, STAR]
    result = score_test("historical", h[plan.test], plan, LABELS, resolve_cases(proj), development_of(plan, h))
    is_star = LABELS == STAR
    dev, test = plan.development, plan.test
    t = threshold_at_fpr(is_star[dev], h[dev], 0.1)
    assert result.cases["star"].metrics["tpr_at_fpr(fpr=0.1)"] == pytest.approx(rate_at(is_star[test], h[test], t))
    assert result.cases["star"].metrics["accuracy"] is None
    assert result.cases["both"].metrics["roc_auc"] is None
    assert result.cases["gal"].metrics["fpr_at_fnr(fnr=0.1)"] is None and result.cases["gal"].rates == {}


# ---------------------------------------------------------------------------- failed tasks


def test_failed_and_missing_tasks_give_nan_rows_without_crashing():
    proj = project(secondary="[roc_auc, completeness]")
    plan = make_plan(proj)
    P = probabilities(12)
    outputs = outputs_from(plan, {"dummy": P, "hgb": P}, fail={("hgb", 0, 1)}, skip={("hgb", 0, 2)})
    rows, rates = results_rows(plan, outputs, LABELS, resolve_cases(proj))
    assert len(rows) == len(plan.tasks) == 6
    assert [(r["model"], r["repeat"], r["fold"]) for r in rows] == [(t.model, t.repeat, t.fold) for t in plan.tasks]
    assert list(rows[0]) == ["model", "role", "repeat", "fold", "seed", "n_valid", "tpr_at_fpr(fpr=0.1)", "roc_auc",
                             "completeness(threshold=0.5)", "fit_seconds", "cached", "error"]
    failed, missing = row_of(rows, "hgb", 0, 1), row_of(rows, "hgb", 0, 2)
    assert failed["error"] == "ValueError: boom" and failed["fit_seconds"] == 0.02
    assert missing["error"] == "not run" and math.isnan(missing["fit_seconds"]) and missing["cached"] is False
    for row in (failed, missing):
        assert all(math.isnan(row[c]) for c in ("tpr_at_fpr(fpr=0.1)", "roc_auc", "completeness(threshold=0.5)"))
    # the surviving fold has no other fold of its repeat to take a threshold from
    survivor = row_of(rows, "hgb", 0, 0)
    assert math.isnan(survivor["tpr_at_fpr(fpr=0.1)"]) and not math.isnan(survivor["roc_auc"])
    assert survivor["error"] == "" and survivor["role"] == "candidate" and survivor["n_valid"] == 16
    assert "tpr_at_fpr(fpr=0.1)" not in rates["hgb"]
    assert rates["hgb"]["completeness(threshold=0.5)"].n_positive == int((LABELS[plan.split(0, 0).valid] == 0).sum())

    models = summarize_models(plan, rows)
    hgb = next(m for m in models if m.name == "hgb")
    assert hgb.failed_tasks == 2 and hgb.n_tasks == 3
    assert hgb.errors == ["ValueError: boom", "not run"]
    assert hgb.fit_seconds == pytest.approx((0.5 + 0.02) / 2)
    cases = summarize_cases(plan, rows, resolve_cases(proj), rates, confidence=0.9)
    scores = cases[0].models["hgb"].scores
    assert scores == [None, None, None]
    assert cases[0].models["hgb"].metrics["roc_auc"].n == 1
    json.dumps([m.to_dict() for m in models] + [c.to_dict() for c in cases], allow_nan=False)


def test_one_failed_fold_leaves_the_others_a_smaller_reference():
    proj = project()
    plan = make_plan(proj)
    P = probabilities(13)
    rows, _ = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}, fail={("hgb", 0, 2)}), LABELS,
                           resolve_cases(proj))
    is_star = LABELS == STAR
    for fold, other in ((0, 1), (1, 0)):
        valid, reference = plan.split(0, fold).valid, plan.split(0, other).valid
        t = threshold_at_fpr(is_star[reference], P[reference, STAR], 0.1)
        assert row_of(rows, "hgb", 0, fold)["tpr_at_fpr(fpr=0.1)"] == pytest.approx(rate_at(is_star[valid],
                                                                                            P[valid, STAR], t))


def test_every_fit_failed():
    proj = project(secondary="[roc_auc]")
    plan = make_plan(proj)
    outputs = outputs_from(plan, {}, fail={(t.model, t.repeat, t.fold) for t in plan.tasks})
    cases = resolve_cases(proj)
    rows, rates = results_rows(plan, outputs, LABELS, cases)
    assert rates == {"dummy": {}, "hgb": {}}
    summary = summarize_cases(plan, rows, cases, rates, confidence=0.9)
    for model in ("dummy", "hgb"):
        entry = summary[0].models[model]
        assert entry.scores == [None, None, None] and entry.rates == {}
        assert entry.metrics["roc_auc"].n == 0 and entry.metrics["roc_auc"].mean is None
    assert all(m.failed_tasks == 3 for m in summarize_models(plan, rows))


# ---------------------------------------------------------------------------------- regression


def test_regression_rows_and_test_score():
    proj = load("name: p\nobjective: {statement: s, task: regression}\ndata: {path: x.csv, label: z}\n"
                "metric: {primary: rmse, secondary: [mae]}\nfinish_line: {threshold: 0.1}\n"
                "validation: {folds: 3, repeats: 1, test_size: 0.2}\nbaselines: [dummy]\n")
    z = np.linspace(0.0, 1.0, N_ROWS)
    plan = make_plan(proj, labels=z)
    prediction = z + np.where(np.arange(N_ROWS) % 2, 0.1, -0.05)
    cases = resolve_cases(proj)
    rows, rates = results_rows(plan, outputs_from(plan, {"dummy": prediction}), z, cases)
    assert rates == {"dummy": {}}
    for fold in range(3):
        valid = plan.split(0, fold).valid
        error = prediction[valid] - z[valid]
        row = row_of(rows, "dummy", 0, fold)
        assert row["rmse"] == pytest.approx(math.sqrt(np.mean(error ** 2)))
        assert row["mae"] == pytest.approx(np.mean(np.abs(error)))
    result = score_test("dummy", prediction[plan.test], plan, z, cases, None)
    assert result.cases["z"].metrics["mae"] == pytest.approx(np.mean(np.abs(prediction - z)[plan.test]))
    assert result.cases["z"].rates == {}


def test_regression_test_coverage_counts_the_nominal_one_and_one_point_nine_six_sigma_intervals():
    from mlproj.science.uncertainty import COVERAGE_68, COVERAGE_95

    proj = load("name: p\nobjective: {statement: s, task: regression}\ndata: {path: x.csv, label: z}\n"
                "metric: {primary: rmse}\nfinish_line: {threshold: 0.1}\n"
                "validation: {folds: 3, repeats: 1, test_size: 0.2}\nbaselines: [dummy]\n")
    z = np.linspace(0.0, 1.0, N_ROWS)
    plan = make_plan(proj, labels=z)
    rng = np.random.default_rng(14)
    prediction = z + rng.normal(0, 0.1, N_ROWS)
    cases = resolve_cases(proj)
    assert cases[0].uncertainty_methods == ("global",)
    development = development_of(plan, prediction)
    result = score_test("dummy", prediction[plan.test], plan, z, cases, development)
    entry = result.cases["z"]
    rows, pooled = development
    sigma = math.sqrt(np.mean((z[rows] - pooled) ** 2))  # the global σ: out-of-fold RMS residual
    residual = np.abs(prediction - z)[plan.test]
    coverage = entry.coverage["global"]
    assert list(coverage) == ["0.6827", "0.95"]
    assert coverage["0.6827"].nominal == COVERAGE_68 == pytest.approx(0.682689492)
    assert coverage["0.95"].nominal == COVERAGE_95 == 0.95
    assert coverage["0.6827"].inside == int((residual <= sigma).sum())
    assert coverage["0.95"].inside == int((residual <= 1.959963984540054 * sigma).sum())
    assert coverage["0.95"].n == len(plan.test) == 12
    assert entry.uncertainty["coverage_95[global]"] == pytest.approx(coverage["0.95"].observed)
    assert entry.pit.method == "global"
    json.dumps(result.to_dict(), allow_nan=False)


# ---------------------------------------------------------------------------------- pooling


def test_pooled_development_predictions_cover_the_development_set_once_in_fold_order():
    proj = project(repeats=2)
    plan = make_plan(proj)
    P = probabilities(15)
    outputs = outputs_from(plan, {"dummy": P, "hgb": P})
    rows, predictions = pooled_development_predictions(plan, outputs, "hgb")
    assert sorted(rows) == sorted(plan.development) and len(set(rows)) == len(rows)
    assert np.array_equal(rows, np.concatenate([plan.split(0, f).valid for f in range(plan.folds)]))
    np.testing.assert_array_equal(predictions, P[rows])  # repeat 0 only: row i is predicted by predictions[i]
    failed = outputs_from(plan, {"dummy": P, "hgb": P}, fail={("hgb", 0, 1)})
    assert pooled_development_predictions(plan, failed, "hgb") is None
    assert pooled_development_predictions(plan, outputs, "no such model") is None


def test_pool_folds_keeps_the_order_it_is_given():
    valid = {0: np.array([4, 5]), 1: np.array([0, 1, 2]), 2: np.array([3])}
    predictions = {f: rows * 10.0 for f, rows in valid.items()}
    rows, pooled = pool_folds(predictions, valid, [2, 0])
    assert rows.tolist() == [3, 4, 5] and pooled.tolist() == [30.0, 40.0, 50.0]



# ------------------------------------------------------------ rate floors and test intervals (issue 22)


def test_every_rate_metric_keeps_its_pooled_counts_and_is_floored_by_them():
    proj = project(secondary="[roc_auc, accuracy, completeness, purity]")
    plan = make_plan(proj)
    P = probabilities(12, signal=3.0)
    cases = resolve_cases(proj)
    rows, rates = results_rows(plan, outputs_from(plan, {"dummy": P, "hgb": P}), LABELS, cases)
    hgb = summarize_cases(plan, rows, cases, rates, confidence=0.9)[0].models["hgb"]
    dev = plan.development
    pooled = rates["hgb"]["tpr_at_fpr(fpr=0.1)"]
    assert hgb.proportions["tpr_at_fpr(fpr=0.1)"].to_dict() == {"successes": pooled.true_positives,
                                                               "trials": pooled.n_positive}
    # accuracy: every development object once, k read back from each fold's n_valid
    correct = int((P[dev].argmax(axis=1) == LABELS[dev]).sum())
    assert hgb.proportions["accuracy"].to_dict() == {"successes": correct, "trials": len(dev)}
    selected = P[dev, STAR] >= 0.5
    is_star = LABELS[dev] == STAR
    assert hgb.proportions["purity(threshold=0.5)"].to_dict() == {"successes": int((selected & is_star).sum()),
                                                                 "trials": int(selected.sum())}
    assert hgb.proportions["completeness(threshold=0.5)"].trials == int(is_star.sum())
    assert "roc_auc" not in hgb.proportions  # not a rate
    # the stored interval of a rate is the wider of the corrected t and the Wilson of its counts
    for label, counts in hgb.proportions.items():
        t_interval = stats.summarize([r[label] for r in rows if r["model"] == "hgb"], plan.folds, plan.repeats,
                                     0.9, bounds=(0.0, 1.0)).interval
        w = stats.wilson(counts.successes, counts.trials, 0.9)
        widest = max([t_interval, w], key=lambda iv: iv[1] - iv[0])
        assert hgb.metrics[label].interval == pytest.approx(widest)


def test_score_test_stores_the_primary_metrics_test_interval():
    proj = project(secondary="[roc_auc]")
    plan = make_plan(proj)
    P = probabilities(13, signal=2.0)
    cases = resolve_cases(proj)
    result = score_test("hgb", P[plan.test], plan, LABELS, cases, development_of(plan, P), confidence=0.9)
    star = result.cases["star"]
    rate = star.rates["tpr_at_fpr(fpr=0.1)"]
    interval = star.intervals["tpr_at_fpr(fpr=0.1)"]
    assert interval.method == "Wilson" and (interval.successes, interval.trials) == (rate.true_positives,
                                                                                    rate.n_positive)
    assert interval.interval == pytest.approx(stats.wilson(rate.true_positives, rate.n_positive, 0.9))
    assert set(star.intervals) == {"tpr_at_fpr(fpr=0.1)"}  # the primary metric's, which the finish line needs
    # a non-rate primary: a bootstrap over the test objects, reproducible, around the test score
    auc = project(primary="roc_auc")
    plan = make_plan(auc)
    first = score_test("hgb", P[plan.test], plan, LABELS, resolve_cases(auc), None, confidence=0.9)
    again = score_test("hgb", P[plan.test], plan, LABELS, resolve_cases(auc), None, confidence=0.9)
    boot = first.cases["star"].intervals["roc_auc"]
    assert boot.method.startswith("bootstrap") and boot == again.cases["star"].intervals["roc_auc"]
    assert boot.value == pytest.approx(roc_auc_score(LABELS[plan.test] == STAR, P[plan.test, STAR]))
    assert boot.interval[0] < boot.value <= boot.interval[1] and boot.n == len(plan.test)
    stored = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    assert TestScores.from_dict(stored) == first
