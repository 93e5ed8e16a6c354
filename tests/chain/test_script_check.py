"""Script checks with deferred signatures and helper processes (node.chain.script_check,
node.chain.verify_pool): the verdicts are exactly those of checking every input for real."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import weakref
from array import array
from dataclasses import replace

import pytest

from node.chain import chainstate, connect, script_check, verify_pool
from node.chain.chainstate import ChainState
from node.chain.script_check import BATCH_RECORDS, FIRST_BATCH_RECORDS
from node.chain.verify_pool import LIMIT, NO_LIMIT, STARTED, VerifyPool, encode_batch, verify_batch
from node.consensus import crypto
from node.consensus.address import p2pkh_script
from node.consensus.errors import DecodeError, ValidationError
from node.consensus.hashes import sha256
from node.consensus.params import REGTEST
from node.consensus.primitives import NULL_OUTPOINT, Block, OutPoint, Tx, TxIn, TxOut
from node.consensus.script.sighash import SIGHASH_ALL, legacy_sighash, segwit_v0_sighash
from node.mining.blocktools import solve
from tests.node_process import ROOT
from tests.p2p.framework import wait_until

from .builder import BlockMaker, assemble_block, mine_to_maturity

SPENDS = 80  # enough signature checks for several batches, so the helper takes some


@pytest.fixture
def funded(tmp_path, request):
    """A chain (two workers unless parametrized) with a mature coinbase fanned out into
    SPENDS outputs."""
    workers = getattr(request, "param", 2)
    with ChainState(REGTEST, tmp_path / "node", script_workers=workers) as chain:
        maker = BlockMaker()
        coinbase = mine_to_maturity(chain, maker)
        value = coinbase.vout[0].value
        share = (value - 10_000) // SPENDS
        fan = maker.wallet.spend([(OutPoint(coinbase.txid, 0), value)],
                                 [TxOut(share, maker.wallet.script_pubkey)] * SPENDS)
        chain.process_block(maker.block(chain.tip, [fan], fees=10_000))
        yield chain, maker, fan


def _spends(maker: BlockMaker, fan: Tx) -> list[Tx]:
    share = fan.vout[0].value
    return [maker.wallet.spend([(OutPoint(fan.txid, i), share)],
                               [TxOut(share - 1_000, maker.wallet.script_pubkey)])
            for i in range(SPENDS)]


def _break_signature(tx: Tx) -> Tx:
    txin = tx.vin[0]
    sig = bytearray(txin.witness[0])
    sig[10] ^= 1
    return Tx(tx.version, (TxIn(txin.prevout, b"", txin.sequence, (bytes(sig), txin.witness[1])),),
              tx.vout, tx.locktime)


def test_a_block_of_many_spends_connects_with_the_helper(funded):
    chain, maker, fan = funded
    block = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(block).hash == block.hash
    assert chain.script_checker._pool.running  # the helper was started and used


@pytest.mark.parametrize("funded", [1, 2], indirect=True, ids=["inline", "helper"])
@pytest.mark.parametrize("bad_positions", [[3], [70], [20, 60]])
def test_a_bad_signature_anywhere_rejects_the_block_naming_the_first(funded, bad_positions,
                                                                     caplog):
    chain, maker, fan = funded
    txs = _spends(maker, fan)
    for pos in bad_positions:
        txs[pos] = _break_signature(txs[pos])
    block = maker.block(chain.tip, txs, fees=SPENDS * 1_000)
    tip, stats = chain.tip, chain.utxo_stats()
    with pytest.raises(ValidationError) as err:
        chain.process_block(block)
    assert err.value.reason == ("mandatory-script-verify-flag-failed (Script evaluated without "
                                "error but finished with a false/empty top stack element)")
    # The log names the first failing input (the exception carries Core's reason only).
    assert f"input 0 of {txs[bad_positions[0]].txid[::-1].hex()}" in caplog.text
    for pos in bad_positions[1:]:
        assert txs[pos].txid[::-1].hex() not in caplog.text
    assert chain.tip is tip and chain.utxo_stats() == stats
    # The helpers are left idle and in step: the next valid block connects.
    good = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(good).hash == good.hash


@pytest.mark.parametrize("funded", [1, 2], indirect=True, ids=["inline", "helper"])
def test_a_block_failing_its_signatures_takes_its_coin_changes_back(funded, monkeypatch):
    """A block's coin changes go into the cache while the last signatures are verified; a
    failure then takes them back: the coins it spent (fresh in the cache here: created
    since the last flush) are there again, its own are not, and another block spends them."""
    chain, maker, fan = funded
    reverted = []
    revert = connect.BlockView.revert
    monkeypatch.setattr(connect.BlockView, "revert",
                        lambda view, spent: (reverted.append(view), revert(view, spent)))
    txs = _spends(maker, fan)
    txs[-1] = _break_signature(txs[-1])
    spent = [OutPoint(fan.txid, i) for i in range(SPENDS)]
    before = [chain.get_coin(o) for o in spent]
    assert all(before)
    with pytest.raises(ValidationError, match="mandatory-script-verify-flag-failed"):
        chain.process_block(maker.block(chain.tip, txs, fees=SPENDS * 1_000))
    assert len(reverted) == 1
    assert [chain.get_coin(o) for o in spent] == before
    assert all(chain.get_coin(OutPoint(tx.txid, 0)) is None for tx in txs)
    good = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(good).hash == good.hash


@pytest.mark.parametrize("raw", [False, True], ids=["object", "bytes"])
def test_a_failing_block_gives_back_the_coins_it_spent_not_those_it_made(funded, raw):
    """The spent coins are freed before the last signatures are in, and rebuilt from the
    undo data for the revert: a coin the block made and spent again was never in the
    cache, and must not come back either."""
    chain, maker, fan = funded
    txs = _spends(maker, fan)
    made = txs[5].vout[0]
    child = maker.wallet.spend([(OutPoint(txs[5].txid, 0), made.value)],
                               [TxOut(made.value - 1_000, maker.wallet.script_pubkey)])
    txs.insert(6, child)
    txs[-1] = _break_signature(txs[-1])
    block = maker.block(chain.tip, txs, fees=(SPENDS + 1) * 1_000)
    spent = [OutPoint(fan.txid, i) for i in range(SPENDS)]
    before = [chain.get_coin(o) for o in spent]
    tip, stats = chain.tip, chain.utxo_stats()
    with pytest.raises(ValidationError, match="mandatory-script-verify-flag-failed"):
        if raw:
            chain.process_raw_block(block.serialize())
        else:
            chain.process_block(block)
    assert [chain.get_coin(o) for o in spent] == before
    assert all(chain.get_coin(OutPoint(tx.txid, 0)) is None for tx in txs)
    assert chain.tip is tip and chain.utxo_stats() == stats
    good = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(good).hash == good.hash


def test_changes_that_could_not_be_reverted_wait_for_the_signatures(funded, monkeypatch):
    """Where a block's new coins would replace cache entries (a duplicate transaction), a
    revert could not restore them: its checks must pass before its changes go in."""
    chain, maker, fan = funded
    calls = []
    monkeypatch.setattr(connect.BlockView, "revertible", lambda view: False)
    for name in ("commit", "revert"):
        method = getattr(connect.BlockView, name)
        monkeypatch.setattr(connect.BlockView, name, lambda view, *a, name=name, method=method, **kw: (
            calls.append(name), method(view, *a, **kw)))
    txs = _spends(maker, fan)
    txs[-1] = _break_signature(txs[-1])
    spent = [OutPoint(fan.txid, i) for i in range(SPENDS)]
    before = [chain.get_coin(o) for o in spent]
    with pytest.raises(ValidationError, match="mandatory-script-verify-flag-failed"):
        chain.process_block(maker.block(chain.tip, txs, fees=SPENDS * 1_000))
    assert calls == []  # neither committed nor reverted
    assert [chain.get_coin(o) for o in spent] == before
    good = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(good).hash == good.hash
    assert calls == ["commit"]


def _spend_p2pkh(maker: BlockMaker, prev: Tx, break_signature: bool = False) -> Tx:
    """A legacy spend of ``prev``'s output 0 (paid to the maker's wallet's P2PKH script): no witness, so the
    block holding it needs no witness commitment in its coinbase."""
    out = prev.vout[0]
    unsigned = Tx(1, (TxIn(OutPoint(prev.txid, 0)),),
                  (TxOut(out.value - 1_000, p2pkh_script(maker.wallet.key_hash)),), 0)
    digest = legacy_sighash(out.script_pubkey, unsigned, 0, SIGHASH_ALL)
    sig = bytearray(crypto.sign(maker.wallet.secret, digest) + bytes((SIGHASH_ALL,)))
    if break_signature:
        sig[10] ^= 1
    script_sig = bytes((len(sig),)) + sig + bytes((len(maker.wallet.pubkey),)) + \
        maker.wallet.pubkey
    return Tx(1, (TxIn(unsigned.vin[0].prevout, script_sig),), unsigned.vout, 0)


@pytest.mark.parametrize("workers", [1, 2], ids=["inline", "helper"])
def test_a_duplicate_coinbase_failing_its_signatures_leaves_the_old_coin_spent(tmp_path,
                                                                               workers):
    """Before BIP34, BIP30 lets a transaction repeat once the earlier one's outputs are
    spent. Spent since the last flush, such an output is a spent marker in the cache over
    the coin in the database: the duplicate's new coin would replace the marker, and a
    revert would drop it and show the database's coin again. So the block's changes must
    wait for its signatures, and a block that fails them leaves the old coin spent."""
    params = replace(REGTEST, bip34_height=10**6)
    with ChainState(params, tmp_path / "node", script_workers=workers) as chain:
        maker = BlockMaker(params)
        payee = p2pkh_script(maker.wallet.key_hash)
        # No height in the script (BIP34 is not active): the coinbase can be repeated.
        duplicate = Tx(1, (TxIn(NULL_OUTPOINT, b"\x02\xab\xcd"),),
                       (TxOut(params.block_subsidy(1), payee),), 0)
        chain.process_block(assemble_block(chain.tip, [duplicate], params=params))
        funding = maker.block(chain.tip, coinbase_script=payee)
        chain.process_block(funding)
        for _ in range(100):
            chain.process_block(maker.block(chain.tip, coinbase_script=payee))
        chain.flush()
        old = OutPoint(duplicate.txid, 0)
        chain.process_block(maker.block(chain.tip, [_spend_p2pkh(maker, duplicate)],
                                        fees=1_000, coinbase_script=payee))
        assert chain.get_coin(old) is None
        assert chain.coins.base.get_coin(old) is not None  # the spend is not flushed
        bad = _spend_p2pkh(maker, funding.txs[0], break_signature=True)
        tip = chain.tip
        with pytest.raises(ValidationError, match="mandatory-script-verify-flag-failed"):
            chain.process_block(assemble_block(tip, [duplicate, bad], params=params))
        assert chain.tip is tip
        assert chain.get_coin(old) is None
        chain.flush()
        assert chain.coins.base.get_coin(old) is None


def _p2wsh_not_checksig(maker: BlockMaker) -> bytes:
    """<pubkey> CHECKSIG NOT: spendable only with a signature that fails (no NULLFAIL in
    consensus), which an optimistic check first gets wrong."""
    return b"\x21" + maker.wallet.pubkey + b"\xac\x91"


def _spend_p2wsh(prev: Tx, n: int, script: bytes, sig: bytes) -> Tx:
    value = prev.vout[n].value
    return Tx(2, (TxIn(OutPoint(prev.txid, n), b"", 0xFFFFFFFE, (sig, script)),),
              (TxOut(value - 1_000, b"\x00\x14" + bytes(20)),))


def _signature(maker: BlockMaker, tx: Tx, script: bytes, amount: int) -> bytes:
    digest = segwit_v0_sighash(script, tx, 0, SIGHASH_ALL, amount)
    return crypto.sign(maker.wallet.secret, digest) + bytes((SIGHASH_ALL,))


@pytest.mark.parametrize("funded", [1, 2], indirect=True, ids=["inline", "helper"])
@pytest.mark.parametrize("valid_signature", [False, True])
def test_a_script_that_wants_a_failing_signature_gets_the_real_verdict(funded, valid_signature,
                                                                      monkeypatch):
    chain, maker, fan = funded
    # Its input is a suspect from the start: its coins are kept when the others' are freed,
    # so a valid block's verdict never needs the block's undo data decoded.
    decoded = []
    decode = chainstate.decode_block_undo
    monkeypatch.setattr(chainstate, "decode_block_undo",
                        lambda data: (decoded.append(data), decode(data))[1])
    script = _p2wsh_not_checksig(maker)
    share = fan.vout[0].value
    to_script = maker.wallet.spend([(OutPoint(fan.txid, 0), share)],
                                   [TxOut(share - 1_000, b"\x00\x20" + sha256(script))])
    chain.process_block(maker.block(chain.tip, [to_script], fees=1_000))
    amount = to_script.vout[0].value
    unsigned = _spend_p2wsh(to_script, 0, script, b"")
    good_sig = _signature(maker, unsigned, script, amount)
    sig = good_sig if valid_signature else good_sig[:10] + bytes((good_sig[10] ^ 1,)) + \
        good_sig[11:]
    spend = _spend_p2wsh(to_script, 0, script, sig)
    # Put it among many ordinary spends so the checks are deferred to the helper.
    txs = _spends(maker, fan)[1:] + [spend]
    block = maker.block(chain.tip, txs, fees=len(txs) * 1_000)
    if valid_signature:
        with pytest.raises(ValidationError, match="false/empty top stack"):
            chain.process_block(block)
    else:
        assert chain.process_block(block).hash == block.hash
        assert decoded == []  # (an invalid block decodes them for its revert)


def test_a_killed_helper_costs_nothing_but_time(funded):
    chain, maker, fan = funded
    chain.script_checker.start()
    pool = chain.script_checker._pool
    for pid in pool.pids():
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(h.proc.is_alive() for h in pool._helpers))
    txs = _spends(maker, fan)
    txs[50] = _break_signature(txs[50])
    with pytest.raises(ValidationError, match="mandatory-script-verify-flag-failed"):
        chain.process_block(maker.block(chain.tip, txs, fees=SPENDS * 1_000))
    good = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(good).hash == good.hash


_POOL_OWNER = """
import sys, time
from node.chain.verify_pool import VerifyPool
if __name__ == "__main__":
    pool = VerifyPool(1)
    pool.start()
    print(pool.pids()[0], flush=True)
    time.sleep(60)
"""


def test_helpers_do_not_outlive_a_killed_node(tmp_path):
    """A node killed with SIGKILL cannot stop its helpers: each finds its pipe closed."""
    script = tmp_path / "owner.py"
    script.write_text(_POOL_OWNER)
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    try:
        helper = int(owner.stdout.readline())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)

        def gone() -> bool:
            try:
                with open(f"/proc/{helper}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, not reaped
            except FileNotFoundError:
                return True
        wait_until(gone, timeout=10, what="the orphaned helper to exit")
    finally:
        owner.kill()
        owner.wait()


@pytest.mark.parametrize("funded", [1, 2], indirect=True, ids=["inline", "helper"])
def test_verified_lists_only_transactions_whose_inputs_all_pass(funded):
    chain, maker, fan = funded
    txs = _spends(maker, fan)
    bad = {5, 41, 77}
    for pos in bad:
        txs[pos] = _break_signature(txs[pos])
    coins = [[chain.get_coin(tx.vin[0].prevout)] for tx in txs]
    checks = [(pos + 1, tx, c) for pos, (tx, c) in enumerate(zip(txs, coins, strict=True))]
    passed = chain.script_checker.verified(checks, 0x1 | 0x800)  # P2SH | WITNESS
    assert set(passed) == {tx.wtxid for pos, tx in enumerate(txs) if pos not in bad}


def test_helper_records_round_trip():
    secret = sha256(b"pool key")
    pubkey = crypto.pubkey_from_secret(secret)
    digests = [sha256(bytes([i])) for i in range(5)]
    records = [(pubkey, crypto.sign(secret, d), d) for d in digests]
    records[2] = (pubkey, records[2][1], sha256(b"something else"))
    records[4] = (pubkey[:32] + b"\x00", records[4][1], digests[4])  # not a key
    shared, failed = [NO_LIMIT, -1], array("q")
    left = verify_batch(encode_batch(70, records), crypto.get_backend().verify, shared, failed)
    assert left == NO_LIMIT and list(failed) == [72, 74] and shared[STARTED] == 74


def test_a_helper_stops_at_the_limit_read_before_each_record():
    """The caller lowers the limit while the helper verifies record 72: it finishes that
    one and the next, and leaves the rest (its numbers, from the first skipped)."""
    records, _ = _signed_records(8, bad=(1, 6))
    shared, failed = [NO_LIMIT, -1], array("q")
    verify = crypto.get_backend().verify
    seen = []

    def verify_and_steal(pubkey: bytes, sig: bytes, digest: bytes) -> bool:
        seen.append(shared[STARTED])
        if shared[STARTED] == 72:
            shared[LIMIT] = 74
        return verify(pubkey, sig, digest)

    assert verify_batch(encode_batch(70, records), verify_and_steal, shared, failed) == 74
    assert seen == [70, 71, 72, 73] and list(failed) == [71]
    assert verify_batch(encode_batch(78, records), verify, shared, failed) == 78  # all skipped


def _pool_is_free(chain: ChainState) -> bool:
    lock = chain.script_checker._pool_lock
    if not lock.acquire(blocking=False):
        return False
    lock.release()
    return True


def test_a_session_that_finds_the_helper_busy_verifies_inline(funded):
    chain, maker, fan = funded
    checker = chain.script_checker
    txs = _spends(maker, fan)
    txs[30] = _break_signature(txs[30])
    coins = [[chain.get_coin(tx.vin[0].prevout)] for tx in txs]
    flags = 0x1 | 0x800  # P2SH | WITNESS
    first = checker.session(flags)
    for pos, (tx, c) in enumerate(zip(txs, coins, strict=True), 1):
        first.add(pos, tx, c)
    assert first._pool is not None  # it holds the helper
    second = checker.session(flags)
    for pos, (tx, c) in enumerate(zip(txs, coins, strict=True), 1):
        second.add(pos, tx, c)
    assert second._pool is None  # it did its checks itself
    for session in (second, first):
        with pytest.raises(ValidationError):
            session.wait()
    assert _pool_is_free(chain)  # given back


def _interrupt(*args):
    raise KeyboardInterrupt


def _refuse(*args):
    return False


@pytest.mark.parametrize("patches", [
    [(chainstate, "encode_block_undo", _interrupt)],
    # With the helpers' queues full, the caller verifies what is left itself.
    [(VerifyPool, "submit", _refuse), (script_check, "failed_tags", _interrupt)],
], ids=["before the wait", "while the caller verifies its share"])
def test_a_block_cut_short_lets_the_helpers_go(funded, monkeypatch, patches):
    """A Ctrl-C (or an unexpected error) while the helpers verify a block: the session
    gives them back, with no report left behind for the next session to take as its own."""
    chain, maker, fan = funded
    txs = _spends(maker, fan)
    coins = [[chain.get_coin(tx.vin[0].prevout)] for tx in txs]
    with monkeypatch.context() as m:
        for target, name, value in patches:
            m.setattr(target, name, value)
        with pytest.raises(KeyboardInterrupt):
            chain.process_block(maker.block(chain.tip, txs, fees=SPENDS * 1_000))
    assert _pool_is_free(chain)
    # The chain state connects no more blocks now (a restart replays); the next session
    # (here a block's preverification) has the helpers, and only its own verdicts.
    txs[41] = _break_signature(txs[41])
    checks = [(pos + 1, tx, c) for pos, (tx, c) in enumerate(zip(txs, coins, strict=True))]
    passed = chain.script_checker.verified(checks, 0x1 | 0x800)  # P2SH | WITNESS
    assert set(passed) == {tx.wtxid for pos, tx in enumerate(txs) if pos != 41}
    assert chain.script_checker._pool.running


def test_a_preverification_cut_short_lets_the_helpers_go(funded, monkeypatch):
    """An exception out of a session's adds once it holds the helpers (the preverifying
    thread's verified()) must not keep them from every later session."""
    chain, maker, fan = funded
    txs = _spends(maker, fan)
    checks = [(pos + 1, tx, [chain.get_coin(tx.vin[0].prevout)]) for pos, tx in enumerate(txs)]
    real, calls = script_check.defer_input, []

    def interrupt_late(*args):
        calls.append(None)
        if len(calls) == 70:  # batches went to the helpers before
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(script_check, "defer_input", interrupt_late)
    with pytest.raises(KeyboardInterrupt):
        chain.script_checker.verified(checks, 0x1 | 0x800)  # P2SH | WITNESS
    assert len(calls) == 70
    assert _pool_is_free(chain)


def test_helpers_that_cannot_start_leave_the_checks_to_the_chains_thread(funded, monkeypatch,
                                                                          caplog):
    """No process to be had (EMFILE, EAGAIN): blocks are still checked, on one core, and the
    next session may try the helpers again."""
    chain, maker, fan = funded
    chain.script_checker.stop()

    def cannot_start(pool):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(verify_pool.VerifyPool, "start", cannot_start)
    txs = _spends(maker, fan)
    bad = maker.block(chain.tip, [*txs[:70], _break_signature(txs[70]), *txs[71:]],
                      fees=SPENDS * 1_000)
    with caplog.at_level(logging.WARNING, logger="node.chain.script_check"):
        with pytest.raises(ValidationError, match="mandatory-script-verify-flag-failed"):
            chain.process_block(bad)
    assert "signature helpers did not start (" in caplog.text
    assert _pool_is_free(chain)
    good = maker.block(chain.tip, txs, fees=SPENDS * 1_000)
    assert chain.process_block(good).hash == good.hash
    assert not chain.script_checker._pool.running


@pytest.mark.parametrize("valid", [True, False])
def test_garbage_collection_resumes_after_a_block(funded, valid):
    chain, maker, fan = funded
    txs = _spends(maker, fan)
    if not valid:
        txs[10] = _break_signature(txs[10])
    block = maker.block(chain.tip, txs, fees=SPENDS * 1_000)
    assert gc.isenabled()
    if valid:
        chain.process_block(block)
    else:
        with pytest.raises(ValidationError):
            chain.process_block(block)
    assert gc.isenabled()


def test_the_collector_never_walks_a_raw_blocks_transactions(funded):
    """From bytes, the block's objects are freed before the collector resumes: a collection
    during or just after the call finds none of its transactions (each would cost ~5 ms a
    2,000-transaction block, for nothing: they are not garbage until the block is done)."""
    chain, maker, fan = funded
    raw = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000).serialize()
    live_txs = []

    def count(phase, info):
        if phase == "start":
            live_txs.append(sum(type(o) is Tx for o in gc.get_objects(info["generation"])))

    gc.collect()
    threshold = gc.get_threshold()
    gc.set_threshold(10)  # collect at every chance
    gc.callbacks.append(count)
    try:
        chain.process_raw_block(raw)
        gc.collect(0)
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    assert live_txs and not any(live_txs)


def test_what_outlives_a_big_block_is_not_walked_by_a_young_collection(funded):
    """A big block's survivors (its coins in the cache) go to the oldest generation when the
    collector resumes, so no collection follows the block at once (it would walk them all)."""
    chain, maker, fan = funded
    share = fan.vout[0].value
    outputs = 3_000  # ~5 objects each that outlive the block: above YOUNG_WALK_LIMIT
    many = maker.wallet.spend([(OutPoint(fan.txid, 0), share)],
                              [TxOut((share - 10_000) // outputs,
                                     maker.wallet.script_pubkey)] * outputs)
    raw = maker.block(chain.tip, [many], fees=share - (share - 10_000) // outputs * outputs)
    raw = raw.serialize()
    started = []

    def note(phase, info):
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(note)
    try:
        chain.process_raw_block(raw)
        garbage = [[] for _ in range(50)]  # allocations, far below the collector's threshold
    finally:
        gc.callbacks.remove(note)
    assert garbage and started == []


def test_after_a_small_block_young_garbage_is_collected_as_usual(funded):
    """After a block of a few transactions the collector resumes with its usual young
    collections: cyclic garbage made before the block is still young, and found by one."""
    chain, maker, fan = funded
    block = maker.block(chain.tip, _spends(maker, fan)[:5], fees=5 * 1_000)

    class Cycle:
        pass

    cycle = Cycle()
    cycle.me = cycle
    gone = weakref.ref(cycle)
    del cycle
    assert chain.process_raw_block(block.serialize()).hash == block.hash
    gc.collect(1)  # the young generations only
    assert gone() is None


def test_a_sessions_first_batches_are_small(funded):
    """The helpers get work after a few transactions, not after a full batch's worth."""
    chain, maker, fan = funded
    chain.script_checker.start()
    pool = chain.script_checker._pool
    sizes = []
    submit = pool.submit

    def spy(records, tags):
        sent = submit(records, tags)
        if sent:
            sizes.append(len(records))
        return sent

    pool.submit = spy
    block = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_block(block).hash == block.hash
    doubling = [FIRST_BATCH_RECORDS]
    while doubling[-1] < BATCH_RECORDS:
        doubling.append(min(2 * doubling[-1], BATCH_RECORDS))
    assert len(doubling) > 2 and sizes[:len(doubling)] == doubling


# -- a new tip connected as it is parsed (node.chain.preverify.ConnectAhead) -------------------
def _sessions(chain: ChainState) -> list:
    """Record every session the chain's checker opens."""
    opened = []
    original = chain.script_checker.session

    def spy(flags):
        session = original(flags)
        opened.append(session)
        return session

    chain.script_checker.session = spy
    return opened


@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw"])
def test_a_new_tip_is_connected_before_its_other_checks(funded, raw, monkeypatch):
    chain, maker, fan = funded
    # A fan-out and its children in one block: the children's coins come from the block.
    share = fan.vout[0].value
    inner = maker.wallet.spend([(OutPoint(fan.txid, 0), share)],
                               [TxOut((share - 1_000) // SPENDS, maker.wallet.script_pubkey)] *
                               SPENDS)
    kids = [maker.wallet.spend([(OutPoint(inner.txid, i), inner.vout[i].value)],
                               [TxOut(inner.vout[i].value - 100, maker.wallet.script_pubkey)])
            for i in range(SPENDS)]
    block = maker.block(chain.tip, [inner, *kids, *_spends(maker, fan)[1:]],
                        fees=1_000 + SPENDS * 100 + (SPENDS - 1) * 1_000)
    opened = _sessions(chain)
    connected = []  # (position, whether CheckBlock had run)
    checked = []
    check_block = chainstate.check_block
    monkeypatch.setattr(chainstate, "check_block",
                        lambda *a: (checked.append(True), check_block(*a)))
    add = connect.TxConnector.add
    monkeypatch.setattr(connect.TxConnector, "add",
                        lambda c, pos, tx: (connected.append((pos, bool(checked))),
                                            add(c, pos, tx)))
    index = chain.process_raw_block(block.serialize()) if raw else chain.process_block(block)
    assert index.hash == block.hash == chain.tip.hash
    # Each transaction was connected once, all before CheckBlock, into the one session the
    # connection waited for.
    assert connected == [(pos, False) for pos in range(len(block.txs))]
    assert len(opened) == 1
    assert set(opened[0]._txs) == set(range(1, len(block.txs)))
    assert chain.script_checker._pool.running and _pool_is_free(chain)
    assert [chain.get_coin(OutPoint(tx.txid, 0)) is not None for tx in block.txs[1:]] == \
        [False] + [True] * (len(block.txs) - 2)  # inner's outputs are spent in the block


def _double_spend(maker: BlockMaker, fan: Tx) -> list[Tx]:
    txs = _spends(maker, fan)
    share = fan.vout[0].value
    txs.append(maker.wallet.spend([(OutPoint(fan.txid, 0), share)],
                                  [TxOut(share - 2_000, maker.wallet.script_pubkey)]))
    return txs


@pytest.mark.parametrize("failure", ["bad-txnmrklroot", "bad-txns-inputs-missingorspent",
                                     "truncated"])
def test_checks_started_ahead_are_dropped_when_the_block_fails_otherwise(funded, failure):
    chain, maker, fan = funded
    tip, stats = chain.tip, chain.utxo_stats()
    if failure == "bad-txns-inputs-missingorspent":
        block = maker.block(chain.tip, _double_spend(maker, fan), fees=SPENDS * 1_000 + 2_000)
    else:
        block = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    raw = block.serialize()
    if failure == "bad-txnmrklroot":
        header = replace(block.header, merkle_root=bytes(32))
        raw = solve(Block(header, block.txs), REGTEST).serialize()
    elif failure == "truncated":
        raw = raw[:-10]
    opened = _sessions(chain)
    with pytest.raises((ValidationError, DecodeError)) as err:
        chain.process_raw_block(raw)
    if failure != "truncated":
        assert err.value.reason == failure
    assert opened and opened[0]._pool is None  # the ahead session was started, then dropped
    assert _pool_is_free(chain)
    assert chain.tip is tip and chain.utxo_stats() == stats
    good = maker.block(chain.tip, _spends(maker, fan), fees=SPENDS * 1_000)
    assert chain.process_raw_block(good.serialize()).hash == good.hash


@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw"])
def test_a_failure_found_connecting_ahead_comes_after_checkblocks(funded, raw):
    """The connection ahead of CheckBlock finds the double spend first, but Core checks
    the whole block before connecting it: CheckBlock's reason is the verdict."""
    chain, maker, fan = funded
    tip, stats = chain.tip, chain.utxo_stats()
    block = maker.block(chain.tip, _double_spend(maker, fan), fees=SPENDS * 1_000 + 2_000)
    mangled = solve(Block(replace(block.header, merkle_root=bytes(32)), block.txs), REGTEST)
    with pytest.raises(ValidationError) as err:
        if raw:
            chain.process_raw_block(mangled.serialize())
        else:
            chain.process_block(mangled)
    assert err.value.reason == "bad-txnmrklroot"
    assert chain.tip is tip and chain.utxo_stats() == stats and _pool_is_free(chain)
    with pytest.raises(ValidationError) as err:  # the block as mined: the double spend
        chain.process_block(block)
    assert err.value.reason == "bad-txns-inputs-missingorspent"


def _signed_records(count: int, bad: tuple[int, ...] = ()) -> tuple[list, list]:
    """``count`` records tagged (i, 0); those at ``bad`` sign another digest than they carry."""
    secret = sha256(b"pool records")
    pubkey = crypto.pubkey_from_secret(secret)
    records, tags = [], []
    for i in range(count):
        digest = sha256(i.to_bytes(4, "little"))
        signed = sha256(b"not this") if i in bad else digest
        records.append((pubkey, crypto.sign(secret, signed), digest))
        tags.append((i, 0))
    return records, tags


@pytest.fixture
def one_helper():
    pool = VerifyPool(1)
    pool.start()
    yield pool
    pool.stop()


def _submit_all(pool: VerifyPool, records: list, tags: list) -> None:
    for start in range(0, len(records), 32):
        assert pool.submit(records[start:start + 32], tags[start:start + 32])


def test_the_caller_takes_back_what_a_helper_has_not_started(one_helper, monkeypatch):
    """The helper is stopped, as if at record 40 of 128: the caller verifies 41 to 127
    itself, newest first, and the helper, resumed once the caller waits for its report,
    verifies up to 40 and skips the rest; the failures found on both sides count."""
    records, tags = _signed_records(4 * 32, bad=(5, 100))
    pool = one_helper
    pid = pool.pids()[0]
    os.kill(pid, signal.SIGSTOP)
    try:
        _submit_all(pool, records, tags)
        pool._helpers[0].shared[STARTED] = 40
        report = pool._report

        def resume_then_report(helper):
            os.kill(pid, signal.SIGCONT)
            return report(helper)

        monkeypatch.setattr(pool, "_report", resume_then_report)
        failed = pool.collect()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert sorted(failed) == [(5, 0), (100, 0)]
    assert pool.taken_back == 128 - 41
    assert pool._helpers[0].shared[LIMIT] == NO_LIMIT
    # The next session is the helper's again, numbered on from 128.
    monkeypatch.undo()
    helper = pool._helpers[0]
    assert pool.submit(records[:32], tags[:32])
    wait_until(lambda: helper.shared[STARTED] == 128 + 31, what="the helper to take the batch")
    assert pool.collect() == [(5, 0)] and pool.taken_back == 128 - 41


def test_records_are_dropped_once_the_helper_is_past_them(one_helper):
    records, tags = _signed_records(3 * 32)
    pool = one_helper
    pid = pool.pids()[0]
    os.kill(pid, signal.SIGSTOP)
    try:
        helper = pool._helpers[0]
        _submit_all(pool, records[:64], tags[:64])
        helper.shared[STARTED] = 40  # past the first batch, not the second
        assert pool.submit(records[64:], tags[64:])
        assert [b.records is None for b in helper.batches] == [True, False, False]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert pool.collect() == []


def test_the_verdicts_a_dying_helper_took_with_it_are_named_for_a_real_check(one_helper):
    """A helper killed mid-session: the records it still had are verified here, and the
    records already dropped (it was past them) come back as suspects, failed or not."""
    records, tags = _signed_records(3 * 32, bad=(3, 50, 90))
    pool = one_helper
    pid = pool.pids()[0]
    os.kill(pid, signal.SIGSTOP)
    helper = pool._helpers[0]
    _submit_all(pool, records[:64], tags[:64])
    helper.shared[STARTED] = 40
    assert pool.submit(records[64:], tags[64:])
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not helper.proc.is_alive(), what="the helper to die")
    failed = pool.collect()
    assert sorted(failed) == sorted(tags[:32] + [(50, 0), (90, 0)])
    assert not pool.running


def test_cancelled_work_leaves_the_helpers_taking_new_batches(one_helper):
    records, tags = _signed_records(64, bad=(40,))
    pool = one_helper
    _submit_all(pool, records, tags)
    pool.cancel()
    helper = pool._helpers[0]
    assert helper.shared[LIMIT] == NO_LIMIT
    # The helper verifies the next batches itself (the caller takes none back).
    _submit_all(pool, records, tags)
    wait_until(lambda: helper.shared[STARTED] == 127, what="the helper to take the batches")
    assert pool.collect() == [(40, 0)] and pool.taken_back == 0


def test_a_batch_without_records_or_with_a_tag_short_is_refused(one_helper):
    """Eight bytes of a number alone end a helper's session: an empty batch would make it
    report early, and its later failures be lost. A tag short would name the wrong inputs."""
    records, tags = _signed_records(2)
    pool = one_helper
    for bad in (([], []), (records, tags[:1])):
        with pytest.raises(ValueError, match="a batch needs records, one tag each"):
            pool.submit(*bad)
    assert pool._helpers[0].sent == 0
    _submit_all(pool, records, tags)
    assert pool.collect() == []


def test_records_a_helper_skipped_unasked_are_verified_by_the_caller(one_helper):
    records, tags = _signed_records(32, bad=(7,))
    pool = one_helper
    helper = pool._helpers[0]
    # As if a stale limit were left: the helper skips the batch, and the caller, seeing it
    # as started, takes nothing back.
    helper.shared[LIMIT], helper.shared[STARTED] = 0, 31
    assert pool.submit(records, tags)
    assert pool.collect() == [(7, 0)] and pool.taken_back == 0
    assert helper.shared[LIMIT] == NO_LIMIT


def test_a_session_interrupted_while_collecting_leaves_no_stale_report(one_helper, monkeypatch):
    """Ctrl-C while the caller verifies its share: the helpers' reports would be read by the
    next session as its own, so the pool stops them, and the next session starts anew."""
    records, tags = _signed_records(4 * 32, bad=(3,))
    pool = one_helper
    pid = pool.pids()[0]
    os.kill(pid, signal.SIGSTOP)  # so the caller has records to take back
    _submit_all(pool, records, tags)

    def interrupted(records, tags):
        os.kill(pid, signal.SIGCONT)
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_pool, "failed_tags", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pool.collect()
    assert not pool.running
    monkeypatch.undo()
    pool.start()
    assert pool.pids() != [pid]
    _submit_all(pool, records, tags)
    assert pool.collect() == [(3, 0)]
