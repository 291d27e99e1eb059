"""Every shipped project reproduces its golden record (tests/golden/expected/): every string, count and
decision exactly, every float to a relative 1e-12 (its last digits move with the CPU).

The records were written by `tests/golden/record.py --write` with the code of 86dd476, before the
move into sub-packages; a refactor that changes no number passes. After a deliberate change of
the numbers, record again (`python tests/golden/record.py --write`) and say why in the commit.
A failure lists the first fields that differ; `python tests/golden/record.py --check --project
NAME --keep DIR` reproduces it and keeps the run folders.
"""

from __future__ import annotations

import pytest

from tests.golden import record

REPO = record.REPO
SHARED_DATA = record.default_shared_data(REPO)   # ../shared/data beside the repository, or $MLPROJ_SHARED_DATA

CASES = [pytest.param(project, 1, id=project.name) for project in record.projects(REPO)]
CASES += [pytest.param(project, 2, id=f"{project.name}-j2") for project in record.projects(REPO)
          if project.name == record.PARALLEL_PROJECT]


@pytest.mark.slow
@pytest.mark.parametrize("project,jobs", CASES)
def test_project_reproduces_its_golden_record(project: record.Project, jobs: int, record_property):
    if project.needs_shared_data and not SHARED_DATA.is_dir():
        pytest.skip(f"{project.relative} needs the shared real catalogues, which are not at {SHARED_DATA}")
    diffs, report, seconds = record.check_project(project, jobs=jobs, repo=REPO, shared_data=SHARED_DATA)
    record_property("mlproj_run_seconds", round(seconds, 1))
    print(f"{project.relative} -j {jobs}: `mlproj run` took {seconds:.1f} s")
    assert not diffs, report


def test_floats_agree_to_twelve_digits_and_nothing_else_is_loosened():
    assert record._same("0.019301382679272", "0.01930138267927201")  # an ulp apart: another CPU's log
    assert not record._same("0.0193013826793", "0.0193013826792")
    assert not record._same("1", "1.0")
    assert not record._same('"equivalent"', '"worse"')
    assert not record._same("0.0", '"nan"')
