"""The per-object evidence a run keeps for its figures: `runs/.../evaluation/`.

- `development.parquet`: every development object once, with the out-of-fold predictions of
  repeat 0 of every model (the predictions the cross-validated rates pool);
- `test.parquet`: the held-out test objects with the selected models' predictions, and for
  regression each σ method's calibrated σ (as the test coverage was judged);
- `features.parquet`: a seeded sample of development objects (at most SAMPLE_PER_CLASS per
  class) with their features, for the corner plot.

Columns: `row` (the object's row among the rows used), `y` (class index or target), and per
model `<model>|p[<class>]` (class probabilities), `<model>|score` (a historical score),
`<model>|mu` and `<model>|sigma_raw` (regression), `<model>|sigma[<method>]` (test σ).
Predictions are stored as float32: they are drawn, not re-scored (the summary holds the scores).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlproj.analyse import summary as analysis
from mlproj.execute.cache import TaskOutput
from mlproj.store.tables import write_columns

FOLDER = "evaluation"
SAMPLE_PER_CLASS = 2000
SAMPLE_REGRESSION = 5000
SEPARATOR = "|"
FILES = ("development.parquet", "test.parquet", "features.parquet")


def prediction_columns(model: str, predictions: np.ndarray, task_kind: str, classes: list[str] | None
                       ) -> dict[str, np.ndarray]:
    """One model's predictions as named float32 columns."""
    name = f"{model}{SEPARATOR}"
    if task_kind == "regression":
        stacked = analysis.as_columns(predictions)
        out = {f"{name}mu": stacked[:, 0]}
        if stacked.shape[1] > 1:
            out[f"{name}sigma_raw"] = stacked[:, 1]
        return {k: v.astype(np.float32) for k, v in out.items()}
    if predictions.ndim == 1:
        return {f"{name}score": predictions.astype(np.float32)}
    labels = classes or [str(i) for i in range(predictions.shape[1])]
    return {f"{name}p[{label}]": predictions[:, i].astype(np.float32) for i, label in enumerate(labels)}


Columns = dict[str, np.ndarray]


def write_evaluation(run_dir: Path, columns: tuple[Columns, Columns, Columns]) -> None:
    """Write the three files of `evaluation/` (see the module's docstring): (development, test,
    features) columns."""
    folder = run_dir / FOLDER
    for name, table in zip(FILES, columns):
        write_columns(folder / name, table)


def features_columns(prepared) -> Columns:
    """The seeded sample of development objects with their features (features.parquet)."""
    plan, dataset = prepared.plan, prepared.dataset
    sample = feature_sample(np.sort(plan.development), dataset.y, plan.task_kind,
                            seed=plan.splits[0].seed if plan.splits else 0)
    columns = {"row": sample.astype(np.int64), "y": dataset.y[sample]}
    columns.update({name: dataset.X[sample, j] for j, name in enumerate(dataset.feature_names)})
    return columns


def pooled_predictions(prepared, outputs: dict[str, TaskOutput]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every model's out-of-fold predictions of repeat 0 (analysis.pooled_development_predictions)."""
    plan = prepared.plan
    return {spec.name: found for spec in plan.models
            if (found := analysis.pooled_development_predictions(plan, outputs, spec.name)) is not None}


def development_columns(prepared, pooled: dict[str, tuple[np.ndarray, np.ndarray]]) -> Columns:
    """The development objects with every model's out-of-fold predictions (development.parquet)."""
    plan, dataset = prepared.plan, prepared.dataset
    # Every development object once (K-fold), or the validation windows of a time-ordered plan.
    development = np.sort(next(iter(pooled.values()))[0]) if pooled else np.sort(plan.development)
    columns: Columns = {"row": development.astype(np.int64), "y": dataset.y[development]}
    for name, (rows, predictions) in pooled.items():
        order = np.argsort(rows, kind="stable")
        if np.array_equal(rows[order], development):
            columns.update(prediction_columns(name, predictions[order], plan.task_kind, dataset.classes))
    return columns


def test_columns(prepared, pooled: dict[str, tuple[np.ndarray, np.ndarray]], final_outputs: dict[str, TaskOutput],
                 selected: list[str]) -> Columns:
    """The test objects with the selected models' predictions and test σ (test.parquet)."""
    plan, dataset, cases = prepared.plan, prepared.dataset, prepared.cases
    rows = np.asarray(plan.test)
    columns: Columns = {"row": rows.astype(np.int64), "y": dataset.y[rows]}
    methods = list(dict.fromkeys(m for case in cases for m in case.uncertainty_methods))
    for name in selected:
        output = final_outputs.get(plan.final_tasks[name].key)
        predictions = output.loaded() if output is not None else None
        if predictions is None:
            continue
        columns.update(prediction_columns(name, predictions, plan.task_kind, dataset.classes))
        development = pooled.get(name)
        if plan.task_kind == "regression" and development is not None:
            reference_rows, reference = development
            for method in methods:  # σ calibrated on the development predictions, as the test coverage was
                sigma = analysis.predicted_sigma(method, dataset.y[reference_rows], analysis.as_columns(reference),
                                                 predictions)
                columns[f"{name}{SEPARATOR}sigma[{method}]"] = np.asarray(sigma, dtype=np.float32)
    return columns


def feature_sample(rows: np.ndarray, y: np.ndarray, task_kind: str, *, seed: int) -> np.ndarray:
    """A seeded sample of `rows`, at most SAMPLE_PER_CLASS of each class (a rare class keeps all
    its objects, so the corner plot shows it), sorted."""
    rng = np.random.default_rng(seed)
    if task_kind == "regression":
        chosen = rows if len(rows) <= SAMPLE_REGRESSION else rng.choice(rows, SAMPLE_REGRESSION, replace=False)
        return np.sort(chosen)
    parts = []
    for label in np.unique(y[rows]):
        members = rows[y[rows] == label]
        parts.append(members if len(members) <= SAMPLE_PER_CLASS
                     else rng.choice(members, SAMPLE_PER_CLASS, replace=False))
    return np.sort(np.concatenate(parts)) if parts else rows[:0]
