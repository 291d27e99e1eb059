"""The shipped examples are what `mlproj init` writes today, and they validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlproj.project.loading import load_project
from mlproj.workflow.scaffold import scaffold

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("folder,template", [("star-galaxy", "classification"), ("photo-z", "regression")])
def test_example_matches_init_output(tmp_path: Path, folder: str, template: str):
    scaffold(tmp_path / folder, template)
    # mlproj.schema.json too, but its estimator enum moves with scikit-learn: tests/project/test_shipped_schema.py
    for name in ("mlproj.yaml", "catalogue.csv", "README.md"):
        assert (EXAMPLES / folder / name).read_bytes() == (tmp_path / folder / name).read_bytes(), (
            f"examples/{folder}/{name} differs from `mlproj init`: regenerate it with "
            f"`mlproj init examples/{folder} --template {template} --force`"
        )
    load_project(EXAMPLES / folder / "mlproj.yaml")
