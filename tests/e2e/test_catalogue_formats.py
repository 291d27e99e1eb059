"""One catalogue as FITS, as a whitespace `.cat` and as several CSV files: the same results, and
the cache does not refit when only the file format changed (issue 25, DESIGN §3). Also
`predict --out x.fits` with a column map, and an external test set (data.test_path)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from astropy.table import Table

from tests.e2e.helpers import REPO, cli, latest, runs_latest, write_project

ROWS = 600
FEATURES = ["u", "g", "r", "i", "z", "psf_minus_model"]


def star_galaxy(rows: int = ROWS) -> pd.DataFrame:
    return pd.read_csv(REPO / "examples" / "star-galaxy" / "catalogue.csv").head(rows)


def project(path, **data) -> dict:
    return {
        "name": "formats",
        "objective": {"statement": "s", "task": "classification"},
        "data": {"path": path, "label": "class", "features": FEATURES, "derived": {"u_g": "u - g"}, **data},
        "classes": {"galaxy": "class == 'GALAXY'", "other": "class in ['STAR', 'QSO']"},
        "positive": "galaxy",
        "metric": {"primary": "roc_auc", "secondary": ["accuracy"]},
        "finish_line": {"threshold": 0.8},
        "validation": {"folds": 2, "repeats": 1},
        "baselines": ["dummy"],
        "candidates": [{"name": "lr", "estimator": "LogisticRegression", "scale": True}],
        "execution": {"n_jobs": 1},
    }


def run(folder: Path) -> tuple[int, int]:
    """(fitted, reused) of one `mlproj run`."""
    result = cli("run", "-j", "1", cwd=folder)
    assert result.exit_code in (0, 1, 3), result.output
    nothing = re.search(r"Nothing to fit: all (\d+) results came from the cache", result.stdout)
    if nothing:
        return 0, int(nothing.group(1))
    found = re.search(r"Fitted (\d+), reused (\d+) from the cache", result.stdout)
    assert found, result.stdout
    return int(found.group(1)), int(found.group(2))


def scores(folder: Path) -> dict:
    """summary.json without what names the file or times the fits."""
    summary = latest(folder, "summary.json")
    summary.pop("data")
    for model in summary["models"]:
        model.pop("fit_seconds", None)
    return summary


@pytest.mark.slow
def test_fits_cat_and_csv_parts_give_identical_results_without_refitting(tmp_path: Path):
    frame = star_galaxy()
    Table.from_pandas(frame).write(tmp_path / "cat.fits")
    header = "# star-galaxy catalogue, whitespace-delimited\n# " + " ".join(frame.columns) + "\n"
    body = frame.to_csv(sep=" ", index=False, header=False)
    (tmp_path / "cat.cat").write_text(header + body)
    (tmp_path / "parts").mkdir()
    for k, start in enumerate(range(0, ROWS, 200)):
        frame.iloc[start:start + 200].to_csv(tmp_path / "parts" / f"part-{k + 1}.csv", index=False)

    write_project(tmp_path, project("cat.fits"))
    fitted, _ = run(tmp_path)
    assert fitted > 0
    first = scores(tmp_path)
    first_env = latest(tmp_path, "environment.json")
    for path in ("cat.cat", "parts/part-*.csv"):
        write_project(tmp_path, project(path))
        fitted, reused = run(tmp_path)
        assert (fitted, reused) == (0, reused) and reused > 0, path
        assert scores(tmp_path) == first, path
        env = latest(tmp_path, "environment.json")
        assert env["data"]["content_sha256"] == first_env["data"]["content_sha256"]
        assert env["data"]["sha256"] != first_env["data"]["sha256"]  # the files' own hash, for provenance
    assert [Path(f["path"]).name for f in env["data"]["files"]] == ["part-1.csv", "part-2.csv", "part-3.csv"]
    assert cli("verdict", cwd=tmp_path).exit_code != 2
    # a changed part makes the run stale, although the glob still names the same files
    frame.iloc[400:590].to_csv(tmp_path / "parts" / "part-3.csv", index=False)
    stale = cli("verdict", cwd=tmp_path)
    assert stale.exit_code == 2 and "changed after the run" in stale.stderr, stale.output


@pytest.mark.slow
def test_predict_to_fits_with_a_column_map(tmp_path: Path):
    frame = star_galaxy()
    frame.to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, project("cat.csv"))
    run(tmp_path)
    units = {"u": "mag"}
    new = Table.from_pandas(frame.drop(columns=["class"]).head(50).rename(columns={"u": "psfMag_u", "g": "psfMag_g"}))
    new["psfMag_u"].unit = units["u"]
    new.write(tmp_path / "new.fits")
    result = cli("predict", "--data", "new.fits", "--out", "out.fits", "--columns", "psfMag_u=u,psfMag_g=g",
                 cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = Table.read(tmp_path / "out.fits").to_pandas()
    assert len(out) == 50 and {"psfMag_u", "psfMag_g", "p_galaxy", "predicted_class"} <= set(out.columns)
    (tmp_path / "map.yaml").write_text("psfMag_u: u\npsfMag_g: g\n")
    mapped = cli("predict", "--data", "new.fits", "--out", "out.csv", "--map", "map.yaml", cwd=tmp_path)
    assert mapped.exit_code == 0, mapped.output
    assert pd.read_csv(tmp_path / "out.csv")["p_galaxy"].tolist() == pytest.approx(out["p_galaxy"].tolist())
    unknown = cli("predict", "--data", "new.fits", "--out", "o.csv", "--columns", "psfMag_x=u", cwd=tmp_path)
    assert unknown.exit_code == 2 and "psfMag_x" in unknown.stderr and "Traceback" not in unknown.stderr
    unmapped = cli("predict", "--data", "new.fits", "--out", "o.csv", cwd=tmp_path)
    assert unmapped.exit_code == 2 and "not in the catalogue" in unmapped.stderr  # without the map


@pytest.mark.slow
def test_an_external_test_set(tmp_path: Path):
    frame = star_galaxy()
    frame.head(400).to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[400:].to_csv(tmp_path / "eval.csv", index=False)
    write_project(tmp_path, project("train.csv", test_path="eval.csv"))
    fitted, _ = run(tmp_path)
    assert fitted > 0
    plan = latest(tmp_path, "plan.json")
    labelled = frame["class"].isin(["GALAXY", "STAR", "QSO"])
    assert plan["n_test"] == int(labelled.iloc[400:].sum())
    assert plan["n_development"] == int(labelled.iloc[:400].sum())
    summary = latest(tmp_path, "summary.json")
    assert summary["test"]["models"], "the selected model is scored on the external test set"
    assert "the external test catalogue data.test_path" in (runs_latest(tmp_path) / "report.md").read_text()
    both = project("train.csv", test_path="eval.csv")
    both["validation"]["test_size"] = 0.3
    write_project(tmp_path, both)
    refused = cli("check", cwd=tmp_path)
    assert refused.exit_code == 2 and "test_size and data.test_path are both set" in refused.stderr
    assert json.loads((runs_latest(tmp_path) / "verdict.json").read_text())["status"]
