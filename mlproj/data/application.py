"""The application sample (`data.application`): where the model will be used (paper §5.5).

It has the labelled catalogue's columns minus the label, and goes through exactly what the
labelled catalogue and `mlproj predict` go through (read_table, prepare_table: sentinels,
non-detection bounds, derived features; feature_matrix), so that the shift diagnostics compare
like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlproj.data.dataset import feature_matrix, indicator, prepare_table, read_table
from mlproj.errors import ConfigError, DataError
from mlproj.project.expressions import parse_expression
from mlproj.project.loading import LoadedProject

__all__ = ["Application", "load_application", "application_features"]


@dataclass
class Application:
    X: np.ndarray          # rows × the labelled dataset's features, in its order
    feature_names: list[str]
    path: Path
    table: object          # the catalogue as read (every input column), for the predictions file


def _raw_columns(loaded: LoadedProject, names: list[str]) -> list[str]:
    """The catalogue columns the features are made of (a derived feature: the names in its expression)."""
    data = loaded.project.data
    derived = dict(data.derived)
    indicators = {indicator(c): c for c in data.limits}
    needed: list[str] = []

    def add(name: str) -> None:
        if name in derived:
            try:
                for used in parse_expression(derived[name], context="").names:
                    add(used)
            except ConfigError:
                return  # the labelled catalogue already passed this expression
        elif name in indicators:
            add(indicators[name])
        elif name not in needed:
            needed.append(name)

    for name in names:
        add(name)
    return needed


def application_features(table, loaded: LoadedProject, names: list[str], path: Path, *,
                         where: str) -> np.ndarray:
    """The feature matrix of a table without labels, each missing column a DataError naming the file."""
    columns = [str(c) for c in table.columns]
    missing = [c for c in _raw_columns(loaded, names) if c not in columns]
    if missing:
        shown = ", ".join(columns[:15]) + (" …" if len(columns) > 15 else "")
        raise DataError(f"{path}: column(s) {', '.join(repr(c) for c in missing)} of the model's features are not "
                        "in the catalogue", where=where,
                        hint=f"the application sample needs the labelled catalogue's feature columns (its label "
                             f"may be missing); {path.name} has: {shown}")
    prepared = table.copy()
    try:
        _, _, derived = prepare_table(prepared, loaded)
        return feature_matrix(prepared, names, loaded, derived)
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", where=where, hint=exc.hint) from None


def load_application(loaded: LoadedProject, names: list[str]) -> Application:
    """Read data.application and build the features `names` (the labelled dataset's)."""
    path = loaded.resolve(loaded.project.data.application)
    where = loaded.where("data", "application")
    table = read_table(path, where=where)
    X = application_features(table, loaded, names, path, where=where)
    infinite = [n for n, bad in zip(names, np.isinf(X).any(axis=0)) if bad]
    if infinite:
        raise DataError(f"{path}: feature(s) {', '.join(infinite)} contain infinite values", where=where,
                        hint="replace them with a finite value or mark them missing (empty cell) in the catalogue")
    return Application(np.ascontiguousarray(X), list(names), path, table)
