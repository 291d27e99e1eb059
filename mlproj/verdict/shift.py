"""The finish line on the application sample (paper §5.5, DESIGN §6): the selected model's primary
metric as expected where the model will be used (importance-weighted or stratified), judged with
the finish line's symmetric, margin-aware rule on its interval."""

from __future__ import annotations

import math

from mlproj.analyse.types import CaseResult, ShiftResult
from mlproj.science import stats
from mlproj.verdict.types import Criterion, FinishLineResult

__all__ = ["application_finish_line", "finish_line_on_application"]

_STATUS = {"reached": "pass", "not_reached": "fail", "undetermined": "undetermined"}


def _nan(v) -> float:
    return math.nan if v is None else float(v)


def application_finish_line(shift: ShiftResult | None, case: CaseResult, selected: str | None
                            ) -> FinishLineResult | None:
    """The finish line judged on the application-expected interval of `selected`, or None."""
    metric = shift.metric_of(selected) if shift is not None else None
    if metric is None:
        return None
    interval = stats.TestInterval(_nan(metric.expected), (_nan(metric.expected_interval[0]),
                                                          _nan(metric.expected_interval[1])),
                                  metric.confidence, "bootstrap, " + metric.method.replace(" bootstrap", ""), metric.n,
                                  detail=metric.detail or "the metric is undefined on the application resamples")
    found = stats.judge_finish_line(interval, case.threshold, case.margin, case.primary.greater_is_better)
    # judge_finish_line words a TestInterval as the test set's: here it is the application sample's
    which = "application-weighted" if metric.method.startswith("weighted") else "application-stratified"
    detail = found.detail.replace("the test ", f"the {which} ", 1).replace("no test interval", f"no {which} interval")
    return FinishLineResult(found.state, found.threshold, found.margin,
                            None if not math.isfinite(found.mean) else found.mean,
                            tuple(None if not math.isfinite(v) else v for v in found.interval), detail,
                            found.extra_factor, "application")


def finish_line_on_application(shift: ShiftResult, case: CaseResult, selected: str | None) -> Criterion:
    """Does the metric expected on the application sample reach the finish line? Required with
    `shift: {required: true}`; reported otherwise."""
    judged = application_finish_line(shift, case, selected)
    if judged is None:
        return Criterion(case.name, shift.required, "finish_line_on_application", "undetermined", None,
                         case.threshold, f"no application-weighted metric of {selected or 'a selected model'}")
    return Criterion(case.name, shift.required, "finish_line_on_application", _STATUS[judged.state], judged.mean,
                     case.threshold, f"{selected}: {case.primary.label} expected on the application sample "
                     f"{judged.state.replace('_', ' ')}: {judged.detail}")
