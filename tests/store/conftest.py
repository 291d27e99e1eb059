"""Fixtures shared by the model-file tests."""

from __future__ import annotations

import pytest
import skops.io as sio


@pytest.fixture
def skops_never_called(monkeypatch):
    """Fails the test if skops builds a node tree (which reads members and can import) or loads."""
    import skops.io._audit as audit
    import skops.io._persist as persisted

    def called(*args, **kwargs):
        raise AssertionError("skops was called on a file mlproj refused")

    monkeypatch.setattr(persisted, "get_tree", called)
    monkeypatch.setattr(audit, "get_tree", called)
    monkeypatch.setattr(sio, "loads", called)
    monkeypatch.setattr(sio, "get_untrusted_types", called)
