"""Small data sets, models and plans shared by the tests of mlproj.execute."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlproj.execute.tasks import FitCall
from mlproj.plan.compile import compile_plan
from mlproj.plan.estimators import ModelSpec
from mlproj.project.loading import parse_project

KEY = "ab" + "0" * 62


def dataset(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 3 == 0).astype(np.int64)
    X = np.column_stack([y + rng.normal(0, 0.7, n), rng.normal(size=n)])
    return np.ascontiguousarray(X), y


MODELS = [
    ModelSpec("dummy", "UninformativeClassifier", role="baseline", simplicity=0),
    ModelSpec("logistic", "LogisticRegression", {"max_iter": 200}, scale=True, role="baseline", simplicity=1),
    ModelSpec("tree", "DecisionTreeClassifier", {"max_depth": 3}, simplicity=2),
]


def make_plan(y, models=MODELS):
    text = ("name: p\nobjective: {statement: s, task: classification}\ndata: {path: x.csv, label: c}\n"
            "classes: {a: \"c == 'A'\", b: \"c == 'B'\"}\npositive: b\nmetric: {primary: roc_auc}\n"
            "finish_line: {threshold: 0.5}\nvalidation: {folds: 3, repeats: 2, test_size: 0.25}\n")
    project = parse_project(text, Path("mlproj.yaml")).project
    return compile_plan(project, models, y, ["x0", "x1"], "fingerprint", library_version="test")


def call(spec: ModelSpec, train, valid, seed: int = 0, task_kind: str = "classification", **fields) -> FitCall:
    """A FitCall with the test key."""
    return FitCall(spec, task_kind, KEY, np.asarray(train), np.asarray(valid), seed, **fields)
