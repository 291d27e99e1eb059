"""Tests of the verdict criteria of issue 22 that judge more than the cross-validated score:
`operating_point_holds` (the test set keeps the operating point's promise), `no_label_leak` (no
single feature gives the label away), and the comparisons of the *selected* model with every
other model (DESIGN §6). Hand-made typed Summaries, no fitting."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from mlproj.analyse.types import StrongFeature, Summary, TestCaseScores, TestRate, TestScores, TestSet
from mlproj.report import console
from mlproj.science import metrics, stats
from mlproj.verdict.judge import judge
from mlproj.verdict.types import Verdict
from tests.report.test_console import rendered
from tests.verdict.test_judge import (
    CONFIDENCE,
    FOLDS,
    NOISE,
    REPEATS,
    TINY,
    case,
    comparison,
    criterion,
    scores,
    standard,
    summary,
)

GALAXY_LABEL = "tpr_at_fpr(fpr=0.01)"
QSO_LABEL = "fpr_at_fnr(fnr=0.05)"


def galaxy_case(name: str = "galaxy", **kwargs):
    """A tpr_at_fpr case at a 1% FPR target, hgb clearly best."""
    c = case({"dummy": scores(0.02, 0.005, NOISE[::-1]), "logistic": scores(0.8, noise=TINY), "hgb": scores(0.95)},
             name=name, label=GALAXY_LABEL, **kwargs)
    c.primary.params = {"fpr": 0.01}
    return c


def qso_case(name: str = "complete-qsos"):
    """A fpr_at_fnr case at a 5% FNR target (lower FPR is better)."""
    c = case({"dummy": scores(0.95, 0.01, NOISE[::-1]), "hgb": scores(0.02, 0.002)}, name=name, label=QSO_LABEL,
             greater_is_better=False, threshold=0.05, positive=(2,))
    c.primary.params = {"fnr": 0.05}
    return c


def held_out_rate(tp: int, fp: int, n_pos: int, n_neg: int, metric: str = "tpr_at_fpr") -> TestRate:
    k, n = (fp, n_neg) if metric == "fpr_at_fnr" else (tp, n_pos)
    low, high = metrics.wilson_interval(k, n)
    return TestRate(tp, fp, n_pos, n_neg, k / n, fp / n_neg, tp / n_pos, (low, high), 0.95, threshold=0.7)


def scored_on_test(rates: dict[str, dict[str, TestRate]], model: str = "hgb", n_test: int = 2000) -> TestSet:
    """`model`'s held-out result, per case name: label -> rate."""
    cases = {name: TestCaseScores({label: r.value for label, r in by_label.items()}, dict(by_label))
             for name, by_label in rates.items()}
    return TestSet({model: TestScores(model, n_test, cases)}, uses=1)


# ----------------------------------------------------------------------------- operating_point_holds


def test_the_sdss_test_fpr_of_17_in_1000_for_a_1_percent_target_fails_the_operating_point():
    """configs/sdss-selections.yaml: 17 of 1000 test negatives selected, Wilson [0.0106, 0.0271]."""
    s = summary(galaxy_case(), test=scored_on_test({"galaxy": {GALAXY_LABEL: held_out_rate(950, 17, 1000, 1000)}}))
    s.confidence = 0.95
    verdict = judge(s)
    holds = criterion(verdict, "operating_point_holds")
    assert holds.status == "fail" and holds.required is True and holds.selection == "galaxy"
    assert holds.value == pytest.approx(0.017) and holds.threshold == 0.01
    assert "FPR 17/1000" in holds.detail and "[0.0106, 0.0271]" in holds.detail
    assert "wholly above the target 0.01" in holds.detail and "more contamination than promised" in holds.detail
    # the finish line is reached and the dummy beaten: the operating point alone fails the verdict
    assert criterion(verdict, "finish_line").status == "pass"
    assert verdict.status == "fail" and verdict.exit_code == 1


def test_an_interval_below_the_target_is_a_conservative_pass_and_one_around_it_consistent():
    below = judge(summary(galaxy_case(), test=scored_on_test({"galaxy": {GALAXY_LABEL: held_out_rate(900, 0, 1000, 2000)}})))
    holds = criterion(below, "operating_point_holds")
    assert holds.status == "pass" and "conservative" in holds.detail and holds.value == 0
    around = judge(summary(galaxy_case(), test=scored_on_test({"galaxy": {GALAXY_LABEL: held_out_rate(900, 11, 1000, 1000)}})))
    holds = criterion(around, "operating_point_holds")
    assert holds.status == "pass" and "consistent" in holds.detail and "conservative" not in holds.detail
    assert around.status == "pass"


def test_the_fnr_of_an_fpr_at_fnr_selection_is_checked_against_its_target():
    lost = held_out_rate(170, 40, 200, 1800, metric="fpr_at_fnr")  # 30 of 200 quasars lost for a 5% target
    verdict = judge(summary(galaxy_case(), qso_case(), test=scored_on_test({
        "galaxy": {GALAXY_LABEL: held_out_rate(950, 10, 1000, 1000)}, "complete-qsos": {QSO_LABEL: lost}})))
    holds = criterion(verdict, "complete-qsos: operating_point_holds")
    assert holds.status == "fail" and holds.threshold == 0.05 and holds.value == pytest.approx(0.15)
    assert "FNR 30/200" in holds.detail and "more positives lost than promised" in holds.detail
    assert criterion(verdict, "galaxy: operating_point_holds").status == "pass"
    assert verdict.status == "fail"


def test_a_selected_model_without_test_counts_leaves_the_operating_point_undetermined():
    verdict = judge(summary(galaxy_case(), test=TestSet({"hgb": TestScores("hgb", 100, {
        "galaxy": TestCaseScores({GALAXY_LABEL: None})})}, uses=1)))
    holds = criterion(verdict, "operating_point_holds")
    assert holds.status == "undetermined" and holds.value is None and "cannot be checked" in holds.detail
    assert verdict.status == "undetermined"
    no_negatives = judge(summary(galaxy_case(), test=scored_on_test({"galaxy": {GALAXY_LABEL: TestRate(
        5, 0, 10, 0, 0.5, None, 0.5, (0.24, 0.76), 0.95, threshold=0.5)}})))
    assert criterion(no_negatives, "operating_point_holds").status == "undetermined"


def test_no_test_set_or_no_operating_point_no_criterion():
    """Before the test set is used (the provisional judgement that selects the models to test) and
    for metrics without an operating point there is nothing to hold."""
    assert "operating_point_holds" not in [c.name for c in judge(summary(galaxy_case())).criteria]
    auc = judge(summary(standard(scores(0.95)), test=TestSet({"hgb": TestScores("hgb", 100, {
        "star": TestCaseScores({"roc_auc": 0.95})})}, uses=1)))
    assert "operating_point_holds" not in [c.name for c in auc.criteria]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), data=st.data(), target=st.floats(0.001, 0.5),
       confidence=st.sampled_from([0.68, 0.9, 0.95, 0.99]))
def test_the_operating_point_rule_follows_the_wilson_interval_of_scipy(n, data, target, confidence):
    fp = data.draw(st.integers(0, n))
    s = summary(galaxy_case(), test=scored_on_test({"galaxy": {GALAXY_LABEL: held_out_rate(50, fp, 100, n)}}))
    s.confidence = confidence
    s.cases[0].primary.params = {"fpr": target}
    holds = criterion(judge(s), "operating_point_holds")
    oracle = binomtest(fp, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert metrics.wilson_interval(fp, n, confidence) == pytest.approx((oracle.low, oracle.high), abs=1e-12)
    expected = "fail" if oracle.low > target + 1e-12 else "pass"
    if abs(oracle.low - target) > 1e-9:  # away from the edge, where rounding could decide
        assert holds.status == expected
    if holds.status == "pass" and oracle.high < target - 1e-9:
        assert "conservative" in holds.detail
    assert json.loads(json.dumps(holds.to_dict(), allow_nan=False)) == holds.to_dict()


# ------------------------------------------------------------------------------------- no_label_leak


def leaky(*features: StrongFeature):
    s = summary(standard(scores(0.95)))
    s.strong_features = list(features)
    return s


def test_a_feature_equal_to_the_class_fails_the_verdict_naming_it_and_what_to_do():
    """The catalogue with `type_r` equal to the class and a redshift 0 for stars got PASS."""
    verdict = judge(leaky(StrongFeature("type_r", "roc_auc", 1.0, label_function=True),
                          StrongFeature("redshift", "roc_auc", 0.99998),
                          StrongFeature("petroRad_r", "roc_auc", 0.93)))
    leak = criterion(verdict, "no_label_leak")
    assert leak.status == "fail" and leak.required is True and leak.value == 2 and leak.threshold == 0.999
    assert "type_r (a function of the label)" in leak.detail
    assert "redshift (roc_auc > 0.9999 alone)" in leak.detail  # not a rounded "1"
    assert "petroRad_r" not in leak.detail  # strong but physical: the data check's grouped note
    assert "data.allowed_strong_features if it is physics, or drop it" in leak.detail
    assert criterion(verdict, "finish_line").status == "pass"
    assert verdict.status == "fail" and verdict.exit_code == 1


def test_a_function_of_the_label_leaks_whatever_its_score():
    verdict = judge(leaky(StrongFeature("redshift", "roc_auc", 0.97, label_function=True)))
    leak = criterion(verdict, "no_label_leak")
    assert leak.status == "fail" and leak.value == 1
    assert leak.detail.startswith("redshift (a function of the label) predicts the label on its own")


def test_an_acknowledged_leak_passes_and_is_named():
    verdict = judge(leaky(StrongFeature("redshift", "roc_auc", 0.9995, acknowledged=True),
                          StrongFeature("petroRad_r", "roc_auc", 0.93)))
    leak = criterion(verdict, "no_label_leak")
    assert leak.status == "pass" and leak.value == 0
    assert "acknowledged in data.allowed_strong_features: redshift (roc_auc 0.9995 alone)" in leak.detail
    assert verdict.status == "pass"


def test_without_strong_features_there_is_no_leak():
    verdict = judge(summary(standard(scores(0.95))))
    leak = criterion(verdict, "no_label_leak")
    assert leak.status == "pass" and leak.selection is None and "no single feature" in leak.detail
    assert verdict.status == "pass"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 1.0), st.booleans(), st.booleans()), max_size=6))
def test_the_leak_criterion_fails_exactly_when_an_unacknowledged_feature_leaks(found):
    features = [StrongFeature(f"f{i}", "roc_auc", value, function, acknowledged)
                for i, (value, function, acknowledged) in enumerate(found)]
    verdict = judge(leaky(*features))
    leak = criterion(verdict, "no_label_leak")
    unacknowledged = [f for f in features if (f.label_function or f.value >= 0.999) and not f.acknowledged]
    assert (leak.status == "fail") == bool(unacknowledged) and leak.value == len(unacknowledged)
    for f in unacknowledged:
        assert f"{f.feature} (" in leak.detail
    assert (verdict.status == "fail") == bool(unacknowledged)
    written = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    assert Verdict.from_dict(written).to_dict() == written
    assert judge(Summary.from_dict(json.loads(json.dumps(leaky(*features).to_dict())))) == verdict


# ------------------------------------------------------------------------------ selected-model table


def test_a_selected_random_forest_is_compared_with_every_other_model():
    """Today's comparisons were of the best candidate (mlp) with the baselines: the selected
    random forest's were shown nowhere."""
    lineup = {"dummy": scores(0.5, 0.02, NOISE[::-1]), "random_forest": scores(0.97),
              "mlp": scores(0.92, noise=TINY), "hgb": scores(0.85, noise=TINY)}
    s = summary(case(lineup))
    verdict = judge(s)
    assert verdict.selected_model == "random_forest"
    assert {(c.a, c.b) for c in verdict.comparisons} == {("dummy", "random_forest"), ("mlp", "random_forest"),
                                                         ("hgb", "random_forest")}
    for c in verdict.comparisons:  # the same paired test, the selected model as b
        expected = stats.compare(lineup[c.a], lineup["random_forest"], folds=FOLDS, repeats=REPEATS, margin=0.01,
                                 confidence=CONFIDENCE)
        assert (c.difference, c.p_better, c.decision) == (pytest.approx(expected.difference),
                                                          pytest.approx(expected.p_better), expected.decision)
        assert c.decision == "improved"
    text = " ".join(rendered(console.print_verdict, verdict, s).split())
    assert "Paired comparisons of the selected random_forest with every other model" in text
    for c in verdict.comparisons:  # the console table shows verdict.json's rows
        assert f"random_forest vs {c.a} " in text


def test_a_selected_simpler_model_is_the_one_compared():
    logistic = scores(0.95)
    hgb = [v + 0.001 + 1e-4 * t for v, t in zip(logistic, TINY)]
    verdict = judge(summary(case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": logistic, "hgb": hgb})))
    assert verdict.selected_model == "logistic"
    assert {(c.a, c.b) for c in verdict.comparisons} == {("dummy", "logistic"), ("hgb", "logistic")}
    assert comparison(verdict, "hgb", "logistic").decision == "equivalent"


def test_each_selection_compares_its_own_selected_model():
    star = standard(scores(0.95), name="star")
    gal = case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": scores(0.9, noise=TINY), "hgb": scores(0.7)},
               name="gal", threshold=0.8)
    s = summary(star, gal)
    verdict = judge(s)
    assert [x.selected_model for x in verdict.selections] == ["hgb", "logistic"]
    by_case = {(c.selection, c.a, c.b) for c in verdict.comparisons}
    assert by_case == {("star", "dummy", "hgb"), ("star", "logistic", "hgb"),
                       ("gal", "dummy", "logistic"), ("gal", "hgb", "logistic")}
    text = " ".join(rendered(console.print_verdict, verdict, s).split())
    assert "Paired comparisons of the selected hgb" in text and "Paired comparisons of the selected logistic" in text


def test_a_failed_model_takes_no_part_in_the_comparisons():
    lineup = {"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": [None] * (FOLDS * REPEATS), "hgb": scores(0.95)}
    verdict = judge(summary(case(lineup), failed={"logistic": FOLDS * REPEATS}))
    assert {(c.a, c.b) for c in verdict.comparisons} == {("dummy", "hgb")}


def test_the_test_line_of_each_selection_names_the_model_scored():
    star = standard(scores(0.95), name="star")
    gal = case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": scores(0.9, noise=TINY), "hgb": scores(0.7)},
               name="gal", threshold=0.8)
    test = TestSet({"hgb": TestScores("hgb", 300, {"star": TestCaseScores({"roc_auc": 0.951})}),
                    "logistic": TestScores("logistic", 300, {"gal": TestCaseScores({"roc_auc": 0.902})})}, uses=1)
    s = summary(star, gal, test=test)
    text = " ".join(rendered(console.print_verdict, judge(s), s).split())
    assert "Held-out test of hgb, the model selected for star (300 objects, used once): roc_auc = 0.951" in text
    assert "Held-out test of logistic, the model selected for gal (300 objects, used once): roc_auc = 0.902" in text
    single = summary(standard(scores(0.95)), test=TestSet({"hgb": TestScores("hgb", 300, {
        "star": TestCaseScores({"roc_auc": 0.951})})}, uses=1))
    assert "Held-out test of hgb, the selected model (300 objects" in rendered(console.print_verdict, judge(single),
                                                                               single)
