"""The schema of mlproj.yaml: pydantic models of every section, and its JSON Schema.

Validation is declared once, here, as in scikit-learn's parameter constraints: the CLI and the
library never re-check what these models already guarantee. Rules that span sections are in
`mlproj.project.rules`; reading the file, with the line of every field, in `mlproj.project.loading`.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

# numpy's seeds are 32-bit: the base seed plus the last repeat's offset must stay below 2**32.
MAX_SEED = 2**32 - 1
# Above about 1.5e10 objects the binomial tails of the power analysis lose their precision (NaN).
MAX_SAMPLE_SIZE = 10**10
# Names of candidates and selections become file names (models/<name>.skops).
MAX_NAME_LENGTH = 64
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
DOTTED_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"  # an import path: module.Class


class Section(BaseModel):
    """Base of every section: unknown keys are errors, not silently ignored; numbers are finite
    (.inf and .nan are no usable span, limit, sentinel or criterion)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Hypotheses(Section):
    sample_size: int = Field(gt=0, le=MAX_SAMPLE_SIZE,
                             description="Number of objects the selection will be applied to (N), at most 10^10.")
    fractions: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        min_length=2,
        description="Hypothesised fractions of the positive class, e.g. [0.01, 0.0001]: can the "
        "selected count tell them apart? (paper §2.2, power analysis)",
    )
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="False-alarm probability of the test.")
    power: float = Field(default=0.8, gt=0, lt=1, description="Required probability of telling them apart.")

    @field_validator("fractions")
    @classmethod
    def _distinct(cls, value):
        if len(set(value)) != len(value):
            raise ValueError("the hypothesised fractions must differ")
        return value


class Objective(Section):
    statement: str = Field(
        description="The SMART objective in words: what the selection is for, and what "
        "performance would close the project."
    )
    task: Literal["classification", "regression"] = Field(
        description="classification (operational classes) or regression (a numeric target)."
    )
    hypotheses: Hypotheses | None = Field(
        default=None,
        description="Optional scientific hypotheses the selection must distinguish (classification).",
    )


class Limit(Section):
    flag: str | None = Field(
        default=None,
        description="What marks a non-detection: a column that is true/1 for one, or a condition on the columns "
        "as written in the catalogue, e.g. \"f < 2 * e\" (the flux is below twice its error).",
    )
    sentinel: float | None = Field(default=None, description="Value of the column that marks a non-detection.")
    bound: float | str | None = Field(
        default=None,
        description="The upper limit (flux) or faint limit (magnitude) of each non-detection: a number (survey "
        "depth), a column, or an expression on the columns, e.g. \"2 * e\"; default: the value in the column itself.",
    )
    limit: float | str | None = Field(
        default=None,
        description="The older name of bound (the same meaning; give one of them).",
    )
    kind: Literal["magnitude", "flux"] = Field(
        default="magnitude",
        description="magnitude: the true value is fainter, i.e. larger than the bound; flux: smaller.",
    )
    span: float = Field(
        default=2.0,
        gt=0,
        description="Width of the range drawn for augmented copies: [bound, bound + span] for magnitudes, "
        "[bound − span, bound] for fluxes (clipped at 0).",
    )

    @model_validator(mode="after")
    def _one_marker(self):
        if (self.flag is None) == (self.sentinel is None):
            raise ValueError("give exactly one of 'flag' (a column or a condition) or 'sentinel' (a value) to mark "
                             "non-detections")
        if self.bound is not None and self.limit is not None:
            raise ValueError("give one of 'bound' and 'limit' (its older name), not both")
        if self.sentinel is not None and self.value is None:
            raise ValueError("with a sentinel, the value is no bound: give 'bound' (a number, a column or an "
                             "expression), or 'limit'")
        return self

    @property
    def value(self) -> float | str | None:
        """The bound, whichever of its two names the project file uses."""
        return self.bound if self.bound is not None else self.limit

    @model_serializer(mode="wrap")
    def _without_unset_bound(self, handler):
        # `bound` came after config hashes and task keys held the limits: left out while unset, a
        # project file written with `limit:` (or neither) keeps its hash and its cached fits.
        dumped = handler(self)
        if isinstance(dumped, dict) and dumped.get("bound") is None:
            dumped.pop("bound", None)
        return dumped


class FeatureExclusion(Section):
    exclude: list[str] = Field(
        description="Use every numeric column except these (the label and the columns used by "
        "class definitions are always excluded)."
    )


class DataSection(Section):
    path: str | list[str] = Field(
        description="Catalogue file, relative to the project file: .csv, .tsv, .txt, .parquet, .pq, .fits, .fit, .fts, "
        ".fits.gz (the first table extension, or data.hdu), .vot, .votable, .ecsv, or ASCII .cat/.dat/.txt (a `#` "
        "header line, `#` comments, whitespace-delimited columns, SExtractor headers). A glob (cats/part-*.csv, "
        "matches sorted by name) or a list of files: concatenated, with a `source` column naming the file.")
    hdu: int | str | None = Field(
        default=None,
        description="The FITS extension to read, by number (1 = the first extension) or name (e.g. CATALOG); "
        "default: the first table extension.")
    test_path: str | list[str] | None = Field(
        default=None,
        description="An external labelled test set (a file, a glob or a list, like data.path) held out instead of "
        "a random split: read with the same classes, sentinels and derived features; the whole of data.path is then "
        "the development set, and validation.test_size must not be set. Needs validation.strategy: stratified.")
    label: str = Field(
        description="Column with the raw class names (classification) or the numeric target "
        "(regression)."
    )
    features: list[str] | FeatureExclusion | None = Field(
        default=None,
        description="Feature columns (list), or {exclude: [...]}; default: every numeric column "
        "except the label.",
    )
    groups: str | None = Field(
        default=None,
        description="Column of group ids (sky field, plate, star cluster) kept together across "
        "splits, so that near-duplicates cannot leak between training and testing.",
    )
    order: str | None = Field(
        default=None,
        description="Column giving time order (e.g. mjd) for validation.strategy: time.",
    )
    errors: dict[str, str] = Field(
        default_factory=dict,
        description="Gaussian measurement errors: feature → column of its 1σ error, e.g. {u: u_err}.",
    )
    augment: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Training copies drawn per object from its Gaussian errors (0 = off). Copies are "
        "made from the training rows of each fold only, so they never straddle a split (paper §5.1).",
    )
    sentinels: dict[str, list[float]] = Field(
        default_factory=dict,
        description='Values that mean "no measurement", per column or "*" for every numeric column, '
        'e.g. {"*": [-99, -9999], Ampl: [-99.99]}; they become missing values before anything else.',
    )
    limits: dict[str, Limit] = Field(
        default_factory=dict,
        description="Non-detections as bounds, per feature, e.g. {u: {flag: u_nodet, kind: magnitude}}: "
        "the value becomes the bound, an indicator feature <column>_nondetection is added, and "
        "augmented copies are drawn between the bound and a floor (paper §5.1, case 2).",
    )
    missing: Literal["native", "impute"] = Field(
        default="native",
        description="native: missing values go to estimators that accept them (others are an error); "
        "impute: median imputation plus a missing-value indicator feature, inside every model.",
    )
    derived: dict[str, str] = Field(
        default_factory=dict,
        description='Derived features, name → safe expression, e.g. {u_g: "u - g"}. Derived '
        "features are added to the feature list.",
    )
    application: str | None = Field(
        default=None,
        description="The application sample (where the model will be used; paper §5.5): a catalogue with the same "
        "columns minus the label, relative to the project file, read with the same sentinels, limits and derived "
        "features. Needed by `shift`; `mlproj run` also writes its predictions (application_predictions.csv).",
    )
    allowed_strong_features: list[str] = Field(
        default_factory=list,
        description="Features that alone (almost) perfectly separate the classes or predict the target, "
        "acknowledged as genuine physics, not a label leak (single-feature AUC >= 0.999 or a function of the "
        "label): the criterion no_label_leak does not fail for them. Each must be a feature.",
    )

    @field_validator("path", "test_path")
    @classmethod
    def _paths_not_empty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("the list of catalogue files is empty")
        if isinstance(value, list) and len(set(value)) != len(value):
            raise ValueError(f"listed twice: {', '.join(sorted({v for v in value if value.count(v) > 1}))}")
        return value

    @field_validator("allowed_strong_features")
    @classmethod
    def _allowed_once(cls, value):
        if len(set(value)) != len(value):
            raise ValueError(f"listed twice: {', '.join(sorted({v for v in value if value.count(v) > 1}))}")
        return value

    @field_validator("features")
    @classmethod
    def _features_not_empty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("the feature list is empty; list columns, or omit 'features' to use all")
        if isinstance(value, list) and len(set(value)) != len(value):
            dupes = sorted({v for v in value if value.count(v) > 1})
            raise ValueError(f"features listed twice: {', '.join(dupes)}")
        return value


class MetricSpec(Section):
    name: str = Field(description="Metric name, e.g. tpr_at_fpr, roc_auc, rmse, sigma_nmad.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Metric parameters, written next to the name, e.g. {name: tpr_at_fpr, fpr: 0.01}.",
    )

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value):
        # Users write `roc_auc` or `{name: tpr_at_fpr, fpr: 0.01}`; parameters sit beside the name.
        if isinstance(value, str):
            return {"name": value, "params": {}}
        if isinstance(value, dict) and "params" not in value and "name" in value:
            rest = {k: v for k, v in value.items() if k != "name"}
            return {"name": value["name"], "params": rest}
        return value

    def label(self) -> str:
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({inner})"


class MetricSection(Section):
    primary: MetricSpec = Field(description="The performance measure the finish line applies to.")
    secondary: list[MetricSpec] = Field(
        default_factory=list, description="Further metrics, reported but not judged."
    )


class FinishLine(Section):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    threshold: float = Field(description="Value of the primary metric that closes the project.")
    margin: float = Field(
        default=0.0,
        ge=0,
        description="Equivalence margin δ in metric units: differences smaller than this are "
        "negligible (paper §4.5).",
    )


class Validation(Section):
    test_size: float = Field(
        default=0.2,
        gt=0,
        lt=0.9,
        description="Fraction held out as the test set, evaluated once for the selected model.",
    )
    folds: int = Field(default=5, ge=2, le=100, description="K of the repeated K-fold.")
    repeats: int = Field(
        default=3, ge=1, le=100, description="Repeats of K-fold; repeat i uses seed + i."
    )
    strategy: Literal["stratified", "group", "time"] = Field(
        default="stratified",
        description="stratified: shuffled (stratified for classes) K-fold; group: whole groups "
        "(data.groups) per fold and in the test set; time: the test set is the latest observations "
        "(data.order) and folds predict forward in time.",
    )
    seed: int = Field(default=0, ge=0, le=MAX_SEED,
                      description="Base random seed, from 0 to 2^32 - 1 - (repeats - 1) (numpy's seeds are 32-bit).")
    confidence: float = Field(
        default=0.90,
        gt=0.5,
        lt=1,
        description="Confidence of the reported intervals (two-sided).",
    )


class PipelineStep(Section):
    """One step of a scikit-learn Pipeline candidate (`estimator: Pipeline`)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                             description="Step name, for `<step>__<param>` in the candidate's params, variants and "
                             "search (default: the class name in lower case, e.g. standardscaler).")
    estimator: str = Field(description="A scikit-learn transformer (preprocessing, decomposition, feature_selection, "
                           "impute, kernel_approximation, random_projection) buildable without arguments, e.g. "
                           "StandardScaler or PCA; the last step an estimator of the task (or an allow_imports path).")
    params: dict[str, Any] = Field(default_factory=dict, description="The step's parameters.")

    @field_validator("name")
    @classmethod
    def _no_double_underscore(cls, value):
        if value is not None and "__" in value:
            raise ValueError("a step name cannot contain '__' (it separates step and parameter names)")
        return value

    @field_validator("params")
    @classmethod
    def _usable_numbers(cls, value):
        return _finite_params(value)


class CandidateSpec(Section):
    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                      description="Short unique name (letters, digits, _ . -; at most 64 characters).")
    estimator: str = Field(description="scikit-learn estimator class name, e.g. HistGradientBoostingClassifier, "
                           "or the import path of a third-party one listed in allow_imports, e.g. "
                           "xgboost.XGBClassifier.")
    params: dict[str, Any] = Field(default_factory=dict, description="Estimator parameters.")

    @field_validator("params")
    @classmethod
    def _usable_numbers(cls, value):
        return _finite_params(value)
    scale: bool = Field(
        default=False, description="Standardise features first (StandardScaler in a pipeline)."
    )
    steps: list[PipelineStep] | None = Field(
        default=None, min_length=1, max_length=20,
        description="estimator: Pipeline only: its steps in order, e.g. [{estimator: StandardScaler}, {estimator: PCA, "
        "params: {n_components: 3}}, {estimator: LogisticRegression}]; then params, variants and search name "
        "`<step>__<param>`.",
    )
    variants: dict[Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)], dict[str, Any]] = Field(
        default_factory=dict,
        description="Model ablations (paper §6.1): variant name → parameter changes over `params`, e.g. "
        "{shallow: {max_depth: 3}}. Each is fitted on the same folds as the candidate (as '<name>.<variant>') "
        "and compared with it using the margin; when equivalent, selection prefers the variant with fewer "
        "settings (a simpler sub-model: fewer or shallower trees, fewer leaves, more regularisation).",
    )

    @field_validator("variants")
    @classmethod
    def _usable_variant_numbers(cls, value):
        for changes in value.values():
            _finite_params(changes)
        return value

    search: dict[str, Annotated[list[Any], Field(min_length=1, max_length=1000)]] = Field(
        default_factory=dict,
        description="Tune parameters inside each training fold (nested: scikit-learn's GridSearchCV on the "
        "training rows only, so the outer scores stay honest), parameter → values to try, e.g. "
        "{max_leaf_nodes: [15, 31, 63]}. The report shows the values chosen in each fold.",
    )
    search_folds: int = Field(default=3, ge=2, le=20, description="Inner folds of `search`.")
    search_iterations: int | None = Field(
        default=None, ge=1, le=10_000,
        description="Try this many random combinations of `search` (RandomizedSearchCV) instead of all of them.",
    )

    @field_validator("search")
    @classmethod
    def _usable_search_numbers(cls, value):
        return _finite_params(value)


class Execution(Section):
    n_jobs: int = Field(
        default=-1, ge=-4096, le=4096,
        description="Parallel tasks: -1 = all cores, 1 = sequential (override with -j); from -4096 to 4096."
    )
    backend: Literal["local", "dask"] = Field(
        default="local",
        description="local: this machine (see workers); dask: a dask.distributed cluster "
        "(pip install 'mlproj[dask]'), e.g. one started by dask-jobqueue on Slurm.",
    )
    scheduler: str | None = Field(
        default=None, description="Address of the dask scheduler, e.g. tcp://10.0.0.5:8786 (backend: dask)."
    )
    workers: Literal["threads", "processes"] = Field(
        default="threads",
        description="How the local backend runs parallel fits. threads: in this process, sharing the "
        "catalogue in memory with no copies and no start-up (scikit-learn fits run in compiled code "
        "that releases the GIL); processes: joblib worker processes with the arrays memory-mapped, for "
        "estimators that hold the GIL.",
    )

    @field_validator("n_jobs")
    @classmethod
    def _nonzero(cls, value):
        if value == 0:
            raise ValueError("n_jobs must be a positive number of workers, or negative to count back from all "
                             "cores (-1: all, -2: all but one)")
        return value


def _finite_params(value: dict) -> dict:
    """Estimator parameters are finite numbers that fit 64 bits (pydantic checks floats of the
    schema's own fields only, not values inside a free mapping)."""
    for key, number in _numbers(value):
        if isinstance(number, float) and not math.isfinite(number):
            raise ValueError(f"parameter '{key}' is {'NaN' if math.isnan(number) else 'infinite'}; "
                             "estimators need finite numbers (to mean 'no limit', most take null)")
        if isinstance(number, int) and not -2**63 <= number < 2**63:
            raise ValueError(f"parameter '{key}' = {number} does not fit a 64-bit integer; no estimator can use it")
    return value


def _numbers(value, key: str = "") -> typing.Iterator[tuple[str, Any]]:
    """(dotted key, number) for every number inside estimator parameters (lists and mappings too)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _numbers(v, f"{key}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


BaselineName = Literal["dummy", "standard", "historical"]


class Historical(Section):
    column: str = Field(description="Catalogue column with the classical method's output.")
    kind: Literal["score", "label", "value"] = Field(
        description="score: a number ranking objects as positive; label: the class it assigned "
        "(raw values, read with the class definitions); value: its regression estimate.",
    )
    direction: Literal["higher", "lower"] = Field(
        default="higher",
        description="For kind: score, whether higher or lower values mean 'positive' "
        "(e.g. lower for a stellarity index when selecting galaxies).",
    )


class Uncertainty(Section):
    method: Literal["global", "residual", "quantile", "ensemble", "conformal", "calibrated"] = Field(
        default="global",
        description="Regression σ(x): global = RMS of out-of-fold residuals (always computed, the "
        "baseline); residual = a second model of |residual| on out-of-fold residuals; quantile = "
        "gradient-boosted 15.9%/84.1% quantiles; ensemble = predictive σ of 5 models fitted on parts "
        "of the training fold (their spread plus the noise seen in their held-out residuals); "
        "residual, quantile and ensemble are rescaled on the other folds (paper §5.2). conformal = "
        "MAPIE split-conformal 68.27%/95% intervals fitted inside each training fold (marginal "
        "coverage guaranteed; σ-equivalent = 95% half-width / 1.96, never rescaled). Each is compared "
        "with the global σ on CRPS and NLL. "
        "Classification: calibrated = probabilities calibrated with CalibratedClassifierCV.",
    )
    calibration: Literal["isotonic", "sigmoid"] = Field(
        default="isotonic", description="Calibration map for method: calibrated (classification)."
    )
    coverage_68: tuple[float, float] | None = Field(
        default=None,
        description="Optional criterion: the 68% intervals' coverage must lie in this band, e.g. [0.63, 0.73].",
    )
    crps: float | None = Field(default=None, gt=0, description="Optional criterion: CRPS must be below this value.")


class SelectionSpec(Section):
    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                      description="Name of this science case (letters, digits, _ . -; at most 64 characters).")
    positive: str | list[str] = Field(
        description="Class (or list of classes, merged) this selection wants, e.g. qso or [star, qso]."
    )
    metric: MetricSection = Field(description="Performance measure of this selection.")
    finish_line: FinishLine = Field(description="Finish line of this selection.")
    required: bool = Field(default=True, description="Whether the overall verdict needs this selection to pass.")


class ReportSettings(Section):
    figures: bool = Field(default=True, description="Draw the figures (PNG and PDF in figures/, embedded in "
                          "report.html); false for a quicker run (MLPROJ_FIGURES=off does the same).")
    latex: bool = Field(default=False, description="Also write the comparison table as a LaTeX fragment "
                        "(comparison.tex; `mlproj report --latex` does it once).")
    metrics_file: str | None = Field(default=None, description="Copy metrics.json (flat, numbers only) to this "
                                     "path, relative to the project file, e.g. metrics.json, for `dvc metrics "
                                     "show/diff` and CI dashboards that read one fixed file.")
    corner_features: list[str] | None = Field(default=None, min_length=2, description="Features of the corner "
                                              "plot (default: the first 6).")


class Ablations(Section):
    """Feature ablations (paper §6.1): each is fitted on the same folds as the full model and
    decided with the margin — equivalent means the information removed is not needed."""

    features: Literal["each"] | list[str] | None = Field(
        default=None,
        description="'each': drop one feature at a time; or a list of the features to drop one at a time. "
        "Derived features computed from a dropped column go with it.",
    )
    groups: dict[Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)], list[str]] = Field(
        default_factory=dict, description="Named groups of features to drop together, e.g. {colours: [u_g, g_r]}.",
    )
    replace: dict[str, Literal["mean", "median"]] = Field(
        default_factory=dict,
        description="Simplify the input space: a group (or feature) → its training-fold mean or median, "
        "e.g. {colours: mean}; the columns stay, their information goes.",
    )
    keep_only: list[str] | dict[Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)], list[str]] | None = Field(
        default=None,
        description="Keep only these features (a list), or several named such sets (a mapping).",
    )
    models: list[str] | None = Field(
        default=None, description="The candidates to ablate (default: every candidate).",
    )


class HarnessCheck(Section):
    """One declared check on the trained model (paper §2.4): each is a verdict criterion."""

    kind: Literal["invariance", "cases", "hybrid"] = Field(
        description="invariance: perturbed inputs must give the same predictions; cases: a table of "
        "hand-crafted inputs with the expected output; hybrid: combinations of two objects of a class "
        "must stay in that class.",
    )
    name: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                             description="Name of the criterion (default: derived from kind and settings).")
    perturb: dict[str, Any] = Field(
        default_factory=dict,
        description="invariance: {noise: errors} (Gaussian noise at the size of data.errors), {noise: 0.05} "
        "(that standard deviation on every perturbed feature), or {permute: [columns]} (columns shuffled "
        "across objects).",
    )
    features: list[str] | None = Field(default=None, description="invariance: the features perturbed (default: all "
                                       "that have errors, or all measured, i.e. not derived, features); hybrid: the "
                                       "features combined as `fluxes` says (default: every measured feature; the "
                                       "others take the mean of the two objects).")
    tolerance: float = Field(
        default=0.01, ge=0,
        description="invariance: the largest allowed fraction of changed class predictions (classification) "
        "or median |change| of the prediction (regression).",
    )
    path: str | None = Field(default=None, description="cases: CSV of inputs (feature columns) and the "
                             "expected output, relative to the project file.")
    expect: str | None = Field(
        default=None,
        description="cases: the column with the expected class (classification; default: expect), or the "
        "expected class's name for hybrid; regression cases use columns `<expect>_min` and `<expect>_max` (an "
        "empty cell or a missing column is an open end).",
    )
    combine: list[str] | None = Field(default=None, min_length=2, max_length=2,
                                      description="hybrid: the two classes whose objects are combined.")
    fluxes: Literal["magnitude", "flux", "mean"] = Field(
        default="mean",
        description="hybrid: how two objects' raw feature columns combine: magnitudes as summed fluxes, "
        "fluxes summed, or their mean; derived features are recomputed.",
    )
    pairs: int = Field(default=200, ge=1, le=100_000, description="hybrid: number of combined pairs.")
    min_fraction: float | None = Field(default=None, gt=0, le=1,
                                       description="cases/hybrid: the fraction that must give the expected output "
                                       "(default: 1 for cases, each hand-crafted input is a requirement; 0.9 for "
                                       "hybrid).")


class Interrogation(Section):
    """Questions to the selected model (paper §6.1.3), answered in the report."""

    sensitivity: list[str] = Field(
        default_factory=list,
        description="Features varied over their observed range, the others at their median (sensitivity curves).",
    )
    by: str | None = Field(default=None, description="A second feature held at its 10/50/90% quantiles in "
                           "each sensitivity curve.")
    bins: list[str] = Field(default_factory=list, description="Features whose quantile bins each get the primary "
                            "metric with its interval (\"how faint can we go?\").")
    n_bins: int = Field(default=5, ge=2, le=50, description="Number of quantile bins.")
    worst: int = Field(default=10, ge=0, le=1000, description="How many of the most confidently wrong objects "
                       "(largest residuals) to list beside the correctly handled population.")


class Shift(Section):
    """Covariate shift between the labelled catalogue and data.application (paper §5.5, DESIGN §6)."""

    method: Literal["weights", "strata"] = Field(
        default="weights",
        description="weights: the primary metric weighted by importance weights w = p/(1-p) * n_dev/n_app of a "
        "domain classifier (labelled vs application, out of fold); strata: the metric in quintiles of the "
        "application sample's domain score, combined with the application's share of each quintile.",
    )
    required: bool = Field(
        default=False,
        description="If true, the criterion finish_line_on_application requires the metric expected on the "
        "application sample to reach the finish line (its interval, with the same margin rule).",
    )


class Project(Section):
    name: str = Field(description="Project name, used in reports.")
    objective: Objective = Field(description="What the project is for (paper §2): the SMART objective and the kind of task.")
    data: DataSection = Field(description="The labelled catalogue: file, label column, features and derived features.")
    classes: dict[str, str] | None = Field(
        default=None,
        description="Operational class definitions, class name → expression on the raw table, "
        "e.g. {galaxy: \"class == 'GALAXY'\", other: \"class in ['STAR', 'QSO']\"}. Rows matching "
        "no class are dropped and counted; rows matching two are an error.",
    )
    positive: str | list[str] | None = Field(
        default=None,
        description="The class (or list of classes, merged) that rate metrics (completeness, purity, "
        "TPR) refer to.",
    )
    metric: MetricSection = Field(description="The performance measure derived from the objective (primary) and further reported ones.")
    finish_line: FinishLine = Field(description="The primary-metric value that closes the project, and the margin of negligible differences.")
    validation: Validation = Field(
        default_factory=Validation,
        description="Held-out test set and repeated K-fold cross-validation (paper §4.4, §5.6).",
    )
    baselines: list[BaselineName] = Field(
        default_factory=lambda: ["dummy", "standard"],
        description="dummy: uninformative predictions; standard: logistic/linear regression "
        "(scaled) and a default random forest.",
    )
    historical: Historical | None = Field(
        default=None,
        description="The classical method's output in the catalogue, scored on the same folds as "
        "every model (add 'historical' to baselines).",
    )
    selections: list[SelectionSpec] = Field(
        default_factory=list,
        description="Further science cases judged on the same fits, each with its own positive "
        "class, metric and finish line (paper §2.3.1: pure galaxies for one group, complete "
        "quasars for another).",
    )
    candidates: list[CandidateSpec] = Field(default_factory=list, description="Models to try.")
    allow_imports: list[Annotated[str, Field(pattern=DOTTED_PATTERN)]] = Field(
        default_factory=list,
        description="Exact import paths of third-party scikit-learn-compatible estimators a candidate may "
        "name, e.g. [xgboost.XGBClassifier, lightgbm.LGBMClassifier] (pip install \"mlproj[boosting]\").",
    )
    ablations: Ablations | None = Field(default=None, description="Feature ablations (paper §6.1).")
    harness: list[HarnessCheck] = Field(default_factory=list,
                                        description="Test harness (paper §2.4): checks on the trained model.")
    interrogate: Interrogation | None = Field(default=None, description="Interrogate the selected model "
                                              "(paper §6.1.3): sensitivity curves, metric in bins, worst objects.")
    shift: Shift | None = Field(default=None, description="Covariate shift (paper §5.5): a domain classifier "
                                "between the labelled catalogue and data.application, weights, and the metric "
                                "expected on the application sample; needs data.application.")
    uncertainty: Uncertainty = Field(
        default_factory=Uncertainty,
        description="How predicted uncertainties are produced (regression; judged by CRPS, NLL, "
        "coverage and the PIT).",
    )
    execution: Execution = Field(default_factory=Execution, description="How fits are run (parallel workers).")
    report: ReportSettings = Field(default_factory=ReportSettings,
                                   description="What the run's report holds (report.html, report.md, figures/); "
                                   "it changes no number, so editing it does not make a run stale.")


def did_you_mean(word: str, options) -> str:
    """"; did you mean 'x'?" for the closest of `options`, or nothing."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def allowed_keys(loc: tuple) -> list[str]:
    """Field names of the section at `loc`, found by walking the model annotations."""
    current: Any = Project
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return []
    current = _unwrap(current, None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any, part: str | int | None) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0], part)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            found = _unwrap(arg, part)
            if found is not None:
                return found
        return None
    if part is None:
        return annotation
    if isinstance(part, int) and origin is list:
        return typing.get_args(annotation)[0]
    if isinstance(part, str) and origin is dict:
        return typing.get_args(annotation)[1]
    if isinstance(part, str) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(part)
        return info.annotation if info else None
    return None



def json_schema(estimators: typing.Mapping[str, typing.Iterable[str]] | None = None) -> dict:
    """The JSON Schema of the project file, for editors and CI validation.

    pydantic describes the parsed models; two fields are written differently in the file, so
    their schemas are replaced: a metric is its name (`roc_auc`) or a mapping with its parameters
    beside the name (`{name: tpr_at_fpr, fpr: 0.01}`), one branch per metric so that editors
    offer its parameters; `estimators` (task → names, the allow-list of the installed
    scikit-learn, mlproj.plan.estimators) makes a candidate's estimator an enum.
    """
    schema = Project.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlproj project file (mlproj.yaml)"
    definitions = schema["$defs"]
    definitions["MetricSpec"] = _metric_schema(definitions["MetricSpec"].get("description"))
    if estimators is not None:
        names = sorted({name for group in estimators.values() for name in group})
        estimator = definitions["CandidateSpec"]["properties"]["estimator"]
        description = estimator.pop("description", None)
        definitions["CandidateSpec"]["properties"]["estimator"] = {
            "description": description, "title": estimator.get("title", "Estimator"),
            "anyOf": [{"type": "string", "enum": names},
                      {"type": "string", "pattern": DOTTED_PATTERN,
                       "description": "An import path listed in allow_imports."}]}
    return schema


def _metric_schema(description: str | None) -> dict:
    from mlproj.science.metrics import METRICS

    names = list(METRICS)
    branches: list[dict] = [{"type": "string", "enum": names, "description": "A metric with its default parameters."}]
    for name, info in METRICS.items():
        params = {param: {"type": "boolean" if isinstance(default, bool) else "number", "default": default}
                  for param, default in info.params.items()}
        branches.append({"type": "object", "title": name, "description": f"{info.description} ({info.task}).",
                         "properties": {"name": {"const": name}, **params},
                         "required": ["name"], "additionalProperties": False})
    branches.append({"type": "object", "description": "The name and its parameters as a mapping.",
                     "properties": {"name": {"enum": names}, "params": {"type": "object"}},
                     "required": ["name", "params"], "additionalProperties": False})
    metric = {"anyOf": branches}
    if description:
        metric["description"] = description
    return metric
