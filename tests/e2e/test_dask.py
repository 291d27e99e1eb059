"""The same plan on a real dask.distributed cluster (separate worker processes on loopback)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.e2e.helpers import cli, runs_latest

distributed = pytest.importorskip("distributed")


def _metrics(folder: Path) -> list[dict]:
    with open(runs_latest(folder) / "results.csv") as handle:
        return [{k: v for k, v in row.items() if k not in ("fit_seconds", "cached")} for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_dask_cluster_gives_the_local_results(tmp_path: Path):
    local, threads, remote = tmp_path / "local", tmp_path / "threads", tmp_path / "remote"
    for folder in (local, threads, remote):
        assert cli("init", str(folder)).exit_code == 0
    assert cli("run", "-j", "1", cwd=local).exit_code == 0
    assert cli("run", "-j", "2", cwd=threads).exit_code == 0
    assert _metrics(threads) == _metrics(local)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = cli("run", "--backend", "dask", "--scheduler", cluster.scheduler_address, cwd=remote)
    assert result.exit_code == 0, result.output
    assert _metrics(remote) == _metrics(local)
    assert (remote / ".mlproj" / "cache").is_dir()  # written by the client: no shared file system needed


@pytest.mark.slow
def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path):
    assert cli("init", str(tmp_path / "demo")).exit_code == 0
    result = cli("run", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9", cwd=tmp_path / "demo")
    assert result.exit_code == 2
    assert "cannot reach the dask scheduler" in result.stderr
