"""``up``'s choices: creating a network, and what it leaves when creating one fails. Driven
in-process with CliRunner; the nodes it starts are real processes on free ports."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from regtest import procs, wallets
from regtest.cli import main
from regtest.state import NetState, NodeState
from regtest.wallets import WalletError


@pytest.fixture
def started(monkeypatch):
    """(state, node) for each node ``up`` starts, its pid kept whatever becomes of the state;
    any still running at the end is stopped."""
    seen: list[tuple[NetState, NodeState]] = []
    real = procs.start_node

    def start(state: NetState, node: NodeState, peers: list[str]) -> None:
        real(state, node, peers)
        seen.append((state, dataclasses.replace(node)))

    monkeypatch.setattr(procs, "start_node", start)
    yield seen
    for state, node in seen:
        procs.stop_node(state, node)


def test_a_failed_first_up_leaves_nothing_behind_so_the_next_creates_afresh(
        tmp_path, started, monkeypatch):
    def refuse(state: NetState, node: NodeState) -> None:
        raise WalletError(f"wallet {node.name}: disk full")

    monkeypatch.setattr(wallets, "create", refuse)  # fails once the nodes are up
    root = tmp_path / "net"
    args = ["up", "--nodes", "1", "--no-fund", "--first-ip", "127.0.7.2", "--free-ports",
            "--dir", str(root)]

    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1, first.output
    assert first.stderr == "error: wallet node0: disk full\n"
    assert not NetState.exists(root)
    assert [n.name for _, n in started] == ["node0"]
    assert not any(procs.is_running(state, node) for state, node in started)
    assert not root.exists()

    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1, again.output
    assert "restarting" not in again.output  # created, not restarted without wallets
    assert again.stderr == "error: wallet node0: disk full\n"
    assert not root.exists()
