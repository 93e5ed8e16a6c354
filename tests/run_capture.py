"""`minicash-node run` up to the point of starting the node: the NodeConfig it would start
with, for tests of how flags, environment and config file combine (and are refused)."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner, Result

import node.cli
from node.app import NodeConfig


def capture_run(monkeypatch: pytest.MonkeyPatch) -> list[NodeConfig]:
    """Make `run` record its NodeConfig (and log one line) instead of starting the node; the
    list it returns fills as `run` is invoked."""
    seen: list[NodeConfig] = []

    async def fake_run_node(config: NodeConfig, config_file: object = None) -> None:
        seen.append(config)
        logging.getLogger("minicash").info("fake node ran")

    monkeypatch.setattr(node.cli, "_run_node", fake_run_node)
    return seen


def invoke_run(args: list[str], env: dict[str, str] | None = None) -> Result:
    """`minicash-node run ARGS` with ``env`` added (the suite's autouse fixture has removed
    every other MINICASH_* variable)."""
    return CliRunner().invoke(node.cli.main, ["run", *args], env=env)
