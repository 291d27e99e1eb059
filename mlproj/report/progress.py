"""Progress of a run's fits where people look: a bar on a terminal, plain lines in a CI log.

A CI log or a pipe gets no bar (rich would either stay silent or, under FORCE_COLOR, fill the
log with cursor codes and carriage returns); it gets one line per finished model and, between
those, a line at most every LINE_EVERY seconds. Pure Python apart from rich.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TextIO

from rich.console import Console

from mlproj.errors import printable

Clock = Callable[[], float]
LINE_EVERY = 10.0  # seconds: often enough that a log shows life, rarely enough that it stays readable


class Reporter(Protocol):
    def finished(self, model: str, cached: bool, failed: bool = False) -> None: ...
    def close(self) -> None: ...


def is_terminal(stream: TextIO) -> bool:
    """The stream's own answer: rich's Console.is_terminal also says yes under FORCE_COLOR or
    TTY_COMPATIBLE, and a bar redrawn into a CI log is a wall of escape codes."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def clock_time(seconds: float) -> str:
    """H:MM:SS, as rich's time columns show it."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class LogProgress:
    """Plain lines for a stream that is not a terminal: no escape code, no carriage return."""

    def __init__(self, totals: Mapping[str, int], stream: TextIO, clock: Clock = time.monotonic,
                 every: float = LINE_EVERY):
        self._totals = {printable(name): n for name, n in totals.items() if n > 0}
        self._done = dict.fromkeys(self._totals, 0)
        self._cached = dict.fromkeys(self._totals, 0)
        self._failed = dict.fromkeys(self._totals, 0)
        self._total = sum(self._totals.values())
        self._count = self._fitted = 0
        self._stream, self._clock, self._every = stream, clock, every
        self._start = self._last_line = self._fitting_since = clock()
        # While every result so far came from the cache, the models' lines wait: a run that fits
        # nothing says so in one line instead of one per model.
        self._held: list[str] = []
        self._quiet = False

    def finished(self, model: str, cached: bool, failed: bool = False) -> None:
        model = printable(model)
        if model not in self._totals or self._done[model] >= self._totals[model]:
            return  # not a fit (the historical baseline), or counted already
        now = self._clock()
        self._count += 1
        self._done[model] += 1
        self._cached[model] += cached
        self._failed[model] += failed
        if not cached:
            self._fitted += 1
        elif not self._fitted:  # cache hits all come before the first fit: the fits' clock starts here
            self._fitting_since = now
        if self._done[model] == self._totals[model]:
            self._model_done(model, now)
        elif now - self._last_line >= self._every:
            self._write(self._still_going(model, cached, now), now)

    def _model_done(self, model: str, now: float) -> None:
        notes = [f"{self._cached[model]} cached"] if self._cached[model] else []
        notes += [f"{self._failed[model]} failed"] if self._failed[model] else []
        line = (f"  {model}: {self._done[model]}/{self._totals[model]} fits done"
                + (f" ({', '.join(notes)})" if notes else "")
                + f" · {self._count}/{self._total} overall · {clock_time(now - self._start)}")
        if not self._fitted:
            self._held.append(line)
            if self._count == self._total:
                self._held.clear()
                self._write(f"  all {self._total} fits from the cache", now)
            return
        for waiting in self._held:
            self._write(waiting, now)
        self._held.clear()
        self._write(line, now)

    def _still_going(self, model: str, cached: bool, now: float) -> str:
        elapsed = clock_time(now - self._start)
        if not self._fitted:
            return f"  reading the cache: {self._count}/{self._total} fits · {elapsed} elapsed"
        # Fits go most expensive first, so the average so far overestimates what is left: "about".
        left = (now - self._fitting_since) / self._fitted * (self._total - self._count)
        doing = f"reading {model} from the cache" if cached else f"fitting {model}"
        return f"  {doing}: {self._count}/{self._total} fits · {elapsed} elapsed, about {clock_time(left)} left"

    def _write(self, line: str, now: float) -> None:
        self._last_line = now
        if self._quiet:
            return
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # stderr closed or a reader gone: the fits matter more than their log
            self._quiet = True

    def close(self) -> None:
        """Nothing to add: the last model's line was the last word."""


class BarProgress:
    """The transient rich bar of a terminal, naming the model whose fit finished last."""

    def __init__(self, totals: Mapping[str, int], console: Console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        self._totals = {printable(name): n for name, n in totals.items() if n > 0}
        longest = max((len(name) for name in self._totals), default=0)
        # A fixed width, so that the bar does not jump as the names change.
        label = TextColumn("{task.description}", markup=False, table_column=Column(min_width=len("fitting ") + longest))
        self._progress = Progress(label, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                                  TimeRemainingColumn(), console=console, transient=True)
        self._bar = self._progress.add_task("fitting", total=sum(self._totals.values()))
        self._progress.start()

    def finished(self, model: str, cached: bool, failed: bool = False) -> None:
        model = printable(model)
        if model in self._totals:
            self._progress.update(self._bar, advance=1, description=f"{'cached' if cached else 'fitting'} {model}")

    def close(self) -> None:
        self._progress.stop()


class FitProgress:
    """What `mlproj run` reports to: finished tasks by key, each counted for the models it serves.

    Two models with the same settings share their fits: a fitted key is reported once for both,
    a cached one once per task, so a key counts for all its models at its first report only.
    """

    def __init__(self, tasks: Iterable[tuple[str, str]], reporter_for: Callable[[Mapping[str, int]], Reporter]):
        self._models: dict[str, list[str]] = {}
        totals: dict[str, int] = {}
        for key, model in tasks:
            self._models.setdefault(key, []).append(model)
            totals[model] = totals.get(model, 0) + 1
        self.reporter = reporter_for(totals)

    def task_done(self, key: str, cached: bool, failed: bool = False) -> None:
        for model in self._models.pop(key, ()):  # unknown keys: tasks that fit nothing
            self.reporter.finished(model, cached, failed)

    def __enter__(self) -> FitProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.reporter.close()


def fit_progress(tasks: Iterable[tuple[str, str]], console: Console, stream: TextIO | None = None,
                 clock: Clock = time.monotonic) -> FitProgress:
    """Progress of the (key, model) fits: a bar on `console` if `stream` (default: stderr, read
    when called) is a terminal, plain lines written straight to `stream` otherwise."""
    stream = sys.stderr if stream is None else stream
    if is_terminal(stream):
        return FitProgress(tasks, lambda totals: BarProgress(totals, console))
    return FitProgress(tasks, lambda totals: LogProgress(totals, stream, clock))
