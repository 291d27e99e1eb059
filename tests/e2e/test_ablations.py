"""Feature ablations through the real CLI (issue 24.1): the plan lists them apart, a run fits
only the ablation tasks when `ablations:` is added (the full models come from the cache), and
the verdict, summary.json, metrics.json and the report say which information is needed.

On a simulated catalogue one feature is pure noise and another carries the signal: dropping the
noise is *equivalent*, dropping the signal *worse*. On the SDSS DR14 catalogue every band is
dropped in turn.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import REPO, changed, cli, copy_config, latest, runs_latest, write_project

SIMULATED = {
    "name": "ablations",
    "objective": {"statement": "s", "task": "classification"},
    "data": {"path": "cat.csv", "label": "class", "features": ["signal", "noise"],
             "derived": {"ratio": "signal * 0.5"}},
    "classes": {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"},
    "positive": "galaxy",
    "metric": {"primary": "roc_auc"},
    "finish_line": {"threshold": 0.8, "margin": 0.01},
    "validation": {"folds": 3, "repeats": 2, "test_size": 0.2, "seed": 0},
    "baselines": ["dummy"],
    "candidates": [{"name": "logreg", "estimator": "LogisticRegression"}],
    "report": {"figures": False},
}


def simulated_catalogue(path, n: int = 600, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    signal, noise = rng.normal(size=n), rng.normal(size=n)
    galaxy = rng.random(n) < 1 / (1 + np.exp(-3 * signal))  # all the information is in `signal`
    pd.DataFrame({"signal": signal, "noise": noise, "class": np.where(galaxy, "GALAXY", "STAR")}).to_csv(path,
                                                                                                        index=False)


def fit_counts(output: str) -> tuple[int, int]:
    found = re.search(r"Fitted (\d+), reused (\d+) from the cache", output)
    assert found, output
    return int(found.group(1)), int(found.group(2))


def test_noise_is_not_needed_the_signal_is_and_cached_fits_are_reused(tmp_path):
    simulated_catalogue(tmp_path / "cat.csv")
    write_project(tmp_path, SIMULATED)
    first = cli("run", "-j", "1", cwd=tmp_path)
    assert first.exit_code == 0, first.output
    full_fits = fit_counts(first.output)[0]

    write_project(tmp_path, changed(SIMULATED, ablations={"features": "each", "replace": {"signal": "mean"}}))
    plan = cli("plan", cwd=tmp_path)
    assert plan.exit_code == 0, plan.output
    assert "Ablations" in plan.output and "(0 cached)" in plan.output
    for name in ("-signal", "-noise", "signal=mean"):
        assert name in plan.output
    kinds = json.loads(cli("plan", "--json", cwd=tmp_path).output)["kinds"]
    assert [(a["name"], a["fits"]) for a in kinds["ablations"]] == [
        ("-signal", 6), ("-noise", 6), ("-ratio", 6), ("signal=mean", 6)]
    assert kinds["ablations"][0]["dependent"] == ["ratio"]  # derived from signal: dropped with it

    second = cli("run", "-j", "1", cwd=tmp_path)
    assert second.exit_code == 0, second.output
    fitted, reused = fit_counts(second.output)
    assert fitted == 4 * 6  # the ablation tasks only
    assert reused == full_fits  # every cross-validation and final fit of the full models

    effects = {e["name"]: e for e in latest(tmp_path, "summary.json")["ablations"]}
    assert effects["-noise"]["decision"] == "equivalent"
    assert effects["-signal"]["decision"] == "worse" and effects["signal=mean"]["decision"] == "worse"
    assert effects["-signal"]["interval"][1] < 0
    verdict = cli("verdict", cwd=tmp_path)
    assert verdict.exit_code == 0, verdict.output  # findings, not criteria: the verdict still passes
    text = " ".join(verdict.output.split())
    assert "-noise: dropping noise is equivalent within ±0.01 → noise is not needed" in text
    assert re.search(r"-signal: dropping signal \(with ratio\) is worse by [0-9.]+ ± [0-9.]+ → signal carries "
                     "information", text)
    metrics = latest(tmp_path, "metrics.json")
    assert metrics["ablation.logreg.-noise.decision"] == 0.0 and metrics["ablation.logreg.-signal.decision"] == 1.0
    report = (runs_latest(tmp_path) / "report.md").read_text()
    assert "## Ablations" in report and "| -noise | logreg | noise |" in report

    third = cli("run", "-j", "1", "--rerun", cwd=tmp_path)
    assert "Nothing to fit" in third.output  # the ablations' fits are cached too


def test_an_unknown_feature_is_one_paragraph_naming_the_field(tmp_path):
    simulated_catalogue(tmp_path / "cat.csv", n=100)
    write_project(tmp_path, changed(SIMULATED, ablations={"groups": {"both": ["signal", "nose"]}}))
    result = cli("plan", cwd=tmp_path)
    assert result.exit_code == 2
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert "ablations.groups.both" in message and "did you mean 'noise'" in message and "Traceback" not in message


SDSS_CONFIG = REPO / "configs" / "sdss-galaxy-purity.yaml"
BANDS = ["u", "g", "r", "i", "z"]


def test_sdss_each_band(tmp_path, shared_data, figures):
    small = {"validation__folds": 3, "validation__repeats": 1, "baselines": ["dummy"], "data__derived": {},
             "candidates": [{"name": "hgb", "estimator": "HistGradientBoostingClassifier",
                             "params": {"max_iter": 50}}], "report": {"figures": True}, "execution__n_jobs": 2}
    config = copy_config(SDSS_CONFIG, tmp_path, **small)
    first = cli("run", cwd=tmp_path)
    assert first.exit_code in (0, 1, 3), first.output
    full_fits = fit_counts(first.output)[0]

    copy_config(SDSS_CONFIG, tmp_path, **small, ablations={"features": "each"})
    assert config.exists()
    plan = cli("plan", cwd=tmp_path)
    assert plan.exit_code == 0, plan.output
    assert "Ablations" in plan.output and all(f"-{band}" in plan.output for band in BANDS)
    second = cli("run", cwd=tmp_path)
    assert second.exit_code in (0, 1, 3), second.output
    fitted, reused = fit_counts(second.output)
    assert (fitted, reused) == (len(BANDS) * 3, full_fits)

    effects = latest(tmp_path, "summary.json")["ablations"]
    assert [e["name"] for e in effects] == [f"-{band}" for band in BANDS]
    verdict = cli("verdict", cwd=tmp_path)
    text = " ".join(verdict.output.split())
    report = (runs_latest(tmp_path) / "report.md").read_text()
    for effect in effects:
        assert effect["interval"][0] is not None and effect["decision"] in ("equivalent", "worse", "better",
                                                                              "undetermined")
        assert f"{effect['name']}: {effect['sentence']}" in text
        assert f"| {effect['name']} | hgb | {effect['name'][1:]} |" in report
    assert (runs_latest(tmp_path) / "figures" / "ablations.png").exists()
    assert (runs_latest(tmp_path) / "figures" / "ablations.pdf").exists()


def test_plan_lists_variants_ablations_and_harness_apart(tmp_path):
    simulated_catalogue(tmp_path / "cat.csv", n=120)
    project = changed(SIMULATED, ablations={"groups": {"main": ["signal"]}, "replace": {"noise": "median"}},
                      harness=[{"kind": "invariance", "perturb": {"noise": 0.05}}])
    project["candidates"][0]["variants"] = {"weak": {"C": 0.01}}
    write_project(tmp_path, project)
    result = cli("plan", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Variants" in text and "logreg.weak" in text
    assert "Ablations: 12 cross-validation fits (0 cached)" in text and "noise=median" in text
    assert "Harness (checks of the final model, each a verdict criterion): invariance (noise 0.05)." in text
    assert text.index("Variants") < text.index("Ablations") < text.index("Harness")


@pytest.mark.slow
def test_ablations_give_the_same_numbers_with_two_workers(tmp_path):
    effects = []
    for jobs in ("1", "2"):
        folder = tmp_path / f"j{jobs}"
        folder.mkdir()
        simulated_catalogue(folder / "cat.csv", n=300)
        write_project(folder, changed(SIMULATED, ablations={"features": ["noise"], "replace": {"signal": "median"}}))
        result = cli("run", "-j", jobs, cwd=folder)
        assert result.exit_code == 0, result.output
        effects.append(latest(folder, "summary.json")["ablations"])
    assert effects[0] == effects[1]
