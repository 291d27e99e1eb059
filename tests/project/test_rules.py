"""Tests of mlproj.project.rules as a list: every rule is named, says itself, and runs in order.

What each rule refuses, and its message, is tested through the project file in test_config.py.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from mlproj.errors import ConfigError
from mlproj.project import rules
from mlproj.project.loading import parse_project
from tests.conftest import minimal_project_text

HELPERS = {"check_consistency", "baseline_names"}


def _rule_functions() -> list:
    return [function for name, function in inspect.getmembers(rules, inspect.isfunction)
            if function.__module__ == rules.__name__ and not name.startswith("_") and name not in HELPERS]


def test_every_rule_is_checked_once():
    assert sorted(rule.__name__ for rule in rules.RULES) == sorted(f.__name__ for f in _rule_functions())
    assert len(set(rules.RULES)) == len(rules.RULES)


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda rule: rule.__name__)
def test_every_rule_says_what_it_requires(rule):
    assert rule.__doc__ and len(rule.__doc__.split()) >= 5
    assert list(inspect.signature(rule).parameters) == ["loaded"]


def test_rules_run_in_their_order(monkeypatch):
    seen = []

    def traced(rule):
        def run(loaded):
            seen.append(rule.__name__)
            rule(loaded)
        return run

    order = [rule.__name__ for rule in rules.RULES]
    monkeypatch.setattr(rules, "RULES", tuple(traced(rule) for rule in rules.RULES))
    parse_project(minimal_project_text(), Path("p/mlproj.yaml"))
    assert seen == order


def test_the_first_broken_rule_is_the_one_reported():
    # data.augment without errors (an earlier rule) and a seed numpy cannot use (a later one)
    text = minimal_project_text(extra="validation: {repeats: 2, seed: 4294967295}\n").replace(
        "data: {path: x.csv, label: c}", "data: {path: x.csv, label: c, augment: 2}")
    with pytest.raises(ConfigError, match="data.augment draws copies"):
        parse_project(text, Path("p/mlproj.yaml"))
    with pytest.raises(ConfigError, match="beyond numpy's largest seed"):
        parse_project(text.replace(", augment: 2", ""), Path("p/mlproj.yaml"))
