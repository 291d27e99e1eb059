"""metrics.json: the run's numbers, flat and numbers only, with stable keys (DESIGN §5).

For `dvc metrics show/diff` and CI dashboards: one level of keys, no sentences. States are coded
so that better is higher: pass / reached = 1, undetermined = 0.5, fail / not reached = 0. A value
that is undefined (a metric without a finite fold score) is left out rather than written as null,
so every value present is a number. Keys:

- `verdict.status`, `verdict.exit_code`, `criteria.<name>` (state codes)
- `finish_line.state`, `.threshold`, `.margin`, `.mean`, `.low`, `.high`   (the main selection)
- `cv.<model>.<metric>.mean`, `.se`, `.low`, `.high`   (every model, every metric, cross-validated)
- `test.<model>.<metric>` and `test.<model>.<primary>.low`, `.high`   (the held-out test)
- `comparison.<selected>_vs_<model>.difference`, `.se`, `.p_better`, `.p_equivalent`, `.p_worse`
- `ablation.<model>.<ablation>.difference` (ablation − full), `.se`, `.low`, `.high`, `.p_equivalent`,
  `.decision` (worse without it 1, undetermined 0.5, equivalent 0, better −1)
- `data.rows_used`, `data.n_development`, `data.n_test`, `fits.failed`, `test.uses`
Further selections (`selections:`) repeat the cv/test/comparison/finish_line keys under
`selections.<name>.`.
"""

from __future__ import annotations

import math

from mlproj.analyse.types import Summary
from mlproj.verdict.types import Verdict

STATE_CODES = {"pass": 1.0, "reached": 1.0, "undetermined": 0.5, "fail": 0.0, "not_reached": 0.0}
# An ablation's decision, coded by what the removed information is worth: worse without it = 1.
ABLATION_CODES = {"worse": 1.0, "undetermined": 0.5, "equivalent": 0.0, "better": -1.0}


def _put(out: dict, key: str, value) -> None:
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            out[key] = int(value)
        return
    if isinstance(value, (int, float)) and math.isfinite(value):
        out[key] = value


def flat_metrics(summary: Summary, verdict: Verdict) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    _put(out, "verdict.status", STATE_CODES[verdict.status])
    _put(out, "verdict.exit_code", verdict.exit_code)
    for c in verdict.criteria:
        name = c.name if c.selection in (None, summary.cases[0].name) else f"{c.selection}.{c.name}"
        _put(out, f"criteria.{name}", STATE_CODES.get(c.status))
    for index, case in enumerate(summary.cases):
        prefix = "" if index == 0 else f"selections.{case.name}."
        judged = verdict.selection(case.name)
        finish = judged.finish_line if judged is not None else None
        if finish is not None:
            _put(out, f"{prefix}finish_line.state", STATE_CODES.get(finish.state))
            _put(out, f"{prefix}finish_line.threshold", finish.threshold)
            _put(out, f"{prefix}finish_line.margin", finish.margin)
            _put(out, f"{prefix}finish_line.mean", finish.mean)
            _put(out, f"{prefix}finish_line.low", finish.interval[0])
            _put(out, f"{prefix}finish_line.high", finish.interval[1])
        for model, scores in case.models.items():
            for label, e in scores.metrics.items():
                key = f"{prefix}cv.{model}.{label}"
                _put(out, f"{key}.mean", e.mean)
                _put(out, f"{key}.se", e.se)
                _put(out, f"{key}.low", e.interval[0])
                _put(out, f"{key}.high", e.interval[1])
        selected = judged.selected_model if judged is not None else None
        tested = summary.tested(selected)
        result = tested.cases.get(case.name) if tested is not None else None
        if result is not None:
            for label, value in result.metrics.items():
                _put(out, f"{prefix}test.{selected}.{label}", value)
            stored = (result.intervals or {}).get(case.primary.label)
            if stored is not None:
                _put(out, f"{prefix}test.{selected}.{case.primary.label}.low", stored.interval[0])
                _put(out, f"{prefix}test.{selected}.{case.primary.label}.high", stored.interval[1])
        for c in verdict.comparisons:
            if c.selection not in (None, case.name) or (c.selection is None and index > 0):
                continue
            key = f"{prefix}comparison.{c.b}_vs_{c.a}"
            for name in ("difference", "se", "p_better", "p_equivalent", "p_worse"):
                _put(out, f"{key}.{name}", getattr(c, name))
    for effect in summary.ablations or []:  # findings, not criteria (mlproj.analyse.ablations)
        key = f"ablation.{effect.model}.{effect.name}"
        _put(out, f"{key}.difference", effect.difference)
        _put(out, f"{key}.se", effect.se)
        _put(out, f"{key}.low", effect.interval[0])
        _put(out, f"{key}.high", effect.interval[1])
        _put(out, f"{key}.p_equivalent", effect.p_equivalent)
        _put(out, f"{key}.decision", ABLATION_CODES.get(effect.decision))
    shift = summary.shift  # covariate shift against data.application (paper §5.5)
    if shift is not None:
        _put(out, "shift.domain_auc", shift.domain_auc)
        _put(out, "shift.domain_auc.low", shift.domain_interval[0])
        _put(out, "shift.domain_auc.high", shift.domain_interval[1])
        _put(out, "shift.ess", shift.ess)
        _put(out, "shift.outside_any", shift.outside_any)
        for m in shift.metrics:
            _put(out, f"shift.{m.model}.{m.metric}.expected", m.expected)
            _put(out, f"shift.{m.model}.{m.metric}.expected.low", m.expected_interval[0])
            _put(out, f"shift.{m.model}.{m.metric}.expected.high", m.expected_interval[1])
        if verdict.application is not None:
            _put(out, "finish_line.application.state", STATE_CODES.get(verdict.application.state))
    _put(out, "data.rows_used", summary.data.rows_used)
    _put(out, "data.n_development", summary.data.n_development)
    _put(out, "data.n_test", summary.data.n_test)
    _put(out, "fits.failed", summary.failed_fits or 0)
    _put(out, "test.uses", summary.test.uses if summary.test is not None else None)
    return out
