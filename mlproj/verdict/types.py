"""The Verdict, typed: states, criteria, comparisons, selections and the exit code.

Pure Python (no numpy), so that `mlproj verdict` can read a stored verdict.json back and print
it without the statistics. `Verdict.to_dict()` is verdict.json (DESIGN §5: fields may be added,
none renamed or removed), `Verdict.from_dict()` reads one back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlproj.analyse.types import Diagnostics, Part, Power, TestScores, as_pair, json_ready

__all__ = ["EXIT_CODES", "Criterion", "FinishLineResult", "MethodComparison", "MethodScores", "ModelComparison",
           "PrimaryScore", "SelectionResult", "UncertaintyJudgement", "Verdict"]

EXIT_CODES = {"pass": 0, "fail": 1, "undetermined": 3}


@dataclass
class Criterion(Part):
    """One judged criterion: pass, fail or undetermined, with the number it is about."""

    selection: str | None
    required: bool
    name: str
    status: str  # pass | fail | undetermined
    value: Any  # a number, or None when it cannot be computed
    threshold: Any  # a number, or a [low, high] band
    detail: str

    POWER: ClassVar[str] = "can_distinguish_hypotheses"
    # verdict.json has always written the power criterion's threshold before its status.
    _ORDER: ClassVar[tuple[str, ...]] = ("selection", "required", "name", "status", "value", "threshold", "detail")
    _POWER_ORDER: ClassVar[tuple[str, ...]] = ("selection", "required", "name", "threshold", "status", "value",
                                               "detail")

    def to_dict(self) -> dict:
        return {key: json_ready(getattr(self, key)) for key in (self._POWER_ORDER if self.name == self.POWER
                                                              else self._ORDER)}

    @classmethod
    def from_dict(cls, d: dict) -> Criterion:
        return cls(d.get("selection"), d.get("required", True), d["name"], d["status"], d.get("value"),
                   d.get("threshold"), d["detail"])


@dataclass
class ModelComparison(Part):
    """A case's selected model (b) against one other model (a), paired over the folds."""

    selection: str | None
    a: str
    b: str
    difference: float | None  # positive: b is better, whichever way the metric improves
    interval: tuple[float | None, float | None]
    p_better: float | None
    p_equivalent: float | None
    p_worse: float | None
    decision: str  # improved | equivalent | worse | undetermined
    margin: float
    se: float | None = None  # posterior scale of the mean difference (corrected)

    @classmethod
    def from_dict(cls, d: dict) -> ModelComparison:
        return cls(d.get("selection"), d["a"], d["b"], d.get("difference"), as_pair(d.get("interval")),
                   d.get("p_better"), d.get("p_equivalent"), d.get("p_worse"), d["decision"], d.get("margin"),
                   d.get("se"))


@dataclass
class MethodComparison(Part):
    """A σ(x) method (b) against the single global σ (a), paired over the folds without a margin,
    on CRPS (difference, interval, p_better, p_worse, se) and on NLL (the nll_* fields).

    `decision` combines both (DESIGN §6): improved only if improved on CRPS *and* NLL, worse if
    worse on either, otherwise undetermined. Runs written before NLL was compared have only the
    CRPS fields, and their decision was the CRPS one.
    """

    OPTIONAL = ("crps_decision", "nll_difference", "nll_interval", "nll_p_better", "nll_p_worse", "nll_decision",
                "nll_se", "detail")

    a: str
    b: str
    difference: float | None  # CRPS of a minus CRPS of b: positive = b better
    interval: tuple[float | None, float | None]
    p_better: float | None
    p_worse: float | None
    decision: str
    se: float | None = None
    crps_decision: str | None = None
    nll_difference: float | None = None  # NLL of a minus NLL of b: positive = b better
    nll_interval: tuple[float | None, float | None] | None = None
    nll_p_better: float | None = None
    nll_p_worse: float | None = None
    nll_decision: str | None = None
    nll_se: float | None = None
    detail: str | None = None  # one sentence: why this decision

    @classmethod
    def from_dict(cls, d: dict) -> MethodComparison:
        return cls(d["a"], d["b"], d.get("difference"), as_pair(d.get("interval")), d.get("p_better"),
                   d.get("p_worse"), d["decision"], d.get("se"), d.get("crps_decision"), d.get("nll_difference"),
                   None if d.get("nll_interval") is None else as_pair(d["nll_interval"]), d.get("nll_p_better"),
                   d.get("nll_p_worse"), d.get("nll_decision"), d.get("nll_se"), d.get("detail"))


@dataclass
class MethodScores(Part):
    """Cross-validated means of one σ(x) method's scores."""

    crps: float | None
    nll: float | None
    coverage_68: float | None
    coverage_95: float | None
    pit_ks: float | None

    @classmethod
    def from_dict(cls, d: dict) -> MethodScores:
        return cls(d.get("crps"), d.get("nll"), d.get("coverage_68"), d.get("coverage_95"), d.get("pit_ks"))


@dataclass
class UncertaintyJudgement(Part):
    """The σ(x) methods of the selected model, and the coverages they should have."""

    OPTIONAL = ("nominal", "flags")

    model: str
    methods: dict[str, MethodScores]
    comparisons: list[MethodComparison] = field(default_factory=list)
    nominal: dict[str, float] | None = None  # "coverage_68" -> 0.6827 (±1σ), "coverage_95" -> 0.95
    # One sentence per method and coverage whose Wilson interval excludes the nominal value,
    # cross-validated and on the test set (they are also verdict warnings).
    flags: list[str] | None = None

    @classmethod
    def from_dict(cls, d: dict) -> UncertaintyJudgement:
        return cls(d["model"], {k: MethodScores.from_dict(v) for k, v in d["methods"].items()},
                   [MethodComparison.from_dict(c) for c in d.get("comparisons") or []],
                   None if d.get("nominal") is None else dict(d["nominal"]),
                   None if d.get("flags") is None else list(d["flags"]))


@dataclass
class PrimaryScore(Part):
    """The selected model's cross-validated primary metric: mean ± corrected SE, interval."""

    name: str  # the metric's label
    mean: float | None
    se: float | None
    interval: tuple[float | None, float | None]
    confidence: float
    n: int
    greater_is_better: bool

    _ORDER: ClassVar[tuple[str, ...]] = ("name", "mean", "se", "interval", "confidence", "n", "greater_is_better")
    # A selection without any model to judge has always been written with n before confidence.
    _EMPTY_ORDER: ClassVar[tuple[str, ...]] = ("name", "mean", "se", "interval", "n", "confidence",
                                               "greater_is_better")

    def to_dict(self) -> dict:
        return {key: json_ready(getattr(self, key)) for key in (self._EMPTY_ORDER if self.n == 0 else self._ORDER)}

    @classmethod
    def from_dict(cls, d: dict) -> PrimaryScore:
        return cls(d.get("name"), d.get("mean"), d.get("se"), as_pair(d.get("interval")), d.get("confidence"),
                   d.get("n", 0), d.get("greater_is_better", True))


@dataclass
class FinishLineResult(Part):
    """stats.FinishLine as stored: reached, not reached or undetermined, and why."""

    state: str  # reached | not_reached | undetermined
    threshold: float
    margin: float
    mean: float | None
    interval: tuple[float | None, float | None]
    detail: str
    extra_factor: float | None  # undetermined: how much the sample would have to grow to decide
    # The interval judged (DESIGN §6): "both" (cross-validated and held-out test: the parts below),
    # "cross-validated" alone (no test set scored yet; runs written before the test was judged) or "test".
    basis: str = "cross-validated"
    cross_validated: FinishLineResult | None = None
    test: FinishLineResult | None = None

    @classmethod
    def from_dict(cls, d: dict) -> FinishLineResult:
        def part(key):
            return None if d.get(key) is None else FinishLineResult.from_dict(d[key])

        return cls(d["state"], d.get("threshold"), d.get("margin"), d.get("mean"), as_pair(d.get("interval")),
                   d.get("detail") or "", d.get("extra_factor"), d.get("basis") or "cross-validated",
                   part("cross_validated"), part("test"))


@dataclass
class SelectionResult(Part):
    """One science case judged: the selected model, why, its primary score, its finish line."""

    selection: str
    required: bool
    uncertainty: UncertaintyJudgement | None
    selected_model: str | None
    reason: str
    primary: PrimaryScore
    finish_line: FinishLineResult | None

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.selected_model is None:  # nothing was judged: written without the uncertainty key
            del out["uncertainty"]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> SelectionResult:
        return cls(d["selection"], d.get("required", True),
                   None if d.get("uncertainty") is None else UncertaintyJudgement.from_dict(d["uncertainty"]),
                   d.get("selected_model"), d.get("reason") or "", PrimaryScore.from_dict(d.get("primary") or {}),
                   None if d.get("finish_line") is None else FinishLineResult.from_dict(d["finish_line"]))


@dataclass
class Verdict(Part):
    """verdict.json: the overall status and exit code, the main case's headline, every criterion,
    comparison and selection, and what the summary holds about the selected model."""

    status: str  # pass | fail | undetermined
    selected_model: str | None
    reason: str | None  # why the status (the criteria that decided it), e.g. the finish line's intervals
    primary: PrimaryScore | None
    finish_line: FinishLineResult | None
    criteria: list[Criterion]
    comparisons: list[ModelComparison] = field(default_factory=list)
    selections: list[SelectionResult] = field(default_factory=list)
    power: Power | None = None
    diagnostics: Diagnostics | None = None
    test: TestScores | None = None  # the selected model's held-out test result
    test_uses: int | None = None
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 3
    selection_reason: str | None = None  # why the main case's model was selected (before: `reason`)
    # The finish line as expected on data.application (covariate shift, paper §5.5), when the run had one
    application: FinishLineResult | None = None

    OPTIONAL = ("application",)

    def selection(self, name: str) -> SelectionResult | None:
        return next((s for s in self.selections if s.selection == name), None)

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        return cls(
            d["status"], d.get("selected_model"), d.get("reason"),
            None if d.get("primary") is None else PrimaryScore.from_dict(d["primary"]),
            None if d.get("finish_line") is None else FinishLineResult.from_dict(d["finish_line"]),
            [Criterion.from_dict(c) for c in d["criteria"]],
            [ModelComparison.from_dict(c) for c in d.get("comparisons") or []],
            [SelectionResult.from_dict(s) for s in d.get("selections") or []],
            None if d.get("power") is None else Power.from_dict(d["power"]),
            None if d.get("diagnostics") is None else Diagnostics.from_dict(d["diagnostics"]),
            None if d.get("test") is None else TestScores.from_dict(d["test"]),
            d.get("test_uses"),
            list(d.get("warnings") or []),
            d["exit_code"],
            d.get("selection_reason"),
            None if d.get("application") is None else FinishLineResult.from_dict(d["application"]),
        )
