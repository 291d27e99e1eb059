"""Golden records: the numbers today's mlproj writes for every shipped project, to prove a refactor keeps them.

For each project (`examples/star-galaxy/mlproj.yaml`, `examples/photo-z/mlproj.yaml` and every
`configs/*.yaml`) this script lays the project out in a fresh temporary tree with the repository's
relative layout, so its data paths resolve without editing the project file:

    <tmp>/repo/examples/star-galaxy/{mlproj.yaml, catalogue.csv, ...}     (copied)
    <tmp>/repo/configs/<name>.yaml                                         (copied, alone)
    <tmp>/shared/data -> the real shared catalogues                       (symlink)

runs `python -m mlproj run -c FILE -j 1` there (and `-j 2` for one project, which must agree),
and reduces the run folder to a normalised record: every row and every metric column of
results.csv, and summary.json and verdict.json, with the fields in VOLATILE removed. Floats are
kept exactly as mlproj wrote them and compared as JSON text, except that two floats within a
relative 1e-12 of each other agree (the last digits move with the CPU's vector instructions,
FLOAT_RELATIVE); 1 and 1.0 differ, and so does every string, decision and count.

    python tests/golden/record.py --write      # record tests/golden/expected/<project>.json
    python tests/golden/record.py --check      # run again and compare; exit 1 on any difference

The code under test is whatever `python -m mlproj` imports in the child process, which inherits
this process's environment and interpreter (or --mlproj-python / $MLPROJ_PYTHON). The child runs
in the temporary tree, so the current directory never shadows PYTHONPATH:

    PYTHONPATH=/work/baseline python tests/golden/record.py --write --expect-code /work/baseline

records with the code of the worktree /work/baseline (the script prints which mlproj it ran).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).resolve().parent / "expected"
PARALLEL_PROJECT = "star-galaxy"   # also run with -j 2: it must give the -j 1 record exactly
RUN_TIMEOUT = 900                  # seconds for one `mlproj run`

# Fields that are not reproducible between two identical runs of the same code, or that describe
# the machine and the temporary folder rather than the numbers. Patterns over the record's paths
# ("/"-joined keys and list indices; fnmatch wildcards, `*` matches within one level only).
# Found by running every project twice (and with -j 2) and diffing everything.
VOLATILE: dict[str, str] = {
    # results.csv
    "results/*/fit_seconds": "wall-clock fit time of the task",
    "results/*/cached": "whether the task came from the cache: a property of the cache, not of the code",
    # summary.json
    "summary/models/*/fit_seconds": "mean wall-clock fit time of the model",
    "summary/data/path": "absolute path of the catalogue (the temporary tree, or the shared folder it links to)",
}
# Whole files that are not compared: environment.json (creation time, Python, platform, package
# versions, absolute paths) is reduced to the input fingerprints in `inputs` below; plan.json,
# project.yaml and models/ are not part of the record.

# When a selection's tie is broken by fit time (two equally simple models equivalent within the
# margin: mlproj then takes the faster fit), the selected model, and everything computed for it,
# depends on timing. `tie_broken_by_fit_time` flags it in the record; see `_timing_ties`. No
# shipped project is in that case today.


@dataclass(frozen=True)
class Project:
    name: str        # the record's file stem
    relative: str    # the project file, relative to the repository root

    @property
    def needs_shared_data(self) -> bool:
        return self.relative.startswith("configs/")


def projects(repo: Path = REPO) -> list[Project]:
    found = [Project("star-galaxy", "examples/star-galaxy/mlproj.yaml"),
             Project("photo-z", "examples/photo-z/mlproj.yaml")]
    found += [Project(path.stem, f"configs/{path.name}") for path in sorted((repo / "configs").glob("*.yaml"))]
    names = [p.name for p in found]
    if len(set(names)) != len(names):
        raise SystemExit(f"two projects would share a record name: {names}")
    return found


def default_shared_data(repo: Path = REPO) -> Path:
    return Path(os.environ.get("MLPROJ_SHARED_DATA", repo.parent / "shared" / "data"))


# --------------------------------------------------------------------------- running


def lay_out(project: Project, repo: Path, shared_data: Path, root: Path) -> Path:
    """The project in `root` with the repository's layout; returns the project file's path there."""
    source = repo / project.relative
    target = root / "repo" / project.relative
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    if project.relative.startswith("examples/"):
        shutil.copytree(source.parent, target.parent,
                        ignore=shutil.ignore_patterns("runs", ".mlproj", "__pycache__"))
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (root / "shared").mkdir(parents=True, exist_ok=True)
    (root / "shared" / "data").symlink_to(shared_data.resolve(), target_is_directory=True)
    return target


def code_under_test(python: str, cwd: Path, env: dict) -> str:
    """The mlproj package file the child process imports, from the folder it runs in."""
    probe = subprocess.run([python, "-c", "import mlproj; print(mlproj.__file__)"], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    if probe.returncode != 0:
        raise SystemExit(f"{python} cannot import mlproj:\n{probe.stderr}")
    return probe.stdout.strip()


def run_project(project: Project, *, jobs: int, repo: Path, shared_data: Path, python: str,
                keep: Path | None = None, log=print) -> tuple[dict, float, str]:
    """Run one project in a fresh tree; returns (normalised record, seconds of `mlproj run`, code file)."""
    env = dict(os.environ)
    root = Path(tempfile.mkdtemp(prefix=f"golden-{project.name}-j{jobs}-", dir=keep))
    try:
        config = lay_out(project, repo, shared_data, root)
        code = code_under_test(python, config.parent, env)
        start = time.perf_counter()
        run = subprocess.run([python, "-m", "mlproj", "run", "-c", config.name, "-j", str(jobs)],
                             cwd=config.parent, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                             check=False)
        seconds = time.perf_counter() - start
        if run.returncode not in (0, 1, 3):   # pass, fail, undetermined are all results to record
            raise SystemExit(f"`mlproj run` of {project.relative} -j {jobs} exited {run.returncode}:\n"
                             f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        record = normalise(read_run(latest_run_of(config)), root, shared_data)
        record["exit_code"] = run.returncode
        return record, seconds, code
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"  kept {root}")


# --------------------------------------------------------------------------- the record


def _cell(text: str):
    """A results.csv cell as mlproj wrote it: an int or float if it is one (exact), else the text."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text   # keep "nan"/"inf" as text: the record is strict JSON


def latest_run_of(config: Path) -> Path:
    """The latest run of a project file, in either layout: the `runs/<project>/latest` whose run
    this file made (runs belong to their project file), else the older layout's `runs/latest`."""
    runs = config.parent / "runs"
    for latest in sorted(runs.glob("*/latest")):
        env = json.loads((latest.resolve() / "environment.json").read_text())
        if Path(env["config"]["path"]).name == config.name:
            return latest
    return runs / "latest"


def read_run(run_dir: Path) -> dict:
    with open(run_dir / "results.csv", newline="", encoding="utf-8") as handle:
        rows = [{key: _cell(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    environment = json.loads((run_dir / "environment.json").read_text(encoding="utf-8"))
    return {
        "inputs": {"project_file_sha256": environment["config"]["file_sha256"],
                   "config_hash": environment["config"]["hash"],
                   "data_sha256": environment["data"]["sha256"]},
        "results": rows,
        "summary": json.loads((run_dir / "summary.json").read_text(encoding="utf-8")),
        "verdict": json.loads((run_dir / "verdict.json").read_text(encoding="utf-8")),
    }


def _drop_volatile(value, path: str = ""):
    if isinstance(value, dict):
        return {key: _drop_volatile(item, f"{path}/{key}".lstrip("/")) for key, item in value.items()
                if not _is_volatile(f"{path}/{key}".lstrip("/"))}
    if isinstance(value, list):
        return [_drop_volatile(item, f"{path}/{i}".lstrip("/")) for i, item in enumerate(value)]
    return value


def _is_volatile(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/") for pattern in VOLATILE)


def _scrub(value, folder: str, placeholder: str):
    """`folder` replaced by `placeholder` wherever it still appears in a text (messages, hints)."""
    if isinstance(value, dict):
        return {key: _scrub(item, folder, placeholder) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, folder, placeholder) for item in value]
    if isinstance(value, str):
        return value.replace(folder, placeholder)
    return value


def normalise(raw: dict, root: Path, shared_data: Path) -> dict:
    """The record of a run: VOLATILE fields dropped, machine-specific folders named by placeholders."""
    record = _drop_volatile(raw)
    # Longest first: the shared data may be reached through the temporary tree's symlink.
    folders = {str(shared_data.resolve()): "<shared-data>", str(root.resolve()): "<tmp>", str(root): "<tmp>"}
    for folder in sorted(folders, key=len, reverse=True):
        record = _scrub(record, folder, folders[folder])
    record["tie_broken_by_fit_time"] = _timing_ties(raw["summary"], raw["verdict"])
    return record


def _timing_ties(summary: dict, verdict: dict) -> list[str]:
    """Selections whose choice may have been decided by fit time (so may change with the machine's load).

    mlproj picks the simplest model equivalent to the best, and between equally simple ones the
    faster fit. Its reason says "as simple, and faster to fit" when that decided, and "no simpler
    model is shown to be equivalent" when the best won among equivalent models at least as complex,
    possibly by being the faster of two equally simple ones.
    """
    return [f"{s.get('selection')}: {s.get('reason')}" for s in verdict.get("selections", [])
            if "faster to fit" in (s.get("reason") or "") or "no simpler model" in (s.get("reason") or "")]


# --------------------------------------------------------------------------- comparing


def _leaves(value, path: str = ""):
    if isinstance(value, dict):
        if not value:
            yield path, "{}"
        for key, item in value.items():
            yield from _leaves(item, f"{path}/{key}")
    elif isinstance(value, list):
        if not value:
            yield path, "[]"
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}/{i}")
    else:
        yield path, json.dumps(value, ensure_ascii=False)


def differences(expected: dict, actual: dict) -> list[tuple[str, str, str]]:
    """(path, expected JSON text, actual JSON text) for every leaf that differs, in record order."""
    left, right = dict(_leaves(expected)), dict(_leaves(actual))
    order = list(left) + [p for p in right if p not in left]
    return [(p, left.get(p, "<absent>"), right.get(p, "<absent>")) for p in order
            if not _same(left.get(p, "<absent>"), right.get(p, "<absent>"))]


# Two floats that differ only in their last digits: numpy and libm take other vector paths on
# other CPUs (a log on AVX-512 against AVX2 differs by an ulp), which a sum over 20,000 objects
# carries into the 16th digit. A refactor that changes an algorithm moves numbers far more.
FLOAT_RELATIVE = 1e-12


def _same(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    try:
        a, b = json.loads(expected), json.loads(actual)
    except ValueError:
        return False
    if not (isinstance(a, float) and isinstance(b, float)):  # 1 and 1.0 still differ
        return False
    return math.isclose(a, b, rel_tol=FLOAT_RELATIVE, abs_tol=0.0)


def _row_name(record: dict, path: str) -> str:
    """results.csv rows named by their model, repeat and fold: `/results/12` -> `... (hgb r0 f2)`."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "results" and parts[2].isdigit():
        rows = record.get("results", [])
        i = int(parts[2])
        if i < len(rows):
            row = rows[i]
            parts[2] += f" ({row.get('model')} r{row.get('repeat')} f{row.get('fold')})"
    return "/".join(parts)


def describe(diffs: list[tuple[str, str, str]], record: dict | None = None, limit: int = 20) -> str:
    lines = [f"  {len(diffs)} field(s) differ; the first {min(limit, len(diffs))}:"]
    for path, want, got in diffs[:limit]:
        lines.append(f"  {_row_name(record or {}, path)}\n      expected {want[:300]}\n      actual   {got[:300]}")
    return "\n".join(lines)


def input_note(expected: dict, actual: dict) -> str:
    changed = [k for k in expected.get("inputs", {}) if expected["inputs"][k] != actual.get("inputs", {}).get(k)]
    if not changed:
        return ""
    return (f"  NOTE: the inputs changed ({', '.join(changed)}): the project file or the catalogue is not the one "
            "recorded, so the differences may come from the inputs rather than the code.")


def write_record(path: Path, record: dict, project: Project) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"project": project.relative, **record}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def load_record(path: Path) -> dict:
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("project", None)
    return document


def check_project(project: Project, *, jobs: int = 1, repo: Path = REPO, shared_data: Path | None = None,
                  python: str = sys.executable, expected_dir: Path = EXPECTED,
                  keep: Path | None = None) -> tuple[list, str, float]:
    """Run one project and compare it with its record: (differences, report text, seconds)."""
    expected_path = expected_dir / f"{project.name}.json"
    if not expected_path.is_file():
        raise FileNotFoundError(f"no record {expected_path}: run `python tests/golden/record.py --write` first")
    expected = load_record(expected_path)
    actual, seconds, code = run_project(project, jobs=jobs, repo=repo, shared_data=shared_data or default_shared_data(repo),
                                        python=python, keep=keep)
    diffs = differences(expected, actual)
    report = ""
    if diffs:
        heading = f"{project.relative} -j {jobs} (mlproj from {code}) differs from {expected_path.name}:"
        report = "\n".join(filter(None, [heading, input_note(expected, actual), describe(diffs, expected)]))
    return diffs, report, seconds


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="record tests/golden/expected/<project>.json")
    mode.add_argument("--check", action="store_true", help="run again and compare with the records")
    parser.add_argument("--project", action="append", metavar="NAME",
                        help="only this project (repeatable); names: the record stems")
    parser.add_argument("--mlproj-python", default=os.environ.get("MLPROJ_PYTHON", sys.executable),
                        help="interpreter that runs `-m mlproj` (default: $MLPROJ_PYTHON, else this one)")
    parser.add_argument("--expect-code", type=Path, metavar="DIR",
                        help="stop unless the mlproj imported by the child lies under DIR")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="where configs/ and examples/ are read from (default: this repository)")
    parser.add_argument("--shared-data", type=Path,
                        help="the real catalogues (default: $MLPROJ_SHARED_DATA, else ../shared/data beside the repository)")
    parser.add_argument("--expected-dir", type=Path, default=EXPECTED)
    parser.add_argument("--parallel-project", default=PARALLEL_PROJECT,
                        help="the project also run with -j 2 ('' for none)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the temporary trees under DIR")
    args = parser.parse_args(argv)

    repo = args.repo.resolve()
    shared = (args.shared_data or default_shared_data(repo))
    selected = projects(repo)
    if args.project:
        unknown = set(args.project) - {p.name for p in selected}
        if unknown:
            parser.error(f"unknown project(s) {sorted(unknown)}; known: {[p.name for p in selected]}")
        selected = [p for p in selected if p.name in args.project]
    if any(p.needs_shared_data for p in selected) and not shared.is_dir():
        parser.error(f"the shared catalogues are not at {shared} (pass --shared-data or --project)")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)

    failed, timings = [], []
    for project in selected:
        runs = [1] + ([2] if project.name == args.parallel_project else [])
        first = None
        for jobs in runs:
            record, seconds, code = run_project(project, jobs=jobs, repo=repo, shared_data=shared,
                                                python=args.mlproj_python, keep=args.keep)
            if args.expect_code and not Path(code).resolve().is_relative_to(args.expect_code.resolve()):
                raise SystemExit(f"the child imported mlproj from {code}, not from under {args.expect_code}")
            timings.append((project.name, jobs, seconds))
            label = f"{project.relative} -j {jobs}"
            print(f"{label}: {seconds:.1f} s (mlproj from {code})", flush=True)
            if record["tie_broken_by_fit_time"]:
                print(f"  WARNING: a selection was decided by fit time: {record['tie_broken_by_fit_time']}")
            path = args.expected_dir / f"{project.name}.json"
            if args.write and first is None:
                write_record(path, record, project)
                first = record
                print(f"  wrote {path}")
                continue
            expected = first if first is not None else load_record(path) if path.is_file() else None
            if expected is None:
                print(f"  no record {path}: run --write first")
                failed.append(label)
                continue
            diffs = differences(expected, record)
            if diffs:
                failed.append(label)
                against = "the -j 1 run" if first is not None else path.name
                print("\n".join(filter(None, [f"  DIFFERS from {against}", input_note(expected, record),
                                              describe(diffs, expected)])))
            else:
                print("  identical to " + ("the -j 1 run" if first is not None else path.name))
    print("\nseconds per `mlproj run`: " + ", ".join(f"{n} -j {j}: {s:.1f}" for n, j, s in timings))
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    print("OK: " + ("recorded" if args.write else "every record reproduced exactly"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
