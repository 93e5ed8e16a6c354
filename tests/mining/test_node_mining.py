"""The node's miner switch (``Node.set_mining``, behind POST /node/mining and
``minicash-node mining``): settings kept across off and on, and one miner whatever the
requests' timing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from node.app import Node, NodeConfig
from node.consensus.address import address_to_script
from node.consensus.params import get_params

from ..ports import free_port

ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
OTHER_ADDRESS = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"


def _miner_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "miner" and not t.done()]


async def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds at some point within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _config(tmp_path) -> NodeConfig:
    return NodeConfig(get_params("regtest"), tmp_path, mining_workers=1, index=False,
                      listen=False, rest_bind=("127.0.0.1", free_port()),
                      p2p_bind=("127.0.0.1", free_port()))


def test_mining_settings_survive_off_and_on_and_concurrent_requests_leave_one_miner(tmp_path):
    params = get_params("regtest")
    config = _config(tmp_path)

    async def scenario() -> None:
        node = Node(config)
        await node.start()
        try:
            # Off on a node that never mined: nothing to stop, and no miner key made.
            assert await node.set_mining(False) == {
                "enabled": False, "blocks_found": 0, "interval": None, "address": None}
            assert not (tmp_path / "miner.key").exists()
            # Settings sent with "off" are the next "on"'s.
            kept = await node.set_mining(False, address_to_script(ADDRESS, params), 2.5)
            assert (kept["enabled"], kept["interval"], kept["address"]) == (False, 2.5, ADDRESS)
            # ... and start no search process while off.
            assert node.searcher is None or not node.searcher._procs
            on = await node.set_mining(True)
            assert (on["enabled"], on["interval"], on["address"]) == (True, 2.5, ADDRESS)
            # Two requests at once: the second retunes the miner the first started.
            await asyncio.gather(node.set_mining(True), node.set_mining(True, None, 3.0))
            assert len(_miner_tasks()) == 1
            # "on" then "off" at once: the later request wins, and no miner is left running.
            await asyncio.gather(node.set_mining(True), node.set_mining(False))
            assert _miner_tasks() == []
            await node.set_mining(True)
            # "off" then "on" at once on a running miner: each answer is its own request's.
            off, on = await asyncio.gather(node.set_mining(False), node.set_mining(True))
            assert off["enabled"] is False and on["enabled"] is True
            assert len(_miner_tasks()) == 1
            off = await node.set_mining(False)
            assert (off["enabled"], off["interval"], off["address"]) == (False, 3.0, ADDRESS)
            assert _miner_tasks() == []
        finally:
            await node.stop()

    asyncio.run(scenario())


def test_mining_on_to_a_running_miner_keeps_its_pace_and_takes_the_new_settings(tmp_path):
    params = get_params("regtest")

    async def scenario() -> None:
        node = Node(_config(tmp_path))
        await node.start()
        chain = node.chain
        assert chain is not None
        try:
            await node.set_mining(True, address_to_script(ADDRESS, params), 600)
            assert await _within(30, lambda: chain.height == 1)  # the first block comes at once
            # "on" again, with the same long interval: the next block is still ten minutes
            # after the last, not at once (a restart of the miner mined one in ~0.1 s).
            await node.set_mining(True, None, 600)
            assert not await _within(1, lambda: chain.height > 1)
            assert len(_miner_tasks()) == 1
            # A new address is the next block's; a shorter interval ends the wait under way.
            other = address_to_script(OTHER_ADDRESS, params)
            await node.set_mining(True, other)
            on = await node.set_mining(True, None, 1)
            assert (on["enabled"], on["interval"], on["address"]) == (True, 1, OTHER_ADDRESS)
            assert await _within(30, lambda: chain.height >= 2)
            block = chain.read_block(chain.at_height(2))
            assert block is not None and block.txs[0].vout[0].script_pubkey == other
        finally:
            await node.stop()

    asyncio.run(scenario())
