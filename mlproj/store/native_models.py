"""Third-party models inside mlproj's model files, in each library's own model format.

skops cannot hold an XGBoost, LightGBM or CatBoost model safely: their states carry the
library's C++ booster as bytes (XGBoost), a ``collections.defaultdict`` (LightGBM) or an
opaque blob, which skops rebuilds only through types mlproj does not trust. So before skops
writes a fitted model, every such estimator in it (alone, last in a pipeline, inside a
calibration) is replaced by a `NativeModel`: plain data — the class's defining path, its
constructor parameters, the library's own model text as an array of bytes, and the few fitted
attributes the scikit-learn wrapper needs (classes, number of features). Loading reverses it
only after the whole file passed mlproj's checks, and only for classes the project's
``allow_imports`` lists (`internalize` gets them, already imported, from the caller): a file
never chooses what is imported. The model text goes to the library's own parser (XGBoost
``load_model`` of its JSON, LightGBM ``Booster(model_str=...)``, CatBoost ``load_model(blob=...)``
of its .cbm), which reads data and runs no code named in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

# format -> the module prefix of the library whose scikit-learn wrappers it holds
FORMATS = {"xgboost-json": "xgboost.", "lightgbm-text": "lightgbm.", "catboost-cbm": "catboost."}


class NativeModel:
    """A third-party estimator as plain data (see the module's docstring); no hooks, no methods
    skops would call: it is rebuilt by `internalize`, never used as a model."""

    def __init__(self, path: str, format: str, params: dict, model: np.ndarray | None, fitted: dict):
        self.path = path  # the class's defining module and name, e.g. xgboost.sklearn.XGBClassifier
        self.format = format
        self.params = params  # JSON values only: what the constructor is called with
        self.model = model  # the library's model file as uint8, None for an unfitted estimator
        self.fitted = fitted  # JSON values: classes, n_features_in


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def native_format(cls: type) -> str | None:
    """The model format a third-party estimator class is saved in, or None (skops holds it, or
    mlproj refuses it)."""
    module = cls.__module__
    try:
        if module.startswith("xgboost."):
            from xgboost.sklearn import XGBModel

            return "xgboost-json" if issubclass(cls, XGBModel) else None
        if module.startswith("lightgbm."):
            from lightgbm.sklearn import LGBMModel

            return "lightgbm-text" if issubclass(cls, LGBMModel) else None
        if module.startswith("catboost."):
            from catboost import CatBoost

            return "catboost-cbm" if issubclass(cls, CatBoost) else None
    except ImportError:
        return None
    return None


# --------------------------------------------------------------------------- saving

def externalize(obj: Any) -> Any:
    """`obj` with every third-party estimator replaced by its NativeModel; the containers on the
    way are copied (the fitted model itself is not changed)."""
    memo: dict[int, Any] = {}

    def walk(item: Any) -> Any:
        key = id(item)
        if key in memo:
            return memo[key]
        fmt = native_format(type(item))
        if fmt is not None:
            out: Any = _to_native(item, fmt)
        else:
            out = _rebuilt(item, walk)
        memo[key] = out
        return out

    return walk(obj)


def _rebuilt(item: Any, walk) -> Any:
    """`item` with `walk` applied to what it holds (lists, tuples, dicts and the attributes of
    scikit-learn and mlproj objects); the same object when nothing changed."""
    if type(item) in (list, tuple):
        items = [walk(v) for v in item]
        return item if all(a is b for a, b in zip(items, item)) else type(item)(items)
    if type(item) is dict:
        values = {k: walk(v) for k, v in item.items()}
        return item if all(values[k] is item[k] for k in item) else values
    module = type(item).__module__
    if hasattr(item, "__dict__") and (module.startswith(("sklearn.", "mlproj.")) or module == "sklearn"):
        changed = {k: new for k, v in vars(item).items() if (new := walk(v)) is not v}
        if not changed:
            return item
        copy = object.__new__(type(item))  # no hooks: the attributes are copied as they are
        copy.__dict__.update(vars(item))
        copy.__dict__.update(changed)
        return copy
    return item


def _to_native(estimator: Any, fmt: str) -> NativeModel:
    params = _json_params(estimator)
    if not _is_fitted(estimator, fmt):
        return NativeModel(qualified(type(estimator)), fmt, params, None, {})
    if fmt == "xgboost-json":
        raw = bytes(estimator.get_booster().save_raw(raw_format="json"))
        fitted = {"n_features_in": int(estimator.n_features_in_)}
    elif fmt == "lightgbm-text":
        raw = estimator.booster_.model_to_string().encode("utf-8")
        fitted = {"n_features_in": int(estimator.n_features_in_)}
    else:
        raw = _catboost_blob(estimator)
        fitted = {}
    classes = getattr(estimator, "classes_", None) if _is_classifier(estimator) else None
    if classes is not None:
        fitted["classes"] = np.asarray(classes).tolist()
    return NativeModel(qualified(type(estimator)), fmt, params, np.frombuffer(raw, dtype=np.uint8).copy(), fitted)


def _catboost_blob(estimator) -> bytes:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.cbm")
        estimator.save_model(path, format="cbm")
        with open(path, "rb") as handle:
            return handle.read()


def _is_fitted(estimator, fmt: str) -> bool:
    if fmt == "catboost-cbm":
        return bool(estimator.is_fitted())
    return bool(estimator.__sklearn_is_fitted__())


def _is_classifier(estimator) -> bool:
    return "Classifier" in type(estimator).__name__ or getattr(estimator, "_estimator_type", None) == "classifier"


def _json_params(estimator) -> dict:
    """The constructor parameters that are JSON values (the rest, e.g. callbacks, cannot come
    from a project file)."""
    return {k: v for k, v in estimator.get_params(deep=False).items() if _is_json(v)}


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, (int, float)):
        return not isinstance(value, float) or math.isfinite(value) or math.isnan(value)
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


# --------------------------------------------------------------------------- loading

class NativeRefusal(Exception):
    """A NativeModel mlproj will not rebuild (the message says why)."""


def native_paths(schema_node: dict) -> str | None:
    """The `path` a NativeModel node of a skops schema.json names, read before anything is
    built (None: the node does not hold one as plain JSON text)."""
    import json

    try:
        content = schema_node["content"]["content"]["path"]
        if content.get("__loader__") != "JsonNode":
            return None
        path = json.loads(content["content"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return path if isinstance(path, str) else None


def internalize(obj: Any, allowed: Mapping[str, type]) -> Any:
    """`obj` (as skops rebuilt it) with every NativeModel rebuilt as the estimator it stands for,
    if `allowed` (defining path -> class, from the project's allow_imports) has its class."""
    memo: dict[int, Any] = {}

    def walk(item: Any) -> Any:
        key = id(item)
        if key in memo:
            return memo[key]
        out = _from_native(item, allowed) if type(item) is NativeModel else _rebuilt(item, walk)
        memo[key] = out
        return out

    return walk(obj)


def _from_native(native: NativeModel, allowed: Mapping[str, type]) -> Any:
    state = vars(native)
    path, fmt, params, model, fitted = (state.get(k) for k in ("path", "format", "params", "model", "fitted"))
    cls = allowed.get(path) if isinstance(path, str) else None
    if cls is None:
        raise NativeRefusal(f"names {path!r}, which the project's allow_imports does not list")
    if fmt != native_format(cls):
        raise NativeRefusal(f"holds {path} in the format {fmt!r}, not {native_format(cls)!r}")
    if not isinstance(params, dict) or not _is_json(params) or not isinstance(fitted, dict) or not _is_json(fitted):
        raise NativeRefusal(f"holds parameters of {path} that are not plain values")
    import inspect

    signature = inspect.signature(cls.__init__).parameters
    # Only the constructor's named parameters: a library's open **kwargs are not fed from a file.
    estimator = cls(**{k: v for k, v in params.items() if k in signature and k != "self"})
    if model is None:
        return estimator
    if not isinstance(model, np.ndarray) or model.dtype != np.uint8 or model.ndim != 1:
        raise NativeRefusal(f"holds the model of {path} in something other than bytes")
    raw = model.tobytes()
    if fmt == "xgboost-json":
        estimator.load_model(bytearray(raw))
    elif fmt == "lightgbm-text":
        _load_lightgbm(estimator, raw.decode("utf-8"), fitted)
    else:
        estimator.load_model(blob=raw)
    return estimator


def _load_lightgbm(estimator, text: str, fitted: dict) -> None:
    """A LightGBM scikit-learn wrapper around the booster of its model text, with the fitted
    attributes its predict reads (LightGBM has no load for the wrapper itself)."""
    import lightgbm

    booster = lightgbm.Booster(model_str=text)
    estimator._Booster = booster
    estimator._n_features = booster.num_feature()
    estimator._n_features_in = int(fitted.get("n_features_in", booster.num_feature()))
    classes = fitted.get("classes")
    if classes is not None:
        from sklearn.preprocessing import LabelEncoder

        estimator._le = LabelEncoder().fit(np.asarray(classes))
        estimator._classes = estimator._le.classes_
        estimator._n_classes = len(classes)
        estimator._class_map = {c: i for i, c in enumerate(estimator._le.classes_)}
        if estimator._objective is None:
            estimator._objective = "multiclass" if len(classes) > 2 else "binary"
    elif estimator._objective is None:
        estimator._objective = "regression"
    estimator._best_iteration = booster.best_iteration
    estimator._best_score = {}
    estimator._evals_result = {}
    estimator.fitted_ = True
