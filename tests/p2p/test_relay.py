"""Transaction relay seen from a scripted peer: announcements by wtxid (BIP339), getdata,
feefilter (BIP133) and BIP35 mempool requests."""

from __future__ import annotations

import asyncio

from node.p2p.messages import MSG_WTX, FeeFilter, GetData, InvItem, Ping
from node.p2p.messages import Mempool as MempoolMsg

from .framework import build_chain, spend_coinbase, start_service, stop_services
from .wire_client import WireClient


def test_relay_by_wtxid_honours_feefilter_and_answers_bip35_mempool(tmp_path):
    blocks = build_chain(tmp_path / "n", 101)
    tx = spend_coinbase(blocks[0], fee=10_000)  # ~90 sat/vB

    async def main() -> None:
        service = await start_service(tmp_path / "n", whitelist=["127.0.0.1"])
        host, port = service.listen_address  # type: ignore[misc]
        try:
            eager, picky = WireClient(), WireClient()
            for client in (eager, picky):
                await (await client.connect(host, port)).handshake(start_height=101)
            picky.send(FeeFilter(200_000))  # 200 sat/vB: more than the tx pays
            picky.send(Ping(1))
            await picky.expect("pong")
            await service.node.submit_tx(tx)
            inv = await eager.expect("inv", 5)
            assert [(i.type, i.hash) for i in inv.items] == [(MSG_WTX, tx.wtxid)]
            eager.send(GetData((InvItem(MSG_WTX, tx.wtxid),)))
            got = await eager.expect("tx", 5)
            assert got.tx.serialize() == tx.serialize()  # with its witness
            # The picky peer hears nothing; asked for the mempool it still gets nothing
            # below its filter, while a newcomer asking gets the transaction.
            picky.send(MempoolMsg())
            picky.send(Ping(2))
            await picky.expect("pong")
            await asyncio.sleep(0.3)
            assert not [m for m in picky.received if m.command == "inv"]
            newcomer = WireClient()
            await (await newcomer.connect(host, port)).handshake(start_height=101)
            newcomer.send(MempoolMsg())
            inv = await newcomer.expect("inv", 5)
            assert [i.hash for i in inv.items] == [tx.wtxid]
            for client in (eager, picky, newcomer):
                await client.close()
        finally:
            await stop_services(service)

    asyncio.run(main())
