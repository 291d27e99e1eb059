"""Tests of mlproj.verdict: the finish-line judgement on hand-made summaries."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mlproj.verdict import EXIT_CODES, Rules, judge

FOLDS, REPEATS = 5, 2
PRIMARY = "roc_auc"
NOISE = np.array([0.3, -0.5, 0.8, -0.2, 0.1, -0.9, 0.4, 0.6, -0.4, -0.2])  # mean 0, sd ~0.53


def scores(mean: float, scale: float = 0.01, noise=NOISE) -> list[float]:
    return [float(mean + scale * e) for e in noise]


def model(name: str, values, *, role: str = "candidate", simplicity: int = 3, fit_seconds: float | None = 0.1,
          errors: list[str] | None = None) -> dict:
    """One entry of summary["models"] as runner.build_summary / analysis.summarize_models write it."""
    values = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
    failed = sum(1 for v in values if v is None)
    return {"name": name, "role": role, "estimator": "X", "params": {}, "scale": False, "simplicity": simplicity,
            "fit_seconds": fit_seconds, "failed_tasks": failed, "errors": errors or ([] if not failed else ["ValueError: boom"]),
            "metrics": {}, "scores": values}


def dummy(mean: float = 0.5) -> dict:
    return model("dummy", scores(mean, 0.02, NOISE[::-1]), role="baseline", simplicity=0, fit_seconds=0.001)


def summary(*models: dict, test: dict | None = None, warnings: list[str] | None = None) -> dict:
    return {"project": "p", "task": "classification",
            "primary": {"name": PRIMARY, "params": {}, "label": PRIMARY, "greater_is_better": True},
            "metrics": [PRIMARY], "folds": FOLDS, "repeats": REPEATS, "confidence": 0.9, "data": {},
            "models": list(models), "test": test, "warnings": list(warnings or [])}


def rules(threshold: float = 0.9, margin: float = 0.01, greater_is_better: bool = True,
          primary: str = PRIMARY) -> Rules:
    return Rules(threshold=threshold, margin=margin, greater_is_better=greater_is_better, folds=FOLDS,
                 repeats=REPEATS, confidence=0.9, primary=primary)


def criterion(verdict: dict, name: str) -> dict:
    return next(c for c in verdict["criteria"] if c["name"] == name)


# --------------------------------------------------------------------------- states

def test_pass_when_threshold_reached_and_dummy_beaten():
    verdict = judge(summary(dummy(), model("hgb", scores(0.95))), rules(threshold=0.9))
    assert verdict["status"] == "pass" and verdict["exit_code"] == 0
    assert verdict["selected_model"] == "hgb"
    assert criterion(verdict, "finish_line")["status"] == "pass"
    assert criterion(verdict, "beats_trivial_baseline")["status"] == "pass"
    assert verdict["primary"]["mean"] == pytest.approx(0.95)
    assert verdict["primary"]["n"] == 10
    low, high = verdict["primary"]["interval"]
    assert low < 0.95 < high and low > 0.9


def test_fail_when_interval_below_threshold():
    verdict = judge(summary(dummy(), model("hgb", scores(0.95))), rules(threshold=0.99))
    assert verdict["status"] == "fail" and verdict["exit_code"] == 1
    assert criterion(verdict, "finish_line")["status"] == "fail"
    assert verdict["primary"]["interval"][1] < 0.99


def test_undetermined_when_interval_straddles_threshold():
    verdict = judge(summary(dummy(), model("hgb", scores(0.95))), rules(threshold=0.952, margin=0.0))
    low, high = verdict["primary"]["interval"]
    assert low < 0.952 < high
    assert verdict["status"] == "undetermined" and verdict["exit_code"] == 3
    assert criterion(verdict, "finish_line")["status"] == "undetermined"
    assert verdict["finish_line"]["state"] == "undetermined"
    assert verdict["finish_line"]["extra_factor"] > 1


def test_fail_when_dummy_not_beaten_even_above_threshold():
    # a threshold that even random ranking reaches: the model must still beat the dummy
    verdict = judge(summary(dummy(0.5), model("hgb", scores(0.5, 0.02, NOISE[::-1]) )), rules(threshold=0.4))
    assert verdict["status"] == "fail"
    assert criterion(verdict, "beats_trivial_baseline")["status"] == "fail"


def test_dummy_selected_fails_trivial_baseline_criterion():
    verdict = judge(summary(dummy(0.6), model("hgb", scores(0.55))), rules(threshold=0.4))
    assert verdict["selected_model"] == "dummy"
    assert criterion(verdict, "beats_trivial_baseline")["status"] == "fail"
    assert verdict["status"] == "fail"


@pytest.mark.parametrize("threshold, status", [(0.9, "pass"), (0.99, "fail"), (0.952, "undetermined")])
def test_exit_code_matches_status(threshold, status):
    verdict = judge(summary(dummy(), model("hgb", scores(0.95))), rules(threshold=threshold, margin=0.0))
    assert verdict["status"] == status
    assert verdict["exit_code"] == EXIT_CODES[status] == {"pass": 0, "fail": 1, "undetermined": 3}[status]


# --------------------------------------------------------------------------- selection

def test_simpler_equivalent_model_is_selected():
    logistic = model("logistic", scores(0.950), role="baseline", simplicity=1, fit_seconds=0.01)
    hgb = model("hgb", scores(0.951), simplicity=2, fit_seconds=1.0)
    verdict = judge(summary(dummy(), logistic, hgb), rules(threshold=0.9, margin=0.02))
    assert verdict["selected_model"] == "logistic"
    assert "logistic" in verdict["reason"] and "hgb" in verdict["reason"] and "simpler" in verdict["reason"]
    assert verdict["primary"]["mean"] == pytest.approx(0.950)
    assert verdict["status"] == "pass"
    comparison = next(c for c in verdict["comparisons"] if c["a"] == "logistic")
    assert comparison["b"] == "hgb" and comparison["decision"] == "equivalent"


def test_clearly_better_complex_model_is_selected():
    logistic = model("logistic", scores(0.90), role="baseline", simplicity=1)
    hgb = model("hgb", scores(0.96), simplicity=2)
    verdict = judge(summary(dummy(), logistic, hgb), rules(threshold=0.9, margin=0.005))
    assert verdict["selected_model"] == "hgb"
    assert "best mean" in verdict["reason"]
    comparison = next(c for c in verdict["comparisons"] if c["a"] == "logistic")
    assert comparison["decision"] == "improved" and comparison["p_better"] > 0.95


def test_lower_is_better_metric():
    rmse_dummy = model("dummy", scores(0.30, 0.02), role="baseline", simplicity=0)
    linear = model("linear", scores(0.12), role="baseline", simplicity=1)
    forest = model("forest", scores(0.05), simplicity=2)
    verdict = judge(summary(rmse_dummy, linear, forest), rules(threshold=0.08, margin=0.005,
                                                               greater_is_better=False, primary="rmse"))
    assert verdict["selected_model"] == "forest"
    assert verdict["status"] == "pass"
    assert verdict["primary"]["greater_is_better"] is False and verdict["primary"]["name"] == "rmse"
    assert criterion(verdict, "beats_trivial_baseline")["status"] == "pass"
    assert criterion(verdict, "beats_trivial_baseline")["value"] > 0  # difference oriented "better"
    # the same scores against a threshold that needs a lower error
    failed = judge(summary(rmse_dummy, linear, forest), rules(threshold=0.02, margin=0.005, greater_is_better=False))
    assert failed["status"] == "fail"


# --------------------------------------------------------------------------- failures and warnings

def test_every_fit_failed_is_undetermined_with_warning():
    broken = [model(name, [None] * 10, errors=["ValueError: bad input"]) for name in ("dummy", "hgb")]
    verdict = judge(summary(*broken), rules())
    assert verdict["status"] == "undetermined" and verdict["exit_code"] == 3
    assert verdict["selected_model"] is None
    assert any("every fit failed" in w for w in verdict["warnings"])
    assert any("ValueError: bad input" in w for w in verdict["warnings"])
    json.dumps(verdict, allow_nan=False)


def test_partial_failures_are_warned():
    hgb = model("hgb", scores(0.95)[:9] + [None], errors=["ValueError: once"])
    verdict = judge(summary(dummy(), hgb), rules())
    assert verdict["primary"]["n"] == 9
    assert any("hgb: 1 of 10 fits failed" in w and "once" in w for w in verdict["warnings"])


def test_summary_warnings_are_kept():
    verdict = judge(summary(dummy(), model("hgb", scores(0.95)), warnings=["leak!"]), rules())
    assert verdict["warnings"][0] == "leak!"


def test_test_score_far_below_cv_interval_is_warned():
    test = {"model": "hgb", "n_test": 100, "metrics": {PRIMARY: 0.80}, "error": None}
    verdict = judge(summary(dummy(), model("hgb", scores(0.95)), test=test), rules())
    assert any("held-out test score" in w for w in verdict["warnings"])
    assert verdict["test"] == test


def test_test_result_of_another_model_is_warned():
    test = {"model": "other", "n_test": 100, "metrics": {PRIMARY: 0.95}, "error": None}
    verdict = judge(summary(dummy(), model("hgb", scores(0.95)), test=test), rules())
    assert any("belongs to other" in w for w in verdict["warnings"])


def test_judge_is_pure():
    data = summary(dummy(), model("hgb", scores(0.95)), warnings=["w"])
    before = json.dumps(data, sort_keys=True)
    first = judge(data, rules())
    assert json.dumps(data, sort_keys=True) == before
    assert judge(data, rules()) == first


# --------------------------------------------------------------------------- shape (DESIGN §5)

def test_verdict_json_has_design_fields():
    logistic = model("logistic", scores(0.93), role="baseline", simplicity=1)
    verdict = judge(summary(dummy(), logistic, model("hgb", scores(0.95))), rules())
    json.dumps(verdict, allow_nan=False)
    assert {"status", "selected_model", "primary", "criteria", "comparisons", "warnings"} <= set(verdict)
    assert verdict["status"] in ("pass", "fail", "undetermined")
    assert {"name", "mean", "se", "interval", "n"} <= set(verdict["primary"])
    assert len(verdict["primary"]["interval"]) == 2
    assert verdict["primary"]["se"] > 0
    assert verdict["criteria"]
    for item in verdict["criteria"]:
        assert {"name", "status", "value", "threshold", "detail"} <= set(item)
        assert item["status"] in ("pass", "fail", "undetermined")
        assert isinstance(item["detail"], str) and item["detail"]
    assert [(c["a"], c["b"]) for c in verdict["comparisons"]] == [("dummy", "hgb"), ("logistic", "hgb")]
    for item in verdict["comparisons"]:
        assert {"a", "b", "difference", "interval", "p_better", "p_equivalent", "p_worse", "decision"} <= set(item)
        assert item["p_better"] + item["p_equivalent"] + item["p_worse"] == pytest.approx(1.0)
        assert item["decision"] in ("improved", "equivalent", "worse", "undetermined")
    assert isinstance(verdict["warnings"], list)


def test_comparisons_without_candidates_use_best_baseline():
    logistic = model("logistic", scores(0.93), role="baseline", simplicity=1)
    verdict = judge(summary(dummy(), logistic), rules())
    assert [(c["a"], c["b"]) for c in verdict["comparisons"]] == [("dummy", "logistic")]
