"""Sigop counting matches Bitcoin Core's rules (legacy, P2SH, witness)."""

from dataclasses import replace

from node.consensus.hashes import hash160, sha256
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.flags import Flag
from node.consensus.script.script import push_data
from node.consensus.script.sigops import (
    legacy_sigop_count,
    script_sigop_count,
    tx_sigop_cost,
    witness_sigop_count,
)
from node.consensus.serialize import from_bytes

from .core_notation import parse_script

PUB = bytes.fromhex("02" + "11" * 32)
MULTISIG_2_OF_3 = parse_script(f"2 0x21 0x{PUB.hex()} 0x21 0x{PUB.hex()} 0x21 0x{PUB.hex()} 3 CHECKMULTISIG")
P2SH_OF_MULTISIG = b"\xa9\x14" + hash160(MULTISIG_2_OF_3) + b"\x87"


def test_checkmultisig_counts_20_unless_accurate_after_op_n():
    assert script_sigop_count(MULTISIG_2_OF_3, accurate=False) == 20
    assert script_sigop_count(MULTISIG_2_OF_3, accurate=True) == 3
    # Without a preceding OP_N even the accurate count is the maximum.
    assert script_sigop_count(parse_script("CHECKMULTISIG"), accurate=True) == 20
    assert script_sigop_count(parse_script("CHECKSIG CHECKSIGVERIFY"), accurate=False) == 2


def test_counting_stops_at_a_truncated_push():
    assert script_sigop_count(parse_script("CHECKSIG 0x4c"), accurate=False) == 1


def _spend(script_sig: bytes = b"", witness: tuple[bytes, ...] = ()) -> Tx:
    return Tx(2, (TxIn(OutPoint(b"\x01" * 32, 0), script_sig, witness=witness),),
              (TxOut(1000, parse_script("DUP HASH160 0x14 0x" + "00" * 20 + " EQUALVERIFY CHECKSIG")),))


def test_p2sh_redeem_script_is_counted_accurately_and_weighted():
    spend = _spend(push_data(b"") + push_data(MULTISIG_2_OF_3))
    spent = [TxOut(5000, P2SH_OF_MULTISIG)]
    legacy = legacy_sigop_count(spend)  # the P2PKH output's CHECKSIG only
    assert legacy == 1
    assert tx_sigop_cost(spend, spent, Flag.P2SH | Flag.WITNESS) == (legacy + 3) * 4
    assert tx_sigop_cost(spend, spent, Flag.NONE) == legacy * 4


def test_witness_sigops_are_not_weighted():
    p2wpkh = b"\x00\x14" + b"\x22" * 20
    assert witness_sigop_count(b"", p2wpkh, (b"sig", PUB), Flag.P2SH | Flag.WITNESS) == 1
    p2wsh = b"\x00\x20" + sha256(MULTISIG_2_OF_3)
    assert witness_sigop_count(b"", p2wsh, (b"", MULTISIG_2_OF_3), Flag.P2SH | Flag.WITNESS) == 3
    # Nested in P2SH: the scriptSig pushes the witness program.
    nested = b"\xa9\x14" + hash160(p2wsh) + b"\x87"
    assert witness_sigop_count(push_data(p2wsh), nested, (b"", MULTISIG_2_OF_3),
                               Flag.P2SH | Flag.WITNESS) == 3
    assert witness_sigop_count(b"", p2wpkh, (b"sig", PUB), Flag.P2SH) == 0
    spend = _spend(witness=(b"sig", PUB))
    assert tx_sigop_cost(spend, [TxOut(1, p2wpkh)], Flag.P2SH | Flag.WITNESS) == 4 + 1


def test_the_legacy_count_kept_on_a_transaction_is_its_own():
    # Counted once per transaction and kept: a parsed copy, a copy with other outputs and
    # a built one each get their own count, and asking again gives the same answer.
    spend = _spend(push_data(b"") + push_data(MULTISIG_2_OF_3))
    assert legacy_sigop_count(spend) == 1
    assert legacy_sigop_count(spend) == 1
    parsed = from_bytes(Tx, spend.serialize())
    assert legacy_sigop_count(parsed) == 1
    more = replace(spend, vout=spend.vout + (TxOut(1, MULTISIG_2_OF_3),))
    assert legacy_sigop_count(more) == 21
    assert legacy_sigop_count(replace(parsed, vout=())) == 0
