"""The block store and the datadir: layout, atomic batches, opening and closing."""

from __future__ import annotations

import shutil

import pytest

from node.consensus.coin import Coin
from node.consensus.primitives import OutPoint, TxOut
from node.storage import (
    BlockStore,
    CoinsCache,
    Database,
    DatadirInUse,
    StorageError,
    close_datadir,
    open_datadir,
)

H1 = bytes([1]) * 32
H2 = bytes([2]) * 32


@pytest.fixture
def store(tmp_path):
    with Database(tmp_path / "blocks") as db:
        yield BlockStore(db)


def test_blocks_and_undo_data_are_stored_by_hash(store):
    assert store.get_block(H1) is None and not store.has_block(H1)
    store.put_block(H1, b"block one")
    store.put_undo(H1, b"undo one")
    assert store.get_block(H1) == b"block one" and store.has_block(H1)
    assert store.get_undo(H1) == b"undo one"
    assert store.get_block(H2) is None and store.get_undo(H2) is None
    store.delete_undo(H1)
    store.delete_block(H1)
    assert store.get_undo(H1) is None and not store.has_block(H1)


def test_key_layout(store):
    store.put_index_records({H1: b"rec"})
    store.put_block(H1, b"raw")
    store.put_undo(H1, b"undo")
    store.set_marker("tip", H1)
    assert dict(store.db.iterate()) == {
        b"b" + H1: b"rec", b"d" + H1: b"raw", b"u" + H1: b"undo", b"mtip": H1}


def test_index_records_iterate_by_hash_and_only_themselves(store):
    store.put_index_records({H2: b"two", H1: b"one"})
    store.put_block(H1, b"raw")
    store.set_marker("tip", H2)
    assert list(store.iter_index_records()) == [(H1, b"one"), (H2, b"two")]


def test_markers(store):
    assert store.get_marker("tip") is None
    store.set_marker("tip", H1)
    store.set_marker("tip", H2)
    assert store.get_marker("tip") == H2
    store.delete_marker("tip")
    assert store.get_marker("tip") is None


def test_block_index_and_marker_written_in_one_batch(store):
    with store.batch(sync=True) as b:
        store.put_block(H1, b"raw", batch=b)
        store.put_undo(H1, b"undo", batch=b)
        store.put_index_records({H1: b"rec"}, batch=b)
        store.set_marker("tip", H1, batch=b)
        assert store.get_marker("tip") is None and not store.has_block(H1)
    assert store.get_marker("tip") == H1 and store.has_block(H1)
    assert list(store.iter_index_records()) == [(H1, b"rec")]


def test_failed_batch_leaves_nothing(store):
    with pytest.raises(KeyError), store.batch() as b:
        store.put_block(H1, b"raw", batch=b)
        store.set_marker("tip", H1, batch=b)
        raise KeyError("validation failed halfway")
    assert not store.has_block(H1) and store.get_marker("tip") is None


def test_explicit_batch_and_write(store):
    b = store.new_batch()
    store.delete_marker("tip", batch=b)
    store.set_marker("tip", H2, batch=b)
    store.write(b, sync=False)
    assert store.get_marker("tip") == H2


# -- datadir -------------------------------------------------------------------------------------
def test_open_datadir_creates_the_layout_and_reopens_with_the_data(tmp_path):
    datadir = tmp_path / "regtest"
    lock, blocks, coins = open_datadir(datadir)
    try:
        assert (datadir / ".lock").is_file()
        assert (datadir / "blocks" / "CURRENT").is_file()
        assert (datadir / "chainstate" / "CURRENT").is_file()
        blocks.put_block(H1, b"raw")
        cache = CoinsCache(coins)
        cache.add_coin(OutPoint(H1, 0), Coin(TxOut(5, b"\x51"), 1, True), False)
        cache.best_block = H1
        cache.flush()
    finally:
        close_datadir(lock, blocks, coins)
    assert not lock.held and blocks.db.closed and coins.db.closed

    lock, blocks, coins = open_datadir(datadir)
    try:
        assert blocks.get_block(H1) == b"raw"
        assert coins.best_block() == H1
        assert coins.get_coin(OutPoint(H1, 0)) == Coin(TxOut(5, b"\x51"), 1, True)
    finally:
        close_datadir(lock, blocks, coins)


def test_open_datadir_twice_is_refused_by_the_lock(tmp_path):
    opened = open_datadir(tmp_path)
    try:
        with pytest.raises(DatadirInUse):
            open_datadir(tmp_path)
    finally:
        close_datadir(*opened)


def test_corrupted_chainstate_names_reindex_and_leaves_nothing_open(tmp_path):
    close_datadir(*open_datadir(tmp_path))
    (tmp_path / "chainstate" / "CURRENT").write_text("garbage")
    with pytest.raises(StorageError, match="to recover, run `minicash-node reindex-chainstate`"):
        open_datadir(tmp_path)
    # Neither the lock nor the block store stayed open: with the chainstate rebuilt (here:
    # removed), the datadir opens again in this same process.
    shutil.rmtree(tmp_path / "chainstate")
    lock, blocks, coins = open_datadir(tmp_path)
    assert coins.best_block() is None
    close_datadir(lock, blocks, coins)
