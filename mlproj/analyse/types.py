"""The Summary: everything analysis found, typed, as the verdict and the reports read it.

Pure Python (no numpy): `mlproj verdict` reads a stored summary.json back into these types and
prints it without importing the statistics. `Summary.to_dict()` is summary.json, key for key
and in the same order; `Summary.from_dict()` reads one back (runs written before a key existed
get its default).

Numbers that can be undefined (a metric of a fold without positives, a rate without objects)
are a finite float or None: JSON has no NaN, and None is the honest "no value" (`finite`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from mlproj.science.numbers import general

__all__ = [
    "AblationEffect", "BestOperatingPoint", "Calibration", "CaseResult", "Coverage", "DataDescription", "Diagnostics", "Estimate",
    "ModelInfo", "ModelScores", "Part", "PitResult", "Power", "PowerPair", "PrimaryMetric", "Proportion", "RateCounts",
    "Summary", "TestCaseScores", "TestInterval", "TestRate", "TestScores", "TestSet", "TimeTrend", "TowardPrior",
    "HarnessResult", "InterrogationResult",
    "as_pair", "finite", "fmt_number", "json_ready", "or_nan",
]


def finite(value) -> float | None:
    """A finite float, or None for a missing, NaN or infinite one (the one place this is written)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def or_nan(value) -> float:
    """The inverse of `finite` for arithmetic and formatting: None becomes NaN."""
    return math.nan if value is None else value


def fmt_number(value: float | None, digits: int = 4) -> str:
    """A stored number for a sentence or a table cell: `digits` significant digits with their
    trailing zeros ("0.03000": the zeros are digits, "0.03" would claim fewer), "—" for None."""
    return "—" if value is None else general(value, digits)


def json_ready(value):
    """JSON-ready: typed parts through their to_dict, tuples as lists."""
    if isinstance(value, Part):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def as_pair(value) -> tuple:
    low, high = value if value is not None else (None, None)
    return (low, high)


class Part:
    """A typed part of the summary or verdict: `to_dict` gives its JSON, fields in order."""

    # Fields left out of the JSON when they are None (keys summary.json has only sometimes).
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in self.OPTIONAL:
                continue
            out[f.name] = json_ready(value)
        return out


# ------------------------------------------------------------------------------------------ data


@dataclass
class DataDescription(Part):
    """What was read and used: the catalogue, its rows, classes and features, the split sizes."""

    path: str | None = None
    rows_read: int | None = None
    rows_used: int | None = None
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    classes: dict[str, int] = field(default_factory=dict)  # class -> objects (empty for regression)
    features: list[str] = field(default_factory=list)
    n_development: int | None = None
    n_test: int | None = None
    sentinels: dict[str, int] = field(default_factory=dict)  # column -> sentinel values made missing
    missing: dict[str, int] = field(default_factory=dict)  # feature -> missing values among the rows used

    @classmethod
    def from_dict(cls, d: dict) -> DataDescription:
        return cls(d.get("path"), d.get("rows_read"), d.get("rows_used"), dict(d.get("dropped") or {}),
                   dict(d.get("classes") or {}), list(d.get("features") or []), d.get("n_development"),
                   d.get("n_test"), dict(d.get("sentinels") or {}), dict(d.get("missing") or {}))


@dataclass
class ModelInfo(Part):
    """One model of the plan and how its fits went (shared by every case)."""

    name: str
    role: str  # baseline | candidate
    estimator: str | None = None
    params: dict = field(default_factory=dict)
    scale: bool = False
    simplicity: int = 3  # dummy 0 < linear 1 < trees 2 < others 3
    fit_seconds: float | None = None  # mean over its fits
    failed_tasks: int = 0
    n_tasks: int | None = None
    errors: list[str] = field(default_factory=list)
    parent: str | None = None  # a variant: the candidate whose params it changes
    settings: int | None = None  # a variant against its parent: -1 simpler sub-model, +1 larger, 0 neither

    OPTIONAL = ("parent", "settings")

    @property
    def every_fit_failed(self) -> bool:
        return self.n_tasks is not None and self.failed_tasks == self.n_tasks

    @classmethod
    def from_dict(cls, d: dict) -> ModelInfo:
        return cls(d["name"], d["role"], d.get("estimator"), dict(d.get("params") or {}), d.get("scale", False),
                   d.get("simplicity", 3), d.get("fit_seconds"), d.get("failed_tasks", 0), d.get("n_tasks"),
                   list(d.get("errors") or []), d.get("parent"), d.get("settings"))


# ------------------------------------------------------------------------------ cross-validation


@dataclass
class Estimate(Part):
    """A metric over the r × k folds (stats.ScoreSummary as stored): mean ± corrected SE."""

    mean: float | None
    sd: float | None
    se: float | None  # Nadeau-Bengio corrected
    naive_se: float | None
    interval: tuple[float | None, float | None]  # at `confidence`
    n: int  # finite fold scores
    folds: int
    repeats: int
    confidence: float

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        return cls(d.get("mean"), d.get("sd"), d.get("se"), d.get("naive_se"), as_pair(d.get("interval")),
                   d.get("n", 0), d.get("folds"), d.get("repeats"), d.get("confidence"))


@dataclass
class RateCounts(Part):
    """A rate with the counts it comes from and their Wilson interval (paper §2.3: rates need N)."""

    true_positives: int
    false_positives: int
    n_positive: int
    n_negative: int
    value: float | None
    achieved_fpr: float | None
    achieved_tpr: float | None
    wilson: tuple[float | None, float | None]
    confidence: float

    @classmethod
    def from_dict(cls, d: dict) -> RateCounts:
        counts = (d["true_positives"], d["false_positives"], d["n_positive"], d["n_negative"], d.get("value"),
                  d.get("achieved_fpr"), d.get("achieved_tpr"), as_pair(d.get("wilson")), d.get("confidence", 0.95))
        if "threshold" in d:
            return TestRate(*counts, threshold=d["threshold"], resolution=d.get("resolution"))
        return cls(*counts)


@dataclass
class Proportion(Part):
    """A rate as the count behind it: `successes` of `trials` objects (DESIGN §6: a rate's interval
    has a floor from its counts, the Wilson interval of successes/trials)."""

    successes: int
    trials: int

    @classmethod
    def from_dict(cls, d: dict) -> Proportion:
        return cls(d["successes"], d["trials"])


@dataclass
class TestRate(RateCounts):
    """A test-set rate at the operating point chosen on the development predictions."""

    __test__ = False  # not a pytest class

    threshold: float | None = None
    resolution: str | None = None  # whether the sample resolves the constraint (power.resolution_note)


@dataclass
class ModelScores(Part):
    """One model in one case: every metric's estimate, the paired primary scores, pooled rates."""

    metrics: dict[str, Estimate]  # metric label -> estimate
    scores: list[float | None]  # primary metric per (repeat, fold), the pairs every comparison uses
    rates: dict[str, RateCounts] = field(default_factory=dict)  # label -> out-of-fold counts of repeat 0
    uncertainty: dict[str, Estimate] = field(default_factory=dict)  # "crps[global]" -> estimate
    uncertainty_scores: dict[str, list[float | None]] = field(default_factory=dict)  # method -> CRPS per fold
    # σ(x) methods are compared on NLL too (DESIGN §6): method -> NLL per (repeat, fold)
    uncertainty_nll_scores: dict[str, list[float | None]] | None = None
    # method -> nominal label -> the out-of-fold counts of repeat 0 inside the ±1σ / ±1.96σ bars
    uncertainty_coverage: dict[str, dict[str, Coverage]] | None = None
    # label -> pooled out-of-fold counts of each rate metric (repeat 0: every development object once)
    proportions: dict[str, Proportion] | None = None
    trend: TimeTrend | None = None  # time-ordered validation only: the primary metric window by window

    OPTIONAL = ("uncertainty_nll_scores", "uncertainty_coverage", "trend", "proportions")  # regression σ(x); time splits

    @classmethod
    def from_dict(cls, d: dict) -> ModelScores:
        nll, coverage = d.get("uncertainty_nll_scores"), d.get("uncertainty_coverage")
        return cls({k: Estimate.from_dict(v) for k, v in (d.get("metrics") or {}).items()}, list(d["scores"]),
                   {k: RateCounts.from_dict(v) for k, v in (d.get("rates") or {}).items() if v},
                   {k: Estimate.from_dict(v) for k, v in (d.get("uncertainty") or {}).items()},
                   {k: list(v) for k, v in (d.get("uncertainty_scores") or {}).items()},
                   None if nll is None else {k: list(v) for k, v in nll.items()},
                   None if coverage is None else {method: {level: Coverage.from_dict(c) for level, c in levels.items()}
                                                  for method, levels in coverage.items()},
                   proportions=None if d.get("proportions") is None else
                   {k: Proportion.from_dict(v) for k, v in d["proportions"].items()},
                   trend=None if d.get("trend") is None else TimeTrend.from_dict(d["trend"]))


@dataclass
class TimeTrend(Part):
    """The primary metric of time-ordered validation windows, earliest first, and its drift.

    Sliding windows make the fold scores exchangeable only if the model's skill does not change
    with time; the least-squares slope over the window index (scipy.stats.linregress) says
    whether it does. `significant`: the two-sided p of slope = 0 is below 1 − confidence.
    """

    scores: list[float | None]  # per window, in time order (None: undefined in that window)
    slope: float | None  # change of the metric from one window to the next
    slope_se: float | None
    p_value: float | None
    significant: bool
    confidence: float

    @classmethod
    def from_dict(cls, d: dict) -> TimeTrend:
        return cls(list(d["scores"]), d.get("slope"), d.get("slope_se"), d.get("p_value"),
                   bool(d.get("significant")), d.get("confidence", 0.90))


@dataclass
class PrimaryMetric(Part):
    OPTIONAL = ("bounds",)

    name: str
    params: dict
    label: str  # e.g. "tpr_at_fpr(fpr=0.01)"
    greater_is_better: bool
    bounds: tuple[float | None, float | None] | None = None  # the values it can take (None: unbounded side)

    @classmethod
    def from_dict(cls, d: dict) -> PrimaryMetric:
        bounds = d.get("bounds")
        return cls(d["name"], dict(d.get("params") or {}), d["label"], d.get("greater_is_better", True),
                   None if bounds is None else as_pair(bounds))


@dataclass
class CaseResult(Part):
    """One science case (the main selection or one under `selections:`) and every model's scores."""

    name: str
    positive: list[int]  # class indices; empty for regression
    required: bool
    primary: PrimaryMetric
    metrics: list[str]  # labels, primary first
    threshold: float
    margin: float
    uncertainty_methods: list[str] = field(default_factory=list)  # σ(x) methods judged, "global" first
    uncertainty_criteria: dict[str, Any] = field(default_factory=dict)  # "coverage_68" -> [lo, hi], "crps" -> max
    models: dict[str, ModelScores] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> CaseResult:
        return cls(d["name"], list(d.get("positive") or []), d.get("required", True),
                   PrimaryMetric.from_dict(d["primary"]), list(d.get("metrics") or [d["primary"]["label"]]),
                   d.get("threshold"), d.get("margin"), list(d.get("uncertainty_methods") or []),
                   dict(d.get("uncertainty_criteria") or {}),
                   {k: ModelScores.from_dict(v) for k, v in d["models"].items()})


# -------------------------------------------------------------------------------- held-out test


@dataclass
class Coverage(Part):
    """How many true values fall inside the predicted intervals of one nominal content."""

    nominal: float
    observed: float | None
    inside: int
    n: int
    wilson: tuple[float | None, float | None]  # 95% Wilson interval on `observed`

    @classmethod
    def from_dict(cls, d: dict) -> Coverage:
        return cls(d["nominal"], d.get("observed"), d["inside"], d["n"], as_pair(d.get("wilson")))


@dataclass
class PitResult(Part):
    """The PIT histogram of the test-set predictions and its KS check (paper §5.2)."""

    method: str
    ks_statistic: float | None
    p_value: float | None
    histogram: list[int]
    bin_edges: list[float]
    shape: str
    flagged: bool
    detail: str

    @classmethod
    def from_dict(cls, d: dict) -> PitResult:
        return cls(d.get("method"), d.get("ks_statistic"), d.get("p_value"), list(d.get("histogram") or []),
                   list(d.get("bin_edges") or []), d.get("shape"), bool(d.get("flagged")), d.get("detail") or "")


@dataclass
class TestInterval(Part):
    """stats.TestInterval as stored: a held-out test score and its interval (Wilson from the test
    counts for a rate, a bootstrap over the test objects otherwise), so `mlproj verdict` can judge
    the finish line on the test set again without refitting."""

    __test__ = False

    value: float | None
    interval: tuple[float | None, float | None]
    confidence: float
    method: str  # Wilson | bootstrap BCa | bootstrap percentile | none
    n: int  # test objects
    successes: int | None = None
    trials: int | None = None
    detail: str | None = None  # why the interval is missing or has no width

    @classmethod
    def from_dict(cls, d: dict) -> TestInterval:
        return cls(d.get("value"), as_pair(d.get("interval")), d["confidence"], d.get("method") or "none",
                   d.get("n", 0), d.get("successes"), d.get("trials"), d.get("detail"))


@dataclass
class TestCaseScores(Part):
    """The held-out test result of one model in one case."""

    OPTIONAL = ("uncertainty", "coverage", "pit", "intervals")
    __test__ = False  # not a pytest class

    metrics: dict[str, float | None]  # label -> value
    rates: dict[str, TestRate] = field(default_factory=dict)
    uncertainty: dict[str, float | None] | None = None  # "crps[global]" -> value (regression σ methods)
    coverage: dict[str, dict[str, Coverage]] | None = None  # method -> nominal label -> counts inside
    pit: PitResult | None = None
    intervals: dict[str, TestInterval] | None = None  # primary metric label -> its test interval (DESIGN §6)

    @classmethod
    def from_dict(cls, d: dict) -> TestCaseScores:
        coverage = d.get("coverage")
        intervals = d.get("intervals")
        return cls(dict(d.get("metrics") or {}), {k: RateCounts.from_dict(v) for k, v in (d.get("rates") or {}).items()},
                   None if d.get("uncertainty") is None else dict(d["uncertainty"]),
                   None if coverage is None else {method: {level: Coverage.from_dict(c) for level, c in levels.items()}
                                                  for method, levels in coverage.items()},
                   None if d.get("pit") is None else PitResult.from_dict(d["pit"]),
                   None if intervals is None else {k: TestInterval.from_dict(v) for k, v in intervals.items()})


@dataclass
class TestScores(Part):
    """The held-out test result of one (selected) model, used once (paper §5.6)."""

    __test__ = False

    model: str
    n_test: int
    cases: dict[str, TestCaseScores] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> TestScores:
        return cls(d["model"], d.get("n_test"), {k: TestCaseScores.from_dict(v) for k, v in (d.get("cases") or {}).items()})


@dataclass
class TestSet(Part):
    __test__ = False

    models: dict[str, TestScores] = field(default_factory=dict)
    uses: int | None = None  # distinct model configurations that have used this test set

    @classmethod
    def from_dict(cls, d: dict) -> TestSet:
        return cls({k: TestScores.from_dict(v) for k, v in (d.get("models") or {}).items()}, d.get("uses"))


# ----------------------------------------------------------------------------------- power


@dataclass
class PowerPair(Part):
    a: float
    b: float
    null: float
    critical_count: int
    power: float

    @classmethod
    def from_dict(cls, d: dict) -> PowerPair:
        return cls(d["a"], d["b"], d["null"], d["critical_count"], d["power"])


@dataclass
class BestOperatingPoint(Part):
    """The most powerful operating point found on the ROC."""

    threshold: float
    tpr: float
    fpr: float
    power: float
    critical_count: int

    @classmethod
    def from_dict(cls, d: dict) -> BestOperatingPoint:
        return cls(d["threshold"], d["tpr"], d["fpr"], d["power"], d["critical_count"])


@dataclass
class Power(Part):
    """Can the selected model tell the hypothesised fractions apart (paper §2.2)?

    Without out-of-fold predictions there is no analysis: then only `model`, `selection`,
    `power` (None), `passed`, `detail` and `target_power` are set, and written.
    """

    model: str | None
    selection: str | None
    power: float | None
    passed: bool
    detail: str
    target_power: float | None
    fractions: list[float] | None = None
    sample_size: int | None = None
    alpha: float | None = None
    expected_counts: list[float] | None = None
    null_index: int | None = None
    critical_count: int | None = None
    pairwise: list[PowerPair] | None = None
    best_operating_point: BestOperatingPoint | None = None

    _SHORT: ClassVar[tuple[str, ...]] = ("model", "selection", "power", "passed", "detail", "target_power")
    _FULL: ClassVar[tuple[str, ...]] = ("fractions", "sample_size", "alpha", "target_power", "expected_counts",
                                        "null_index", "critical_count", "power", "pairwise", "passed", "detail",
                                        "model", "selection", "best_operating_point")

    @property
    def analysed(self) -> bool:
        return self.fractions is not None

    def to_dict(self) -> dict:
        return {name: json_ready(getattr(self, name)) for name in (self._FULL if self.analysed else self._SHORT)}

    @classmethod
    def from_dict(cls, d: dict) -> Power:
        best = d.get("best_operating_point")
        return cls(d.get("model"), d.get("selection"), d.get("power"), bool(d.get("passed")), d.get("detail") or "",
                   d.get("target_power"), d.get("fractions"), d.get("sample_size"), d.get("alpha"),
                   d.get("expected_counts"), d.get("null_index"), d.get("critical_count"),
                   None if d.get("pairwise") is None else [PowerPair.from_dict(p) for p in d["pairwise"]],
                   None if best is None else BestOperatingPoint.from_dict(best))


# ----------------------------------------------------------------------------- diagnostics


@dataclass
class Calibration(Part):
    """Reliability curve (quantile bins) of out-of-fold probabilities."""

    mean_predicted: list[float]
    observed_fraction: list[float]
    counts: list[int]
    wilson: list[tuple[float, float]]
    ece: float | None  # expected calibration error

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        return cls(list(d["mean_predicted"]), list(d["observed_fraction"]), list(d["counts"]),
                   [as_pair(w) for w in d["wilson"]], d.get("ece"))


@dataclass
class TowardPrior(Part):
    """Where out-of-fold predictions are pulled toward the training sample's bulk (paper §5.3)."""

    truth: list[float | None]
    predicted: list[float | None]
    slope: list[float | None]
    pulled: list[bool]
    overall_slope: float | None
    detail: str | None

    @classmethod
    def from_dict(cls, d: dict) -> TowardPrior:
        return cls(list(d["truth"]), list(d["predicted"]), list(d["slope"]), list(d["pulled"]),
                   d.get("overall_slope"), d.get("detail"))


@dataclass
class Diagnostics(Part):
    """Out-of-fold diagnostics of the main case's selected model."""

    OPTIONAL = ("calibration", "toward_prior")

    model: str
    calibration: Calibration | None = None  # classification with probabilities
    toward_prior: TowardPrior | None = None  # regression

    @classmethod
    def from_dict(cls, d: dict) -> Diagnostics:
        return cls(d["model"], None if d.get("calibration") is None else Calibration.from_dict(d["calibration"]),
                   None if d.get("toward_prior") is None else TowardPrior.from_dict(d["toward_prior"]))


# ------------------------------------------------------------------ test harness and interrogation


@dataclass
class HarnessResult(Part):
    """One check of the test harness (paper §2.4) on the selected model's final fit: what it
    measured and whether that passed. Each is a verdict criterion named `name`.

    invariance: `value` is the fraction of objects whose predicted class changed (classification)
    or the median |change| of the prediction (regression), passing when at most `threshold`;
    cases and hybrid: the fraction of inputs that gave the expected output, passing when at
    least `threshold`. `passed` None: nothing could be measured (`detail` says why)."""

    name: str  # the criterion: "harness: invariance (permute r)"
    kind: str  # invariance | cases | hybrid
    description: str  # what the check does, in words
    model: str | None
    measure: str  # what `value` is: "changed class", "median |Δ prediction|", "as expected"
    value: float | None
    threshold: float
    at_most: bool  # passes when value <= threshold (invariance), else when value >= threshold
    passed: bool | None
    n: int  # objects (pairs, cases) the value is measured on
    detail: str

    @classmethod
    def from_dict(cls, d: dict) -> HarnessResult:
        return cls(d["name"], d["kind"], d.get("description") or "", d.get("model"), d.get("measure") or "",
                   d.get("value"), d["threshold"], bool(d.get("at_most")), d.get("passed"), d.get("n", 0),
                   d.get("detail") or "")


@dataclass
class SensitivityCurve(Part):
    """The selected model's prediction as one feature is varied over its observed range (1st to
    99th percentile), every other feature at its median (paper §6.1.3); with `by`, one curve per
    10/50/90% quantile of that second feature."""

    feature: str
    values: list[float]  # the grid of the varied feature
    quantity: str  # what is predicted: "p(galaxy)" or "predicted z"
    predictions: list[list[float | None]]  # per curve (one per `by_values`, or one), per grid value
    by: str | None = None
    by_values: list[float] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict) -> SensitivityCurve:
        return cls(d["feature"], list(d["values"]), d.get("quantity") or "", [list(p) for p in d["predictions"]],
                   d.get("by"), list(d.get("by_values") or []))


@dataclass
class MetricBin(Part):
    """The primary metric among the objects of one quantile bin of a feature, with its interval
    (Wilson for a rate, a bootstrap over the bin's objects otherwise) and the finish line there."""

    low: float | None
    high: float | None
    n: int
    value: float | None
    interval: tuple[float | None, float | None]
    method: str  # Wilson | bootstrap BCa | bootstrap percentile | none
    state: str  # reached | not_reached | undetermined

    @classmethod
    def from_dict(cls, d: dict) -> MetricBin:
        return cls(d.get("low"), d.get("high"), d.get("n", 0), d.get("value"), as_pair(d.get("interval")),
                   d.get("method") or "none", d.get("state") or "undetermined")


@dataclass
class BinnedMetric(Part):
    """The primary metric in quantile bins of one feature ("how faint can we go?"), and how far the
    finish line is met: from the first bin on, up to `met_up_to` (the upper edge of the last bin
    of that run), None when the first bin does not meet it."""

    feature: str
    metric: str
    threshold: float
    margin: float
    greater_is_better: bool
    confidence: float
    bins: list[MetricBin]
    met_up_to: float | None
    detail: str

    @classmethod
    def from_dict(cls, d: dict) -> BinnedMetric:
        return cls(d["feature"], d["metric"], d["threshold"], d.get("margin", 0.0), d.get("greater_is_better", True),
                   d.get("confidence", 0.9), [MetricBin.from_dict(b) for b in d.get("bins") or []], d.get("met_up_to"),
                   d.get("detail") or "")


@dataclass
class WorstObject(Part):
    """One of the most confidently wrong objects (largest residuals), out of fold."""

    row: int  # among the rows used
    truth: str | float | None
    predicted: str | float | None
    score: float | None  # classification: probability of the wrong class; regression: |Δ|
    values: list[float | None]  # per WorstObjects.features

    @classmethod
    def from_dict(cls, d: dict) -> WorstObject:
        return cls(d["row"], d.get("truth"), d.get("predicted"), d.get("score"), list(d.get("values") or []))


@dataclass
class PopulationRange(Part):
    """The median and 16–84% range of each feature among the correctly handled objects (of a class)."""

    label: str
    n: int
    median: list[float | None]
    p16: list[float | None]
    p84: list[float | None]

    @classmethod
    def from_dict(cls, d: dict) -> PopulationRange:
        return cls(d["label"], d.get("n", 0), list(d.get("median") or []), list(d.get("p16") or []),
                   list(d.get("p84") or []))


@dataclass
class WorstObjects(Part):
    measure: str  # what `score` is
    correct: str  # who counts as correctly handled
    features: list[str]
    objects: list[WorstObject]
    reference: list[PopulationRange]

    @classmethod
    def from_dict(cls, d: dict) -> WorstObjects:
        return cls(d.get("measure") or "", d.get("correct") or "", list(d.get("features") or []),
                   [WorstObject.from_dict(o) for o in d.get("objects") or []],
                   [PopulationRange.from_dict(r) for r in d.get("reference") or []])


@dataclass
class InterrogationResult(Part):
    """What the selected model was asked (paper §6.1.3): sensitivity curves (its final fit), the
    primary metric in bins and the worst objects (its pooled out-of-fold predictions)."""

    OPTIONAL = ("worst",)

    model: str
    sensitivity: list[SensitivityCurve] = field(default_factory=list)
    bins: list[BinnedMetric] = field(default_factory=list)
    worst: WorstObjects | None = None
    notes: list[str] = field(default_factory=list)  # what could not be asked, and why

    @classmethod
    def from_dict(cls, d: dict) -> InterrogationResult:
        return cls(d["model"], [SensitivityCurve.from_dict(c) for c in d.get("sensitivity") or []],
                   [BinnedMetric.from_dict(b) for b in d.get("bins") or []],
                   None if d.get("worst") is None else WorstObjects.from_dict(d["worst"]), list(d.get("notes") or []))


# ----------------------------------------------------------------------------------- covariate shift


@dataclass
class ShiftFeature(Part):
    """One feature between the labelled and the application sample: its own AUC (> 0.5: larger in
    the application sample), the fraction of application objects outside the labelled min–max range."""

    name: str
    auc: float | None
    outside: float
    low: float | None
    high: float | None

    @classmethod
    def from_dict(cls, d: dict) -> ShiftFeature:
        return cls(d["name"], d.get("auc"), d.get("outside", 0.0), d.get("low"), d.get("high"))


@dataclass
class ShiftHistogram(Part):
    """Densities on common bin edges, labelled vs application (and the labelled sample reweighted)."""

    name: str
    edges: list[float]
    labelled: list[float]
    application: list[float]
    weighted: list[float] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict) -> ShiftHistogram:
        return cls(d["name"], list(d["edges"]), list(d["labelled"]), list(d["application"]),
                   list(d.get("weighted") or []))


@dataclass
class ShiftStratum(Part):
    """A propensity-score stratum: its domain-score range, the application's share, the metric there."""

    low: float
    high: float
    share: float
    n_labelled: int
    value: float | None

    @classmethod
    def from_dict(cls, d: dict) -> ShiftStratum:
        return cls(d["low"], d["high"], d["share"], d["n_labelled"], d.get("value"))


@dataclass
class ShiftMetric(Part):
    """A model's primary metric as measured (pooled out of fold, plain bootstrap) and as expected on the
    application sample (`method`: weighted bootstrap or stratified bootstrap)."""

    OPTIONAL = ("detail",)

    model: str
    metric: str
    measured: float | None
    measured_interval: list[float | None]
    expected: float | None
    expected_interval: list[float | None]
    method: str
    confidence: float
    n: int
    strata: list[ShiftStratum] = field(default_factory=list)
    detail: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> ShiftMetric:
        return cls(d["model"], d["metric"], d.get("measured"), list(d.get("measured_interval") or [None, None]),
                   d.get("expected"), list(d.get("expected_interval") or [None, None]), d.get("method", ""),
                   d.get("confidence", 0.9), d.get("n", 0), [ShiftStratum.from_dict(s) for s in d.get("strata") or []],
                   d.get("detail"))


@dataclass
class ShiftResult(Part):
    """Covariate shift between the labelled development set and data.application (paper §5.5):
    the domain classifier, the features that drive it, the importance weights and their effective
    sample size, and every model's primary metric as measured and as expected on the application."""

    method: str                       # weights | strata
    required: bool
    application: str
    n_labelled: int
    n_application: int
    domain_auc: float | None
    domain_interval: list[float | None]
    confidence: float
    interval_method: str
    features: list[ShiftFeature]
    outside_any: float                # application objects outside the labelled range on any feature
    ess: float
    weights_clipped: int
    weight_cap: float
    weight_max: float
    histograms: list[ShiftHistogram] = field(default_factory=list)
    domain_scores: ShiftHistogram | None = None   # P(application) of the two samples, out of fold
    weights: ShiftHistogram | None = None         # the labelled objects' weights (labelled column only)
    metrics: list[ShiftMetric] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def metric_of(self, model: str | None) -> ShiftMetric | None:
        return next((m for m in self.metrics if m.model == model), None)

    @classmethod
    def from_dict(cls, d: dict) -> ShiftResult:
        def hist(v):
            return None if v is None else ShiftHistogram.from_dict(v)

        return cls(d["method"], bool(d.get("required", False)), d.get("application", ""), d["n_labelled"],
                   d["n_application"], d.get("domain_auc"), list(d.get("domain_interval") or [None, None]),
                   d.get("confidence", 0.9), d.get("interval_method", ""),
                   [ShiftFeature.from_dict(f) for f in d.get("features") or []], d.get("outside_any", 0.0),
                   d.get("ess", 0.0), d.get("weights_clipped", 0), d.get("weight_cap", 0.0), d.get("weight_max", 0.0),
                   [ShiftHistogram.from_dict(h) for h in d.get("histograms") or []], hist(d.get("domain_scores")),
                   hist(d.get("weights")), [ShiftMetric.from_dict(m) for m in d.get("metrics") or []],
                   list(d.get("warnings") or []))


# ----------------------------------------------------------------------------------- summary


@dataclass
class StrongFeature(Part):
    """A single feature that separates the classes (or predicts the target) on its own.

    `label_function`: the feature is a deterministic function of the label (e.g. a copy of the
    class, or a redshift that is 0 exactly for stars); `value`: its `statistic` (ROC AUC of the
    feature alone, |Pearson r|, ...) on the development set. `acknowledged`: the project lists it
    in `data.allowed_strong_features`.
    """

    feature: str
    statistic: str
    value: float | None
    label_function: bool = False
    acknowledged: bool = False

    @property
    def leaks(self) -> bool:
        """Near-perfect on its own (AUC >= 0.999 or |r| >= 0.999) or a function of the label."""
        return self.label_function or (self.value is not None and self.value >= LEAK_LEVEL)

    @classmethod
    def from_dict(cls, d: dict) -> StrongFeature:
        return cls(d["feature"], d["statistic"], d.get("value"), bool(d.get("label_function")),
                   bool(d.get("acknowledged")))


# A feature this good alone is a leak until the project says it is physics (DESIGN §6).
LEAK_LEVEL = 0.999


@dataclass
class AblationEffect(Part):
    """One feature ablation of one model (paper §6.1, DESIGN §6): its primary-metric scores
    paired with the full model's on the same folds, decided with the margin.

    `difference` is ablation − full in the metric's units (negative: a higher-is-better metric
    got lower), `interval` its corrected-t interval; `decision` is about the model's skill:
    better, equivalent (within ±margin: the information removed is not needed), worse or
    undetermined. mlproj.analyse.ablations makes them.
    """

    model: str
    name: str  # the feature set, e.g. "-u", "-colours", "colours=mean", "only:basic"
    kind: str  # drop | group | replace | keep_only
    removed: list[str]  # the features named by the project
    dependent: list[str]  # derived features (and indicators) removed with them
    description: str
    metric: str  # the primary metric's label
    greater_is_better: bool
    full_mean: float | None
    ablated_mean: float | None
    difference: float | None
    se: float | None
    interval: tuple[float | None, float | None]
    margin: float
    p_better: float | None
    p_equivalent: float | None
    p_worse: float | None
    decision: str  # better | equivalent | worse | undetermined
    sentence: str
    n: int = 0  # finite pairs
    scores: list[float | None] = field(default_factory=list)  # the ablation's fold scores (repeat-major)

    @classmethod
    def from_dict(cls, d: dict) -> AblationEffect:
        return cls(d["model"], d["name"], d.get("kind", "drop"), list(d.get("removed") or []),
                   list(d.get("dependent") or []), d.get("description", ""), d.get("metric", ""),
                   bool(d.get("greater_is_better", True)), d.get("full_mean"), d.get("ablated_mean"),
                   d.get("difference"), d.get("se"), as_pair(d.get("interval")), d.get("margin", 0.0),
                   d.get("p_better"), d.get("p_equivalent"), d.get("p_worse"), d.get("decision", "undetermined"),
                   d.get("sentence", ""), d.get("n", 0), list(d.get("scores") or []))


@dataclass
class Summary(Part):
    """summary.json: the design, the data, every model's scores per case, the test set, power,
    diagnostics and warnings; everything the verdict needs, including the uncertainties."""

    OPTIONAL = ("project", "failed_fits", "val_train_ratio", "harness", "interrogation", "ablations", "search",
                "shift")

    project: str | None
    task: str
    folds: int
    repeats: int
    confidence: float
    data: DataDescription
    models: list[ModelInfo]
    cases: list[CaseResult]
    test: TestSet | None = None
    power: Power | None = None
    diagnostics: Diagnostics | None = None
    warnings: list[str] = field(default_factory=list)
    failed_fits: int | None = None  # set once every fit has run; a run with failed fits is never up to date
    # n_val/n_train of the splits for the corrected SE (DESIGN §6); None: K-fold, 1/(k-1).
    val_train_ratio: float | None = None
    strong_features: list[StrongFeature] = field(default_factory=list)  # single features that separate alone
    harness: list[HarnessResult] | None = None  # the test harness (paper §2.4), when the project declares one
    interrogation: InterrogationResult | None = None  # the selected model interrogated (paper §6.1.3)
    ablations: list[AblationEffect] | None = None  # feature ablations (paper §6.1), when the project asks
    # Nested searches: model -> the values chosen in each fold, [{"repeat", "fold", "params"}] (fold -1: the final fit)
    search: dict[str, list[dict]] | None = None
    shift: ShiftResult | None = None  # covariate shift against data.application (paper §5.5), when asked

    def tested(self, model: str | None) -> TestScores | None:
        """The held-out test result of `model`, if it was tested."""
        if self.test is None or model is None:
            return None
        return self.test.models.get(model)

    @classmethod
    def from_dict(cls, d: dict) -> Summary:
        return cls(
            d.get("project"), d["task"], d["folds"], d["repeats"], d["confidence"],
            DataDescription.from_dict(d.get("data") or {}),
            [ModelInfo.from_dict(m) for m in d["models"]],
            [CaseResult.from_dict(c) for c in d["cases"]],
            None if d.get("test") is None else TestSet.from_dict(d["test"]),
            None if d.get("power") is None else Power.from_dict(d["power"]),
            None if d.get("diagnostics") is None else Diagnostics.from_dict(d["diagnostics"]),
            list(d.get("warnings") or []),
            d.get("failed_fits"),
            d.get("val_train_ratio"),
            [StrongFeature.from_dict(f) for f in d.get("strong_features") or []],
            harness=None if d.get("harness") is None else [HarnessResult.from_dict(h) for h in d["harness"]],
            interrogation=None if d.get("interrogation") is None else InterrogationResult.from_dict(d["interrogation"]),
            ablations=None if d.get("ablations") is None else [AblationEffect.from_dict(a) for a in d["ablations"]],
            search=None if d.get("search") is None else {k: [dict(c) for c in v] for k, v in d["search"].items()},
            shift=None if d.get("shift") is None else ShiftResult.from_dict(d["shift"]),
        )
