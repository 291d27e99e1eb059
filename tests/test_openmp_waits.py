"""OpenMP threads must not spin long when other work shares the cores (mlproj.cli.limit_openmp_spinning)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlproj.cli import OPENMP_SPINS, limit_openmp_spinning


def test_idle_openmp_threads_sleep_soon_by_default():
    environ = {"OMP_NUM_THREADS": "2"}
    limit_openmp_spinning(environ)
    assert environ == {"OMP_NUM_THREADS": "2", "GOMP_SPINCOUNT": OPENMP_SPINS}


@pytest.mark.parametrize("chosen", [{"GOMP_SPINCOUNT": "300000"}, {"OMP_WAIT_POLICY": "active"},
                                    {"OMP_WAIT_POLICY": "passive"}])
def test_a_wait_policy_the_user_chose_is_kept(chosen):
    environ = dict(chosen)
    limit_openmp_spinning(environ)
    assert environ == chosen


def test_the_command_sets_it_before_anything_loads_openmp():
    """libgomp reads its settings when it loads: the setting must be in place when the command
    starts, before scikit-learn is imported, and reach the processes it starts."""
    code = ("import os, sys\n"
            "from mlproj import cli\n"
            "sys.argv = ['mlproj', '--help']\n"
            "try:\n    cli.entry()\nexcept SystemExit:\n    pass\n"
            "print('sklearn' in sys.modules, os.environ.get('GOMP_SPINCOUNT'))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"False {OPENMP_SPINS}"
