"""A small functional-test framework in the style of Bitcoin Core's: nodes are real
``minicash-node run`` processes on 127.0.0.1 with free ports, driven over their HTTP API; every
wait polls with a deadline; every process is stopped when the test ends, pass or fail."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.chain.chainstate import ChainState
from node.client import ClientError, NodeClient
from node.consensus.params import REGTEST
from node.consensus.primitives import Block, OutPoint, Tx, TxOut
from node.mempool.mempool import Mempool
from node.p2p.service import P2PConfig, P2PService

from ..chain.builder import BlockMaker, Wallet
from ..node_process import ROOT
from ..ports import free_port

DEFAULT_TIMEOUT = 60.0


def wait_until(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT,
               what: str = "condition", interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


WALLET = Wallet(b"p2p tests")


def build_chain(datadir: Path, blocks: int, wallet: Wallet = WALLET) -> list[Block]:
    """A regtest datadir holding ``blocks`` valid blocks paying ``wallet``, with recent time
    stamps (the tip is recent, so the node is out of initial download and announces blocks)."""
    maker = BlockMaker(REGTEST, wallet)
    made = []
    start = int(time.time()) - blocks - 10
    with ChainState(REGTEST, datadir) as chain:
        for i in range(blocks):
            block = maker.block(chain.tip, time=start + i)
            chain.process_block(block)
            made.append(block)
    return made


def spend_coinbase(block: Block, outputs: int = 1, fee: int = 10_000,
                   wallet: Wallet = WALLET) -> Tx:
    """A transaction spending ``block``'s coinbase to ``outputs`` outputs of ``wallet``."""
    cb = block.txs[0]
    value = cb.vout[0].value - fee
    return wallet.spend([(OutPoint(cb.txid, 0), cb.vout[0].value)],
                        [TxOut(value // outputs, wallet.script_pubkey)] * outputs)


def spend_output(tx: Tx, n: int = 0, fee: int = 10_000, wallet: Wallet = WALLET) -> Tx:
    value = tx.vout[n].value
    return wallet.spend([(OutPoint(tx.txid, n), value)],
                        [TxOut(value - fee, wallet.script_pubkey)])


class NodeProcess:
    """One node: its datadir, ports, process, log lines and API client."""

    def __init__(self, datadir: Path, name: str, extra_args: list[str] | None = None,
                 host: str = "127.0.0.1") -> None:
        self.name = name
        self.datadir = datadir
        self.host = host  # P2P listens (and, on loopback, connects out) from here
        self.rest_port = free_port()
        self.p2p_port = free_port()
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._lock = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def p2p_address(self) -> str:
        return f"{self.host}:{self.p2p_port}"

    def start(self, *args: str, wait: bool = True) -> NodeProcess:
        cmd = [sys.executable, "-m", "node", "run", "--datadir", str(self.datadir),
               "--rest-bind", f"127.0.0.1:{self.rest_port}",
               "--p2p-bind", self.p2p_address, "--mining-workers", "1", "--no-index",
               *self.extra_args, *args]
        self.lines = []
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait:
            self.wait_for_log("REST API on")
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))
                self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()

    def wait_for_log(self, needle: str, count: int = 1,
                     timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                seen = [line for line in self.lines if needle in line]
                if len(seen) >= count:
                    return seen
                if self.proc is not None and self.proc.poll() is not None \
                        and not (self._reader and self._reader.is_alive()):
                    raise AssertionError(f"{self.name} exited ({self.proc.returncode}) "
                                         f"before logging {needle!r}:\n" + self.log_tail())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: no {count} x {needle!r} in {timeout} s"
                                         f":\n" + self.log_tail())
                self._lock.wait(min(left, 0.5))

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    # -- the API ---------------------------------------------------------------------------------
    def client(self, admin: bool = False) -> NodeClient:
        token = (self.datadir / ".cookie").read_text().strip() if admin else None
        return NodeClient(f"http://127.0.0.1:{self.rest_port}", token, timeout=60)

    def get(self, path: str) -> Any:
        return self.client().request("GET", path)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return self.client(admin=True).request(method, path, body if body is not None else {},
                                               auth=True)

    def height(self) -> int:
        return int(self.get("/api/blocks/tip/height"))

    def tip(self) -> str:
        return self.get("/api/blocks/tip/hash")

    def peers(self) -> list[dict]:
        return [p for p in self.get("/node/peers") if p["established"]]

    def generate(self, n: int, address: str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
                 ) -> list[str]:
        return self.admin("POST", "/node/generate", {"blocks": n, "address": address})

    def post_tx(self, tx: Tx) -> str:
        req = urllib.request.Request(f"http://127.0.0.1:{self.rest_port}/api/tx",
                                     data=tx.serialize().hex().encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def mempool(self) -> list[str]:
        return self.get("/api/mempool/txids")

    def connect(self, other: NodeProcess) -> dict:
        return self.admin("POST", "/node/peers", {"address": other.p2p_address})

    # -- stopping ----------------------------------------------------------------------------------
    def stop(self, timeout: float = 20) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        self.proc = None
        return proc.returncode


class Network:
    """The nodes of one test; :meth:`stop_all` runs whatever happens."""

    def __init__(self, tmp_path: Path, extra_args: list[str] | None = None) -> None:
        self.tmp_path = tmp_path
        self.extra_args = extra_args or []
        self.nodes: list[NodeProcess] = []

    def node(self, name: str | None = None, datadir: Path | None = None) -> NodeProcess:
        name = name or f"node{len(self.nodes)}"
        n = NodeProcess(datadir or self.tmp_path / name, name, list(self.extra_args))
        self.nodes.append(n)
        return n

    def stop_all(self, show_logs: bool = True) -> None:
        for n in self.nodes:
            if show_logs:  # pytest shows it only when the test failed
                print(f"---- {n.name} (rest {n.rest_port}, p2p {n.p2p_port}) ----\n{n.log_tail(300)}")
            try:
                n.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                if n.proc is not None:
                    n.proc.kill()


def same_tip(nodes: list[NodeProcess]) -> str | None:
    try:
        tips = {n.tip() for n in nodes}
    except ClientError:
        return None
    return tips.pop() if len(tips) == 1 else None


# -- in-process services, for tests that need short timeouts or a scripted peer ---------------
class Hooks:
    """The node as the P2P service sees it, without the API or the miner."""

    def __init__(self, datadir: Path) -> None:
        self.chain = ChainState(REGTEST, datadir)
        self.mempool = Mempool(self.chain)

    async def submit_block(self, block, raw=None):
        return self.chain.process_block(block, raw)

    async def submit_tx(self, tx):
        return self.mempool.accept(tx)


async def start_service(datadir: Path, **config) -> P2PService:
    hooks = Hooks(datadir)
    service = P2PService(REGTEST, hooks, datadir, P2PConfig(bind=("127.0.0.1", 0), **config))
    await service.start()
    return service


async def stop_services(*services: P2PService) -> None:
    for s in services:
        await s.stop()
        s.node.chain.close()  # type: ignore[union-attr]


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
