"""HTTP API throughput beside a bare aiohttp handler measured the same way in the same run:
GET /api/blocks/tip/height (target: 70% of the bare handler), GET /api/address/:addr/utxo for
an address with 1,000 UTXOs, and POST /api/tx. The server runs in its own process; an aiohttp
client keeps CONCURRENCY requests in flight."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from .report import Figure

CONCURRENCY = 16
REQUESTS = 3_000
UTXOS = 1_000
POSTS = 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(kind: str, port: int, datadir: str, ready) -> None:
    async def main() -> None:
        if kind == "bare":
            app = web.Application()

            async def handler(request: web.Request) -> web.Response:
                return web.Response(text="1", content_type="text/plain")

            app.router.add_get("/", handler)
        else:
            from node.api.app import create_app
            from node.api.context import ApiContext
            from node.chain.chainstate import ChainState
            from node.consensus.params import REGTEST
            from node.index import Indexes
            from node.mempool.fees import FeeEstimator
            from node.mempool.mempool import Mempool

            chain = ChainState(REGTEST, Path(datadir))
            pool = Mempool(chain)
            chain.listeners.append(pool)
            indexes = Indexes(Path(datadir), chain, pool)
            indexes.start()
            app = create_app(ApiContext(REGTEST, chain, pool, FeeEstimator(pool),
                                        indexes=indexes))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def _prepare(datadir: Path) -> tuple[str, list[str]]:
    """A chain where one address holds UTXOS outputs; signed spends of POSTS of them."""
    from node.chain.chainstate import ChainState
    from node.consensus.address import script_to_address
    from node.consensus.params import REGTEST
    from node.consensus.primitives import OutPoint, TxOut
    from tests.chain.builder import BlockMaker

    maker = BlockMaker()
    w = maker.wallet
    with ChainState(REGTEST, datadir) as chain:
        blocks = []
        miner_script = b"\x51"  # coinbases elsewhere: the address holds exactly UTXOS outputs
        for i in range(101):
            # The first coinbase funds the fan-out, so it pays the wallet.
            block = maker.block(chain.tip, coinbase_script=None if i == 0 else miner_script)
            chain.process_block(block)
            blocks.append(block)
        cb = blocks[0].txs[0]
        share = (cb.vout[0].value - 100_000) // UTXOS
        fan = w.spend([(OutPoint(cb.txid, 0), cb.vout[0].value)],
                      [TxOut(share, w.script_pubkey) for _ in range(UTXOS)])
        chain.process_block(maker.block(chain.tip, [fan], fees=100_000 - 0))
        posts = [w.spend([(OutPoint(fan.txid, i), share)],
                         [TxOut(share - 1_000, w.script_pubkey)]).serialize().hex()
                 for i in range(POSTS)]
        return script_to_address(w.script_pubkey, REGTEST) or "", posts


async def _load(url: str, n: int, method: str = "GET", bodies: list[str] | None = None) -> float:
    async with aiohttp.ClientSession() as session:
        todo = list(range(n))

        async def worker() -> None:
            while todo:
                i = todo.pop()
                if method == "GET":
                    async with session.get(url) as r:
                        await r.read()
                        assert r.status == 200, r.status
                else:
                    async with session.post(url, data=bodies[i]) as r:  # type: ignore[index]
                        await r.read()
                        assert r.status == 200, await r.text()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return n / (time.perf_counter() - start)


def run() -> list[Figure]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp) / "node"
        address, posts = _prepare(datadir)
        procs = {}
        ports = {}
        for kind in ("bare", "node"):
            ready = ctx.Event()
            ports[kind] = _free_port()
            procs[kind] = ctx.Process(target=_serve, args=(kind, ports[kind], str(datadir), ready),
                                      daemon=True)
            procs[kind].start()
            if not ready.wait(60):
                raise RuntimeError(f"{kind} server did not start")
        try:
            bare = f"http://127.0.0.1:{ports['bare']}/"
            node = f"http://127.0.0.1:{ports['node']}"
            bare_rate = asyncio.run(_load(bare, REQUESTS))
            tip_rate = asyncio.run(_load(node + "/api/blocks/tip/height", REQUESTS))
            bare_rate = max(bare_rate, asyncio.run(_load(bare, REQUESTS)))
            utxo_rate = asyncio.run(_load(f"{node}/api/address/{address}/utxo", 200))
            post_rate = asyncio.run(_load(node + "/api/tx", POSTS, "POST", posts))
        finally:
            for p in procs.values():
                p.kill()
                p.join(10)
    return [
        Figure("api.tip_height_rps", tip_rate, "req/s", bare_rate, tip_rate / bare_rate,
               target=0.7),
        Figure("api.address_utxo_1000_rps", utxo_rate, "req/s", bare_rate,
               utxo_rate / bare_rate),
        Figure("api.post_tx_rps", post_rate, "req/s", bare_rate, post_rate / bare_rate),
    ]


if __name__ == "__main__":  # pragma: no cover
    for f in run():
        print(f.line())
