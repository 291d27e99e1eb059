"""Every example project file in configs/ validates, and its definitions fit the real catalogue.

Validation of the project file itself needs no data; the checks that read the catalogue skip
when the shared real data (../shared/data, or $MLPROJ_SHARED_DATA) is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlproj.project.loading import load_project
from tests.conftest import SHARED_DATA

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def _dataset(config: Path, tmp_path: Path):
    """Labels and features of `config` built from the real catalogue (skip if it is absent)."""
    from mlproj.data.dataset import load_dataset

    loaded = load_project(config)
    written = loaded.project.data.path
    data_path = loaded.resolve(written)
    if written.startswith("../../shared/data/"):
        # Follow $MLPROJ_SHARED_DATA if the shared data live elsewhere than beside the repository.
        data_path = SHARED_DATA / written.removeprefix("../../shared/data/")
    if not data_path.is_file():
        pytest.skip(f"the shared real catalogue {data_path} is absent")
    if data_path != loaded.resolve(written):
        copy = tmp_path / config.name
        copy.write_text(config.read_text(encoding="utf-8").replace(written, str(data_path)), encoding="utf-8")
        loaded = load_project(copy)
    return load_dataset(loaded)


def test_there_are_example_configs():
    names = {c.name for c in CONFIGS}
    assert {"sdss-galaxy-purity.yaml", "mlz-photoz.yaml", "linear-variables.yaml"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_validates(config):
    loaded = load_project(config)
    project = loaded.project
    assert project.data.path.startswith("../../shared/data/")
    assert project.candidates, "every example tries at least one candidate"
    assert project.validation.repeats == 1 and project.validation.folds == 5  # keeps a run short
    assert project.objective.statement.strip()
    # Documented: most lines of an example are comments.
    text = config.read_text(encoding="utf-8")
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 10


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_fits_its_catalogue(config, tmp_path):
    dataset = _dataset(config, tmp_path)
    assert dataset.n_rows > 1000
    # Sentinel replacements are reported on purpose; anything else would be a surprise.
    assert not [w for w in dataset.warnings if not w.startswith("sentinel values")], dataset.warnings


def test_sdss_config_does_not_use_the_leaking_redshift():
    loaded = load_project(next(c for c in CONFIGS if c.name == "sdss-galaxy-purity.yaml"))
    data = loaded.project.data
    assert "redshift" not in data.features
    assert not any("redshift" in expression for expression in data.derived.values())
    assert loaded.project.classes == {"galaxy": "class == 'GALAXY'", "other": "class in ['STAR', 'QSO']"}


def test_linear_config_drops_delta_scuti(tmp_path):
    dataset = _dataset(next(c for c in CONFIGS if c.name == "linear-variables.yaml"), tmp_path)
    assert dataset.dropped == {"matching no class": 82}
    assert dataset.class_counts() == {"rr_lyrae_ab": 2612, "rr_lyrae_c": 864, "eclipsing": 2588}
