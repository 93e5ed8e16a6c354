"""Blocks served to a scripted peer by getdata: with witnesses only when asked for them."""

from __future__ import annotations

import asyncio

from node.chain.chainstate import ChainState
from node.consensus.params import REGTEST
from node.p2p.messages import MSG_BLOCK, MSG_WITNESS_BLOCK, GetData, InvItem

from ..chain.builder import BlockMaker
from .framework import WALLET, build_chain, spend_coinbase, start_service, stop_services
from .wire_client import WireClient


def test_msg_block_is_served_without_witnesses_and_msg_witness_block_with_them(tmp_path):
    """Core's ProcessGetBlockData: MSG_BLOCK (2) gets the block serialized without witness
    data (SERIALIZE_TRANSACTION_NO_WITNESS / TX_NO_WITNESS), MSG_WITNESS_BLOCK (0x40000002)
    gets it as stored, witnesses included (BIP144)."""
    datadir = tmp_path / "n"
    blocks = build_chain(datadir, 101)
    spend = spend_coinbase(blocks[0])  # P2WPKH: carries a witness
    with ChainState(REGTEST, datadir) as chain:
        block = BlockMaker(REGTEST, WALLET).block(chain.tip, [spend], fees=10_000)
        assert chain.process_block(block) is not None and chain.tip.hash == block.hash
    legacy, full = block.serialize(witness=False), block.serialize()
    assert legacy != full  # the coinbase and the spend both have witnesses

    async def main() -> None:
        service = await start_service(datadir)
        try:
            client = await WireClient().connect(*service.listen_address)  # type: ignore[misc]
            await client.handshake(start_height=102)
            client.send(GetData((InvItem(MSG_BLOCK, block.hash),
                                 InvItem(MSG_WITNESS_BLOCK, block.hash))))
            first = await client.expect("block", 5)
            second = await client.expect("block", 5)
            assert first.raw == legacy  # type: ignore[attr-defined]
            assert second.raw == full  # type: ignore[attr-defined]
            assert first.block.hash == second.block.hash == block.hash  # type: ignore[attr-defined]
            await client.close()
        finally:
            await stop_services(service)

    asyncio.run(main())
