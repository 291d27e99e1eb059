"""The run's progress: plain lines in a log (driven by a fake clock, never the real one), a bar
naming the model on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from mlproj.report.progress import LogProgress, clock_time, fit_progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Stream(io.StringIO):
    """A text stream that says whether it is a terminal, as sys.stderr does."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def tasks(**counts: int) -> list[tuple[str, str]]:
    return [(f"{model}-{i}", model) for model, n in counts.items() for i in range(n)]


def log_of(counts: dict[str, int], clock: FakeClock | None = None):
    stream = Stream(tty=False)
    progress = fit_progress(tasks(**counts), console=Console(file=stream), stream=stream, clock=clock or FakeClock())
    return progress, stream


def test_a_log_gets_one_line_per_finished_model():
    clock = FakeClock()
    progress, stream = log_of({"rf": 3, "lr": 2}, clock)
    with progress:
        for key, cached in (("rf-0", True), ("lr-0", False), ("rf-1", False), ("lr-1", False), ("rf-2", False)):
            clock.now += 2
            progress.task_done(key, cached)
    assert stream.getvalue().splitlines() == [
        "  lr: 2/2 fits done · 4/5 overall · 0:00:08",
        "  rf: 3/3 fits done (1 cached) · 5/5 overall · 0:00:10",
    ]


def test_between_models_a_line_at_most_every_ten_seconds():
    clock = FakeClock()
    progress, stream = log_of({"gbm": 12}, clock)
    with progress:
        for i in range(12):
            clock.now += 4
            progress.task_done(f"gbm-{i}", cached=False)
    lines = stream.getvalue().splitlines()
    # 4 s a fit: a line after the 3rd fit (12 s), the 6th (24 s) and the 9th (36 s), then the model's own.
    assert lines == [
        "  fitting gbm: 3/12 fits · 0:00:12 elapsed, about 0:00:36 left",
        "  fitting gbm: 6/12 fits · 0:00:24 elapsed, about 0:00:24 left",
        "  fitting gbm: 9/12 fits · 0:00:36 elapsed, about 0:00:12 left",
        "  gbm: 12/12 fits done · 12/12 overall · 0:00:48",
    ]


def test_a_model_line_restarts_the_wait_for_the_next_line():
    clock = FakeClock()
    progress, stream = log_of({"a": 1, "b": 3}, clock)
    with progress:
        clock.now = 9
        progress.task_done("a-0", cached=False)
        clock.now = 12  # 12 s since the start but 3 s since a's line
        progress.task_done("b-0", cached=False)
        clock.now = 19
        progress.task_done("b-1", cached=False)
    assert stream.getvalue().splitlines() == ["  a: 1/1 fits done · 1/4 overall · 0:00:09",
                                              "  fitting b: 3/4 fits · 0:00:19 elapsed, about 0:00:06 left"]


def test_everything_from_the_cache_is_one_line():
    progress, stream = log_of({"rf": 3, "lr": 2, "dummy": 2})
    with progress:
        for key, _ in tasks(rf=3, lr=2, dummy=2):
            progress.task_done(key, cached=True)
    assert stream.getvalue() == "  all 7 fits from the cache\n"


def test_models_read_from_the_cache_are_shown_once_a_fit_comes():
    clock = FakeClock()
    progress, stream = log_of({"dummy": 2, "rf": 2}, clock)
    with progress:
        progress.task_done("dummy-0", cached=True)
        progress.task_done("dummy-1", cached=True)
        progress.task_done("rf-0", cached=True)
        assert stream.getvalue() == ""  # it may all come from the cache
        clock.now = 30
        progress.task_done("rf-1", cached=False)
    assert stream.getvalue().splitlines() == ["  dummy: 2/2 fits done (2 cached) · 2/4 overall · 0:00:00",
                                              "  rf: 2/2 fits done (1 cached) · 4/4 overall · 0:00:30"]


def test_a_slow_cache_says_it_is_reading_the_cache():
    clock = FakeClock()
    progress, stream = log_of({"rf": 4}, clock)
    with progress:
        for i in range(4):
            clock.now += 6
            progress.task_done(f"rf-{i}", cached=True)
    assert stream.getvalue().splitlines() == ["  reading the cache: 2/4 fits · 0:00:12 elapsed",
                                              "  all 4 fits from the cache"]


def test_the_time_left_counts_the_fits_not_the_cache_reads():
    clock = FakeClock()
    progress, stream = log_of({"rf": 6}, clock)
    with progress:
        clock.now = 8  # eight seconds reading two cache entries
        progress.task_done("rf-0", cached=True)
        progress.task_done("rf-1", cached=True)
        clock.now = 18  # one fit in 10 s, three to go
        progress.task_done("rf-2", cached=False)
    assert stream.getvalue() == "  fitting rf: 3/6 fits · 0:00:18 elapsed, about 0:00:30 left\n"


def test_failed_fits_are_counted_in_the_models_line():
    progress, stream = log_of({"broken": 2})
    with progress:
        progress.task_done("broken-0", cached=False, failed=True)
        progress.task_done("broken-1", cached=False, failed=True)
    assert stream.getvalue() == "  broken: 2/2 fits done (2 failed) · 2/2 overall · 0:00:00\n"


def test_a_key_shared_by_two_models_counts_for_both_once():
    stream = Stream(tty=False)
    same = [("k0", "a"), ("k1", "a"), ("k0", "b"), ("k1", "b")]  # two models with the same settings
    with fit_progress(same, console=Console(file=stream), stream=stream, clock=FakeClock()) as progress:
        progress.task_done("k0", cached=True)
        progress.task_done("k0", cached=True)  # a cache hit is reported once per task
        progress.task_done("k1", cached=False)  # a fit once per key
    assert stream.getvalue().splitlines() == ["  a: 2/2 fits done (1 cached) · 3/4 overall · 0:00:00",
                                              "  b: 2/2 fits done (1 cached) · 4/4 overall · 0:00:00"]


def test_tasks_that_fit_nothing_are_not_counted():
    progress, stream = log_of({"rf": 1})
    with progress:
        progress.task_done("historical-0", cached=False)  # the historical baseline reads a column
        progress.task_done("rf-0", cached=False)
        progress.task_done("rf-0", cached=False)
    assert stream.getvalue() == "  rf: 1/1 fits done · 1/1 overall · 0:00:00\n"


def test_no_escape_code_or_carriage_return_in_a_log_under_force_color(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    stream = Stream(tty=False)
    console = Console(file=stream, stderr=True)
    assert console.is_terminal  # what rich believes: why the stream's own isatty decides
    clock = FakeClock()
    with fit_progress(tasks(rf=20, lr=5), console=console, stream=stream, clock=clock) as progress:
        for key, _ in tasks(rf=20, lr=5):
            clock.now += 3
            progress.task_done(key, cached=False)
    text = stream.getvalue()
    assert "fitting rf:" in text and "  rf: 20/20 fits done" in text and "  lr: 5/5 fits done" in text
    assert "\x1b" not in text and "\r" not in text


def test_a_terminal_gets_a_bar_that_names_the_model():
    stream = Stream(tty=True)
    console = Console(file=stream, force_terminal=True, width=100)
    with fit_progress(tasks(forest=3), console=console, stream=stream) as progress:
        progress.task_done("forest-0", cached=False)
        progress.task_done("forest-1", cached=False)
    text = stream.getvalue()
    assert "fitting forest" in text and "2/3" in text


def test_control_characters_in_a_name_never_reach_the_stream():
    progress, stream = log_of({"evil\x1b]0;x\x07": 1})
    with progress:
        progress.task_done("evil\x1b]0;x\x07-0", cached=False)
    assert stream.getvalue().startswith("  evil\\x1b]0;x\\x07: 1/1 fits done") and "\x1b" not in stream.getvalue()


def test_a_closed_stream_silences_the_log_not_the_run():
    stream = Stream(tty=False)
    log = LogProgress({"rf": 2}, stream, FakeClock())
    stream.close()
    log.finished("rf", cached=False)
    log.finished("rf", cached=False)  # no ValueError: the fits go on


def test_clock_time_reads_like_rich():
    assert [clock_time(s) for s in (0, 8.9, 61, 3600 + 125)] == ["0:00:00", "0:00:08", "0:01:01", "1:02:05"]
