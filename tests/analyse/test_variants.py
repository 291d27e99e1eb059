"""Tests of mlproj.analyse.variants: choices of nested searches and their stability (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from mlproj.analyse.variants import search_choices, search_warnings


@dataclass
class _Task:
    key: str
    model: str
    repeat: int
    fold: int


@dataclass
class _Output:
    search: dict | None


def _choices(values: list[int]) -> list[dict]:
    return [{"repeat": 0, "fold": i, "params": {"max_depth": v}} for i, v in enumerate(values)]


def test_choices_are_gathered_per_fold_and_for_the_final_fit():
    tasks = [_Task("a", "m", 0, 0), _Task("b", "m", 0, 1), _Task("c", "plain", 0, 0)]
    outputs = {"a": _Output({"max_depth": 3}), "b": _Output({"max_depth": 5}), "c": _Output(None)}
    found = search_choices(tasks, outputs, {"m": _Task("f", "m", 0, -1)}, {"f": _Output({"max_depth": 3})})
    assert found == {"m": [{"repeat": 0, "fold": 0, "params": {"max_depth": 3}},
                           {"repeat": 0, "fold": 1, "params": {"max_depth": 5}},
                           {"repeat": 0, "fold": -1, "params": {"max_depth": 3}}]}
    assert search_choices(tasks[2:], outputs) is None


def test_a_choice_made_in_fewer_than_half_of_the_folds_is_unstable():
    assert search_warnings({"m": _choices([3, 3, 3, 5])}) == []
    assert search_warnings({"m": _choices([3, 3, 5, 7])}) == []  # half of the folds: stable enough
    [warning] = search_warnings({"m": _choices([3, 5, 7, 9, 3])})
    assert "nested search of m is unstable" in warning and "max_depth=3" in warning and "2 of 5" in warning
    # the final fit's choice does not count as a fold
    assert search_warnings({"m": _choices([3, 5]) + [{"repeat": 0, "fold": -1, "params": {"max_depth": 3}}]}) == []
