"""An ablation's fit sees only its feature set (mlproj.plan.ablations): chosen columns, some of
them with their information taken away.

The task function receives the run's shared arrays; `localise` gives one fit its own view of
them, in the worker (threads, processes and dask share the same arrays as for the full models).
A replaced column holds its training fold's mean or median on every row, the training and the
validation rows alike: the column stays, its information goes. Augmented copies are drawn from
every column and their derived features recomputed from the drawn values as for the full model,
then cut down to the feature set, so an ablation changes nothing but the columns the model sees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["FeatureView", "localise"]


@dataclass(frozen=True)
class FeatureView:
    """The columns of X a fit keeps, in order, and those of them replaced (column, "mean" | "median")."""

    columns: tuple[int, ...]
    replaced: tuple[tuple[int, str], ...] = ()


def fill_values(X: np.ndarray, train: np.ndarray, view: FeatureView) -> tuple[np.ndarray, np.ndarray]:
    """(positions among the kept columns, their training-fold values) of the replaced columns."""
    position = {column: j for j, column in enumerate(view.columns)}
    positions = np.array([position[c] for c, _ in view.replaced], dtype=np.int64)
    values = np.empty(len(view.replaced))
    for i, (column, how) in enumerate(view.replaced):
        finite = X[train, column]
        finite = finite[np.isfinite(finite)]
        values[i] = (np.median(finite) if how == "median" else np.mean(finite)) if finite.size else np.nan
    return positions, values


@dataclass(frozen=True)
class _Recompute:
    """Derived features of augmented copies, recomputed from all the drawn columns (as for the
    full model), then cut down to the feature set, replaced columns filled again."""

    X: np.ndarray  # the full feature matrix
    recompute: object  # the run's Recompute
    columns: np.ndarray
    positions: np.ndarray
    values: np.ndarray

    def __call__(self, drawn: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        full = self.X.copy() if rows is None else self.X[rows]
        full[:, self.columns] = drawn
        full = self.recompute(full, rows)
        out = full[:, self.columns]
        out[:, self.positions] = self.values
        return out


def localise(call, data):
    """The call and the arrays of one fit on a feature set: (FitCall, FitData) with the
    feature matrix (and its errors and ranges) cut down to the kept columns."""
    view: FeatureView = call.view
    columns = np.asarray(view.columns, dtype=np.int64)
    positions, values = fill_values(data.X, call.train, view)
    X = data.X[:, columns]
    X[:, positions] = values
    errors = ranges = recompute = None
    if data.errors is not None:
        errors = data.errors[:, columns]
        errors[:, positions] = 0.0  # a replaced value is not drawn: it is the same on every row
    if data.ranges is not None:
        ranges = data.ranges[:, :, columns]
        ranges[:, :, positions] = np.nan
    if data.recompute is not None:
        recompute = _Recompute(data.X, data.recompute, columns, positions, values)
    return replace(call, view=None), replace(data, X=X, errors=errors, ranges=ranges, recompute=recompute)
