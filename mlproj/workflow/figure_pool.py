"""Figure workers: a run's figures are drawn in other processes, on the cores the fits leave idle.

matplotlib costs about 0.6 s to import and 0.1–0.2 s per figure (PNG and PDF), the corner plot
about a second: drawn after the fits, the figures of the star–galaxy example would add about a
quarter to its run. So `mlproj run` starts one worker process before it reads the catalogue (it
imports matplotlib and corner meanwhile), hands it the corner plot before the fits (its data are
known), the cross-validation figures before the final fits and the test figures after them, and
collects the PNG and PDF bytes at the end. One worker, not more: the fits keep every core busy,
and a second worker's imports cost more than it saves (measured on the examples, CHANGELOG). The pool is kept for the life of the process (a library user's second run
reuses it). If a worker cannot be started or dies, the figure is drawn in this process instead:
the same bytes either way.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mlproj.workflow.report_figures import Drawn, FigureJob, draw_here

WORKERS = 1
_pool: ProcessPoolExecutor | None = None


def _warm_up() -> None:
    # The run's Ctrl-C is the parent's to handle (exit 130, fits kept): a worker that died of it
    # would only turn into a broken pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The fits come first: at the lowest priority the worker draws on the cycles they leave idle
    # (reading the catalogue, the analysis, cache writes) instead of taking a core from them.
    try:
        os.nice(19)
    except (AttributeError, OSError):  # no nice on Windows; a refused nice only costs speed
        pass
    import corner  # noqa: F401 - imported once per worker, while the fits run

    import mlproj.report.figures  # noqa: F401


def _ready() -> bool:
    return True


def _render(kind: str, data) -> tuple[bytes, bytes]:
    # Named here, not as report.figures.render: submitting that would import matplotlib in the run.
    from mlproj.report.figures import render

    return render(kind, data)


def _shutdown() -> None:
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)


def figure_pool() -> ProcessPoolExecutor | None:
    """The process's figure workers, started (and warming up) on first use; None if they cannot be."""
    global _pool
    if _pool is None:
        try:
            _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_warm_up)
            for _ in range(WORKERS):  # one task each, so that every worker starts now, not when needed
                _pool.submit(_ready)
        except (OSError, RuntimeError, ValueError):
            _pool = None
            return None
        atexit.register(_shutdown)
    return _pool


class FigureDrawing:
    """The figures of one run: submitted as their numbers become known, collected at the end."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.pool = figure_pool() if enabled else None
        self.jobs: dict[str, tuple[FigureJob, Future | None]] = {}

    def submit(self, job: FigureJob | None) -> None:
        if job is None or not self.enabled:
            return
        future = None
        if self.pool is not None:
            try:
                future = self.pool.submit(_render, job.kind, job.data)
            except (BrokenProcessPool, RuntimeError):
                self.pool = None
        self.jobs[job.stem] = (job, future)

    def collect(self) -> Drawn:
        """Every submitted figure, drawn (here, for any a worker could not draw)."""
        global _pool
        drawn: Drawn = {}
        for stem, (job, future) in self.jobs.items():
            try:
                if future is None:
                    raise BrokenProcessPool("no worker")
                png, pdf = future.result()
                drawn[stem] = (job.block, png, pdf)
            except BrokenProcessPool:
                _pool = None  # started again by the next run
                drawn.update(draw_here([job]))
        return drawn
