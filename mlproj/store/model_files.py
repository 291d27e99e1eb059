"""Fitted models on disk, in the skops format: a zip of JSON and .npy files, never a pickle.

Loading a pickle runs whatever code the file names, so a model file from a colleague, a
download, a tampered run folder or cache could take over the machine. skops stores object
*states* and rebuilds the objects itself, but how safe that is depends on which types it is
allowed to rebuild: rebuilding an object can call its class's ``__setstate__`` (scipy's
``rv_continuous`` passes text from the state to ``exec``), leave it to a ``__del__`` (numpy's
``DataSource`` deletes a directory named in its state), or call the named object with
arguments from the file (``numpy.memmap`` creates files). So mlproj decides itself, before
skops builds or imports anything, and trusts nothing the file asks for:

1. The zip is checked first (`_open_archive`): the number of members, their uncompressed
   sizes, the compression ratio, and the header of every array, so that a small file cannot
   unpack to gigabytes. mlproj writes its members uncompressed, so none of these limits ever
   refuses a file mlproj wrote.
2. schema.json is walked by mlproj (`_audit`): every node, anywhere in it, is judged by its
   skops loader *and* its type against `_TRUSTED`, an explicit table of the exact types found
   in the model files mlproj writes, each with the reason skops rebuilding it is safe; the
   estimator classes are those of mlproj's own allow-list (`mlproj.plan.estimators`). Names carried
   in a node's payload (the bit generator of a numpy Generator) are checked too, and so is how
   often skops's own audit would walk nodes shared by reference (`_audit_visits`).
3. Every accepted class is checked for its own ``__setstate__``, ``__reduce__``,
   ``__reduce_ex__``, ``__del__`` or Python ``__new__`` (`_unreviewed_hooks`): each one
   defined anywhere in its MRO must be in `_HOOK_OWNERS`, the hooks reviewed for what they do
   with a state read from a file. This is defence in depth: a class added to `_TRUSTED` (or
   an estimator added to scikit-learn) with a new hook is refused until it is reviewed.
4. Only then is skops called, with exactly the accepted type names as `trusted`.

`save_model` runs the same check on what it is about to write, so a run never leaves a model
file that `load_model` would refuse; `copy_model` runs it on a cached model before copying it
into a run folder. The check and the load read the same bytes (the file is read once), so the
file cannot be swapped in between. The README's "Safety" section documents the table.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import struct
import sys
import threading
import types
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlproj.errors import RunError
from mlproj.store import native_models
from mlproj.store.files import atomic_write

# --------------------------------------------------------------------------- limits
#
# mlproj writes every member uncompressed (skops's default, ZIP_STORED), so a file of N bytes
# holds at most N bytes of content: the size limits below bound what a *compressed* (crafted)
# file can make mlproj read, and what parsing schema.json can cost. Measured on the models
# mlproj writes (every allow-listed estimator, with and without pipelines, calibration and
# σ(x) models): at most ~3,700 members (a calibrated 3-class GradientBoostingClassifier: ~4 per
# tree), schema.json up to 32 MB (the same model; ~10 kB per boosted tree, whatever the number
# of rows), nesting depth 35, and one "{" or "[" per >= 150 bytes of schema.json.

# Members of the zip: ~4 per tree, so 50,000 trees (a calibrated 10-class gradient boosting with
# 1,500 iterations). Checked in the zip's end record before Python parses the central directory.
MAX_MEMBERS = 200_000
# The central directory is parsed into ~0.5 kB of objects per entry: ~100 MB at this size.
MAX_CENTRAL_DIRECTORY_BYTES = 64 * 2**20
# schema.json, uncompressed. Parsing it costs about twice its size in memory (measured: 61 MB
# for 32 MB); 256 MiB leaves room for boosted models 8x larger than the largest measured.
MAX_SCHEMA_BYTES = 256 * 2**20
# Containers ({ or [) per byte of schema.json: at most 1/150 in files mlproj writes. A file of
# only "[{},{},...]" would cost ~25 bytes of memory per byte to parse; at 1/50 it is ~5.
MAX_SCHEMA_CONTAINERS_PER_BYTE = 1 / 50
# JSON nesting (35 measured). skops rebuilds recursively, about two frames per level: this keeps
# it far from Python's recursion limit.
MAX_SCHEMA_DEPTH = 200
# Visits of skops's own audit, which walks a node shared by reference again at every reference
# (a 4 kB file of nested shared lists took skops 0.7 s at 2^19 visits, 4x more per level). In
# files mlproj writes each node is visited once (skops writes a shared object out in full at
# every reference); 100,000 visits take skops ~0.15 s.
MAX_AUDIT_VISITS = 100_000
MAX_AUDIT_VISITS_PER_NODE = 4
# Compressed members (mlproj writes none): uncompressed size per compressed byte, and in total.
# Deflate reaches ~1000:1 on repeated bytes (the 1 GiB of spaces in 1 MB of issue 20), 2-10:1 on
# arrays and ~30:1 on schema.json; a re-zipped model stays well within both.
MAX_COMPRESSION_RATIO = 200
MAX_INFLATED_BYTES = 1 * 2**30
# numpy's own limit on the header of a .npy member (numpy.lib.format, max_header_size).
NPY_MAX_HEADER_BYTES = 10_000

# --------------------------------------------------------------------------- the trusted types
#
# (skops loader, type) -> why skops rebuilding that node from a file is safe. What each loader
# does with the type it names (skops 0.16, protocol 2; files of other protocols are refused):
#
#   JsonNode          json.loads(text): plain JSON values; the type name is not used.
#   ListNode/TupleNode/DictNode/SliceNode   the builtin container of audited items.
#   TypeNode          imports the module and returns the object itself (dict key types, dtypes).
#   FunctionNode      imports the module and returns the function itself.
#   PartialNode       functools.partial(func, *args, **kwds) of audited nodes (never a subclass).
#   NdArrayNode       numpy.load(allow_pickle=False) of a .npy member (headers checked by
#                     `_check_arrays`), or an object array of audited nodes; for a numpy scalar
#                     type, type(array) converts it.
#   DTypeNode         the dtype of an empty array loaded as above.
#   RandomStateNode   RandomState(), then set_state(state), which accepts only MT19937 states.
#   RandomGeneratorNode  Generator(<bit generator>(SeedSequence(**state))): the bit generator
#                     is named in the payload, checked to be PCG64 (`_check_payload`).
#   TreeNode          sklearn's Tree(*args) then Tree.__setstate__(state), whatever the node's name.
#   LossNode          the named Cython loss called with its float parameters, then __setstate__.
#   ObjectNode        cls.__new__(cls), then cls.__setstate__(state) or __dict__.update(state):
#                     never the class's __init__, but its hooks (see `_HOOK_OWNERS`).
#
# Not trusted at all: ConstructorFromReduceNode (calls the named type with arguments from the
# file), MethodNode, OperatorFuncNode, DefaultDictNode, SetNode, BytesNode, BytearrayNode,
# SparseMatrixNode, MaskedArrayNode, CachedNode and any loader of a future skops: no model
# mlproj writes contains them.

_ARRAY = "a numpy array: numpy.load with allow_pickle=False of a .npy member whose header mlproj checked"
_SCALAR = "a numpy scalar: the scalar type converts the array loaded as for numpy.ndarray"
_KEY = "a dict key type or dtype argument: the builtin or numpy scalar type itself, called only on a key"
_LINK = "a link function of scikit-learn's losses: no hooks, no state beyond __dict__.update"
_LOSS = "a loss of gradient boosting and GLMs: no hooks, __dict__.update of its Cython loss, link and interval"
_CYLOSS = "a Cython loss: called with its float parameters, Cython-generated __setstate__ sets typed fields"
_SGDLOSS = "an SGD loss (Cython): called with its float parameter; no other state"
_METRIC = ("a distance of the neighbours' ball/kd-trees (metric parameter): DistanceMetric64.__setstate__ "
           "sets its typed fields p, vec, mat")
_ESTIMATOR = ("a scikit-learn estimator or transformer: BaseEstimator.__setstate__ (a version check, then "
              "__dict__.update); its __init__ is not called")

_TRUSTED: dict[tuple[str, str], str] = {
    # -- builtins
    ("JsonNode", "builtins.str"): "JSON text parsed with json.loads (str, int, float, bool, None)",
    ("ListNode", "builtins.list"): "a list of audited nodes",
    ("TupleNode", "builtins.tuple"): "a tuple of audited nodes (a plain tuple, never a namedtuple)",
    ("DictNode", "builtins.dict"): "a dict of audited nodes, keys converted by audited TypeNodes",
    ("SliceNode", "builtins.slice"): "slice(start, stop, step) of JSON values (ColumnTransformer's output_indices_)",
    ("PartialNode", "functools.partial"): ("functools.partial of audited nodes, never a subclass: "
                                           "the remainder of HistGradientBoosting's categorical preprocessor"),
    ("FunctionNode", "sklearn.utils.validation.check_array"): ("the input validation inside that partial; "
                                                              "returns the function, calls nothing"),
    ("FunctionNode", "sklearn.feature_selection._univariate_selection.f_classif"): (
        "the default score function of a SelectKBest-like pipeline step; returns the function, calls nothing"),
    ("TypeNode", "builtins.str"): _KEY,
    ("TypeNode", "builtins.int"): _KEY,
    ("TypeNode", "builtins.float"): _KEY,
    ("TypeNode", "builtins.bool"): _KEY,
    ("TypeNode", "numpy.int32"): _KEY,
    ("TypeNode", "numpy.int64"): _KEY,
    ("TypeNode", "numpy.float32"): _KEY,
    ("TypeNode", "numpy.float64"): _KEY,
    # -- numpy
    ("NdArrayNode", "numpy.ndarray"): _ARRAY,
    ("NdArrayNode", "numpy.bool"): _SCALAR,
    ("NdArrayNode", "numpy.int8"): _SCALAR,
    ("NdArrayNode", "numpy.int16"): _SCALAR,
    ("NdArrayNode", "numpy.int32"): _SCALAR,
    ("NdArrayNode", "numpy.int64"): _SCALAR,
    ("NdArrayNode", "numpy.uint8"): _SCALAR,
    ("NdArrayNode", "numpy.uint16"): _SCALAR,
    ("NdArrayNode", "numpy.uint32"): _SCALAR,
    ("NdArrayNode", "numpy.uint64"): _SCALAR,
    ("NdArrayNode", "numpy.float16"): _SCALAR,
    ("NdArrayNode", "numpy.float32"): _SCALAR,
    ("NdArrayNode", "numpy.float64"): _SCALAR,
    ("NdArrayNode", "numpy.str_"): _SCALAR,
    ("DTypeNode", "numpy.dtype"): "the dtype of an empty array loaded as for numpy.ndarray",
    ("RandomStateNode", "numpy.random.mtrand.RandomState"): "RandomState() then set_state, which accepts only an MT19937 state",
    ("RandomGeneratorNode", "numpy.random._generator.Generator"): ("Generator(PCG64(SeedSequence(...))), the bit "
                                                                   "generator name checked, the pool size bounded"),
    # -- mlproj
    ("ObjectNode", "mlproj.plan.estimators.UninformativeClassifier"): "mlproj's dummy baseline: " + _ESTIMATOR,
    ("ObjectNode", "mlproj.store.native_models.NativeModel"): (
        "a third-party model as plain data (store.native_models): no hooks, __dict__.update; rebuilt by mlproj "
        "only for a class of the project's allow_imports, whose path is checked before skops reads the file"),
    # -- scikit-learn: what mlproj wraps estimators in (models.build_estimator)
    ("ObjectNode", "sklearn.pipeline.Pipeline"): "the pipeline of imputation/scaling: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.impute._base.SimpleImputer"): "data.missing: impute: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.impute._base.MissingIndicator"): "SimpleImputer(add_indicator=True): " + _ESTIMATOR,
    ("ObjectNode", "sklearn.preprocessing._data.StandardScaler"): "scale: true: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.calibration._CalibratedClassifier"): ("uncertainty.method: calibrated: a plain class "
                                                                  "(estimator, calibrators, classes), __dict__.update"),
    ("ObjectNode", "sklearn.calibration._SigmoidCalibration"): "calibration: sigmoid: " + _ESTIMATOR,
    # -- scikit-learn: internal parts of fitted estimators
    ("TreeNode", "sklearn.tree._tree.Tree"): ("every tree model: Tree(n_features, n_classes, n_outputs), then its "
                                              "Cython __setstate__ checks the node and value arrays' dtype and shape "
                                              "(not the child indices: a crafted tree can crash predict, not run code)"),
    ("ObjectNode", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"): (
        "a tree of HistGradientBoosting: its __setstate__ is __dict__.update, then a dtype cast of the nodes "
        "array (not its child indices: a crafted tree can crash predict, not run code)"),
    ("ObjectNode", "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper"): "HistGradientBoosting's binning: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.compose._column_transformer.ColumnTransformer"): (
        "HistGradientBoosting's preprocessor of categorical features: " + _ESTIMATOR),
    ("ObjectNode", "sklearn.preprocessing._encoders.OrdinalEncoder"): "inside that preprocessor: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.preprocessing._data.KernelCenterer"): "inside a KernelPCA pipeline step: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.preprocessing._function_transformer.FunctionTransformer"): (
        "TransformedTargetRegressor's identity, the preprocessor's remainder: " + _ESTIMATOR),
    ("ObjectNode", "sklearn.preprocessing._label.LabelBinarizer"): "classes of MLP, ridge classifiers: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.preprocessing._label.LabelEncoder"): "classes of boosting, GP classifiers: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.multiclass.OneVsRestClassifier"): "multi-class GaussianProcessClassifier: " + _ESTIMATOR,
    ("ObjectNode", "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace"): (
        "GaussianProcessClassifier's fitted part: " + _ESTIMATOR),
    ("ObjectNode", "sklearn.gaussian_process.kernels.ConstantKernel"): "the default GP kernel: no hooks, __dict__.update",
    ("ObjectNode", "sklearn.gaussian_process.kernels.Product"): "the default GP kernel: no hooks, __dict__.update",
    ("ObjectNode", "sklearn.gaussian_process.kernels.RBF"): "the default GP kernel: no hooks, __dict__.update",
    ("ObjectNode", "sklearn.neighbors._unsupervised.NearestNeighbors"): "LabelSpreading/LabelPropagation (kernel knn): " + _ESTIMATOR,
    ("ObjectNode", "sklearn.neighbors._kd_tree.KDTree"): ("the neighbours' index: BinaryTree64.__setstate__ assigns "
                                                          "arrays to typed fields (the metric must be a DistanceMetric64)"),
    ("ObjectNode", "sklearn.neighbors._ball_tree.BallTree"): ("the neighbours' index: BinaryTree64.__setstate__ assigns "
                                                              "arrays to typed fields (the metric must be a DistanceMetric64)"),
    ("ObjectNode", "sklearn.neural_network._stochastic_optimizers.AdamOptimizer"): "MLP solver adam: no hooks, __dict__.update",
    ("ObjectNode", "sklearn.neural_network._stochastic_optimizers.SGDOptimizer"): "MLP solver sgd: no hooks, __dict__.update",
    ("ObjectNode", "sklearn._loss.link.IdentityLink"): _LINK,
    ("ObjectNode", "sklearn._loss.link.LogLink"): _LINK,
    ("ObjectNode", "sklearn._loss.link.LogitLink"): _LINK,
    ("ObjectNode", "sklearn._loss.link.HalfLogitLink"): _LINK,
    ("ObjectNode", "sklearn._loss.link.MultinomialLogit"): _LINK,
    ("ObjectNode", "sklearn._loss.link.Interval"): "a dataclass of two floats and two flags: no hooks, __dict__.update",
    ("ObjectNode", "sklearn._loss.loss.AbsoluteError"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.ExponentialLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfBinomialLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfGammaLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfMultinomialLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfPoissonLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfSquaredError"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfTweedieLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HalfTweedieLossIdentity"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.HuberLoss"): _LOSS,
    ("ObjectNode", "sklearn._loss.loss.PinballLoss"): _LOSS,
    ("LossNode", "sklearn._loss._loss.CyAbsoluteError"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyExponentialLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfBinomialLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfGammaLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfMultinomialLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfPoissonLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfSquaredError"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfTweedieLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHalfTweedieLossIdentity"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyHuberLoss"): _CYLOSS,
    ("LossNode", "sklearn._loss._loss.CyPinballLoss"): _CYLOSS,
    ("LossNode", "sklearn.linear_model._sgd_fast.Hinge"): _SGDLOSS,
    ("LossNode", "sklearn.linear_model._sgd_fast.SquaredHinge"): _SGDLOSS,
    ("LossNode", "sklearn.linear_model._sgd_fast.ModifiedHuber"): _SGDLOSS,
    ("LossNode", "sklearn.linear_model._sgd_fast.EpsilonInsensitive"): _SGDLOSS,
    ("LossNode", "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive"): _SGDLOSS,
    ("ObjectNode", "sklearn.metrics._dist_metrics.EuclideanDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.SEuclideanDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.ManhattanDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.ChebyshevDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.MinkowskiDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.MahalanobisDistance64"): _METRIC + " (and sizes a buffer from mat)",
    ("ObjectNode", "sklearn.metrics._dist_metrics.HaversineDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.HammingDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.CanberraDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.BrayCurtisDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.JaccardDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.MatchingDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.DiceDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.RogersTanimotoDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.RussellRaoDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.SokalMichenerDistance64"): _METRIC,
    ("ObjectNode", "sklearn.metrics._dist_metrics.SokalSneathDistance64"): _METRIC,
}
# Besides these, an ObjectNode may be any estimator class of mlproj's own allow-list
# (`models.estimator_class` / `models.allowed_estimators`, exactly as `mlproj estimators` lists
# them, by their defining module): see `_is_allowed_estimator`.
_ESTIMATOR_LOADER = "ObjectNode"
_NATIVE = "mlproj.store.native_models.NativeModel"

# The only bit generator a numpy Generator in a model file may name (numpy.random.default_rng,
# what scikit-learn uses), and the bound on its SeedSequence's pool (numpy's default is 4).
_BIT_GENERATORS = frozenset({"PCG64"})
_MAX_POOL_SIZE = 64

# Hooks that run, or would run, code on a state read from a file, and the classes whose own
# definitions of them were reviewed. A Python __new__ is included (ObjectNode calls
# cls.__new__(cls)); the C allocation of an extension type (numpy, Cython) is not a hook.
_HOOKS = ("__setstate__", "__reduce__", "__reduce_ex__", "__del__", "__new__")
_HOOK_OWNERS = frozenset({
    # version warning, then __dict__.update(state)
    "sklearn.base.BaseEstimator.__setstate__",
    # super().__setstate__, then rebuilds its interpolation from the fitted thresholds arrays
    "sklearn.isotonic.IsotonicRegression.__setstate__",
    # super().__setstate__ / __dict__.update, then casts the nodes array to its record dtype
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor.__setstate__",
    # the FutureWarning of a deprecated class, then object.__new__(cls)
    "sklearn.linear_model._passive_aggressive.PassiveAggressiveClassifier.__new__",
    "sklearn.linear_model._passive_aggressive.PassiveAggressiveRegressor.__new__",
    # Cython: copy node/value arrays into the tree after checking dtype and shape
    "sklearn.tree._tree.Tree.__setstate__", "sklearn.tree._tree.Tree.__reduce__",
    # Cython: assign the state's arrays and numbers to typed fields
    "sklearn.neighbors._kd_tree.BinaryTree64.__setstate__", "sklearn.neighbors._kd_tree.BinaryTree64.__reduce__",
    "sklearn.neighbors._ball_tree.BinaryTree64.__setstate__", "sklearn.neighbors._ball_tree.BinaryTree64.__reduce__",
    "sklearn.metrics._dist_metrics.DistanceMetric.__setstate__", "sklearn.metrics._dist_metrics.DistanceMetric.__reduce__",
    "sklearn.metrics._dist_metrics.DistanceMetric64.__setstate__",
    "sklearn.metrics._dist_metrics.DistanceMetric64.__reduce__",
    "sklearn.metrics._dist_metrics.MahalanobisDistance64.__setstate__",
    # Cython-generated pickling of the losses: typed float fields
    "sklearn._loss._loss.CyLossFunction.__reduce__",
    "sklearn._loss._loss.CyHalfMultinomialLoss.__reduce__", "sklearn._loss._loss.CyHalfMultinomialLoss.__setstate__",
    "sklearn._loss._loss.CyHalfTweedieLoss.__reduce__", "sklearn._loss._loss.CyHalfTweedieLossIdentity.__reduce__",
    "sklearn._loss._loss.CyHuberLoss.__reduce__", "sklearn._loss._loss.CyPinballLoss.__reduce__",
    "sklearn.linear_model._sgd_fast.Hinge.__reduce__", "sklearn.linear_model._sgd_fast.SquaredHinge.__reduce__",
    "sklearn.linear_model._sgd_fast.ModifiedHuber.__reduce__",
    "sklearn.linear_model._sgd_fast.EpsilonInsensitive.__reduce__",
    "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive.__reduce__",
    # numpy's own pickling (skops never calls them: arrays come from numpy.load, random states
    # from set_state and the Generator's constructor)
    "numpy.ndarray.__reduce__", "numpy.ndarray.__reduce_ex__", "numpy.ndarray.__setstate__",
    "numpy.generic.__reduce__", "numpy.generic.__setstate__",
    "numpy.dtype.__reduce__", "numpy.dtype.__setstate__",
    "numpy.random.mtrand.RandomState.__reduce__", "numpy.random.mtrand.RandomState.__setstate__",
    "numpy.random._generator.Generator.__reduce__", "numpy.random._generator.Generator.__setstate__",
    # builtins (skops builds these with partial(...) and slice(...), not their pickling)
    "functools.partial.__reduce__", "functools.partial.__setstate__", "builtins.slice.__reduce__",
})

_NOT_OURS_HINT = ("nothing was loaded from it. Only use model files written by `mlproj run`; "
                  "`mlproj run --rerun` writes a new run folder with the project's models")
_CACHED_HINT = ("nothing was loaded from it. Delete it (or run `mlproj cache prune --all`) and run "
                "`mlproj run` again: the model is refitted")
_VERSION_HINT = "re-run `mlproj run` to recreate it with the installed versions"
_CACHED_VERSION_HINT = ("delete it (or run `mlproj cache prune --all`) and run `mlproj run` again: the model is "
                        "refitted with the installed versions")

_skops_import = threading.Lock()


def skops_io():
    """The skops.io module, imported without its list of every scikit-learn estimator.

    skops builds that list when it is imported (`sklearn.utils.all_estimators`), which imports
    every module of scikit-learn and, where dask is installed, dask.array through scikit-learn's
    array-API shims: ~0.4 s of CPU in every run and every `mlproj predict`. The list is only
    skops's default of which types `load` trusts, and mlproj never relies on that default:
    `_audit` judges every node before skops sees the file, and `loads` gets the accepted names
    explicitly.

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


# --------------------------------------------------------------------------- public functions

# Whether a class name from a file is, exactly, an estimator of mlproj's allow-list
# (mlproj.plan.estimators.is_allowed_estimator_class). The caller passes it in: the registry of
# estimators belongs to the plan, a layer above the files.
IsEstimator = Callable[[str], bool]


class AllowedTypes:
    """What the model files of one project may hold beyond `_TRUSTED`: mlproj's allow-list of
    estimators (`estimators`) and the classes of the project's allow_imports (`classes`, already
    imported by the caller). Those skops can rebuild as plain estimators (BaseEstimator's
    __setstate__ and no other hook) are trusted by their exact defining name; XGBoost, LightGBM
    and CatBoost models are stored in their library's own format (store.native_models)."""

    def __init__(self, estimators: IsEstimator, classes=()):
        self.estimators = estimators
        self.native = {native_models.qualified(c): c for c in classes if native_models.native_format(c)}
        self.skops = frozenset(native_models.qualified(c) for c in classes if not native_models.native_format(c))

    def __call__(self, name: str) -> bool:
        return name in self.skops or self.estimators(name)


def _natives(estimators: IsEstimator) -> dict[str, type]:
    return dict(getattr(estimators, "native", {}))


def save_model(estimator: Any, path: Path, estimators: IsEstimator) -> None:
    """Write a fitted estimator to `path` in the skops format, atomically.

    Refuses (RunError) an estimator that `load_model` would refuse, so that a run never
    leaves behind a model file that cannot be read back.
    """
    sio = skops_io()
    from skops.io.exceptions import UnsupportedTypeException

    path = Path(path)
    kind = type(estimator).__name__
    try:
        data = sio.dumps(native_models.externalize(estimator))
    except UnsupportedTypeException as exc:
        raise RunError(
            f"cannot save the fitted {kind} to {path}: {exc}",
            hint="choose another estimator; mlproj saves models only in the safe skops format, never as pickles",
        ) from None
    try:
        _check(data, estimators)
    except _Refusal as refusal:
        raise RunError(f"cannot save the fitted {kind} to {path}: mlproj would refuse to load it back, "
                       f"as the file {refusal.problem}", hint="choose another estimator or other parameters") from None
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def load_model(path: Path, estimators: IsEstimator, *, sha256: str | None = None) -> Any:
    """Read a model written by `save_model`; RunError for anything else, never a traceback.

    Nothing from the file is imported, built or called before the whole file has passed the
    checks of this module. `sha256`: the digest the run recorded when it wrote the file (see
    `copy_model`); a file whose bytes differ is refused before anything else looks inside it.
    """
    path = Path(path)
    data = _read(path, "model file")
    if sha256 is not None and digest(data) != sha256:
        # Integrity, not the security boundary: whoever can rewrite models/<name>.json can record
        # a crafted file's digest, and then the checks below still refuse what it holds.
        raise RunError(
            f"model file {path} is not the file the run wrote: its SHA-256 differs from the one recorded in "
            f"{path.with_suffix('.json').name}, so it was changed, damaged or replaced since. Nothing was loaded "
            "from it",
            hint="re-run `mlproj run` to recreate the run's models (or restore the run folder from a copy)",
        )
    trusted = _checked(data, path, estimators)
    sio = skops_io()
    try:
        model = sio.loads(data, trusted=trusted)
    except Exception as exc:  # noqa: BLE001 - a file that fails to rebuild is the user's, not a bug
        raise RunError(
            f"model file {path} passed mlproj's checks but could not be rebuilt ({_describe(exc)})",
            hint="it is damaged, or was written with another version of scikit-learn or skops; "
            "re-run `mlproj run` to recreate it",
        ) from None
    try:
        return native_models.internalize(model, _natives(estimators))
    except native_models.NativeRefusal as refusal:
        raise RunError(f"model file {path} {refusal}", hint=_NOT_OURS_HINT) from None
    except Exception as exc:  # noqa: BLE001 - the library could not read its own model back
        raise RunError(
            f"model file {path} passed mlproj's checks but its third-party model could not be rebuilt "
            f"({_describe(exc)})",
            hint="it is damaged, or was written with another version of the library; re-run `mlproj run`",
        ) from None


def copy_model(source: Path, target: Path, estimators: IsEstimator) -> str:
    """Copy a cached model file into a run folder, after the checks `load_model` makes, and
    return the SHA-256 of what was written, for the run to record.

    The bytes checked are the bytes written (atomically): a crafted file in `.mlproj/cache/`
    never reaches `runs/<run>/models/`. A refusal is a RunError naming the cache file.
    """
    source, target = Path(source), Path(target)
    data = _read(source, "cached model file")
    _checked(data, source, estimators, cached=True)
    with atomic_write(target, "wb") as handle:
        handle.write(data)
    return digest(data)


def digest(data: bytes) -> str:
    """SHA-256 of a model file's bytes, as recorded in models/<name>.json."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- the checks

class _Refusal(Exception):
    """The file is not one mlproj would load. `version`: only that the installed packages lack a
    type that *is* trusted, the one case to describe as "a different version"."""

    def __init__(self, problem: str, *, version: bool = False):
        super().__init__(problem)
        self.problem = problem
        self.version = version


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RunError(f"{what} {path} does not exist",
                       hint="run `mlproj run` to fit and save the models") from None
    except OSError as exc:
        raise RunError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _checked(data: bytes, path: Path, estimators: IsEstimator, *, cached: bool = False) -> list[str]:
    """The type names to trust when loading `data`, or the RunError saying why it is refused."""
    what = f"cached model file {path}" if cached else f"model file {path}"
    try:
        return _check(data, estimators)
    except _Refusal as refusal:
        if refusal.version:
            hint = _CACHED_VERSION_HINT if cached else _VERSION_HINT
        else:
            hint = _CACHED_HINT if cached else _NOT_OURS_HINT
        raise RunError(f"{what} {refusal.problem}", hint=hint) from None


def _check(data: bytes, estimators: IsEstimator) -> list[str]:
    """Everything mlproj checks before skops may read `data`; the accepted type names.

    Raises _Refusal, never anything else a file can cause.
    """
    try:
        archive = _open_archive(data)
        with archive:
            schema = _read_schema(archive)
            trusted, files, refused, missing = _audit(schema, estimators, _natives(estimators))
            if refused:
                raise _Refusal(f"contains types that mlproj did not write: {', '.join(refused)}")
            if missing:
                raise _Refusal(
                    f"needs {', '.join(missing)}, which mlproj trusts but the installed scikit-learn or numpy "
                    "does not provide; it was probably written with a different version", version=True)
            _check_arrays(archive, files)
        return trusted
    except _Refusal:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, TypeError, EOFError, OSError,
            RecursionError, MemoryError, NotImplementedError, struct.error) as exc:
        # NotImplementedError: zip compression methods Python cannot read.
        raise _Refusal(f"is not a valid skops model file ({_describe(exc)})") from None


def _not_ours(reason: str) -> _Refusal:
    return _Refusal(f"is not a model file written by mlproj: {reason}")


def _open_archive(data: bytes) -> zipfile.ZipFile:
    """The zip, once its central directory and every member's sizes are within the limits
    (nothing is decompressed here)."""
    if not data:
        raise _not_ours("the file is empty")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _not_ours("a Python pickle" if data[:1] == b"\x80" else "not a zip archive")
    entries, directory = _end_record(data)
    if entries > MAX_MEMBERS or directory > MAX_CENTRAL_DIRECTORY_BYTES:
        raise _not_ours(f"a zip of {entries:,} members in a {directory:,}-byte directory; mlproj reads at most "
                        f"{MAX_MEMBERS:,} members")
    archive = zipfile.ZipFile(io.BytesIO(data))
    try:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _not_ours(f"a zip of {len(infos):,} members; mlproj reads at most {MAX_MEMBERS:,}")
        names: set[str] = set()
        inflated = stored = 0
        for info in infos:
            if info.filename in names:
                raise _not_ours(f"the zip holds {info.filename} twice")
            names.add(info.filename)
            if info.flag_bits & 0x1:
                raise _not_ours(f"{info.filename} is encrypted")
            stored += info.compress_size
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise _not_ours(f"{info.filename} claims {info.file_size:,} bytes stored in "
                                    f"{info.compress_size:,}")
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                    raise _not_ours(f"{info.filename} would unpack {info.compress_size:,} bytes to "
                                    f"{info.file_size:,}, a ratio above {MAX_COMPRESSION_RATIO} (a zip bomb?); "
                                    "mlproj writes model files uncompressed")
                inflated += info.file_size
            else:
                raise _not_ours(f"{info.filename} is compressed with zip method {info.compress_type}, which "
                                "mlproj never writes")
        if stored > len(data):
            raise _not_ours(f"its members claim {stored:,} bytes in a file of {len(data):,} (overlapping "
                            "members: a zip bomb?)")
        if inflated > MAX_INFLATED_BYTES:
            raise _not_ours(f"its compressed members would unpack to {inflated:,} bytes, more than the "
                            f"{MAX_INFLATED_BYTES:,} mlproj unpacks (a zip bomb?); mlproj writes model files "
                            "uncompressed")
        if "schema.json" not in names:
            raise _not_ours("a zip archive without schema.json")
        size = archive.getinfo("schema.json").file_size
        if size > MAX_SCHEMA_BYTES:
            raise _not_ours(f"its schema.json would be {size:,} bytes, more than the {MAX_SCHEMA_BYTES:,} "
                            "mlproj reads")
    except BaseException:
        archive.close()
        raise
    return archive


_END = struct.Struct("<4s4H2LH")            # end of central directory record
_END64_LOCATOR = struct.Struct("<4sLQL")    # zip64 end of central directory locator
_END64 = struct.Struct("<4sQ2H2L4Q")        # zip64 end of central directory record


def _end_record(data: bytes) -> tuple[int, int]:
    """(members, bytes of the central directory) as the zip's end record states them, read
    before `zipfile` parses (and allocates) the whole directory. Found as zipfile finds it."""
    start = data.rfind(b"PK\x05\x06", max(0, len(data) - _END.size - 0xFFFF))
    if start < 0 or start + _END.size > len(data):
        raise _not_ours("not a zip archive")
    _, _, _, _, entries, directory, _, _ = _END.unpack_from(data, start)
    locator = start - _END64_LOCATOR.size
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        record = locator - _END64.size
        if record < 0 or data[record:record + 4] != b"PK\x06\x06":
            raise _not_ours("a damaged zip64 end record")
        fields = _END64.unpack_from(data, record)
        entries, directory = fields[7], fields[8]
    return entries, directory


def _read_schema(archive: zipfile.ZipFile) -> dict:
    # Never more than the limit + 1 bytes, whatever the member's header claims.
    with archive.open("schema.json") as member:
        raw = member.read(MAX_SCHEMA_BYTES + 1)
    if len(raw) > MAX_SCHEMA_BYTES:
        raise _not_ours(f"its schema.json is larger than the {MAX_SCHEMA_BYTES:,} bytes mlproj reads")
    containers = raw.count(b"{") + raw.count(b"[")
    if containers > max(1000, len(raw) * MAX_SCHEMA_CONTAINERS_PER_BYTE):
        raise _not_ours(f"its schema.json holds {containers:,} objects and lists in {len(raw):,} bytes, far "
                        "more than skops writes")
    schema = json.loads(raw)
    del raw
    if not isinstance(schema, dict) or "__loader__" not in schema:
        raise _not_ours("schema.json does not describe an object")
    protocol = schema.get("protocol")
    if type(protocol) is not int or protocol != _protocol():
        raise _Refusal(f"uses skops file protocol {protocol!r}, while the installed skops writes protocol "
                       f"{_protocol()}: mlproj loads only the protocol it writes (older ones use other loaders)")
    return schema


@lru_cache(maxsize=1)
def _protocol() -> int:
    """The skops file protocol that the installed skops writes (and mlproj's checks were made for)."""
    with zipfile.ZipFile(io.BytesIO(skops_io().dumps(None))) as archive:
        return int(json.loads(archive.read("schema.json"))["protocol"])


def _audit(schema: dict, estimators: IsEstimator, natives: dict[str, type] | None = None
           ) -> tuple[list[str], set[str], list[str], list[str]]:
    """(trusted, files, refused, missing): the type names to pass to skops, the .npy members the
    arrays are read from, the nodes refused (described) and the trusted names the installed
    packages lack.

    Visits every JSON object with a "__loader__" key wherever it is, a superset of the nodes
    skops builds. Iterative, so a deeply nested file cannot exhaust the stack. Imports only
    modules of names already found on the trusted list.
    """
    found: set[tuple[str, str]] = set()
    files: set[str] = set()
    refused: list[str] = []
    # The nodes (objects with a "__loader__", or an "__id__": skops resolves {"__id__": n} to the
    # node it built first with that id), the nodes under each, and their ids.
    children: list[list[int]] = []
    ids: list[int | None] = []
    stack: list[tuple[Any, int, int]] = [(schema, 1, -1)]
    while stack:
        item, depth, parent = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            raise _not_ours(f"schema.json is nested more than {MAX_SCHEMA_DEPTH} levels deep")
        if isinstance(item, dict):
            if "__loader__" in item or "__id__" in item:
                key = item.get("__id__")
                if key is not None and type(key) is not int:
                    raise _not_ours(f"a node of schema.json has the id {key!r}, not a number")
                if parent >= 0:
                    children[parent].append(len(ids))
                parent = len(ids)
                children.append([])
                ids.append(key or None)  # skops never resolves a falsy id
            if "__loader__" in item:
                loader, module, cls = item.get("__loader__"), item.get("__module__"), item.get("__class__")
                if not all(isinstance(v, str) for v in (loader, module, cls)):
                    raise _not_ours("a node of schema.json without a loader, module and class name")
                found.add((loader, f"{module}.{cls}"))
                problem = _check_payload(loader, item, files, natives or {})
                if problem:
                    refused.append(problem)
            stack.extend((value, depth + 1, parent) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1, parent) for value in item)
    visits = _audit_visits(children, ids)
    if visits > max(MAX_AUDIT_VISITS, MAX_AUDIT_VISITS_PER_NODE * len(ids)):
        raise _not_ours(f"skops would visit its {len(ids):,} nodes more than {visits - 1:,} times, nested nodes "
                        "being shared by reference (a bomb?)")

    names, missing = set(), []
    for loader, name in sorted(found):
        if (loader, name) not in _TRUSTED and not (loader == _ESTIMATOR_LOADER and estimators(name)):
            refused.append(f"{name} ({loader})")
            continue
        try:
            hooks = _unreviewed_hooks(name)
        except (ImportError, AttributeError):
            missing.append(name)
            continue
        except Exception:  # noqa: BLE001 - a trusted module that fails to import: refuse, never crash
            refused.append(f"{name} (its module fails to import)")
            continue
        if hooks:
            refused.append(f"{name} ({loader}; defines {', '.join(hooks)}, which mlproj has not reviewed)")
            continue
        names.add(name)
    return sorted(names), files, sorted(set(refused)), missing


def _audit_visits(children: list[list[int]], ids: list[int | None]) -> int:
    """An upper bound on the nodes skops's own audit visits (capped just above the limit).

    skops builds a node once per id, but its audit (get_unsafe_set) walks a node again at every
    reference to it, without memory: a chain of lists each holding its child twice is visited
    2^depth times. In files mlproj writes, every node is visited once (skops writes a shared
    object, such as the random state of a boosting model's trees, out in full at every
    reference). A node referenced while its own id is being walked is a cycle, which skops's
    audit visits once.
    """
    cap = max(MAX_AUDIT_VISITS, MAX_AUDIT_VISITS_PER_NODE * len(ids)) + 1
    if not ids:
        return 0
    groups: dict[int, list[int]] = {}
    for index, key in enumerate(ids):
        if key is not None:
            groups.setdefault(key, []).append(index)
    # A reference to a node with an id stands for whichever node skops built with that id: take
    # the largest. Done and in-progress marks per node and per id (in progress: a cycle).
    size = [0] * len(ids)
    node_state = [0] * len(ids)  # 0: not seen, 1: being walked, 2: done
    group_size: dict[int, int] = {}
    group_state: dict[int, int] = {}

    def value(child: int) -> int:
        key = ids[child]
        if key is None:
            return size[child] if node_state[child] == 2 else 1
        return group_size[key] if group_state.get(key) == 2 else 1

    stack: list[tuple[int, int]] = [(0, 0)]  # (what, index or id): 0 walk node, 1 node done, 2 walk id, 3 id done
    while stack:
        what, target = stack.pop()
        if what == 0:
            if node_state[target]:
                continue
            node_state[target] = 1
            stack.append((1, target))
            for child in children[target]:
                key = ids[child]
                stack.append((0, child) if key is None else (2, key))
        elif what == 1:
            size[target] = min(cap, 1 + sum(value(child) for child in children[target]))
            node_state[target] = 2
        elif what == 2:
            if group_state.get(target):
                continue
            group_state[target] = 1
            stack.append((3, target))
            stack.extend((0, member) for member in groups[target])
        else:
            group_size[target] = max(size[m] if node_state[m] == 2 else 1 for m in groups[target])
            group_state[target] = 2
    return size[0]


def _check_payload(loader: str, node: dict, files: set[str], natives: dict[str, type]) -> str | None:
    """Names and sizes a node carries in its content rather than in its type (None if fine)."""
    if loader == "ObjectNode" and f"{node.get('__module__')}.{node.get('__class__')}" == _NATIVE:
        path = native_models.native_paths(node)
        if path is None:
            return "a third-party model whose class mlproj cannot read (NativeModel)"
        if path not in natives:
            return f"{path} (a third-party model; the project's allow_imports does not list it)"
    elif loader == "NdArrayNode":
        kind = node.get("type")
        if kind == "numpy":
            name = node.get("file")
            if not isinstance(name, str):
                return "an array without its .npy member (NdArrayNode)"
            files.add(name)
        elif kind != "json":
            return f"an array of kind {kind!r} (NdArrayNode)"
    elif loader == "RandomGeneratorNode":
        try:
            content = node["content"]
            name = json.loads(content["bit_generator"]["content"]["bit_generator"]["content"])
            seeds = content["seed_seq"]["content"]
            pool = json.loads(seeds["pool_size"]["content"]) if "pool_size" in seeds else 4
        except (KeyError, TypeError, ValueError):
            return "a numpy Generator whose state mlproj cannot read (RandomGeneratorNode)"
        if name not in _BIT_GENERATORS:
            return f"numpy.random.{name} (the bit generator of a numpy Generator)"
        if type(pool) is not int or not 4 <= pool <= _MAX_POOL_SIZE:
            return f"a numpy Generator with a seed pool of {pool!r} words (RandomGeneratorNode)"
    return None


@lru_cache(maxsize=512)
def _unreviewed_hooks(name: str) -> tuple[str, ...]:
    """The hooks of the trusted `name` that are not in _HOOK_OWNERS, walking its MRO.

    Raises ImportError/AttributeError if the installed packages do not have it.
    """
    module, _, attribute = name.rpartition(".")
    obj = getattr(importlib.import_module(module), attribute)
    if not isinstance(obj, type):
        return ()  # a function (FunctionNode): returned, never instantiated
    unreviewed = []
    for klass in obj.__mro__:
        if klass is object:
            continue
        for hook in _HOOKS:
            if hook not in vars(klass):
                continue
            if hook == "__new__" and not isinstance(vars(klass)[hook], (staticmethod, types.FunctionType)):
                continue  # the allocation of a C or Cython type, not Python code
            owner = f"{_qualified(klass)}.{hook}"
            if owner not in _HOOK_OWNERS:
                unreviewed.append(owner)
    return tuple(unreviewed)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_arrays(archive: zipfile.ZipFile, files: set[str]) -> None:
    """Every .npy member an array is read from: a numpy header mlproj can parse, no objects,
    and exactly the bytes the header's shape and dtype need (numpy.load allocates the array
    from the header before it reads the data)."""
    import numpy as np
    from numpy.lib import format as npy

    for name in sorted(files):
        info = archive.getinfo(name)  # KeyError: a missing member, refused by the caller
        with archive.open(info) as member:
            head = io.BytesIO(member.read(NPY_MAX_HEADER_BYTES + 16))
        version = npy.read_magic(head)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(head, max_header_size=NPY_MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, _, dtype = npy.read_array_header_2_0(head, max_header_size=NPY_MAX_HEADER_BYTES)
        else:
            raise _not_ours(f"{name} is a .npy file of version {version}, which numpy.save does not write here")
        if dtype.hasobject:
            raise _not_ours(f"{name} holds Python objects")
        needed = math.prod(shape) * dtype.itemsize
        if info.file_size - head.tell() != needed:
            raise _not_ours(f"{name} has {info.file_size - head.tell():,} bytes of data for an array of "
                            f"{needed:,} ({np.dtype(dtype).str} {shape})")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
