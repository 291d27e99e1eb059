"""pytest-benchmark versions of the quick, deterministic parts of bench.py (start-up and imports).

Run explicitly (the normal test run ignores this folder):

    pytest tests/benchmarks/test_bench.py -o addopts="" -p no:cacheprovider --benchmark-columns=median,min,max

The orchestration, parallel and scale measurements need minutes and whole runs; they live in
bench.py only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import bench  # noqa: E402

pytest.importorskip("pytest_benchmark")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The `mlproj init` project after one run, for `mlproj verdict`."""
    folder = tmp_path_factory.mktemp("bench") / "demo"
    env = bench.child_env(bench.CORES)
    bench.run(bench.mlproj_command() + ["init", str(folder)], folder.parent, env)
    bench.run(bench.mlproj_command() + ["run", "-j", str(min(2, bench.CORES))], folder, env, ok=bench.OK_RUN_CODES)
    return folder


@pytest.mark.parametrize("args", [["--help"], ["schema"]], ids=["help", "schema"])
def test_startup(benchmark, args, tmp_path):
    env = bench.child_env(bench.CORES)
    command = bench.mlproj_command() + args
    benchmark.extra_info["target_seconds"] = bench.TARGETS["startup"]
    done = benchmark.pedantic(subprocess.run, args=(command,),
                              kwargs={"cwd": tmp_path, "env": env, "capture_output": True},
                              rounds=5, warmup_rounds=1)
    assert done.returncode == 0


def test_startup_verdict(benchmark, demo):
    env = bench.child_env(bench.CORES)
    benchmark.extra_info["target_seconds"] = bench.TARGETS["startup"]
    done = benchmark.pedantic(subprocess.run, args=(bench.mlproj_command() + ["verdict"],),
                              kwargs={"cwd": demo, "env": env, "capture_output": True},
                              rounds=5, warmup_rounds=1)
    assert done.returncode in bench.OK_RUN_CODES


@pytest.mark.parametrize("args", [["--help"], ["schema"], ["verdict"]], ids=["help", "schema", "verdict"])
def test_no_heavy_imports(args, demo):
    """DESIGN §8: the light commands import neither scikit-learn nor pandas (nor matplotlib)."""
    done = subprocess.run([sys.executable, "-c", bench.HEAVY_CHECK, *args], cwd=demo, capture_output=True, text=True,
                          env=bench.child_env(bench.CORES))
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert [m for m in info["loaded"] if m in bench.HEAVY] == []
