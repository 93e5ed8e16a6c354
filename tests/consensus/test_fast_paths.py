"""The hot paths written for the common templates give exactly the general code's verdicts.

verify_script takes a shortcut for P2WPKH, defer_input a shorter one for P2WPKH spends that
pass, and tx_sigop_cost one for P2WPKH inputs; here every mutation of a valid spend, under
several flag sets, must end the same way (same error, or success, and the same deferred
checks) on the shortcut and on the general path.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.consensus import crypto
from node.consensus.hashes import hash160
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.errors import ScriptErr, ScriptError
from node.consensus.script.flags import Flag
from node.consensus.script.interpreter import (
    DeferringSignatureChecker,
    TxSignatureChecker,
    _verify_script,
    defer_input,
    verify_script,
)
from node.consensus.script.sighash import (
    SIGHASH_ALL,
    SIGHASH_ANYONECANPAY,
    SIGHASH_NONE,
    PrecomputedTxData,
    p2wpkh_sighash_all,
    segwit_v0_sighash,
)
from node.consensus.script.sigops import (
    legacy_sigop_count,
    tx_p2sh_sigop_count,
    tx_sigop_cost,
    witness_sigop_count,
)
from node.consensus.serialize import ByteReader

SECRET = hashlib.sha256(b"fast path key").digest()
PUBKEY = crypto.pubkey_from_secret(SECRET)
AMOUNT = 50_000
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

FLAG_SETS = [
    Flag.P2SH | Flag.WITNESS,
    Flag.P2SH | Flag.WITNESS | Flag.NULLFAIL,
    Flag.P2SH | Flag.WITNESS | Flag.DERSIG,
    Flag.P2SH | Flag.WITNESS | Flag.DERSIG | Flag.NULLFAIL | Flag.LOW_S | Flag.STRICTENC
    | Flag.WITNESS_PUBKEYTYPE | Flag.CLEANSTACK,
]


def _spend(program: bytes) -> tuple[Tx, bytes]:
    tx = Tx(2, (TxIn(OutPoint(bytes(range(32)), 3), b"", 0xFFFFFFFE),),
            (TxOut(AMOUNT - 1_000, b"\x00\x14" + bytes(20)),), 0)
    script_code = b"\x76\xa9\x14" + program + b"\x88\xac"
    digest = segwit_v0_sighash(script_code, tx, 0, SIGHASH_ALL, AMOUNT)
    return tx, crypto.sign(SECRET, digest) + bytes((SIGHASH_ALL,))


def _high_s(sig: bytes) -> bytes:
    """The same signature with S replaced by N - S (valid, but not LOW_S)."""
    der, hashtype = sig[:-1], sig[-1:]
    r_len = der[3]
    r = der[4:4 + r_len]
    s = int.from_bytes(der[6 + r_len:], "big")
    s_bytes = (N - s).to_bytes(33, "big").lstrip(b"\x00")
    if s_bytes[0] & 0x80:
        s_bytes = b"\x00" + s_bytes
    body = b"\x02" + bytes((len(r),)) + r + b"\x02" + bytes((len(s_bytes),)) + s_bytes
    return b"\x30" + bytes((len(body),)) + body + hashtype


def _signed_as(hash_type: int) -> bytes:
    """A valid signature of the spend under another hash type."""
    tx, _ = _spend(hash160(PUBKEY))
    script_code = b"\x76\xa9\x14" + hash160(PUBKEY) + b"\x88\xac"
    digest = segwit_v0_sighash(script_code, tx, 0, hash_type, AMOUNT)
    return crypto.sign(SECRET, digest) + bytes((hash_type,))


def _long_der(sig: bytes) -> bytes:
    """The same (r, s) with R padded by zero bytes: not strict DER, 80 bytes long, still read
    by the lax parser a block without BIP66 uses."""
    der = sig[:-1]
    r_len = der[3]
    r = b"\x00" * 7 + der[4:4 + r_len]
    rest = der[4 + r_len:]
    body = b"\x02" + bytes((len(r),)) + r + rest
    return b"\x30" + bytes((len(body),)) + body + sig[-1:]


def _cases() -> list[tuple[str, bytes, tuple[bytes, ...], bytes]]:
    """(name, scriptPubKey, witness, scriptSig)."""
    program = hash160(PUBKEY)
    spk = b"\x00\x14" + program
    _, sig = _spend(program)
    other = crypto.pubkey_from_secret(hashlib.sha256(b"other").digest())
    flipped = sig[:10] + bytes((sig[10] ^ 1,)) + sig[11:]
    hybrid = b"\x06" + crypto.pubkey_serialize(PUBKEY, False)[1:]
    return [
        ("SIGHASH_NONE", spk, (_signed_as(SIGHASH_NONE), PUBKEY), b""),
        ("ANYONECANPAY", spk, (_signed_as(SIGHASH_ALL | SIGHASH_ANYONECANPAY), PUBKEY), b""),
        ("long DER", spk, (_long_der(sig), PUBKEY), b""),
        ("hash type 0", spk, (sig[:-1] + b"\x00", PUBKEY), b""),
        ("short signature", spk, (sig[:8], PUBKEY), b""),
        ("hybrid key", b"\x00\x14" + hash160(hybrid), (sig, hybrid), b""),
        ("key of a bad length", b"\x00\x14" + hash160(PUBKEY[:32]), (sig, PUBKEY[:32]), b""),
        ("33 bytes, uncompressed header", b"\x00\x14" + hash160(b"\x04" + PUBKEY[1:]),
         (sig, b"\x04" + PUBKEY[1:]), b""),
        ("valid", spk, (sig, PUBKEY), b""),
        ("bad signature", spk, (flipped, PUBKEY), b""),
        ("empty signature", spk, (b"", PUBKEY), b""),
        ("high S", spk, (_high_s(sig), PUBKEY), b""),
        ("undefined hashtype", spk, (sig[:-1] + b"\x05", PUBKEY), b""),
        ("not DER", spk, (b"\x30\x01\x02" + sig[3:], PUBKEY), b""),
        ("wrong key", spk, (sig, other), b""),
        ("uncompressed key", spk, (sig, crypto.pubkey_serialize(PUBKEY, False)), b""),
        ("one item", spk, (sig,), b""),
        ("three items", spk, (sig, PUBKEY, b""), b""),
        ("no witness", spk, (), b""),
        ("oversized item", spk, (sig, b"\x02" * 521), b""),
        ("all-zero program", b"\x00\x14" + bytes(20), (sig, PUBKEY), b""),
        ("negative-zero program", b"\x00\x14" + bytes(19) + b"\x80", (sig, PUBKEY), b""),
        ("with scriptSig", spk, (sig, PUBKEY), b"\x00"),
    ]


def _outcome(fn, script_sig, spk, witness, flags, tx):
    checker = TxSignatureChecker(tx, 0, AMOUNT)
    try:
        fn(script_sig, spk, witness, int(flags), checker)
    except ScriptError as e:
        return e.err
    return None


@pytest.mark.parametrize(("name", "spk", "witness", "script_sig"), _cases(),
                         ids=[c[0] for c in _cases()])
@pytest.mark.parametrize("flags", FLAG_SETS, ids=["consensus", "nullfail", "dersig", "standard"])
def test_p2wpkh_shortcut_matches_the_general_path(name, spk, witness, script_sig, flags):
    tx, _ = _spend(hash160(PUBKEY))
    fast = _outcome(verify_script, script_sig, spk, witness, flags, tx)
    general = _outcome(_verify_script, script_sig, spk, witness, flags, tx)
    assert fast == general
    if name == "valid":
        assert fast is None
    if name in ("bad signature", "wrong key", "one item"):
        assert fast is not None  # the cases are real: they fail


def _deferred_outcome(fn, spk, tx, flags):
    deferred: list = []
    try:
        fn(tx, spk, int(flags), deferred)
    except ScriptError as e:
        return e.err, deferred
    return None, deferred


def _defer_fast(tx, spk, flags, deferred):
    defer_input(tx, 0, spk, AMOUNT, flags, PrecomputedTxData(tx), deferred)


def _defer_general(tx, spk, flags, deferred):
    txin = tx.vin[0]
    _verify_script(txin.script_sig, spk, txin.witness, flags,
                   DeferringSignatureChecker(tx, 0, AMOUNT, PrecomputedTxData(tx), deferred))


def _with_input(tx: Tx, witness: tuple[bytes, ...], script_sig: bytes) -> Tx:
    txin = tx.vin[0]
    return Tx(tx.version, (TxIn(txin.prevout, script_sig, txin.sequence, witness),), tx.vout,
              tx.locktime)


@pytest.mark.parametrize(("name", "spk", "witness", "script_sig"), _cases(),
                         ids=[c[0] for c in _cases()])
@pytest.mark.parametrize("flags", FLAG_SETS, ids=["consensus", "nullfail", "dersig", "standard"])
def test_deferring_shortcut_matches_the_general_path(name, spk, witness, script_sig, flags):
    """The same verdict and the same deferred checks (which carry the BIP143 digest)."""
    tx = _with_input(_spend(hash160(PUBKEY))[0], witness, script_sig)
    fast = _deferred_outcome(_defer_fast, spk, tx, flags)
    assert fast == _deferred_outcome(_defer_general, spk, tx, flags)
    if name == "valid":
        assert fast[0] is None and len(fast[1]) == 1
        assert crypto.verify(*fast[1][0])


@pytest.mark.parametrize("program", [bytes(20), bytes(19) + b"\x80"], ids=["zero", "minus zero"])
def test_deferring_shortcut_refuses_a_false_program(monkeypatch, program):
    """A program that is false as a stack item fails (EVAL_FALSE) even when the key hashes to
    it. No key is known to, so the test makes hash160 say one does."""
    from node.consensus.script import interpreter
    monkeypatch.setattr(interpreter, "hash160", lambda data: program)
    tx, sig = _spend(program)
    tx = _with_input(tx, (sig, PUBKEY), b"")
    spk = b"\x00\x14" + program
    fast = _deferred_outcome(_defer_fast, spk, tx, FLAG_SETS[0])
    assert fast == _deferred_outcome(_defer_general, spk, tx, FLAG_SETS[0])
    assert fast == (ScriptErr.EVAL_FALSE, [])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), flags=st.sampled_from(FLAG_SETS))
def test_deferring_shortcut_matches_on_mutated_spends(data, flags):
    """Random byte changes to a valid spend's signature, key and program, and random
    sequences and amounts: the shortcut never answers differently from the general path."""
    program = hash160(PUBKEY)
    tx, sig = _spend(program)
    parts = [bytearray(sig), bytearray(PUBKEY), bytearray(program)]
    for _ in range(data.draw(st.integers(0, 3))):
        part = parts[data.draw(st.integers(0, 2))]
        if part:
            part[data.draw(st.integers(0, len(part) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):  # cut or extend the signature
        cut = data.draw(st.integers(0, len(parts[0])))
        parts[0] = parts[0][:cut] + bytearray(data.draw(st.binary(max_size=4)))
    sequence = data.draw(st.sampled_from([0, 0xFFFFFFFE, 0xFFFFFFFF]))
    txin = tx.vin[0]
    tx = Tx(tx.version, (TxIn(txin.prevout, b"", sequence, (bytes(parts[0]), bytes(parts[1]))),),
            tx.vout, tx.locktime)
    spk = b"\x00\x14" + bytes(parts[2])
    assert (_deferred_outcome(_defer_fast, spk, tx, flags)
            == _deferred_outcome(_defer_general, spk, tx, flags))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_p2wpkh_sighash_all_is_bip143s(data):
    """The P2WPKH SIGHASH_ALL hash made in one piece (one input) or from the shared parts
    (several) equals segwit_v0_sighash's, for built and for parsed transactions."""
    u32 = st.integers(0, 0xFFFFFFFF)
    vin = tuple(TxIn(OutPoint(data.draw(st.binary(min_size=32, max_size=32)), data.draw(u32)),
                     b"", data.draw(u32), (b"\x30", b"\x02"))
                for _ in range(data.draw(st.integers(1, 3))))
    vout = tuple(TxOut(data.draw(st.integers(0, 21_000_000 * 10**8)),
                       data.draw(st.binary(max_size=40)))
                 for _ in range(data.draw(st.integers(1, 3))))
    tx = Tx(data.draw(st.integers(-(2**31), 2**31 - 1)), vin, vout, data.draw(u32))
    if data.draw(st.booleans()):
        tx = Tx.parse(ByteReader(tx.serialize()))  # with its outputs' bytes kept
    n = data.draw(st.integers(0, len(vin) - 1))
    program = data.draw(st.binary(min_size=20, max_size=20))
    amount = data.draw(st.integers(0, 21_000_000 * 10**8))
    expected = segwit_v0_sighash(b"\x76\xa9\x14" + program + b"\x88\xac", tx, n, SIGHASH_ALL,
                                 amount)
    assert p2wpkh_sighash_all(tx, n, program, amount, None) == expected
    assert p2wpkh_sighash_all(tx, n, program, amount, PrecomputedTxData(tx)) == expected


SCRIPTS = [
    b"\x00\x14" + bytes(range(20)),  # P2WPKH
    b"\x00\x20" + bytes(range(32)),  # P2WSH
    b"\xa9\x14" + bytes(range(20)) + b"\x87",  # P2SH
    b"\x76\xa9\x14" + bytes(range(20)) + b"\x88\xac",  # P2PKH
    b"\x51\xae",  # bare 1 CHECKMULTISIG
    b"\x51\x20" + bytes(range(32)),  # v1
]


def _reference_cost(tx: Tx, spent: list[TxOut], flags: int) -> int:
    """GetTransactionSigOpCost written out as Core does, without shortcuts."""
    cost = legacy_sigop_count(tx) * 4
    if flags & Flag.P2SH:
        cost += tx_p2sh_sigop_count(tx, spent) * 4
    for txin, prev in zip(tx.vin, spent, strict=True):
        cost += witness_sigop_count(txin.script_sig, prev.script_pubkey, txin.witness, flags)
    return cost


@pytest.mark.parametrize("flags", [0, Flag.P2SH, Flag.P2SH | Flag.WITNESS])
def test_sigop_cost_shortcut_matches_core_formula(flags):
    redeem = b"\x52" + b"\x21" + PUBKEY + b"\x21" + PUBKEY + b"\x52\xae"  # 2-of-2
    p2sh_sig = b"\x00\x4c" + bytes((len(redeem),)) + redeem
    witness_script = b"\x21" + PUBKEY + b"\xac"
    for spks in itertools.product(SCRIPTS, repeat=2):
        vin = (TxIn(OutPoint(bytes(32), 0), p2sh_sig if spks[0][0] == 0xA9 else b"", 0,
                    (b"", witness_script)),
               TxIn(OutPoint(bytes(32), 1), b"", 0, (b"\x01", b"\x02")))
        tx = Tx(2, vin, (TxOut(1, spks[1]), TxOut(2, b"\x76\xa9\x14" + bytes(20) + b"\x88\xac")))
        spent = [TxOut(10, s) for s in spks]
        assert tx_sigop_cost(tx, spent, int(flags)) == _reference_cost(tx, spent, int(flags))
