"""Draws of the inputs from their measurement uncertainties (paper §5.1). Pure: arrays and a seed in,
arrays out.

One draw scatters every measured value by its Gaussian 1σ error and draws every non-detection
uniformly within its allowed range, then recomputes the derived features (a colour u - g) from
the drawn values: a colour is not measured apart from its magnitudes, so a copy whose u and g
moved must carry their difference, not the original colour (DESIGN §3). Training uses draws to
augment its rows (`augmented_training_set`); `mlproj predict --draws` uses them to carry the
input errors into the predictions (`input_draws`). Both go through `draw_inputs`.

How derived features follow from the measured ones is the caller's (`recompute`: a pure
function of the drawn rows and their row indices, mlproj.data.dataset.DerivedFeatures): this
module knows no project file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["Recompute", "augmented_training_set", "draw_inputs", "input_draws"]

# (drawn rows of X, their row indices or None for every row) -> the rows with every derived
# feature evaluated again from the drawn values (it may write into the array it is given).
Recompute = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]


def draw_inputs(X: np.ndarray, rows: np.ndarray | None, rng: np.random.Generator, errors: np.ndarray | None = None,
                ranges: np.ndarray | None = None, recompute: Recompute | None = None) -> np.ndarray:
    """One draw of the inputs of `rows` (every row if None), a new array.

    errors: 1σ per value, shaped as X (0 where nothing is known); ranges: (2, n, p) lower and
    upper bounds of non-detections, NaN for measured values. The normal deviates come first,
    then the uniform ones, each in row order, so a draw depends on the generator's state only.
    recompute: derived features from the drawn values (see the module docstring); a derived
    feature's own error, if it has one, is overwritten when it is recomputed.
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
    if recompute is not None:
        drawn = recompute(drawn, rows)
    return drawn


def augmented_training_set(X: np.ndarray, y: np.ndarray, errors: np.ndarray | None, train: np.ndarray, draws: int,
                           seed: int, ranges: np.ndarray | None = None, recompute: Recompute | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training rows plus `draws` copies of each, and the row each copy came from.

    Copies are made from the training rows of one split only, so an object and its copies are
    always on the same side of the split.
    """
    rng = np.random.default_rng(seed)
    copies = np.repeat(train, draws)
    source = np.concatenate([train, copies])
    X_aug = np.concatenate([X[train], draw_inputs(X, copies, rng, errors, ranges, recompute)])
    return X_aug, y[source], source


def input_draws(X: np.ndarray, errors: np.ndarray, draws: int, seed: int, ranges: np.ndarray | None = None,
                recompute: Recompute | None = None) -> list[np.ndarray]:
    """`draws` copies of the inputs, each scattered by their Gaussian measurement errors (and
    drawn within the ranges of non-detections), derived features recomputed from each."""
    rng = np.random.default_rng(seed)
    return [draw_inputs(X, None, rng, errors, ranges, recompute) for _ in range(draws)]
