"""Fitted models on disk, in the skops format: a zip of JSON and .npy files, never a pickle.

Loading a pickle runs whatever code the file names, so a model file from a colleague, a
download or a tampered run directory could take over the machine. skops stores object
*states* and rebuilds the objects itself; it refuses to rebuild any type that is not on a
trusted list. We compute that list ourselves rather than trusting what the file asks for:

* the types skops trusts by default (builtin containers, numpy arrays; not its list of
  public scikit-learn estimators, see `skops_io`);
* `mlproj.models.UninformativeClassifier` and a few harmless builtin types;
* classes *defined in* scikit-learn, numpy or scipy (their internal types such as
  `sklearn.tree._tree.Tree` or `numpy.dtype`), and only when skops rebuilds them without
  calling them on data read from the file.

The last condition matters: a name that merely *starts with* ``sklearn.`` can be a function
(``sklearn.utils._testing.assert_run_python_script_without_output`` runs Python source
it is given) or a class whose constructor writes files (``numpy.memmap``). skops "constructs"
some nodes by calling the named object with arguments from the file, so a prefix rule on
names alone would let a crafted file run code. See `_is_trusted`.

The check and the load read the same bytes (the file is read once), so the file cannot be
swapped in between.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlproj.errors import RunError
from mlproj.files import atomic_write

_PACKAGES = ("sklearn", "numpy", "scipy")

# Trusted whatever skops does with them: calling these with any arguments is harmless.
_OURS = frozenset({"mlproj.models.UninformativeClassifier"})
_SAFE_BUILTINS = frozenset(
    "builtins." + name
    for name in ("bool", "int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple",
                 "dict", "set", "frozenset", "slice", "range", "NoneType")
)

# skops loaders (the "__loader__" of a node in schema.json) that rebuild an object of the named
# class without calling the class on data from the file: `ObjectNode` uses cls.__new__(cls) and
# then __setstate__ / __dict__.update; `TreeNode` always calls sklearn's Tree, whatever the node
# is named; `DTypeNode` takes the dtype of an array; `TypeNode` returns the class itself;
# `CachedNode` refers back to a node already seen. Every other loader either calls the named
# object with arguments from the file (ConstructorFromReduceNode, LossNode, ListNode, SetNode,
# TupleNode, DictNode, NdArrayNode, ...) or returns a function (FunctionNode, MethodNode,
# PartialNode); models that mlproj writes never need those for a type skops does not already
# trust.
_PACKAGE_LOADERS = frozenset({"ObjectNode", "TreeNode", "DTypeNode", "TypeNode", "CachedNode"})

_NOT_OURS_HINT = "only load model files written by `mlproj run`; re-run to recreate it"

_skops_import = threading.Lock()


def skops_io():
    """The skops.io module, imported without its list of every scikit-learn estimator.

    skops builds that list when it is imported (`sklearn.utils.all_estimators`), which imports
    every module of scikit-learn and, where dask is installed, dask.array through scikit-learn's
    array-API shims: ~0.4 s of CPU in every run and every `mlproj predict`. The list is only
    skops's default of which types `load` trusts, and mlproj never relies on that default:
    `_audit` judges every type the default leaves out, and `loads` gets the accepted names
    explicitly. With an empty list, public estimators are judged by `_is_trusted` too, which
    accepts them (classes defined in scikit-learn, rebuilt without calling them).

    The stand-in is in place only while skops imports, under a lock; mlproj calls
    all_estimators nowhere else. If skops.io is already imported, it is returned as it is.
    """
    with _skops_import:
        if "skops.io" not in sys.modules:
            import sklearn.utils

            original = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = lambda type_filter=None: []
            try:
                importlib.import_module("skops.io")
            finally:
                sklearn.utils.all_estimators = original
        return importlib.import_module("skops.io")


def save_model(estimator: Any, path: Path) -> None:
    """Write a fitted estimator to `path` in the skops format, atomically.

    Refuses (RunError) an estimator that `load_model` would refuse, so that a run never
    leaves behind a model file that cannot be read back.
    """
    sio = skops_io()
    from skops.io.exceptions import UnsupportedTypeException

    path = Path(path)
    kind = type(estimator).__name__
    try:
        data = sio.dumps(estimator)
    except UnsupportedTypeException as exc:
        raise RunError(
            f"cannot save the fitted {kind} to {path}: {exc}",
            hint="choose another estimator; mlproj saves models only in the safe skops format, never as pickles",
        ) from None
    _, refused, missing = _audit(data)
    if refused or missing:
        raise RunError(
            f"cannot save the fitted {kind} to {path}: it contains types that mlproj would refuse "
            f"to load: {', '.join(refused + missing)}",
            hint="choose another estimator",
        )
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def load_model(path: Path) -> Any:
    """Read a model written by `save_model`; RunError for anything else, never a traceback."""
    sio = skops_io()

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunError(f"model file {path} does not exist",
                       hint="run `mlproj run` to fit and save the models") from None
    except OSError as exc:
        raise RunError(f"cannot read model file {path}: {exc.strerror or exc}") from None

    try:
        untrusted, refused, missing = _audit(data)
    except _NotSkops as exc:
        raise RunError(f"model file {path} is not a model file written by mlproj ({exc})",
                       hint=_NOT_OURS_HINT) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, TypeError, EOFError,
            OSError, RecursionError, MemoryError, NotImplementedError) as exc:
        # NotImplementedError: zip compression methods Python cannot read.
        raise RunError(f"model file {path} is not a valid skops model file ({_describe(exc)})",
                       hint=_NOT_OURS_HINT) from None

    if refused:
        raise RunError(f"model file {path} contains types that mlproj did not write: {', '.join(refused)}",
                       hint=_NOT_OURS_HINT)
    if missing:
        raise RunError(
            f"model file {path} needs {', '.join(missing)}, which the installed scikit-learn, numpy "
            "or scipy does not provide; it was probably written with a different version",
            hint="re-run `mlproj run` to recreate it with the installed versions",
        )

    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as exc:  # noqa: BLE001 - a file that fails to rebuild is the user's, not a bug
        raise RunError(
            f"model file {path} could not be loaded ({_describe(exc)})",
            hint="it was probably written with a different version of scikit-learn or skops; "
            "re-run `mlproj run` to recreate it",
        ) from None


class _NotSkops(Exception):
    pass


def _audit(data: bytes) -> tuple[list[str], list[str], list[str]]:
    """(untrusted, refused, missing): the type names skops would not rebuild by default, and
    among them those `_is_trusted` refuses and those it would accept but the installed packages
    do not have (a file from another scikit-learn version).
    """
    if not data:
        raise _NotSkops("the file is empty")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _NotSkops("a Python pickle" if data[:1] == b"\x80" else "not a zip archive")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if "schema.json" not in archive.namelist():
            raise _NotSkops("a zip archive without schema.json")
        schema = json.loads(archive.read("schema.json"))
    if not isinstance(schema, dict) or "__loader__" not in schema:
        raise _NotSkops("schema.json does not describe an object")

    untrusted = skops_io().get_untrusted_types(data=data)
    nodes = _nodes(schema)
    refused, missing = [], []
    for name in untrusted:
        # A name skops reports that no node of the file carries cannot come from a file we
        # wrote (the fixed constructor of a TreeNode is always also a node's own type): only
        # the exact names in _OURS and _SAFE_BUILTINS pass.
        module, cls, loaders = nodes.get(name, (None, None, {"<not a node>"}))
        try:
            trusted = _is_trusted(name, loaders, module=module, cls=cls)
        except (ImportError, AttributeError):
            missing.append(name)
            continue
        except Exception:  # noqa: BLE001 - a module of the package that fails to import
            trusted = False
        if not trusted:
            refused.append(name)
    return untrusted, refused, missing


def _nodes(schema: dict) -> dict[str, tuple[str, str, set[str]]]:
    """Every node of schema.json by type name: (module, class, loaders it appears with).

    Visits every JSON object with a "__loader__" key wherever it is, a superset of the nodes
    skops builds. Iterative, so a deeply nested file cannot exhaust the stack.
    """
    found: dict[str, tuple[str, str, set[str]]] = {}
    stack: list[Any] = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                module, cls = str(item.get("__module__")), str(item.get("__class__"))
                entry = found.setdefault(f"{module}.{cls}", (module, cls, set()))
                entry[2].add(str(item["__loader__"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _is_trusted(type_name: str, loaders: Iterable[str], *, module: str | None = None,
                cls: str | None = None) -> bool:
    """Whether mlproj lets skops rebuild `type_name` with the given loaders.

    Raises ImportError/AttributeError if the name is acceptable but the installed package
    does not have it.
    """
    if type_name in _OURS or type_name in _SAFE_BUILTINS:
        return True
    if not type_name.startswith(tuple(p + "." for p in _PACKAGES)):
        return False
    if not set(loaders) <= _PACKAGE_LOADERS:
        return False
    if module is None or cls is None:
        module, _, cls = type_name.rpartition(".")
    if not _in_packages(module):
        return False
    obj = getattr(importlib.import_module(module), cls)
    # A class defined in the package itself: not a function, not a re-exported foreign class.
    return isinstance(obj, type) and _in_packages(getattr(obj, "__module__", None) or "")


def _in_packages(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _PACKAGES)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
