"""Tests of mlproj.store.model_files: models round-trip through skops; anything not ours is refused before
skops builds, imports or calls anything from the file."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import pickle
import struct
import sys
import warnings
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import skops
import skops.io as sio

from mlproj.errors import RunError
from mlproj.plan.estimators import ModelSpec, allowed_estimators, is_allowed_estimator_class
from mlproj.store import model_files as persist
from mlproj.store.model_files import copy_model, load_model, save_model

ESTIMATORS = is_allowed_estimator_class


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    X_missing = X.copy()
    X_missing[::7, 1] = np.nan
    X_missing[::11, 3] = np.nan
    return X, X_missing, y


def _round_trip(estimator, tmp_path: Path):
    path = tmp_path / "model.skops"
    save_model(estimator, path, ESTIMATORS)
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]  # atomic: no *.tmp left
    return load_model(path, ESTIMATORS)


# --- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["HistGradientBoostingClassifier", "UninformativeClassifier"])
def test_classifier_round_trip(data, tmp_path, name):
    _, X_missing, y = data
    cls = allowed_estimators("classification")[name]
    params = {"max_iter": 15} if name == "HistGradientBoostingClassifier" else {}
    model = cls(random_state=3, **params).fit(X_missing, y)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded.predict_proba(X_missing), model.predict_proba(X_missing))
    np.testing.assert_array_equal(loaded.predict(X_missing), model.predict(X_missing))


def test_pipeline_with_imputer_and_scaler_round_trip(data, tmp_path):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, X_missing, y = data
    model = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                          StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_missing, y)
    loaded = _round_trip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X_missing), model.predict_proba(X_missing))
    assert loaded.steps[0][1].indicator_ is not None


def test_random_forest_regressor_round_trip(data, tmp_path):
    from sklearn.ensemble import RandomForestRegressor

    X, _, y = data
    target = X[:, 0] * 2 + y
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, target)
    loaded = _round_trip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_save_overwrites_atomically(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    path = tmp_path / "model.skops"
    path.write_bytes(b"old content")
    save_model(LogisticRegression().fit(X, y), path, ESTIMATORS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]
    assert zipfile.is_zipfile(path)
    assert type(load_model(path, ESTIMATORS)).__name__ == "LogisticRegression"


def test_copy_model_copies_a_checked_model_atomically(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    source, target = tmp_path / "cache.skops", tmp_path / "run" / "model.skops"
    save_model(LogisticRegression().fit(X, y), source, ESTIMATORS)
    target.parent.mkdir()
    copy_model(source, target, ESTIMATORS)
    assert target.read_bytes() == source.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["model.skops"]


# --- every model mlproj writes loads back --------------------------------------------------------
#
# Through the real code path: execute.fit_and_predict builds the estimator as a run does
# (models.build_estimator: imputation, scaling, calibration, seeds), fits it, saves it with
# save_model (and the σ(x) models of regression), and returns the validation predictions; the
# loaded model must give the same predictions.

N_ROWS = 90
# Estimators that cannot fit the tiny data of a single-output task at all (or ever, as mlproj
# calls them): multi-task models need a 2-D target, SelfTrainingClassifier an estimator object,
# IsotonicRegression one feature.
UNFIT = {"MultiTaskElasticNet", "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV",
         "SelfTrainingClassifier", "IsotonicRegression"}
# Classifiers that predict probabilities only with some params (models.resolve_specs requires them).
PARAMS = {"SVC": {"probability": True}, "NuSVC": {"probability": True}, "SGDClassifier": {"loss": "log_loss"},
          "RadiusNeighborsClassifier": {"radius": 10.0}, "RadiusNeighborsRegressor": {"radius": 10.0},
          "CCA": {"n_components": 1}, "PLSCanonical": {"n_components": 1}, "CategoricalNB": {"min_categories": 8}}
NON_NEGATIVE = {"CategoricalNB", "ComplementNB", "MultinomialNB", "PoissonRegressor", "GammaRegressor",
                "TweedieRegressor"}


@lru_cache(maxsize=1)
def _tiny():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, 4))
    X_missing = X.copy()
    X_missing[::7, 1] = np.nan
    X_missing[::5, 3] = np.nan
    targets = {"binary": (X[:, 0] + 0.5 * rng.normal(size=N_ROWS) > 0).astype(np.int64),
               "three": np.digitize(X[:, 0] + 0.3 * rng.normal(size=N_ROWS), [-0.4, 0.4]).astype(np.int64),
               "regression": 2 * X[:, 0] + X[:, 1] ** 2 + rng.normal(size=N_ROWS)}
    return X, X_missing, targets


def _writes_and_reads_back(tmp_path: Path, spec: ModelSpec, task: str, target: str, missing: bool = False) -> None:
    from mlproj.execute.tasks import FitCall, FitData, _probabilities, fit_and_predict, spread_path
    from mlproj.science.sigma import spread_of

    X, X_missing, targets = _tiny()
    y = targets[target]
    X = X_missing if missing else X
    if spec.estimator in NON_NEGATIVE or spec.params.get("loss") in ("poisson", "gamma"):
        X = np.floor(np.abs(X) * 2)
        y = np.abs(y) + 0.1 if task == "regression" else y
    train, valid = np.arange(N_ROWS)[:72], np.arange(N_ROWS)[72:]
    path = tmp_path / f"{spec.name}.skops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = fit_and_predict(FitCall(spec, task, "key", train, valid, seed=1, model_path=str(path)), FitData(X, y))
        assert output.error is None
        model = load_model(path, ESTIMATORS)
        if task == "classification":
            again = _probabilities(model, X[valid], int(y.max()) + 1)
        else:
            again = model.predict(X[valid])
            if spec.uncertainty != "global":
                again = np.column_stack([again, spread_of(load_model(spread_path(path), ESTIMATORS), X[valid])])
    np.testing.assert_allclose(again, output.predictions, rtol=1e-12, atol=0)


def _estimators(task: str) -> list[str]:
    """The allow-listed estimators mlproj can fit (classifiers: those resolve_specs accepts, which
    predict probabilities with the params above)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated estimators
        return sorted(name for name, cls in allowed_estimators(task).items() if name not in UNFIT and
                      (task == "regression" or hasattr(cls(**PARAMS.get(name, {})), "predict_proba")))


@pytest.mark.slow
@pytest.mark.parametrize("name", _estimators("classification"))
def test_every_classifier_mlproj_writes_loads_back(tmp_path, name):
    params = PARAMS.get(name, {})
    _writes_and_reads_back(tmp_path, ModelSpec("plain", name, params), "classification", "binary")
    _writes_and_reads_back(tmp_path, ModelSpec("three", name, params), "classification", "three")
    if name not in NON_NEGATIVE:  # scaled features are negative
        _writes_and_reads_back(tmp_path, ModelSpec("pipeline", name, params, scale=True, impute=True),
                               "classification", "binary", missing=True)
    _writes_and_reads_back(tmp_path, ModelSpec("calibrated", name, params, calibration="isotonic"),
                           "classification", "binary")


@pytest.mark.slow
@pytest.mark.parametrize("name", _estimators("regression"))
def test_every_regressor_mlproj_writes_loads_back(tmp_path, name):
    params = PARAMS.get(name, {})
    _writes_and_reads_back(tmp_path, ModelSpec("ensemble", name, params, uncertainty="ensemble"),
                           "regression", "regression")
    if name not in NON_NEGATIVE:
        _writes_and_reads_back(tmp_path, ModelSpec("pipeline", name, params, scale=True, impute=True),
                               "regression", "regression", missing=True)


@pytest.mark.parametrize("method", ["residual", "quantile"])
def test_spread_models_load_back(tmp_path, method):
    _writes_and_reads_back(tmp_path, ModelSpec("m", "LinearRegression", {}, scale=True, impute=True,
                                               uncertainty=method), "regression", "regression", missing=True)


@pytest.mark.parametrize(("name", "params"), [
    ("HistGradientBoostingClassifier", {"max_iter": 5, "categorical_features": [0], "max_features": 0.5}),
    ("GradientBoostingClassifier", {"n_estimators": 5, "loss": "exponential"}),
    ("SGDClassifier", {"loss": "modified_huber"}),
    ("MLPClassifier", {"solver": "sgd", "max_iter": 20}),
    ("KNeighborsClassifier", {"algorithm": "ball_tree", "metric": "minkowski", "p": 3}),
    ("KNeighborsClassifier", {"algorithm": "kd_tree", "metric": "chebyshev"}),
    ("LabelSpreading", {"kernel": "knn"}),
])
def test_models_with_other_params_load_back(tmp_path, name, params):
    _writes_and_reads_back(tmp_path, ModelSpec("m", name, params), "classification", "binary")


@pytest.mark.parametrize(("name", "params"), [
    ("HistGradientBoostingRegressor", {"max_iter": 5, "loss": "quantile", "quantile": 0.3}),
    ("HistGradientBoostingRegressor", {"max_iter": 5, "loss": "poisson"}),
    ("GradientBoostingRegressor", {"n_estimators": 5, "loss": "huber"}),
    ("SGDRegressor", {"loss": "epsilon_insensitive"}),
    ("TweedieRegressor", {"power": 1.5}),
])
def test_regressors_with_other_params_load_back(tmp_path, name, params):
    _writes_and_reads_back(tmp_path, ModelSpec("m", name, params), "regression", "regression")


# --- the trusted table ---------------------------------------------------------------------------

def test_every_trusted_type_exists_and_has_only_reviewed_hooks():
    for (loader, name), reason in persist._TRUSTED.items():
        assert reason and loader.endswith("Node"), name
        assert persist._unreviewed_hooks(name) == (), name


def test_every_allowed_estimator_is_trusted_and_has_only_reviewed_hooks():
    for task in ("classification", "regression"):
        for cls in allowed_estimators(task).values():
            name = persist._qualified(cls)
            assert ("ObjectNode", name) in persist._TRUSTED or is_allowed_estimator_class(name), name
            assert persist._unreviewed_hooks(name) == (), name


def test_only_exact_estimator_names_are_trusted():
    assert is_allowed_estimator_class("sklearn.ensemble._forest.RandomForestClassifier")
    assert not is_allowed_estimator_class("sklearn.ensemble.RandomForestClassifier")  # a re-export
    assert is_allowed_estimator_class("sklearn.preprocessing._data.StandardScaler")  # a pipeline step
    assert not is_allowed_estimator_class("sklearn.preprocessing.StandardScaler")  # a re-export
    assert not is_allowed_estimator_class("sklearn.model_selection._search.GridSearchCV")  # never saved
    assert not is_allowed_estimator_class("sklearn.preprocessing._function_transformer.FunctionTransformer2")
    assert not is_allowed_estimator_class("sklearn.utils._testing.TempMemmap")
    assert not is_allowed_estimator_class("sklearn.ensemble._forest.__class__")


@pytest.mark.parametrize(("gadget", "name", "hook"), [
    ("numpy DataSource __del__", "numpy.lib.npyio.DataSource", "DataSource.__del__"),
    ("scipy norm_gen __setstate__", "scipy.stats._continuous_distns.norm_gen", "rv_generic.__setstate__"),
])
def test_a_hook_nobody_reviewed_is_refused_even_for_a_trusted_name(tmp_path, monkeypatch, skops_never_called,
                                                                   gadget, name, hook):
    # Defence in depth: were one of these ever put on the list by mistake, its unreviewed hook
    # (a __del__ that deletes a folder, a __setstate__ that runs exec) would still refuse it.
    blob, harmless = GADGETS[gadget](tmp_path)
    monkeypatch.setitem(persist._TRUSTED, ("ObjectNode", name), "a mistake")
    message = _refused_bytes(tmp_path, blob)
    assert f"{hook}, which mlproj has not reviewed" in message
    gc.collect()
    assert harmless()


def test_a_trusted_type_missing_from_the_installed_package_is_a_version_problem(tmp_path, monkeypatch):
    monkeypatch.setitem(persist._TRUSTED, ("ObjectNode", "sklearn.tree._tree.NoSuchThing"), "test")
    path = tmp_path / "model.skops"
    _crafted(path, {"__class__": "NoSuchThing", "__module__": "sklearn.tree._tree", "__loader__": "ObjectNode"})
    message = _refused(path)
    assert "sklearn.tree._tree.NoSuchThing" in message and "different version" in message


def test_an_untrusted_sklearn_internal_type_is_refused_not_a_version_problem(tmp_path):
    path = tmp_path / "model.skops"
    _crafted(path, {"__class__": "NoSuchThing", "__module__": "sklearn.tree._tree", "__loader__": "ObjectNode"})
    message = _refused(path)
    assert "sklearn.tree._tree.NoSuchThing" in message and "version" not in message.replace(str(tmp_path), "")


# --- files that are not skops models ------------------------------------------------------------

def _refused(path: Path) -> str:
    with pytest.raises(RunError) as info:
        load_model(path, ESTIMATORS)
    assert info.value.exit_code == 2
    return str(info.value)


def _refused_bytes(tmp_path: Path, blob: bytes) -> str:
    path = tmp_path / "model.skops"
    path.write_bytes(blob)
    return _refused(path)


def test_pickle_renamed_to_skops_is_refused(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps(LogisticRegression().fit(X, y)))
    message = _refused(path)
    assert str(path) in message and "pickle" in message


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    assert "not a model file written by mlproj" in _refused(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_empty_or_broken_zip_is_refused(tmp_path, content):
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    _refused(path)


def test_truncated_skops_file_is_refused(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    blob = sio.dumps(LogisticRegression().fit(X, y))
    path = tmp_path / "model.skops"
    path.write_bytes(blob[: len(blob) // 2])
    _refused(path)


def test_zip_without_schema_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "without schema.json" in _refused(path)


def test_invalid_schema_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", "{not json")
    _refused(path)


def test_missing_file_is_a_run_error(tmp_path):
    assert "does not exist" in _refused(tmp_path / "absent.skops")


def test_directory_is_a_run_error(tmp_path):
    _refused(tmp_path)


def test_another_skops_protocol_is_refused(tmp_path):
    # Older protocols are loaded by older node classes, which mlproj's checks were not made for.
    path = tmp_path / "model.skops"
    _crafted(path, _json(1), protocol=0)
    message = _refused(path)
    assert "protocol 0" in message and "version" not in message.replace(str(tmp_path), "")


# --- crafted files: code that would run, files that would be created or deleted -----------------

class Canary:
    """Creates a file when rebuilt: proves whether loading executed code from the file."""

    def __init__(self, target: str):
        self.target = target

    def __setstate__(self, state):
        Path(state["target"]).write_text("executed")
        self.__dict__.update(state)


def test_custom_class_is_refused_without_executing_it(tmp_path):
    target = tmp_path / "canary-fired"
    blob = sio.dumps(Canary(str(target)))
    name = f"{__name__}.Canary"
    # The canary is live: skops, told to trust the type, does run its __setstate__.
    sio.loads(blob, trusted=[name])
    assert target.exists()
    target.unlink()

    path = tmp_path / "model.skops"
    path.write_bytes(blob)
    message = _refused(path)
    assert "did not write" in message and name in message
    assert not target.exists()


def _protocol() -> int:
    with zipfile.ZipFile(io.BytesIO(sio.dumps([1]))) as archive:
        return json.loads(archive.read("schema.json"))["protocol"]


def _json(value) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _dict(content: dict) -> dict:
    """A DictNode of str keys, as skops writes an object's attributes."""
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": content,
            "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                          "content": [{"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
                                      for _ in content]}}


def _tuple(*items: dict) -> dict:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items)}


def _call_node(module: str, name: str, *args) -> dict:
    """A node that skops "constructs" by calling module.name(*args)."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": _tuple(*[_json(a) for a in args])}


def _schema_zip(root: dict, protocol: int | None = None) -> bytes:
    root = dict(root, protocol=_protocol() if protocol is None else protocol, _skops_version=skops.__version__)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(root))
    return buffer.getvalue()


def _crafted(path: Path, root: dict, protocol: int | None = None) -> bytes:
    blob = _schema_zip(root, protocol)
    path.write_bytes(blob)
    return blob


def _norm_gen(tmp: Path):
    # scipy's rv_continuous.__setstate__ runs its _parse_arg_template through exec.
    canary = tmp / "norm_gen-fired"
    code = f"open({str(canary)!r}, 'w').write('x')\ndef _parse_args(*a, **k): pass\n"
    blob = _schema_zip({"__class__": "norm_gen", "__module__": "scipy.stats._continuous_distns",
                        "__loader__": "ObjectNode",
                        "content": _dict({"_parse_arg_template": _json(code), "shapes": _json(None)})})
    return blob, lambda: not canary.exists()


def _data_source(tmp: Path):
    # numpy's DataSource.__del__ deletes its _destpath when _istmpdest is set.
    victim = tmp / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "precious.txt").write_text("keep me")
    blob = _schema_zip({"__class__": "DataSource", "__module__": "numpy.lib.npyio", "__loader__": "ObjectNode",
                        "content": _dict({"_istmpdest": _json(True), "_destpath": _json(str(victim))})})
    return blob, lambda: (victim / "precious.txt").exists()


def _reduce_exec(tmp: Path):
    # ConstructorFromReduceNode calls the named object with arguments from the file.
    canary = tmp / "reduce-fired"
    blob = _schema_zip(_call_node("builtins", "exec", f"open({str(canary)!r}, 'w').write('x')"))
    return blob, lambda: not canary.exists()


def _loss_node_exec(tmp: Path):
    # LossNode (a reduce node) calls the type the node names with its __reduce__ arguments.
    canary = tmp / "loss-fired"
    blob = _schema_zip({"__class__": "exec", "__module__": "builtins", "__loader__": "LossNode",
                        "__reduce__": {"args": _tuple(_json(f"open({str(canary)!r}, 'w').write('x')"))},
                        "content": _dict({})})
    return blob, lambda: not canary.exists()


def _functions(tmp: Path):
    # skops returns named functions as they are: a partial(os.system, ...) would run when called.
    canary = tmp / "function-fired"
    blob = _schema_zip({"__class__": "partial", "__module__": "functools", "__loader__": "PartialNode", "content": {
        "func": {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"},
        "args": _tuple(_json(f"touch {canary}")), "kwds": _dict({}), "namespace": _json(None)}})
    return blob, lambda: not canary.exists()


def _sklearn_other(tmp: Path):
    # A scikit-learn class, but not one mlproj writes (its __exit__ deletes temp_folder).
    victim = tmp / "memmap-victim"
    victim.mkdir(exist_ok=True)
    blob = _schema_zip({"__class__": "TempMemmap", "__module__": "sklearn.utils._testing",
                        "__loader__": "ObjectNode", "content": _dict({"temp_folder": _json(str(victim))})})
    return blob, lambda: victim.exists()


SIDE_EFFECT_MODULE = "mlproj_test_side_effect_module"


def _module_import(tmp: Path):
    # A module whose import has side effects: skops imports the module a TypeNode names.
    canary = tmp / "import-fired"
    folder = tmp / "modules"
    folder.mkdir(exist_ok=True)
    (folder / f"{SIDE_EFFECT_MODULE}.py").write_text(
        f"open({str(canary)!r}, 'w').write('x')\nclass Thing:\n    pass\n")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    sys.modules.pop(SIDE_EFFECT_MODULE, None)
    blob = _schema_zip({"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                        "content": [{"__class__": "Thing", "__module__": SIDE_EFFECT_MODULE, "__loader__": "TypeNode"}]})
    return blob, lambda: not canary.exists() and SIDE_EFFECT_MODULE not in sys.modules


def _random_generator(tmp: Path):
    # A numpy Generator's bit generator is named inside its state, then called: numpy.random.seed.
    model = np.random.default_rng(0)
    blob = sio.dumps(model)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        schema = json.loads(archive.read("schema.json"))
        members = {n: archive.read(n) for n in archive.namelist() if n != "schema.json"}
    schema["content"]["bit_generator"]["content"]["bit_generator"]["content"] = json.dumps("seed")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue(), lambda: True


# name -> builder(tmp) -> (file bytes, harmless()): whether nothing happened.
GADGETS = {
    "scipy norm_gen __setstate__": _norm_gen,
    "numpy DataSource __del__": _data_source,
    "ConstructorFromReduceNode builtins.exec": _reduce_exec,
    "LossNode builtins.exec": _loss_node_exec,
    "partial of FunctionNode os.system": _functions,
    "sklearn TempMemmap": _sklearn_other,
    "module with side effects": _module_import,
    "Generator naming numpy.random.seed": _random_generator,
}
# What each refusal must name.
NAMED = {"scipy norm_gen __setstate__": "scipy.stats._continuous_distns.norm_gen",
         "numpy DataSource __del__": "numpy.lib.npyio.DataSource",
         "ConstructorFromReduceNode builtins.exec": "builtins.exec",
         "LossNode builtins.exec": "builtins.exec",
         "partial of FunctionNode os.system": "os.system",
         "sklearn TempMemmap": "sklearn.utils._testing.TempMemmap",
         "module with side effects": f"{SIDE_EFFECT_MODULE}.Thing",
         "Generator naming numpy.random.seed": "numpy.random.seed"}


@pytest.mark.parametrize("gadget", ["scipy norm_gen __setstate__", "numpy DataSource __del__",
                                    "ConstructorFromReduceNode builtins.exec", "LossNode builtins.exec",
                                    "module with side effects"])
def test_the_gadgets_are_live(tmp_path, gadget):
    """Each crafted file does harm when skops is told to trust what it names: the refusals below
    are what prevents it."""
    blob, harmless = GADGETS[gadget](tmp_path)
    with contextlib.suppress(Exception):  # some fail after the harm is done
        loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
        del loaded
    gc.collect()
    assert not harmless()
    sys.modules.pop(SIDE_EFFECT_MODULE, None)




@pytest.mark.parametrize("gadget", sorted(GADGETS))
def test_crafted_files_are_refused_before_skops_builds_anything(tmp_path, gadget, skops_never_called):
    blob, harmless = GADGETS[gadget](tmp_path)
    message = _refused_bytes(tmp_path, blob)
    assert NAMED[gadget] in message and "did not write" in message
    assert "version" not in message.replace(str(tmp_path), "")  # not a misleading "different version"
    assert "Nothing was loaded from it" in message
    gc.collect()
    assert harmless()


@pytest.mark.parametrize("gadget", sorted(GADGETS))
def test_crafted_cache_files_are_refused_when_copied(tmp_path, gadget, skops_never_called):
    blob, harmless = GADGETS[gadget](tmp_path)
    source, target = tmp_path / "cache.skops", tmp_path / "run" / "model.skops"
    source.write_bytes(blob)
    target.parent.mkdir()
    with pytest.raises(RunError) as info:
        copy_model(source, target, ESTIMATORS)
    message = str(info.value)
    assert str(source) in message and "mlproj cache prune --all" in message
    assert "version" not in message.replace(str(tmp_path), "")
    assert list(target.parent.iterdir()) == []
    gc.collect()
    assert harmless()


def test_trusted_names_with_another_loader_are_refused(tmp_path, skops_never_called):
    # numpy.ndarray is trusted as an NdArrayNode (numpy.load), not as something skops calls.
    message = _refused_bytes(tmp_path, _schema_zip(_call_node("numpy", "ndarray", 3)))
    assert "numpy.ndarray (ConstructorFromReduceNode)" in message


def test_sklearn_function_is_not_trusted_for_its_prefix(tmp_path):
    # A name under "sklearn." can be a function that runs code: this one executes Python source.
    target = tmp_path / "canary-fired"
    path = tmp_path / "model.skops"
    name = "sklearn.utils._testing.assert_run_python_script_without_output"
    module, _, func = name.rpartition(".")
    blob = _crafted(path, _call_node(module, func, f"open({str(target)!r}, 'w').write('x')"))
    assert sio.get_untrusted_types(data=blob) == [name]
    with contextlib.suppress(Exception):  # it runs the code, then fails on the empty output
        sio.loads(blob, trusted=[name])
    assert target.exists()  # the canary is live
    target.unlink()

    message = _refused(path)
    assert name in message
    assert not target.exists()


def test_numpy_class_called_with_file_arguments_is_refused(tmp_path):
    # numpy.memmap is a class defined in numpy, but skops would call it with arguments from the
    # file, and numpy.memmap(path, "uint8", "w+", 0, 1) creates (or truncates) that file.
    target = tmp_path / "canary-fired"
    path = tmp_path / "model.skops"
    blob = _crafted(path, _call_node("numpy", "memmap", str(target), "uint8", "w+", 0, 1))
    untrusted = sio.get_untrusted_types(data=blob)
    assert untrusted == ["numpy.memmap"]
    sio.loads(blob, trusted=untrusted)  # the canary is live
    assert target.exists()
    target.unlink()

    assert "numpy.memmap" in _refused(path)
    assert not target.exists()


def test_custom_class_inside_a_real_model_is_refused(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    model = LogisticRegression().fit(X, y)
    target = tmp_path / "canary-fired"
    model.extra_ = Canary(str(target))
    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps(model))
    assert f"{__name__}.Canary" in _refused(path)
    assert not target.exists()


def test_save_refuses_a_model_it_could_not_load_back(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    model = LogisticRegression().fit(X, y)
    model.extra_ = Canary(str(tmp_path / "never"))
    path = tmp_path / "model.skops"
    with pytest.raises(RunError, match="Canary"):
        save_model(model, path, ESTIMATORS)
    assert list(tmp_path.iterdir()) == []


# --- zip bombs -----------------------------------------------------------------------------------

def _raw_zip(members: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip of (name, method, stored bytes, crc, uncompressed size) members, headers as given."""
    out, directory = io.BytesIO(), io.BytesIO()
    for name, method, stored, crc, size in members:
        encoded = name.encode()
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(stored), size,
                              len(encoded), 0) + encoded)
        out.write(stored)
        directory.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(stored),
                                    size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    out.write(directory.getvalue())
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory.getvalue()),
                          start, 0))
    return out.getvalue()


@lru_cache(maxsize=4)
def _deflated_repeats(chunk: bytes, count: int) -> tuple[bytes, int]:
    """Raw deflate of `chunk` * `count` and its CRC, without compressing it all: after a full
    flush the compressor starts afresh, so every chunk compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return block * (count - 1) + compressor.compress(chunk) + compressor.flush(), crc


def one_gib_of_spaces() -> bytes:
    """The model file of issue 20: schema.json is 1 GiB of spaces, ~1 MB on disk."""
    stream, crc = _deflated_repeats(b" " * 2**20, 1024)
    return _raw_zip([("schema.json", zipfile.ZIP_DEFLATED, stream, crc, 2**30)])


@pytest.fixture
def reads(monkeypatch):
    """The sizes of every read from a zip member, and of what it returned."""
    seen: list[tuple[int, int | None]] = []
    original = zipfile.ZipExtFile.read

    def read(self, n=-1):
        seen.append((n, None))  # a read that raises (a CRC error) is still a read
        result = original(self, n)
        seen[-1] = (n, len(result))
        return result

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    return seen


def test_a_schema_of_one_gib_of_spaces_is_refused_unread(tmp_path, reads, skops_never_called):
    blob = one_gib_of_spaces()
    assert len(blob) < 2 * 2**20
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert archive.getinfo("schema.json").file_size == 2**30  # the bomb is real
        with archive.open("schema.json") as member:
            assert member.read(10) == b" " * 10
    reads.clear()
    message = _refused_bytes(tmp_path, blob)
    assert "schema.json" in message and "zip bomb" in message
    assert reads == []  # refused from the sizes in the zip's directory: nothing decompressed


def test_each_zip_limit_refuses_on_its_own(tmp_path, reads, monkeypatch, skops_never_called):
    blob = one_gib_of_spaces()
    monkeypatch.setattr(persist, "MAX_COMPRESSION_RATIO", 10**6)
    monkeypatch.setattr(persist, "MAX_INFLATED_BYTES", 2**29)
    assert "would unpack to 1,073,741,824 bytes" in _refused_bytes(tmp_path, blob)
    monkeypatch.setattr(persist, "MAX_INFLATED_BYTES", 2**31)
    assert "its schema.json would be 1,073,741,824 bytes" in _refused_bytes(tmp_path, blob)
    assert reads == []


def test_a_schema_whose_header_lies_is_never_read_beyond_the_limit(tmp_path, reads, monkeypatch):
    # The directory says 1,000 bytes, the data inflates to 1 GiB: at most limit + 1 are read.
    monkeypatch.setattr(persist, "MAX_SCHEMA_BYTES", 4096)
    stream, crc = _deflated_repeats(b" " * 2**20, 1024)
    message = _refused_bytes(tmp_path, _raw_zip([("schema.json", zipfile.ZIP_DEFLATED, stream, crc, 1000)]))
    assert "Bad CRC-32" in message  # zipfile returns no more than the header's size, then checks the CRC
    assert reads and all(0 <= n <= 4097 and (got or 0) <= 4097 for n, got in reads)


def test_a_huge_npy_member_is_refused_unread(tmp_path, reads, skops_never_called):
    # A 2 GiB array of zeros in a few MB, referenced by an ordinary array node.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**28,)})
    zeros, _ = _deflated_repeats(b"\0" * 2**20, 2048)
    schema = json.dumps({"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode",
                         "type": "numpy", "file": "a.npy", "protocol": _protocol()}).encode()
    blob = _raw_zip([("schema.json", zipfile.ZIP_STORED, schema, zlib.crc32(schema), len(schema)),
                     ("a.npy", zipfile.ZIP_DEFLATED, header.getvalue() + zeros, 0, 2**31)])
    reads.clear()
    assert "a.npy would unpack" in _refused_bytes(tmp_path, blob)
    assert reads == []


def test_an_npy_header_claiming_more_than_its_data_is_refused(tmp_path, skops_never_called):
    # numpy.load allocates the array from the header before reading: 8 TB for a few bytes.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps({"__class__": "ndarray", "__module__": "numpy",
                                                    "__loader__": "NdArrayNode", "type": "numpy",
                                                    "file": "a.npy", "protocol": _protocol()}))
        archive.writestr("a.npy", header.getvalue() + b"\0" * 64)
    message = _refused_bytes(tmp_path, buffer.getvalue())
    assert "a.npy has 64 bytes of data for an array of 8,796,093,022,208" in message


def test_an_npy_member_of_objects_is_refused(tmp_path, skops_never_called):
    buffer = io.BytesIO()
    array = io.BytesIO()
    np.save(array, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps({"__class__": "ndarray", "__module__": "numpy",
                                                    "__loader__": "NdArrayNode", "type": "numpy",
                                                    "file": "a.npy", "protocol": _protocol()}))
        archive.writestr("a.npy", array.getvalue())
    assert "a.npy holds Python objects" in _refused_bytes(tmp_path, buffer.getvalue())


def test_too_many_members_are_refused_before_the_directory_is_parsed(tmp_path, monkeypatch, skops_never_called):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(dict(_json(1), protocol=_protocol())))
        for index in range(51):
            archive.writestr(f"{index}.npy", b"")
    monkeypatch.setattr(persist, "MAX_MEMBERS", 50)
    parsed, original = [], zipfile.ZipFile
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: parsed.append(a) or original(*a, **k))
    assert "a zip of 52 members" in _refused_bytes(tmp_path, buffer.getvalue())
    assert parsed == []


def test_the_member_limit_is_read_from_a_zip64_end_record(tmp_path, monkeypatch):
    monkeypatch.setattr(persist, "MAX_MEMBERS", 5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        for index in range(6):
            archive.writestr(f"{index}.npy", b"")
    blob = buffer.getvalue()
    # The same zip with a zip64 end record (as Python writes for more than 65,535 members).
    start = blob.rfind(b"PK\x05\x06")
    _, _, _, _, entries, size, offset, _ = struct.unpack_from("<4s4H2LH", blob, start)
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, start, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    assert persist._end_record(blob[:start] + zip64 + locator + end) == (6, size)


def test_duplicate_and_oddly_compressed_members_are_refused(tmp_path, skops_never_called):
    schema = json.dumps(dict(_json(1), protocol=_protocol())).encode()
    twice = _raw_zip([("schema.json", 0, schema, zlib.crc32(schema), len(schema))] * 2)
    assert "holds schema.json twice" in _refused_bytes(tmp_path, twice)
    lzma = _raw_zip([("schema.json", zipfile.ZIP_LZMA, schema, zlib.crc32(schema), len(schema))])
    assert "zip method 14" in _refused_bytes(tmp_path, lzma)
    lying = _raw_zip([("schema.json", zipfile.ZIP_STORED, schema, zlib.crc32(schema), 2**30)])
    assert "claims 1,073,741,824 bytes stored" in _refused_bytes(tmp_path, lying)


def test_a_schema_of_empty_containers_is_refused_before_parsing(tmp_path, monkeypatch, skops_never_called):
    parsed = []
    monkeypatch.setattr(persist.json, "loads", lambda *a, **k: parsed.append(1) or json.loads(*a, **k))
    dense = b'{"__loader__": "JsonNode", "x": [' + b"{}," * 100_000 + b"{}]}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", dense)
    assert "holds 100,003 objects and lists" in _refused_bytes(tmp_path, buffer.getvalue())
    assert parsed == []


def test_a_deeply_nested_schema_is_refused(tmp_path, skops_never_called):
    node = _json(1)
    for _ in range(150):
        node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": [node]}
    assert "nested more than 200 levels" in _refused_bytes(tmp_path, _schema_zip(node))


def _shared_chain(depth: int) -> dict:
    """Lists each holding its child twice, the second time by reference ({"__id__": n})."""
    node = dict(_json(1), __id__=1)
    for key in range(2, depth + 2):
        node = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                "content": [node, {"__id__": key - 1}], "__id__": key}
    return node


def test_nodes_shared_by_reference_cannot_make_skops_audit_forever(tmp_path, skops_never_called):
    # 4 kB, only trusted types, and skops's audit would visit 2^61 nodes (0.7 s at 2^19).
    message = _refused_bytes(tmp_path, _schema_zip(_shared_chain(60)))
    assert "skops would visit its 121 nodes more than 100,000 times" in message


def test_nodes_shared_by_reference_a_few_times_still_load(tmp_path):
    expected = 1
    for _ in range(8):
        expected = [expected, expected]
    path = tmp_path / "model.skops"
    path.write_bytes(_schema_zip(_shared_chain(8)))
    assert load_model(path, ESTIMATORS) == expected  # 2^9 visits
    # An upper bound of skops's visits: a shared node counts at every reference, a cycle once.
    assert persist._audit_visits([[1, 2], [], []], [None, 5, 5]) == 3
    assert persist._audit_visits([[1, 2], [3], [], []], [None, 5, 5, None]) == 5
    assert persist._audit_visits([[1], [0]], [7, 7]) <= 3


# --- skops imported without its list of every estimator ------------------------------------------

_EVERY_ESTIMATOR = r"""
import json, sys, tempfile, warnings
from pathlib import Path
import numpy as np
import sklearn.utils
from mlproj.plan.estimators import allowed_estimators, is_allowed_estimator_class as ESTIMATORS
from mlproj.store.model_files import load_model, save_model, skops_io
from mlproj.errors import RunError

original = sklearn.utils.all_estimators
skops_io()
dask_array = "dask.array" in sys.modules  # before the estimators are imported: some do import it
import skops.io._trusted_types as trusted_types
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = np.abs(rng.normal(size=(80, 3)))
targets = {"classification": (X[:, 0] > np.median(X[:, 0])).astype(int),
           "regression": 2 * X[:, 0] + rng.normal(size=80)}
folder = Path(tempfile.mkdtemp())
outcome = {}
for task, y in targets.items():
    for name, cls in sorted(allowed_estimators(task).items()):
        try:
            model = cls().fit(X, y)
        except Exception:
            continue  # estimators that need other data (multi-task, positive targets, ...)
        try:
            save_model(model, folder / f"{name}.skops", ESTIMATORS)
            loaded = load_model(folder / f"{name}.skops", ESTIMATORS)
        except RunError as exc:
            outcome[name] = str(exc)
            continue
        outcome[name] = "ok" if np.array_equal(loaded.predict(X), model.predict(X)) else "predictions differ"
print(json.dumps({"outcome": outcome, "skops_list": len(trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES),
                  "restored": sklearn.utils.all_estimators is original,
                  "dask_array": dask_array}))
"""


@pytest.mark.slow
def test_every_allowed_estimator_round_trips_with_skops_imported_fast():
    """skops_io leaves out skops's list of public estimators (0.3 s of imports): every estimator
    mlproj can fit must still save and load, judged by mlproj's own trust rules alone."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", _EVERY_ESTIMATOR], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["skops_list"] == 0  # the fast import was the one used
    assert report["restored"] and not report["dask_array"]
    assert len(report["outcome"]) >= 60
    assert {name: result for name, result in report["outcome"].items() if result != "ok"} == {}


def test_skops_io_returns_an_already_imported_module_unchanged():
    from mlproj.store.model_files import skops_io

    assert skops_io() is sio
    assert len(sio._trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES) > 0  # imported by this module, with its list
