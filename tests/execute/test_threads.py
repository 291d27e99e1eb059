"""Tests of mlproj.execute.threads: the cores -j grants, thread limits per fit, one controller."""

from __future__ import annotations

import threading
import warnings

import pytest

from mlproj.execute.threads import (
    fit_limits,
    granted_cores,
    inner_threads,
    on_openmp_thread,
    quiet_and_limited,
    thread_limits,
    threadpool_controller,
)


def test_threads_per_fit_follow_the_cores_granted(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert inner_threads(1, 1) == 1  # -j 1: one core, as in make and joblib
    assert inner_threads(1, 4) == 4  # a lone final fit gets every granted core
    assert inner_threads(2, 4) == 2
    assert inner_threads(3, 2) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert inner_threads(1, 4) == 1


def test_granted_cores_follow_joblib(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert [granted_cores(n) for n in (1, 3, -1, -2, -8, -20)] == [1, 3, 8, 7, 1, 1]


def test_one_blas_thread_always():
    assert fit_limits(3) == {"openmp": 3, "blas": 1}


def test_thread_limits_share_one_controller_and_restore_the_limits():
    from threadpoolctl import threadpool_info

    before = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
    with thread_limits({"blas": 1, "openmp": 1}):
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
    assert {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()} == before
    assert threadpool_controller() is threadpool_controller()


def test_quiet_and_limited_silences_warnings_and_restores_the_filters():
    from threadpoolctl import threadpool_info

    filters = list(warnings.filters)
    with quiet_and_limited(1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("convergence chatter", UserWarning, stacklevel=1)
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
    assert warnings.filters == filters and not [w for w in caught if "chatter" in str(w.message)]


def test_calls_on_the_openmp_thread_return_and_raise_in_the_caller():
    idents = {on_openmp_thread(threading.get_ident) for _ in range(3)}
    assert len(idents) == 1 and threading.get_ident() not in idents
    with pytest.raises(ZeroDivisionError):
        on_openmp_thread(divmod, 1, 0)
    assert on_openmp_thread(divmod, 7, 2) == (3, 1)  # the thread survives a failed call
