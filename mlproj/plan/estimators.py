"""Estimator registry: the allow-list, the baselines, and how simple each model is.

Model *specifications* are plain data (no scikit-learn import) so that plans can be compiled and
hashed cheaply; `build_estimator` turns a specification into a fresh scikit-learn object.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from mlproj.errors import ConfigError
from mlproj.project.loading import LoadedProject
from mlproj.project.schema import Project

# Paper §4.5: given equal performance prefer the simpler model,
# linear/logistic < tree ensembles < everything else (the dummy is simplest of all).
SIMPLICITY = {"dummy": 0, "linear": 1, "trees": 2, "other": 3}
HISTORICAL = "historical"  # not an estimator: the catalogue's own column, nothing is fitted
_LINEAR_MODULES = ("sklearn.linear_model", "sklearn.discriminant_analysis", "sklearn.naive_bayes")
# Gradient-boosted trees of XGBoost, LightGBM and CatBoost are tree ensembles too.
_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "xgboost.", "lightgbm.", "catboost.")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the plan: a name, an estimator class name and its parameters."""

    name: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    scale: bool = False
    impute: bool = False  # median imputation + missing indicator before the estimator
    augment: int = 0  # Gaussian copies per training object drawn from the measurement errors
    uncertainty: str = "global"  # regression σ(x) method: global, residual, quantile or ensemble
    calibration: str | None = None  # classification: "isotonic" or "sigmoid" CalibratedClassifierCV
    role: str = "candidate"  # "baseline" | "candidate"
    simplicity: int = SIMPLICITY["other"]
    config_index: int | None = None  # position under `candidates:` for error messages
    # estimator: Pipeline: its steps in order, each {"name", "estimator", "params"}
    steps: tuple[dict, ...] | None = None
    # Nested tuning inside each training fold (mlproj.execute.search): {"grid", "folds",
    # "iterations", "scoring"}; None: the parameters as written.
    search: dict | None = None
    parent: str | None = None  # a variant (`<parent>.<variant>`): the candidate whose params it changes
    changes: dict | None = None  # ... and the parameters it changes
    # A variant against its parent (DESIGN §6 "variants with fewer settings"): -1 a simpler
    # sub-model (fewer or shallower trees, more regularisation), +1 a larger one, 0 neither.
    settings: int = 0
    imports: tuple[str, ...] = ()  # the allow_imports paths it uses (its estimator, its steps)

    def identity(self) -> dict:
        """What determines the fitted model (part of every task key)."""
        identity = {"estimator": self.estimator, "params": self.params, "scale": self.scale}
        if self.estimator == "UninformativeClassifier":
            # Its predictions changed (the tie-breaker belongs to each object): older fits are stale.
            identity["tie_breaker"] = UNINFORMATIVE_TIE_BREAKER
        # Only when set, so that existing cache keys stay valid.
        if self.impute:
            identity["impute"] = True
        if self.augment:
            # Copies recompute derived features from their drawn values (older fits did not); what
            # is recomputed follows from data.derived and data.errors, which every key holds.
            identity["augment"] = {"copies": self.augment, "derived": "recomputed per copy"}
        if self.uncertainty != "global":
            identity["uncertainty"] = self.uncertainty
        if self.calibration:
            identity["calibration"] = self.calibration
        if self.steps is not None:
            identity["steps"] = [dict(step) for step in self.steps]
        if self.search:
            identity["search"] = self.search
        if self.imports:
            # What mlproj sets on a third-party estimator unless params do (one thread, quiet).
            identity["third_party_defaults"] = {path: third_party_defaults(path) for path in self.imports}
        return identity


def model_specs(project: Project) -> list[ModelSpec]:
    """Baselines first (dummy, then standard), then candidates, in the order written."""
    classification = project.objective.task == "classification"
    specs: list[ModelSpec] = []
    if "dummy" in project.baselines:
        specs.append(
            ModelSpec("dummy", "UninformativeClassifier" if classification else "DummyRegressor",
                      {} if classification else {"strategy": "median"}, role="baseline", simplicity=0)
        )
    if "standard" in project.baselines:
        if classification:
            specs.append(ModelSpec("logistic", "LogisticRegression", {"max_iter": 1000}, scale=True,
                                   role="baseline", simplicity=1))
            specs.append(ModelSpec("random_forest", "RandomForestClassifier", {}, role="baseline", simplicity=2))
        else:
            specs.append(ModelSpec("linear", "LinearRegression", {}, scale=True, role="baseline", simplicity=1))
            specs.append(ModelSpec("random_forest", "RandomForestRegressor", {}, role="baseline", simplicity=2))
    if "historical" in project.baselines and project.historical is not None:
        specs.append(ModelSpec("historical", HISTORICAL, project.historical.model_dump(), role="baseline",
                               simplicity=SIMPLICITY["dummy"]))
    for index in range(len(project.candidates)):
        specs.extend(candidate_specs(project, index))
    fitted = {"impute": project.data.missing == "impute", "augment": project.data.augment}
    if not classification:
        fitted["uncertainty"] = project.uncertainty.method
    elif project.uncertainty.method == "calibrated":
        fitted["calibration"] = project.uncertainty.calibration
    return [dataclasses.replace(s, **fitted) if s.estimator != HISTORICAL and s.name != "dummy" else s
            for s in specs]


PIPELINE = "Pipeline"


def candidate_specs(project: Project, index: int) -> list[ModelSpec]:
    """A candidate and its variants (`<name>.<variant>`: the candidate's params updated with the
    variant's, fitted on the same folds). A variant keeps the candidate's search, less the
    parameters it sets itself."""
    candidate = project.candidates[index]
    imports = tuple(dict.fromkeys(name for name in [candidate.estimator, *(s.estimator for s in candidate.steps or ())]
                                  if is_import_path(name)))
    base = ModelSpec(candidate.name, candidate.estimator, dict(sorted(candidate.params.items())),
                     scale=candidate.scale, role="candidate", config_index=index,
                     steps=pipeline_steps(candidate.steps) if candidate.steps is not None else None,
                     search=_search(project, candidate, candidate.search), imports=imports)
    specs = [base]
    for variant, changes in candidate.variants.items():
        params = dict(sorted({**candidate.params, **changes}.items()))
        grid = {k: v for k, v in candidate.search.items() if k not in changes}
        specs.append(dataclasses.replace(base, name=f"{candidate.name}.{variant}", params=params,
                                         search=_search(project, candidate, grid), parent=candidate.name,
                                         changes=dict(sorted(changes.items()))))
    return specs


def is_import_path(name: str) -> bool:
    """A dotted path (`xgboost.XGBClassifier`): imported only when listed in allow_imports."""
    return "." in name


def pipeline_steps(steps) -> tuple[dict, ...]:
    """The steps of a Pipeline candidate with their names: as given, or the class name in lower
    case (scikit-learn's make_pipeline), numbered where two would be the same."""
    names = [step.name or step.estimator.rsplit(".", 1)[-1].lower() for step in steps]
    given = [step.name is not None for step in steps]
    counts = {name: names.count(name) for name in names}
    seen: dict[str, int] = {}
    out = []
    for step, name, explicit in zip(steps, names, given):
        if counts[name] > 1 and not explicit:
            seen[name] = seen.get(name, 0) + 1
            name = f"{name}-{seen[name]}"
        out.append({"name": name, "estimator": step.estimator, "params": dict(sorted(step.params.items()))})
    return tuple(out)


def _search(project: Project, candidate, grid: dict) -> dict | None:
    """The nested search of a candidate (None without parameters to tune): grid, inner folds,
    random iterations and how the inner folds are scored (the project's primary metric)."""
    if not grid:
        return None
    from mlproj.science import metrics

    primary = project.metric.primary
    task = project.objective.task
    classes = list(project.classes or {})
    positive = project.positive
    positives = sorted(classes.index(p) for p in ([positive] if isinstance(positive, str) else positive or [])
                       if p in classes)
    scoring = {"metric": primary.name, "params": metrics.validate_params(primary.name, primary.params, task),
               "positives": positives, "greater_is_better": metrics.METRICS[primary.name].greater_is_better}
    return {"grid": {k: list(v) for k, v in sorted(grid.items())}, "folds": candidate.search_folds,
            "iterations": candidate.search_iterations, "scoring": scoring}


# What mlproj sets on third-party estimators unless the project's params do: one thread per fit
# (mlproj runs fits in parallel, and their numbers may depend on the thread count), no console
# chatter (it would drown the progress bar), and no files written beside the project.
_THIRD_PARTY_DEFAULTS = {
    "xgboost": {"n_jobs": 1, "verbosity": 0},
    "lightgbm": {"n_jobs": 1, "verbose": -1},
    "catboost": {"thread_count": 1, "verbose": False, "allow_writing_files": False},
}
# Names a project file may try without their import path, and the path to write.
THIRD_PARTY_PATHS = {
    "XGBClassifier": "xgboost.XGBClassifier", "XGBRegressor": "xgboost.XGBRegressor",
    "LGBMClassifier": "lightgbm.LGBMClassifier", "LGBMRegressor": "lightgbm.LGBMRegressor",
    "CatBoostClassifier": "catboost.CatBoostClassifier", "CatBoostRegressor": "catboost.CatBoostRegressor",
}
BOOSTING_EXTRA = 'pip install "mlproj[boosting]"'


def third_party_defaults(path: str) -> dict:
    return dict(_THIRD_PARTY_DEFAULTS.get(path.split(".", 1)[0], {}))


@lru_cache(maxsize=2)
def allowed_estimators(task: str) -> dict[str, type]:
    """scikit-learn estimators of the task that can be built from YAML values alone.

    Meta-estimators that need another estimator object as a required argument are excluded:
    a project file cannot name Python objects.
    """
    from sklearn.utils.discovery import all_estimators

    kind = "classifier" if task == "classification" else "regressor"
    allowed = {name: cls for name, cls in all_estimators(type_filter=kind) if _buildable(cls)}
    if task == "classification":
        allowed["UninformativeClassifier"] = _uninformative_classifier()
    return allowed


# Where scikit-learn keeps its estimators, most used first: looking a name up here imports one or
# two modules instead of all of scikit-learn (which `allowed_estimators` needs, ~1 s).
_SKLEARN_MODULES = ("ensemble", "linear_model", "tree", "neighbors", "svm", "naive_bayes", "dummy",
                    "discriminant_analysis", "neural_network", "gaussian_process", "kernel_ridge",
                    "isotonic", "cross_decomposition", "semi_supervised", "calibration")


def estimator_class(name: str, task: str) -> type | None:
    """The allowed estimator class called `name` for the task, or None (then see allowed_estimators)."""
    import importlib

    if name == "UninformativeClassifier":
        return _uninformative_classifier() if task == "classification" else None
    from sklearn.base import ClassifierMixin, RegressorMixin

    mixin = ClassifierMixin if task == "classification" else RegressorMixin
    for module in _SKLEARN_MODULES:
        cls = getattr(importlib.import_module(f"sklearn.{module}"), name, None)
        if isinstance(cls, type):
            return cls if issubclass(cls, mixin) and _buildable(cls) else None
    return None


def _buildable(cls: type) -> bool:
    """No required constructor argument: a project file cannot name Python objects."""
    signature = inspect.signature(cls.__init__)
    return not [p for p in signature.parameters.values()
                if p.name != "self" and p.default is inspect.Parameter.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


# Trivial baselines whose predictions do not depend on the features.
FEATURE_BLIND = frozenset({"UninformativeClassifier", "DummyClassifier", "DummyRegressor"})


def ignores_features(spec: ModelSpec) -> bool:
    return spec.estimator in FEATURE_BLIND


# Where a module's family misleads: linear support-vector machines are linear models, and a
# quadratic discriminant is not.
_SIMPLICITY_OF_CLASS = {"LinearSVC": SIMPLICITY["linear"], "LinearSVR": SIMPLICITY["linear"],
                        "QuadraticDiscriminantAnalysis": SIMPLICITY["other"]}


def simplicity_of(estimator_class: type) -> int:
    if estimator_class.__name__ in _SIMPLICITY_OF_CLASS:
        return _SIMPLICITY_OF_CLASS[estimator_class.__name__]
    module = estimator_class.__module__
    if module.startswith(_LINEAR_MODULES):
        return SIMPLICITY["linear"]
    if module.startswith(_TREE_MODULES):
        return SIMPLICITY["trees"]
    if module.startswith("sklearn.dummy") or estimator_class.__name__ == "UninformativeClassifier":
        return SIMPLICITY["dummy"]
    return SIMPLICITY["other"]


def resolve_specs(loaded: LoadedProject) -> list[ModelSpec]:
    """Model specs with every estimator checked against the allow-list and its parameters.

    Raises ConfigError pointing at the candidate's line for unknown estimators, estimators of
    the wrong task, import paths allow_imports does not list, pipeline steps that are not
    allow-listed transformers, invalid parameters (of the candidate, its variants and its
    search), or classifiers that cannot predict probabilities.
    """
    project = loaded.project
    task = project.objective.task
    used = {name for c in project.candidates for name in [c.estimator, *(s.estimator for s in c.steps or ())]}
    for i, path in enumerate(project.allow_imports):
        if path not in used:  # the model files of the run trust every listed class: each must exist
            import_class(path, loaded.where("allow_imports", i))
    resolved: list[ModelSpec] = []
    built: dict[str, Any] = {}  # candidate name -> its estimator, to rank its variants against
    for spec in model_specs(project):
        if spec.estimator == HISTORICAL:
            resolved.append(spec)
            continue
        index = spec.config_index
        where = loaded.where("candidates", index, "estimator") if index is not None else loaded.where("baselines")
        if spec.parent is not None:
            variant = spec.name[len(spec.parent) + 1:]
            where = loaded.where("candidates", index, "variants", variant)
        if spec.steps is not None:
            estimator, cls = _resolve_pipeline(loaded, spec, task, where)
        else:
            cls = _resolve_class(spec.estimator, task, project.allow_imports, where)
            estimator = _instantiate(cls, spec.estimator, spec.params, where)
        if task == "classification" and not hasattr(estimator, "predict_proba"):
            raise ConfigError(
                f"estimator '{spec.estimator}' with these parameters does not predict probabilities, "
                "which rate and ranking metrics need",
                where=where,
                hint="use a probabilistic classifier (e.g. LogisticRegression, SGDClassifier with "
                "loss: log_loss, SVC with probability: true)",
            )
        if spec.search:
            _check_search(estimator, spec, loaded.where("candidates", index, "search") if spec.parent is None
                          else where)
        if spec.role == "candidate":
            spec = dataclasses.replace(spec, simplicity=simplicity_of(cls))
            if spec.parent is None:
                built[spec.name] = estimator
            else:
                spec = dataclasses.replace(spec, settings=variant_settings(built[spec.parent], estimator,
                                                                           spec.changes or {}))
        resolved.append(spec)
    return resolved


def _resolve_class(name: str, task: str, allow_imports, where: str) -> type:
    """The estimator class of the task that `name` stands for, or the ConfigError saying why not."""
    import difflib

    if is_import_path(name):
        return _imported_estimator(name, task, allow_imports, where)
    cls = estimator_class(name, task)
    if cls is None:
        allowed = allowed_estimators(task)  # the slow, complete list: rare modules, or to explain the error
        cls = allowed.get(name)
    if cls is not None:
        return cls
    other = allowed_estimators("regression" if task == "classification" else "classification")
    if name in other:
        raise ConfigError(
            f"estimator '{name}' is a {'regressor' if task == 'classification' else 'classifier'}, "
            f"but this is a {task} project",
            where=where,
            hint=f"use a {'classifier' if task == 'classification' else 'regressor'}, e.g. "
            + ("HistGradientBoostingClassifier" if task == "classification" else "HistGradientBoostingRegressor"),
        )
    if name in THIRD_PARTY_PATHS:
        path = THIRD_PARTY_PATHS[name]
        raise ConfigError(
            f"'{name}' is not a scikit-learn estimator: it is the third-party {path}",
            where=where,
            hint=f"write `estimator: {path}` and list that exact path in the project's "
                 f"`allow_imports: [{path}]` (third-party code is imported only from there); install it with "
                 f"{BOOSTING_EXTRA}",
        )
    close = difflib.get_close_matches(name, list(allowed), n=3, cutoff=0.5)
    raise ConfigError(
        f"unknown estimator '{name}'",
        where=where,
        hint=(f"did you mean {' or '.join(close)}? " if close else "")
        + "Estimators are scikit-learn class names; `mlproj estimators` lists them (a third-party estimator: "
          "its import path, listed in allow_imports)",
    )


def _imported_estimator(path: str, task: str, allow_imports, where: str) -> type:
    """The class at an import path that allow_imports lists, if it is an estimator of the task."""
    if path not in allow_imports:
        short = path.rsplit(".", 1)[-1]
        sklearn_name = path.startswith("sklearn.")
        raise ConfigError(
            f"estimator '{path}' is an import path that the project's allow_imports does not list",
            where=where,
            hint=f"scikit-learn estimators are named by their class name alone (estimator: {short})" if sklearn_name
            else f"add it to the project file: `allow_imports: [{path}]` (only the exact import paths listed there "
                 "are ever imported)",
        )
    cls = import_class(path, where)
    kind = estimator_kind(cls)
    wanted = "classifier" if task == "classification" else "regressor"
    if kind != wanted:
        raise ConfigError(
            f"'{path}' is not a scikit-learn-compatible {wanted}"
            + (f" (it is a {kind})" if kind else " (no fit/predict/get_params, or no estimator type)"),
            where=where,
            hint=f"a {task} project needs a {wanted}" + (
                f", e.g. {THIRD_PARTY_PATHS.get('XGB' + ('Classifier' if wanted == 'classifier' else 'Regressor'))}"
                if path.startswith("xgboost.") else ""),
        )
    return cls


def import_class(path: str, where: str | None = None) -> type:
    """The class at `path` (module.Class), imported: call only for paths allow_imports lists."""
    module, _, attribute = path.rpartition(".")
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        known = path.split(".", 1)[0] in _THIRD_PARTY_DEFAULTS
        raise ConfigError(
            f"cannot import '{module}' for '{path}' listed in allow_imports ({exc})",
            where=where,
            hint=f"install it: {BOOSTING_EXTRA} (XGBoost, LightGBM, CatBoost)" if known
            else f"install the package that provides {module}",
        ) from None
    cls = getattr(imported, attribute, None)
    if not isinstance(cls, type):
        raise ConfigError(f"'{path}' is not a class of {module}", where=where,
                          hint="allow_imports lists exact import paths of estimator classes, e.g. xgboost.XGBClassifier")
    return cls


def estimator_kind(cls: type) -> str | None:
    """'classifier', 'regressor', 'transformer' or None, by scikit-learn's estimator tags (or the
    older `_estimator_type` of libraries without them) of a default instance."""
    import warnings

    if not _buildable(cls) or not all(hasattr(cls, m) for m in ("fit", "get_params", "set_params")):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instance = cls()
    except Exception:  # noqa: BLE001 - a class that cannot be built with defaults is no usable estimator
        return None
    try:
        from sklearn.utils import get_tags

        kind = get_tags(instance).estimator_type
    except Exception:  # noqa: BLE001 - libraries without scikit-learn's tags
        kind = getattr(instance, "_estimator_type", None)
    if kind is None and hasattr(instance, "transform"):
        kind = "transformer"
    return kind if kind in ("classifier", "regressor", "transformer") else None


# Where pipeline steps come from: transformers that are data in, data out, built from YAML values.
_TRANSFORMER_MODULES = ("sklearn.preprocessing", "sklearn.decomposition", "sklearn.feature_selection",
                        "sklearn.impute", "sklearn.kernel_approximation", "sklearn.random_projection")
# Buildable, but no step of a model on a feature table: their one useful argument is Python code
# (FunctionTransformer), they transform labels or kernel matrices, or their fitted state is a
# type mlproj's model files do not hold (SciPy splines, sparse matrices).
_NOT_STEPS = frozenset({"FunctionTransformer", "LabelBinarizer", "LabelEncoder", "MultiLabelBinarizer",
                        "KernelCenterer", "SplineTransformer", "SparseRandomProjection"})


@lru_cache(maxsize=1)
def allowed_transformers() -> dict[str, type]:
    """scikit-learn transformers a Pipeline step may name: from the modules above, buildable
    without arguments (so no meta-transformer around another estimator)."""
    from sklearn.utils.discovery import all_estimators

    return {name: cls for name, cls in all_estimators(type_filter="transformer")
            if cls.__module__.startswith(_TRANSFORMER_MODULES) and name not in _NOT_STEPS and _buildable(cls)}


def _resolve_pipeline(loaded: LoadedProject, spec: ModelSpec, task: str, where: str):
    """The Pipeline of a candidate's steps, every step allow-listed: transformers, then an
    estimator of the task last. Errors name the step (candidates[i].steps[j].estimator)."""
    import difflib

    from sklearn.pipeline import Pipeline

    index = spec.config_index
    if spec.estimator != PIPELINE or not spec.steps:
        raise ConfigError("steps are for `estimator: Pipeline`", where=loaded.where("candidates", index, "steps"))
    names = [step["name"] for step in spec.steps]
    if len(set(names)) != len(names):
        raise ConfigError(f"pipeline step names repeat: {', '.join(names)}",
                          where=loaded.where("candidates", index, "steps"), hint="give each step its own name")
    allow = loaded.project.allow_imports
    steps, last_cls = [], None
    for j, step in enumerate(spec.steps):
        here = loaded.where("candidates", index, "steps", j, "estimator")
        name = step["estimator"]
        if j == len(spec.steps) - 1:
            cls = last_cls = _resolve_class(name, task, allow, here)
        elif is_import_path(name):
            if name not in allow:
                raise ConfigError(f"pipeline step '{name}' is an import path that allow_imports does not list",
                                  where=here, hint=f"add it: `allow_imports: [{name}]`")
            cls = import_class(name, here)
            if estimator_kind(cls) != "transformer":
                raise ConfigError(f"pipeline step '{name}' is not a transformer (fit and transform)", where=here)
        else:
            cls = allowed_transformers().get(name)
            if cls is None:
                close = difflib.get_close_matches(name, list(allowed_transformers()), n=3, cutoff=0.5)
                is_estimator = name in allowed_estimators(task) or name in THIRD_PARTY_PATHS
                raise ConfigError(
                    f"pipeline step '{name}' is not an allowed transformer"
                    + (" (an estimator can only be the last step)" if is_estimator else ""),
                    where=here,
                    hint=(f"did you mean {' or '.join(close)}? " if close else "")
                    + "Steps before the last are scikit-learn transformers from preprocessing, decomposition, "
                      "feature_selection, impute, kernel_approximation or random_projection that need no "
                      "arguments (e.g. StandardScaler, PCA, SelectKBest)")
        steps.append((step["name"], _instantiate(cls, name, step["params"],
                                                 loaded.where("candidates", index, "steps", j, "params"))))
    pipeline = Pipeline(steps)
    _set_nested(pipeline, spec.params, where if spec.parent is not None else loaded.where("candidates", index, "params"))
    return pipeline, last_cls


def _set_nested(pipeline, params: dict, where: str) -> None:
    """A Pipeline candidate's own params: `<step>__<param>` (scikit-learn's set_params)."""
    if not params:
        return
    valid = sorted(k for k in settable(pipeline) if "__" in k or k in ("memory", "verbose"))
    for key in params:
        if key not in valid:
            import difflib

            close = difflib.get_close_matches(key, valid, n=1)
            raise ConfigError(
                f"the pipeline has no parameter '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""),
                where=where, hint="a Pipeline's parameters are `<step>__<param>`, e.g. "
                + (valid[0] if valid else "pca__n_components"))
    try:
        pipeline.set_params(**params)
        for _, step in pipeline.steps:
            if hasattr(step, "_parameter_constraints"):
                step._validate_params()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid pipeline parameters: {exc}", where=where) from None


def _check_search(estimator, spec: ModelSpec, where: str) -> None:
    """Every parameter `search` tunes exists, and each of its values is valid on its own."""
    from sklearn.base import clone

    grid = spec.search["grid"]
    for key, values in grid.items():
        for value in values:
            trial = clone(estimator)
            try:
                if key not in settable(trial):
                    raise KeyError(key)
                trial.set_params(**{key: value})
                parts = [trial] + ([s for _, s in trial.steps] if hasattr(trial, "steps") else [])
                for part in parts:
                    if hasattr(part, "_parameter_constraints"):
                        part._validate_params()
            except KeyError:
                import difflib

                valid = sorted(settable(estimator))
                close = difflib.get_close_matches(key, valid, n=1)
                raise ConfigError(f"search: '{spec.estimator}' has no parameter '{key}'"
                                  + (f"; did you mean '{close[0]}'?" if close else ""), where=where,
                                  hint=f"its parameters are: {', '.join(valid)}") from None
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"search: {key} = {value!r} is not valid for '{spec.estimator}': {exc}",
                                  where=where) from None


def _instantiate(cls: type, name: str, params: dict, where: str):
    signature = inspect.signature(cls.__init__).parameters
    valid = set(signature) - {"self"}
    open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.values())  # the library checks the rest
    for key in params:
        if key not in valid and not open_ended:
            import difflib

            close = difflib.get_close_matches(key, sorted(valid), n=1)
            raise ConfigError(
                f"'{name}' has no parameter '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""),
                where=where,
                hint=f"its parameters are: {', '.join(sorted(valid))}",
            )
    try:
        estimator = cls(**params)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid parameters for '{name}': {exc}", where=where) from None
    try:
        # scikit-learn validates parameters at fit time; doing it now turns a late crash into
        # a config error. _validate_params is the library's single declared place for this.
        if hasattr(estimator, "_parameter_constraints"):
            estimator._validate_params()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid parameters for '{name}': {exc}", where=where) from None
    return estimator


# Parameters whose smaller values make a smaller model (fewer or shallower trees, fewer leaves,
# components or neighbours' influence, stronger regularisation for C) and whose larger values do
# (larger leaves, stronger penalties, more neighbours averaged). None means "no limit".
_SMALLER_IS_SIMPLER = frozenset({"n_estimators", "max_iter", "max_depth", "max_leaf_nodes", "num_leaves", "depth",
                                 "iterations", "num_boost_round", "degree", "n_components", "max_bins", "C",
                                 "max_features", "hidden_layer_sizes", "max_cat_to_onehot"})
_LARGER_IS_SIMPLER = frozenset({"min_samples_leaf", "min_samples_split", "min_child_samples", "min_child_weight",
                                "min_data_in_leaf", "alpha", "reg_alpha", "reg_lambda", "lambda_l1", "lambda_l2",
                                "l2_regularization", "l2_leaf_reg", "min_impurity_decrease", "ccp_alpha",
                                "n_neighbors", "min_split_gain", "min_split_loss", "var_smoothing"})


def variant_settings(parent, variant, changes: dict) -> int:
    """-1 if every parameter a variant changes (with a known direction) makes its parent smaller,
    +1 if every one makes it larger, 0 otherwise (DESIGN §6: among equivalent models, "variants
    with fewer settings" come before fit time)."""
    before, after = parent.get_params(deep=True), variant.get_params(deep=True)
    signs = set()
    for key in changes:
        short = key.rsplit("__", 1)[-1]
        old, new = _size(before.get(key)), _size(after.get(key))
        if old is None or new is None or old == new:
            signs.add(0)
        elif short in _SMALLER_IS_SIMPLER:
            signs.add(-1 if new < old else 1)
        elif short in _LARGER_IS_SIMPLER:
            signs.add(-1 if new > old else 1)
        else:
            signs.add(0)
    return signs.pop() if len(signs) == 1 else 0


def _size(value) -> float | None:
    """A parameter value as a number to compare: None (no limit) is infinite; a tuple of layer
    sizes counts its units; anything else is not comparable."""
    if value is None:
        return math.inf
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return float(sum(value))
    return None


def build_estimator(spec: ModelSpec, task: str, seed: int):
    """A fresh, unfitted estimator for one task, seeded where the estimator is random.

    A nested search is not built here (mlproj.execute.search wraps this model)."""
    if spec.steps is not None:
        from sklearn.pipeline import Pipeline

        estimator = Pipeline([(step["name"], _seeded(_step_class(step["estimator"], task, step is spec.steps[-1])(
            **{**third_party_defaults(step["estimator"]), **step["params"]}), step["params"], seed))
            for step in spec.steps])
        if spec.params:
            estimator.set_params(**spec.params)
    else:
        cls = _step_class(spec.estimator, task, True)
        params = {**third_party_defaults(spec.estimator), **spec.params} if is_import_path(spec.estimator) \
            else spec.params
        estimator = _seeded(cls(**params), spec.params, seed)
    if spec.calibration:
        from sklearn.calibration import CalibratedClassifierCV

        # Calibrated on internal folds of the training rows only (never on the scored objects).
        estimator = CalibratedClassifierCV(estimator, method=spec.calibration, cv=3)
    steps = []
    if spec.impute:
        from sklearn.impute import SimpleImputer

        # The indicator keeps "not measured" as information (paper §5.1, case 3).
        steps.append(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    if spec.scale:
        from sklearn.preprocessing import StandardScaler

        steps.append(StandardScaler())
    if steps:
        from sklearn.pipeline import make_pipeline

        estimator = make_pipeline(*steps, estimator)
    return estimator


def _step_class(name: str, task: str, last: bool) -> type:
    """The class of a resolved spec's estimator or step (resolve_specs has checked it)."""
    if is_import_path(name):
        return import_class(name)
    if last:
        return estimator_class(name, task) or allowed_estimators(task)[name]
    return allowed_transformers()[name]


_SEED_NAMES = ("random_state", "random_seed", "seed")


def _seeded(estimator, params: dict, seed: int):
    """The task's seed for an estimator that draws random numbers, unless params set one."""
    if "random_state" in _parameter_names(estimator) and not any(k in params for k in _SEED_NAMES):
        estimator.set_params(random_state=seed)
    return estimator


def settable(estimator) -> set[str]:
    """The parameter names set_params takes (`<step>__<param>` inside a Pipeline), including
    those a library's get_params leaves out until they are set (CatBoost)."""
    names = set(estimator.get_params(deep=True)) | _parameter_names(estimator)
    for name, step in getattr(estimator, "steps", []):
        names |= {f"{name}__{p}" for p in _parameter_names(step)}
    return names


def _parameter_names(estimator) -> set[str]:
    # CatBoost's get_params lists only the parameters that were set: its signature lists the rest.
    return set(estimator.get_params(deep=False)) | (set(inspect.signature(type(estimator).__init__).parameters)
                                                   - {"self"})


def supports_missing_values(spec: ModelSpec, task: str) -> bool:
    from sklearn.utils import get_tags

    if spec.estimator == HISTORICAL:
        return True

    estimator = build_estimator(spec, task, seed=0)
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except AttributeError:
        # A library without scikit-learn's tags (CatBoost): its boosted trees take NaN as missing.
        return spec.estimator.split(".", 1)[0] in _THIRD_PARTY_DEFAULTS


UNINFORMATIVE_TIE_BREAKER = "per object and fold"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wraps by design): a well-spread hash step."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def object_hashes(X) -> np.ndarray:
    """A 64-bit hash per row of feature values, the same wherever the row sits in the table.

    The k-th repeat of one feature vector gets its own hash (k counted in row order): identical
    objects are interchangeable, so which of them gets which does not change any score, and they
    are not tied. NaN and -0.0 are made canonical first, so equal values hash equally.
    """
    X = np.asarray(X)
    X = X.reshape(len(X), -1)
    h = np.full(len(X), _GOLDEN, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(X.shape[1]):  # a column at a time: no second copy of a large table
            column = np.array(X[:, j], dtype=np.float64)
            column[np.isnan(column)] = np.nan
            column += 0.0  # -0.0 -> 0.0
            h = _mix(h ^ (column.view(np.uint64) + _GOLDEN * np.uint64(j + 1)))
        _, group = np.unique(h, return_inverse=True)
        order = np.argsort(group, kind="stable")
        occurrence = np.empty(len(h), dtype=np.uint64)
        occurrence[order] = (np.arange(len(h)) - np.searchsorted(group[order], group[order])).astype(np.uint64)
        return _mix(h ^ _mix(occurrence + _GOLDEN))


@lru_cache(maxsize=1)
def _uninformative_classifier() -> type:
    from sklearn.base import BaseEstimator, ClassifierMixin

    class UninformativeClassifier(ClassifierMixin, BaseEstimator):
        """Predicts the class prior for every object, with a negligible random tie-breaker.

        A constant score ties every object, so the achievable TPR at FPR ≤ α would be 0. Random
        tie-breaking gives the ROC diagonal instead, so TPR@FPR ≈ FPR: the honest floor that any
        informative model must beat, while log loss and Brier stay those of the prior.

        The tie-breaker of an object is a hash of its feature values, of `random_state` and of
        the training set (an order-free digest of its rows): drawn in row order instead, every
        fold of a class-sorted catalogue got the same jitter in the same places, hence one
        identical dummy score per repeat, and shuffling the rows changed the scores.
        """

        def __init__(self, random_state=None):
            self.random_state = random_state

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = True  # it never looks at the features
            return tags

        def fit(self, X, y):
            self.classes_, counts = np.unique(y, return_counts=True)
            self.prior_ = counts / counts.sum()
            self.n_features_in_ = np.shape(X)[1]
            seed = np.uint64(0 if self.random_state is None else int(self.random_state) % 2**64)
            with np.errstate(over="ignore"):
                digest = object_hashes(X).sum(dtype=np.uint64)  # a sum: the same in any row order
                # 63 bits: a plain int that every model file format (skops) keeps exactly
                self.fold_seed_ = int(_mix(np.array([digest ^ _mix(np.array([seed]))[0]], dtype=np.uint64))[0]) >> 1
            return self

        def predict_proba(self, X):
            n = np.shape(X)[0]
            h = object_hashes(X) ^ np.uint64(self.fold_seed_)
            classes = np.arange(1, len(self.classes_) + 1, dtype=np.uint64)
            with np.errstate(over="ignore"):
                bits = _mix(h[:, None] ^ _mix(classes * _GOLDEN)[None, :]) if n else np.zeros((0, len(classes)),
                                                                                              dtype=np.uint64)
            jitter = (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53 - 0.5  # uniform in [-0.5, 0.5)
            jitter -= jitter.mean(axis=1, keepdims=True)
            return self.prior_ + 1e-6 * self.prior_.min() * jitter

        def predict(self, X):
            return np.full(np.shape(X)[0], self.classes_[np.argmax(self.prior_)])

    UninformativeClassifier.__module__ = __name__
    UninformativeClassifier.__qualname__ = "UninformativeClassifier"
    globals()["UninformativeClassifier"] = UninformativeClassifier
    return UninformativeClassifier


def __getattr__(name: str):
    # Lets pickle (joblib workers, saved models) find the lazily defined dummy class by name.
    if name == "UninformativeClassifier":
        return _uninformative_classifier()
    raise AttributeError(name)


@lru_cache(maxsize=512)
def is_allowed_estimator_class(name: str) -> bool:
    """Whether `name` is, exactly (defining module and class), an estimator of mlproj's
    allow-list for either task. The file only supplies a class name to look up in
    scikit-learn's estimator modules: nothing it names is imported."""
    module, _, short = name.rpartition(".")
    parts = module.split(".")
    if parts[0] != "sklearn" or len(parts) < 2 or not short.isidentifier() or short.startswith("_"):
        return False
    from sklearn.base import ClassifierMixin, RegressorMixin

    # As estimator_class decides, but in the one estimator package the name is under
    # (it tries them in a fixed order, importing sklearn.ensemble first for any name).
    if parts[1] in _SKLEARN_MODULES:
        cls = getattr(importlib.import_module(f"sklearn.{parts[1]}"), short, None)
        return (isinstance(cls, type) and f"{cls.__module__}.{cls.__qualname__}" == name
                and issubclass(cls, (ClassifierMixin, RegressorMixin)) and _buildable(cls))
    # A rare module (TransformedTargetRegressor), or a transformer of a Pipeline candidate's
    # steps: the complete, slower, allow-lists.
    candidates = [allowed_estimators(task).get(short) for task in ("classification", "regression")]
    if parts[1] in ("preprocessing", "decomposition", "feature_selection", "impute", "kernel_approximation",
                    "random_projection"):
        candidates.append(allowed_transformers().get(short))
    return any(cls is not None and f"{cls.__module__}.{cls.__qualname__}" == name for cls in candidates)


def model_types(allow_imports=()):
    """What a model file of a project using `allow_imports` may hold (store.model_files.AllowedTypes):
    mlproj's allow-list and exactly the classes those import paths name (imported here: they
    are the project's, never the file's)."""
    from mlproj.store.model_files import AllowedTypes

    return AllowedTypes(is_allowed_estimator_class, [import_class(path) for path in allow_imports])
