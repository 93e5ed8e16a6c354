"""The LevelDB wrapper: reads, writes, atomic batches, and plyvel's errors translated."""

from __future__ import annotations

import pytest

from node.storage.db import Database
from node.storage.errors import StorageError

HINT = "run `minicash-node reindex-chainstate`"


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "db", recovery_hint=HINT) as d:
        yield d


def test_put_get_delete(db):
    assert db.get(b"k") is None
    db.put(b"k", b"v")
    assert db.get(b"k") == b"v"
    db.delete(b"k")
    assert db.get(b"k") is None


def test_iterate_yields_only_the_prefix_in_key_order(db):
    for key in (b"b2", b"a1", b"b1", b"c1", b"b10"):
        db.put(key, key.upper())
    assert list(db.iterate(b"b")) == [(b"b1", b"B1"), (b"b10", b"B10"), (b"b2", b"B2")]
    assert [k for k, _ in db.iterate()] == [b"a1", b"b1", b"b10", b"b2", b"c1"]


def test_batch_is_written_on_exit(db):
    db.put(b"gone", b"x")
    with db.batch() as b:
        b.put(b"a", b"1")
        b.delete(b"gone")
        assert db.get(b"a") is None  # nothing happens before the block ends
    assert db.get(b"a") == b"1" and db.get(b"gone") is None


def test_batch_is_discarded_on_exception(db):
    with pytest.raises(RuntimeError), db.batch() as b:
        b.put(b"a", b"1")
        raise RuntimeError("boom")
    assert db.get(b"a") is None


def test_explicit_batch_written_with_sync(db):
    b = db.new_batch()
    b.put(b"x", b"1")
    b.put(b"y", b"2")
    db.write(b, sync=True)
    assert db.get(b"x") == b"1" and db.get(b"y") == b"2"


def test_data_survives_reopening(tmp_path):
    with Database(tmp_path / "db") as d:
        d.put(b"k", b"v")
    with Database(tmp_path / "db", create=False) as d:
        assert d.get(b"k") == b"v"


def test_snapshot_does_not_see_later_writes(db):
    db.put(b"k", b"old")
    with db.snapshot() as snap:
        db.put(b"k", b"new")
        db.put(b"k2", b"x")
        assert snap.get(b"k") == b"old"
        assert list(snap.iterate(b"k")) == [(b"k", b"old")]


def test_missing_database_without_create_names_the_recovery(tmp_path):
    with pytest.raises(StorageError) as err:
        Database(tmp_path / "nope", create=False, recovery_hint=HINT)
    assert str(err.value) == f"there is no database at {tmp_path / 'nope'}; to recover, {HINT}"


def test_corrupted_database_names_the_recovery(tmp_path):
    Database(tmp_path / "db").close()
    (tmp_path / "db" / "CURRENT").write_text("MANIFEST-999999\n")
    with pytest.raises(StorageError) as err:
        Database(tmp_path / "db", recovery_hint=HINT)
    msg = str(err.value)
    assert msg.startswith(f"the database at {tmp_path / 'db'} is corrupted (Corruption: ")
    assert msg.endswith(f"; to recover, {HINT}")


def test_unopenable_path_is_a_storage_error(tmp_path):
    (tmp_path / "file").write_bytes(b"not a directory")
    with pytest.raises(StorageError, match="cannot open the database"):
        Database(tmp_path / "file" / "db", recovery_hint=HINT)


def test_database_open_twice_is_a_storage_error(db):
    with pytest.raises(StorageError, match="cannot open the database"):
        Database(db.path)


def test_use_after_close_is_a_storage_error(tmp_path):
    d = Database(tmp_path / "db")
    b = d.new_batch()
    d.close()
    d.close()  # idempotent
    assert d.closed
    for call in (lambda: d.get(b"k"), lambda: d.put(b"k", b"v"), lambda: d.delete(b"k"),
                 lambda: list(d.iterate()), lambda: d.write(b), d.new_batch, d.snapshot):
        with pytest.raises(StorageError, match="is closed"):
            call()


def test_corruption_found_while_reading_names_the_recovery(tmp_path):
    path = tmp_path / "db"
    with Database(path) as d:
        for i in range(2000):
            d.put(b"k%05d" % i, bytes([i % 251]) * 100)
    Database(path).close()  # reopening moves the write log into a table file
    (table,) = path.glob("*.ldb")
    data = bytearray(table.read_bytes())
    data[100:200] = bytes(b ^ 0xFF for b in data[100:200])
    table.write_bytes(bytes(data))
    with Database(path, recovery_hint=HINT) as d:
        for read in (lambda: d.get(b"k00001"), lambda: list(d.iterate(b"k"))):
            with pytest.raises(StorageError, match=r"is corrupted \(Corruption: .*; to recover, run"):
                read()


def test_tables_are_written_as_cores_are_with_a_bloom_filter_and_no_compression(tmp_path):
    # Core's dbwrapper options. Reopening turns the write-ahead log into a table.
    values = 1000 * 200
    with Database(tmp_path / "db") as d:
        with d.batch() as b:
            for i in range(1000):
                b.put(b"c%08d" % i, bytes(200))  # snappy would shrink these to almost nothing
    with Database(tmp_path / "db", create=False) as d:
        assert d.get(b"c00000999") == bytes(200)
    tables = list((tmp_path / "db").glob("*.ldb"))
    assert tables
    assert sum(t.stat().st_size for t in tables) > values
    assert all(b"filter.leveldb.BuiltinBloomFilter2" in t.read_bytes() for t in tables)
