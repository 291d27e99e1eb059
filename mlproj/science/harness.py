"""The test harness's perturbations and measures (paper §2.4). Pure: arrays and a seed in, arrays out.

A harness check asks the trained model a question whose answer is known: predictions must not
change when inputs are perturbed by less than their measurement errors, or when a column that
carries no information is shuffled (`perturb_noise`, `perturb_permute`, then `changed_fraction`
or `median_change`); hand-crafted inputs must give the expected output; two objects of a class
combined (the light of two galaxies in one aperture) must stay in that class (`combine_pairs`).

Derived features follow the perturbed or combined measurements: `recompute` (a function of the
rows, mlproj.science.augmentation.Recompute) evaluates them again, so a colour follows its
magnitudes. This module knows no project file.
"""

from __future__ import annotations

import numpy as np

from mlproj.science.augmentation import Recompute

__all__ = ["changed_fraction", "combine", "combine_pairs", "median_change", "pair_rows", "passes",
           "perturb_noise", "perturb_permute", "predicted_class"]

# m = −2.5 log10 f: the zero point cancels when fluxes are summed and converted back.
MAGNITUDE_SCALE = -0.4


def perturb_noise(X: np.ndarray, sigma: np.ndarray, columns: list[int], rng: np.random.Generator,
                  recompute: Recompute | None = None) -> np.ndarray:
    """A copy of X with Gaussian noise of 1σ `sigma` (an array shaped as X, or a number) added to
    `columns`, the others untouched, derived features recomputed from the noisy values."""
    out = X.copy()
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), X.shape)
    noise = rng.standard_normal((X.shape[0], len(columns)))
    out[:, columns] += noise * sigma[:, columns]
    return recompute(out, None) if recompute is not None else out


def perturb_permute(X: np.ndarray, columns: list[int], rng: np.random.Generator,
                    recompute: Recompute | None = None) -> np.ndarray:
    """A copy of X with `columns` shuffled across the objects, by one permutation for all of them
    (the columns keep their joint distribution and lose their relation to the rest of each object),
    derived features recomputed."""
    out = X.copy()
    order = rng.permutation(X.shape[0])
    out[:, columns] = X[order][:, columns]
    return recompute(out, None) if recompute is not None else out


def predicted_class(probabilities: np.ndarray) -> np.ndarray:
    """The most probable class of each object (`mlproj predict`'s predicted_class)."""
    return np.argmax(probabilities, axis=1)


def changed_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """The fraction of objects whose most probable class differs between two sets of probabilities."""
    if len(before) == 0:
        return float("nan")
    return float(np.mean(predicted_class(before) != predicted_class(after)))


def median_change(before: np.ndarray, after: np.ndarray) -> float:
    """The median |change| of a regression prediction (robust to the few objects near a tree's split)."""
    change = np.abs(np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64))
    change = change[np.isfinite(change)]
    return float(np.median(change)) if change.size else float("nan")


def combine(a: np.ndarray, b: np.ndarray, how: str) -> np.ndarray:
    """Two objects' values as one: `magnitude` adds their fluxes, m = −2.5 log10(10^(−0.4 m1) +
    10^(−0.4 m2)); `flux` adds the values; `mean` averages them."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if how == "magnitude":
        return np.logaddexp(MAGNITUDE_SCALE * np.log(10) * a, MAGNITUDE_SCALE * np.log(10) * b) / (
            MAGNITUDE_SCALE * np.log(10))
    if how == "flux":
        return a + b
    if how == "mean":
        return (a + b) / 2
    raise ValueError(f"unknown combination {how!r}: magnitude, flux or mean")


def pair_rows(first: np.ndarray, second: np.ndarray, pairs: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """`pairs` random pairs (one row of `first`, one of `second`), drawn with replacement; when the
    two sets are the same objects, never an object with itself."""
    first, second = np.asarray(first), np.asarray(second)
    if len(first) == 0 or len(second) == 0:
        return first[:0], second[:0]
    a = rng.choice(first, pairs)
    b = rng.choice(second, pairs)
    same = a == b
    if same.any() and (len(np.union1d(first, second)) > 1):
        # Redraw the partners of the pairs that drew one object twice, until none does.
        while same.any():
            b[same] = rng.choice(second, int(same.sum()))
            same = a == b
    return a, b


def combine_pairs(X: np.ndarray, a: np.ndarray, b: np.ndarray, how: str, columns: list[int],
                  recompute: Recompute | None = None) -> np.ndarray:
    """The objects made of rows a[i] and b[i] of X: `columns` combined by `how` (combine), every
    other column the mean of the two, derived features recomputed from the combined values."""
    first, second = X[a], X[b]
    out = combine(first, second, "mean")
    if columns:
        out[:, columns] = combine(first[:, columns], second[:, columns], how)
    return recompute(out, None) if recompute is not None else out


def passes(value: float, threshold: float, at_most: bool) -> bool | None:
    """value <= threshold (at_most) or value >= threshold; None for a value that could not be measured."""
    if value is None or not np.isfinite(value):
        return None
    return bool(value <= threshold) if at_most else bool(value >= threshold)
