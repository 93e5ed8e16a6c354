"""The running node: wires the services on one asyncio event loop and shuts them down cleanly.

Services so far: chain state, mempool (saved to ``mempool.dat`` on exit and reloaded on
start), fee estimator, and, with ``mine``, the proof-of-work workers and the miner. The
REST API and P2P join here as they are built.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from node.chain.chainstate import ChainState
from node.consensus import crypto
from node.consensus.address import address_to_script, p2wpkh_script, script_to_address
from node.consensus.errors import DecodeError
from node.consensus.hashes import hash160
from node.consensus.params import Params
from node.consensus.wif import decode_wif, encode_wif
from node.mempool.fees import FeeEstimator
from node.mempool.mempool import Mempool
from node.mempool.persist import FILENAME as MEMPOOL_FILE
from node.mempool.persist import load_mempool, save_mempool
from node.mining.miner import Miner
from node.mining.pow_search import PowSearcher

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
        self.miner: Miner | None = None
        self._expiry_task: asyncio.Task | None = None

    async def start(self) -> None:
        cfg = self.config
        cfg.datadir.mkdir(parents=True, exist_ok=True)
        self.chain = chain = ChainState(cfg.params, cfg.datadir)
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
        self._expiry_task = asyncio.get_running_loop().create_task(self._expire_loop())
        if cfg.mine:
            script, address = miner_script(cfg)
            self.searcher = PowSearcher(cfg.mining_workers)
            self.searcher.start()
            self.miner = Miner(chain, self.mempool, script, self.searcher,
                               interval=cfg.mine_interval)
            self.miner.start()
            log.info("mining to %s with %d worker(s)%s", address, self.searcher.workers,
                     f", a block every {cfg.mine_interval:g} s" if cfg.mine_interval else "")

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            if self.mempool is not None:
                self.mempool.expire()

    async def stop(self) -> None:
        """Stop mining, save the mempool, flush and close the chain state."""
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
        if self.chain is not None:
            self.chain.close()
            log.info("chain state flushed at height %d", self.chain.height)
