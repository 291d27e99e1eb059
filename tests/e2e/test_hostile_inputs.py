"""Hostile input that once hung, read without end, crashed late or misled (issue 20).

Every case runs the real CLI in a subprocess with a timeout and a bound on its memory, so a hang
or an endless read fails the test instead of hanging CI or filling the machine's memory; none
asserts on wall-clock time. A rejected case exits 2 with one paragraph naming the file, line or
field, prints no traceback, and leaves the project folder as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import TINY_PROJECT, changed

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev/zero and rlimits are POSIX")
TIMEOUT = 120  # seconds: a bound on a hang, far above what any of these commands needs
# Address space for the CLI: far above what it needs (a run needs well under 4 GiB), far below
# what reading /dev/zero into memory would take before the timeout.
MEMORY = 8 * 2**30 + (os.cpu_count() or 1) * 2**29
BASE = changed(TINY_PROJECT, name="hostile-inputs", execution={"n_jobs": 1})


def _catalogue(path: Path, n: int = 120) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"u": rng.normal(18, 1, n).round(3), "g": rng.normal(17, 1, n).round(3),
                  "class": ["GALAXY", "STAR"] * (n // 2)}).to_csv(path, index=False)


def _project(folder: Path, **changes) -> Path:
    path = folder / "mlproj.yaml"
    path.write_text(yaml.safe_dump(changed(BASE, **changes), sort_keys=False))
    _catalogue(folder / "cat.csv")
    return path


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _bounded_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _mlproj(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it; subprocess.TimeoutExpired (the child killed) on a hang."""
    return subprocess.run([sys.executable, "-m", "mlproj", *args], cwd=folder, capture_output=True, text=True,
                          timeout=TIMEOUT, preexec_fn=_bounded_memory, check=False)


def _assert_rejected(folder: Path, *args: str, words: tuple[str, ...] = ()) -> str:
    before = _listing(folder)
    result = _mlproj(folder, *args)
    message = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], message)
    assert "Traceback" not in result.stdout + result.stderr
    assert message.startswith("error:"), message
    assert "\n\n" not in message and len(message) < 2000  # one paragraph
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert _listing(folder) == before  # nothing created: no run folder, no cache
    return message


# --------------------------------------------------------------------------- values the code cannot use

CONFIG_CASES = {
    "seed-plus-repeat-overflows": ({"validation": {"folds": 2, "repeats": 2, "seed": 4294967295}},
                                   ("(validation.seed)", "2^32 - 1")),
    "seed-10-to-the-30": ({"validation": {"folds": 2, "repeats": 1, "seed": 10**30}}, ("(validation.seed)",)),
    "sample-size-10-to-the-19": ({"objective": {"statement": "s", "task": "classification", "hypotheses": {
        "sample_size": 10**19, "fractions": [0.01, 0.001]}}}, ("(objective.hypotheses.sample_size)",)),
    "infinite-estimator-param": ({"candidates": [{"name": "hgb", "estimator": "HistGradientBoostingClassifier",
                                                  "params": {"learning_rate": float("inf")}}]},
                                 ("(candidates[0].params)", "'learning_rate' is infinite")),
    "nan-estimator-param": ({"candidates": [{"name": "hgb", "estimator": "HistGradientBoostingClassifier",
                                             "params": {"learning_rate": float("nan")}}]},
                            ("(candidates[0].params)", "'learning_rate' is NaN")),
    "huge-n-jobs": ({"execution": {"n_jobs": 10**30}}, ("(execution.n_jobs)",)),
    "candidate-name-of-300-letters": ({"candidates": [{"name": "a" * 300, "estimator": "LogisticRegression"}]},
                                      ("(candidates[0].name)", "at most 64 characters")),
    "nul-escape-in-data-path": ({"data": {"path": "cat\0.csv", "label": "class", "features": ["u", "g"]}},
                                ("(data.path)", "NUL character")),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES), ids=sorted(CONFIG_CASES))
def test_values_the_schema_accepted_but_the_code_could_not_use_are_refused_before_any_fit(tmp_path, case):
    changes, words = CONFIG_CASES[case]
    project = {**BASE, **changes}
    (tmp_path / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    _catalogue(tmp_path / "cat.csv")
    _assert_rejected(tmp_path, "run", words=words + ("mlproj.yaml:",))


def test_nul_byte_in_the_project_file_names_its_line(tmp_path):
    _project(tmp_path)
    text = (tmp_path / "mlproj.yaml").read_text().replace("label: class", "label: cl\x00ass")
    (tmp_path / "mlproj.yaml").write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "\x00" in row)
    message = _assert_rejected(tmp_path, "check", words=(f"mlproj.yaml:{line}:", "NUL byte"))
    assert "ReaderError" not in message


def test_a_flat_sum_of_150_terms_is_evaluated(tmp_path):
    _project(tmp_path, data__derived={"x": " + ".join(["u"] * 150)})
    result = _mlproj(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    assert "nested too deeply" not in result.stderr


def test_a_sum_of_3000_terms_is_still_too_long(tmp_path):
    _project(tmp_path, data__derived={"x": " + ".join(["u"] * 3000)})
    _assert_rejected(tmp_path, "check", words=("(data.derived.x)", "characters long"))


# --------------------------------------------------------------------------- rows a quote would swallow

@pytest.mark.slow
@pytest.mark.parametrize("row", [1, 100])
def test_an_unclosed_quote_exits_2_naming_its_line(tmp_path, row):
    _project(tmp_path)
    lines = (tmp_path / "cat.csv").read_text().splitlines()
    lines[row] = lines[row].replace("STAR", '"STAR').replace("GALAXY", '"GALAXY')
    (tmp_path / "cat.csv").write_text("\n".join(lines) + "\n")
    message = _assert_rejected(tmp_path, "run", words=("(data.path)", f"line {row + 1} (data row {row})",
                                                       "120 data lines"))
    assert "matching no class" not in message and "(classes" not in message


@pytest.mark.slow
def test_a_header_of_a_million_columns_gives_the_real_cause(tmp_path):
    _project(tmp_path)
    columns = 1_000_000
    (tmp_path / "cat.csv").write_text(",".join(f"c{i}" for i in range(columns)) + "\n"
                                      + ",".join(["1"] * columns) + "\n")
    message = _assert_rejected(tmp_path, "check", words=("(data.path)", "1,000,000 columns"))
    assert "Empty CSV file" not in message


# --------------------------------------------------------------------------- files that are no files

def test_a_fifo_as_project_file_is_refused_by_every_command(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    for command in ("check", "run", "verdict"):
        _assert_rejected(tmp_path, command, "-c", "fifo.yaml",
                         words=("not a regular file",) if command != "verdict" else ())


def test_dev_zero_as_project_file_is_refused(tmp_path):
    (tmp_path / "mlproj.yaml").symlink_to("/dev/zero")
    _assert_rejected(tmp_path, "check", words=("not a regular file but a character device",))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "dev-zero", "symlink-loop", "name-too-long"])
def test_a_catalogue_that_is_no_regular_file_is_refused(tmp_path, kind):
    if kind == "fifo":
        path, words = "pipe.csv", ("named pipe (FIFO)",)
        _project(tmp_path, data__path=path)
        os.mkfifo(tmp_path / path)
    elif kind == "dev-zero-link":
        path, words = "zero.csv", ("character device",)
        _project(tmp_path, data__path=path)
        (tmp_path / path).symlink_to("/dev/zero")
    elif kind == "dev-zero":
        path, words = "/dev/zero", ("character device",)
        _project(tmp_path, data__path=path)
    elif kind == "symlink-loop":
        path, words = "a.csv", ("leads back to itself",)
        _project(tmp_path, data__path=path)
        (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
        (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    else:
        path, words = "x" * 300 + ".csv", ("name is too long",)
        _project(tmp_path, data__path=path)
    for command in ("check", "run") if kind in ("fifo", "dev-zero-link") else ("check",):
        _assert_rejected(tmp_path, command, words=("(data.path)",) + words)


@pytest.mark.slow
def test_verdict_does_not_hang_when_the_catalogue_or_project_file_became_a_pipe_or_device(tmp_path):
    _project(tmp_path)
    assert _mlproj(tmp_path, "run").returncode in (0, 1, 3)
    catalogue, project = tmp_path / "cat.csv", tmp_path / "mlproj.yaml"
    catalogue.rename(tmp_path / "real.csv")
    catalogue.symlink_to("/dev/zero")
    _assert_rejected(tmp_path, "verdict", words=("stale",))
    catalogue.unlink()
    os.mkfifo(catalogue)
    _assert_rejected(tmp_path, "verdict", words=("stale",))
    catalogue.unlink()
    (tmp_path / "real.csv").rename(catalogue)
    project.rename(tmp_path / "real.yaml")
    os.mkfifo(project)
    _assert_rejected(tmp_path, "verdict", words=("stale",))
    _assert_rejected(tmp_path, "run", words=("not a regular file",))
