"""Fixtures shared by the P2P tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.p2p.addrman import AddrMan


@pytest.fixture
def addrman(tmp_path: Path) -> Iterator[AddrMan]:
    """An address manager on its own database (tmp_path/peers), closed after the test."""
    manager = AddrMan(tmp_path / "peers")
    yield manager
    manager.close()
