"""Issue 22, end to end: the finish line's intervals (points 2, 3, 11, 12).

The catalogue is simulated in the test: 150 objects, 83 galaxies (66 in the development set, 17
in the test set), one feature that nearly equals the label. Every fold then finds every galaxy
at 1% FPR: the fold scores agree exactly, which is no certainty about 66 galaxies.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlproj.science import stats
from tests.e2e.helpers import TINY_PROJECT, changed, cli, write_project


def near_label_catalogue(folder, n_galaxies: int = 83, n_stars: int = 67, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    is_galaxy = np.r_[np.ones(n_galaxies, bool), np.zeros(n_stars, bool)]
    frame = pd.DataFrame({
        "class": np.where(is_galaxy, "GALAXY", "STAR"),
        "u": is_galaxy + rng.normal(0, 0.05, is_galaxy.size),  # the class, hardly blurred
        "g": rng.normal(size=is_galaxy.size),
    })
    folder.mkdir(parents=True, exist_ok=True)
    frame.sample(frac=1.0, random_state=seed).to_csv(folder / "cat.csv", index=False)


ZERO_SPREAD = changed(TINY_PROJECT, metric={"primary": {"name": "tpr_at_fpr", "fpr": 0.01}},
                      data={"path": "cat.csv", "label": "class", "features": ["u"]},
                      finish_line={"threshold": 0.99}, validation={"folds": 5, "repeats": 2, "test_size": 0.2},
                      # pure leaves: every clear galaxy scores 1, so the folds' thresholds keep them all
                      candidates=[{"name": "forest", "estimator": "RandomForestClassifier",
                                   "params": {"n_estimators": 20}}])


@pytest.mark.slow
def test_every_fold_scoring_one_on_66_galaxies_is_no_pass(tmp_path):
    near_label_catalogue(tmp_path)
    write_project(tmp_path, ZERO_SPREAD)
    run = cli("run", "-j", "1", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    shown = cli("verdict", "--json", cwd=tmp_path)
    verdict = json.loads(shown.stdout)
    assert shown.exit_code in (1, 3), shown.output  # UNDETERMINED or FAIL, never PASS
    assert verdict["status"] != "pass" and shown.exit_code == verdict["exit_code"]
    assert verdict["selected_model"] == "forest"
    fold_scores = next(c for c in verdict["selections"] if c["selection"] == "galaxy")["primary"]
    assert fold_scores["mean"] == 1.0  # every fold finds every galaxy
    finish = next(c for c in verdict["criteria"] if c["name"] == "finish_line")
    assert finish["status"] == "undetermined"
    line = verdict["finish_line"]
    assert line["basis"] == "both" and line["state"] == "undetermined"
    # cross-validated: the Wilson interval of the pooled counts, 66 of 66, not [1, 1]
    cv = line["cross_validated"]
    assert "(Wilson, 66/66)" in cv["detail"] and cv["state"] == "undetermined"
    assert verdict["primary"]["interval"] == pytest.approx(list(stats.wilson(66, 66, 0.9)))
    assert verdict["primary"]["interval"][0] < 0.99
    # held out: 17 of 17, whose Wilson interval is no confirmation of 0.99 either
    test = line["test"]
    assert "(Wilson, 17/17)" in test["detail"] and test["state"] == "undetermined"
    # the small test set is warned about: even a perfect score cannot confirm 0.99
    assert any("counts 17 objects: even a perfect score" in w for w in verdict["warnings"])
    # the verdict line says why
    text = " ".join(run.stdout.split())
    assert "VERDICT: " in text and "finish line undetermined: the cross-validated 90% interval" in text.split(
        "VERDICT: ")[1]
