"""``up``'s choices: creating a network (and what a failed creation leaves), or restarting an
existing one (and refusing settings it would ignore). Driven in-process with CliRunner; the
nodes it starts are real processes on free ports."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from regtest import procs, wallets
from regtest.cli import main
from regtest.spec import from_flags
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


@pytest.fixture
def saved(tmp_path, no_start):
    """A stopped network as `up --nodes 3 --miners 1 --first-ip 127.0.8.2` makes it; `up`
    over it gets no further than starting its first node, which fails."""
    spec = from_flags(3, "line", 1, "regtest")
    NetState(tmp_path, "regtest",
             [NodeState(n.name, f"127.0.8.{i + 2}", 18444, 18443, n.mine, n.interval)
              for i, n in enumerate(spec.nodes)], spec.links).save()
    return tmp_path


def _up(root, *args: str):
    return CliRunner().invoke(main, ["up", *args, "--dir", str(root)])


@pytest.mark.parametrize("args, named", [
    (["--nodes", "5"], "--nodes 5 (it has 3)"),
    (["--topology", "star"], "--topology star (it has line)"),
    (["--miners", "2"], "--miners 2 (its miners: node0)"),
    (["--network", "devnet"], "--network devnet (it is regtest)"),
    (["--interval", "2"], "--interval 2 (it has 5)"),
    (["--first-ip", "127.0.9.2"], "--first-ip 127.0.9.2 (it starts at 127.0.8.2)"),
    (["--free-ports"], "--free-ports (its ports were fixed when it was made: node0, node1, "
                       "node2 on the standard ones)"),
])
def test_up_over_a_network_refuses_settings_it_would_ignore(saved, args, named):
    result = _up(saved, *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # refused before restarting anything
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: the network in {saved} exists with other "
                                    f"settings: {named}. `python -m regtest down --wipe` first")


def test_up_names_every_setting_that_differs(saved):
    result = _up(saved, "--nodes", "2", "--miners", "0", "--network", "devnet")
    assert "--nodes 2 (it has 3); --miners 0 (its miners: node0); --network devnet (it is " \
           "regtest)." in result.stderr


def test_up_over_a_network_refuses_a_file_describing_another(saved, tmp_path_factory):
    toml = tmp_path_factory.mktemp("spec") / "network.toml"
    toml.write_text('[[node]]\nname = "node0"\nmine = true\n')
    result = _up(saved, "--file", str(toml))
    assert f"--file {toml} (it describes another network)" in result.stderr


@pytest.mark.parametrize("args", [
    [],  # the defaults (--nodes 3 --miners 1 ...) are not the user's word: nothing to compare
    ["--nodes", "3", "--topology", "line", "--miners", "1", "--network", "regtest",
     "--interval", "5", "--first-ip", "127.0.8.2"],
])
def test_up_over_a_network_restarts_it_when_given_no_other_settings(saved, args):
    result = _up(saved, *args)
    assert "restarting the network" in result.stdout
    assert result.stderr == "error: no node is started in this test\n"
