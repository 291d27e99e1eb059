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
    """The selected case's best candidate (b) against one baseline (a), paired over the folds."""

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
    """A σ(x) method (b) against the single global σ (a), on CRPS without a margin."""

    a: str
    b: str
    difference: float | None
    interval: tuple[float | None, float | None]
    p_better: float | None
    p_worse: float | None
    decision: str
    se: float | None = None

    @classmethod
    def from_dict(cls, d: dict) -> MethodComparison:
        return cls(d["a"], d["b"], d.get("difference"), as_pair(d.get("interval")), d.get("p_better"),
                   d.get("p_worse"), d["decision"], d.get("se"))


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

    OPTIONAL = ("nominal",)

    model: str
    methods: dict[str, MethodScores]
    comparisons: list[MethodComparison] = field(default_factory=list)
    nominal: dict[str, float] | None = None  # "coverage_68" -> 0.6827 (±1σ), "coverage_95" -> 0.95

    @classmethod
    def from_dict(cls, d: dict) -> UncertaintyJudgement:
        return cls(d["model"], {k: MethodScores.from_dict(v) for k, v in d["methods"].items()},
                   [MethodComparison.from_dict(c) for c in d.get("comparisons") or []],
                   None if d.get("nominal") is None else dict(d["nominal"]))


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
    extra_factor: float | None  # undetermined: how much the validation sample would have to grow

    @classmethod
    def from_dict(cls, d: dict) -> FinishLineResult:
        return cls(d["state"], d.get("threshold"), d.get("margin"), d.get("mean"), as_pair(d.get("interval")),
                   d.get("detail") or "", d.get("extra_factor"))


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
    reason: str | None
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
        )
