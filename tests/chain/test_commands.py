"""minicash-node import, utxo-stats and reindex-chainstate on real datadirs."""

from __future__ import annotations

import os
import random
import signal
import struct

import pytest
from click.testing import CliRunner

from node.chain.chainstate import ChainState
from node.chain.importer import import_files
from node.cli import main
from node.consensus.hashes import hash_to_hex
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, TxOut
from node.storage.blocks import BlockStore

from .builder import BlockMaker


def build_chain(datadir, n_blocks: int = 120):
    """A regtest chain with spends from block 102 on; returns its blocks in order."""
    maker = BlockMaker()
    blocks = []
    with ChainState(REGTEST, datadir) as chain:
        for _ in range(n_blocks):
            txs = []
            if chain.height >= 101:
                cb = blocks[chain.height - 101].txs[0]
                value = cb.vout[0].value
                txs.append(maker.wallet.spend(
                    [(OutPoint(cb.txid, 0), value)],
                    [TxOut(value // 2, maker.wallet.script_pubkey),
                     TxOut(value // 2 - 500, maker.wallet.script_pubkey)]))
            block = maker.block(chain.tip, txs, fees=500 * len(txs))
            chain.process_block(block)
            blocks.append(block)
    return blocks


def write_blk(path, blocks, magic=REGTEST.magic):
    with path.open("wb") as f:
        for block in blocks:
            raw = block.serialize()
            f.write(magic + struct.pack("<I", len(raw)) + raw)
        f.write(bytes(1000))  # Core pre-allocates block files with zeros


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def stats_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.split()[0] in ("utxos", "hash", "height")]


def test_import_out_of_order_blocks_reaches_the_same_state(tmp_path):
    blocks = build_chain(tmp_path / "source")
    shuffled = blocks[:]
    random.Random(7).shuffle(shuffled)
    write_blk(tmp_path / "blk00000.dat", shuffled)

    result = cli("import", str(tmp_path / "blk00000.dat"), "--datadir", str(tmp_path / "dest"))
    assert result.exit_code == 0, result.output
    assert f"height {len(blocks)}" in result.output
    assert f"tip {hash_to_hex(blocks[-1].hash)}" in result.output

    source = cli("utxo-stats", "--datadir", str(tmp_path / "source"))
    dest = cli("utxo-stats", "--datadir", str(tmp_path / "dest"))
    assert stats_lines(source.output) == stats_lines(dest.output)

    # Running it again skips what is stored (this is how an interrupted import resumes).
    again = cli("import", str(tmp_path / "blk00000.dat"), "--datadir", str(tmp_path / "dest"))
    assert f"imported 0 blocks ({len(blocks)} already stored" in again.output


def test_import_reports_an_invalid_block_and_goes_on(tmp_path):
    blocks = build_chain(tmp_path / "source", 10)
    maker = BlockMaker()
    with ChainState(REGTEST, tmp_path / "scratch") as chain:
        for block in blocks[:5]:
            chain.process_block(block)
        # A sibling of block 6 that pays itself too much.
        bad = maker.block(chain.tip, reward=REGTEST.block_subsidy(6) + 1)
    write_blk(tmp_path / "blk.dat", blocks[:5] + [bad] + blocks[5:])
    result = cli("import", str(tmp_path / "blk.dat"), "--datadir", str(tmp_path / "dest"))
    assert result.exit_code == 0
    assert f"invalid block {hash_to_hex(bad.hash)}: bad-cb-amount" in result.output
    assert "height 10" in result.output


@pytest.fixture
def ctrl_c(monkeypatch):
    """Ctrl-C as at a terminal: SIGINT to this process, with Python's own handler (a test
    runner's worker may have set another) restored afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield lambda: os.kill(os.getpid(), signal.SIGINT)
    signal.signal(signal.SIGINT, previous)


def _press_on_call(monkeypatch, target, name, call: int, press, times: int = 1):
    """Press Ctrl-C ``times`` times as the ``call``-th call of ``target.name`` returns."""
    real, calls = getattr(target, name), []

    def pressing(*args):
        result = real(*args)
        calls.append(args)
        if len(calls) == call:
            for _ in range(times):
                press()
        return result

    monkeypatch.setattr(target, name, pressing)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_an_import_that_resumes_to_the_same_state(tmp_path, monkeypatch, ctrl_c,
                                                               presses):
    """One Ctrl-C: the block at hand is finished and flushed. Two, the second landing in a
    block's connect after its coins changed: that block is cut short and not flushed, and
    the next start replays. Either way the UTXO set is whole and the import resumes."""
    blocks = build_chain(tmp_path / "source", 110)
    write_blk(tmp_path / "blk.dat", blocks)
    dest = str(tmp_path / "dest")
    # Block 105 spends a coin (its coins must change for a cut short connect to matter).
    if presses == 1:  # as block 105 is connected
        _press_on_call(monkeypatch, ChainState, "process_raw_block", 105, ctrl_c)
        stopped_at = 105
    else:  # both in block 105's connect, as its tip marker is set (the first call: genesis)
        _press_on_call(monkeypatch, BlockStore, "set_marker", 106, ctrl_c, times=2)
        stopped_at = 104
    result = CliRunner().invoke(main, ["import", str(tmp_path / "blk.dat"), "--datadir", dest])
    assert result.exit_code == 130, result.output
    assert f"interrupted at height {stopped_at}; run the same command again" in result.output
    monkeypatch.undo()

    # Block 105 is stored either way: the next start connects it if it was cut short.
    stats = cli("utxo-stats", "--datadir", dest)
    assert "height       105" in stats.output
    cli("reindex-chainstate", "--datadir", dest)
    assert stats_lines(cli("utxo-stats", "--datadir", dest).output) == stats_lines(stats.output)
    again = cli("import", str(tmp_path / "blk.dat"), "--datadir", dest)
    assert "height 110" in again.output
    source = cli("utxo-stats", "--datadir", str(tmp_path / "source"))
    assert stats_lines(cli("utxo-stats", "--datadir", dest).output) == \
        stats_lines(source.output)


def test_a_stop_is_heeded_among_the_waiting_blocks_one_record_brings_in(tmp_path):
    """Blocks in reverse order all wait for the last record, which brings in the rest: the
    stop request is asked between them too, not only between records."""
    blocks = build_chain(tmp_path / "source", 30)
    write_blk(tmp_path / "blk.dat", blocks[::-1])
    asked = []

    def stop_requested() -> bool:
        asked.append(None)
        # Asked once per record (the 30th, block 1, is imported), then before each block
        # of its queue: blocks 2 to 11 come in before the 41st ask stops the import.
        return len(asked) > 40

    with ChainState(REGTEST, tmp_path / "dest") as chain:
        stats = import_files(chain, [tmp_path / "blk.dat"], stop_requested=stop_requested)
        assert stats.stopped
        assert chain.height == 11


def test_a_stopped_import_still_reports_the_invalid_blocks_it_found(tmp_path, monkeypatch,
                                                                    ctrl_c):
    """A rerun skips the invalid block (it is stored): the stopped run is the one to say."""
    blocks = build_chain(tmp_path / "source", 10)
    with ChainState(REGTEST, tmp_path / "scratch") as chain:
        for block in blocks[:5]:
            chain.process_block(block)
        bad = BlockMaker().block(chain.tip, reward=REGTEST.block_subsidy(6) + 1)
    write_blk(tmp_path / "blk.dat", blocks[:5] + [bad] + blocks[5:])
    _press_on_call(monkeypatch, ChainState, "process_raw_block", 8, ctrl_c)
    result = CliRunner().invoke(main, ["import", str(tmp_path / "blk.dat"),
                                       "--datadir", str(tmp_path / "dest")])
    assert result.exit_code == 130, result.output
    assert f"invalid block {hash_to_hex(bad.hash)}: bad-cb-amount" in result.output
    assert "interrupted at height 8" in result.output


def test_an_import_started_with_ctrl_c_ignored_ignores_it(tmp_path, monkeypatch):
    """As a background job of a script (`import ... &`): SIGINT stays ignored."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        blocks = build_chain(tmp_path / "source", 10)
        write_blk(tmp_path / "blk.dat", blocks)
        _press_on_call(monkeypatch, ChainState, "process_raw_block", 3,
                       lambda: os.kill(os.getpid(), signal.SIGINT))
        result = cli("import", str(tmp_path / "blk.dat"), "--datadir", str(tmp_path / "dest"))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 0, result.output
    assert "height 10" in result.output


def test_reindex_chainstate_rebuilds_the_same_utxo_set(tmp_path):
    build_chain(tmp_path / "n", 110)
    before = cli("utxo-stats", "--datadir", str(tmp_path / "n"))
    result = cli("reindex-chainstate", "--datadir", str(tmp_path / "n"))
    assert result.exit_code == 0, result.output
    assert "reindexed to height 110" in result.output
    after = cli("utxo-stats", "--datadir", str(tmp_path / "n"))
    assert stats_lines(before.output) == stats_lines(after.output)


def test_datadir_in_use_is_one_line_not_a_traceback(tmp_path):
    with ChainState(REGTEST, tmp_path / "n"):
        result = CliRunner().invoke(main, ["utxo-stats", "--datadir", str(tmp_path / "n")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: datadir is in use by process")
    assert "Traceback" not in result.output


def test_opening_another_networks_datadir_is_refused(tmp_path):
    with ChainState(REGTEST, tmp_path / "n"):
        pass
    result = CliRunner().invoke(main, ["utxo-stats", "--network", "devnet",
                                       "--datadir", str(tmp_path / "n")])
    assert result.exit_code == 1
    assert "another network" in result.output


@pytest.mark.parametrize("network", ["main", "test"])
def test_import_reads_other_networks_magic(tmp_path, network):
    from node.consensus.params import get_params

    params = get_params(network)
    write_blk(tmp_path / "blk.dat", [params.genesis], magic=params.magic)
    result = cli("import", str(tmp_path / "blk.dat"), "--network", network,
                 "--datadir", str(tmp_path / "n"))
    assert result.exit_code == 0, result.output
    assert "imported 0 blocks (1 already stored" in result.output
    assert f"tip {params.genesis_hash_hex}" in result.output


def test_corrupted_chainstate_names_the_recovery_command_which_works(tmp_path):
    build_chain(tmp_path / "n", 30)
    before = cli("utxo-stats", "--datadir", str(tmp_path / "n"))
    for f in (tmp_path / "n" / "chainstate").iterdir():
        if f.suffix in (".ldb", ".log") and f.stat().st_size:
            data = bytearray(f.read_bytes())
            for i in range(10, len(data), 50):
                data[i] ^= 0xFF
            f.write_bytes(bytes(data))
    broken = CliRunner().invoke(main, ["utxo-stats", "--datadir", str(tmp_path / "n")])
    assert broken.exit_code == 1
    assert "corrupted" in broken.output
    assert "minicash-node reindex-chainstate" in broken.output
    assert "Traceback" not in broken.output
    # Following the advice restores the same state from the stored blocks.
    assert cli("reindex-chainstate", "--datadir", str(tmp_path / "n")).exit_code == 0
    after = cli("utxo-stats", "--datadir", str(tmp_path / "n"))
    assert stats_lines(after.output) == stats_lines(before.output)
