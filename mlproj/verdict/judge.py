"""Judge a run against its finish lines (pure: the Summary in, the Verdict out).

`mlproj verdict` re-runs this on the stored summary, so a verdict can always be re-derived
without refitting anything. The states and exit codes are the CLI contract (DESIGN §4). A
project may hold several science cases (selections); each gets its own criteria, and the overall
verdict passes only if every required criterion passes. Each criterion is one function below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlproj.analyse.failures import failed_fit_warnings
from mlproj.analyse.types import (
    CaseResult,
    Estimate,
    ModelInfo,
    Power,
    PrimaryMetric,
    Summary,
    TestSet,
    finite,
    fmt_number,
    or_nan,
)
from mlproj.science import stats
from mlproj.science.uncertainty import NOMINAL_COVERAGE
from mlproj.verdict.types import (
    EXIT_CODES,
    Criterion,
    FinishLineResult,
    MethodComparison,
    MethodScores,
    ModelComparison,
    PrimaryScore,
    SelectionResult,
    UncertaintyJudgement,
    Verdict,
)

__all__ = ["EXIT_CODES", "judge"]

_CRITERION_STATUS = {"reached": "pass", "not_reached": "fail", "undetermined": "undetermined"}


@dataclass(frozen=True)
class _Design:
    folds: int
    repeats: int
    confidence: float


@dataclass
class _CaseJudgement:
    selection: SelectionResult
    criteria: list[Criterion] = field(default_factory=list)
    comparisons: list[ModelComparison] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def judge(summary: Summary) -> Verdict:
    """The verdict: status, selected model, primary score, criteria, comparisons, warnings."""
    design = _Design(summary.folds, summary.repeats, summary.confidence)
    models = {m.name: m for m in summary.models}
    several = len(summary.cases) > 1
    warnings = list(summary.warnings) + failed_fit_warnings(summary)

    judged = [_judge_case(case, models, design, summary.test, several) for case in summary.cases]
    criteria = [c for case in judged for c in case.criteria]
    comparisons = [c for case in judged for c in case.comparisons]
    for case in judged:
        warnings.extend(case.warnings)
    main = judged[0].selection
    if summary.power is not None:
        criteria.append(can_distinguish_hypotheses(summary.power, main.selected_model))

    required = [c.status for c in criteria if c.required]
    status = "fail" if "fail" in required else "undetermined" if "undetermined" in required or not required else "pass"
    return Verdict(
        status=status,
        selected_model=main.selected_model,
        reason=main.reason,
        primary=main.primary,
        finish_line=main.finish_line,
        criteria=criteria,
        comparisons=comparisons,
        selections=[case.selection for case in judged],
        power=summary.power,
        diagnostics=summary.diagnostics,
        test=summary.tested(main.selected_model),
        test_uses=summary.test.uses if summary.test is not None else None,
        warnings=warnings,
        exit_code=EXIT_CODES[status],
    )


def _bounds(primary: PrimaryMetric) -> tuple[float, float]:
    """The values the primary metric can take (None: unbounded; older runs recorded none)."""
    low, high = primary.bounds or (None, None)
    return (-math.inf if low is None else low, math.inf if high is None else high)


def _scores(case: CaseResult, name: str) -> list[float]:
    return [or_nan(s) for s in case.models[name].scores]


def _judge_case(case: CaseResult, models: dict[str, ModelInfo], design: _Design, test: TestSet | None,
                several: bool) -> _CaseJudgement:
    better_high = case.primary.greater_is_better
    label = case.primary.label
    prefix = f"{case.name}: " if several else ""
    usable = [name for name, scores in case.models.items() if any(s is not None for s in scores.scores)]
    if not usable:
        primary = PrimaryScore(label, None, None, (None, None), design.confidence, 0, better_high)
        return _CaseJudgement(
            SelectionResult(case.name, case.required, None, None, "no model produced scores for this selection",
                            primary, None),
            [Criterion(case.name, case.required, prefix + "finish_line", "undetermined", None, case.threshold,
                       "every fit failed: nothing to judge")])

    candidates = [stats.Candidate(n, _scores(case, n), models[n].simplicity, or_nan(models[n].fit_seconds))
                  for n in usable]
    selection = stats.select_model(candidates, folds=design.folds, repeats=design.repeats, margin=case.margin,
                                   greater_is_better=better_high, confidence=design.confidence)
    selected = selection.selected
    primary = stats.summarize(_scores(case, selected), design.folds, design.repeats, design.confidence,
                              bounds=_bounds(case.primary))
    finish = stats.judge_finish_line(primary, case.threshold, case.margin, better_high)
    criteria = [finish_line(case, selected, primary, finish, prefix)]
    if "dummy" in case.models:
        criteria.append(beats_trivial_baseline(case, selection, design, prefix))
    comparisons = _baseline_comparisons(case, models, usable, design)

    warnings = []
    tested = test.models.get(selected) if test is not None else None
    tested_case = tested.cases.get(case.name) if tested is not None else None
    if tested_case is not None:
        warning = _test_set_warning(tested_case.metrics.get(label), primary, case, selected, prefix)
        if warning:
            warnings.append(warning)
    uncertainty = _uncertainty(case, selected, design)
    criteria.extend(_uncertainty_criteria(case, selected, prefix))
    if tested_case is not None and tested_case.pit is not None and tested_case.pit.flagged:
        warnings.append(f"{prefix}predicted uncertainties of {selected} on the test set: " + tested_case.pit.detail)
    judged = SelectionResult(
        case.name, case.required, uncertainty, selected, selection.reason,
        PrimaryScore(label, finite(primary.mean), finite(primary.se),
                     (finite(primary.interval[0]), finite(primary.interval[1])), design.confidence, primary.n,
                     better_high),
        FinishLineResult.from_dict(finish.to_dict()))
    return _CaseJudgement(judged, criteria, comparisons, warnings)


def _test_set_warning(value: float | None, primary: stats.ScoreSummary, case: CaseResult, selected: str,
                      prefix: str) -> str | None:
    """The held-out test score outside the cross-validated interval by more than the margin."""
    label, better_high = case.primary.label, case.primary.greater_is_better
    lo, hi = primary.interval
    low_edge, high_edge = lo - case.margin, hi + case.margin
    if value is None or not math.isfinite(low_edge) or not math.isfinite(high_edge) or low_edge <= value <= high_edge:
        return None
    # Better than cross-validation is as suspect as worse: an easier or leaking test set.
    worse = value < low_edge if better_high else value > high_edge
    why = ("the test set may differ from the development data, or be too small" if worse else
           "the test set may be easier than the development data, share objects with it, or be too small")
    return (f"{prefix}the held-out test {label} of {selected} ({value:.4g}) is "
            f"{'worse' if worse else 'better'} than the cross-validated interval by more than the margin: {why}")


def _baseline_comparisons(case: CaseResult, models: dict[str, ModelInfo], usable: list[str],
                          design: _Design) -> list[ModelComparison]:
    """The best candidate against every baseline, paired over the folds."""
    challenger = _best_challenger(case, models, usable, case.primary.greater_is_better)
    comparisons = []
    for name, info in models.items():
        if info.role != "baseline" or challenger is None or name == challenger or name not in case.models:
            continue
        c = stats.compare(_scores(case, name), _scores(case, challenger), names=(name, challenger),
                          folds=design.folds, repeats=design.repeats, margin=case.margin,
                          greater_is_better=case.primary.greater_is_better, confidence=design.confidence).to_dict()
        comparisons.append(ModelComparison(case.name, c["a"], c["b"], c["difference"], tuple(c["interval"]),
                                           c["p_better"], c["p_equivalent"], c["p_worse"], c["decision"], c["margin"],
                                           se=c["se"]))
    return comparisons


def _best_challenger(case: CaseResult, models: dict[str, ModelInfo], usable: list[str], better_high: bool) -> str | None:
    """The best candidate (or, without candidates, the best model other than the dummy)."""
    def mean(name):
        values = [s for s in _scores(case, name) if not math.isnan(s)]
        return (1 if better_high else -1) * sum(values) / len(values)

    pool = [n for n in usable if models[n].role == "candidate"] or [n for n in usable if n != "dummy"]
    return max(pool, key=mean) if pool else None


# ------------------------------------------------------------------------------------------ criteria


def finish_line(case: CaseResult, selected: str, primary: stats.ScoreSummary, finish: stats.FinishLine,
                prefix: str) -> Criterion:
    """Has the selected model reached the case's finish line, judged by the corrected interval?"""
    return Criterion(case.name, case.required, prefix + "finish_line", _CRITERION_STATUS[finish.state],
                     finite(primary.mean), case.threshold,
                     f"{selected}: {case.primary.label} = {stats.significant(primary.mean, primary.se)}, "
                     f"{finish.state.replace('_', ' ')}: {finish.detail}")


def beats_trivial_baseline(case: CaseResult, selection: stats.Selection, design: _Design, prefix: str) -> Criterion:
    """Does the selected model (the one reported and used) beat the uninformative dummy? When the
    dummy itself is selected, the best model is compared with it, to show by how little it fails."""
    name = prefix + "beats_trivial_baseline"
    selected = selection.best if selection.selected == "dummy" else selection.selected
    if not any(math.isfinite(v) for v in _scores(case, "dummy")):
        # e.g. the purity of a dummy that selects nothing: there is no trivial score to beat, and
        # a criterion that cannot be judged must not hold the verdict back.
        return Criterion(case.name, False, name, "undetermined", None, case.margin,
                         f"the uninformative dummy has no {case.primary.label} in any fold (e.g. it "
                         "selects nothing), so there is nothing to compare with; not counted in the verdict")
    if selected == "dummy":
        return Criterion(case.name, case.required, name, "fail", 0.0, case.margin,
                         "no model scores better than the uninformative dummy baseline")
    versus = stats.compare(_scores(case, "dummy"), _scores(case, selected), names=("dummy", selected),
                           folds=design.folds, repeats=design.repeats, margin=case.margin,
                           greater_is_better=case.primary.greater_is_better, confidence=design.confidence)
    return Criterion(case.name, case.required, name,
                     {"improved": "pass", "undetermined": "undetermined"}.get(versus.decision, "fail"),
                     finite(versus.difference), case.margin,
                     f"{selected} vs dummy: {versus.decision} (P(better) = {versus.p_better:.3f}, "
                     f"difference {stats.significant(versus.difference, versus.se)})")


def _uncertainty_criteria(case: CaseResult, model: str, prefix: str) -> list[Criterion]:
    """Optional criteria on the predicted σ of the configured method (paper §5.2: error bars that
    really cover 68%): judged by the corrected interval like the finish line."""
    wanted = case.uncertainty_criteria
    if not wanted:
        return []
    method = case.uncertainty_methods[-1]
    stored = case.models[model].uncertainty
    out = []
    if "coverage_68" in wanted:
        out.append(coverage_68(case, model, method, stored[f"coverage_68[{method}]"], wanted["coverage_68"], prefix))
    if "crps" in wanted:
        out.append(crps(case, model, method, stored[f"crps[{method}]"], wanted["crps"], prefix))
    return out


def coverage_68(case: CaseResult, model: str, method: str, s: Estimate, band, prefix: str) -> Criterion:
    """The cross-validated 68% coverage of the predicted σ lies within the required band."""
    low, high = band
    mean, (lo, hi) = s.mean, s.interval
    if mean is None or lo is None:
        status = "undetermined"
    elif low <= lo and hi <= high:
        status = "pass"
    elif hi < low or lo > high:
        status = "fail"
    else:
        status = "undetermined"
    return Criterion(case.name, case.required, prefix + "coverage_68", status, mean, [low, high],
                     f"{model} ({method} σ): 68% coverage {stats.significant(or_nan(mean), or_nan(s.se))}, "
                     f"interval [{fmt_number(lo)}, {fmt_number(hi)}], required within [{low:g}, {high:g}]")


def crps(case: CaseResult, model: str, method: str, s: Estimate, limit: float, prefix: str) -> Criterion:
    """The cross-validated CRPS of the predicted σ is below the required limit."""
    mean, (lo, hi) = s.mean, s.interval
    status = ("undetermined" if mean is None or hi is None else "pass" if hi <= limit
              else "fail" if lo > limit else "undetermined")
    return Criterion(case.name, case.required, prefix + "crps", status, mean, limit,
                     f"{model} ({method} σ): CRPS {stats.significant(or_nan(mean), or_nan(s.se))}, "
                     f"interval [{fmt_number(lo)}, {fmt_number(hi)}], required below {limit:g}")


def can_distinguish_hypotheses(power: Power, selected: str | None) -> Criterion:
    """Can the selected model tell the hypothesised fractions apart (the power analysis)?"""
    if power.model != selected or power.power is None:
        return Criterion(power.selection, True, Criterion.POWER, "undetermined", None, power.target_power,
                         "no power analysis for the selected model (no operating-point counts)")
    return Criterion(power.selection, True, Criterion.POWER, "pass" if power.passed else "fail", power.power,
                     power.target_power, power.detail)


# ------------------------------------------------------------------------------------ uncertainty


def _uncertainty(case: CaseResult, model: str, design: _Design) -> UncertaintyJudgement | None:
    """σ(x) methods of the selected model, judged by CRPS with the same paired rule as models."""
    methods = case.uncertainty_methods
    if not methods:
        return None
    entry = case.models[model]
    result = UncertaintyJudgement(model, {}, [], dict(NOMINAL_COVERAGE))
    for method in methods:
        result.methods[method] = MethodScores(*(entry.uncertainty[f"{name}[{method}]"].mean
                                                for name in ("crps", "nll", "coverage_68", "coverage_95", "pit_ks")))
    scores = {m: [or_nan(v) for v in entry.uncertainty_scores[m]] for m in methods}
    for method in methods[1:]:
        # No margin: any CRPS gain of a σ model over the single global σ must be resolved by the folds.
        c = stats.compare(scores["global"], scores[method], names=("global", method), folds=design.folds,
                          repeats=design.repeats, margin=0.0, greater_is_better=False,
                          confidence=design.confidence).to_dict()
        result.comparisons.append(MethodComparison(c["a"], c["b"], c["difference"], tuple(c["interval"]),
                                                   c["p_better"], c["p_worse"], c["decision"], se=c["se"]))
    return result

