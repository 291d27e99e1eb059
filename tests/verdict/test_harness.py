"""The test harness in the verdict: each check is a required criterion judged from the Summary."""

from __future__ import annotations

from mlproj.analyse.types import HarnessResult
from mlproj.verdict.judge import judge
from tests.verdict.test_judge import criterion, scores, standard, summary


def _result(name: str, value: float | None, threshold: float, at_most: bool) -> HarnessResult:
    return HarnessResult(name, "invariance" if at_most else "hybrid", "", "hgb", "", value, threshold, at_most,
                         None, 100, f"{name} detail")


def test_a_failed_check_fails_a_passing_verdict_and_the_reason_names_it():
    judged = summary(standard(scores(0.95)))
    assert judge(judged).status == "pass"
    judged.harness = [_result("harness: invariance (permute r)", 0.4, 0.01, True),
                      _result("harness: hybrid (galaxy + galaxy → galaxy)", 0.95, 0.9, False)]
    verdict = judge(judged)
    assert verdict.status == "fail" and verdict.exit_code == 1
    failed = criterion(verdict, "harness: invariance (permute r)")
    assert failed.status == "fail" and failed.required and failed.value == 0.4 and failed.threshold == 0.01
    assert verdict.reason.startswith("harness: invariance (permute r) fails: harness: invariance (permute r) detail")
    assert criterion(verdict, "harness: hybrid (galaxy + galaxy → galaxy)").status == "pass"


def test_checks_at_their_tolerance_pass_and_unmeasured_ones_are_undetermined():
    judged = summary(standard(scores(0.95)))
    judged.harness = [_result("harness: a", 0.01, 0.01, True), _result("harness: b", 0.9, 0.9, False)]
    assert judge(judged).status == "pass"
    judged.harness.append(_result("harness: c", None, 0.9, False))
    verdict = judge(judged)
    assert verdict.status == "undetermined" and criterion(verdict, "harness: c").status == "undetermined"
