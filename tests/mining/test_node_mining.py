"""The node's miner switch (``Node.set_mining``, behind POST /node/mining and
``minicash-node mining``): settings kept across off and on, and one miner whatever the
requests' timing."""

from __future__ import annotations

import asyncio

from node.app import Node, NodeConfig
from node.consensus.address import address_to_script
from node.consensus.params import get_params

from ..ports import free_port

ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def _miner_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "miner" and not t.done()]


def test_mining_settings_survive_off_and_on_and_concurrent_requests_leave_one_miner(tmp_path):
    params = get_params("regtest")
    config = NodeConfig(params, tmp_path, mining_workers=1, index=False, listen=False,
                        rest_bind=("127.0.0.1", free_port()),
                        p2p_bind=("127.0.0.1", free_port()))

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
            on = await node.set_mining(True)
            assert (on["enabled"], on["interval"], on["address"]) == (True, 2.5, ADDRESS)
            # Two requests at once: each stops and starts the same miner.
            await asyncio.gather(node.set_mining(True), node.set_mining(True, None, 3.0))
            assert len(_miner_tasks()) == 1
            # "on" then "off" at once: the later request wins, and no miner is left running.
            await asyncio.gather(node.set_mining(True), node.set_mining(False))
            assert _miner_tasks() == []
            await node.set_mining(True)
            off = await node.set_mining(False)
            assert (off["enabled"], off["interval"], off["address"]) == (False, 3.0, ADDRESS)
            assert _miner_tasks() == []
        finally:
            await node.stop()

    asyncio.run(scenario())
