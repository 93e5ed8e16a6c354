"""P2P benchmarks, each beside a reference measured in the same run:

- initial sync of BLOCKS blocks x TXS transactions from one node to another over loopback, in
  blocks/s, against importing the same blocks from a blk*.dat file (target: 0.8, the network
  layer must not be the bottleneck);
- relay latency of a new block along a line of five nodes, per hop in ms, against the ping
  round trip between neighbours;
- transactions relayed per second from one node to another, against the rate at which the
  first node itself accepts them (both nodes whitelist loopback, as Core's functional tests do,
  so announcements are not trickled).

Transactions spend and create P2WSH outputs whose script is OP_TRUE: no signatures to make, so
building a million of them takes seconds; both sides of each comparison validate the same
blocks. Sizes: MINICASH_BENCH_P2P_BLOCKS (default 2000) and MINICASH_BENCH_P2P_TXS (500).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from node.chain.chainstate import ChainState
from node.chain.importer import import_files
from node.consensus.params import REGTEST
from node.consensus.primitives import Block, OutPoint, Tx, TxIn, TxOut
from node.mining.blocktools import build_block, create_coinbase, solve, with_witness_commitment
from node.p2p.messages import MSG_WTX, Inv, InvItem, TxMsg

from .report import Figure

SYNC_TARGET = 0.8
OP_TRUE = b"\x51"
OP_TRUE_P2WSH = b"\x00\x20" + hashlib.sha256(OP_TRUE).digest()
FEE = 200
RELAY_TXS = 4000
LINE = 5
LATENCY_BLOCKS = 5


def _spend(outpoint: OutPoint, value: int, outputs: int = 1) -> Tx:
    each = (value - FEE) // outputs
    return Tx(2, (TxIn(outpoint, b"", 0xFFFFFFFF, (OP_TRUE,)),),
              tuple(TxOut(each, OP_TRUE_P2WSH) for _ in range(outputs)), 0)


def make_chain(blocks: int, txs: int, fanout: int) -> Iterator[Block]:
    """101 blocks to mature a coinbase, one that fans it out to ``fanout`` outputs, then
    ``blocks`` blocks of ``txs`` one-in-one-out spends of the live outputs."""
    prev, height = REGTEST.genesis.header, 0
    start = int(time.time()) - blocks - 200
    live: list[tuple[OutPoint, int]] = []
    first_coinbase: Tx | None = None

    def block(body: list[Tx]) -> Block:
        nonlocal prev, height
        height += 1
        fees = sum(FEE * 1 for _ in body)
        cb = create_coinbase(height, REGTEST.block_subsidy(height) + fees, OP_TRUE_P2WSH)
        b = solve(build_block(prev.hash, with_witness_commitment([cb, *body]),
                              start + height, prev.bits), REGTEST)
        prev = b.header
        return b

    for _ in range(101):
        b = block([])
        first_coinbase = first_coinbase or b.txs[0]
        yield b
    assert first_coinbase is not None
    fan = _spend(OutPoint(first_coinbase.txid, 0), first_coinbase.vout[0].value, fanout)
    live = [(OutPoint(fan.txid, n), out.value) for n, out in enumerate(fan.vout)]
    yield block([fan])
    for _ in range(blocks):
        body = [_spend(op, value) for op, value in live[:txs]]
        live = [(OutPoint(t.txid, 0), t.vout[0].value) for t in body] + live[txs:]
        yield block(body)


def write_blk(path: Path, chain: Iterator[Block]) -> int:
    n = 0
    with open(path, "wb") as f:
        for b in chain:
            raw = b.serialize()
            f.write(REGTEST.magic + struct.pack("<I", len(raw)) + raw)
            n += 1
    return n


def _import(datadir: Path, blk: Path) -> float:
    started = time.perf_counter()
    with ChainState(REGTEST, datadir) as chain:
        import_files(chain, [blk])
    return time.perf_counter() - started


# -- 1. initial sync against import ----------------------------------------------------------------
def bench_sync(work: Path, network_cls, blocks: int, txs: int) -> Figure:
    blk = work / "blk00000.dat"
    total = write_blk(blk, make_chain(blocks, txs, txs))
    import_seconds = _import(work / "source", blk)
    net = network_cls(work, ["--log-level", "info"])
    try:
        source = net.node("source", work / "source").start()
        sink = net.node("sink").start("--connect", source.p2p_address)
        done = sink.wait_for_log(f"connected block {total} ", timeout=3600)[0]
        # From the handshake to the last block, by the sink's own log clock.
        sync_seconds = _log_time(done) - _log_time(sink.wait_for_log("peer connected")[0])
    finally:
        net.stop_all(show_logs=False)
    value, reference = total / sync_seconds, total / import_seconds
    return Figure(f"p2p.initial_sync.{blocks}x{txs}", value, "blocks/s", reference,
                  value / reference, SYNC_TARGET)


# -- 2. block relay latency along a line -----------------------------------------------------------
def _log_time(line: str) -> float:
    # "2026-01-01 12:00:00,123 INFO ...": logging's default asctime, milliseconds after a comma.
    stamp = time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
    return time.mktime(stamp) + int(line[20:23]) / 1000


def bench_latency(work: Path, network_cls, build_chain) -> Figure:
    net = network_cls(work / "line", ["--log-level", "info"])
    try:
        nodes = [net.node(f"n{i}") for i in range(LINE)]
        first = nodes[0]
        build_chain(first.datadir, 10)
        # --connect everywhere keeps it a line: nobody dials the addresses it hears of.
        first.start("--connect", nodes[1].p2p_address)
        for prev, n in zip(nodes, nodes[1:], strict=False):
            n.start("--connect", prev.p2p_address)
        for n in nodes[1:]:
            n.wait_for_log("connected block 10 ")
        hops = []
        for k in range(LATENCY_BLOCKS):
            height = 11 + k
            first.generate(1)
            stamps = [_log_time(n.wait_for_log(f"connected block {height} ")[0])
                      for n in nodes]
            hops.append((stamps[-1] - stamps[0]) / (LINE - 1))
        pings = [p["min_ping_ms"] for n in nodes[1:] for p in n.peers()
                 if p["min_ping_ms"] is not None]
    finally:
        net.stop_all(show_logs=False)
    per_hop_ms = statistics.median(hops) * 1000
    ping_ms = statistics.median(pings)
    return Figure(f"p2p.block_latency.per_hop.{LINE}_nodes", per_hop_ms, "ms", ping_ms,
                  ping_ms / per_hop_ms if per_hop_ms else 0.0)


# -- 3. transactions relayed per second ------------------------------------------------------------
def bench_tx_relay(work: Path, network_cls, wire_client_cls) -> Figure:
    blk = work / "fanout.dat"
    chain = list(make_chain(0, 0, RELAY_TXS))
    write_blk(blk, iter(chain))
    _import(work / "a", blk)
    shutil.copytree(work / "a", work / "b")
    fan = chain[-1].txs[1]
    txs = [_spend(OutPoint(fan.txid, n), out.value) for n, out in enumerate(fan.vout)]
    net = network_cls(work, ["--whitelist", "127.0.0.1"])
    try:
        a = net.node("a", work / "a").start()
        b = net.node("b", work / "b").start("--connect", a.p2p_address)
        wait = _poll_count
        wait(lambda: len(b.peers()), 1, 30)
        started = time.perf_counter()
        asyncio.run(_push_txs(wire_client_cls, a.p2p_port, txs))
        a_seconds = wait(lambda: a.get("/api/mempool")["count"], len(txs), 300) - started
        b_seconds = wait(lambda: b.get("/api/mempool")["count"], len(txs), 300) - started
    finally:
        net.stop_all(show_logs=False)
    value, reference = len(txs) / b_seconds, len(txs) / a_seconds
    return Figure("p2p.tx_relay.two_nodes", value, "txs/s", reference, value / reference)


def _poll_count(fn, want: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while fn() < want:
        if time.monotonic() > deadline:
            raise TimeoutError(f"count stuck below {want}")
        time.sleep(0.02)
    return time.perf_counter()


async def _push_txs(wire_client_cls, port: int, txs: list[Tx]) -> None:
    """Announce by wtxid, answer the node's getdata, as a peer would."""
    client = await wire_client_cls().connect("127.0.0.1", port)
    try:
        await client.handshake()
        by_wtxid = {t.wtxid: t for t in txs}
        for i in range(0, len(txs), 1000):
            client.send(Inv(tuple(InvItem(MSG_WTX, t.wtxid) for t in txs[i:i + 1000])))
        sent = 0
        while sent < len(txs):
            msg = await client.expect("getdata", 60)
            for item in msg.items:  # type: ignore[attr-defined]
                tx = by_wtxid.get(item.hash)
                if tx is not None:
                    client.send(TxMsg(tx))
                    sent += 1
        await client.writer.drain()  # type: ignore[union-attr]
    finally:
        await client.close()


def run() -> list[Figure]:
    # The functional-test harness starts, watches and stops node processes; reuse it.
    from tests.p2p.framework import Network, build_chain
    from tests.p2p.wire_client import WireClient

    blocks = int(os.environ.get("MINICASH_BENCH_P2P_BLOCKS", "2000"))
    txs = int(os.environ.get("MINICASH_BENCH_P2P_TXS", "500"))
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sync").mkdir()
        figures.append(bench_sync(work / "sync", Network, blocks, txs))
        figures.append(bench_latency(work, Network, build_chain))
        (work / "relay").mkdir()
        figures.append(bench_tx_relay(work / "relay", Network, WireClient))
    return figures


if __name__ == "__main__":  # pragma: no cover
    for f in run():
        print(f.line())
