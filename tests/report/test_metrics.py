"""Tests of mlproj.report.metrics: metrics.json is flat, numbers only, with stable keys."""

from __future__ import annotations

import json

from mlproj.analyse.types import TestCaseScores, TestInterval, TestScores, TestSet
from mlproj.report.metrics import STATE_CODES, flat_metrics
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import scores, standard, summary


def test_flat_numbers_only_with_stable_keys():
    s = summary(standard(scores(0.95)))
    s.test = TestSet({"hgb": TestScores("hgb", 100, {"star": TestCaseScores(
        {"roc_auc": 0.951}, intervals={"roc_auc": TestInterval(0.951, (0.93, 0.97), 0.9, "bootstrap BCa", 100)})})},
        uses=1)
    verdict = judge(s)
    flat = flat_metrics(s, verdict)
    json.dumps(flat, allow_nan=False)
    assert all(type(v) in (int, float) for v in flat.values())  # no bool, None, str, list or dict
    assert flat["verdict.status"] == STATE_CODES[verdict.status] and flat["verdict.exit_code"] == verdict.exit_code
    assert flat["cv.hgb.roc_auc.mean"] == s.cases[0].models["hgb"].metrics["roc_auc"].mean
    assert flat["cv.hgb.roc_auc.se"] == s.cases[0].models["hgb"].metrics["roc_auc"].se
    assert flat["test.hgb.roc_auc"] == 0.951 and flat["test.hgb.roc_auc.low"] == 0.93
    assert flat["finish_line.threshold"] == 0.9 and flat["test.uses"] == 1
    for c in verdict.comparisons:
        assert flat[f"comparison.{c.b}_vs_{c.a}.p_better"] == c.p_better
    for c in verdict.criteria:
        assert flat[f"criteria.{c.name}"] == STATE_CODES[c.status]
    # the same run always gives the same keys, in the same order
    assert list(flat) == list(flat_metrics(s, judge(s)))


def test_an_undefined_value_is_left_out():
    s = summary(standard(scores(0.95)))
    verdict = judge(s)
    s.cases[0].models["dummy"].metrics["roc_auc"].mean = None
    flat = flat_metrics(s, verdict)
    assert "cv.dummy.roc_auc.mean" not in flat and "cv.hgb.roc_auc.mean" in flat
    assert None not in flat.values()


def test_better_states_have_higher_codes():
    assert STATE_CODES["pass"] > STATE_CODES["undetermined"] > STATE_CODES["fail"]
    assert STATE_CODES["reached"] > STATE_CODES["undetermined"] > STATE_CODES["not_reached"]
