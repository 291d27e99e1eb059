"""σ(x) honesty (issue 22, point 7): σ methods are compared with the global σ on CRPS *and* NLL,
coverages whose Wilson interval excludes the nominal value are flagged, and `method: conformal`
(MAPIE) covers a simulated heteroscedastic catalogue as promised, through the real CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlproj.analyse.types import (
    CaseResult,
    Coverage,
    DataDescription,
    Estimate,
    ModelInfo,
    ModelScores,
    PrimaryMetric,
    Summary,
    fmt_number,
)
from mlproj.science import stats
from mlproj.science.metrics import wilson_interval
from mlproj.science.uncertainty import COVERAGE_68, COVERAGE_95
from mlproj.verdict.judge import judge
from tests.e2e.helpers import cli, latest, write_project

FOLDS, REPEATS = 5, 2
PATTERN = np.array([0.3, -0.5, 0.8, -0.2, 0.1, -0.9, 0.4, 0.6, -0.4, -0.2])


def _scores(mean: float, scale: float, pattern=PATTERN) -> list[float]:
    return [float(mean + scale * e) for e in pattern]


def _estimate(values: list[float]) -> Estimate:
    return Estimate.from_dict(stats.summarize(values, FOLDS, REPEATS, 0.9).to_dict())


def _coverage(nominal: float, inside: int, n: int) -> Coverage:
    return Coverage(nominal, inside / n, inside, n, wilson_interval(inside, n, 0.95))


def _photoz_like_summary(nll_of_method: float, coverage_95_inside: int = 890) -> Summary:
    """The photo-z case: a σ(x) method with a clearly better CRPS than the global σ, an NLL
    `nll_of_method` (global: -1.0), and a cross-validated 95% coverage of inside/1000."""
    crps = {"global": _scores(0.020, 0.0005), "residual": _scores(0.015, 0.0005, PATTERN[::-1])}
    nll = {"global": _scores(-1.0, 0.02), "residual": _scores(nll_of_method, 0.02, PATTERN[::-1])}
    models = {}
    for name, rmse in (("dummy", 0.09), ("hgb", 0.03)):
        entry = ModelScores({"rmse": _estimate(_scores(rmse, 0.001))}, _scores(rmse, 0.001))
        entry.uncertainty = {f"{score}[{method}]": _estimate(values) for method in crps
                             for score, values in (("crps", crps[method]), ("nll", nll[method]),
                                                   ("coverage_68", _scores(0.68, 0.002)),
                                                   ("coverage_95", _scores(0.95, 0.002)), ("pit_ks", _scores(0.05, 0.001)))}
        entry.uncertainty_scores = crps
        entry.uncertainty_nll_scores = nll
        entry.uncertainty_coverage = {
            "global": {"0.6827": _coverage(COVERAGE_68, 683, 1000), "0.95": _coverage(COVERAGE_95, 951, 1000)},
            "residual": {"0.6827": _coverage(COVERAGE_68, 660, 1000),
                         "0.95": _coverage(COVERAGE_95, coverage_95_inside, 1000)}}
        models[name] = entry
    case = CaseResult("z", [], True, PrimaryMetric("rmse", {}, "rmse", False), ["rmse"], 0.05, 0.001,
                      uncertainty_methods=["global", "residual"], models=models)
    infos = [ModelInfo("dummy", "baseline", "DummyRegressor", {}, False, 0, 0.001, 0, 10, []),
             ModelInfo("hgb", "candidate", "X", {}, False, 2, 1.0, 0, 10, [])]
    return Summary("p", "regression", FOLDS, REPEATS, 0.9, DataDescription(), infos, [case])


def test_a_better_crps_with_a_worse_nll_is_not_improved():
    verdict = judge(_photoz_like_summary(nll_of_method=-0.5))
    (versus,) = verdict.selections[0].uncertainty.comparisons
    assert versus.crps_decision == "improved" and versus.nll_decision == "worse"
    assert versus.decision == "worse"
    assert "CRPS improved, NLL worse" in versus.detail
    nll = stats.compare(_scores(-1.0, 0.02), _scores(-0.5, 0.02, PATTERN[::-1]), folds=FOLDS, repeats=REPEATS,
                        margin=0.0, greater_is_better=False, confidence=0.9)
    assert versus.nll_difference == pytest.approx(nll.difference) and versus.nll_se == pytest.approx(nll.se)
    improved = judge(_photoz_like_summary(nll_of_method=-1.5)).selections[0].uncertainty.comparisons[0]
    assert improved.decision == "improved"  # better on both


def test_a_coverage_excluded_by_its_wilson_interval_is_a_warning_naming_the_method():
    verdict = judge(_photoz_like_summary(nll_of_method=-1.5, coverage_95_inside=890))
    flagged = [w for w in verdict.warnings if "residual σ, cross-validated" in w]
    assert len(flagged) == 1 and "95% coverage 0.890 (890/1000 inside)" in flagged[0]
    low, high = wilson_interval(890, 1000)
    assert f"[{low:.3f}, {high:.3f}]" in flagged[0] and "too small" in flagged[0]
    assert not any("global σ" in w for w in verdict.warnings)  # 683/1000 and 951/1000 agree
    assert verdict.selections[0].uncertainty.flags == [w for w in verdict.warnings if "predicted uncertainties" in w]
    calm = judge(_photoz_like_summary(nll_of_method=-1.5, coverage_95_inside=945))
    assert not any("coverage" in w for w in calm.warnings)


def test_the_coverage_criterion_has_a_floor_from_its_counts():
    """Fold coverages of 0.68 ± 0.002 pass a [0.65, 0.72] band by the t-interval alone, but 68 of
    100 pooled objects inside have a Wilson interval [0.584, 0.762]: the band is not resolved."""
    summary = _photoz_like_summary(nll_of_method=-1.5)
    case = summary.cases[0]
    case.uncertainty_criteria = {"coverage_68": [0.65, 0.72]}
    for entry in case.models.values():
        entry.uncertainty["coverage_68[residual]"] = _estimate(_scores(0.68, 0.002))
        entry.uncertainty_coverage["residual"]["0.6827"] = _coverage(COVERAGE_68, 68, 100)
    (criterion,) = [c for c in judge(summary).criteria if c.name == "coverage_68"]
    assert criterion.status == "undetermined"
    low, high = wilson_interval(68, 100)
    assert f"[{fmt_number(low)}, {fmt_number(high)}]" in criterion.detail
    for entry in case.models.values():
        entry.uncertainty_coverage["residual"]["0.6827"] = _coverage(COVERAGE_68, 6800, 10000)
    (criterion,) = [c for c in judge(summary).criteria if c.name == "coverage_68"]
    assert criterion.status == "pass"


# ------------------------------------------------------------------------------ the real CLI


def _heteroscedastic(n: int, seed: int) -> pd.DataFrame:
    """y = 2 x1 + noise whose σ grows with x1 from 0.02 to 0.52."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": 2 * x1 + (0.02 + 0.5 * x1 ** 2) * rng.normal(size=n)})


PROJECT = {
    "name": "hetero",
    "objective": {"statement": "s", "task": "regression"},
    "data": {"path": "cat.csv", "label": "y", "features": ["x1", "x2"]},
    "metric": {"primary": "rmse"},
    "finish_line": {"threshold": 0.5, "margin": 0.01},
    "validation": {"test_size": 0.25, "folds": 3, "repeats": 1, "seed": 0},
    "baselines": ["dummy"],
    "candidates": [{"name": "line", "estimator": "LinearRegression"}],
    "uncertainty": {"method": "conformal"},
}


@pytest.mark.slow
def test_conformal_covers_a_heteroscedastic_catalogue_and_the_global_sigma_is_flagged(tmp_path):
    _heteroscedastic(2400, 0).to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, PROJECT)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code in (0, 1, 3), result.output
    verdict, summary = latest(tmp_path, "verdict.json"), latest(tmp_path, "summary.json")
    judged = verdict["selections"][0]["uncertainty"]
    assert judged["model"] == "line" and set(judged["methods"]) == {"global", "conformal"}
    (versus,) = judged["comparisons"]
    assert versus["b"] == "conformal" and versus["nll_decision"] and versus["crps_decision"]

    # cross-validated: pooled counts of every development object, with their Wilson intervals
    pooled = summary["cases"][0]["models"]["line"]["uncertainty_coverage"]
    assert pooled["conformal"]["0.95"]["n"] == summary["data"]["n_development"]
    for where in (pooled, verdict["test"]["cases"]["y"]["coverage"]):
        low, high = where["conformal"]["0.95"]["wilson"]
        assert low <= COVERAGE_95 <= high  # the conformal guarantee, marginally
        g_low, g_high = where["global"]["0.6827"]["wilson"]
        assert g_low > COVERAGE_68  # one σ for all: too wide for most objects
    warnings = " ".join(verdict["warnings"])
    assert "line (global σ, cross-validated): 68.27% coverage" in warnings
    assert "line (global σ, test set): 68.27% coverage" in warnings
    assert "conformal σ, cross-validated): 95% coverage" not in warnings
    text = " ".join(result.stdout.split())
    assert "conformal σ vs global σ" in text and "improved only if better on both" in text

    # `mlproj predict` writes the conformal intervals, and they cover new objects as promised
    _heteroscedastic(4000, 9).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "predicted.csv"
    predicted = cli("predict", "--data", str(tmp_path / "new.csv"), "--out", str(out), cwd=tmp_path)
    assert predicted.exit_code == 0, predicted.output
    frame = pd.read_csv(out)
    assert {"prediction", "sigma", "low_68", "high_68", "low_95", "high_95"} <= set(frame.columns)
    np.testing.assert_allclose(frame["high_95"] - frame["low_95"], 2 * 1.959963984540054 * frame["sigma"])
    for low, high, nominal in (("low_68", "high_68", COVERAGE_68), ("low_95", "high_95", COVERAGE_95)):
        inside = int(((frame[low] <= frame["y"]) & (frame["y"] <= frame[high])).sum())
        w_low, w_high = wilson_interval(inside, len(frame))
        assert w_low <= nominal <= w_high, (low, inside)
    wide = frame["x1"] > 0.7
    assert (frame["high_95"] - frame["low_95"])[wide].mean() > 3 * (frame["high_95"] - frame["low_95"])[
        frame["x1"] < 0.3].mean()


def test_ensemble_and_conformal_are_accepted_methods_and_a_wrong_one_is_exit_2(tmp_path):
    _heteroscedastic(200, 0).to_csv(tmp_path / "cat.csv", index=False)
    for method in ("conformal", "ensemble"):
        write_project(tmp_path, {**PROJECT, "uncertainty": {"method": method}})
        assert cli("check", cwd=tmp_path).exit_code == 0, method
    write_project(tmp_path, {**PROJECT, "uncertainty": {"method": "conformall"}})
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 2 and "conformal" in result.stderr and "Traceback" not in result.stderr
