"""The hot paths written for the common templates give exactly the general code's verdicts.

verify_script takes a shortcut for P2WPKH and tx_sigop_cost one for P2WPKH inputs; here every
mutation of a valid spend, under several flag sets, must end the same way (same error, or
success) on the shortcut and on the general path.
"""

from __future__ import annotations

import hashlib
import itertools

import pytest

from node.consensus import crypto
from node.consensus.hashes import hash160
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.errors import ScriptError
from node.consensus.script.flags import Flag
from node.consensus.script.interpreter import TxSignatureChecker, _verify_script, verify_script
from node.consensus.script.sighash import SIGHASH_ALL, segwit_v0_sighash
from node.consensus.script.sigops import (
    legacy_sigop_count,
    tx_p2sh_sigop_count,
    tx_sigop_cost,
    witness_sigop_count,
)

SECRET = hashlib.sha256(b"fast path key").digest()
PUBKEY = crypto.pubkey_from_secret(SECRET)
AMOUNT = 50_000
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

FLAG_SETS = [
    Flag.P2SH | Flag.WITNESS,
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


def _cases() -> list[tuple[str, bytes, tuple[bytes, ...], bytes]]:
    """(name, scriptPubKey, witness, scriptSig)."""
    program = hash160(PUBKEY)
    spk = b"\x00\x14" + program
    _, sig = _spend(program)
    other = crypto.pubkey_from_secret(hashlib.sha256(b"other").digest())
    flipped = sig[:10] + bytes((sig[10] ^ 1,)) + sig[11:]
    return [
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
@pytest.mark.parametrize("flags", FLAG_SETS, ids=["consensus", "dersig", "standard"])
def test_p2wpkh_shortcut_matches_the_general_path(name, spk, witness, script_sig, flags):
    tx, _ = _spend(hash160(PUBKEY))
    fast = _outcome(verify_script, script_sig, spk, witness, flags, tx)
    general = _outcome(_verify_script, script_sig, spk, witness, flags, tx)
    assert fast == general
    if name == "valid":
        assert fast is None
    if name in ("bad signature", "wrong key", "one item"):
        assert fast is not None  # the cases are real: they fail


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
