"""The whole loop on simulated data: init → run → verdict; cache reuse; stale runs; JUnit."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from mlproj.workflow.scaffold import _DETAILS, TEMPLATES
from tests.e2e.helpers import cli, cli_subprocess, latest, runs_latest

VERDICT_CODES = {"pass": 0, "fail": 1, "undetermined": 3}


def _init(tmp_path: Path, template: str = "classification") -> Path:
    result = cli("init", str(tmp_path / "demo"), "--template", template)
    assert result.exit_code == 0, result.output
    return tmp_path / "demo"


def _results(folder: Path) -> list[dict]:
    with open(runs_latest(folder) / "results.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_new_user_loop_as_real_processes(tmp_path: Path):
    init = cli_subprocess("init", "demo", "--template", "classification", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    demo = tmp_path / "demo"
    run = cli_subprocess("run", cwd=demo)
    assert run.returncode == 0, run.stderr
    verdict = cli_subprocess("verdict", cwd=demo)
    assert verdict.returncode in (0, 1, 3), verdict.stderr
    assert "VERDICT" in verdict.stdout
    assert "Traceback" not in init.stderr + run.stderr + verdict.stderr
    stored = latest(demo, "verdict.json")
    assert verdict.returncode == VERDICT_CODES[stored["status"]]
    assert {"status", "selected_model", "primary", "criteria", "comparisons", "warnings"} <= set(stored)


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    result = cli("init", str(tmp_path / "demo"))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "demo" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_second_run_fits_nothing_and_a_new_candidate_fits_only_itself(tmp_path: Path):
    demo = _init(tmp_path)
    assert cli("run", "-j", "1", cwd=demo).exit_code == 0
    first = _results(demo)

    runs_before = sorted((demo / "runs").iterdir())
    again = cli("run", "-j", "1", cwd=demo)
    assert again.exit_code == 0
    assert "Up to date: runs/" in again.stdout and "VERDICT:" in again.stdout
    assert sorted((demo / "runs").iterdir()) == runs_before  # no new run folder for the same numbers
    assert _results(demo) == first

    rerun = cli("run", "-j", "1", "--rerun", cwd=demo)
    assert rerun.exit_code == 0
    assert "Nothing to fit" in rerun.stdout
    assert all(row["cached"] == "True" for row in _results(demo))
    strip = [{k: v for k, v in row.items() if k not in ("cached", "fit_seconds")} for row in _results(demo)]
    assert strip == [{k: v for k, v in row.items() if k not in ("cached", "fit_seconds")} for row in first]

    (demo / "mlproj.yaml").write_text((demo / "mlproj.yaml").read_text() + "\n# a comment changes no number\n")
    assert "Up to date" in cli("run", "-j", "1", cwd=demo).stdout

    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["candidates"].append({"name": "knn", "estimator": "KNeighborsClassifier", "params": {"n_neighbors": 15},
                                  "scale": True})
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    third = cli("run", "-j", "1", cwd=demo)
    assert third.exit_code == 0, third.output
    rows = _results(demo)
    fitted = {row["model"] for row in rows if row["cached"] == "False"}
    assert fitted == {"knn"}
    assert sum(row["model"] == "knn" for row in rows) == len(first) // (len(first) // sum(r["model"] == "dummy" for r in first))
    # Cached metrics are the same numbers as freshly fitted ones.
    before = {(r["model"], r["repeat"], r["fold"]): r for r in first}
    label = latest(demo, "summary.json")["cases"][0]["primary"]["label"]
    for row in rows:
        if row["model"] != "knn":
            assert row[label] == before[(row["model"], row["repeat"], row["fold"])][label]
    with open(demo / "catalogue.csv", "a") as handle:  # a changed catalogue: a new run
        handle.write(open(demo / "catalogue.csv").read().splitlines()[1] + "\n")
    assert "Up to date" not in cli("run", "-j", "1", cwd=demo).stdout


@pytest.mark.slow
def test_verdict_on_a_run_whose_config_changed_is_stale(tmp_path: Path):
    demo = _init(tmp_path)
    assert cli("run", cwd=demo).exit_code == 0
    text = (demo / "mlproj.yaml").read_text()
    (demo / "mlproj.yaml").write_text(text + "\n# a comment does not make the run stale\n")
    assert cli("verdict", cwd=demo).exit_code in (0, 1, 3)

    project = yaml.safe_load(text)
    project["finish_line"]["threshold"] = project["finish_line"]["threshold"] * 0.5
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    stale = cli("verdict", cwd=demo)
    assert stale.exit_code == 2
    assert "stale" in stale.stderr and "changed after the run" in " ".join(stale.stderr.split())
    assert cli("verdict", "--allow-stale", cwd=demo).exit_code in (0, 1, 3)
    # --json keeps stdout for the JSON, but a CI log must still show that the verdict is old
    as_json = cli("verdict", "--allow-stale", "--json", cwd=demo)
    assert as_json.exit_code == VERDICT_CODES[json.loads(as_json.stdout)["status"]]
    assert "stale run" in as_json.stderr and "old run's verdict" in " ".join(as_json.stderr.split())


@pytest.mark.slow
def test_verdict_on_a_run_whose_data_changed_is_stale(tmp_path: Path):
    demo = _init(tmp_path)
    assert cli("run", cwd=demo).exit_code == 0
    catalogue = demo / "catalogue.csv"
    lines = catalogue.read_text().splitlines(keepends=True)
    catalogue.write_text("".join(lines[:-1]))
    result = cli("verdict", cwd=demo)
    assert result.exit_code == 2
    assert "catalogue" in result.stderr and "changed" in result.stderr


@pytest.mark.slow
def test_commands_into_a_closed_pipe_keep_their_exit_codes(tmp_path: Path):
    """`mlproj verdict | head -1`: the reader stops early; the exit code must still be the verdict's,
    and JSON written straight to stdout (`schema`, `plan --json`) is no internal error."""
    import subprocess
    import sys

    demo = _init(tmp_path)
    assert cli("run", cwd=demo).exit_code == 0
    verdict = VERDICT_CODES[latest(demo, "verdict.json")["status"]]
    for command, expected in ((["verdict"], verdict), (["verdict", "--json"], verdict), (["schema"], 0),
                              (["plan", "--json"], 0)):
        process = subprocess.Popen([sys.executable, "-m", "mlproj", *command], cwd=demo,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()  # closed before mlproj writes: its first write meets a broken pipe
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == expected, (command, stderr)
        assert "Traceback" not in stderr and "internal error" not in stderr, command


@pytest.mark.slow
def test_verdict_json_and_junit(tmp_path: Path):
    demo = _init(tmp_path)
    assert cli("run", cwd=demo).exit_code == 0
    as_json = cli("verdict", "--json", cwd=demo)
    verdict = json.loads(as_json.stdout)
    assert as_json.exit_code == VERDICT_CODES[verdict["status"]]
    assert verdict == latest(demo, "verdict.json")
    junit = tmp_path / "report.xml"
    cli("verdict", "--junit", str(junit), cwd=demo)
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c["name"] for c in verdict["criteria"]]
    assert int(suite.get("failures")) == sum(c["status"] == "fail" for c in verdict["criteria"])


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_the_verdicts_a_template_readme_promises(tmp_path: Path, template: str):
    """The README that `mlproj init` writes tells the user which thresholds pass, stay
    undetermined and fail on the demo catalogue: each of them does, with its exit code."""
    demo = _init(tmp_path, template)
    readme = " ".join((demo / "README.md").read_text().split())
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    for threshold, status in _DETAILS[template].verdicts:
        assert re.search(rf"(?<![\d.]){re.escape(f'{threshold:g}')}(?![\d])", readme), \
            f"the README does not mention the threshold {threshold:g}"
        text = (demo / "mlproj.yaml").read_text()
        old = f"threshold: {project['finish_line']['threshold']:g}"
        assert old in text
        (demo / "mlproj.yaml").write_text(text.replace(old, f"threshold: {threshold:g}"))
        project["finish_line"]["threshold"] = threshold
        run = cli("run", cwd=demo)
        assert run.exit_code == 0, run.output
        verdict = cli("verdict", cwd=demo)
        assert verdict.exit_code == VERDICT_CODES[status], f"threshold {threshold:g}: {verdict.output}"
    assert latest(demo, "summary.json")["task"] == template  # each template is named after its task


@pytest.mark.slow
def test_version_and_a_scheduler_without_the_dask_backend(tmp_path: Path):
    from mlproj import __version__

    version = cli("--version")
    assert (version.exit_code, version.stdout.strip()) == (0, f"mlproj {__version__}")
    demo = _init(tmp_path)
    alone = cli("run", "--scheduler", "tcp://127.0.0.1:8786", cwd=demo)
    assert alone.exit_code == 2
    assert "--backend dask" in alone.stderr and not (demo / "runs").exists()
    # also when the latest run is up to date and nothing would be fitted
    assert cli("run", cwd=demo).exit_code == 0
    for options, words in ((["--scheduler", "tcp://127.0.0.1:8786"], "--backend dask"),
                           (["--backend", "bogus"], "unknown backend"), (["-j", "0"], "-j must be")):
        result = cli("run", *options, cwd=demo)
        assert result.exit_code == 2 and words in result.stderr, (options, result.output)


@pytest.mark.slow
def test_the_test_set_counts_model_configurations_not_names_or_finish_lines(tmp_path: Path):
    demo = _init(tmp_path)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["validation"]["repeats"] = 1

    def run_with(**changes) -> dict:
        for section, value in changes.items():
            project[section] = value
        (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        assert cli("run", cwd=demo).exit_code == 0
        return latest(demo, "summary.json")

    assert run_with()["test"]["uses"] == 1
    assert run_with(name="renamed")["test"]["uses"] == 1
    assert run_with(finish_line={"threshold": 0.95, "margin": 0.01})["test"]["uses"] == 1
    changed = run_with(candidates=[{"name": "hgb", "estimator": "HistGradientBoostingClassifier",
                                    "params": {"max_iter": 50}}])
    assert changed["test"]["uses"] == 2
    assert any("used by 2 different model configurations" in w for w in changed["warnings"])


def test_plan_and_schema(tmp_path: Path):
    demo = _init(tmp_path)
    plan = cli("plan", "--json", cwd=demo)
    assert plan.exit_code == 0
    data = json.loads(plan.stdout)
    assert data["total_fits"] == sum(m["fits"] for m in data["models"])
    table = cli("plan", cwd=demo)
    assert "Total" in table.stdout
    schema = json.loads(cli("schema").stdout)
    assert "finish_line" in schema["properties"]


@pytest.mark.slow
def test_regression_uncertainty_criteria_and_quantile_sigma(tmp_path: Path):
    demo = _init(tmp_path, "regression")
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["uncertainty"] = {"method": "quantile", "coverage_68": [0.55, 0.8], "crps": 1.0}
    project["validation"].update({"repeats": 1})
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    result = cli("run", cwd=demo)
    assert result.exit_code == 0, result.output
    verdict = latest(demo, "verdict.json")
    criteria = {c["name"]: c for c in verdict["criteria"]}
    assert criteria["crps"]["status"] == "pass"
    assert criteria["coverage_68"]["status"] in {"pass", "undetermined"}
    assert set(verdict["selections"][0]["uncertainty"]["methods"]) == {"global", "quantile"}


@pytest.mark.slow
def test_calibrated_classification(tmp_path: Path):
    demo = _init(tmp_path)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["uncertainty"] = {"method": "calibrated", "calibration": "sigmoid"}
    project["validation"].update({"repeats": 1})
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    result = cli("run", cwd=demo)
    assert result.exit_code == 0, result.output
    diagnostics = latest(demo, "verdict.json")["diagnostics"]
    assert diagnostics["calibration"]["ece"] < 0.05
    assert "Calibration of" in result.stdout


@pytest.mark.slow
def test_cache_prune_keeps_the_current_plan(tmp_path: Path):
    demo = _init(tmp_path)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["validation"]["repeats"] = 1
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    assert cli("run", cwd=demo).exit_code == 0
    project["candidates"] = []  # the candidate's fits become stale
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    pruned = cli("cache", "prune", cwd=demo)
    assert pruned.exit_code == 0, pruned.output
    assert "Removed" in pruned.stdout and not pruned.stdout.startswith("Removed 0 ")
    again = cli("run", cwd=demo)
    assert again.exit_code == 0
    assert "Fitted 0," in again.stdout or "Nothing to fit" in again.stdout or "Fitted 1," in again.stdout
    assert cli("cache", "prune", "--all", cwd=demo).exit_code == 0
    assert not list((demo / ".mlproj" / "cache").rglob("*.npz"))


@pytest.mark.slow
def test_a_run_with_failed_fits_is_never_up_to_date(tmp_path: Path):
    demo = _init(tmp_path)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["validation"]["repeats"] = 1
    # Valid parameters that scikit-learn only rejects when fitting: every fit of this model fails.
    project["candidates"].append({"name": "broken", "estimator": "LogisticRegression",
                                  "params": {"penalty": "l1", "solver": "lbfgs"}})
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    first = cli("run", "-j", "1", cwd=demo)
    assert first.exit_code == 0, first.output
    assert "5 failed" in first.stdout
    # said before the tables and the verdict, not only among the warnings at the end
    shown = " ".join(first.stdout.split())
    said = shown.index("failed fits: broken: 5 of 5 fits failed")
    assert said < shown.index("cross-validated") and "takes no part in the selection" in shown[said:]
    assert shown.count("broken: 5 of 5 fits failed") == 1
    assert latest(demo, "summary.json")["failed_fits"] == 5
    again = cli("run", "-j", "1", cwd=demo)
    assert "Up to date" not in again.stdout
    assert "5 failed" in again.stdout  # retried, not remembered


def test_a_run_whose_every_fit_fails_is_an_error_not_an_undetermined_verdict(tmp_path: Path):
    demo = _init(tmp_path)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["validation"]["repeats"] = 1
    project["baselines"] = []
    project["candidates"] = [{"name": "broken", "estimator": "LogisticRegression",
                              "params": {"penalty": "l1", "solver": "lbfgs"}}]
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    result = cli("run", "-j", "1", cwd=demo)
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "every fit failed, so there is nothing to judge: broken:" in message and "solver" in message.lower()
    assert not (demo / "runs").exists()  # no run folder that `mlproj verdict` would call undetermined


@pytest.mark.slow
def test_fits_catalogue_gives_the_same_results_as_its_csv(tmp_path: Path):
    """An astronomer's FITS table runs end to end, number for number like the same data in CSV."""
    import pandas as pd
    from astropy.table import Table

    demo = _init(tmp_path)
    config = yaml.safe_load((demo / "mlproj.yaml").read_text())
    config["candidates"] = config["candidates"][:1]
    config["baselines"] = ["dummy"]
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert cli("run", "-j", "1", cwd=demo).exit_code in VERDICT_CODES.values()
    from_csv = _results(demo)

    table = Table.from_pandas(pd.read_csv(demo / config["data"]["path"]))
    for name in table.colnames:
        if table[name].dtype.kind == "U":
            table[name] = table[name].astype(bytes)  # as FITS stores text
    table.write(demo / "catalogue.fits", format="fits")
    config["data"]["path"] = "catalogue.fits"
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert cli("run", "-j", "1", cwd=demo).exit_code in VERDICT_CODES.values()
    assert cli("verdict", cwd=demo).exit_code in VERDICT_CODES.values()
    from_fits = _results(demo)
    metrics = [k for k in from_csv[0] if k not in ("fit_seconds", "cached")]
    assert [[row[k] for k in metrics] for row in from_fits] == [[row[k] for k in metrics] for row in from_csv]
