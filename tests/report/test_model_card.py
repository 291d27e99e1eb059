"""models/model_card.md (paper §6.2): a small run's card holds the objective, the data and their
hash, the operational class definitions, the selected model, metrics with intervals, the
verdict with its reason, the validation design, known limits, software and how to predict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlproj.analyse.types import Summary
from mlproj.report.model_card import render_model_card
from mlproj.verdict.types import Verdict
from tests.e2e.helpers import cli, runs_latest

PROJECT = """
name: card
objective: {statement: "Separate A from B with a flux f that has non-detections.", task: classification}
data:
  path: cat.csv
  label: class
  features: [f, g]
  derived: {fg: "f - g"}
  sentinels: {g: [-99]}
  limits: {f: {flag: "f < 2 * e", bound: "2 * e", kind: flux, span: 0.5}}
classes: {bright: "class == 'A'", faint: "class in ['B', 'C']"}
positive: bright
metric: {primary: roc_auc, secondary: [brier]}
finish_line: {threshold: 0.6, margin: 0.02}
validation: {folds: 2, repeats: 2, seed: 7, test_size: 0.25}
baselines: [dummy]
candidates: [{name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 20}}]
report: {figures: false}
execution: {n_jobs: 1}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("card")
    rng = np.random.default_rng(3)
    n = 240
    bright = rng.random(n) < 0.5
    e = rng.uniform(0.5, 1.5, n)
    g = rng.normal(0, 1, n) + bright
    g[:5] = -99
    pd.DataFrame({"f": rng.normal(np.where(bright, 4.0, 1.5), 1.0, n), "e": e, "g": g,
                  "class": np.where(bright, "A", "B")}).to_csv(folder / "cat.csv", index=False)
    (folder / "mlproj.yaml").write_text(PROJECT)
    result = cli("run", cwd=folder)
    assert result.exit_code in (0, 1, 3), result.output
    return runs_latest(folder).resolve()


def _section(card: str, title: str) -> str:
    return card.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_run_writes_a_card_with_every_item(run):
    card = (run / "models" / "model_card.md").read_text()
    environment = json.loads((run / "environment.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    verdict = json.loads((run / "verdict.json").read_text())
    selected = verdict["selected_model"]
    assert card.startswith("# Model card: card\n")
    assert "Separate A from B with a flux f" in _section(card, "Objective")
    data = _section(card, "Data")
    assert environment["data"]["sha256"] in data
    assert f"{summary['data']['rows_read']} read" in data
    assert "derived `fg` = `f - g`" in data and "`f_nondetection`" in data
    assert "flag `f < 2 * e`" in data and "bound `2 * e`" in data and "`g`: [-99" in data
    classes = _section(card, "Classes (operational definitions)")
    assert "| bright | `class == 'A'` |" in classes and "| faint | `class in ['B', 'C']` |" in classes
    model = _section(card, "Selected model")
    assert f"`{selected}`" in model
    record = json.loads((run / "models" / f"{selected}.json").read_text())
    assert record["sha256"] in model
    if selected == "hgb":
        assert "HistGradientBoostingClassifier (max_iter=20" in model
    metrics = _section(card, "Metrics")
    estimate = summary["cases"][0]["models"][selected]["metrics"]["roc_auc"]
    assert f"| bright | {selected} | roc_auc |" in metrics and "| brier |" in metrics
    row = next(line for line in metrics.splitlines() if "| roc_auc |" in line)
    low, high = (float(x) for x in re.search(r"\[([-\d.]+), ([-\d.]+)\]", row).groups())
    assert low == pytest.approx(estimate["interval"][0], abs=0.01) and high == pytest.approx(estimate["interval"][1],
                                                                                             abs=0.01)
    assert "±" in row
    judged = _section(card, "Finish line and verdict")
    assert f"**{verdict['status']}**" in judged and verdict["reason"] in judged and "0.6 (margin 0.02)" in judged
    assert all(f"| {c['name']} |" in judged for c in verdict["criteria"])
    design = _section(card, "Validation design")
    assert "2 folds × 2 repeats, seed 7" in design and "test_size 0.25" in design
    known = _section(card, "Known limits")
    assert "Covariate shift: not measured" in known
    for criterion in verdict["criteria"]:
        assert (f"Criterion {criterion['name']}" in known) == (criterion["status"] != "pass")
    software = _section(card, "Software")
    assert f"scikit-learn {environment['packages']['scikit-learn']}" in software
    usage = _section(card, "How to use it")
    assert f"mlproj predict {run.name} -c mlproj.yaml --data" in usage and "`f`, `g`" in usage


def test_report_rewrites_the_card(run):
    card = run / "models" / "model_card.md"
    before = card.read_text()
    card.write_text("stale")
    result = cli("report", cwd=run.parents[2])
    assert result.exit_code == 0, result.output
    assert card.read_text() == before  # the same run gives the same text


def test_the_card_shows_the_shift_that_was_measured(run):
    summary = Summary.from_dict(json.loads((run / "summary.json").read_text()))
    verdict = Verdict.from_dict(json.loads((run / "verdict.json").read_text()))
    summary.shift = SimpleNamespace(application="faint.csv", domain_auc=0.83, domain_interval=[0.79, 0.87], ess=41.5,
                                    outside_any=0.42, warnings=["the effective sample size is small"])
    import yaml

    card = render_model_card(summary, verdict, yaml.safe_load((run / "project.yaml").read_text()),
                             json.loads((run / "environment.json").read_text()), {}, run.name)
    known = _section(card, "Known limits")
    assert "Covariate shift (faint.csv): domain classifier AUC 0.830 [0.790, 0.870]" in known
    assert "41.5" in known and "42% of the application objects" in known and "effective sample size is small" in known
    assert "has no model file" in _section(card, "How to use it")
