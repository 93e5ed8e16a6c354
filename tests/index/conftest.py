"""Fixtures shared by the index tests: the activity generator and a started index."""

from __future__ import annotations

import pytest

from node.index import Indexes

from .helpers import Activity, make_owners


@pytest.fixture
def act(env):
    return Activity(env, make_owners(env.wallet))


@pytest.fixture
def ix(env, tmp_path):
    ix = Indexes(tmp_path / "ix", env.chain, env.pool)
    ix.start()
    yield ix
    ix.stop()
