"""Tests of mlproj.memory: returning freed memory is safe to call anywhere, any time."""

from __future__ import annotations

import sys

import pytest

from mlproj import memory

FRAGMENT = """
import sys
import numpy as np
from mlproj import memory

def resident_mb():
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) / 1024

if sys.argv[1] == "mapped":
    memory.map_large_allocations()
np.ones(30 * 2**17)  # freeing a 30 MB mapped block raises glibc's own limit to 30 MB
before = resident_mb()
kept, freed = [], []
for _ in range(16):  # 4 MB blocks between small ones that stay: holes the heap cannot shrink past
    freed.append(np.ones(2**19))
    kept.append(np.ones(2**14))
del freed
if sys.argv[1] == "trimmed":
    memory.return_freed_memory()
print(round(resident_mb() - before))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_memory_leaves_the_process():
    import subprocess

    if memory._libc() is None or not hasattr(memory._libc(), "mallopt"):
        pytest.skip("not glibc")

    def growth(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", FRAGMENT, mode], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    held = growth("default")  # the control: 64 MB freed but still held by the process
    if held <= 50:
        # The kernel took the freed pages back by itself (e.g. DAMON reclaim of cold memory on a
        # busy machine): nothing here tells mlproj's modes from the default one.
        pytest.skip(f"the control kept only {held} MB: this machine reclaims freed memory by itself")
    assert growth("mapped") < 10  # returned as soon as it is freed
    assert growth("trimmed") < 10  # returned when mlproj asks (after reading, after every fit)


def test_without_glibc_nothing_happens(monkeypatch):
    monkeypatch.setattr(memory, "_libc", lambda: None)
    memory.map_large_allocations()
    memory.return_freed_memory()


def test_large_catalogues_map_large_allocations(tmp_path, monkeypatch):
    import mlproj.data.dataset as data
    from mlproj.project.loading import load_project
    from mlproj.workflow.scaffold import scaffold

    scaffold(tmp_path / "p", "classification", rows=300)
    calls = []
    monkeypatch.setattr(data, "map_large_allocations", lambda: calls.append(True))
    loaded = load_project(tmp_path / "p" / "mlproj.yaml")
    data.load_dataset(loaded)
    assert calls == []  # a small catalogue keeps glibc's defaults
    monkeypatch.setattr(data, "LARGE_CATALOGUE_BYTES", 1)
    data.load_dataset(loaded)
    assert calls == [True]


def test_heavy_imports_pause_the_collector_then_freeze_what_they_made(monkeypatch):
    import gc

    import sklearn.base  # noqa: F401

    from mlproj.memory import heavy_imports

    with heavy_imports():  # scikit-learn is loaded already: nothing to do
        assert gc.isenabled()
    monkeypatch.delitem(sys.modules, "sklearn.base")  # as in a new process; restored afterwards
    try:
        gc.unfreeze()
        with heavy_imports():
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        gc.disable()
        with heavy_imports():
            pass
        assert not gc.isenabled()  # a collector switched off before stays off
    finally:
        gc.enable()
        gc.unfreeze()
