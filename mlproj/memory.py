"""Handing freed memory back to the operating system between large steps.

Freed memory is not always returned: Arrow's allocator keeps a pool, and glibc keeps what its
per-thread arenas freed (every worker thread, and every thread a forest grows trees in, has
one). Over a run on a large catalogue that retained memory grew to more than the catalogue
itself, so mlproj returns it after reading and after every fit, and for large catalogues has
every allocation of a megabyte or more mapped on its own, so that it goes back the moment it
is freed. Elsewhere (not glibc) this does nothing.

It also keeps the garbage collector away from the libraries' own objects (heavy_imports).
"""

from __future__ import annotations

import functools
import gc
import sys
from contextlib import contextmanager


@contextmanager
def heavy_imports():
    """Import scikit-learn (and with it scipy and pandas) with the garbage collector paused,
    then freeze what the imports made.

    Their million or so long-lived objects set off full collections while they load, 0.1 s of
    every run's start-up, on one core however many the fits get; frozen, they are skipped by
    the collections that follow. Imports leave little cyclic garbage to miss meanwhile. Once
    scikit-learn is loaded this does nothing: a process that prepares many runs (the tests, a
    notebook) does not freeze their garbage.
    """
    if "sklearn.base" in sys.modules:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def return_freed_memory() -> None:
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    trim = getattr(_libc(), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def map_large_allocations(threshold: int = 2**20) -> None:
    """Serve allocations of `threshold` bytes or more by their own memory mapping.

    glibc starts at 128 kB but raises the limit up to 32 MB whenever a mapped block is freed,
    after which freed columns and copies of a large catalogue stay in the heap, fragmented: on a
    300,000-row run the process grew by 100 MB over 16 fits. A fixed limit costs a page fault
    per new page (4% more time on that run), so mlproj sets it only for large catalogues.
    """
    mallopt = getattr(_libc(), "mallopt", None)  # glibc only
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, threshold)


@functools.lru_cache(maxsize=1)
def _libc():
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
