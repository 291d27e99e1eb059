"""A library warning that reaches the CLI is one line of mlproj's, never the raw warning text."""

from __future__ import annotations

import warnings

from mlproj import cli


def test_a_library_warning_is_shown_as_one_warning_line(capsys):
    cli._show_library_warning(RuntimeWarning("invalid value encountered in divide"), RuntimeWarning,
                              "/site-packages/numpy/lib/_function_base_impl.py", 123)
    text = " ".join(capsys.readouterr().err.split())
    assert text.startswith("warning: invalid value encountered in divide (from numpy;")
    assert "RuntimeWarning" not in text and "_function_base_impl.py" not in text and "123" not in text


def test_the_entry_point_routes_warnings_through_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "app", lambda: warnings.warn("divide by zero", RuntimeWarning, stacklevel=1))
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        cli.entry()
    text = " ".join(capsys.readouterr().err.split())
    assert text.startswith("warning: divide by zero (from") and "RuntimeWarning" not in text
