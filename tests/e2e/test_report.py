"""`mlproj run` writes a report a scientist can use, `mlproj report` writes it again, and the CI
outputs (`verdict --markdown`, `--junit`, metrics.json) parse."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from markdown_it import MarkdownIt
from matplotlib.image import imread

from mlproj.analyse.types import Summary
from mlproj.report.metrics import flat_metrics
from mlproj.store.tables import read_columns
from mlproj.verdict.types import Verdict
from tests.e2e.browser import HOW_TO_INSTALL, find_chromium, load_page
from tests.e2e.helpers import REPO, cli, runs_latest

CLASSIFICATION_FIGURES = {"comparison", "roc", "completeness-contamination", "reliability", "corner"}
REGRESSION_FIGURES = {"comparison", "predicted-vs-true", "pit", "coverage-by-sigma", "corner"}


def small_project(tmp_path: Path, template: str) -> Path:
    folder = tmp_path / template
    assert cli("init", str(folder), "--template", template).exit_code == 0
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["validation"].update({"folds": 3, "repeats": 1})
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


def stored(run_dir: Path) -> tuple[Summary, Verdict]:
    return (Summary.from_dict(json.loads((run_dir / "summary.json").read_text())),
            Verdict.from_dict(json.loads((run_dir / "verdict.json").read_text())))


def not_blank(png: Path) -> bool:
    return float(np.var(imread(png)[..., :3])) > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("template", ["classification", "regression"])
def test_a_run_writes_its_report_figures_and_metrics(tmp_path, figures, template):
    folder = small_project(tmp_path, template)
    run = cli("run", cwd=folder)
    assert run.exit_code == 0, run.output
    run_dir = runs_latest(folder).resolve()
    assert f"Report: runs/{run_dir.parent.name}/{run_dir.name}/report.html" in run.output
    expected = CLASSIFICATION_FIGURES if template == "classification" else REGRESSION_FIGURES
    made = {p.stem for p in (run_dir / "figures").glob("*.png")}
    assert made == expected
    for stem in made:
        assert not_blank(run_dir / "figures" / f"{stem}.png"), stem
        assert (run_dir / "figures" / f"{stem}.pdf").read_bytes().startswith(b"%PDF")

    markdown = (run_dir / "report.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    images = [child.attrs["src"] for t in tokens if t.children for child in t.children if child.type == "image"]
    assert sorted(images) == sorted(f"figures/{stem}.png" for stem in expected)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert headings[:4] == ["Objective and finish line", "Data", "Plan", "Baselines and candidates"]
    assert headings[-3:] == ["Verdict", "Methods (ready to paste)", "Record of trials"]

    summary, verdict = stored(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == flat_metrics(summary, verdict)
    assert all(type(v) in (int, float) for v in metrics.values())

    # golden-free: the stored test predictions give the summary's held-out test score
    selected = verdict.selected_model
    test = read_columns(run_dir / "evaluation" / "test.parquet")
    primary = summary.cases[0].primary.label
    value = summary.tested(selected).cases[summary.cases[0].name].metrics[primary]
    if template == "regression":
        from mlproj.science.metrics import compute

        again = compute(summary.cases[0].primary.name, summary.cases[0].primary.params, test["y"],
                        test[f"{selected}|mu"].astype(float))
        assert again == pytest.approx(value, rel=1e-5)
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(expected) and "http://" not in html and "https://" not in html

    # `mlproj report` draws the same figures again (here, not in the figure worker), byte for byte
    before = {p.name: p.read_bytes() for p in (run_dir / "figures").iterdir()}
    again = cli("report", "--latex", cwd=folder)
    assert again.exit_code == 0, again.output
    assert {p.name: p.read_bytes() for p in (run_dir / "figures").iterdir()} == before
    latex = (run_dir / "comparison.tex").read_text()
    assert r"\begin{tabular}" in latex and selected.replace("_", r"\_") in latex


@pytest.mark.slow
def test_verdict_markdown_junit_and_the_record_of_trials(tmp_path):
    folder = small_project(tmp_path, "classification")
    assert cli("run", cwd=folder).exit_code == 0
    assert cli("run", "--rerun", cwd=folder).exit_code == 0
    result = cli("verdict", "--markdown", str(tmp_path / "verdict.md"), "--junit", str(tmp_path / "junit.xml"),
                 cwd=folder)
    verdict = json.loads((runs_latest(folder) / "verdict.json").read_text())
    source = (tmp_path / "verdict.md").read_text()
    html = MarkdownIt("commonmark").enable("table").render(source)
    assert result.exit_code == verdict["exit_code"]
    assert verdict["status"].upper() in source and html.count("<table>") >= 2
    for criterion in verdict["criteria"]:
        assert criterion["name"] in source
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert len(suite.findall("testcase")) == len(verdict["criteria"])
    trials = (folder / "runs" / "trials.csv").read_text().splitlines()
    assert len(trials) == 3 and trials[0].startswith("time,project,run,config_hash")
    report = (runs_latest(folder) / "report.md").read_text()
    assert report.count(" | pass |") + report.count(" | fail |") + report.count(" | undetermined |") >= 2
    assert not (runs_latest(folder) / "figures").exists()  # figures off (MLPROJ_FIGURES=off), report still written


def test_report_of_a_missing_run_is_an_error(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "mlproj.yaml").write_text((REPO / "examples" / "star-galaxy" / "mlproj.yaml").read_text())
    result = cli("report", cwd=folder)
    assert result.exit_code == 2 and "no runs yet" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_report_opens_in_a_browser_with_every_figure_and_no_request(tmp_path, figures):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(HOW_TO_INSTALL)
    folder = tmp_path / "star-galaxy"
    shutil.copytree(REPO / "examples" / "star-galaxy", folder)
    assert cli("run", cwd=folder).exit_code == 0
    page = runs_latest(folder).resolve() / "report.html"
    loaded = load_page(page, chromium=chromium)
    assert loaded.title.startswith("galaxy-purity:")
    assert len(loaded.images) == len(CLASSIFICATION_FIGURES)
    assert all(image["complete"] and image["naturalWidth"] > 0 for image in loaded.images), loaded.images
    leaving = [url for url in loaded.requests if not url.startswith(("file://", "data:"))]
    assert leaving == [] and loaded.requests[0] == page.as_uri()
    shot = tmp_path / "report.png"
    shot.write_bytes(loaded.screenshot)
    assert shot.stat().st_size > 10_000 and not_blank(shot)
    shutil.copy(shot, page.parent / "screenshot.png")  # kept beside the report for a look
