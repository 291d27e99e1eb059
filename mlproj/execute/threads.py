"""Threads per fit: the cores `-j` grants, OpenMP and BLAS limits, and the process's one
threadpoolctl controller.

Thread limits decide speed only, never numbers: one BLAS thread always (BLAS sums in a
thread-dependent order), and OpenMP estimators give identical models for any thread count.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager


def granted_cores(n_jobs: int) -> int:
    """The cores `-j n_jobs` grants; joblib's convention: -1 = all cores, -2 = all but one."""
    cores = os.cpu_count() or 1
    return max(1, cores + 1 + n_jobs if n_jobs < 0 else n_jobs)


def inner_threads(n_workers: int, cores: int | None = None) -> int:
    """OpenMP threads each fit may use so that workers × threads stays within the cores granted.

    `cores` is what `-j` grants (default: every core of the machine); `-j 1` means one core, as
    in make and joblib. OpenMP estimators (histogram gradient boosting) spin-wait for their
    threads: oversubscribed, a one-second fit can take minutes. OMP_NUM_THREADS, when set, is an
    upper bound.
    """
    cores = cores or os.cpu_count() or 1
    threads = max(1, cores // max(1, n_workers))
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return min(threads, int(limit)) if limit.isdigit() and int(limit) > 0 else threads


_controller = None
_controller_start = threading.Lock()


def threadpool_controller():
    """The process's one threadpoolctl controller, made on first use.

    A new controller (what threadpool_limits makes at each call) lists the shared libraries
    through a ctypes callback that takes the GIL once per library: 3 ms on its own, but 0.15 s
    while another thread runs Python (the background skops import), as every callback then
    waits out the interpreter's switch interval. It keeps the libraries it found: make it after
    scikit-learn is imported, which loads its OpenMP and BLAS libraries (any estimator does).
    """
    global _controller
    with _controller_start:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
    return _controller


def thread_limits(limits: int | dict[str, int], user_api: str | None = None):
    """threadpoolctl's threadpool_limits, through the process's one controller."""
    return threadpool_controller().limit(limits=limits, user_api=user_api)


def fit_limits(threads: int) -> dict[str, int]:
    """OpenMP threads per fit, but one BLAS thread always.

    Histogram gradient boosting gives identical models for any OpenMP thread count, while BLAS
    sums in a thread-dependent order (logistic regression's Brier score moved in the 17th digit
    between -j 1 and -j 2); one BLAS thread keeps the numbers the same for any -j and machine.
    """
    return {"openmp": threads, "blas": 1}


@contextmanager
def quiet_and_limited(threads: int):
    """Silence convergence chatter (it would drown the progress bar) and cap BLAS/OpenMP threads.

    Both are process-wide (the OpenMP limit only for the calling thread): worker threads of one
    process set them once, around all workers, and each worker its own OpenMP limit.
    """
    with warnings.catch_warnings(), thread_limits(fit_limits(threads)):
        warnings.simplefilter("ignore")
        yield
