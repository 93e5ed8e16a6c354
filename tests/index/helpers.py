"""Shared pieces of the index tests: several owners of coins (P2WPKH keys and an anyone-can-spend
P2WSH), a model of the coins they hold to make random valid activity, the brute-force
recomputation of every index answer from the blocks, and a dump of the index database."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field

from node.chain.chainstate import ChainState
from node.consensus import crypto
from node.consensus.primitives import Block, OutPoint, Tx, TxIn, TxOut
from node.consensus.script.script import is_unspendable
from node.consensus.script.sighash import SIGHASH_ALL, segwit_v0_sighash
from node.index import Indexes, ScriptHashStats, Spender, TxLocation, TxoStats, Utxo
from node.mempool.mempool import Mempool
from tests.chain.builder import Wallet

OP_TRUE_WITNESS_SCRIPT = b"\x51"
ANYONE_SPK = b"\x00\x20" + hashlib.sha256(OP_TRUE_WITNESS_SCRIPT).digest()


@dataclass(frozen=True)
class Owner:
    """Who can spend an output: a P2WPKH key, or anyone (P2WSH of OP_TRUE) when ``wallet``
    is None."""

    wallet: Wallet | None

    @property
    def script_pubkey(self) -> bytes:
        return ANYONE_SPK if self.wallet is None else self.wallet.script_pubkey

    def witness(self, tx: Tx, n: int, amount: int) -> tuple[bytes, ...]:
        if self.wallet is None:
            return (OP_TRUE_WITNESS_SCRIPT,)
        w = self.wallet
        script_code = b"\x76\xa9\x14" + w.key_hash + b"\x88\xac"
        digest = segwit_v0_sighash(script_code, tx, n, SIGHASH_ALL, amount)
        return (crypto.sign(w.secret, digest) + bytes((SIGHASH_ALL,)), w.pubkey)


def make_owners(miner: Wallet, n_keys: int = 3) -> list[Owner]:
    """The miner's key (coinbases pay it), ``n_keys`` more keys, and anyone-can-spend."""
    return [Owner(miner), *(Owner(Wallet(b"index tests %d" % i)) for i in range(n_keys)),
            Owner(None)]


def sign(inputs: list[tuple[OutPoint, int, Owner]], outputs: list[TxOut]) -> Tx:
    unsigned = Tx(2, tuple(TxIn(op, sequence=0xFFFFFFFD) for op, _, _ in inputs),
                  tuple(outputs), 0)
    vin = tuple(TxIn(txin.prevout, b"", txin.sequence, owner.witness(unsigned, i, value))
                for i, (txin, (_, value, owner)) in enumerate(zip(unsigned.vin, inputs,
                                                                   strict=True)))
    return Tx(2, vin, unsigned.vout, 0)


@dataclass
class Coin:
    value: int
    owner: Owner
    height: int
    coinbase: bool


@dataclass
class Coins:
    """The spendable outputs of one branch of the chain, as the tests see them."""

    coins: dict[OutPoint, Coin] = field(default_factory=dict)

    def copy(self) -> Coins:
        return Coins(dict(self.coins))

    def spendable(self, next_height: int) -> list[OutPoint]:
        return sorted((op for op, c in self.coins.items()
                       if not c.coinbase or next_height - c.height >= 100),
                      key=lambda op: (op.txid, op.n))

    def take(self, op: OutPoint) -> tuple[OutPoint, int, Owner]:
        c = self.coins.pop(op)
        return op, c.value, c.owner

    def add_tx(self, tx: Tx, owners: dict[bytes, Owner], height: int,
               coinbase: bool = False) -> None:
        for n, out in enumerate(tx.vout):
            owner = owners.get(out.script_pubkey)
            if owner is not None:
                self.coins[OutPoint(tx.txid, n)] = Coin(out.value, owner, height, coinbase)

    def spend_outputs(self, tx: Tx) -> None:
        for n in range(len(tx.vout)):
            self.coins.pop(OutPoint(tx.txid, n), None)


class Activity:
    """Random valid (and standard) transactions among the owners, mined into blocks."""

    def __init__(self, env, owners: list[Owner], seed: int = 1) -> None:
        self.env = env
        self.owners = owners
        self.by_script = {o.script_pubkey: o for o in owners}
        self.rng = random.Random(seed)
        self.coins = Coins()
        for height, block in enumerate(env.blocks, start=1):
            self.coins.add_tx(block.txs[0], self.by_script, height, coinbase=True)

    def tx(self, coins: Coins, next_height: int, *, n_in: int | None = None,
           pay_to: list[Owner] | None = None, fee: int = 3_000,
           op_return: bool | None = None) -> Tx:
        """A transaction spending random coins of ``coins`` (which it updates: its inputs
        leave, its outputs join at ``next_height``)."""
        rng = self.rng
        available = coins.spendable(next_height)
        n_in = n_in or rng.choice((1, 1, 2, 3))
        inputs = [coins.take(op) for op in rng.sample(available, min(n_in, len(available)))]
        total = sum(v for _, v, _ in inputs) - fee
        pay_to = pay_to or [rng.choice(self.owners) for _ in range(rng.choice((1, 2, 3)))]
        each = total // len(pay_to)
        outputs = [TxOut(each, o.script_pubkey) for o in pay_to]
        outputs[-1] = TxOut(total - each * (len(pay_to) - 1), pay_to[-1].script_pubkey)
        if op_return if op_return is not None else rng.random() < 0.25:
            outputs.insert(rng.randrange(len(outputs) + 1), TxOut(0, b"\x6a\x04test"))
        tx = sign(inputs, outputs)
        coins.add_tx(tx, self.by_script, next_height)
        return tx

    def txs(self, coins: Coins, next_height: int, count: int) -> list[Tx]:
        return [self.tx(coins, next_height) for _ in range(count)]

    def mine(self, prev, txs: list[Tx], coins: Coins | None = None, fee_each: int = 3_000):
        """Mine ``txs`` on ``prev`` (a BlockIndex); the coinbase joins ``coins``. Returns the
        new block's index."""
        chain = self.env.chain
        block = self.env.maker.block(prev, txs, fees=fee_each * len(txs))
        chain.process_block(block)
        (coins or self.coins).add_tx(block.txs[0], self.by_script, prev.height + 1,
                                     coinbase=True)
        return chain.index[block.hash]

    def blocks(self, count: int, txs_per_block: int = 4) -> None:
        """Mine ``count`` blocks of random activity on the tip (updates ``self.coins``)."""
        for _ in range(count):
            tip = self.env.chain.tip
            self.mine(tip, self.txs(self.coins, tip.height + 1, txs_per_block))


# -- brute force ---------------------------------------------------------------------------------
@dataclass
class Expected:
    locations: dict[bytes, TxLocation] = field(default_factory=dict)
    spenders: dict[OutPoint, Spender] = field(default_factory=dict)
    outputs: dict[OutPoint, tuple[bytes, int, int | None]] = field(default_factory=dict)
    chain_stats: dict[bytes, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    pool_stats: dict[bytes, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    history: dict[bytes, list[tuple[bytes, int, bytes]]] = field(
        default_factory=lambda: defaultdict(list))
    pool_history: dict[bytes, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    utxos: dict[bytes, set[tuple[OutPoint, int, int | None]]] = field(
        default_factory=lambda: defaultdict(set))

    def scripts(self) -> set[bytes]:
        return set(self.chain_stats) | set(self.pool_stats)


def _sh(script: bytes) -> bytes:
    return hashlib.sha256(script).digest()


def brute_force(chain: ChainState, pool: Mempool | None) -> Expected:
    """Every index answer, recomputed from the active chain's blocks and the pool's entries."""
    exp = Expected()
    unspent: dict[OutPoint, tuple[bytes, int, int | None]] = {}
    for index in chain.active:
        block: Block = chain.read_block(index)  # type: ignore[assignment]
        for pos, tx in enumerate(block.txs):
            exp.locations[tx.txid] = TxLocation(index.hash, index.height, pos)
            touched = set()
            for vin, txin in enumerate(tx.vin if pos else ()):
                exp.spenders[txin.prevout] = Spender(tx.txid, vin, index.height)
                sh, value, _ = unspent.pop(txin.prevout)
                st = exp.chain_stats[sh]
                st[3] += 1
                st[4] += value
                touched.add(sh)
            for n, out in enumerate(tx.vout):
                if is_unspendable(out.script_pubkey):
                    continue
                sh = _sh(out.script_pubkey)
                unspent[OutPoint(tx.txid, n)] = (sh, out.value, index.height)
                exp.outputs[OutPoint(tx.txid, n)] = (sh, out.value, index.height)
                st = exp.chain_stats[sh]
                st[1] += 1
                st[2] += out.value
                touched.add(sh)
            for sh in touched:
                exp.chain_stats[sh][0] += 1
                exp.history[sh].append((tx.txid, index.height, index.hash))
    for items in exp.history.values():
        items.reverse()  # newest first: height, then position, descending
    pool_spent: set[OutPoint] = set()
    entries = list(pool.entries.values()) if pool is not None else []
    pool_outputs: dict[OutPoint, tuple[bytes, int]] = {}
    for e in entries:
        for n, out in enumerate(e.tx.vout):
            if not is_unspendable(out.script_pubkey):
                pool_outputs[OutPoint(e.txid, n)] = (_sh(out.script_pubkey), out.value)
    for e in entries:
        touched = set()
        for vin, txin in enumerate(e.tx.vin):
            exp.spenders[txin.prevout] = Spender(e.txid, vin, None)
            pool_spent.add(txin.prevout)
            found = pool_outputs.get(txin.prevout) or unspent.get(txin.prevout)
            if found is None:
                # The pool holds a transaction whose parent is neither confirmed nor pooled:
                # after a reorg the mempool does not re-link a re-added child to its re-added
                # parent (Core's UpdateTransactionsFromBlock), so evicting that parent leaves
                # the child behind. The index mirrors the pool: take the output from the
                # block that made it, as the index did when the child entered.
                found = _output_in_any_block(chain, txin.prevout)
            sh, value = found[0], found[1]
            st = exp.pool_stats[sh]
            st[3] += 1
            st[4] += value
            touched.add(sh)
        for out in e.tx.vout:
            if is_unspendable(out.script_pubkey):
                continue
            sh = _sh(out.script_pubkey)
            st = exp.pool_stats[sh]
            st[1] += 1
            st[2] += out.value
            touched.add(sh)
        for sh in touched:
            exp.pool_stats[sh][0] += 1
            exp.pool_history[sh].add(e.txid)
    for op, (sh, value, height) in unspent.items():
        if op not in pool_spent:
            exp.utxos[sh].add((op, value, height))
    for op, (sh, value) in pool_outputs.items():
        if op not in pool_spent:
            exp.utxos[sh].add((op, value, None))
    return exp


def _output_in_any_block(chain: ChainState, op: OutPoint) -> tuple[bytes, int]:
    for index in chain.index.values():
        block = chain.read_block(index)
        for tx in block.txs if block is not None else ():
            if tx.txid == op.txid:
                out = tx.vout[op.n]
                return _sh(out.script_pubkey), out.value
    raise AssertionError(f"{op} is in no block")


def _stats(v: list[int] | None) -> TxoStats:
    if v is None:
        return TxoStats()
    return TxoStats(funded_txo_count=v[1], funded_txo_sum=v[2], spent_txo_count=v[3],
                    spent_txo_sum=v[4], tx_count=v[0])


def all_history(ix: Indexes, sh: bytes, page: int) -> list[tuple[bytes, int, bytes]]:
    """The whole confirmed history of ``sh``, read page by page with ``after_txid``."""
    items: list[tuple[bytes, int, bytes]] = []
    after = None
    while True:
        got = ix.history_chain(sh, after, page)
        assert len(got) <= page
        items.extend((h.txid, h.height, h.block_hash) for h in got)
        if len(got) < page:
            return items
        after = got[-1].txid


def check_all(ix: Indexes, chain: ChainState, pool: Mempool | None, page: int = 7) -> Expected:
    """Assert every query of ``ix`` equals the brute-force answer."""
    exp = brute_force(chain, pool)
    for txid, loc in exp.locations.items():
        assert ix.tx_location(txid) == loc
    for op in exp.outputs:
        assert ix.spender(op) == exp.spenders.get(op), op
    for op, sp in exp.spenders.items():
        assert ix.spender(op) == sp
    for sh in exp.scripts() | {bytes(32)}:
        stats = ix.scripthash_stats(sh)
        assert stats == ScriptHashStats(_stats(exp.chain_stats.get(sh)),
                                        _stats(exp.pool_stats.get(sh))), sh.hex()
        assert all_history(ix, sh, page) == exp.history.get(sh, [])
        assert set(ix.history_mempool(sh, 10_000)) == exp.pool_history.get(sh, set())
        utxos = ix.utxos(sh)
        assert len(utxos) == len({u.outpoint for u in utxos})
        assert {(u.outpoint, u.value, u.height) for u in utxos} == exp.utxos.get(sh, set())
    assert ix.tx_location(bytes(32)) is None
    return exp


def dump(ix: Indexes) -> list[tuple[bytes, bytes]]:
    return list(ix.db.iterate())


def fresh_dump(tmp_path, chain: ChainState, name: str = "fresh") -> list[tuple[bytes, bytes]]:
    """The database of an index built from nothing on ``chain``'s active chain alone."""
    fresh = Indexes(tmp_path / name, chain, None)
    fresh.start()
    try:
        return dump(fresh)
    finally:
        fresh.stop()


def script_hash_of(owner: Owner) -> bytes:
    return _sh(owner.script_pubkey)


def utxo_tuple(u: Utxo) -> tuple[OutPoint, int, int | None]:
    return u.outpoint, u.value, u.height
