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
    LEAK_LEVEL,
    CaseResult,
    Estimate,
    HarnessResult,
    ModelInfo,
    Power,
    PrimaryMetric,
    StrongFeature,
    Summary,
    TestCaseScores,
    TestInterval,
    TestSet,
    finite,
    fmt_number,
    or_nan,
)
from mlproj.science import numbers, stats
from mlproj.science.metrics import OPERATING_POINT_METRICS, wilson_interval
from mlproj.science.sigma import CALIBRATED_IN_FOLD
from mlproj.science.uncertainty import NOMINAL_COVERAGE, coverage_finding
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
    val_train_ratio: float | None = None  # n_val/n_train of the splits (None: K-fold, 1/(k-1))


@dataclass
class _CaseJudgement:
    selection: SelectionResult
    criteria: list[Criterion] = field(default_factory=list)
    comparisons: list[ModelComparison] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def judge(summary: Summary) -> Verdict:
    """The verdict: status, selected model, primary score, criteria, comparisons, warnings."""
    design = _Design(summary.folds, summary.repeats, summary.confidence, summary.val_train_ratio)
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
    criteria.append(no_label_leak(summary.strong_features, None))
    criteria.extend(harness_check(result) for result in summary.harness or ())
    application = None
    if summary.shift is not None and summary.shift.metrics:  # covariate shift: as expected where it is used
        from mlproj.verdict.shift import application_finish_line, finish_line_on_application

        application = application_finish_line(summary.shift, summary.cases[0], main.selected_model)
        criteria.append(finish_line_on_application(summary.shift, summary.cases[0], main.selected_model))

    required = [c.status for c in criteria if c.required]
    status = "fail" if "fail" in required else "undetermined" if "undetermined" in required or not required else "pass"
    return Verdict(
        status=status,
        selected_model=main.selected_model,
        reason=_reason(status, criteria, judged),
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
        selection_reason=main.reason,
        application=application,
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

    candidates = [stats.Candidate(n, _scores(case, n), models[n].simplicity, or_nan(models[n].fit_seconds),
                                  models[n].settings or 0) for n in usable]
    selection = stats.select_model(candidates, folds=design.folds, repeats=design.repeats, margin=case.margin,
                                   greater_is_better=better_high, confidence=design.confidence,
                                   val_train_ratio=design.val_train_ratio)
    selected = selection.selected
    primary = _primary_summary(case, selected, design)
    tested = test.models.get(selected) if test is not None else None
    tested_case = tested.cases.get(case.name) if tested is not None else None
    test_interval = (tested_case.intervals or {}).get(label) if tested_case is not None else None
    finish = _finish_line(case, primary, test_interval)
    criteria = [finish_line(case, selected, primary, finish, prefix)]
    if "dummy" in case.models:
        criteria.append(beats_trivial_baseline(case, selection, design, prefix))
    comparisons = _comparisons_with_selected(case, selected, usable, design)

    warnings = []
    if test is not None and case.primary.name in OPERATING_POINT_METRICS:
        criteria.append(operating_point_holds(case, selected, tested_case, design.confidence, prefix))
    if tested_case is not None:
        warning = _test_set_warning(tested_case.metrics.get(label), primary, case, selected, prefix)
        if warning:
            warnings.append(warning)
        warning = _small_test_set_warning(test_interval, primary, case, selected, prefix)
        if warning:
            warnings.append(warning)
    uncertainty = _uncertainty(case, selected, design, tested_case)
    criteria.extend(_uncertainty_criteria(case, selected, prefix))
    if uncertainty is not None and uncertainty.flags:
        warnings.extend(prefix + flag for flag in uncertainty.flags)
    if tested_case is not None and tested_case.pit is not None and tested_case.pit.flagged:
        warnings.append(f"{prefix}predicted uncertainties of {selected} on the test set: " + tested_case.pit.detail)
    judged = SelectionResult(
        case.name, case.required, uncertainty, selected, selection.reason,
        PrimaryScore(label, finite(primary.mean), finite(primary.se),
                     # zero spread across folds gives no interval (DESIGN §6): never [x, x]
                     (None, None) if primary.interval[0] == primary.interval[1] else
                     (finite(primary.interval[0]), finite(primary.interval[1])), design.confidence, primary.n,
                     better_high),
        FinishLineResult.from_dict(finish.to_dict()))
    return _CaseJudgement(judged, criteria, comparisons, warnings)


def _primary_summary(case: CaseResult, selected: str, design: _Design) -> stats.ScoreSummary:
    """The selected model's cross-validated primary score; a rate's interval floored by its pooled
    out-of-fold counts (DESIGN §6: every fold scoring 1 on 66 galaxies is not certainty)."""
    primary = stats.summarize(_scores(case, selected), design.folds, design.repeats, design.confidence,
                              bounds=_bounds(case.primary), val_train_ratio=design.val_train_ratio)
    counts = (case.models[selected].proportions or {}).get(case.primary.label)
    return primary if counts is None else stats.floor_rate(primary, counts.successes, counts.trials)


def _stored_interval(stored: TestInterval) -> stats.TestInterval:
    return stats.TestInterval(or_nan(stored.value), (or_nan(stored.interval[0]), or_nan(stored.interval[1])),
                              stored.confidence, stored.method, stored.n, stored.successes, stored.trials,
                              stored.detail)


def _finish_line(case: CaseResult, primary: stats.ScoreSummary, test_interval: TestInterval | None
                 ) -> stats.FinishLine:
    """The finish line on the cross-validated interval and on the held-out test interval of the
    selected model (DESIGN §6); before the test set is scored (or for runs that stored no test
    interval), on the cross-validated one alone."""
    better_high = case.primary.greater_is_better
    cross_validated = stats.judge_finish_line(primary, case.threshold, case.margin, better_high)
    on_test = None if test_interval is None else stats.judge_finish_line(
        _stored_interval(test_interval), case.threshold, case.margin, better_high)
    return stats.combine_finish_lines(cross_validated, on_test)


def _small_test_set_warning(stored: TestInterval | None, primary: stats.ScoreSummary, case: CaseResult,
                            selected: str, prefix: str) -> str | None:
    """What the test interval can and cannot resolve (DESIGN §6), from its width against the
    distance of the finish line: a rate's Wilson interval if the test set scored perfectly, or
    scored the cross-validated estimate; a bootstrap interval moved onto that estimate."""
    if stored is None:
        return None
    better_high = case.primary.greater_is_better
    s = 1.0 if better_high else -1.0
    boundary = case.threshold - s * case.margin
    line = f"the finish line {case.threshold:g}" + (f" {'−' if better_high else '+'} {case.margin:g}" if case.margin else "")
    pct = f"{stored.confidence * 100:g}%"
    label = case.primary.label

    def decides(lo: float, hi: float) -> bool:
        lo, hi = min(s * lo, s * hi), max(s * lo, s * hi)
        return lo >= s * boundary or hi < s * boundary

    if stored.trials:
        n = stored.trials
        perfect = n if better_high else 0
        lo, hi = stats.wilson(perfect, n, stored.confidence)
        if not decides(lo, hi):
            z = stats.wilson_z(stored.confidence)
            # Wilson's bound of a perfect score: n/(n + z²) for k = n, z²/(n + z²) for k = 0.
            needed = (z * z * (boundary / (1 - boundary) if better_high else (1 - boundary) / boundary)
                      if 0 < boundary < 1 else math.inf)
            more = f" (about {math.ceil(needed)} would be needed to confirm it)" if math.isfinite(needed) else ""
            return (f"{prefix}the held-out test {label} of {selected} counts {n} objects: even a perfect score "
                    f"would give the {pct} Wilson interval [{_rate(lo)}, {_rate(hi)}], so {line} cannot be "
                    f"confirmed on the test set{more}; it can only show that the line is missed")
        at_estimate = stats.wilson(primary.mean * n, n, stored.confidence) if math.isfinite(primary.mean) else None
        width = f"Wilson interval of {n} objects"
    else:
        value, (lo, hi) = stored.value, stored.interval
        if value is None or lo is None or hi is None or lo == hi or not math.isfinite(primary.mean):
            return None
        at_estimate = (primary.mean - (value - lo), primary.mean + (hi - value))
        width = f"bootstrap interval of {stored.n} objects, {hi - lo:.2g} wide"
    if at_estimate is None or decides(*at_estimate):
        return None
    return (f"{prefix}the held-out test set cannot resolve {line} at the cross-validated {label} of {selected} "
            f"({primary.mean:.4g}): a test score equal to it would give the {pct} interval "
            f"[{_rate(at_estimate[0])}, {_rate(at_estimate[1])}] ({width}), which straddles the line; only a "
            "test score well away from the line can decide it")


def _reason(status: str, criteria: list[Criterion], judged: list[_CaseJudgement]) -> str:
    """Why the verdict is what it is (DESIGN §4): the required criteria that decided it, the finish
    line by its intervals ("test interval [0.944, 0.974] straddles 0.96 − 0.005; ...")."""
    required = [c for c in criteria if c.required]
    if not required:
        return "no required criterion could be judged"
    finish = {case.selection.selection: case.selection.finish_line for case in judged}

    def why(c: Criterion) -> str:
        line = finish.get(c.selection) if c.name.endswith("finish_line") else None
        if line is None:
            return f"{c.name} {c.status}s: {c.detail}" if c.status == "fail" else f"{c.name} {c.status}: {c.detail}"
        where = c.name[: -len("finish_line")]
        return f"{where}finish line {line.state.replace('_', ' ')}: {line.detail}"

    if status == "pass":
        lines = [why(c) for c in required if c.name.endswith("finish_line")]
        others = [c.name for c in required if not c.name.endswith("finish_line")]
        return "; ".join(lines + ([f"{', '.join(others)} pass"] if others else []))
    # a failure first, then what else could not be judged: both are what a scientist must fix
    order = ("fail", "undetermined") if status == "fail" else ("undetermined",)
    return "; ".join(why(c) for state in order for c in required if c.status == state)


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


def _comparisons_with_selected(case: CaseResult, selected: str, usable: list[str],
                               design: _Design) -> list[ModelComparison]:
    """The selected model (b) against every other model with scores (a), paired over the folds
    (DESIGN §6): the model the verdict reports and `predict` applies is the one a reader must
    see compared, whichever role it has."""
    comparisons = []
    for name in usable:
        if name == selected:
            continue
        c = stats.compare(_scores(case, name), _scores(case, selected), names=(name, selected),
                          folds=design.folds, repeats=design.repeats, margin=case.margin,
                          greater_is_better=case.primary.greater_is_better, confidence=design.confidence,
                          val_train_ratio=design.val_train_ratio).to_dict()
        comparisons.append(ModelComparison(case.name, c["a"], c["b"], c["difference"], tuple(c["interval"]),
                                           c["p_better"], c["p_equivalent"], c["p_worse"], c["decision"], c["margin"],
                                           se=c["se"]))
    return comparisons


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
                           greater_is_better=case.primary.greater_is_better, confidence=design.confidence,
                           val_train_ratio=design.val_train_ratio)
    return Criterion(case.name, case.required, name,
                     {"improved": "pass", "undetermined": "undetermined"}.get(versus.decision, "fail"),
                     finite(versus.difference), case.margin,
                     f"{selected} vs dummy: {versus.decision} (P(better) {numbers.is_probability(versus.p_better)}, "
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
        pooled = (case.models[model].uncertainty_coverage or {}).get(method, {}).get(f"{NOMINAL_COVERAGE['coverage_68']:.4g}")
        out.append(coverage_68(case, model, method, stored[f"coverage_68[{method}]"], wanted["coverage_68"], prefix,
                               pooled))
    if "crps" in wanted:
        out.append(crps(case, model, method, stored[f"crps[{method}]"], wanted["crps"], prefix))
    return out


def coverage_68(case: CaseResult, model: str, method: str, s: Estimate, band, prefix: str,
                pooled=None) -> Criterion:
    """The cross-validated 68% coverage of the predicted σ lies within the required band.

    A coverage is a rate, so its interval has a floor from its counts (DESIGN §6): the wider of
    the corrected-t interval over the folds and the Wilson interval of the pooled out-of-fold
    counts (`pooled`, an analyse Coverage; runs written before it was kept have none)."""
    low, high = band
    mean, (lo, hi) = s.mean, s.interval
    if pooled is not None and lo is not None and hi is not None and None not in pooled.wilson:
        lo, hi = min(lo, pooled.wilson[0]), max(hi, pooled.wilson[1])
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


def operating_point_holds(case: CaseResult, selected: str, tested: TestCaseScores | None, confidence: float,
                          prefix: str) -> Criterion:
    """Does the operating point chosen on the development predictions keep its promise on the
    held-out test set (DESIGN §6)? The achieved test FPR (FNR for fpr_at_fnr) fails the criterion
    only when its Wilson interval lies wholly above the target: a rate a little above it is what
    a finite test set gives, one whose whole interval is above it is more contamination (or loss)
    than the project promised."""
    name = prefix + "operating_point_holds"
    metric = case.primary.name
    constraint = OPERATING_POINT_METRICS[metric]  # "fpr" or "fnr"
    target = case.primary.params.get(constraint)
    rate = tested.rates.get(case.primary.label) if tested is not None else None
    if rate is None or target is None:
        return Criterion(case.name, case.required, name, "undetermined", None, target,
                         f"{selected} has no counts at the operating point on the held-out test set, so the "
                         f"achieved {constraint.upper()} cannot be checked against its target")
    if constraint == "fpr":
        k, n, what = rate.false_positives, rate.n_negative, "negatives selected"
        excess = "more contamination than promised"
    else:
        k, n, what = rate.n_positive - rate.true_positives, rate.n_positive, "positives lost"
        excess = "more positives lost than promised"
    if n == 0:
        return Criterion(case.name, case.required, name, "undetermined", None, target,
                         f"the held-out test set of {selected} has no {'negatives' if constraint == 'fpr' else 'positives'},"
                         f" so the achieved {constraint.upper()} is undefined")
    low, high = wilson_interval(k, n, confidence)
    achieved = (f"{selected} on the held-out test set: {constraint.upper()} {k}/{n} {what} = "
                f"{numbers.like(k / n, (high - low) / 2)}, {confidence * 100:g}% Wilson interval "
                f"{numbers.interval(low, high)}")
    if low > target:
        status, detail = "fail", (f"{achieved} lies wholly above the target {target:g}: {excess}; the threshold "
                                  "chosen on the development predictions does not hold (more development objects, "
                                  "or a target the model can meet, would)")
    elif high < target:
        status, detail = "pass", f"{achieved} lies wholly below the target {target:g}: conservative"
    else:
        status, detail = "pass", f"{achieved} contains the target {target:g}: consistent with it"
    return Criterion(case.name, case.required, name, status, finite(k / n), target, detail)


def _rate(value: float) -> str:
    """A rate or Wilson bound to 3 significant digits, trailing zeros kept ([0.740, 0.792])."""
    return f"{value:#.3g}" if value != 0 else "0"


def no_label_leak(features: list[StrongFeature], selection: str | None) -> Criterion:
    """Does any single feature give the label away (AUC >= 0.999 alone, or a function of the
    label; DESIGN §6)? A model that reads the label back passes every other criterion, so a leak
    fails the verdict unless the project acknowledges the feature as physics."""
    leaking = [f for f in features if f.leaks]
    unacknowledged = [f for f in leaking if not f.acknowledged]
    acknowledged = [f for f in leaking if f.acknowledged]
    if unacknowledged:
        return Criterion(selection, True, "no_label_leak", "fail", len(unacknowledged), LEAK_LEVEL,
                         f"{_features(unacknowledged)} predict{'s' if len(unacknowledged) == 1 else ''} the label "
                         "on {} own: a model using {} learns the label, not the objects; list {} in "
                         "data.allowed_strong_features if it is physics, or drop it from the features".format(
                             *(("its", "it", "it") if len(unacknowledged) == 1 else ("their", "them", "each"))))
    detail = (f"no single feature predicts the label on its own (a score of {LEAK_LEVEL:g} or more alone, or a "
              "function of the label)")
    if acknowledged:
        detail += f"; acknowledged in data.allowed_strong_features: {_features(acknowledged)}"
    return Criterion(selection, True, "no_label_leak", "pass", 0, LEAK_LEVEL, detail)


def harness_check(result: HarnessResult) -> Criterion:
    """A declared check of the test harness (paper §2.4) on the selected model's final fit: the
    measured value against its tolerance (invariance: at most; cases and hybrids: at least). A
    check that could not be measured (no fitted model selected) is undetermined, not passed."""
    if result.value is None:
        status = "undetermined"
    elif result.at_most:
        status = "pass" if result.value <= result.threshold else "fail"
    else:
        status = "pass" if result.value >= result.threshold else "fail"
    return Criterion(None, True, result.name, status, result.value, result.threshold, result.detail)


def _features(features: list[StrongFeature]) -> str:
    """'type_r (a function of the label), redshift (ROC AUC > 0.999 alone)'."""
    def why(f: StrongFeature) -> str:
        if f.label_function:
            return "a function of the label"
        # 0.99998 is not 1: a rounded 1 would claim a perfect separation that was not measured.
        return f"{f.statistic} {numbers.probability(f.value, 4)} alone"

    return ", ".join(f"{f.feature} ({why(f)})" for f in features)


# ------------------------------------------------------------------------------------ uncertainty


def _uncertainty(case: CaseResult, model: str, design: _Design,
                 tested=None) -> UncertaintyJudgement | None:
    """σ(x) methods of the selected model: each compared with the single global σ on CRPS *and*
    NLL with the paired rule of models, and every coverage whose Wilson interval excludes its
    nominal value flagged, cross-validated and on the test set (`tested`: the model's
    TestCaseScores of this case, if any).

    Both scores, because they fail differently: the CRPS, in the units of y, is forgiving of
    error bars that are too small on a few objects, while the NLL punishes exactly those (photo-z:
    σ(x) methods with a better CRPS, a much worse NLL and a 95% coverage of 0.88-0.90 were called
    improved). A method is improved only if it is better on both; worse if worse on either.
    """
    methods = case.uncertainty_methods
    if not methods:
        return None
    entry = case.models[model]
    result = UncertaintyJudgement(model, {}, [], dict(NOMINAL_COVERAGE), [])
    for method in methods:
        result.methods[method] = MethodScores(*(entry.uncertainty[f"{name}[{method}]"].mean
                                                for name in ("crps", "nll", "coverage_68", "coverage_95", "pit_ks")))
    crps_scores = {m: [or_nan(v) for v in entry.uncertainty_scores[m]] for m in methods}
    nll_scores = ({m: [or_nan(v) for v in entry.uncertainty_nll_scores[m]] for m in methods}
                  if entry.uncertainty_nll_scores else None)

    def compare(scores: dict[str, list[float]], method: str) -> dict:
        # No margin: any gain of a σ model over the single global σ must be resolved by the folds.
        return stats.compare(scores["global"], scores[method], names=("global", method), folds=design.folds,
                             repeats=design.repeats, margin=0.0, greater_is_better=False,
                             confidence=design.confidence, val_train_ratio=design.val_train_ratio).to_dict()

    for method in methods[1:]:
        c = compare(crps_scores, method)
        n = compare(nll_scores, method) if nll_scores is not None else None
        decision, detail = _method_decision(method, c["decision"], None if n is None else n["decision"])
        result.comparisons.append(MethodComparison(
            c["a"], c["b"], c["difference"], tuple(c["interval"]), c["p_better"], c["p_worse"], decision, se=c["se"],
            crps_decision=c["decision"],
            nll_difference=None if n is None else n["difference"],
            nll_interval=None if n is None else tuple(n["interval"]),
            nll_p_better=None if n is None else n["p_better"], nll_p_worse=None if n is None else n["p_worse"],
            nll_decision=None if n is None else n["decision"], nll_se=None if n is None else n["se"],
            detail=detail))
    for method in methods:
        for where, levels in (("cross-validated", (entry.uncertainty_coverage or {}).get(method)),
                              ("test set", ((tested.coverage or {}) if tested is not None else {}).get(method))):
            for c in (levels or {}).values():
                finding = coverage_finding(c)
                if finding and method in CALIBRATED_IN_FOLD and c.nominal != NOMINAL_COVERAGE["coverage_95"]:
                    # Its σ is the σ-equivalent of the 95% interval; its own 68.27% interval
                    # (written by `mlproj predict`) has its own conformal quantile.
                    finding += (" (the ±1σ bars of its σ-equivalent, 95% half-width / 1.96: its scores are not "
                                "Gaussian, so use the conformal low_68/high_68 columns, not ±sigma)")
                if finding:
                    result.flags.append(f"predicted uncertainties of {model} ({method} σ, {where}): {finding}")
    return result


def _method_decision(method: str, crps: str, nll: str | None) -> tuple[str, str]:
    """A σ(x) method against the global σ: improved only if improved on CRPS and on NLL."""
    if nll is None:  # a run written before NLL scores were kept per fold
        return crps, f"{method} vs global σ: CRPS {crps} (no per-fold NLL in this run)"
    if crps == nll:
        decision = crps
    elif "worse" in (crps, nll):
        decision = "worse"
    else:
        decision = "undetermined"
    return decision, f"{method} vs global σ: CRPS {crps}, NLL {nll}, so {decision}" + (
        "" if decision != "undetermined" or "improved" not in (crps, nll) else " (improved only if better on both)")
