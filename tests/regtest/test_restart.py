"""A node's miner is switched on through its API and so ends with its process: whichever way a
miner comes back (``start NODE``, or ``up`` over a stopped network), it mines again."""

from __future__ import annotations

from .test_story import Net


def _mining(net: Net, name: str) -> bool:
    return net.api(name).info()["mining"]["enabled"]


def test_a_miner_mines_again_after_start_and_after_down_then_up(tmp_path):
    net = Net(tmp_path / "net", "127.0.6.2")
    try:
        # A long interval: one block at once, then none to wait for while stopping.
        net("up", "--nodes", "2", "--miners", "1", "--no-fund", "--interval", "3600",
            "--first-ip", net.first_ip, "--free-ports")
        assert _mining(net, "node0") and not _mining(net, "node1")

        net("stop", "node0")
        net("start", "node0")
        assert _mining(net, "node0")

        net("down")
        net("up")
        assert _mining(net, "node0") and not _mining(net, "node1")
    finally:
        net("down", check=False)
