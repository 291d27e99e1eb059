"""Threads per fit: the cores `-j` grants, OpenMP and BLAS limits, the process's one
threadpoolctl controller, and the one thread that runs fits on several OpenMP threads.

Thread limits decide speed only, never numbers: one BLAS thread always (BLAS sums in a
thread-dependent order), and OpenMP estimators give identical models for any thread count.
"""

from __future__ import annotations

import os
import queue
import threading
import warnings
from collections.abc import Callable
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


_openmp_calls: queue.SimpleQueue | None = None
_openmp_start = threading.Lock()


def on_openmp_thread(call: Callable, *args):
    """call(*args), run on the one thread of this process that fits on several OpenMP threads.

    libgomp gives every thread that opens a parallel region a team of helper threads of its
    own, and once there are more helpers than cores it stops spin-waiting between regions, even
    when the other teams are idle. Gradient boosting opens thousands of short regions, and a fit
    on two threads then took 1.1-1.3 s instead of 0.13 s (12,800 rows, 2 cores) whenever
    another thread had fitted on two threads before. mlproj's GOMP_SPINCOUNT=1000 does not
    change that: a 16,000-row fit on two threads took 2.0 s instead of 0.25 s on a thread of its
    own once another thread had a team (2026-12-03). All such fits therefore run on the same
    thread, which keeps one team for the whole run.
    """
    global _openmp_calls
    with _openmp_start:
        if _openmp_calls is None:
            _openmp_calls = queue.SimpleQueue()
            threading.Thread(target=_serve_openmp_calls, args=(_openmp_calls,), name="mlproj-openmp",
                             daemon=True).start()
    reply: queue.SimpleQueue = queue.SimpleQueue()
    _openmp_calls.put((call, args, reply))
    failed, value = reply.get()
    if failed:
        raise value
    return value


def _serve_openmp_calls(calls: queue.SimpleQueue) -> None:
    while True:
        call, args, reply = calls.get()
        try:
            reply.put((False, call(*args)))
        except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
            reply.put((True, exc))
