"""A regtest chain with mature coinbases, a mempool following it, and helpers to pay and
mine: the shared setting of the mempool and mining tests (fixtures ``env``, ``prepared``)."""

from __future__ import annotations

import shutil

import pytest

from node.chain.chainstate import ChainState
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, TxOut
from node.mempool.mempool import Mempool

from .chain.builder import BlockMaker


class Clock:
    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A datadir with 120 regtest blocks: 19 mature coinbases to spend."""
    path = tmp_path_factory.mktemp("mempool") / "base"
    maker = BlockMaker()
    blocks = []
    with ChainState(REGTEST, path) as chain:
        for _ in range(120):
            block = maker.block(chain.tip)
            chain.process_block(block)
            blocks.append(block)
    return path, blocks


class Env:
    def __init__(self, chain, blocks, clock):
        self.chain = chain
        self.blocks = blocks
        self.maker = BlockMaker()
        self.maker.extra = 10_000
        self.wallet = self.maker.wallet
        self.clock = clock
        self.pool = Mempool(chain, script_cache=chain.script_checker.cache, clock=clock)
        chain.listeners.append(self.pool)

    def coinbase(self, height: int):
        cb = self.blocks[height - 1].txs[0]
        return OutPoint(cb.txid, 0), cb.vout[0].value

    def pay(self, inputs, fee=1_000, outputs=2, **kw):
        total = sum(v for _, v in inputs)
        each = (total - fee) // outputs
        outs = [TxOut(each, self.wallet.script_pubkey) for _ in range(outputs - 1)]
        outs.append(TxOut(total - fee - each * (outputs - 1), self.wallet.script_pubkey))
        return self.wallet.spend(inputs, outs, **kw)

    def mine(self, txs=()):
        fees = sum(self.pool.get(t.txid).fee if t.txid in self.pool else 0 for t in txs)
        block = self.maker.block(self.chain.tip, list(txs), fees=fees)
        self.chain.process_block(block)
        return block


@pytest.fixture
def env(prepared, tmp_path):
    path, blocks = prepared
    shutil.copytree(path, tmp_path / "n")
    clock = Clock()
    with ChainState(REGTEST, tmp_path / "n") as chain:
        yield Env(chain, blocks, clock)
