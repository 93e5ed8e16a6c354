"""The running node: wires the services on one asyncio event loop and shuts them down cleanly.

Services: chain state, mempool (saved to ``mempool.dat`` on exit and reloaded on start), fee
estimator, indexes, with ``mine`` the proof-of-work workers and the miner, the REST API and the
P2P network (``node.p2p.service``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from node import __version__
from node.api.app import create_app
from node.api.context import ApiContext
from node.chain.chainstate import ChainState
from node.chain.index import BlockIndex
from node.chain.preverify import is_new_tip, preverify_scripts
from node.consensus import crypto
from node.consensus.address import address_to_script, p2wpkh_script, script_to_address
from node.consensus.errors import DecodeError
from node.consensus.hashes import hash160
from node.consensus.params import Params
from node.consensus.primitives import Block, Tx
from node.consensus.wif import decode_wif, encode_wif
from node.cookie import cookie_path, remove_cookie, write_cookie
from node.index import Indexes
from node.mempool.fees import FeeEstimator
from node.mempool.mempool import Mempool, MempoolEntry
from node.mempool.persist import FILENAME as MEMPOOL_FILE
from node.mempool.persist import load_mempool, save_mempool
from node.mining.assembler import create_template
from node.mining.miner import Miner
from node.mining.pow_search import PowSearcher, solve_block_async
from node.netutil import DEFAULT_REST_HOST, HostPort, bind_failed, connect_url
from node.p2p.service import P2PConfig, P2PService

log = logging.getLogger("minicash")

MINER_KEY_FILE = "miner.key"
EXPIRY_CHECK_SECONDS = 600


@dataclass
class NodeConfig:
    params: Params
    datadir: Path
    mine: bool = False
    miner_address: str | None = None
    mine_interval: float = 0.0
    mining_workers: int | None = None
    # (host, port) pairs, as node.netutil.HostPort. None: the network's port on the default host
    # (node.netutil).
    rest_bind: tuple[str, int] | None = None
    p2p_bind: tuple[str, int] | None = None
    connect: list[tuple[str, int]] = field(default_factory=list)  # only these peers
    addnode: list[tuple[str, int]] = field(default_factory=list)  # these peers too
    listen: bool = True  # accept inbound P2P connections
    whitelist: list[str] = field(default_factory=list)  # hosts/subnets (Core: -whitelist)
    index: bool = True  # keep the transaction and address indexes


def api_location(listening: HostPort) -> str:
    """Where the REST API is, for the log: the URL to open, as the welcome banner gives it
    (IPv6 bracketed), and where that is not the bind (a wildcard, reached on loopback), the
    bind too."""
    url = connect_url(listening)
    return url if url == f"http://{listening}" else f"{url}, listening on {listening}"


def miner_script(config: NodeConfig) -> tuple[bytes, str]:
    """The script the miner pays, and its address. Without an address, a key of the node's
    own is created once in ``<datadir>/miner.key`` (WIF, mode 0600) so the coins are
    spendable: import that key into a wallet."""
    params = config.params
    if config.miner_address:
        return address_to_script(config.miner_address, params), config.miner_address
    path = config.datadir / MINER_KEY_FILE
    if path.exists():
        secret, _ = decode_wif(path.read_text().strip(), params)
    else:
        secret = secrets.token_bytes(32)
        while not crypto.secret_is_valid(secret):  # pragma: no cover - odds ~2^-128
            secret = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(encode_wif(secret, True, params) + "\n")
    script = p2wpkh_script(hash160(crypto.pubkey_from_secret(secret)))
    return script, script_to_address(script, params) or "?"


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.started = time.time()
        self.chain: ChainState | None = None
        self.mempool: Mempool | None = None
        self.fees: FeeEstimator | None = None
        self.searcher: PowSearcher | None = None
        self.miner: Miner | None = None  # made on first use, then kept (set_mining)
        self._mining_lock = asyncio.Lock()
        self._expiry_task: asyncio.Task | None = None
        self.indexes: Indexes | None = None
        self.api_runner: web.AppRunner | None = None
        self.rest_address: HostPort | None = None  # where the API listens, once started
        self.stop_requested = asyncio.Event()
        self.cookie: str | None = None  # the admin API token, in <datadir>/.cookie while running
        self._preverifier: ThreadPoolExecutor | None = None  # see submit_block
        self.p2p: P2PService | None = None

    async def start(self) -> None:
        cfg = self.config
        cfg.datadir.mkdir(parents=True, exist_ok=True)
        self.chain = chain = ChainState(cfg.params, cfg.datadir)
        self.cookie = write_cookie(cfg.datadir)  # after the datadir lock: never clobber a peer's
        log.info("admin API cookie in %s", cookie_path(cfg.datadir))
        log.info("chain %s at height %d, tip %s", cfg.params.name, chain.height,
                 chain.tip.hash[::-1].hex())
        self.mempool = Mempool(chain, script_cache=chain.script_checker.cache)
        chain.listeners.append(self.mempool)
        self.fees = FeeEstimator(self.mempool)
        self.mempool.listeners.append(self.fees)
        chain.listeners.append(self.fees)  # after the mempool: it sees confirmations first
        try:
            kept, offered = load_mempool(self.mempool, cfg.datadir / MEMPOOL_FILE)
            if offered:
                log.info("mempool: reloaded %d of %d saved transactions", kept, offered)
        except (DecodeError, OSError) as e:
            log.warning("mempool.dat not loaded: %s", e)
        if cfg.index:
            self.indexes = Indexes(cfg.datadir, chain, self.mempool)
            self.indexes.start()
            log.info("indexes at %s", self.indexes.tip[::-1].hex() if self.indexes.tip else "-")
        self._expiry_task = asyncio.get_running_loop().create_task(self._expire_loop())
        if cfg.mine:
            await self.set_mining(True)
        self.p2p = P2PService(cfg.params, self, cfg.datadir, P2PConfig(
            bind=cfg.p2p_bind, listen=cfg.listen, connect=list(cfg.connect),
            addnode=list(cfg.addnode), whitelist=list(cfg.whitelist)))
        await self.p2p.start()
        await self._start_api()

    # -- the HTTP API ------------------------------------------------------------------------------
    async def _start_api(self) -> None:
        cfg = self.config
        host, port = cfg.rest_bind or (DEFAULT_REST_HOST, cfg.params.rest_port)
        ctx = ApiContext(cfg.params, self.chain, self.mempool, self.fees,  # type: ignore[arg-type]
                         indexes=self.indexes, cookie=self.cookie, info=self.info, generate=self.generate,
                         set_mining=self.set_mining if cfg.params.name in ("regtest", "devnet")
                         else None, request_stop=self.stop_requested.set,
                         submit_block=self.submit_block, submit_tx=self.submit_tx,
                         p2p=self.p2p)
        self.api_runner = web.AppRunner(create_app(ctx), access_log=None)
        await self.api_runner.setup()
        site = web.TCPSite(self.api_runner, host, port)
        try:
            await site.start()
        except OSError as e:  # e.g. the port is taken: one line from `run`, not a traceback
            raise bind_failed("serve the REST API", host, port, e) from None
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        bound = sockets[0].getsockname()[:2] if sockets else (host, port)
        self.rest_address = HostPort(bound[0], bound[1])
        log.info("REST API on %s (Esplora API at /api, Core REST at /rest)",
                 api_location(self.rest_address))

    # -- the doors for new blocks and transactions ------------------------------------------------
    async def submit_block(self, block: Block, raw: bytes | None = None) -> BlockIndex | None:
        """Validate and store a block from anywhere (peer, API, miner), as Core's
        ProcessNewBlock: the block's index, None for an orphan, or ValidationError."""
        chain = self.chain
        assert chain is not None
        if is_new_tip(chain, block):
            # The scripts (the costly part) are verified on a worker thread while the loop
            # keeps serving; the connection itself, on the loop, then skips what passed.
            if self._preverifier is None:
                self._preverifier = ThreadPoolExecutor(1, thread_name_prefix="preverify")
            flags, passed = await asyncio.get_running_loop().run_in_executor(
                self._preverifier, preverify_scripts, chain, block)
            cache = chain.script_checker.cache
            for wtxid in passed:
                cache.add(wtxid, flags)
        return chain.process_block(block, raw)

    async def submit_tx(self, tx: Tx) -> MempoolEntry:
        """Offer a transaction to the mempool (ValidationError with Core's reason if refused)."""
        assert self.mempool is not None
        return self.mempool.accept(tx)

    def info(self) -> dict:
        chain, pool = self.chain, self.mempool
        return {
            "version": __version__,
            "network": self.config.params.name,
            "height": chain.height if chain else None,
            "best_block": chain.tip.hash[::-1].hex() if chain else None,
            "peers": sum(1 for p in self.p2p.peers.values() if p.established) if self.p2p else 0,
            "peer_list": self.p2p.peer_list() if self.p2p else [],
            "mempool": ({"count": len(pool), "vsize": pool.total_vsize}
                        if pool is not None else None),  # an empty pool is falsy
            "mining": self._mining_info(),
            "uptime": int(time.time() - self.started),
        }

    def _mining_info(self) -> dict:
        miner = self.miner
        if miner is None:
            return {"enabled": False, "blocks_found": 0, "interval": None, "address": None}
        # A stopped miner's address and interval are what "on" will resume with. A script
        # without an address (given to set_mining directly: the API takes addresses only)
        # shows as hex, as the log has it.
        script = miner.script_pubkey
        return {"enabled": miner.running, "blocks_found": miner.blocks_found,
                "interval": miner.interval,
                "address": script_to_address(script, self.config.params) or script.hex()}

    def _searcher(self, start: bool = True) -> PowSearcher:
        """The proof-of-work search, its processes started unless ``start`` is false (a
        miner configured while off needs none yet)."""
        if self.searcher is None:
            self.searcher = PowSearcher(self.config.mining_workers)
        if start:
            self.searcher.start()
        return self.searcher

    async def generate(self, n: int, script: bytes) -> list[bytes]:
        """Mine ``n`` blocks now, the search in the worker processes so the event loop (and
        the API) keep answering; each block is validated like a peer's."""
        chain = self.chain
        assert chain is not None
        hashes = []
        for _ in range(n):
            tip = chain.tip
            now = int(time.time())
            block = await solve_block_async(
                lambda extranonce, tip=tip, now=now: create_template(
                    chain.params, tip, self.mempool, script, now, extranonce).block,
                chain.params, self._searcher())
            if block is None:  # pragma: no cover - the extranonce space is unbounded
                raise RuntimeError("no block found")
            await self.submit_block(block)
            hashes.append(block.hash)
        return hashes

    async def set_mining(self, enabled: bool, script: bytes | None = None,
                         interval: float | None = None) -> dict:
        """Switch the miner on or off. A setting not given stays as it was (at first: the
        configured miner address, else the miner key, and mine-interval), so mining switched
        off and on again pays the same address at the same pace, and settings sent with
        "off" are the next "on"'s. A running miner told "on" keeps running with the new
        settings (a restart would mine a block at once, whatever the interval). The node has
        one Miner for its life, so a second one never runs; requests take turns under a lock,
        so each answer tells the state its own request left (an "off" waiting for the miner
        to stop is not answered after a later "on" restarted it)."""
        async with self._mining_lock:
            miner = self.miner
            if miner is None:
                if not enabled and script is None and interval is None:
                    return self._mining_info()  # nothing to stop, nothing to keep
                cfg = self.config
                chain = self.chain
                assert chain is not None
                miner = self.miner = Miner(
                    chain, self.mempool, script if script is not None else miner_script(cfg)[0],
                    self._searcher(start=False),
                    interval=cfg.mine_interval if interval is None else interval,
                    submit=self.submit_block)
            else:
                if not (enabled and miner.running):  # off, or on again after it stopped
                    was_running = miner.running
                    await miner.stop()
                    if was_running and not enabled:
                        log.info("mining stopped")
                miner.configure(script, interval)
            if enabled:
                workers = self._searcher().workers
                miner.start()
            info = self._mining_info()
            if enabled:
                log.info("mining to %s with %d worker(s)%s", info["address"], workers,
                         f", a block every {miner.interval:g} s" if miner.interval else "")
            return info

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            if self.mempool is not None:
                self.mempool.expire()

    async def stop(self) -> None:
        """Stop the API, P2P and mining, save the mempool, flush and close the chain state."""
        if self.api_runner is not None:
            await self.api_runner.cleanup()
            self.api_runner = None
        if self.p2p is not None:
            await self.p2p.stop()
            self.p2p = None
        if self.miner is not None:
            await self.miner.stop()
        if self.searcher is not None:
            self.searcher.stop()
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        if self.mempool is not None and self.chain is not None:
            try:
                n = save_mempool(self.mempool, self.config.datadir / MEMPOOL_FILE)
                log.info("mempool: saved %d transactions", n)
            except OSError as e:
                log.error("mempool.dat not saved: %s", e)
        if self._preverifier is not None:
            self._preverifier.shutdown(wait=True, cancel_futures=True)
            self._preverifier = None
        if self.indexes is not None:
            self.indexes.stop()
            self.indexes = None
        if self.cookie is not None:
            remove_cookie(self.config.datadir, self.cookie)
            self.cookie = None
        if self.chain is not None:
            self.chain.close()
            log.info("chain state flushed at height %d", self.chain.height)
