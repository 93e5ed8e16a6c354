"""Bitcoin Core's script_tests.json: every entry, exact error names (script_tests.cpp)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from node.consensus.primitives import NULL_OUTPOINT, OutPoint, Tx, TxIn, TxOut
from node.consensus.script.errors import ScriptErr, ScriptError
from node.consensus.script.flags import Flag, parse_flags
from node.consensus.script.interpreter import TxSignatureChecker, verify_script

from .core_notation import parse_script
from .vectors import load

COIN = 100_000_000


def _cases() -> list:
    return list(_iter_cases())


def _iter_cases():
    for i, entry in load("script_tests.json", min_len=4):
        witness: list = []
        amount = Decimal(0)
        pos = 0
        if isinstance(entry[0], list):
            witness, amount = entry[0][:-1], entry[0][-1]
            pos = 1
        if len(entry) < pos + 4:
            continue
        script_sig, script_pubkey, flags, expected = entry[pos:pos + 4]
        comment = entry[pos + 4] if len(entry) > pos + 4 else ""
        marks = ()
        if "TAPROOT" in flags.split(","):
            marks = (pytest.mark.skip(reason="needs the TAPROOT flag: Taproot is not enforced"),)
        yield pytest.param(witness, amount, script_sig, script_pubkey, flags, expected,
                           id=f"{i}:{comment or script_pubkey}"[:90], marks=marks)


def crediting_and_spending(script_sig: bytes, script_pubkey: bytes, witness: tuple[bytes, ...],
                           amount: int) -> Tx:
    """Core's BuildCreditingTransaction and BuildSpendingTransaction."""
    credit = Tx(1, (TxIn(NULL_OUTPOINT, b"\x00\x00"),), (TxOut(amount, script_pubkey),), 0)
    return Tx(1, (TxIn(OutPoint(credit.txid, 0), script_sig, witness=witness),),
              (TxOut(amount, b""),), 0)


def run(script_sig: bytes, script_pubkey: bytes, witness, amount: int, flags: int) -> ScriptErr:
    spend = crediting_and_spending(script_sig, script_pubkey, witness, amount)
    try:
        verify_script(script_sig, script_pubkey, witness, flags,
                      TxSignatureChecker(spend, 0, amount))
    except ScriptError as e:
        return e.err
    return ScriptErr.OK


def _valid_combination(flags: int) -> bool:
    if flags & Flag.CLEANSTACK and ~flags & (Flag.P2SH | Flag.WITNESS):
        return False
    return not (flags & Flag.WITNESS and not flags & Flag.P2SH)


@pytest.mark.parametrize("witness,amount,sig_asm,pubkey_asm,flags_text,expected", _cases())
def test_script_vector(witness, amount, sig_asm, pubkey_asm, flags_text, expected):
    witness = tuple(bytes.fromhex(w) for w in witness)
    amount = int(Decimal(amount) * COIN)
    script_sig = parse_script(sig_asm)
    script_pubkey = parse_script(pubkey_asm)
    flags = parse_flags(flags_text)
    if flags & Flag.CLEANSTACK:
        flags |= Flag.P2SH | Flag.WITNESS
    assert run(script_sig, script_pubkey, witness, amount, flags).value == expected

    # As Core does: removing flags from a passing case, or adding flags to a failing one, must
    # not change the outcome (soft forks only ever tighten the rules).
    expect_ok = expected == "OK"
    rng = random.Random(hash((sig_asm, pubkey_asm)) & 0xFFFFFFFF)
    for _ in range(16):
        extra = rng.getrandbits(16)
        combined = (flags & ~extra) if expect_ok else (flags | extra)
        if not _valid_combination(combined):
            continue
        outcome = run(script_sig, script_pubkey, witness, amount, combined)
        assert (outcome == ScriptErr.OK) == expect_ok, f"with flags {Flag(combined)!r}: {outcome}"
