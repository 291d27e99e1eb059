"""Tests of mlproj.verdict.judge: judging hand-made typed Summaries (plain values, no fitting).

Every summary below is built from score lists chosen so that the statistics (corrected
t-interval, Bayesian correlated t-test with the margin as region of equivalence) land clearly on
one side of each decision.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.analyse.types import (
    CaseResult,
    DataDescription,
    Estimate,
    ModelInfo,
    ModelScores,
    Power,
    PrimaryMetric,
    Proportion,
    Summary,
    TestCaseScores,
    TestInterval,
    TestScores,
    TestSet,
    finite,
    or_nan,
)
from mlproj.science import stats
from mlproj.verdict.judge import EXIT_CODES, judge
from mlproj.verdict.types import Criterion, ModelComparison, Verdict

FOLDS, REPEATS, CONFIDENCE = 5, 2, 0.9
NOISE = np.array([0.3, -0.5, 0.8, -0.2, 0.1, -0.9, 0.4, 0.6, -0.4, -0.2])  # mean 0, sd ~0.53
TINY = np.array([0.2, -0.1, 0.3, -0.4, 0.1, 0.0, -0.2, 0.4, -0.3, 0.0])  # another mean-0 pattern

# name -> (role, simplicity, fit seconds), as models.model_specs / resolve_specs give them
MODELS = {
    "dummy": ("baseline", 0, 0.001),
    "logistic": ("baseline", 1, 0.05),
    "random_forest": ("baseline", 2, 0.5),
    "hgb": ("candidate", 2, 1.0),
    "mlp": ("candidate", 3, 2.0),
}


def scores(mean: float, scale: float = 0.01, noise=NOISE) -> list[float]:
    return [float(mean + scale * e) for e in noise]


def model_entry(name: str, n_failed: int = 0, errors: list[str] | None = None) -> ModelInfo:
    role, simplicity, fit = MODELS[name]
    return ModelInfo(name, role, "X", {}, False, simplicity, fit if n_failed < FOLDS * REPEATS else None, n_failed,
                     FOLDS * REPEATS, errors if errors is not None else (["ValueError: boom"] if n_failed else []))


def estimate(values: list[float | None]) -> Estimate:
    return Estimate.from_dict(stats.summarize([or_nan(v) for v in values], FOLDS, REPEATS, CONFIDENCE).to_dict())


def case(per_model: dict[str, list], *, name: str = "star", label: str = "roc_auc", greater_is_better: bool = True,
         threshold: float = 0.9, margin: float = 0.01, required: bool = True, positive=(0,)) -> CaseResult:
    """One science case as analyse.summarize_cases makes it."""
    models = {}
    for model, values in per_model.items():
        values = [finite(v) for v in values]
        models[model] = ModelScores({label: estimate(values)}, values)
    return CaseResult(name, list(positive), required, PrimaryMetric(label.split("(")[0], {}, label, greater_is_better),
                      [label], threshold, margin, models=models)


def summary(*cases: CaseResult, failed: dict[str, int] | None = None, test: TestSet | None = None,
            power: Power | None = None, warnings: list[str] | None = None) -> Summary:
    names = list(dict.fromkeys(n for c in cases for n in c.models))
    failed = failed or {}
    return Summary("p", "classification", FOLDS, REPEATS, CONFIDENCE, DataDescription(),
                   [model_entry(n, failed.get(n, 0)) for n in names], list(cases), test=test, power=power,
                   warnings=list(warnings or []))


def standard(hgb: list, **kwargs) -> CaseResult:
    """dummy, logistic and a candidate hgb: the usual line-up of one science case."""
    return case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": scores(0.8, 0.01, TINY), "hgb": hgb}, **kwargs)


def criterion(verdict: Verdict, name: str) -> Criterion:
    return next(c for c in verdict.criteria if c.name == name)


def comparison(verdict: Verdict, a: str, b: str) -> ModelComparison:
    return next(c for c in verdict.comparisons if (c.a, c.b) == (a, b))


# ------------------------------------------------------------------------------- overall states


def test_pass_when_the_finish_line_is_reached_and_the_dummy_beaten():
    verdict = judge(summary(standard(scores(0.95))))
    assert verdict.status == "pass" and verdict.exit_code == 0
    assert verdict.selected_model == "hgb"
    assert verdict.selection_reason == ("hgb has the best mean and no other model is shown to be equivalent to it "
                                        "within \u00b10.01")
    # the reason is why the status: the finish line by its interval, then the other criteria
    assert verdict.reason.startswith("finish line reached: the cross-validated 90% interval [")
    assert "lies above 0.9" in verdict.reason and "beats_trivial_baseline" in verdict.reason
    finish = criterion(verdict, "finish_line")
    assert finish.status == "pass" and finish.threshold == 0.9
    assert finish.value == pytest.approx(0.95)
    assert finish.detail.startswith("hgb: roc_auc = ") and "reached" in finish.detail
    dummy = criterion(verdict, "beats_trivial_baseline")
    assert dummy.status == "pass" and dummy.value == pytest.approx(0.45, abs=0.01)
    assert dummy.threshold == 0.01 and dummy.detail.startswith("hgb vs dummy: improved")
    assert verdict.finish_line.state == "reached"
    assert verdict.warnings == []


def test_fail_when_the_whole_interval_is_below_the_threshold():
    verdict = judge(summary(standard(scores(0.85))))
    assert verdict.status == "fail" and verdict.exit_code == 1
    assert verdict.selected_model == "hgb"
    assert criterion(verdict, "finish_line").status == "fail"
    assert criterion(verdict, "beats_trivial_baseline").status == "pass"
    assert verdict.finish_line.state == "not_reached"


def test_undetermined_when_the_interval_straddles_the_threshold():
    verdict = judge(summary(standard(scores(0.905, scale=0.05))))
    assert verdict.status == "undetermined" and verdict.exit_code == 3
    finish = criterion(verdict, "finish_line")
    assert finish.status == "undetermined" and "straddles" in finish.detail
    assert verdict.finish_line.extra_factor > 1


def test_no_model_beats_the_dummy():
    verdict = judge(summary(case({"dummy": scores(0.95), "hgb": scores(0.6)})))
    assert verdict.selected_model == "dummy"
    beats = criterion(verdict, "beats_trivial_baseline")
    assert beats.status == "fail" and "uninformative dummy" in beats.detail
    assert verdict.status == "fail"


def test_a_candidate_equivalent_to_the_dummy_does_not_beat_it():
    dummy = scores(0.95)
    verdict = judge(summary(case({"dummy": dummy, "hgb": [d + 0.001 + 1e-4 * t for d, t in zip(dummy, TINY)]})))
    assert verdict.selected_model == "dummy"  # simplest of the equivalent models
    beats = criterion(verdict, "beats_trivial_baseline")
    assert beats.status == "fail" and "equivalent" in beats.detail
    assert verdict.status == "fail"


def test_the_interval_of_a_rate_is_cut_to_the_values_it_can_take():
    high = case({"hgb": scores(0.995, 0.01)}, label="tpr_at_fpr(fpr=0.01)", threshold=0.99)
    unbounded = judge(summary(high)).primary.interval
    assert unbounded[1] > 1  # a completeness above 100 % is what the plain t interval says
    high.primary.bounds = (0.0, 1.0)
    verdict = judge(summary(high))
    assert verdict.primary.interval == (unbounded[0], 1.0)
    # unbounded sides are recorded as None (JSON has no infinity)
    high.primary.bounds = (0.0, None)
    assert judge(summary(high)).primary.interval == unbounded


def test_a_dummy_without_any_score_does_not_hold_the_verdict_back():
    """The purity of a dummy that selects nothing is undefined in every fold."""
    verdict = judge(summary(case({"dummy": [math.nan] * (FOLDS * REPEATS), "hgb": scores(0.95)})))
    beats = criterion(verdict, "beats_trivial_baseline")
    assert beats.status == "undetermined" and beats.required is False and "nothing to compare" in beats.detail
    assert verdict.status == "pass"


def test_without_a_dummy_there_is_no_trivial_baseline_criterion():
    verdict = judge(summary(case({"logistic": scores(0.8, noise=TINY), "hgb": scores(0.95)})))
    assert [c.name for c in verdict.criteria] == ["finish_line", "no_label_leak"]
    assert verdict.status == "pass"


# ------------------------------------------------------------------------- selection and comparisons


def test_simpler_equivalent_model_is_selected_with_the_reason():
    logistic = scores(0.95)
    hgb = [v + 0.001 + 1e-4 * t for v, t in zip(logistic, TINY)]  # the same model up to noise
    verdict = judge(summary(case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": logistic, "hgb": hgb})))
    assert verdict.selected_model == "logistic"
    assert verdict.selection_reason == "logistic is equivalent to hgb within \u00b10.01 and is simpler"
    assert verdict.primary.mean == pytest.approx(np.mean(logistic))
    # the selected model is the one compared with every other model (DESIGN §6)
    equal = comparison(verdict, "hgb", "logistic")
    assert equal.decision == "equivalent" and equal.p_equivalent > 0.95
    assert equal.difference == pytest.approx(-0.001, abs=1e-4)
    assert comparison(verdict, "dummy", "logistic").decision == "improved"
    # but the criterion is about the model the verdict reports and `predict` uses
    assert criterion(verdict, "beats_trivial_baseline").detail.startswith("logistic vs dummy: improved")
    assert verdict.status == "pass"


def test_equally_simple_equivalent_model_is_chosen_for_speed():
    rf = scores(0.95)
    hgb = [v + 0.001 + 1e-4 * t for v, t in zip(rf, TINY)]
    verdict = judge(summary(case({"random_forest": rf, "hgb": hgb})))
    assert verdict.selected_model == "random_forest"
    assert verdict.selection_reason == "random_forest is equivalent to hgb within \u00b10.01, as simple, and faster to fit"


def test_genuinely_better_candidate_is_improved_over_every_baseline():
    logistic = scores(0.85, noise=TINY)
    hgb = [v + 0.05 + 1e-3 * t for v, t in zip(logistic, NOISE)]
    verdict = judge(summary(case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": logistic, "hgb": hgb},
                                 threshold=0.85)))
    assert verdict.selected_model == "hgb"
    better = comparison(verdict, "logistic", "hgb")
    assert better.decision == "improved" and better.p_better > 0.95
    assert better.difference == pytest.approx(0.05, abs=1e-3)
    lo, hi = better.interval
    assert lo < better.difference < hi and lo > 0.01
    assert better.selection == "star" and better.margin == 0.01
    assert {(c.a, c.b) for c in verdict.comparisons} == {("dummy", "hgb"), ("logistic", "hgb")}


def test_every_comparison_keeps_its_standard_error():
    """The reports print the SE the comparison computed; none rebuilds it from the interval."""
    logistic = scores(0.85, noise=TINY)
    hgb = [v + 0.05 + 1e-3 * t for v, t in zip(logistic, NOISE)]
    verdict = judge(summary(case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": logistic, "hgb": hgb})))
    for c in verdict.comparisons:
        expected = stats.compare(logistic if c.a == "logistic" else scores(0.5, 0.02, NOISE[::-1]), hgb,
                                 folds=FOLDS, repeats=REPEATS, margin=0.01, confidence=CONFIDENCE)
        assert c.se == pytest.approx(expected.se) and c.se > 0
        t = (c.interval[1] - c.interval[0]) / 2 / c.se  # the interval is ± t(J-1) · se, not ± 1.645 · se
        assert t == pytest.approx(stats._t_quantile(CONFIDENCE, FOLDS * REPEATS - 1))
        assert c.to_dict()["se"] == c.se


def test_the_selected_model_is_compared_even_when_it_is_a_baseline():
    verdict = judge(summary(case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "random_forest": scores(0.97),
                                  "mlp": scores(0.92, noise=TINY), "hgb": scores(0.85, noise=TINY)})))
    assert verdict.selected_model == "random_forest"
    pairs = {(c.a, c.b): c.decision for c in verdict.comparisons}
    assert pairs == {("dummy", "random_forest"): "improved", ("mlp", "random_forest"): "improved",
                     ("hgb", "random_forest"): "improved"}


def test_without_candidates_baselines_are_compared_with_the_best_baseline():
    verdict = judge(summary(case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": scores(0.8, noise=TINY),
                                  "random_forest": scores(0.95)})))
    assert {(c.a, c.b) for c in verdict.comparisons} == {("dummy", "random_forest"), ("logistic", "random_forest")}


def test_lower_is_better_metric():
    kwargs = {"label": "brier", "greater_is_better": False, "threshold": 0.1}
    lineup = {"dummy": scores(0.25, 0.02, NOISE[::-1]), "logistic": scores(0.15, noise=TINY),
              "mlp": scores(0.08, noise=TINY), "hgb": scores(0.05)}
    verdict = judge(summary(case(lineup, **kwargs)))
    assert verdict.status == "pass" and verdict.selected_model == "hgb"
    assert verdict.primary.greater_is_better is False and verdict.primary.name == "brier"
    assert criterion(verdict, "finish_line").status == "pass"
    assert criterion(verdict, "beats_trivial_baseline").status == "pass"
    versus = comparison(verdict, "logistic", "hgb")
    assert versus.decision == "improved"
    assert versus.difference == pytest.approx(0.10, abs=0.01)  # positive: b (hgb) is better
    assert comparison(verdict, "dummy", "hgb").difference > 0

    high = judge(summary(case({**lineup, "hgb": scores(0.14)}, **kwargs)))
    assert high.selected_model == "mlp" and high.status == "pass"
    worse = judge(summary(case({"dummy": lineup["dummy"], "hgb": scores(0.2)}, **kwargs)))
    assert worse.status == "fail" and criterion(worse, "finish_line").status == "fail"
    assert criterion(worse, "beats_trivial_baseline").status == "pass"


# ----------------------------------------------------------------------------- several selections


def two_selections(gal_hgb: list, *, gal_required: bool) -> Summary:
    star = standard(scores(0.95), name="star")
    gal = case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": scores(0.6, noise=TINY), "hgb": gal_hgb},
               name="gal", label="tpr_at_fpr(fpr=0.01)", threshold=0.8, margin=0.02, required=gal_required,
               positive=(2,))
    return summary(star, gal)


def test_optional_selection_failing_does_not_fail_the_verdict():
    verdict = judge(two_selections(scores(0.7), gal_required=False))
    assert verdict.status == "pass" and verdict.exit_code == 0
    names = [c.name for c in verdict.criteria]
    assert names == ["star: finish_line", "star: beats_trivial_baseline", "gal: finish_line",
                     "gal: beats_trivial_baseline", "no_label_leak"]
    gal_finish = criterion(verdict, "gal: finish_line")
    assert gal_finish.status == "fail" and gal_finish.required is False and gal_finish.selection == "gal"
    assert criterion(verdict, "star: finish_line").required is True
    assert [s.selection for s in verdict.selections] == ["star", "gal"]
    star, gal = verdict.selections
    assert gal.required is False and gal.finish_line.state == "not_reached"
    assert gal.primary.name == "tpr_at_fpr(fpr=0.01)" and gal.selected_model == "hgb"
    written = verdict.to_dict()["selections"][1]
    assert "criteria" not in written and "comparisons" not in written and "warnings" not in written
    # the main case is the verdict's headline
    assert verdict.selected_model == star.selected_model == "hgb"
    assert verdict.primary == star.primary
    assert {c.selection for c in verdict.comparisons} == {"star", "gal"}


def test_required_selection_failing_fails_the_verdict():
    verdict = judge(two_selections(scores(0.7), gal_required=True))
    assert verdict.status == "fail" and verdict.exit_code == 1
    assert criterion(verdict, "star: finish_line").status == "pass"


def test_optional_selection_undetermined_does_not_hold_up_the_verdict():
    verdict = judge(two_selections(scores(0.8, scale=0.1), gal_required=False))
    assert criterion(verdict, "gal: finish_line").status == "undetermined"
    assert verdict.status == "pass"


def test_each_selection_may_select_its_own_model():
    star = standard(scores(0.95), name="star")
    gal = case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "logistic": scores(0.9, noise=TINY), "hgb": scores(0.7)},
               name="gal", threshold=0.8)
    verdict = judge(summary(star, gal))
    assert [s.selected_model for s in verdict.selections] == ["hgb", "logistic"]
    assert verdict.status == "pass"


# ------------------------------------------------------------------------------------ power


def power(model: str = "hgb", value: float | None = 0.93, passed: bool = True) -> Power:
    return Power(model=model, selection="star", power=value, passed=passed,
                 detail=f"power {value} to tell 0.01 from 0.0001", target_power=0.8)


def test_power_criterion_pass():
    verdict = judge(summary(standard(scores(0.95)), power=power()))
    crit = criterion(verdict, "can_distinguish_hypotheses")
    assert crit.to_dict() == {"selection": "star", "required": True, "name": "can_distinguish_hypotheses",
                              "threshold": 0.8, "status": "pass", "value": 0.93,
                              "detail": "power 0.93 to tell 0.01 from 0.0001"}
    assert verdict.status == "pass" and verdict.power.power == 0.93


def test_power_criterion_fail_fails_the_verdict():
    verdict = judge(summary(standard(scores(0.95)), power=power(value=0.4, passed=False)))
    assert criterion(verdict, "can_distinguish_hypotheses").status == "fail"
    assert verdict.status == "fail" and verdict.exit_code == 1


def test_power_of_another_model_is_undetermined():
    verdict = judge(summary(standard(scores(0.95)), power=power(model="logistic")))
    crit = criterion(verdict, "can_distinguish_hypotheses")
    assert crit.status == "undetermined" and crit.value is None
    assert verdict.status == "undetermined" and verdict.exit_code == 3


def test_power_without_a_value_is_undetermined():
    verdict = judge(summary(standard(scores(0.95)), power=Power("hgb", "star", None, False,
                                                                "no out-of-fold predictions", 0.8)))
    assert criterion(verdict, "can_distinguish_hypotheses").status == "undetermined"
    assert verdict.status == "undetermined"


def test_no_hypotheses_no_power_criterion():
    verdict = judge(summary(standard(scores(0.95))))
    assert verdict.power is None
    assert "can_distinguish_hypotheses" not in [c.name for c in verdict.criteria]


# ------------------------------------------------------------------------------- failed fits


def test_every_fit_failed_is_undetermined_with_warnings():
    nothing = [None] * (FOLDS * REPEATS)
    failed = {"dummy": 10, "hgb": 10}
    verdict = judge(summary(case({"dummy": nothing, "hgb": nothing}), failed=failed, power=power()))
    assert verdict.status == "undetermined" and verdict.exit_code == 3
    assert verdict.selected_model is None and verdict.test is None
    assert verdict.primary.n == 0 and verdict.primary.mean is None
    assert verdict.comparisons == []
    finish = criterion(verdict, "finish_line")
    assert finish.status == "undetermined" and "every fit failed" in finish.detail
    assert criterion(verdict, "can_distinguish_hypotheses").status == "undetermined"
    left_out = ": it takes no part in the selection and comparisons"
    assert "dummy: 10 of 10 fits failed (ValueError: boom)" + left_out in verdict.warnings
    assert "hgb: 10 of 10 fits failed (ValueError: boom)" + left_out in verdict.warnings
    written = verdict.to_dict()
    json.dumps(written, allow_nan=False)
    # the verdict.json of a selection with nothing to judge, as it has always been written
    assert list(written["selections"][0]) == ["selection", "required", "selected_model", "reason", "primary",
                                              "finish_line"]
    assert list(written["primary"]) == ["name", "mean", "se", "interval", "n", "confidence", "greater_is_better"]


def test_some_failed_fits_are_warned_about_and_the_rest_judged():
    hgb = scores(0.95)
    hgb[3] = hgb[7] = None
    s = summary(standard(hgb), failed={"hgb": 2})
    s.models[2].errors = ["MemoryError", "ValueError: boom", "third one"]
    verdict = judge(s)
    assert verdict.warnings == ["hgb: 2 of 10 fits failed (MemoryError; ValueError: boom)"]
    assert verdict.primary.n == 8 and verdict.selected_model == "hgb"
    assert verdict.status == "pass"


def test_summary_warnings_come_first():
    verdict = judge(summary(standard(scores(0.95)), warnings=["12 rows matched no class and were dropped"]))
    assert verdict.warnings == ["12 rows matched no class and were dropped"]


# ------------------------------------------------------------------------------------ held-out test


def held_out(value: float | None, label: str = "roc_auc", case_name: str = "star", model: str = "hgb") -> TestSet:
    return TestSet({model: TestScores(model, 200, {case_name: TestCaseScores({label: value})})}, uses=1)


def test_test_score_far_below_the_cv_interval_is_warned_about():
    s = summary(standard(scores(0.95)), test=held_out(0.80))
    verdict = judge(s)
    assert len(verdict.warnings) == 1
    assert "held-out test roc_auc of hgb (0.8)" in verdict.warnings[0]
    assert "is worse than the cross-validated interval" in verdict.warnings[0]
    assert verdict.test == s.test.models["hgb"] and verdict.test_uses == 1
    assert verdict.status == "pass"  # a warning, not a criterion


def test_test_score_far_above_the_cv_interval_is_warned_about_too():
    verdict = judge(summary(standard(scores(0.85)), test=held_out(0.97)))
    assert len(verdict.warnings) == 1
    assert "(0.97) is better than the cross-validated interval" in verdict.warnings[0]
    assert "share objects with it" in verdict.warnings[0]


def test_test_score_within_the_margin_of_the_interval_is_not_warned_about():
    verdict = judge(summary(standard(scores(0.95)), test=held_out(0.94)))
    lo = verdict.primary.interval[0]
    assert lo - 0.01 < 0.94 < lo
    assert verdict.warnings == []
    missing = judge(summary(standard(scores(0.95)), test=held_out(None)))
    assert missing.warnings == []


def test_test_score_warning_lower_is_better_and_per_selection():
    brier = case({"dummy": scores(0.25, 0.02, NOISE[::-1]), "hgb": scores(0.05)}, label="brier",
                 greater_is_better=False, threshold=0.1)
    assert "is worse than" in judge(summary(brier, test=held_out(0.2, label="brier"))).warnings[0]
    assert "is better than" in judge(summary(brier, test=held_out(0.01, label="brier"))).warnings[0]
    assert judge(summary(brier, test=held_out(0.05, label="brier"))).warnings == []
    gal = case({"dummy": scores(0.5, 0.02, NOISE[::-1]), "hgb": scores(0.9)}, name="gal", threshold=0.8)
    test = held_out(0.95)
    test.models["hgb"].cases["gal"] = TestCaseScores({"roc_auc": 0.6})
    verdict = judge(summary(standard(scores(0.95)), gal, test=test))
    assert len(verdict.warnings) == 1 and verdict.warnings[0].startswith("gal: the held-out test roc_auc")


def test_test_of_another_model_is_not_the_selected_ones():
    verdict = judge(summary(standard(scores(0.95)), test=held_out(0.5, model="logistic")))
    assert verdict.test is None and verdict.warnings == []


# ------------------------------------------------------------------------------ predicted uncertainty


def uncertain_case(*, criteria: dict | None = None) -> CaseResult:
    """A regression case with the global σ and one σ(x) method whose CRPS is clearly better."""
    base = case({"dummy": scores(0.09, 0.003, NOISE[::-1]), "hgb": scores(0.03, 0.001)}, name="z", label="rmse",
                greater_is_better=False, threshold=0.05, positive=())
    crps = {"global": scores(0.020, 0.0005), "residual": scores(0.015, 0.0005, TINY)}
    coverage = {"global": scores(0.80, 0.01), "residual": scores(0.69, 0.002, TINY)}
    for model in base.models.values():
        model.uncertainty = {f"{name}[{method}]": estimate(values) for method in ("global", "residual")
                             for name, values in (("crps", crps[method]), ("nll", scores(-1.0, 0.1)),
                                                  ("coverage_68", coverage[method]),
                                                  ("coverage_95", scores(0.95, 0.005)), ("pit_ks", scores(0.05)))}
        model.uncertainty_scores = dict(crps)
    base.uncertainty_methods = ["global", "residual"]
    base.uncertainty_criteria = criteria or {}
    return base


def test_sigma_methods_are_compared_on_crps_against_the_global_sigma():
    verdict = judge(summary(uncertain_case()))
    judged = verdict.selections[0].uncertainty
    assert judged.model == "hgb" and set(judged.methods) == {"global", "residual"}
    assert judged.methods["residual"].crps == pytest.approx(0.015)
    (versus,) = judged.comparisons
    assert (versus.a, versus.b, versus.decision) == ("global", "residual", "improved")
    assert versus.se == pytest.approx(stats.compare(scores(0.020, 0.0005), scores(0.015, 0.0005, TINY), folds=FOLDS,
                                                    repeats=REPEATS, margin=0.0, greater_is_better=False).se)
    # the coverages the methods are to be compared with, defined once in science.uncertainty
    assert judged.nominal == {"coverage_68": pytest.approx(math.erf(1 / math.sqrt(2))), "coverage_95": 0.95}


def test_coverage_and_crps_criteria():
    verdict = judge(summary(uncertain_case(criteria={"coverage_68": [0.65, 0.72], "crps": 0.018})))
    coverage, crps = criterion(verdict, "coverage_68"), criterion(verdict, "crps")
    assert coverage.status == "pass" and coverage.threshold == [0.65, 0.72]
    assert coverage.detail.startswith("hgb (residual σ): 68% coverage 0.690")
    assert crps.status == "pass" and crps.threshold == 0.018 and "required below 0.018" in crps.detail
    assert verdict.status == "pass"
    strict = judge(summary(uncertain_case(criteria={"coverage_68": [0.70, 0.75], "crps": 0.01})))
    assert criterion(strict, "coverage_68").status == "fail" and criterion(strict, "crps").status == "fail"
    assert strict.status == "fail"


# ------------------------------------------------------------------------------------ contract


SCENARIOS = {
    "pass": lambda: summary(standard(scores(0.95))),
    "fail": lambda: summary(standard(scores(0.85))),
    "undetermined": lambda: summary(standard(scores(0.905, scale=0.05))),
}


@pytest.mark.parametrize("expected", list(SCENARIOS))
def test_exit_code_matches_status(expected):
    verdict = judge(SCENARIOS[expected]())
    assert verdict.status == expected
    assert verdict.exit_code == EXIT_CODES[expected] == {"pass": 0, "fail": 1, "undetermined": 3}[expected]


def test_verdict_has_the_design_fields_and_is_json():
    s = summary(standard(scores(0.95)), test=held_out(0.95), power=power())
    verdict = judge(s).to_dict()
    assert {"status", "selected_model", "primary", "criteria", "comparisons", "warnings", "selections",
            "exit_code"} <= set(verdict)
    assert {"name", "mean", "se", "interval", "n"} <= set(verdict["primary"])
    assert verdict["primary"]["name"] == "roc_auc" and verdict["primary"]["n"] == 10
    summary_of_hgb = stats.summarize(scores(0.95), FOLDS, REPEATS, CONFIDENCE)
    assert verdict["primary"]["mean"] == pytest.approx(summary_of_hgb.mean)
    assert verdict["primary"]["se"] == pytest.approx(summary_of_hgb.se)
    assert verdict["primary"]["interval"] == pytest.approx(list(summary_of_hgb.interval))
    for c in verdict["criteria"]:
        assert {"name", "status", "value", "threshold", "detail"} <= set(c)
        assert c["status"] in ("pass", "fail", "undetermined")
    for c in verdict["comparisons"]:
        assert {"a", "b", "difference", "interval", "p_better", "p_equivalent", "p_worse", "decision", "se"} <= set(c)
        assert c["p_better"] + c["p_equivalent"] + c["p_worse"] == pytest.approx(1)
        assert c["decision"] in stats.DECISIONS
    assert verdict["test_uses"] == 1
    assert json.loads(json.dumps(verdict, allow_nan=False)) == verdict


def test_judge_does_not_modify_the_summary():
    s = summary(standard(scores(0.95)), test=held_out(0.5), power=power(), warnings=["w"])
    before = json.dumps(s.to_dict())
    judge(s)
    judge(s)
    assert json.dumps(s.to_dict()) == before


def test_verdict_is_rederived_identically_from_stored_json():
    s = summary(standard(scores(0.95)), test=held_out(0.9), power=power())
    stored = Summary.from_dict(json.loads(json.dumps(s.to_dict(), allow_nan=False)))
    assert judge(stored) == judge(s)
    written = json.loads(json.dumps(judge(s).to_dict()))
    assert Verdict.from_dict(written) == judge(s)
    assert Verdict.from_dict(written).to_dict() == written


finite_score = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
fold_scores = st.lists(st.one_of(finite_score, st.none()), min_size=FOLDS * REPEATS, max_size=FOLDS * REPEATS)


@settings(max_examples=40, deadline=None)
@given(dummy=fold_scores, logistic=fold_scores, hgb=fold_scores, threshold=finite_score,
       margin=st.floats(min_value=0.0, max_value=0.1), greater_is_better=st.booleans(), required=st.booleans())
def test_any_scores_give_a_json_verdict_that_reads_back(dummy, logistic, hgb, threshold, margin, greater_is_better,
                                                        required):
    s = summary(case({"dummy": dummy, "logistic": logistic, "hgb": hgb}, threshold=threshold, margin=margin,
                     greater_is_better=greater_is_better, required=required))
    verdict = judge(s)
    assert verdict.exit_code == EXIT_CODES[verdict.status]
    required_statuses = [c.status for c in verdict.criteria if c.required]
    assert (verdict.status == "pass") == (bool(required_statuses) and set(required_statuses) == {"pass"})
    written = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    assert Verdict.from_dict(written).to_dict() == written
    assert judge(Summary.from_dict(json.loads(json.dumps(s.to_dict(), allow_nan=False)))) == verdict


# ------------------------------------------------------------- the finish line's intervals (issue 22)


def rate_case(hgb: list, *, successes: int | None = None, trials: int | None = None, threshold: float = 0.99,
              margin: float = 0.0) -> CaseResult:
    """A tpr_at_fpr case whose selected hgb has the pooled out-of-fold counts successes/trials."""
    c = case({"dummy": scores(0.01, 0.005, NOISE[::-1]), "hgb": hgb}, label="tpr_at_fpr(fpr=0.01)",
             threshold=threshold, margin=margin)
    c.primary.bounds = (0.0, 1.0)
    if trials is not None:
        c.models["hgb"].proportions = {"tpr_at_fpr(fpr=0.01)": Proportion(successes, trials)}
    return c


def test_zero_spread_of_a_rate_is_floored_by_its_counts_not_passed():
    # 66 development galaxies, a near-label feature: every fold scores 1
    verdict = judge(summary(rate_case([1.0] * 10, successes=66, trials=66)))
    assert verdict.status == "undetermined"
    finish = criterion(verdict, "finish_line")
    assert finish.status == "undetermined" and "(Wilson, 66/66)" in finish.detail
    low, high = stats.wilson(66, 66, CONFIDENCE)
    assert verdict.primary.interval == pytest.approx((low, high)) and low < 0.99
    # without counts (a run written before they were stored) it is no interval at all
    bare = judge(summary(rate_case([1.0] * 10)))
    assert bare.status == "undetermined" and "zero spread" in criterion(bare, "finish_line").detail
    assert bare.primary.interval == (None, None)  # never [1, 1]


def test_zero_spread_of_a_non_rate_is_undetermined():
    verdict = judge(summary(standard([1.0] * 10)))
    assert verdict.status == "undetermined" and verdict.primary.interval == (None, None)
    assert "all 10 cross-validated fold scores are 1 (zero spread)" in criterion(verdict, "finish_line").detail


def held_out_interval(interval: tuple[float, float], value: float, *, n: int = 200, method: str = "bootstrap BCa",
           successes: int | None = None, trials: int | None = None, confidence: float = CONFIDENCE,
           label: str = "roc_auc") -> TestSet:
    stored = TestInterval(value, interval, confidence, method, n, successes, trials)
    scores_ = TestCaseScores({label: value}, intervals={label: stored})
    return TestSet({"hgb": TestScores("hgb", n, {"star": scores_})}, uses=1)


def test_the_finish_line_is_judged_on_the_test_interval_too():
    cv = standard(scores(0.97, 0.002), threshold=0.96, margin=0.005)
    alone = judge(summary(cv))
    assert alone.status == "pass" and alone.finish_line.basis == "cross-validated"
    # the example: the test interval straddles the line although cross-validation clears it
    straddles = judge(summary(cv, test=held_out_interval((0.944, 0.974), 0.96)))
    assert straddles.status == "undetermined" and straddles.finish_line.basis == "both"
    assert straddles.finish_line.cross_validated.state == "reached"
    assert straddles.finish_line.test.state == "undetermined"
    assert straddles.reason.startswith("finish line undetermined: the test 90% interval [0.944, 0.974] "
                                       "(bootstrap BCa over 200 objects) straddles 0.96 − 0.005; about ")
    assert "more test objects would decide" in straddles.reason
    factor = straddles.finish_line.extra_factor
    assert factor == pytest.approx(((0.96 - 0.944) / (0.96 - 0.955)) ** 2)  # the lower end's distance shrinks
    below = judge(summary(cv, test=held_out_interval((0.90, 0.95), 0.925)))
    assert below.status == "fail" and below.finish_line.state == "not_reached"
    assert below.reason.startswith("finish line not reached: the test 90% interval [0.900, 0.950]")
    both = judge(summary(cv, test=held_out_interval((0.958, 0.99), 0.975)))
    assert both.status == "pass" and both.finish_line.state == "reached"
    assert "the cross-validated" in both.reason and "the test" in both.reason
    # re-derived from the stored summary without refitting
    s = summary(cv, test=held_out_interval((0.944, 0.974), 0.96))
    assert judge(Summary.from_dict(json.loads(json.dumps(s.to_dict())))) == straddles


def test_a_rate_is_judged_on_the_wilson_interval_of_its_test_counts():
    c = rate_case([1.0] * 10, successes=660, trials=660, threshold=0.98)
    assert judge(summary(c)).status == "pass"
    low, high = stats.wilson(17, 17, CONFIDENCE)
    verdict = judge(summary(c, test=held_out_interval((low, high), 1.0, n=30, method="Wilson", successes=17, trials=17,
                                           label="tpr_at_fpr(fpr=0.01)")))
    assert verdict.status == "undetermined" and "(Wilson, 17/17)" in verdict.finish_line.test.detail


def test_a_small_test_set_is_warned_about_what_it_cannot_resolve():
    # 23 test galaxies: a perfect score's 95% Wilson interval is [0.857, 1], short of 0.98
    c = rate_case([1.0] * 10, successes=660, trials=660, threshold=0.98)
    low, high = stats.wilson(23, 23, 0.95)
    assert low == pytest.approx(0.857, abs=5e-4)
    verdict = judge(summary(c, test=held_out_interval((low, high), 1.0, n=40, method="Wilson", successes=23, trials=23,
                                           confidence=0.95, label="tpr_at_fpr(fpr=0.01)")))
    warning = next(w for w in verdict.warnings if "even a perfect score" in w)
    assert "counts 23 objects" in warning and "[0.857, 1.00]" in warning and "the finish line 0.98 cannot be" in warning
    assert "about 189 would be needed" in warning  # 1.96² · 0.98 / 0.02
    # a large test set that resolves the line is not warned about
    big = judge(summary(c, test=held_out_interval(stats.wilson(2000, 2000, 0.95), 1.0, n=3000, method="Wilson",
                                       successes=2000, trials=2000, confidence=0.95, label="tpr_at_fpr(fpr=0.01)")))
    assert not [w for w in big.warnings if "cannot" in w]
    # a bootstrap interval as wide as the distance of the cross-validated score from the line
    cv = standard(scores(0.97, 0.002), threshold=0.96, margin=0.005)
    wide = judge(summary(cv, test=held_out_interval((0.90, 1.0), 0.95)))
    assert any("cannot resolve the finish line 0.96 − 0.005" in w for w in wide.warnings)
    narrow = judge(summary(cv, test=held_out_interval((0.965, 0.975), 0.97)))
    assert not [w for w in narrow.warnings if "cannot resolve" in w]


def test_judge_passes_the_splits_ratio_to_every_statistic():
    s = summary(standard(scores(0.95)))
    wide = summary(standard(scores(0.95)))
    wide.val_train_ratio = 2.0
    base, ratio = judge(s), judge(wide)
    assert ratio.primary.se == pytest.approx(
        stats.summarize(scores(0.95), FOLDS, REPEATS, CONFIDENCE, val_train_ratio=2.0).se)
    assert ratio.primary.se > base.primary.se
    assert all(r.se > b.se for r, b in zip(ratio.comparisons, base.comparisons))


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(0.5, 1.0), low=st.floats(0.0, 0.2), high=st.floats(0.0, 0.2),
       threshold=st.floats(0.5, 1.0), margin=st.floats(0.0, 0.05))
def test_the_finish_line_state_is_the_rule_applied_to_both_intervals(mean, low, high, threshold, margin):
    s = summary(standard(scores(0.9, 0.01), threshold=threshold, margin=margin),
                test=held_out_interval((max(mean - low, 0.0), min(mean + high, 1.0)), mean))
    verdict = judge(s)

    def state(lo, hi):
        if lo == hi:
            return "undetermined"
        return "reached" if lo >= threshold - margin else "not_reached" if hi < threshold - margin else "undetermined"

    cv = state(*verdict.primary.interval)
    test = state(max(mean - low, 0.0), min(mean + high, 1.0))
    expected = ("not_reached" if "not_reached" in (cv, test) else "reached" if (cv, test) == ("reached", "reached")
                else "undetermined")
    assert (verdict.finish_line.cross_validated.state, verdict.finish_line.test.state) == (cv, test)
    assert verdict.finish_line.state == expected
    assert criterion(verdict, "finish_line").status == {"reached": "pass", "not_reached": "fail",
                                                        "undetermined": "undetermined"}[expected]
