"""Interrogating the selected model through the real CLI (paper §6.1.3): the report's section,
its figures, and the numbers in summary.json; `mlproj report` draws them again from the run."""

from __future__ import annotations

import json

from tests.e2e.helpers import cli, runs_latest, write_project
from tests.e2e.test_harness import catalogue, project


def test_the_report_holds_the_interrogation_section_and_its_figures(tmp_path, figures):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    spec = project([], interrogate={"sensitivity": ["s", "m1"], "by": "w", "bins": ["m1"], "n_bins": 4, "worst": 5})
    spec["report"] = {"figures": True}
    write_project(tmp_path, spec)
    run = cli("run", "-j", "1", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    folder = runs_latest(tmp_path)
    asked = json.loads((folder / "summary.json").read_text())["interrogation"]
    assert asked["model"] == "lr" and [c["feature"] for c in asked["sensitivity"]] == ["s", "m1"]
    curve = asked["sensitivity"][0]
    assert len(curve["predictions"]) == 3 and len(curve["values"]) == 50  # w at 10/50/90%
    assert curve["predictions"][0][0] < 0.1 < 0.9 < curve["predictions"][0][-1]  # p(galaxy) rises with s
    assert len(asked["bins"][0]["bins"]) == 4 and asked["bins"][0]["met_up_to"] is not None
    assert len(asked["worst"]["objects"]) == 5
    report = (folder / "report.md").read_text()
    assert "## Interrogation" in report and "met in every bin of m1" in report
    assert "most confidently wrong" in report
    for stem in ("sensitivity-s", "sensitivity-m1", "metric-by-m1"):
        assert (folder / "figures" / f"{stem}.png").stat().st_size > 1000
        assert (folder / "figures" / f"{stem}.pdf").exists()
        assert f"figures/{stem}.png" in report
    (folder / "figures" / "sensitivity-s.png").unlink()
    again = cli("report", cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert (folder / "figures" / "sensitivity-s.png").exists()


def test_check_refuses_an_interrogation_of_a_feature_the_project_does_not_have(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, project([], interrogate={"bins": ["r"]}))
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 2
    assert "interrogate.bins" in result.stderr and "'r'" in result.stderr
