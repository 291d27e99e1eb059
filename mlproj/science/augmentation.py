"""Draws of the inputs from their measurement uncertainties (paper §5.1). Pure: arrays and a seed in,
arrays out.

One draw scatters every measured value by its Gaussian 1σ error and draws every non-detection
uniformly within its allowed range. Training uses draws to augment its rows
(`augmented_training_set`); `mlproj predict --draws` uses them to carry the input errors into
the predictions (`input_draws`). Both go through `draw_inputs`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["augmented_training_set", "draw_inputs", "input_draws"]


def draw_inputs(X: np.ndarray, rows: np.ndarray | None, rng: np.random.Generator, errors: np.ndarray | None = None,
                ranges: np.ndarray | None = None) -> np.ndarray:
    """One draw of the inputs of `rows` (every row if None), a new array.

    errors: 1σ per value, shaped as X (0 where nothing is known); ranges: (2, n, p) lower and
    upper bounds of non-detections, NaN for measured values. The normal deviates come first,
    then the uniform ones, each in row order, so a draw depends on the generator's state only.
    """
    def taken(values: np.ndarray) -> np.ndarray:
        return values if rows is None else values[rows]

    drawn = X.copy() if rows is None else X[rows]
    if errors is not None:
        drawn += rng.standard_normal(drawn.shape) * taken(errors)
    if ranges is not None:
        low, high = taken(ranges[0]), taken(ranges[1])
        limited = ~np.isnan(low)
        uniform = low + rng.random(low.shape) * (high - low)
        drawn[limited] = uniform[limited]
    return drawn


def augmented_training_set(X: np.ndarray, y: np.ndarray, errors: np.ndarray | None, train: np.ndarray, draws: int,
                           seed: int, ranges: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training rows plus `draws` copies of each, and the row each copy came from.

    Copies are made from the training rows of one split only, so an object and its copies are
    always on the same side of the split.
    """
    rng = np.random.default_rng(seed)
    copies = np.repeat(train, draws)
    source = np.concatenate([train, copies])
    X_aug = np.concatenate([X[train], draw_inputs(X, copies, rng, errors, ranges)])
    return X_aug, y[source], source


def input_draws(X: np.ndarray, errors: np.ndarray, draws: int, seed: int) -> list[np.ndarray]:
    """`draws` copies of the inputs, each scattered by their Gaussian measurement errors."""
    rng = np.random.default_rng(seed)
    return [draw_inputs(X, None, rng, errors) for _ in range(draws)]
