"""The chain state: connecting blocks, maturity, reorgs, invalid branches, orphans, restarts."""

from __future__ import annotations

import pytest

from node.chain.chainstate import ChainState
from node.consensus.errors import ValidationError
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, TxOut
from node.storage.blocks import BlockStore

from .builder import BlockMaker, mine_to_maturity


@pytest.fixture
def chain(tmp_path):
    with ChainState(REGTEST, tmp_path / "node") as c:
        yield c


def mine(chain: ChainState, maker: BlockMaker, n: int, prev=None):
    """Mine ``n`` blocks on ``prev`` (default: the tip); returns the blocks."""
    blocks = []
    prev = prev or chain.tip
    for _ in range(n):
        block = maker.block(prev)
        prev = chain.process_block(block)
        blocks.append(block)
    return blocks


def utxo_stats(chain: ChainState):
    chain.flush()
    return chain._coins_db.stats()


def test_fresh_datadir_starts_at_regtest_genesis(chain):
    assert chain.height == 0
    assert chain.tip.hash == REGTEST.genesis.hash
    assert utxo_stats(chain).count == 0  # the genesis coinbase is not spendable, as in Core


def test_mined_blocks_extend_the_chain_and_the_utxo_set(chain):
    maker = BlockMaker()
    blocks = mine(chain, maker, 5)
    assert chain.height == 5
    assert chain.tip.hash == blocks[-1].hash
    stats = utxo_stats(chain)
    assert stats.count == 5
    assert stats.total_amount == 5 * REGTEST.block_subsidy(1)


def test_spend_of_mature_coinbase_pays_fee_to_miner(chain):
    maker = BlockMaker()
    first = mine(chain, maker, 101)[0]
    coinbase = first.txs[0]
    value = coinbase.vout[0].value
    fee = 1_000
    tx = maker.wallet.spend([(OutPoint(coinbase.txid, 0), value)],
                            [TxOut(value - fee, maker.wallet.script_pubkey)])
    block = maker.block(chain.tip, [tx], fees=fee)
    chain.process_block(block)
    assert chain.tip.hash == block.hash
    assert chain.get_coin(OutPoint(coinbase.txid, 0)) is None
    assert chain.get_coin(OutPoint(tx.txid, 0)).value == value - fee


def test_rejects_coinbase_spend_before_maturity_and_keeps_utxo_set(chain):
    maker = BlockMaker()
    first = mine(chain, maker, 99)[0]
    before = utxo_stats(chain)
    coinbase = first.txs[0]
    value = coinbase.vout[0].value
    tx = maker.wallet.spend([(OutPoint(coinbase.txid, 0), value)],
                            [TxOut(value - 1000, maker.wallet.script_pubkey)])
    with pytest.raises(ValidationError) as e:
        chain.process_block(maker.block(chain.tip, [tx], fees=1000))
    assert e.value.reason == "bad-txns-premature-spend-of-coinbase"
    assert chain.height == 99
    assert utxo_stats(chain) == before


def test_rejects_coinbase_paying_more_than_subsidy_plus_fees(chain):
    maker = BlockMaker()
    with pytest.raises(ValidationError) as e:
        chain.process_block(maker.block(chain.tip, reward=REGTEST.block_subsidy(1) + 1))
    assert e.value.reason == "bad-cb-amount"
    assert chain.height == 0


@pytest.mark.parametrize("depth", [1, 2, 5, 10])
def test_reorg_to_longer_branch_matches_a_chain_built_from_scratch(tmp_path, depth):
    maker = BlockMaker()
    with ChainState(REGTEST, tmp_path / "a") as chain:
        common = mine(chain, maker, 3)
        fork_point = chain.tip
        mine(chain, maker, depth)  # branch A
        branch_b = mine(chain, maker, depth + 1, prev=fork_point)
        assert chain.tip.hash == branch_b[-1].hash
        reorged = utxo_stats(chain)
    with ChainState(REGTEST, tmp_path / "b") as fresh:
        for block in common + branch_b:
            fresh.process_block(block)
        assert utxo_stats(fresh).hash_serialized == reorged.hash_serialized
        assert fresh.tip.hash == branch_b[-1].hash


def test_equal_work_branch_does_not_replace_the_first_seen_tip(chain):
    maker = BlockMaker()
    fork_point = chain.tip
    a = mine(chain, maker, 2)
    mine(chain, maker, 2, prev=fork_point)
    assert chain.tip.hash == a[-1].hash


def test_reorg_onto_branch_with_invalid_block_falls_back_to_best_valid(chain):
    maker = BlockMaker()
    mine(chain, maker, 2)
    fork_point = chain.tip
    a = mine(chain, maker, 2)
    before = utxo_stats(chain)
    # Branch B: a valid block, a block paying too much, and one more on top, so that B has
    # more work than A only with the invalid block in it.
    b1 = maker.block(fork_point)
    chain.process_block(b1)
    bad = maker.block(chain.index[b1.hash], reward=REGTEST.block_subsidy(4) + 1)
    chain.process_block(bad)  # as much work as A: stored, not connected, not yet judged
    assert chain.tip.hash == a[-1].hash
    b3 = maker.block(chain.index[bad.hash])
    with pytest.raises(ValidationError, match="bad-prevblk"):
        chain.process_block(b3)
    assert chain.invalid_reasons[bad.hash] == "bad-cb-amount"
    assert chain.index[bad.hash].is_failed() and chain.index[b3.hash].is_failed()
    assert chain.tip.hash == a[-1].hash
    assert utxo_stats(chain) == before
    # A block built on the invalid one is refused at once.
    with pytest.raises(ValidationError, match="bad-prevblk"):
        chain.process_block(maker.block(chain.index[b3.hash]))


def test_orphan_block_connects_when_its_parent_arrives(chain):
    maker = BlockMaker()
    parent = maker.block(chain.tip)
    from node.chain.index import BlockIndex
    parent_index = BlockIndex(parent.header, 1, chain.tip)
    child = maker.block(parent_index)
    assert chain.process_block(child) is None
    assert chain.orphan_count() == 1
    chain.process_block(parent)
    assert chain.height == 2
    assert chain.tip.hash == child.hash
    assert chain.orphan_count() == 0


def test_restart_keeps_tip_and_utxo_set(tmp_path):
    maker = BlockMaker()
    with ChainState(REGTEST, tmp_path / "n") as chain:
        mine(chain, maker, 20)
        tip, stats = chain.tip.hash, utxo_stats(chain)
    with ChainState(REGTEST, tmp_path / "n") as chain:
        assert chain.tip.hash == tip
        assert chain.height == 20
        assert utxo_stats(chain) == stats


def test_unflushed_blocks_are_replayed_after_a_crash(tmp_path):
    from node.storage import close_datadir

    maker = BlockMaker()
    chain = ChainState(REGTEST, tmp_path / "n", flush_interval_blocks=10_000)
    mine(chain, maker, 10)
    chain.flush()
    fork_point = chain.tip
    mine(chain, maker, 3)  # connected after the flush, then abandoned by a reorg
    branch = mine(chain, maker, 5, prev=fork_point)
    # "Crash": release the datadir without flushing the UTXO cache.
    close_datadir(chain._lock, chain.blocks, chain._coins_db)
    with ChainState(REGTEST, tmp_path / "n") as recovered:
        assert recovered.tip.hash == branch[-1].hash
        recovered_stats = utxo_stats(recovered)
    with ChainState(REGTEST, tmp_path / "fresh") as fresh:
        for index in recovered_chain_blocks(tmp_path / "n", branch[-1].hash):
            fresh.process_block(index)
        assert utxo_stats(fresh).hash_serialized == recovered_stats.hash_serialized


def recovered_chain_blocks(datadir, tip_hash):
    with ChainState(REGTEST, datadir) as chain:
        return [chain.read_block(chain.active[h]) for h in range(1, chain.height + 1)]


def test_a_flush_syncs_the_block_store_before_the_coins(chain, monkeypatch):
    """Block-store writes are not synced one by one: a power cut must not keep a chainstate
    whose best block, undo data or index record the store lost."""
    from node.storage.db import Database

    writes = []
    real_write = Database.write

    def write(db, batch, sync=False):
        writes.append(("blocks" if db is chain.blocks.db else "coins", sync))
        real_write(db, batch, sync)

    monkeypatch.setattr(Database, "write", write)
    mine(chain, BlockMaker(), 2)
    writes.clear()
    chain.flush()
    assert writes == [("blocks", True), ("coins", True)]


@pytest.mark.parametrize("step", ["connect", "disconnect"])
def test_a_tip_change_cut_short_is_not_flushed(tmp_path, monkeypatch, step):
    """A Ctrl-C (or a bug) after a block changed the UTXO cache but before its best block
    did: flushing would store coins that match no block. The chain state refuses to flush,
    closing keeps the last flush, and the next start replays from it."""
    maker = BlockMaker()
    chain = ChainState(REGTEST, tmp_path / "n")
    coinbase = mine_to_maturity(chain, maker)
    value = coinbase.vout[0].value
    spend = maker.wallet.spend([(OutPoint(coinbase.txid, 0), value)],
                               [TxOut(value - 1_000, maker.wallet.script_pubkey)])
    block = maker.block(chain.tip, [spend], fees=1_000)
    if step == "disconnect":
        chain.process_block(block)
        rival = maker.block(chain.tip.prev)  # a branch that outgrows the block: a reorg
    chain.flush()

    real_set_marker, calls = BlockStore.set_marker, []

    def interrupt_once(store, *args):
        calls.append(args)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real_set_marker(store, *args)

    # The tip marker is written after the cache changed, before its best block does.
    monkeypatch.setattr(BlockStore, "set_marker", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        if step == "connect":
            chain.process_block(block)
        else:
            chain.process_block(rival)
            chain.process_block(maker.block(chain.index[rival.hash]))
    with pytest.raises(RuntimeError, match="interrupted half-way"):
        chain.flush()
    # Nor does it go on: on coins that match no block, the next could be found invalid.
    failed_before = {h for h, i in chain.index.items() if i.is_failed()}
    with pytest.raises(RuntimeError, match="interrupted half-way"):
        chain.process_block(maker.block(chain.tip))
    assert {h for h, i in chain.index.items() if i.is_failed()} == failed_before
    chain.close()

    with ChainState(REGTEST, tmp_path / "n") as recovered:
        tip, stats = recovered.tip.hash, utxo_stats(recovered)
    with ChainState(REGTEST, tmp_path / "fresh") as fresh:
        for b in recovered_chain_blocks(tmp_path / "n", tip):
            fresh.process_block(b)
        assert utxo_stats(fresh) == stats


def test_second_process_on_the_same_datadir_is_refused(tmp_path):
    from node.storage.errors import StorageError

    with ChainState(REGTEST, tmp_path / "n"):
        with pytest.raises(StorageError, match="datadir is in use by process"):
            ChainState(REGTEST, tmp_path / "n")


class Recorder:
    def __init__(self):
        self.events = []

    def block_connected(self, block, index):
        self.events.append(("connected", index.height, block.hash))

    def block_disconnected(self, block, index):
        self.events.append(("disconnected", index.height, block.hash))


def test_listeners_hear_connects_and_a_reorg_in_order(chain):
    maker = BlockMaker()
    recorder = Recorder()
    chain.listeners.append(recorder)
    fork_point = chain.tip
    a = mine(chain, maker, 2)
    b = mine(chain, maker, 3, prev=fork_point)
    assert recorder.events == [
        ("connected", 1, a[0].hash), ("connected", 2, a[1].hash),
        # The reorg: the old branch leaves tip first, then the new one connects in order.
        ("disconnected", 2, a[1].hash), ("disconnected", 1, a[0].hash),
        ("connected", 1, b[0].hash), ("connected", 2, b[1].hash), ("connected", 3, b[2].hash),
    ]


def test_headers_first_then_blocks_in_any_order(chain):
    maker = BlockMaker()
    from node.chain.index import BlockIndex
    blocks, prev = [], chain.tip
    for _ in range(4):
        block = maker.block(prev)
        blocks.append(block)
        prev = BlockIndex(block.header, prev.height + 1, prev)
    indexes = chain.process_headers([b.header for b in blocks])
    assert [i.height for i in indexes] == [1, 2, 3, 4]
    assert chain.height == 0  # headers alone connect nothing
    for block in reversed(blocks):  # data arrives last-first
        chain.process_block(block)
    assert chain.height == 4 and chain.tip.hash == blocks[-1].hash
