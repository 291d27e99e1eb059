"""Tests of mlproj.persist: models round-trip through skops; anything not ours is refused."""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops
import skops.io as sio

from mlproj.errors import RunError
from mlproj.models import allowed_estimators
from mlproj.persist import load_model, save_model


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
    save_model(estimator, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]  # atomic: no *.tmp left
    return load_model(path)


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
    save_model(LogisticRegression().fit(X, y), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]
    assert zipfile.is_zipfile(path)
    assert type(load_model(path)).__name__ == "LogisticRegression"


# --- files that are not skops models ------------------------------------------------------------

def _refused(path: Path) -> str:
    with pytest.raises(RunError) as info:
        load_model(path)
    assert info.value.exit_code == 2
    return str(info.value)


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


# --- files with types mlproj did not write ------------------------------------------------------

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
    return {"__class__": type(value).__name__, "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _call_node(module: str, name: str, *args) -> dict:
    """A node that skops "constructs" by calling module.name(*args)."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [_json(a) for a in args]}}


def _crafted(path: Path, root: dict) -> bytes:
    root = dict(root, protocol=_protocol(), _skops_version=skops.__version__)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(root))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


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


def test_unknown_sklearn_internal_type_is_a_version_problem(tmp_path):
    path = tmp_path / "model.skops"
    _crafted(path, {"__class__": "NoSuchThing", "__module__": "sklearn.tree._tree",
                    "__loader__": "ObjectNode"})
    message = _refused(path)
    assert "sklearn.tree._tree.NoSuchThing" in message and "different version" in message


def test_save_refuses_a_model_it_could_not_load_back(data, tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, _, y = data
    model = LogisticRegression().fit(X, y)
    model.extra_ = Canary(str(tmp_path / "never"))
    path = tmp_path / "model.skops"
    with pytest.raises(RunError, match="Canary"):
        save_model(model, path)
    assert list(tmp_path.iterdir()) == []


# --- skops imported without its list of every estimator ------------------------------------------

_EVERY_ESTIMATOR = r"""
import json, sys, tempfile, warnings
from pathlib import Path
import numpy as np
import sklearn.utils
from mlproj.models import allowed_estimators
from mlproj.persist import load_model, save_model, skops_io
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
            save_model(model, folder / f"{name}.skops")
            loaded = load_model(folder / f"{name}.skops")
        except RunError as exc:
            outcome[name] = str(exc)
            continue
        outcome[name] = "ok" if np.array_equal(loaded.predict(X), model.predict(X)) else "predictions differ"
print(json.dumps({"outcome": outcome, "skops_list": len(trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES),
                  "restored": sklearn.utils.all_estimators is original,
                  "dask_array": dask_array}))
"""


def test_every_allowed_estimator_round_trips_with_skops_imported_fast():
    """skops_io leaves out skops's list of public estimators (0.3 s of imports): every estimator
    mlproj can fit must still save and load, judged by mlproj's own trust rules alone."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _EVERY_ESTIMATOR], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["skops_list"] == 0  # the fast import was the one used
    assert report["restored"] and not report["dask_array"]
    assert len(report["outcome"]) >= 60
    assert {name: result for name, result in report["outcome"].items() if result != "ok"} == {}


def test_skops_io_returns_an_already_imported_module_unchanged():
    from mlproj.persist import skops_io

    assert skops_io() is sio
    assert len(sio._trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES) > 0  # imported by this module, with its list
