"""σ(x): the per-object spread of a regression model's predictions, learnt from its training rows
(paper §5.2). Pure: arrays in, arrays and fitted scikit-learn models out.

For residual, quantile and ensemble the spread returned here is unscaled: a run calibrates it on
the out-of-fold residuals of the other folds (mlproj.analyse), so only its shape across objects
matters. `conformal` is calibrated inside the training fold by MAPIE and is never rescaled
(`CALIBRATED_IN_FOLD`): its spread is the σ-equivalent of its 95% interval. `mlproj predict`
recomputes every spread for new objects with `spread_of` (and the conformal intervals with
`conformal_half_widths`) on the plain data `fit_spread` returned.
"""

from __future__ import annotations

import math

import numpy as np

from mlproj.science.uncertainty import COVERAGE_68, COVERAGE_95, NOMINAL_COVERAGE, Z_95

__all__ = ["CALIBRATED_IN_FOLD", "CONFORMALIZE_FRACTION", "Z_95", "conformal_half_widths", "fit_spread",
           "spread_of"]

# σ methods whose spread is already a calibrated σ when it leaves the training fold.
CALIBRATED_IN_FOLD = frozenset({"conformal"})
# The share of each training fold that split conformal keeps aside to compute conformity scores
# (MAPIE's examples use 1/4 to 1/3): the point model of the intervals is fitted on the rest.
CONFORMALIZE_FRACTION = 1 / 3
# The 95% interval is ±1.96σ for a Gaussian (DESIGN §6: Z_95, defined with the nominal coverages),
# so a conformal 95% half-width h is reported as the σ-equivalent h / Z_95 for CRPS, NLL and ±1σ.


def fit_spread(method: str, estimator, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray,
               seed: int) -> tuple[np.ndarray, dict]:
    """σ(x) of the validation rows (unscaled, except for conformal), and the fitted models that give it.

    residual: a model of |residual| on inner out-of-fold residuals (in-sample residuals of a
    flexible model are too small); quantile: half the distance between the gradient-boosted
    15.9% and 84.1% quantiles; ensemble: the predictive σ of five clones of `estimator`, each
    fitted on four fifths of the training rows (see `_ensemble`); conformal: MAPIE split
    conformal intervals normalised by a model of |residual| (see `_conformal`).
    """
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import KFold, cross_val_predict

    if method == "conformal":
        fitted = _conformal(estimator, X_train, y_train, seed)
        return spread_of(fitted, X_valid), fitted
    if method == "quantile":
        fitted = {"method": method, "models": [
            HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=100, random_state=seed)
            .fit(X_train, y_train) for q in (0.159, 0.841)]}
    elif method == "ensemble":
        fitted = _ensemble(estimator, X_train, y_train, seed)
    else:
        inner = cross_val_predict(clone(estimator), X_train, y_train, cv=KFold(3, shuffle=True, random_state=seed))
        fitted = {"method": method, "models": [
            HistGradientBoostingRegressor(max_iter=100, random_state=seed).fit(X_train, np.abs(y_train - inner))]}
    # A fitted spread can dip to zero or below; a σ of ~0 would let one object's NLL dominate
    # everything, so keep at least a fifth of the typical value on the training rows.
    fitted["floor"] = max(0.2 * float(np.median(np.abs(spread_of(fitted, X_train, floor=False)))), 1e-12)
    return spread_of(fitted, X_valid), fitted


def _ensemble(estimator, X_train: np.ndarray, y_train: np.ndarray, seed: int) -> dict:
    """Five clones on four fifths each, and the noise their spread does not see.

    The spread of the clones measures only how much the *model* would change with other
    training rows (epistemic); a new object's value also scatters around the truth (the
    noise, and the model's bias). Each clone's residuals on the fifth it did not see have mean
    square ≈ noise² + bias² + model variance, so noise² is estimated as that mean square minus
    the mean squared spread, and the predictive σ(x) = sqrt(noise² + spread(x)²): on average over
    the training rows it matches the held-out residuals, and the spread adds where the model is
    unsure. (The spread on training rows is slightly small, each row being in four of the five
    training parts, so the noise term errs on the large side.)
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    parts = list(KFold(5, shuffle=True, random_state=seed).split(X_train))
    models = [clone(estimator).fit(X_train[inside], y_train[inside]) for inside, _ in parts]
    held = np.empty(len(y_train))
    for model, (_, outside) in zip(models, parts):
        held[outside] = y_train[outside] - model.predict(X_train[outside])
    spread = np.std([m.predict(X_train) for m in models], axis=0)
    noise = math.sqrt(max(float(np.mean(held ** 2) - np.mean(spread ** 2)), 0.0))
    return {"method": "ensemble", "models": models, "noise": noise}


def _conformal(estimator, X_train: np.ndarray, y_train: np.ndarray, seed: int) -> dict:
    """MAPIE split conformal regression at the nominal 68.27% and 95%, inside the training rows only.

    A clone of `estimator` is fitted on 2/3 of the training rows; MAPIE's residual-normalised
    score (Lei et al. 2018) fits a model of log|residual| on a quarter of the other third and
    takes the conformity scores |y − ŷ| / r̂(x) on the rest, whose finite-sample-corrected
    quantiles q_68, q_95 give intervals ŷ(x) ± q·r̂(x): marginal coverage is guaranteed for any
    data exchangeable with the training rows, and the width follows the residuals per object.
    What is kept is plain data: the fitted residual model (a scikit-learn estimator) and q_68,
    q_95 read back from MAPIE's own intervals, never the MAPIE object. The intervals are centred
    on the model fitted on all training rows (the one scored and applied), whose residuals are
    not larger than those of the clone fitted on 2/3 of them.
    """
    from mapie.conformity_scores import ResidualNormalisedScore
    from mapie.regression import SplitConformalRegressor
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    levels = [COVERAGE_68, COVERAGE_95]
    fit_rows, conformalize_rows = train_test_split(np.arange(len(y_train)), test_size=CONFORMALIZE_FRACTION,
                                                   random_state=seed)
    score = ResidualNormalisedScore(random_state=seed)
    mapie = SplitConformalRegressor(clone(estimator), confidence_level=levels, conformity_score=score,
                                    prefit=False)
    mapie.fit(X_train[fit_rows], y_train[fit_rows]).conformalize(X_train[conformalize_rows],
                                                                 y_train[conformalize_rows])
    residual_model = score.residual_estimator_
    try:
        centre, bounds = mapie.predict_interval(X_train[conformalize_rows[:5]])
    except ValueError as exc:  # MAPIE refuses when too few rows are left for a 95% quantile
        raise ValueError(f"conformal intervals need more training rows per fold ({len(y_train)} here): {exc}") from None
    width = np.exp(residual_model.predict(X_train[conformalize_rows[:5]]))
    quantiles = np.median((bounds[:, 1, :] - bounds[:, 0, :]) / 2 / width[:, None], axis=0)
    if not np.all(np.isfinite(quantiles)):
        raise ValueError(f"conformal intervals need more training rows per fold: {len(y_train)} leave "
                         f"{len(conformalize_rows)} to conformalize, too few for a {COVERAGE_95:.0%} quantile")
    return {"method": "conformal", "models": [residual_model], "floor": 1e-12,
            "levels": [float(v) for v in levels], "quantiles": [float(q) for q in quantiles]}


def conformal_half_widths(fitted: dict, X: np.ndarray) -> dict[str, np.ndarray]:
    """Half-widths of the conformal intervals per object, by nominal coverage name
    ("coverage_68", "coverage_95"): interval = prediction ± half-width."""
    scale = np.exp(fitted["models"][0].predict(X))
    names = {v: k for k, v in NOMINAL_COVERAGE.items()}
    return {names[level]: q * scale for level, q in zip(fitted["levels"], fitted["quantiles"])}


def spread_of(fitted: dict, X: np.ndarray, floor: bool = True) -> np.ndarray:
    """The σ(x) of models returned by `fit_spread` (shared by runs and `mlproj predict`);
    unscaled except for conformal, whose σ-equivalent is its 95% half-width / 1.96."""
    if fitted["method"] == "conformal":
        spread = conformal_half_widths(fitted, X)["coverage_95"] / Z_95
        return np.maximum(spread, fitted["floor"]) if floor else spread
    predictions = [m.predict(X) for m in fitted["models"]]
    if fitted["method"] == "quantile":
        spread = (predictions[1] - predictions[0]) / 2
    elif fitted["method"] == "ensemble":
        # Older runs kept no noise term: their spread is the clones' alone.
        spread = np.sqrt(np.var(predictions, axis=0) + fitted.get("noise", 0.0) ** 2)
    else:
        spread = predictions[0]
    return np.maximum(spread, fitted["floor"]) if floor else spread
