"""Model files of third-party estimators (allow_imports) and of Pipeline candidates: they round-trip,
XGBoost/LightGBM/CatBoost in their library's own format inside mlproj's skops file, and a file
naming a class the project does not allow is refused before skops builds anything."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio

from mlproj.errors import RunError
from mlproj.plan.estimators import allowed_transformers, is_allowed_estimator_class, model_types
from mlproj.store import native_models
from mlproj.store.model_files import copy_model, load_model, save_model

BOOSTING = [("xgboost", "XGBClassifier", "XGBRegressor"), ("lightgbm", "LGBMClassifier", "LGBMRegressor"),
            ("catboost", "CatBoostClassifier", "CatBoostRegressor")]
QUIET = {"xgboost": {"n_jobs": 1, "verbosity": 0}, "lightgbm": {"n_jobs": 1, "verbose": -1},
         "catboost": {"thread_count": 1, "verbose": False, "allow_writing_files": False}}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y3 = np.digitize(X[:, 0] + 0.3 * rng.normal(size=150), [-0.5, 0.5])
    X_missing = X.copy()
    X_missing[::9, 2] = np.nan
    return X, X_missing, y3


def _models(library: str, classifier: str, regressor: str, data):
    module = pytest.importorskip(library)
    X, _, y3 = data
    params = {"n_estimators": 8} if library != "catboost" else {"iterations": 8}
    params.update(QUIET[library])
    binary = (y3 > 0).astype(int)
    return [(f"{library}.{classifier}", getattr(module, classifier)(**params).fit(X, y3), "predict_proba"),
            (f"{library}.{classifier}", getattr(module, classifier)(**params).fit(X, binary), "predict_proba"),
            (f"{library}.{regressor}", getattr(module, regressor)(**params).fit(X, X[:, 0] * 2), "predict")]


@pytest.mark.parametrize(("library", "classifier", "regressor"), BOOSTING)
def test_boosting_models_round_trip_in_their_own_format(tmp_path, data, library, classifier, regressor):
    X = data[0]
    for path, model, method in _models(library, classifier, regressor, data):
        types = model_types([path])
        file = tmp_path / "model.skops"
        save_model(model, file, types)
        with zipfile.ZipFile(file) as archive:
            schema = archive.read("schema.json").decode()
        assert "NativeModel" in schema and "Booster" not in schema  # no library object for skops to rebuild
        loaded = load_model(file, types)
        assert type(loaded) is type(model)
        np.testing.assert_allclose(getattr(loaded, method)(X), getattr(model, method)(X), rtol=0, atol=1e-6)
        if method == "predict_proba":
            np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
            np.testing.assert_array_equal(loaded.classes_, model.classes_)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_boosting_inside_imputation_scaling_and_calibration_round_trips(tmp_path, data, library):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    module = pytest.importorskip(library)
    _, X_missing, y3 = data
    name = "XGBClassifier" if library == "xgboost" else "LGBMClassifier"
    inner = getattr(module, name)(n_estimators=5, **QUIET[library])
    model = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler(),
                          CalibratedClassifierCV(inner, cv=2)).fit(X_missing, y3)
    types = model_types([f"{library}.{name}"])
    save_model(model, tmp_path / "m.skops", types)
    loaded = load_model(tmp_path / "m.skops", types)
    np.testing.assert_allclose(loaded.predict_proba(X_missing), model.predict_proba(X_missing), atol=1e-6)
    assert isinstance(model[-1].calibrated_classifiers_[0].estimator, getattr(module, name))  # not changed by saving


def test_a_model_of_a_class_the_project_does_not_allow_is_refused_before_skops(tmp_path, data, monkeypatch):
    xgboost = pytest.importorskip("xgboost")
    X, _, y3 = data
    file = tmp_path / "m.skops"
    save_model(xgboost.XGBClassifier(n_estimators=3, **QUIET["xgboost"]).fit(X, y3), file,
               model_types(["xgboost.XGBClassifier"]))
    import skops.io._audit as audit
    import skops.io._persist as persisted

    def called(*args, **kwargs):
        raise AssertionError("skops was called on a file mlproj refused")

    monkeypatch.setattr(persisted, "get_tree", called)
    monkeypatch.setattr(audit, "get_tree", called)
    monkeypatch.setattr(sio, "loads", called)
    for types in (is_allowed_estimator_class, model_types([]), model_types(["xgboost.XGBRegressor"])):
        with pytest.raises(RunError) as info:
            load_model(file, types)
        assert "xgboost.sklearn.XGBClassifier" in str(info.value) and "allow_imports does not list" in str(info.value)
        with pytest.raises(RunError):
            copy_model(file, tmp_path / "copy.skops", types)
    assert not (tmp_path / "copy.skops").exists()


def _crafted_native(tmp_path, path: str, fmt: str = "xgboost-json", **state) -> bytes:
    """A model file whose NativeModel names `path` (written by skops itself, as an attacker would)."""
    native = native_models.NativeModel(path, fmt, state.pop("params", {}), state.pop("model", None), {})
    return sio.dumps(native)


@pytest.mark.parametrize("path", ["os.system", "builtins.eval", "subprocess.Popen", "xgboost.core.Booster",
                                  "tests.execute.leak_detector.RowRecorder"])
def test_a_crafted_native_model_naming_any_other_class_is_refused(tmp_path, path, skops_never_called):
    file = tmp_path / "m.skops"
    file.write_bytes(_crafted_native(tmp_path, path))
    with pytest.raises(RunError) as info:
        load_model(file, model_types(["xgboost.XGBClassifier"]) if _has("xgboost") else is_allowed_estimator_class)
    assert path in str(info.value) and "nothing was loaded" in info.value.render().lower()


def test_a_crafted_native_model_without_a_readable_path_is_refused(tmp_path, skops_never_called):
    data = _crafted_native(tmp_path, "xgboost.sklearn.XGBClassifier")
    archive = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(archive.read("schema.json"))
    schema["content"]["content"]["path"]["__loader__"] = "ListNode"  # not plain JSON text any more
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as crafted:
        for info in archive.infolist():
            crafted.writestr(info, json.dumps(schema) if info.filename == "schema.json" else archive.read(info))
    (tmp_path / "m.skops").write_bytes(out.getvalue())
    with pytest.raises(RunError, match="cannot read"):
        load_model(tmp_path / "m.skops", model_types(["xgboost.XGBClassifier"]) if _has("xgboost")
                   else is_allowed_estimator_class)


def test_a_native_model_with_parameters_that_are_not_plain_values_is_refused(tmp_path):
    pytest.importorskip("xgboost")
    from sklearn.preprocessing import StandardScaler

    native = native_models.NativeModel("xgboost.sklearn.XGBClassifier", "xgboost-json",
                                       {"n_estimators": StandardScaler()}, None, {})
    (tmp_path / "m.skops").write_bytes(sio.dumps(native))
    with pytest.raises(RunError, match="not plain values"):
        load_model(tmp_path / "m.skops", model_types(["xgboost.XGBClassifier"]))


def test_a_plain_third_party_estimator_is_trusted_by_skops_only_when_allowed(tmp_path, data):
    from tests.execute.leak_detector import RowRecorder

    X, _, y3 = data
    path = "tests.execute.leak_detector.RowRecorder"
    model = RowRecorder(2.0).fit(X, (y3 > 0).astype(int))
    save_model(model, tmp_path / "m.skops", model_types([path]))
    assert load_model(tmp_path / "m.skops", model_types([path])).strength == 2.0
    with pytest.raises(RunError, match="types that mlproj did not write: tests.execute.leak_detector.RowRecorder"):
        load_model(tmp_path / "m.skops", model_types([]))
    with pytest.raises(RunError, match="cannot save"):
        save_model(model, tmp_path / "n.skops", is_allowed_estimator_class)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --------------------------------------------------------------------------- pipelines

def test_every_allowed_pipeline_step_round_trips(tmp_path, data):
    """Each transformer a Pipeline step may name, fitted with its defaults before a logistic
    regression, saves and loads back (or is refused at save, never at load)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, _, y3 = data
    X = np.abs(X) + 0.1  # positive values, for the transformers that need them
    outcome = {}
    for name, cls in sorted(allowed_transformers().items()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = make_pipeline(cls(), LogisticRegression(max_iter=300)).fit(X, y3)
            except Exception:  # noqa: BLE001 - transformers that need other data (text, categories)
                continue
        try:
            save_model(model, tmp_path / f"{name}.skops", is_allowed_estimator_class)
        except RunError as exc:
            outcome[name] = f"not saved: {exc.message}"
            continue
        loaded = load_model(tmp_path / f"{name}.skops", is_allowed_estimator_class)
        same = np.allclose(loaded.predict_proba(X), model.predict_proba(X))
        outcome[name] = "ok" if same else "predictions differ"
    assert len(outcome) >= 30
    assert {k: v for k, v in outcome.items() if v != "ok"} == {}
