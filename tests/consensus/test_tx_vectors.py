"""Bitcoin Core's tx_valid.json and tx_invalid.json (transaction_tests.cpp), including Core's
checks that the listed flags are exactly the ones that matter."""

from __future__ import annotations

import random

import pytest

from node.consensus import crypto
from node.consensus.errors import ValidationError
from node.consensus.hashes import hex_to_hash
from node.consensus.primitives import OutPoint, Tx
from node.consensus.script.errors import ScriptError
from node.consensus.script.flags import Flag, parse_flags
from node.consensus.script.interpreter import verify_input
from node.consensus.script.sighash import PrecomputedTxData
from node.consensus.tx_check import check_transaction

from .core_notation import parse_script
from .vectors import load

# Every flag minicash enforces (TAPROOT is named but not enforced).
FLAG_LIST = [f for f in Flag if f not in (Flag.NONE, Flag.TAPROOT)]
ALL = Flag(sum(FLAG_LIST))


def trim_flags(flags: int) -> int:
    """Core's TrimFlags: WITNESS needs P2SH, CLEANSTACK needs WITNESS."""
    if not flags & Flag.P2SH:
        flags &= ~Flag.WITNESS
    if not flags & Flag.WITNESS:
        flags &= ~Flag.CLEANSTACK
    return flags


def fill_flags(flags: int) -> int:
    """Core's FillFlags: CLEANSTACK implies WITNESS implies P2SH."""
    if flags & Flag.CLEANSTACK:
        flags |= Flag.WITNESS
    if flags & Flag.WITNESS:
        flags |= Flag.P2SH
    return flags


def exclude_individual_flags(flags: int) -> set[int]:
    return {trim_flags(flags & ~f) for f in FLAG_LIST} - {flags}


def _cases(name: str) -> list:
    return list(_iter_cases(name))


def _iter_cases(name: str):
    for i, (prevouts, tx_hex, flags_text) in load(name, min_len=3):
        if not isinstance(prevouts, list):
            continue
        yield pytest.param(prevouts, tx_hex, flags_text, id=f"{i}:{flags_text}"[:60])


def _spent(prevouts: list) -> dict[OutPoint, tuple[bytes, int]]:
    spent = {}
    for entry in prevouts:
        # Prevout indexes are written as -1 for 0xffffffff in the vectors.
        outpoint = OutPoint(hex_to_hash(entry[0]), entry[1] & 0xFFFFFFFF)
        amount = entry[3] if len(entry) > 3 else 0
        spent[outpoint] = (parse_script(entry[2]), amount)
    return spent


def scripts_valid(tx: Tx, spent: dict, flags: int) -> bool:
    cache = PrecomputedTxData(tx)
    for n, txin in enumerate(tx.vin):
        script_pubkey, amount = spent[txin.prevout]
        try:
            verify_input(tx, n, script_pubkey, amount, flags, cache)
        except ScriptError:
            return False
    return True


@pytest.mark.parametrize("prevouts,tx_hex,excluded_text", _cases("tx_valid.json"))
def test_tx_valid_vector(prevouts, tx_hex, excluded_text):
    tx = Tx.from_hex(tx_hex)
    spent = _spent(prevouts)
    check_transaction(tx)
    excluded = parse_flags(excluded_text)
    assert ~excluded & ALL == fill_flags(~excluded & ALL), "bad test flags"
    assert scripts_valid(tx, spent, ~excluded & ALL)

    rng = random.Random(tx_hex)
    for flag in FLAG_LIST:
        # Removing any flag, or a random set of them, must not invalidate a valid tx.
        assert scripts_valid(tx, spent, trim_flags(~(excluded | flag) & ALL)), f"{flag!r} unset"
        rand = rng.getrandbits(len(FLAG_LIST))
        assert scripts_valid(tx, spent, trim_flags(~(excluded | rand) & ALL))
    # The excluded flags are maximal: enabling any one of them makes the tx fail.
    for flags_excluding_one in exclude_individual_flags(excluded):
        assert not scripts_valid(tx, spent, ~flags_excluding_one & ALL), \
            f"passes with {Flag(excluded & ~flags_excluding_one)!r} set"


@pytest.mark.parametrize("prevouts,tx_hex,flags_text", _cases("tx_invalid.json"))
def test_tx_invalid_vector(prevouts, tx_hex, flags_text):
    tx = Tx.from_hex(tx_hex)
    spent = _spent(prevouts)
    if flags_text == "BADTX":
        with pytest.raises(ValidationError):
            check_transaction(tx)
        return
    check_transaction(tx)
    flags = parse_flags(flags_text)
    assert flags == fill_flags(flags), "bad test flags"
    assert not scripts_valid(tx, spent, flags)

    rng = random.Random(tx_hex)
    for flag in FLAG_LIST:
        # Adding any flag, or a random set of them, must not validate an invalid tx.
        assert not scripts_valid(tx, spent, fill_flags(flags | flag)), f"{flag!r} set"
        rand = rng.getrandbits(len(FLAG_LIST)) & ALL
        assert not scripts_valid(tx, spent, fill_flags(flags | rand))
    # The listed flags are minimal: dropping any one of them makes the tx valid.
    for flags_excluding_one in exclude_individual_flags(flags):
        assert scripts_valid(tx, spent, flags_excluding_one), \
            f"fails without {Flag(flags & ~flags_excluding_one)!r}"


@pytest.mark.parametrize("backend", crypto.available_backends())
def test_every_tx_vector_has_the_same_verdict_with_each_backend(backend):
    previous = crypto.get_backend().name
    crypto.set_backend(backend)
    try:
        for prevouts, tx_hex, flags_text in (p.values for p in _cases("tx_valid.json")):
            tx = Tx.from_hex(tx_hex)
            assert scripts_valid(tx, _spent(prevouts), ~parse_flags(flags_text) & ALL), tx_hex
        for prevouts, tx_hex, flags_text in (p.values for p in _cases("tx_invalid.json")):
            if flags_text != "BADTX":
                tx = Tx.from_hex(tx_hex)
                assert not scripts_valid(tx, _spent(prevouts), parse_flags(flags_text)), tx_hex
    finally:
        crypto.set_backend(previous)
