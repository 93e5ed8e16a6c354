"""Does the API stay responsive while a large block validates? A running node (its own
process, indexes on) is sent a block of 2,000 one-input P2WPKH spends it has never seen
(``POST /node/blocks``, so every script is verified, as for a block from a peer), while a
client polls ``GET /api/blocks/tip/height`` one request at a time.

Reported: the slowest poll answered while the block validated, beside the block's whole
submit time in the same run. Ratio = 1 - worst poll / submit time: 0 means the API was frozen
for the whole validation, 1 means it never noticed. The median idle poll is in the log line.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from .api_bench import _free_port
from .report import Figure

SPENDS = 2_000
ROOT = Path(__file__).resolve().parent.parent


def _prepare(datadir: Path) -> str:
    """A chain with SPENDS mature outputs of one wallet; returns, in hex, a block (not yet
    connected) spending each of them."""
    from node.chain.chainstate import ChainState
    from node.consensus.params import REGTEST
    from node.consensus.primitives import OutPoint, TxOut
    from tests.chain.builder import BlockMaker

    maker = BlockMaker()
    w = maker.wallet
    with ChainState(REGTEST, datadir) as chain:
        first = None
        for _ in range(101):
            block = maker.block(chain.tip)
            chain.process_block(block)
            first = first or block
        cb = first.txs[0]  # type: ignore[union-attr]
        share = (cb.vout[0].value - 100_000) // SPENDS
        fan = w.spend([(OutPoint(cb.txid, 0), cb.vout[0].value)],
                      [TxOut(share, w.script_pubkey) for _ in range(SPENDS)])
        chain.process_block(maker.block(chain.tip, [fan], fees=cb.vout[0].value - share * SPENDS))
        spends = [w.spend([(OutPoint(fan.txid, i), share)], [TxOut(share - 500, w.script_pubkey)])
                  for i in range(SPENDS)]
        return maker.block(chain.tip, spends, fees=500 * SPENDS).serialize().hex()


async def _poll(session: aiohttp.ClientSession, url: str, stop: asyncio.Event,
                out: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        async with session.get(url) as r:
            await r.read()
        out.append(time.perf_counter() - t)


async def _measure(base: str, token: str, block_hex: str) -> tuple[float, float, float]:
    url = base + "/api/blocks/tip/height"
    async with aiohttp.ClientSession() as session:
        idle: list[float] = []
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll(session, url, stop, idle))
        await asyncio.sleep(1.0)  # a fixed sampling window for the idle baseline
        stop.set()
        await poller
        busy: list[float] = []
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll(session, url, stop, busy))
        t = time.perf_counter()
        async with session.post(base + "/node/blocks", data=block_hex,
                                headers={"Authorization": f"Bearer {token}"}) as r:
            body = await r.text()
            if r.status != 200:
                raise RuntimeError(f"block refused: {r.status} {body}")
        submit = time.perf_counter() - t
        stop.set()
        await poller
    return statistics.median(idle), max(busy), submit


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        datadir = Path(tmp) / "node"
        block_hex = _prepare(datadir)
        port = _free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(
            [sys.executable, "-m", "node", "run", "--network", "regtest", "--datadir",
             str(datadir), "--rest-bind", f"127.0.0.1:{port}", "--no-listen",
             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            cookie = datadir / ".cookie"
            while not cookie.exists() or not _answers(base):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("node did not start")
                time.sleep(0.1)
            idle, worst, submit = asyncio.run(_measure(base, cookie.read_text().strip(),
                                                       block_hex))
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"   idle poll median {idle * 1e3:.1f} ms; worst poll during the block "
          f"{worst * 1e3:.1f} ms; block submit {submit * 1e3:.0f} ms")
    return [Figure("api.worst_poll_during_2000_input_block_ms", worst * 1e3, "ms",
                   submit * 1e3, 1 - worst / submit)]


def _answers(base: str) -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(base + "/api/blocks/tip/height", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


if __name__ == "__main__":  # pragma: no cover
    for f in run():
        print(f.line())
