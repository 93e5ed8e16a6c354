"""Fixtures shared by the regtest command's tests."""

from __future__ import annotations

import pytest

from regtest import procs
from regtest.procs import ProcError


@pytest.fixture
def no_start(monkeypatch):
    """``up`` gets no further than starting its first node, which fails with "no node is
    started in this test"."""
    def refuse(*_args) -> None:
        raise ProcError("no node is started in this test")

    monkeypatch.setattr(procs, "start_node", refuse)
