"""The project file: pydantic models of mlproj.yaml and YAML loading with line numbers.

Validation is declared once, here, as in scikit-learn's parameter constraints: the CLI and the
library never re-check what these models already guarantee. Every error names the file, the
line and the field, and says what to do.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlproj.errors import ConfigError
from mlproj.store.files import file_kind, path_problem, read_bounded

DEFAULT_CONFIG = "mlproj.yaml"
# A bound on YAML nodes (counting every alias expansion) so that "billion laughs" files are
# rejected before anything walks them.
MAX_YAML_NODES = 100_000
MAX_YAML_BYTES = 5_000_000
# numpy's seeds are 32-bit: the base seed plus the last repeat's offset must stay below 2**32.
MAX_SEED = 2**32 - 1
# Above about 1.5e10 objects the binomial tails of the power analysis lose their precision (NaN).
MAX_SAMPLE_SIZE = 10**10
# Names of candidates and selections become file names (models/<name>.skops).
MAX_NAME_LENGTH = 64
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"


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
    flag: str | None = Field(default=None, description="Column that is true/1 for a non-detection.")
    sentinel: float | None = Field(default=None, description="Value of the column that marks a non-detection.")
    limit: float | str | None = Field(
        default=None,
        description="The bound: a number (survey depth) or a column; default: the value in the column itself.",
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
            raise ValueError("give exactly one of 'flag' (a column) or 'sentinel' (a value) to mark non-detections")
        if self.sentinel is not None and self.limit is None:
            raise ValueError("with a sentinel, the value is no bound: give 'limit' (a number or a column)")
        return self


class FeatureExclusion(Section):
    exclude: list[str] = Field(
        description="Use every numeric column except these (the label and the columns used by "
        "class definitions are always excluded)."
    )


class DataSection(Section):
    path: str = Field(description="Catalogue file, relative to the project file: .csv, .tsv, .txt, .parquet, .pq, "
                      ".fits, .fit, .fts, .fits.gz (the first table extension), .vot, .votable or .ecsv.")
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


class CandidateSpec(Section):
    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH,
                      description="Short unique name (letters, digits, _ . -; at most 64 characters).")
    estimator: str = Field(description="scikit-learn estimator class name, e.g. HistGradientBoostingClassifier.")
    params: dict[str, Any] = Field(default_factory=dict, description="Estimator parameters.")

    @field_validator("params")
    @classmethod
    def _usable_numbers(cls, value):
        for key, number in _numbers(value):
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError(f"parameter '{key}' is {'NaN' if math.isnan(number) else 'infinite'}; "
                                 "estimators need finite numbers (to mean 'no limit', most take null)")
            if isinstance(number, int) and not -2**63 <= number < 2**63:
                raise ValueError(f"parameter '{key}' = {number} does not fit a 64-bit integer; no estimator can use it")
        return value
    scale: bool = Field(
        default=False, description="Standardise features first (StandardScaler in a pipeline)."
    )


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
    method: Literal["global", "residual", "quantile", "ensemble", "calibrated"] = Field(
        default="global",
        description="Regression σ(x): global = RMS of out-of-fold residuals (always computed, the "
        "baseline); residual = a second model of |residual| on out-of-fold residuals; quantile = "
        "gradient-boosted 15.9%/84.1% quantiles; ensemble = spread of 5 models fitted on parts of "
        "the training fold. Non-global σ are rescaled on the other folds (paper §5.2). "
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
    uncertainty: Uncertainty = Field(
        default_factory=Uncertainty,
        description="How predicted uncertainties are produced (regression; judged by CRPS, NLL, "
        "coverage and the PIT).",
    )
    execution: Execution = Field(default_factory=Execution, description="How fits are run (parallel workers).")


@dataclass(frozen=True)
class LoadedProject:
    """A validated project and where it came from (for messages and relative paths)."""

    project: Project
    path: Path
    lines: dict[tuple, int] = field(default_factory=dict, compare=False)
    # SHA-256 of the file's bytes: an unchanged file needs no parsing to prove an old run current.
    source_sha256: str = field(default="", compare=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    def where(self, *loc: str | int) -> str:
        """`file:line (field)` for a location in the project file."""
        return _where(self.path, self.lines, tuple(loc))

    def resolve(self, relative: str) -> Path:
        """The absolute path; a symlink loop or an over-long name is left for the reader to report."""
        try:
            return (self.root / relative).resolve()
        except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop (Python < 3.13)
            return Path(os.path.abspath(self.root / relative))

    @property
    def config_hash(self) -> str:
        return config_hash(self.project)


def config_hash(project: Project) -> str:
    """Hash of the resolved configuration: comment and formatting edits do not change it."""
    canonical = json.dumps(project.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_project(path: str | Path) -> LoadedProject:
    path = Path(path)
    # Stat before opening: a FIFO would block the open, /dev/zero would be read without end.
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(
            f"project file {path} does not exist",
            hint="run the command in the project folder, pass -c PATH, or create one with `mlproj init`",
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read project file {path}: {path_problem(exc)}",
                          hint="pass the path of the mlproj.yaml file itself with -c") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path} is a folder, not a project file", hint="pass the mlproj.yaml inside it with -c")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"project file {path} is not a regular file but {file_kind(info.st_mode)}",
                          hint="pass the mlproj.yaml file itself with -c; mlproj reads no pipes or devices")
    try:
        raw = read_bounded(path, MAX_YAML_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read project file {path}: {path_problem(exc)}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"project file {path} is larger than {MAX_YAML_BYTES // 1_000_000} MB", hint="a project file is a short YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8") from None
    return parse_project(text, path, source_sha256=hashlib.sha256(raw).hexdigest())


def parse_project(text: str, path: Path, source_sha256: str = "") -> LoadedProject:
    data, lines = _parse_yaml(text, path)
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, path, lines) from None
    loaded = LoadedProject(project=project, path=path.resolve(), lines=lines, source_sha256=source_sha256)
    _check_consistency(loaded)
    return loaded


def _check_consistency(loaded: LoadedProject) -> None:
    """Rules that span sections; each error points at the field to change."""
    from mlproj.science import metrics  # the metric catalogue is cheap: no scikit-learn at import

    project = loaded.project
    task = project.objective.task
    if task == "classification":
        if not project.classes or len(project.classes) < 2:
            raise ConfigError(
                "a classification project needs 'classes' with at least two operational definitions",
                where=loaded.where("classes"),
                hint="e.g. classes: {galaxy: \"class == 'GALAXY'\", other: \"class != 'GALAXY'\"}",
            )
        if project.positive is None:
            raise ConfigError(
                "'positive' is missing",
                where=str(loaded.path),
                hint=f"add `positive:` with the class that rates (completeness, purity, TPR) refer to: one of {', '.join(project.classes)}",
            )
        _check_positive(project.positive, project.classes, loaded, ("positive",))
        for i, selection in enumerate(project.selections):
            _check_positive(selection.positive, project.classes, loaded, ("selections", i, "positive"))
    elif project.classes is not None or project.positive is not None or project.selections or project.objective.hypotheses:
        key = ("classes" if project.classes is not None else "positive" if project.positive is not None
               else "selections" if project.selections else "objective.hypotheses")
        raise ConfigError(
            f"'{key}' applies to classification projects only; this one is a {task}",
            where=loaded.where(key),
            hint="remove it, or set objective.task: classification",
        )
    names = [c.name for c in project.candidates]
    baselines = _baseline_names(project)
    for i, name in enumerate(names):
        if name in names[:i] or name in baselines:
            raise ConfigError(
                f"candidate name '{name}' is already used" + (" by a baseline" if name not in names[:i] else ""),
                where=loaded.where("candidates", i, "name"),
                hint="give every candidate a unique name",
            )
    if not project.candidates and not project.baselines:
        raise ConfigError("there is nothing to run: list at least one baseline or candidate", where=loaded.where("baselines"))
    names = [s.name for s in project.selections]
    positive = project.positive
    main = positive if isinstance(positive, str) else "+".join(positive or []) or project.data.label
    for i, name in enumerate(names):
        if name in names[:i] or name == main:
            raise ConfigError(
                f"selection name '{name}' is used twice" if name in names[:i] else
                f"selection name '{name}' is the name of the main selection (positive: {main})",
                where=loaded.where("selections", i, "name"), hint="give every selection its own name")
    wants_historical = "historical" in project.baselines
    if wants_historical != (project.historical is not None):
        raise ConfigError(
            "the historical baseline needs both 'historical' in baselines and a `historical:` section",
            where=loaded.where("historical" if project.historical is not None else "baselines"),
            hint="e.g. historical: {column: class_star, kind: score, direction: lower} and baselines: [dummy, standard, historical]",
        )
    if project.historical is not None:
        allowed = {"regression": {"value"}, "classification": {"score", "label"}}[task]
        if project.historical.kind not in allowed:
            raise ConfigError(f"historical kind '{project.historical.kind}' does not fit a {task} project",
                              where=loaded.where("historical", "kind"), hint=f"use {' or '.join(sorted(allowed))}")
    if project.data.augment and not (project.data.errors or project.data.limits):
        raise ConfigError("data.augment draws copies from measurement errors and non-detection ranges, but "
                          "data.errors and data.limits are empty",
                          where=loaded.where("data", "augment"), hint="add data.errors: {feature: error_column}")
    method = project.uncertainty.method
    if (method == "calibrated") != (task == "classification") and method != "global":
        raise ConfigError(
            f"uncertainty method '{method}' applies to {'classification' if method == 'calibrated' else 'regression'} "
            "projects",
            where=loaded.where("uncertainty", "method"),
            hint="classification: global (uncalibrated) or calibrated; regression: global, residual, quantile, ensemble")
    if task == "classification" and (project.uncertainty.coverage_68 or project.uncertainty.crps):
        raise ConfigError("coverage and CRPS criteria judge regression uncertainties",
                          where=loaded.where("uncertainty"), hint="use brier or log_loss as a metric instead")
    band = project.uncertainty.coverage_68
    if band and not 0 < band[0] < band[1] < 1:
        raise ConfigError(f"uncertainty.coverage_68 must be a band [low, high] inside (0, 1), got {list(band)}",
                          where=loaded.where("uncertainty", "coverage_68"))
    validation = project.validation
    if validation.seed + validation.repeats - 1 > MAX_SEED:
        raise ConfigError(
            f"validation.seed {validation.seed} with {validation.repeats} repeats gives seeds up to "
            f"{validation.seed + validation.repeats - 1}, beyond numpy's largest seed 2^32 - 1 = {MAX_SEED}",
            where=loaded.where("validation", "seed"),
            hint=f"choose a seed from 0 to {MAX_SEED - validation.repeats + 1} (repeat i uses seed + i)")
    strategy = project.validation.strategy
    needed = {"group": "groups", "time": "order"}.get(strategy)
    if needed and getattr(project.data, needed) is None:
        raise ConfigError(f"validation.strategy '{strategy}' needs data.{needed}",
                          where=loaded.where("validation", "strategy"),
                          hint=f"name the column with data.{needed}: ...")
    metric_sections = [(("metric",), project.metric)] + [
        (("selections", i, "metric"), s.metric) for i, s in enumerate(project.selections)
    ]
    specs = [(loc + ("primary",), section.primary) for loc, section in metric_sections]
    specs += [(loc + ("secondary", i), m) for loc, section in metric_sections for i, m in enumerate(section.secondary)]
    for loc, spec in specs:
        try:
            metrics.metric_info(spec.name, task)
            metrics.validate_params(spec.name, spec.params, task)
        except ConfigError as exc:
            raise ConfigError(exc.message, where=loaded.where(*loc), hint=exc.hint) from None
    finish_lines = [(("finish_line", "threshold"), project.finish_line, project.metric.primary)] + [
        (("selections", i, "finish_line", "threshold"), s.finish_line, s.metric.primary)
        for i, s in enumerate(project.selections)
    ]
    for loc, finish, primary in finish_lines:
        low, high = metrics.BOUNDS[primary.name]
        if not low <= finish.threshold <= high:
            values = f"from {low:g} to {high:g}" if math.isfinite(low) and math.isfinite(high) else (
                f"of at least {low:g}" if math.isfinite(low) else f"of at most {high:g}")
            percent = (low, high) == (0.0, 1.0) and 1 < finish.threshold <= 100
            raise ConfigError(
                f"finish-line threshold {finish.threshold:g} is outside the values {primary.name} can take "
                f"({values}): every model would reach it, or none could",
                where=loaded.where(*loc),
                hint=f"write it as a fraction, e.g. {finish.threshold / 100:g} for {finish.threshold:g}%" if percent
                else f"choose a threshold {values}")


def _parse_yaml(text: str, path: Path) -> tuple[Any, dict[tuple, int]]:
    if "\x00" in text:  # YAML's reader would say "ReaderError", with no line
        raise _unreadable_character(text, text.index("\x00"), 0, path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\x00")
        position = exc.position if 0 <= exc.position < len(text) and ord(text[exc.position]) == code \
            else text.find(chr(code))
        raise _unreadable_character(text, max(position, 0), code, path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"YAML syntax error: {exc.problem}" + (f" ({exc.context})" if exc.context else ""),
            where=f"{path}{line}",
            hint="check indentation and quoting there; expressions with ':' or '#' need quotes",
        ) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"the file cannot be read as YAML ({type(exc).__name__})", where=str(path)) from None
    if root is None:
        raise ConfigError("the project file is empty", where=str(path), hint="start from `mlproj init`")
    lines: dict[tuple, int] = {}
    data = _construct(root, (), lines, path, [0])
    if not isinstance(data, dict):
        raise ConfigError(
            "the project file must be a mapping of sections (name:, objective:, data:, ...)",
            where=f"{path}:{root.start_mark.line + 1}",
        )
    return data, lines


def _unreadable_character(text: str, position: int, code: int, path: Path) -> ConfigError:
    """A character YAML does not allow (NUL, other control characters), named with its line and column."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    if code == 0:
        return ConfigError(f"the file contains a NUL byte (line {line}, column {column}): it is not a text file, "
                           "or it was damaged", where=f"{path}:{line}",
                           hint="open it in a text editor and remove the character, or recreate it with `mlproj init`")
    return ConfigError(f"the file contains the control character U+{code:04X} (line {line}, column {column}), "
                       "which YAML does not allow", where=f"{path}:{line}",
                       hint="remove the character; in a quoted \"text\" write it as an escape such as \\t")


def _construct(node, loc: tuple, lines: dict, path: Path, count: list[int]) -> Any:
    """Build plain Python values from YAML nodes, recording the line of every field."""
    count[0] += 1
    if count[0] > MAX_YAML_NODES or len(loc) > 50:
        raise ConfigError(
            "the YAML document is too large or too deeply nested (aliases expand to more than "
            f"{MAX_YAML_NODES} values)",
            where=str(path),
            hint="a project file needs no anchors or aliases; write the values out",
        )
    lines.setdefault(loc, node.start_mark.line + 1)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
        raise _tag_error(node, path)
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError("keys must be plain names", where=f"{path}:{key_node.start_mark.line + 1}")
            key = _scalar(key_node, path)
            if isinstance(key, str) and "\x00" in key:
                raise ConfigError("a key contains a NUL character (\\0)", where=f"{path}:{key_node.start_mark.line + 1}",
                                  hint="remove the \\0 escape from the key")
            if key == "<<":
                raise ConfigError("YAML merge keys ('<<') are not supported", where=f"{path}:{key_node.start_mark.line + 1}")
            if not isinstance(key, (str, int, float, bool)):
                key = str(key)
            if key in result:
                raise ConfigError(
                    f"key '{key}' appears twice in the same section",
                    where=f"{path}:{key_node.start_mark.line + 1}",
                    hint="YAML would silently keep only the last one; remove one of them",
                )
            lines[loc + (key,)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, loc + (key,), lines, path, count)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loc + (i,), lines, path, count) for i, item in enumerate(node.value)]
    value = _scalar(node, path)
    if isinstance(value, str) and "\x00" in value:  # written as the escape "\0" in a quoted text
        raise ConfigError("the value contains a NUL character (\\0)",
                          where=_where(path, lines, loc),
                          hint="no name, path or expression can contain it; remove the \\0 escape")
    return value


_SCALAR_CONSTRUCTOR = yaml.SafeLoader("")
_PLAIN_TAGS = {f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null")}
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _scalar(node, path: Path) -> Any:
    if node.tag not in _PLAIN_TAGS:
        raise _tag_error(node, path)
    try:
        return _SCALAR_CONSTRUCTOR.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid value ({exc})", where=f"{path}:{node.start_mark.line + 1}") from None


def _tag_error(node, path: Path) -> ConfigError:
    return ConfigError(
        f"YAML tag '{node.tag}' is not allowed",
        where=f"{path}:{node.start_mark.line + 1}",
        hint="project files hold plain values: text, numbers, lists and mappings",
    )


def _baseline_names(project: "Project") -> set[str]:
    """Names the project's baselines take (see mlproj.plan.estimators.model_specs); candidates may not."""
    names = {"dummy"} & set(project.baselines)
    if "standard" in project.baselines:
        names |= {"logistic" if project.objective.task == "classification" else "linear", "random_forest"}
    if "historical" in project.baselines:
        names.add("historical")
    return names


def _check_positive(positive, classes: dict, loaded: LoadedProject, loc: tuple) -> None:
    wanted = [positive] if isinstance(positive, str) else list(positive)
    if not wanted:
        raise ConfigError("the positive class list is empty", where=loaded.where(*loc))
    for name in wanted:
        if name not in classes:
            raise ConfigError(
                f"positive class '{name}' is not one of the classes "
                f"({', '.join(classes)}){_did_you_mean(name, classes)}",
                where=loaded.where(*loc),
            )
    if len(set(wanted)) == len(classes):
        raise ConfigError("every class is positive, so there is nothing to select against",
                          where=loaded.where(*loc), hint="leave at least one class out")


def _where(path: Path, lines: dict[tuple, int], loc: tuple) -> str:
    probe = loc
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe)
    dotted = _dotted(loc)
    return f"{path}:{line} ({dotted})" if line and dotted else (f"{path}:{line}" if line else str(path))


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _config_error(exc: ValidationError, path: Path, lines: dict[tuple, int]) -> ConfigError:
    messages = []
    for error in exc.errors()[:5]:
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part in _UNION_TAGS))
        if error["type"] == "extra_forbidden":
            key = loc[-1]
            allowed = _allowed_keys(loc[:-1])
            text = f"unknown key '{key}'" + (f" in {_dotted(loc[:-1])}" if loc[:-1] else "")
            text += _did_you_mean(key, allowed)
            if allowed:
                text += f" (allowed: {', '.join(allowed)})"
        elif error["type"] == "missing":
            text = f"required field '{_dotted(loc)}' is missing"
            loc = loc[:-1]
        else:
            msg = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {_short(repr(got))})"
            text = f"{_dotted(loc) or 'project'}: {msg}{shown}"
        messages.append(f"{_where(path, lines, loc)}: {text}")
    more = len(exc.errors()) - len(messages)
    if more > 0:
        messages.append(f"and {more} more")
    return ConfigError(
        "invalid project file: " + "; ".join(messages),
        hint="`mlproj schema` prints every allowed field with its description",
    )


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit - 25]}... ({len(text)} characters)"


# pydantic inserts the union member's tag ("list[str]", "FeatureExclusion") into error locations.
_UNION_TAGS = {"list[str]", "FeatureExclusion", "str", "function-before[_flatten(), MetricSpec]"}


def _allowed_keys(loc: tuple) -> list[str]:
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


def json_schema() -> dict:
    schema = Project.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlproj project file (mlproj.yaml)"
    return schema
