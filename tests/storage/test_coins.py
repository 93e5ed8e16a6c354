"""The UTXO set on disk and the cache in front of it (Core's DIRTY/FRESH semantics)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.consensus.coin import Coin
from node.consensus.hashes import hash_to_hex, sha256d
from node.consensus.primitives import OutPoint, TxOut
from node.storage.codec import encode_coin
from node.storage.coins import (
    BEST_BLOCK_KEY,
    CACHE_ENTRY_OVERHEAD,
    CoinsCache,
    CoinsDB,
    coin_key,
)
from node.storage.db import Database
from node.storage.errors import CoinsLogicError, StorageError

BLOCK_A = bytes([0xAA]) * 32
BLOCK_B = bytes([0xBB]) * 32
P2WPKH = bytes.fromhex("0014") + bytes(20)


def op(i: int, n: int = 0) -> OutPoint:
    return OutPoint(i.to_bytes(32, "big"), n)


def coin(value: int = 1000, height: int = 1, script: bytes = P2WPKH) -> Coin:
    return Coin(TxOut(value, script), height, False)


SCRIPTS = [P2WPKH, bytes.fromhex("76a914") + bytes(20) + bytes.fromhex("88ac"), b"\x51"]


@pytest.fixture
def coins_db(tmp_path):
    db = Database(tmp_path / "chainstate", recovery_hint="run `minicash-node reindex-chainstate`")
    yield CoinsDB(db)
    db.close()


def raw_keys(coins_db: CoinsDB) -> list[bytes]:
    return [k for k, _ in coins_db.db.iterate()]


def recounted_memory(cache: CoinsCache) -> int:
    """memory_usage() recomputed from the cache's entries (like Core's SelfTest): the entry
    overhead, each held coin's script, and the stored encoding of coins read from the
    database, a bytes object of its own."""
    held = [c for c in cache._coins.values() if c is not None]
    return (len(cache) * CACHE_ENTRY_OVERHEAD + sum(len(c.script_pubkey) for c in held)
            + sum(sys.getsizeof(c.stored) for c in held if c.stored is not None))


# -- CoinsDB -------------------------------------------------------------------------------------
def test_key_layout_is_prefix_txid_and_big_endian_index(coins_db):
    o = OutPoint(bytes(range(32)), 0x01020304)
    assert coin_key(o.txid, o.n) == b"C" + bytes(range(32)) + b"\x01\x02\x03\x04"
    coins_db.write_changes({o: coin(5)}, BLOCK_A, sync=False)
    assert coins_db.db.get(b"C" + o.txid + b"\x01\x02\x03\x04") == encode_coin(coin(5))
    assert coins_db.db.get(BEST_BLOCK_KEY) == BLOCK_A


def test_write_changes_puts_deletes_and_moves_the_best_block(coins_db):
    assert coins_db.best_block() is None
    coins_db.write_changes({op(1): coin(1), op(2): coin(2)}, BLOCK_A, sync=True)
    coins_db.write_changes({op(1): None, op(3): coin(3)}, BLOCK_B, sync=True)
    assert coins_db.get_coin(op(1)) is None
    assert coins_db.get_coin(op(2)) == coin(2)
    assert coins_db.have_coin(op(3)) and not coins_db.have_coin(op(1))
    assert coins_db.best_block() == BLOCK_B


def test_iter_coins_is_in_key_order_with_outputs_of_a_tx_together(coins_db):
    outpoints = [op(2, 256), op(1, 1), op(2, 1), op(1, 0), op(2, 2)]
    coins_db.write_changes({o: coin(o.n + 1) for o in outpoints}, BLOCK_A, sync=False)
    listed = [o for o, _ in coins_db.iter_coins()]
    assert listed == [op(1, 0), op(1, 1), op(2, 1), op(2, 2), op(2, 256)]


def test_write_changes_refuses_a_bad_best_block(coins_db):
    with pytest.raises(ValueError):
        coins_db.write_changes({}, b"short", sync=False)


def test_undecodable_coin_is_reported_as_corruption(coins_db):
    coins_db.db.put(coin_key(op(1).txid, 0), b"\x00\x00\x07")
    with pytest.raises(StorageError, match="is corrupted: coin .* does not decode.*reindex"):
        coins_db.get_coin(op(1))
    with pytest.raises(StorageError, match="is corrupted"):
        list(coins_db.iter_coins())


def test_stats_count_total_and_hash_definition(coins_db):
    changes = {op(2, 1): coin(7), op(1, 5): coin(30, height=9), op(1, 0): coin(5)}
    coins_db.write_changes(changes, BLOCK_A, sync=False)
    stats = coins_db.stats()
    assert (stats.count, stats.total_amount, stats.best_block) == (3, 42, BLOCK_A)
    ordered = [op(1, 0), op(1, 5), op(2, 1)]
    expected = sha256d(b"".join(o.serialize() + encode_coin(changes[o]) for o in ordered))
    assert stats.hash_serialized == hash_to_hex(expected)


def test_stats_of_an_empty_set(coins_db):
    stats = coins_db.stats()
    assert (stats.count, stats.total_amount, stats.best_block) == (0, 0, bytes(32))
    assert stats.hash_serialized == hash_to_hex(sha256d(b""))


def test_stats_hash_changes_with_content_not_with_insertion_order(tmp_path):
    entries = [(op(i, i % 3), coin(100 + i, height=i)) for i in range(20)]

    def stats_after(order, name):
        with Database(tmp_path / name) as db:
            cdb = CoinsDB(db)
            cache = CoinsCache(cdb)
            for o, c in order:
                cache.add_coin(o, c, possible_overwrite=False)
                cache.best_block = BLOCK_A
                cache.flush()
            return cdb.stats()

    forward = stats_after(entries, "a")
    backward = stats_after(entries[::-1], "b")
    assert forward == backward
    changed = stats_after(entries[:-1] + [(entries[-1][0], coin(1, height=19))], "c")
    assert changed.hash_serialized != forward.hash_serialized
    fewer = stats_after(entries[:-1], "d")
    assert fewer.hash_serialized != forward.hash_serialized


# -- CoinsCache ----------------------------------------------------------------------------------
def test_fresh_coin_added_and_spent_before_flush_never_reaches_the_db(coins_db):
    cache = CoinsCache(coins_db)
    cache.add_coin(op(1), coin(), possible_overwrite=False)
    assert cache.get_coin(op(1)) == coin()
    assert cache.spend_coin(op(1)) == coin()
    assert len(cache) == 0 and cache.dirty_count() == 0
    cache.best_block = BLOCK_A
    cache.flush()
    assert raw_keys(coins_db) == [BEST_BLOCK_KEY]


def test_spent_coin_is_deleted_on_flush(coins_db):
    coins_db.write_changes({op(1): coin(), op(2): coin(2)}, BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    assert cache.spend_coin(op(1)) == coin()
    assert cache.get_coin(op(1)) is None and not cache.have_coin(op(1))
    assert coins_db.get_coin(op(1)) == coin()  # not yet
    cache.best_block = BLOCK_B
    cache.flush()
    assert coins_db.get_coin(op(1)) is None
    assert coins_db.get_coin(op(2)) == coin(2)
    assert coins_db.best_block() == BLOCK_B


def test_spending_a_cached_clean_coin_deletes_it_on_flush(coins_db):
    coins_db.write_changes({op(1): coin()}, BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    assert cache.get_coin(op(1)) == coin()  # now cached clean
    assert cache.dirty_count() == 0 and len(cache) == 1
    assert cache.spend_coin(op(1)) == coin()
    assert cache.dirty_count() == 1
    cache.flush()
    assert coins_db.get_coin(op(1)) is None


def test_spending_what_does_not_exist_returns_none(coins_db):
    cache = CoinsCache(coins_db)
    assert cache.spend_coin(op(9)) is None
    assert len(cache) == 0


def test_flush_writes_coins_and_best_block_together_and_survives_reopening(tmp_path):
    path = tmp_path / "chainstate"
    db = Database(path)
    cache = CoinsCache(CoinsDB(db))
    for i in range(10):
        cache.add_coin(op(i), coin(i + 1), possible_overwrite=False)
    cache.spend_coin(op(3))
    cache.best_block = BLOCK_A
    cache.flush()
    assert len(cache) == 0 and cache.dirty_count() == 0 and cache.best_block == BLOCK_A
    db.close()

    with Database(path, create=False) as db:
        reopened = CoinsDB(db)
        assert reopened.best_block() == BLOCK_A
        assert [(o, c.value) for o, c in reopened.iter_coins()] == [
            (op(i), i + 1) for i in range(10) if i != 3]
        assert CoinsCache(reopened).best_block == BLOCK_A


def test_unflushed_changes_are_not_on_disk(tmp_path):
    path = tmp_path / "chainstate"
    db = Database(path)
    cache = CoinsCache(CoinsDB(db))
    cache.add_coin(op(1), coin(), possible_overwrite=False)
    cache.best_block = BLOCK_A
    cache.flush()
    cache.add_coin(op(2), coin(), possible_overwrite=False)
    cache.spend_coin(op(1))
    cache.best_block = BLOCK_B
    db.close()  # the process "dies" here: the state on disk is the last flush, whole

    with Database(path) as db:
        assert CoinsDB(db).best_block() == BLOCK_A
        assert [o for o, _ in CoinsDB(db).iter_coins()] == [op(1)]


def test_failed_flush_keeps_the_changes(coins_db):
    cache = CoinsCache(coins_db)
    cache.add_coin(op(1), coin(), possible_overwrite=False)
    cache.best_block = BLOCK_A
    coins_db.db.close()
    with pytest.raises(StorageError):
        cache.flush()
    assert cache.dirty_count() == 1 and cache.get_coin(op(1)) == coin()


def test_flush_needs_a_best_block(coins_db):
    cache = CoinsCache(coins_db)
    cache.add_coin(op(1), coin(), possible_overwrite=False)
    with pytest.raises(CoinsLogicError, match="best block"):
        cache.flush()


def test_adding_over_an_unspent_coin_needs_possible_overwrite(coins_db):
    coins_db.write_changes({op(2): coin(2)}, BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    cache.add_coin(op(1), coin(1), possible_overwrite=False)
    with pytest.raises(CoinsLogicError, match="overwrite the unspent coin"):
        cache.add_coin(op(1), coin(5), possible_overwrite=False)
    cache.get_coin(op(2))  # cached clean
    with pytest.raises(CoinsLogicError):
        cache.add_coin(op(2), coin(5), possible_overwrite=False)
    cache.add_coin(op(1), coin(5), possible_overwrite=True)
    cache.add_coin(op(2), coin(6), possible_overwrite=True)
    assert cache.get_coin(op(1)) == coin(5) and cache.get_coin(op(2)) == coin(6)


def test_overwritten_fresh_coin_stays_fresh(coins_db):
    cache = CoinsCache(coins_db)
    cache.add_coin(op(1), coin(1), possible_overwrite=False)
    cache.add_coin(op(1), coin(2), possible_overwrite=True)
    cache.spend_coin(op(1))
    assert len(cache) == 0  # Core: VALUE2_DIRTY_FRESH + spend -> MISSING


def test_readding_a_spent_coin_before_flush_is_not_fresh(coins_db):
    # A reorg: a coin in the database is spent, then re-added by the next block.
    coins_db.write_changes({op(1): coin(1)}, BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    cache.spend_coin(op(1))
    cache.add_coin(op(1), coin(2), possible_overwrite=False)
    cache.spend_coin(op(1))  # must still delete the database's copy
    cache.flush()
    assert coins_db.get_coin(op(1)) is None


def test_unspendable_outputs_are_not_added(coins_db):
    cache = CoinsCache(coins_db)
    cache.add_coin(op(1), coin(script=b"\x6a\x04abcd"), possible_overwrite=False)
    cache.add_coin(op(2), coin(script=bytes(10_001)), possible_overwrite=False)
    assert len(cache) == 0 and cache.get_coin(op(1)) is None


def test_best_block_defaults_to_the_databases(coins_db):
    coins_db.write_changes({}, BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    assert cache.best_block == BLOCK_A
    cache.best_block = BLOCK_B
    assert cache.best_block == BLOCK_B and coins_db.best_block() == BLOCK_A
    with pytest.raises(ValueError):
        cache.best_block = b"short"


def test_memory_estimate_grows_with_entries_and_script_size(coins_db):
    cache = CoinsCache(coins_db)
    assert cache.memory_usage() == 0
    sizes = []
    for i in range(50):
        cache.add_coin(op(i), coin(), possible_overwrite=False)
        sizes.append(cache.memory_usage())
    assert sizes == sorted(sizes) and sizes[0] > 0 and sizes[-1] >= 50 * sizes[0] * 0.9
    small = cache.memory_usage()
    cache.add_coin(op(100), coin(script=bytes(1000)), possible_overwrite=False)
    assert cache.memory_usage() - small > 1000
    cache.best_block = BLOCK_A
    cache.flush()
    assert cache.memory_usage() == 0


def test_memory_estimate_counts_the_stored_encoding_of_coins_read_from_the_database(coins_db):
    """A coin read from the chainstate keeps its encoding (Coin.stored, for the undo data):
    ~60 more bytes a P2WPKH coin holds, counted as it enters the cache and taken back
    exactly as it is spent, overwritten, reverted or flushed."""
    coins_db.write_changes({op(i): coin(i, script=SCRIPTS[i % 3]) for i in range(8)},
                           BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    for i in range(8):
        assert cache.get_coin(op(i)).stored is not None
    stored = sum(sys.getsizeof(encode_coin(coin(i, script=SCRIPTS[i % 3]))) for i in range(8))
    scripts = sum(len(SCRIPTS[i % 3]) for i in range(8))
    assert cache.memory_usage() == 8 * CACHE_ENTRY_OVERHEAD + scripts + stored
    assert cache.memory_usage() == recounted_memory(cache)

    cache.spend_coin(op(0))  # a clean coin spent: a None entry, no coin bytes
    cache.add_coin(op(1), coin(77), possible_overwrite=True)  # a stored coin replaced
    spent = {(op(i).txid, 0): cache.get_coin(op(i)) for i in (2, 3)}  # stored coins
    added = {(op(20).txid, 0): coin(20)}
    cache.apply_block_changes(spent, added)
    assert cache.memory_usage() == recounted_memory(cache)
    cache.revert_block_changes(spent, added)  # the stored coins come back
    assert cache.memory_usage() == recounted_memory(cache)
    cache.apply_block_changes({}, {(op(30).txid, 0): cache.get_coin(op(4))})  # bulk, stored
    assert cache.memory_usage() == recounted_memory(cache)

    cache.flush(sync=False)
    assert cache.memory_usage() == 0
    cache.get_coin(op(5))
    cache.spend_coin(op(5))
    assert cache.memory_usage() == CACHE_ENTRY_OVERHEAD == recounted_memory(cache)


# -- the cache against a model -------------------------------------------------------------------
actions = st.lists(st.tuples(st.sampled_from(["add", "add_overwrite", "spend", "get", "flush"]),
                             st.integers(0, 7), st.integers(1, 50)), max_size=40)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_cache_matches_a_plain_dict_model(steps):
    with tempfile.TemporaryDirectory() as tmp, Database(Path(tmp) / "db") as db:
        cdb = CoinsDB(db)
        cache = CoinsCache(cdb)
        cache.best_block = BLOCK_A
        model: dict[OutPoint, Coin] = {}
        for action, i, value in steps:
            o, c = op(i), coin(value, script=SCRIPTS[value % 3])
            if action == "add":
                if o in model:
                    # Core checks the cache only; the caller vouches for the database.
                    if cache.have_coin_in_cache(o):
                        with pytest.raises(CoinsLogicError):
                            cache.add_coin(o, c, possible_overwrite=False)
                else:
                    cache.add_coin(o, c, possible_overwrite=False)
                    model[o] = c
            elif action == "add_overwrite":
                cache.add_coin(o, c, possible_overwrite=True)
                model[o] = c
            elif action == "spend":
                assert cache.spend_coin(o) == model.pop(o, None)
            elif action == "get":
                assert cache.get_coin(o) == model.get(o)
            else:
                cache.flush(sync=False)
                assert dict(cdb.iter_coins()) == model
            # Like Core's SelfTest: the running memory figure matches a recount.
            assert cache.memory_usage() == recounted_memory(cache)
        cache.flush(sync=False)
        assert dict(cdb.iter_coins()) == model
        assert cdb.best_block() == BLOCK_A


def _state(cache: CoinsCache) -> tuple:
    return (dict(cache._coins), set(cache._dirty), set(cache._fresh), cache.memory_usage())


@pytest.mark.parametrize("overlap", [False, True], ids=["new-coins", "overwrite"])
def test_a_blocks_changes_in_bulk_equal_one_at_a_time(tmp_path, overlap):
    """apply_block_changes is spend_coin_key for each spent key, then add_coin_key with
    possible_overwrite for each added coin, whichever path it takes."""
    def prepared(name: str) -> CoinsCache:
        db = Database(tmp_path / name)
        coins_db = CoinsDB(db)
        coins_db.write_changes({op(i): coin(i) for i in range(4)}, BLOCK_A, sync=False)
        cache = CoinsCache(coins_db)
        cache.get_coin(op(0))  # clean in the cache
        cache.add_coin(op(10), coin(10), possible_overwrite=False)  # fresh
        cache.add_coin(op(11), coin(11), possible_overwrite=False)  # fresh, stays unspent
        return cache

    spent = [(op(i).txid, 0) for i in (0, 1, 10)]
    added = {(op(20 + i).txid, 0): coin(20 + i, script=SCRIPTS[i % 3]) for i in range(5)}
    if overlap:
        added[(op(11).txid, 0)] = coin(99)  # an unspent coin overwritten (BIP30 era)
    one_by_one, bulk = prepared("one"), prepared("bulk")
    for key in spent:
        one_by_one.spend_coin_key(key)
    for key, c in added.items():
        one_by_one.add_coin_key(key, c, True)
    bulk.apply_block_changes(spent, added)
    assert _state(bulk) == _state(one_by_one)


def test_reverting_a_blocks_changes_shows_the_coins_as_before(tmp_path):
    """A block's changes, taken back (it failed after they went in): every coin it spent is
    back, whether the cache held it clean, read it from the database on spending or had it
    fresh; its new coins are gone; a flush then writes what the untouched cache would."""
    def prepared(name: str) -> CoinsCache:
        coins_db = CoinsDB(Database(tmp_path / name))
        coins_db.write_changes({op(i): coin(i) for i in range(4)}, BLOCK_A, sync=False)
        cache = CoinsCache(coins_db)
        cache.get_coin(op(0))  # clean in the cache; op(1) stays only in the database
        cache.add_coin(op(10), coin(10), possible_overwrite=False)  # fresh
        cache.add_coin(op(11), coin(11), possible_overwrite=False)  # fresh, left alone
        return cache

    reverted, untouched = prepared("reverted"), prepared("untouched")
    spent = {(op(i).txid, 0): coin(i) for i in (0, 1, 10)}
    added = {(op(20 + i).txid, 0): coin(20 + i, script=SCRIPTS[i % 3]) for i in range(3)}
    keys = [*spent, *added, (op(2).txid, 0), (op(11).txid, 0)]
    before = {key: reverted.peek_coin(*key) for key in keys}
    reverted.apply_block_changes(spent, added)
    assert all(reverted.peek_coin(*key) is None for key in spent)
    reverted.revert_block_changes(spent, added)
    assert {key: reverted.peek_coin(*key) for key in keys} == before
    assert len(reverted) == len(untouched) + 1  # op(1), read from the database when spent
    assert reverted.memory_usage() == recounted_memory(reverted)
    reverted.flush(sync=False)
    untouched.flush(sync=False)
    assert dict(reverted.base.iter_coins()) == dict(untouched.base.iter_coins())


def test_changes_are_revertible_unless_a_new_coin_replaces_a_cache_entry(coins_db):
    """revert_block_changes only forgets the new coins: exact unless one replaced what the
    cache held (a coin, or a spent marker whose deletion has not reached the database),
    which includes a coin the block spends (it read the coin, so the cache holds it). A
    coin only in the database comes back by itself."""
    coins_db.write_changes({op(i): coin(i) for i in range(4)}, BLOCK_A, sync=False)
    cache = CoinsCache(coins_db)
    key = (op(0).txid, 0)
    assert cache.revertible({key: coin(50)})  # only in the database
    cache.apply_block_changes({}, {key: coin(50)}, revertible=True)
    cache.revert_block_changes({}, {key: coin(50)})
    assert cache.peek_coin(*key) == coin(0)  # the stored coin shows again

    cache.get_coin(op(1))  # read to be spent, so cached
    assert not cache.revertible({(op(1).txid, 0): coin(51)})  # spent and re-created
    cache.get_coin(op(2))
    assert not cache.revertible({(op(2).txid, 0): coin(52)})  # a cached coin
    cache.spend_coin(op(3))  # a spent marker, its deletion not yet written
    assert not cache.revertible({(op(3).txid, 0): coin(53)})
