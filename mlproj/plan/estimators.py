"""Estimator registry: the allow-list, the baselines, and how simple each model is.

Model *specifications* are plain data (no scikit-learn import) so that plans can be compiled and
hashed cheaply; `build_estimator` turns a specification into a fresh scikit-learn object.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
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
_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree")


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
    for index, candidate in enumerate(project.candidates):
        specs.append(
            ModelSpec(candidate.name, candidate.estimator, dict(sorted(candidate.params.items())),
                      scale=candidate.scale, role="candidate", config_index=index)
        )
    fitted = {"impute": project.data.missing == "impute", "augment": project.data.augment}
    if not classification:
        fitted["uncertainty"] = project.uncertainty.method
    elif project.uncertainty.method == "calibrated":
        fitted["calibration"] = project.uncertainty.calibration
    return [dataclasses.replace(s, **fitted) if s.estimator != HISTORICAL and s.name != "dummy" else s
            for s in specs]


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
    the wrong task, invalid parameters, or classifiers that cannot predict probabilities.
    """
    import difflib

    project = loaded.project
    task = project.objective.task
    resolved = []
    for spec in model_specs(project):
        if spec.estimator == HISTORICAL:
            resolved.append(spec)
            continue
        where = loaded.where("candidates", spec.config_index, "estimator") if spec.config_index is not None else loaded.where("baselines")
        cls = estimator_class(spec.estimator, task)
        if cls is None:
            allowed = allowed_estimators(task)  # the slow, complete list: rare modules, or to explain the error
            cls = allowed.get(spec.estimator)
        if cls is None:
            other = allowed_estimators("regression" if task == "classification" else "classification")
            if spec.estimator in other:
                raise ConfigError(
                    f"estimator '{spec.estimator}' is a {'regressor' if task == 'classification' else 'classifier'}, "
                    f"but this is a {task} project",
                    where=where,
                    hint=f"use a {'classifier' if task == 'classification' else 'regressor'}, e.g. "
                    + ("HistGradientBoostingClassifier" if task == "classification" else "HistGradientBoostingRegressor"),
                )
            close = difflib.get_close_matches(spec.estimator, list(allowed), n=3, cutoff=0.5)
            raise ConfigError(
                f"unknown estimator '{spec.estimator}'",
                where=where,
                hint=(f"did you mean {' or '.join(close)}? " if close else "")
                + "Estimators are scikit-learn class names; `mlproj estimators` lists them",
            )
        estimator = _instantiate(cls, spec, where)
        if task == "classification" and not hasattr(estimator, "predict_proba"):
            raise ConfigError(
                f"estimator '{spec.estimator}' with these parameters does not predict probabilities, "
                "which rate and ranking metrics need",
                where=where,
                hint="use a probabilistic classifier (e.g. LogisticRegression, SGDClassifier with "
                "loss: log_loss, SVC with probability: true)",
            )
        if spec.role == "candidate":
            spec = dataclasses.replace(spec, simplicity=simplicity_of(cls))
        resolved.append(spec)
    return resolved


def _instantiate(cls: type, spec: ModelSpec, where: str):
    valid = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for key in spec.params:
        if key not in valid:
            import difflib

            close = difflib.get_close_matches(key, sorted(valid), n=1)
            raise ConfigError(
                f"'{spec.estimator}' has no parameter '{key}'" + (f"; did you mean '{close[0]}'?" if close else ""),
                where=where,
                hint=f"its parameters are: {', '.join(sorted(valid))}",
            )
    estimator = cls(**spec.params)
    try:
        # scikit-learn validates parameters at fit time; doing it now turns a late crash into
        # a config error. _validate_params is the library's single declared place for this.
        if hasattr(estimator, "_parameter_constraints"):
            estimator._validate_params()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid parameters for '{spec.estimator}': {exc}", where=where) from None
    return estimator


def build_estimator(spec: ModelSpec, task: str, seed: int):
    """A fresh, unfitted estimator for one task, seeded where the estimator is random."""
    cls = estimator_class(spec.estimator, task) or allowed_estimators(task)[spec.estimator]
    estimator = cls(**spec.params)
    if "random_state" in estimator.get_params() and "random_state" not in spec.params:
        estimator.set_params(random_state=seed)
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


def supports_missing_values(spec: ModelSpec, task: str) -> bool:
    from sklearn.utils import get_tags

    if spec.estimator == HISTORICAL:
        return True

    estimator = build_estimator(spec, task, seed=0)
    return bool(get_tags(estimator).input_tags.allow_nan)


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
    # A rare module (TransformedTargetRegressor): the complete, slower, allow-list.
    candidates = [allowed_estimators(task).get(short) for task in ("classification", "regression")]
    return any(cls is not None and f"{cls.__module__}.{cls.__qualname__}" == name for cls in candidates)
