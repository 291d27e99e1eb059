"""A hostile file system: full disk, read-only folders, things in the way, damaged run files.

Each case ends with exit 2 and one paragraph that names the path, what is wrong and what to do
(never "internal error", never a traceback), leaves no half-written run or cache entry, and
creates nothing outside the project. Every CLI call is bounded: in-process ones by SIGALRM,
subprocesses by their timeout, so a hang fails the test instead of holding up CI.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import TINY_PROJECT, changed, cli, runs_latest

LIMIT = 120  # seconds any one command may take before the test fails as hung
PROJECT = changed(TINY_PROJECT, name="storage", finish_line={"threshold": 0.6},
                  candidates=[{"name": "logistic", "estimator": "LogisticRegression"}])


class Hung(BaseException):
    """Raised by SIGALRM in a command that took longer than LIMIT (passes through mlproj's guard)."""


def run_cli(*args: str, cwd: Path, seconds: int = LIMIT):
    def hang(signum, frame):  # noqa: ARG001
        raise Hung(f"mlproj {' '.join(args)} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        return cli(*args, cwd=cwd)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_wrapped(prelude: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, after `prelude` (Python) has patched something in it."""
    code = prelude + "\nimport sys\nfrom mlproj.cli import entry\nsys.argv = ['mlproj', *sys.argv[1:]]\nentry()\n"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=LIMIT, env={**os.environ, "COLUMNS": "400"})


def make_project(folder: Path, project: dict = PROJECT, column: str = "u") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    classes = np.array(["GALAXY", "STAR"] * 40)
    pd.DataFrame({column: rng.normal(18, 1, 80) + 1.5 * (classes == "GALAXY"), "g": rng.normal(17, 1, 80),
                  "class": classes}).to_csv(folder / "cat.csv", index=False)
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("storage") / "project")
    result = run_cli("run", "-j", "1", cwd=root)
    assert result.exit_code in (0, 1, 3), result.output
    return root


@pytest.fixture
def project(finished: Path, tmp_path: Path) -> Path:
    """A copy of the finished project (its run's recorded paths pointed at the copy)."""
    copy = tmp_path / "project"
    shutil.copytree(finished, copy, symlinks=True)
    env_path = runs_latest(copy).resolve() / "environment.json"
    env = json.loads(env_path.read_text())
    env["config"]["path"] = str(copy / "mlproj.yaml")
    env["data"]["path"] = str(copy / "cat.csv")
    env_path.write_text(json.dumps(env))
    return copy


def one_line(text: str) -> str:
    return " ".join(text.split())


def assert_rejected(result, project: Path, *words: str) -> str:
    """Exit 2, one paragraph on stderr naming what is wrong, no traceback, nothing outside the project."""
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    output = result.stdout + result.stderr
    assert exit_code == 2, (exit_code, output)
    assert "Traceback" not in output and "internal error" not in output, output
    message = result.stderr.strip()
    assert message.splitlines()[-1].startswith("error:") or message.startswith("error:"), message
    error = message[message.index("error:"):]
    assert "\n\n" not in error and len(error) < 2000
    for word in words:
        assert word.lower() in one_line(error).lower(), (word, error)
    assert sorted(p.name for p in project.parent.iterdir()) == [project.name], "something was written outside"
    return one_line(error)


def visible_runs(project: Path) -> list[str]:
    runs = runs_latest(project).parent
    return sorted(p.name for p in runs.iterdir() if p.name != "latest" and not p.name.startswith(".")) \
        if runs.is_dir() else []


def temporary_files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*") if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- a full disk (ENOSPC)

FAIL_AT = """
import errno
import mlproj.store.rundir as rundir
real = rundir.write_text_atomic
def failing(path, text):
    if {test}:
        {action}
    return real(path, text)
rundir.write_text_atomic = failing
"""
DISK_FULL = "raise OSError(errno.ENOSPC, 'No space left on device', str(path))"


@pytest.mark.slow
def test_a_full_disk_while_the_run_folder_is_written_leaves_no_run(tmp_path: Path):
    project = make_project(tmp_path / "project")
    prelude = FAIL_AT.format(test="path.name == 'verdict.json'", action=DISK_FULL)
    result = run_wrapped(prelude, "run", "-j", "1", cwd=project)
    message = assert_rejected(result, project, "the disk is full", "verdict.json", "free some space")
    assert "runs" in message
    assert visible_runs(project) == [], "a run folder without its verdict was left behind"
    assert not temporary_files(project)
    assert assert_rejected(run_cli("verdict", cwd=project), project, "no runs yet")

    again = run_cli("run", "-j", "1", cwd=project)  # the cache was kept whole: nothing is refitted
    assert again.exit_code in (0, 1, 3), again.output
    assert "Nothing to fit" in again.stdout
    assert len(visible_runs(project)) == 1


@pytest.mark.slow
def test_a_full_disk_while_a_model_is_saved_leaves_no_run_to_answer_for_it(project: Path):
    before = visible_runs(project)
    prelude = FAIL_AT.format(test="path.parent.name == 'models'", action=DISK_FULL)
    result = run_wrapped(prelude, "run", "--rerun", "-j", "1", cwd=project)
    assert_rejected(result, project, "the disk is full")
    assert visible_runs(project) == before and not temporary_files(project)
    verdict = run_cli("verdict", cwd=project)  # the earlier, complete run still answers
    assert verdict.exit_code in (0, 1, 3), verdict.output


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk_under_the_cache_keeps_it_whole(tmp_path: Path, jobs: str):
    """Every file write fails as on a full disk: the first cache entry stops the run (also when it
    is written by a worker thread, which would otherwise count it as a failed fit)."""
    project = make_project(tmp_path / "project")
    prelude = ("import errno, os\n"
               "def full(fd):\n    raise OSError(errno.ENOSPC, 'No space left on device')\n"
               "os.fsync = full\n")
    result = run_wrapped(prelude, "run", "-j", jobs, cwd=project)
    assert_rejected(result, project, "the disk is full", ".mlproj/cache", "free some space")
    assert "failed" not in result.stdout
    assert not list((project / ".mlproj").rglob("*.npz")) and not temporary_files(project)
    assert visible_runs(project) == []


# --------------------------------------------------------------------------- read-only, no permission

def _refuse_creating(monkeypatch, inside: str, code: int) -> None:
    """Creating a file or folder under a path containing `inside` fails with errno `code` (a chmod
    would not do: the tests run as root, which may write anywhere)."""
    real_open, real_mkdir = os.open, os.mkdir

    def guarded_open(path, flags, *args, **kwargs):
        if inside in str(path) and flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_read_only_cache(tmp_path: Path, monkeypatch, jobs: str):
    project = make_project(tmp_path / "project")
    (project / ".mlproj" / "cache").mkdir(parents=True)
    _refuse_creating(monkeypatch, f"{os.sep}.mlproj{os.sep}cache{os.sep}", errno.EROFS)
    result = run_cli("run", "-j", jobs, cwd=project)
    assert_rejected(result, project, "read-only", ".mlproj/cache", "make it writable")
    assert "failed" not in result.stdout
    assert visible_runs(project) == []


def test_a_read_only_project_folder(tmp_path: Path, monkeypatch):
    project = make_project(tmp_path / "project")
    _refuse_creating(monkeypatch, f"{project}{os.sep}.mlproj", errno.EROFS)
    assert_rejected(run_cli("run", "-j", "1", cwd=project), project, "read-only", str(project / ".mlproj"))


def test_no_permission_to_write_the_runs_folder(project: Path, monkeypatch):
    before = visible_runs(project)
    _refuse_creating(monkeypatch, f"{project}{os.sep}runs{os.sep}", errno.EACCES)
    result = run_cli("run", "--rerun", "-j", "1", cwd=project)
    assert_rejected(result, project, "permission denied", "runs", "writable")
    assert visible_runs(project) == before


# --------------------------------------------------------------------------- things in the way

def _mlproj_a_file(project: Path) -> None:
    shutil.rmtree(project / ".mlproj")
    (project / ".mlproj").write_text("not a folder")


def _cache_a_file(project: Path) -> None:
    shutil.rmtree(project / ".mlproj" / "cache")
    (project / ".mlproj" / "cache").write_text("not a folder")


def _lock_a_folder(project: Path) -> None:
    (project / ".mlproj" / "run.lock").unlink()
    (project / ".mlproj" / "run.lock").mkdir()


def _folder_for_an_entry(project: Path) -> None:
    entry = sorted((project / ".mlproj" / "cache").rglob("*.npz"))[0]
    entry.unlink()
    entry.mkdir()


def _runs_a_file(project: Path) -> None:
    shutil.rmtree(project / "runs")
    (project / "runs").write_text("not a folder")


IN_THE_WAY = {
    "mlproj-is-a-file": (_mlproj_a_file, ["run", "--rerun", "-j", "1"], [".mlproj is a file", "remove or rename"]),
    "cache-is-a-file": (_cache_a_file, ["run", "--rerun", "-j", "1"], ["cache is a file", "remove or rename"]),
    "run-lock-is-a-folder": (_lock_a_folder, ["run", "--rerun", "-j", "1"], ["run.lock", "is a folder",
                                                                            "remove or rename"]),
    "stray-folder-in-the-cache": (_folder_for_an_entry, ["run", "--rerun", "-j", "1"], [".npz is a folder",
                                                                                       "remove it"]),
    "runs-is-a-file": (_runs_a_file, ["run", "--rerun", "-j", "1"], ["runs", "is a file", "remove or rename"]),
}


@pytest.mark.parametrize("case", sorted(IN_THE_WAY))
def test_a_file_or_folder_in_the_way(project: Path, case: str):
    arrange, command, words = IN_THE_WAY[case]
    arrange(project)
    assert_rejected(run_cli(*command, cwd=project), project, *words)
    assert not temporary_files(project)


def test_a_symlink_loop_as_the_latest_run(project: Path):
    latest = runs_latest(project)
    latest.unlink()
    latest.symlink_to("latest")
    assert_rejected(run_cli("verdict", cwd=project), project, "/latest", "loop", "remove it")
    assert_rejected(run_cli("predict", "--data", "cat.csv", "--out", "p.csv", cwd=project), project, "loop")
    again = run_cli("run", "--rerun", "-j", "1", cwd=project)  # a new run marks the latest again
    assert again.exit_code in (0, 1, 3), again.output
    assert run_cli("verdict", cwd=project).exit_code in (0, 1, 3)


def test_predictions_out_to_a_folder(project: Path):
    (project / "out.csv").mkdir()
    result = run_cli("predict", "--data", "cat.csv", "--out", "out.csv", cwd=project)
    assert_rejected(result, project, "--out out.csv is a folder")
    assert list((project / "out.csv").iterdir()) == []


def test_names_too_long_for_the_file_system(project: Path):
    long = "p" * 300 + ".csv"
    result = run_cli("predict", "--data", "cat.csv", "--out", long, cwd=project)
    assert_rejected(result, project, "too long", "shorter")
    result = run_cli("verdict", "--junit", "j" * 300 + ".xml", cwd=project)
    assert_rejected(result, project, "too long")
    result = run_cli("check", "-c", "c" * 300 + ".yaml", cwd=project)
    assert_rejected(result, project)


# --------------------------------------------------------------------------- damaged run files (valid JSON)

def _write_in_run(name: str, text: bytes):
    def arrange(project: Path) -> None:
        run = runs_latest(project).resolve()
        target = run / name if name != "models/*.json" else sorted((run / "models").glob("*.json"))[0]
        target.write_bytes(text)
    return arrange


def _latest_file(text: bytes):
    def arrange(project: Path) -> None:
        runs_latest(project).unlink()
        runs_latest(project).write_bytes(text)
    return arrange


def _ledger(text: bytes):
    def arrange(project: Path) -> None:
        (project / ".mlproj" / "test-uses.json").write_bytes(text)
    return arrange


VERDICT = ["verdict"]
PREDICT = ["predict", "--data", "cat.csv", "--out", "p.csv"]
DAMAGED = {
    "summary-empty-mapping": (_write_in_run("summary.json", b"{}"), VERDICT, "summary.json is damaged"),
    "summary-list": (_write_in_run("summary.json", b"[]"), VERDICT, "summary.json is damaged"),
    "verdict-null": (_write_in_run("verdict.json", b"null"), VERDICT, "verdict.json is damaged"),
    "verdict-bad-status": (_write_in_run("verdict.json", b'{"status": "great", "exit_code": 0, "criteria": []}'),
                           VERDICT, "verdict.json is damaged"),
    "environment-empty": (_write_in_run("environment.json", b"{}"), VERDICT, "environment.json is damaged"),
    "environment-empty-predict": (_write_in_run("environment.json", b"{}"), PREDICT, "environment.json is damaged"),
    "model-info-bad": (_write_in_run("models/*.json", b'{"model": 3}'), PREDICT, ".json is damaged"),
    "verdict-null-predict": (_write_in_run("verdict.json", b"null"), PREDICT, "verdict.json is damaged"),
    "latest-not-utf8": (_latest_file(b"\xff\xfe\n"), VERDICT, "/latest is damaged"),
    "latest-outside-runs": (_latest_file(b"../../elsewhere\n"), VERDICT, "/latest is damaged"),
    "test-uses-mapping": (_ledger(b"{}"), ["run", "--rerun", "-j", "1"], "test-uses.json is damaged"),
    "test-uses-bad-entries": (_ledger(b'[{"data": 1}]'), ["run", "--rerun", "-j", "1"], "test-uses.json is damaged"),
    "test-uses-truncated": (_ledger(b'[{"data": "'), ["run", "--rerun", "-j", "1"], "test-uses.json is damaged"),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_run_files_that_are_still_valid_json(project: Path, case: str):
    arrange, command, words = DAMAGED[case]
    arrange(project)
    assert_rejected(run_cli(*command, cwd=project), project, words, "mlproj run")
    assert not (project / "p.csv").exists()


# --------------------------------------------------------------------------- half-written runs

def test_a_folder_without_its_verdict_is_not_a_run(project: Path):
    run = runs_latest(project).resolve()
    (run / "verdict.json").unlink()
    assert_rejected(run_cli("verdict", cwd=project), project, "not finished", "no verdict.json", "mlproj run")
    assert_rejected(run_cli("verdict", str(run), cwd=project), project, "not a finished run")
    assert_rejected(run_cli("predict", str(run), "--data", "cat.csv", "--out", "p.csv", cwd=project), project,
                    "not a finished run")


KILL_AT_VERDICT = FAIL_AT.format(test="path.name == 'verdict.json'",
                                 action="import os, signal; os.kill(os.getpid(), signal.{signal})")


@pytest.mark.slow
def test_a_run_killed_while_its_folder_is_written_is_swept_by_the_next(tmp_path: Path):
    project = make_project(tmp_path / "project")
    killed = run_wrapped(KILL_AT_VERDICT.format(signal="SIGKILL"), "run", "-j", "1", cwd=project)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p for p in runs_latest(project).parent.iterdir() if p.is_dir()]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".") and leftovers[0].name.endswith(".tmp")
    assert (leftovers[0] / "summary.json").is_file()  # half written: everything but its verdict
    assert visible_runs(project) == []
    assert_rejected(run_cli("verdict", cwd=project), project, "no runs yet")
    assert_rejected(run_cli("verdict", str(leftovers[0]), cwd=project), project, "not a finished run")

    again = run_cli("run", "-j", "1", cwd=project)
    assert again.exit_code in (0, 1, 3), again.output
    assert "Nothing to fit" in again.stdout  # every fit was in the cache already
    assert not leftovers[0].exists(), "the killed run's folder was not swept"
    assert len(visible_runs(project)) == 1 and not temporary_files(project)


@pytest.mark.slow
def test_a_run_terminated_while_its_folder_is_written_cleans_up(tmp_path: Path):
    project = make_project(tmp_path / "project")
    stopped = run_wrapped(KILL_AT_VERDICT.format(signal="SIGTERM"), "run", "-j", "1", cwd=project)
    assert stopped.returncode == 130, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert [p.name for p in (project / "runs").rglob("*")] == [runs_latest(project).parent.name]  # empty
    assert not temporary_files(project)


# --------------------------------------------------------------------------- swapped cache entries

def test_swapped_cache_entries_are_refitted_not_trusted(project: Path):
    before = json.loads((runs_latest(project) / "summary.json").read_text())["cases"][0]["models"]
    entries = sorted((project / ".mlproj" / "cache").rglob("*.npz"))
    sizes: dict[int, list[Path]] = {}
    for entry in entries:
        with np.load(entry) as data:
            sizes.setdefault(data["predictions"].shape[0], []).append(entry)
    first, second = next(group for group in sizes.values() if len(group) >= 2)[:2]
    swap = first.with_name("swap")
    first.rename(swap)
    second.rename(first)
    swap.rename(second)

    result = run_cli("run", "--rerun", "-j", "1", cwd=project)
    assert result.exit_code in (0, 1, 3), result.output
    assert "2 cache entries did not match their key and were refitted" in one_line(result.stderr).replace(
        " (swapped or copied by hand, or written by an mlproj that did not store keys)", "")
    assert "Fitted 2," in result.stdout
    after = json.loads((runs_latest(project) / "summary.json").read_text())["cases"][0]["models"]
    assert {m: v["metrics"] for m, v in after.items()} == {m: v["metrics"] for m, v in before.items()}

    quiet = run_cli("run", "--rerun", "-j", "1", cwd=project)  # refitted entries are trusted again
    assert "did not match" not in quiet.stderr and "Nothing to fit" in quiet.stdout


# --------------------------------------------------------------------------- control characters

def test_control_characters_in_names_never_reach_the_terminal_or_the_junit_report(tmp_path: Path):
    column = "a\x1b]0;x\x07"
    project = dict(PROJECT, name="\x1b[31mred")
    project["data"] = dict(PROJECT["data"], features=[column, "g"])
    folder = make_project(tmp_path / "project", project, column=column)
    outputs = []
    for command in (["check"], ["run", "-j", "1"], ["verdict", "--junit", "report.xml"]):
        result = run_cli(*command, cwd=folder)
        assert result.exit_code in (0, 1, 3), result.output
        outputs.append(result.stdout + result.stderr)
    for output in outputs:
        assert "\x1b" not in output and "\x07" not in output
    assert "\\x1b[31mred" in outputs[1] and "a\\x1b]0;x\\x07" in outputs[0]
    suite = ElementTree.parse(folder / "report.xml").getroot().find("testsuite")
    assert suite.get("name") == "mlproj.\\x1b[31mred"
    missing = run_cli("check", "-c", "\x1b[2Jgone.yaml", cwd=folder)  # also in error messages
    assert missing.exit_code == 2 and "\x1b" not in missing.stderr


# --------------------------------------------------------------------------- the CLI's last resort

@pytest.mark.parametrize("error, code", [
    (OSError(errno.ENOSPC, "No space left on device", "/somewhere/file"), 2),
    (PermissionError(errno.EACCES, "Permission denied", "/somewhere/file"), 2),
    (OSError(errno.EROFS, "Read-only file system", "/somewhere/file"), 2),
    (OSError(errno.ENOSPC, "No space left on device"), 70),  # no path to name: a bug to report
    (OSError(errno.EINVAL, "Invalid argument", "/somewhere/file"), 70),
    (KeyError("cases"), 70),
])
def test_an_unhandled_file_system_fault_is_no_bug(project: Path, monkeypatch, error, code):
    import mlproj.workflow.review

    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(mlproj.workflow.review, "rejudge", fails)
    result = run_cli("verdict", cwd=project)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code == 2:
        assert_rejected(result, project, "cannot use /somewhere/file")
    else:
        assert "internal error" in result.stderr and "This is a bug" in one_line(result.stderr)
