"""The whole story a user follows: three nodes, mining, wallets, a payment relayed to every
mempool and confirmed, balances the same through every node, a restart that catches up, and
a partition whose reorg leaves every node on one tip and the wallet's history right.

Everything goes through the tools a user runs: ``python -m regtest`` and ``minicash-wallet``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node.client import NodeClient
from regtest import wallets
from regtest.state import NetState

from ..node_process import ROOT
from ..p2p.framework import wait_until

DEADLINE = 120.0


class Net:
    """Runs ``python -m regtest`` against one network directory."""

    def __init__(self, root: Path, first_ip: str) -> None:
        self.root = root
        self.first_ip = first_ip
        self.env = dict(os.environ, MINICASH_HOME=str(root / "home"))

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([sys.executable, "-m", "regtest", *args, "--dir", str(self.root)],
                              capture_output=True, text=True, cwd=ROOT, env=self.env,
                              timeout=600)
        if check and proc.returncode != 0:
            raise AssertionError(f"regtest {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    @property
    def state(self) -> NetState:
        return NetState.load(self.root)

    def api(self, name: str) -> NodeClient:
        return NodeClient(self.state.node(name).rest_url)

    def tips(self) -> set[str]:
        return {self.api(n.name).info()["best_block"] for n in self.state.nodes}


def poll(predicate, what: str):
    return wait_until(predicate, DEADLINE, what, interval=0.2)


@pytest.fixture
def net(tmp_path):
    n = Net(tmp_path / "net", "127.0.3.2")
    yield n
    n("down", check=False)


def _confirmed(state: NetState, owner: str, via: str) -> int:
    """``owner``'s confirmed balance in satoshis, as its wallet sees it through ``via``."""
    return wallets.balance(state, state.node(owner), via=state.node(via))["confirmed"]


def test_the_readme_story_on_a_three_node_network(net):
    out = net("up", "--nodes", "3", "--miners", "0", "--first-ip", net.first_ip, "--free-ports")
    assert "node2" in out
    state = net.state
    assert all(n.p2p_port != 18444 and n.rest_port != 18443 for n in state.nodes)  # free ports
    one_tip = poll(lambda: len(net.tips()) == 1, "the nodes to share one tip")
    assert one_tip
    start = {n.name: _confirmed(state, n.name, n.name) for n in state.nodes}
    assert all(v > 0 for v in start.values()), start  # every wallet was funded

    # A payment from node0 to node2 reaches every node's mempool along the line.
    txid = net("send", "--from", "node0", "--to", "node2", "1.5").split()[-1]
    for n in state.nodes:
        poll(lambda n=n: txid in net.api(n.name).request("GET", "/api/mempool/txids"),
             f"the payment in {n.name}'s mempool")

    # Mined on node1, it confirms everywhere; both balances read the same through every node.
    net("mine", "1", "--node", "node1")
    poll(lambda: len(net.tips()) == 1, "the block to reach every node")
    for via in ("node0", "node1", "node2"):
        assert _confirmed(state, "node2", via) == start["node2"] + 150_000_000
    # node0 paid 1.5 and a fee, and a coinbase of its matured with the block: one figure
    # through every node.
    assert len({_confirmed(state, "node0", via) for via in ("node0", "node1", "node2")}) == 1

    # A restarted node catches up with blocks mined while it was down.
    net("stop", "node2")
    net("mine", "3", "--node", "node0")
    net("start", "node2")
    height = net.api("node0").info()["height"]
    poll(lambda: net.api("node2").info()["height"] == height, "node2 to catch up")

    # Partition: node0 alone pays node1 and mines 2 blocks; node1+node2 mine 4. After the heal
    # every node follows the longer branch, and node0's payment is unconfirmed again.
    net("partition", "node0 | node1,node2")
    lost = net("send", "--from", "node0", "--to", "node1", "2").split()[-1]
    net("mine", "2", "--node", "node0")
    net("mine", "4", "--node", "node1")
    poll(lambda: net.api("node2").info()["height"] == height + 4, "node2 on the long branch")
    assert len(net.tips()) == 2
    assert "tips differ" in net("status")
    net("heal")
    poll(lambda: len(net.tips()) == 1, "one tip after the heal")
    assert net.api("node0").info()["height"] == height + 4
    history = wallets.history(state, state.node("node0"))
    entry = next(h for h in history if h["txid"] == lost)
    assert entry["confirmations"] == 0  # back in the mempool: its block lost the race
    # node0 put it back in its mempool and relays it; node2 mines it.
    poll(lambda: lost in net.api("node2").request("GET", "/api/mempool/txids"),
         "the returned payment in node2's mempool")
    net("mine", "1", "--node", "node2")
    poll(lambda: len(net.tips()) == 1, "the confirming block everywhere")
    history = wallets.history(state, state.node("node0"))
    assert next(h for h in history if h["txid"] == lost)["confirmations"] == 1
    assert json.loads(net("balances", "--json"))["node1"]["confirmed"] is not None


def test_a_partition_outlives_a_restart_until_healed(tmp_path):
    net = Net(tmp_path / "net", "127.0.5.2")
    try:
        net("up", "--nodes", "2", "--miners", "0", "--no-fund", "--first-ip", net.first_ip,
            "--free-ports")
        net("partition", "node0 | node1")
        net("down")
        net("up")  # the bans are on disk: the restarted nodes stay apart
        assert "partitioned: node0 | node1" in net("status")
        assert net.api("node0").info()["peers"] == 0
        net("heal")
        poll(lambda: net.api("node0").info()["peers"] >= 1, "the link back after the heal")
        assert "partitioned" not in net("status")
    finally:
        net("down", check=False)
