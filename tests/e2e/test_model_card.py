"""The star-galaxy example's run leaves a model card beside its model file (paper §6.2)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.e2e.helpers import REPO, cli, runs_latest


@pytest.mark.slow
def test_the_example_run_writes_its_model_card(tmp_path):
    folder = tmp_path / "star-galaxy"
    shutil.copytree(REPO / "examples" / "star-galaxy", folder, ignore=shutil.ignore_patterns("runs", ".mlproj"))
    result = cli("run", cwd=folder)
    assert result.exit_code == 0, result.output
    run = runs_latest(folder).resolve()
    card = (run / "models" / "model_card.md").read_text()
    verdict = json.loads((run / "verdict.json").read_text())
    environment = json.loads((run / "environment.json").read_text())
    selected = verdict["selected_model"]
    assert (run / "models" / f"{selected}.skops").exists()
    for text in ("# Model card: galaxy-purity", "## Objective", "clustering study", environment["data"]["sha256"],
                 "| galaxy | `class == 'GALAXY'` |", "derived `u_g` = `u - g`", f"`{selected}`",
                 "| tpr_at_fpr(fpr=0.01) |", "**pass**", verdict["reason"], "5 folds × 2 repeats",
                 "## Known limits", "## Software", f"mlproj predict {run.name}"):
        assert text in card, text
