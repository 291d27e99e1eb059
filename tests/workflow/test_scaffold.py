import os
import stat

import pandas as pd
import pytest

from mlproj.errors import ConfigError
from mlproj.project.loading import load_project
from mlproj.workflow.scaffold import TEMPLATES, scaffold

FILES = {"mlproj.schema.json", "mlproj.yaml", "catalogue.csv", "README.md", ".gitignore"}


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffold_writes_a_valid_project(tmp_path, template):
    target = tmp_path / "deep" / "new project"
    written = scaffold(target, template, rows=300)
    assert {p.name for p in written} == FILES
    assert all(p.is_file() and p.parent == target.resolve() for p in written)
    assert {p.name for p in target.iterdir()} == FILES  # no temporary files left behind

    loaded = load_project(target / "mlproj.yaml")
    assert loaded.project.objective.task == template
    assert (loaded.resolve(loaded.project.data.path)) == (target / "catalogue.csv").resolve()

    table = pd.read_csv(target / "catalogue.csv")
    assert len(table) == 300
    project = loaded.project
    assert project.data.label in table.columns
    assert set(project.data.features) <= set(table.columns)

    readme = (target / "README.md").read_text()
    for command in ("mlproj run", "mlproj verdict", "mlproj plan"):
        assert command in readme
    assert "$" not in readme.replace("```sh", "")  # every placeholder was filled
    assert (target / ".gitignore").read_text().splitlines()[-2:] == ["runs/", ".mlproj/"]
    # Files get ordinary permissions (0o666 minus the umask), not the private mode of temporary files.
    umask = os.umask(0o022)
    os.umask(umask)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name


@pytest.mark.parametrize("template", TEMPLATES)
def test_scaffolded_data_satisfy_the_project(tmp_path, template):
    from mlproj.data.dataset import load_dataset

    scaffold(tmp_path, template, rows=300)
    dataset = load_dataset(load_project(tmp_path / "mlproj.yaml"))
    assert dataset.n_rows == 300 and not dataset.dropped and not dataset.warnings
    assert {"u_g", "g_r", "r_i", "i_z"} <= set(dataset.feature_names)
    if template == "classification":
        assert dataset.classes == ["galaxy", "other"]
        assert dataset.class_counts()["galaxy"] == 144  # 48% of 300


def test_templates_are_heavily_commented():
    from importlib import resources

    for template in TEMPLATES:
        text = (resources.files("mlproj") / "templates" / f"{template}.yaml").read_text(encoding="utf-8")
        lines = text.splitlines()
        comments = [line for line in lines if line.lstrip().startswith("#")]
        assert len(comments) > 0.5 * len([line for line in lines if line.strip()]), template
        for word in ("SMART", "margin", "repeats", "baselines"):
            assert word in text, (template, word)
    classification = (resources.files("mlproj") / "templates" / "classification.yaml").read_text(encoding="utf-8")
    assert "merged" in classification and "false-positive rate" in classification


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty") as info:
        scaffold(tmp_path)
    assert "--force" in str(info.value)
    assert {p.name for p in tmp_path.iterdir()} == {"notes.txt"}


def test_an_empty_existing_folder_is_fine(tmp_path):
    scaffold(tmp_path, "regression", rows=200)
    assert load_project(tmp_path / "mlproj.yaml").project.objective.task == "regression"


def test_force_overwrites_ours_and_keeps_theirs(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mlproj.yaml").write_text("garbage: [")
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    scaffold(tmp_path, "classification", force=True, rows=200)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert load_project(tmp_path / "mlproj.yaml").project.name == "galaxy-purity"
    ignore = (tmp_path / ".gitignore").read_text().splitlines()
    assert ignore[0] == "*.pyc" and "runs/" in ignore and ".mlproj/" in ignore
    # Forcing again does not duplicate the ignore lines, and switching template overwrites.
    scaffold(tmp_path, "regression", force=True, rows=200)
    assert (tmp_path / ".gitignore").read_text().count("runs/") == 1
    assert load_project(tmp_path / "mlproj.yaml").project.objective.task == "regression"


@pytest.mark.parametrize("typo, suggestion", [("regresion", "regression"), ("clasification", "classification")])
def test_unknown_template_suggests_the_closest(tmp_path, typo, suggestion):
    with pytest.raises(ConfigError, match=f"(?i)did you mean '{suggestion}'\\?"):
        scaffold(tmp_path / "p", typo)
    assert not (tmp_path / "p").exists()


def test_unknown_template_lists_the_choices(tmp_path):
    with pytest.raises(ConfigError) as info:
        scaffold(tmp_path / "p", "embedding-xyz")
    assert "classification, regression" in str(info.value)


def test_target_that_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    for force in (False, True):
        with pytest.raises(ConfigError, match="is a file"):
            scaffold(target, force=force)
    assert target.read_text() == "x"


def test_unwritable_target_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot"):
        scaffold(tmp_path / "file" / "below")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="cannot write"):
            scaffold(folder)
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("rows", [0, 5, -1, 2.5, True, "100"])
def test_rows_must_be_a_sensible_integer(tmp_path, rows):
    with pytest.raises(ConfigError, match="rows"):
        scaffold(tmp_path / "p", rows=rows)


def test_default_size_and_determinism(tmp_path):
    scaffold(tmp_path / "a")
    scaffold(tmp_path / "b")
    a, b = (tmp_path / "a" / "catalogue.csv").read_bytes(), (tmp_path / "b" / "catalogue.csv").read_bytes()
    assert a == b
    assert len(pd.read_csv(tmp_path / "a" / "catalogue.csv")) == 3000


def test_cli_init_exit_codes(tmp_path):
    cli = pytest.importorskip("tests.e2e.helpers").cli
    result = cli("init", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "mlproj.yaml").is_file()
    again = cli("init", str(tmp_path / "demo"))
    assert again.exit_code == 2
    assert "not empty" in again.output
