"""Bitcoin Core's standardness policy (v29): the solver, dust, and every reject reason.

Each rejection test builds a transaction that breaks exactly one rule, starting from STANDARD,
which passes them all.
"""

from __future__ import annotations

import pytest

from node.consensus.address import p2pkh_script, p2sh_script, p2wpkh_script, p2wsh_script
from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash160
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.script import push_data
from node.mempool import policy
from node.mempool.policy import (
    DUST_RELAY_TX_FEE,
    MAX_OP_RETURN_RELAY,
    TxoutType,
    check_inputs_standard,
    check_standard_tx,
    check_tx_size_small,
    check_witness_standard,
    dust_threshold,
    esplora_type_name,
    fee_for,
    get_dust,
    is_dust,
    is_standard_output,
    pre_check_ephemeral_tx,
    script_type_name,
    solver,
    virtual_size,
)

# Opcodes used below, as bytes.
OP_0, OP_1, OP_2, OP_3, OP_16 = b"\x00", b"\x51", b"\x52", b"\x53", b"\x60"
OP_RETURN, OP_RESERVED, OP_DUP, OP_DROP = b"\x6a", b"\x50", b"\x76", b"\x75"
OP_CHECKSIG, OP_CHECKMULTISIG = b"\xac", b"\xae"

KEY_C = bytes.fromhex("02" + "11" * 32)  # compressed key (only its size is checked)
KEY_U = bytes.fromhex("04" + "22" * 64)  # uncompressed
H20, H32 = b"\x33" * 20, b"\x44" * 32

P2PKH = p2pkh_script(H20)
P2SH = p2sh_script(H20)
P2WPKH = p2wpkh_script(H20)
P2WSH = p2wsh_script(H32)
P2TR = OP_1 + push_data(H32)
P2A = bytes.fromhex("51024e73")


def multisig(m: bytes, keys: list[bytes], n: bytes) -> bytes:
    return m + b"".join(push_data(k) for k in keys) + n + OP_CHECKMULTISIG


def tx(vin: list[TxIn] | None = None, vout: list[TxOut] | None = None, version: int = 2) -> Tx:
    return Tx(version, vin if vin is not None else [TxIn(OutPoint(b"\x01" * 32, 0))],
              vout if vout is not None else [TxOut(10_000, P2WPKH)])


def txin(script_sig: bytes = b"", witness: tuple[bytes, ...] = (), n: int = 0) -> TxIn:
    return TxIn(OutPoint(b"\x01" * 32, n), script_sig, witness=witness)


def coin(script_pubkey: bytes) -> Coin:
    return Coin(TxOut(100_000, script_pubkey), height=1, is_coinbase=False)


def reason(fn, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ValidationError) as e:
        fn(*args, **kwargs)
    return e.value.reason, e.value.debug


STANDARD = tx()


# -- constants ----------------------------------------------------------------------------------

def test_constants_are_core_v29_values():
    assert (policy.MAX_STANDARD_TX_WEIGHT, policy.MIN_STANDARD_TX_NONWITNESS_SIZE) == (400_000, 65)
    assert (policy.MAX_P2SH_SIGOPS, policy.MAX_STANDARD_TX_SIGOPS_COST) == (15, 16_000)
    assert (policy.DEFAULT_BYTES_PER_SIGOP, policy.MAX_STANDARD_SCRIPTSIG_SIZE) == (20, 1_650)
    assert (policy.MAX_STANDARD_P2WSH_STACK_ITEMS, policy.MAX_STANDARD_P2WSH_STACK_ITEM_SIZE,
            policy.MAX_STANDARD_P2WSH_SCRIPT_SIZE) == (100, 80, 3_600)
    assert (DUST_RELAY_TX_FEE, policy.DEFAULT_MIN_RELAY_TX_FEE,
            policy.DEFAULT_INCREMENTAL_RELAY_FEE) == (3_000, 1_000, 1_000)
    assert (MAX_OP_RETURN_RELAY, policy.TX_MAX_STANDARD_VERSION) == (83, 3)
    assert (policy.DEFAULT_ANCESTOR_LIMIT, policy.DEFAULT_DESCENDANT_LIMIT) == (25, 25)
    assert (policy.DEFAULT_ANCESTOR_SIZE_LIMIT_KVB,
            policy.DEFAULT_DESCENDANT_SIZE_LIMIT_KVB) == (101, 101)
    assert (policy.DEFAULT_MAX_MEMPOOL_SIZE_MB, policy.DEFAULT_MEMPOOL_EXPIRY_HOURS) == (300, 336)
    assert policy.MAX_BIP125_REPLACEMENT_CANDIDATES == 100
    assert policy.MAX_DUST_OUTPUTS_PER_TX == 1


# -- the solver ---------------------------------------------------------------------------------

@pytest.mark.parametrize("script, kind, solutions", [
    (P2PKH, TxoutType.PUBKEYHASH, [H20]),
    (P2SH, TxoutType.SCRIPTHASH, [H20]),
    (P2WPKH, TxoutType.WITNESS_V0_KEYHASH, [H20]),
    (P2WSH, TxoutType.WITNESS_V0_SCRIPTHASH, [H32]),
    (P2TR, TxoutType.WITNESS_V1_TAPROOT, [H32]),
    (P2A, TxoutType.ANCHOR, []),
    (push_data(KEY_C) + OP_CHECKSIG, TxoutType.PUBKEY, [KEY_C]),
    (push_data(KEY_U) + OP_CHECKSIG, TxoutType.PUBKEY, [KEY_U]),
    (OP_RETURN + push_data(b"hello"), TxoutType.NULL_DATA, []),
    (OP_RETURN, TxoutType.NULL_DATA, []),
    (OP_2 + push_data(b"\x55" * 40), TxoutType.WITNESS_UNKNOWN, [b"\x02", b"\x55" * 40]),
    (b"", TxoutType.NONSTANDARD, []),
    (OP_1, TxoutType.NONSTANDARD, []),
], ids=["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "anchor", "p2pk-compressed",
        "p2pk-uncompressed", "nulldata", "bare-op-return", "witness-v2", "empty", "op-true"])
def test_solver_recognises_each_template(script, kind, solutions):
    assert solver(script) == (kind, solutions)


def test_solver_returns_multisig_as_m_keys_n():
    script = multisig(OP_2, [KEY_C, KEY_U, KEY_C], OP_3)
    assert solver(script) == (TxoutType.MULTISIG, [b"\x02", KEY_C, KEY_U, KEY_C, b"\x03"])


def test_solver_reads_multisig_counts_pushed_as_minimal_numbers():
    keys = [KEY_C] * 17
    script = push_data(b"\x11") + b"".join(push_data(k) for k in keys) + push_data(b"\x11") \
        + OP_CHECKMULTISIG
    kind, solutions = solver(script)
    assert kind is TxoutType.MULTISIG
    assert (solutions[0], solutions[-1], len(solutions)) == (b"\x11", b"\x11", 19)


@pytest.mark.parametrize("script", [
    multisig(OP_1, [b"\x05" + b"\x11" * 32], OP_1),  # header byte promises no 33-byte key
    multisig(OP_1, [KEY_C[:32]], OP_1),  # key of an invalid size
    multisig(OP_1, [KEY_C, KEY_C], OP_1),  # n disagrees with the key count
    multisig(OP_3, [KEY_C, KEY_C], OP_2),  # m > n
    multisig(OP_0, [KEY_C], OP_1),  # m = 0
    multisig(push_data(b"\x02"), [KEY_C, KEY_C], OP_2),  # m pushed non-minimally
    multisig(OP_1, [KEY_C], OP_1)[:-1] + OP_DUP + OP_CHECKMULTISIG,  # extra op before the end
    OP_1 + push_data(KEY_C) + OP_1,  # no CHECKMULTISIG
    OP_1 + OP_CHECKMULTISIG,  # no keys, no n
], ids=["bad-key-header", "bad-key-size", "n-mismatch", "m-above-n", "m-zero",
        "non-minimal-m", "trailing-op", "no-checkmultisig", "no-keys"])
def test_solver_rejects_malformed_multisig(script):
    assert solver(script) == (TxoutType.NONSTANDARD, [])


def test_solver_rejects_pay_to_pubkey_with_an_invalid_header_byte():
    assert solver(push_data(b"\x05" + b"\x11" * 32) + OP_CHECKSIG)[0] is TxoutType.NONSTANDARD
    assert solver(push_data(b"\x02" + b"\x11" * 64) + OP_CHECKSIG)[0] is TxoutType.NONSTANDARD


def test_solver_null_data_allows_only_pushes_after_op_return():
    assert solver(OP_RETURN + OP_RESERVED + OP_16 + push_data(b"x"))[0] is TxoutType.NULL_DATA
    assert solver(OP_RETURN + OP_DUP)[0] is TxoutType.NONSTANDARD
    assert solver(OP_RETURN + b"\x4c")[0] is TxoutType.NONSTANDARD  # truncated push


def test_solver_taproot_needs_exactly_32_bytes_else_witness_unknown():
    assert solver(OP_1 + push_data(b"\x55" * 31)) == (TxoutType.WITNESS_UNKNOWN,
                                                      [b"\x01", b"\x55" * 31])
    assert solver(OP_1 + push_data(b"\x55" * 33))[0] is TxoutType.WITNESS_UNKNOWN
    # OP_1 <2 bytes> is an anchor only with the bytes 4e73.
    assert solver(OP_1 + push_data(b"\x4e\x74"))[0] is TxoutType.WITNESS_UNKNOWN


def test_solver_witness_v0_of_other_lengths_is_nonstandard():
    assert solver(OP_0 + push_data(b"\x55" * 21)) == (TxoutType.NONSTANDARD, [])


def test_solver_needs_byte_exact_templates():
    # P2SH written with PUSHDATA1 is not P2SH; P2PKH with a trailing op is not P2PKH.
    assert solver(b"\xa9\x4c\x14" + H20 + b"\x87")[0] is TxoutType.NONSTANDARD
    assert solver(P2PKH + OP_DROP)[0] is TxoutType.NONSTANDARD


def test_script_type_names_are_cores():
    assert [script_type_name(t) for t in TxoutType] == [
        "nonstandard", "pubkey", "pubkeyhash", "scripthash", "multisig", "nulldata", "anchor",
        "witness_v0_keyhash", "witness_v0_scripthash", "witness_v1_taproot", "witness_unknown"]


@pytest.mark.parametrize("script, name", [
    (P2PKH, "p2pkh"), (P2SH, "p2sh"), (P2WPKH, "v0_p2wpkh"), (P2WSH, "v0_p2wsh"),
    (P2TR, "v1_p2tr"), (P2A, "anchor"), (push_data(KEY_C) + OP_CHECKSIG, "p2pk"),
    (OP_RETURN + push_data(b"x"), "op_return"), (multisig(OP_1, [KEY_C], OP_1), "multisig"),
    (b"", "empty"), (OP_2 + push_data(b"\x55" * 40), "unknown"), (OP_1, "unknown"),
    # Esplora classifies by bytes: an OP_RETURN with any ops, a P2PK of any header byte.
    (OP_RETURN + OP_DUP, "op_return"), (push_data(b"\x05" + b"\x11" * 32) + OP_CHECKSIG, "p2pk"),
    (OP_RESERVED + OP_1, "provably_unspendable"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_esplora_type_names(script, name):
    assert esplora_type_name(script) == name


def test_esplora_type_name_of_a_txout_type():
    assert esplora_type_name(TxoutType.WITNESS_V0_KEYHASH) == "v0_p2wpkh"
    assert esplora_type_name(TxoutType.NULL_DATA) == "op_return"
    assert esplora_type_name(TxoutType.WITNESS_UNKNOWN) == "unknown"


# -- is_standard_output -------------------------------------------------------------------------

def test_bare_multisig_is_standard_up_to_three_keys():
    assert is_standard_output(multisig(OP_1, [KEY_C] * 3, OP_3)) is TxoutType.MULTISIG
    assert is_standard_output(multisig(OP_1, [KEY_C] * 4, b"\x54")) is None


def test_bare_multisig_is_refused_when_not_permitted():
    assert is_standard_output(multisig(OP_1, [KEY_C], OP_1), permit_bare_multisig=False) is None


def test_null_data_is_standard_up_to_the_datacarrier_size():
    at_limit = OP_RETURN + push_data(b"d" * 80)
    assert len(at_limit) == MAX_OP_RETURN_RELAY
    assert is_standard_output(at_limit) is TxoutType.NULL_DATA
    assert is_standard_output(OP_RETURN + push_data(b"d" * 81)) is None
    assert is_standard_output(OP_RETURN, max_datacarrier_bytes=None) is None  # -datacarrier=0


def test_unknown_witness_versions_and_anchors_are_standard_outputs():
    assert is_standard_output(OP_2 + push_data(b"\x55" * 40)) is TxoutType.WITNESS_UNKNOWN
    assert is_standard_output(P2A) is TxoutType.ANCHOR
    assert is_standard_output(OP_1) is None


# -- dust, sizes and fees -----------------------------------------------------------------------

@pytest.mark.parametrize("script, threshold", [
    (P2PKH, 546), (P2SH, 540), (P2WPKH, 294), (P2WSH, 330), (P2TR, 330), (P2A, 240),
], ids=["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "anchor"])
def test_dust_threshold_at_the_default_rate(script, threshold):
    assert dust_threshold(TxOut(0, script)) == threshold


def test_unspendable_outputs_have_no_dust_threshold():
    assert dust_threshold(TxOut(0, OP_RETURN + push_data(b"x"))) == 0
    assert dust_threshold(TxOut(0, b"\x51" * 10_001)) == 0  # larger than MAX_SCRIPT_SIZE


def test_dust_threshold_scales_with_the_dust_relay_fee():
    assert dust_threshold(TxOut(0, P2PKH), dust_relay_fee=1_000) == 182
    assert dust_threshold(TxOut(0, P2WPKH), dust_relay_fee=1_000) == 98


def test_an_output_below_its_threshold_is_dust():
    assert is_dust(TxOut(545, P2PKH)) and not is_dust(TxOut(546, P2PKH))
    assert get_dust(tx(vout=[TxOut(10_000, P2WPKH), TxOut(0, P2A), TxOut(1, P2PKH)])) == [1, 2]


def test_fee_for_rounds_up_like_cfeerate_getfee():
    assert fee_for(141, 1_000) == 141
    assert fee_for(3, 1_500) == 5  # 4.5 rounds up
    assert fee_for(1, 1) == 1  # 0.001 rounds up
    assert fee_for(250, 2_000) == 500
    assert fee_for(0, 1_000) == 0
    assert fee_for(100, 0) == 0


def test_fee_for_a_small_negative_rate_is_minus_one():
    assert fee_for(1, -1) == -1
    assert fee_for(2_000, -1) == -2


def test_virtual_size_rounds_weight_up_to_whole_vbytes():
    assert virtual_size(561, 0) == 141
    assert virtual_size(564, 0) == 141
    assert virtual_size(STANDARD.weight, 4) == STANDARD.vsize


def test_virtual_size_charges_sigop_heavy_transactions_by_sigop_cost():
    assert virtual_size(400, 80) == 400  # 80 x 20 = 1,600 weight
    assert virtual_size(400, 80, bytes_per_sigop=5) == 100


# -- check_standard_tx --------------------------------------------------------------------------

def test_a_standard_transaction_passes():
    check_standard_tx(STANDARD)
    check_tx_size_small(STANDARD)


@pytest.mark.parametrize("version", [0, 4, -1])
def test_rejects_versions_outside_one_to_three(version):
    assert reason(check_standard_tx, tx(version=version)) == ("version", "")


def test_accepts_truc_version_three_and_version_one():
    check_standard_tx(tx(version=3))
    check_standard_tx(tx(version=1))


def test_rejects_weight_above_the_standard_limit():
    heavy = tx(vin=[txin(witness=(b"\x00" * 400_000,))])  # the witness alone is over the limit
    assert reason(check_standard_tx, heavy) == ("tx-size", "")


def test_rejects_a_scriptsig_larger_than_1650_bytes():
    pushes = push_data(b"\x00" * 1_000) + push_data(b"\x00" * 646)
    assert len(pushes) == 1_652
    assert reason(check_standard_tx, tx(vin=[txin(pushes)])) == ("scriptsig-size", "")
    check_standard_tx(tx(vin=[txin(push_data(b"\x00" * 1_000) + push_data(b"\x00" * 644))]))


def test_rejects_a_scriptsig_that_is_not_push_only():
    assert reason(check_standard_tx, tx(vin=[txin(OP_1 + OP_DUP)])) == \
        ("scriptsig-not-pushonly", "")


def test_rejects_a_nonstandard_output_script():
    assert reason(check_standard_tx, tx(vout=[TxOut(10_000, OP_1)])) == ("scriptpubkey", "")


def test_rejects_an_op_return_over_the_datacarrier_size():
    big = tx(vout=[TxOut(10_000, P2WPKH), TxOut(0, OP_RETURN + push_data(b"d" * 81))])
    assert reason(check_standard_tx, big) == ("scriptpubkey", "")
    check_standard_tx(big, max_datacarrier_bytes=84)


def test_rejects_bare_multisig_when_not_permitted():
    bare = tx(vout=[TxOut(10_000, multisig(OP_1, [KEY_C], OP_1))])
    check_standard_tx(bare)
    assert reason(check_standard_tx, bare, permit_bare_multisig=False) == ("bare-multisig", "")


def test_rejects_more_than_one_dust_output():
    two = tx(vout=[TxOut(10_000, P2WPKH), TxOut(293, P2WPKH), TxOut(0, P2A)])
    assert reason(check_standard_tx, two) == ("dust", "")


def test_allows_one_dust_output_as_ephemeral_dust():
    check_standard_tx(tx(vout=[TxOut(10_000, P2WPKH), TxOut(0, P2A)]))


def test_dust_follows_the_dust_relay_fee():
    two = tx(vout=[TxOut(200, P2WPKH), TxOut(200, P2WPKH)])
    assert reason(check_standard_tx, two) == ("dust", "")
    check_standard_tx(two, dust_relay_fee=1_000)  # threshold 98


def test_rejects_more_than_one_op_return_output():
    data = TxOut(0, OP_RETURN + push_data(b"x"))
    assert reason(check_standard_tx, tx(vout=[TxOut(10_000, P2WPKH), data, data])) == \
        ("multi-op-return", "")
    check_standard_tx(tx(vout=[TxOut(10_000, P2WPKH), data]))


def test_reports_the_first_broken_rule_in_cores_order():
    data = TxOut(0, OP_RETURN)
    dust = TxOut(1, P2WPKH)
    # Dust is counted after the output loop, multi-op-return last.
    assert reason(check_standard_tx, tx(vout=[data, data, dust, dust])) == ("dust", "")
    assert reason(check_standard_tx, tx(vout=[dust, dust, TxOut(1, OP_1)])) == \
        ("scriptpubkey", "")
    assert reason(check_standard_tx, tx(vin=[txin(OP_DUP)], version=4)) == ("version", "")


def test_rejects_a_non_witness_size_under_65_bytes():
    small = tx(vout=[TxOut(0, P2A)])  # 4-byte script: a 64-byte transaction
    assert small.base_size == 64
    assert reason(check_tx_size_small, small) == ("tx-size-small", "")
    check_tx_size_small(tx(vout=[TxOut(0, OP_RETURN + push_data(b"xyz"))]))  # 65 bytes


def test_tx_size_small_ignores_the_witness():
    small = tx(vin=[txin(witness=(b"\x00" * 100,))], vout=[TxOut(0, P2A)])
    assert reason(check_tx_size_small, small) == ("tx-size-small", "")


def test_a_transaction_with_dust_must_pay_no_fee():
    with_dust = tx(vout=[TxOut(10_000, P2WPKH), TxOut(0, P2A)])
    assert reason(pre_check_ephemeral_tx, with_dust, 100) == \
        ("dust", "tx with dust output must be 0-fee")
    assert reason(pre_check_ephemeral_tx, with_dust, 0, 100)[0] == "dust"  # prioritised
    pre_check_ephemeral_tx(with_dust, 0)
    pre_check_ephemeral_tx(STANDARD, 100)


# -- check_inputs_standard ----------------------------------------------------------------------

def test_standard_prevouts_pass_input_checks():
    spends = [P2PKH, P2WPKH, P2WSH, P2TR, P2A, push_data(KEY_C) + OP_CHECKSIG,
              multisig(OP_1, [KEY_C] * 5, b"\x55")]  # any multisig the solver accepts
    vin = [txin(n=i) for i in range(len(spends))]
    check_inputs_standard(tx(vin=vin), [coin(s) for s in spends])


def test_rejects_spending_a_nonstandard_script():
    assert reason(check_inputs_standard, tx(), [coin(OP_1)]) == \
        ("bad-txns-nonstandard-inputs", "input 0 script unknown")


def test_rejects_spending_an_undefined_witness_version():
    two = tx(vin=[txin(n=0), txin(n=1)])
    assert reason(check_inputs_standard, two, [coin(P2WPKH), coin(OP_2 + push_data(H32))]) == \
        ("bad-txns-nonstandard-inputs", "input 1 witness program is undefined")


def test_rejects_a_p2sh_redeem_script_with_more_than_15_sigops():
    redeem = OP_1 + OP_CHECKSIG * 16
    spend = tx(vin=[txin(push_data(redeem))])
    assert reason(check_inputs_standard, spend, [coin(p2sh_script(hash160(redeem)))]) == \
        ("bad-txns-nonstandard-inputs", "p2sh redeemscript sigops exceed limit (input 0: 16 > 15)")
    fifteen = OP_1 + OP_CHECKSIG * 15
    check_inputs_standard(tx(vin=[txin(push_data(fifteen))]), [coin(P2SH)])


def test_p2sh_sigops_are_counted_accurately():
    # CHECKMULTISIG after OP_3 counts 3; without a preceding OP_n it counts 20.
    check_inputs_standard(tx(vin=[txin(push_data((OP_3 + OP_CHECKMULTISIG) * 5))]), [coin(P2SH)])
    assert reason(check_inputs_standard, tx(vin=[txin(push_data(OP_CHECKMULTISIG))]),
                  [coin(P2SH)])[1] == "p2sh redeemscript sigops exceed limit (input 0: 20 > 15)"


def test_p2sh_redeem_script_is_the_top_of_the_evaluated_stack():
    # The scriptSig is run (no flags): the last push is dropped, leaving the heavy script on top.
    heavy = OP_CHECKSIG * 16
    script_sig = push_data(heavy) + push_data(b"light") + OP_DROP
    assert reason(check_inputs_standard, tx(vin=[txin(script_sig)]), [coin(P2SH)])[1] == \
        "p2sh redeemscript sigops exceed limit (input 0: 16 > 15)"


def test_rejects_a_p2sh_scriptsig_that_fails_to_evaluate():
    assert reason(check_inputs_standard, tx(vin=[txin(b"\x4c")]), [coin(P2SH)]) == (
        "bad-txns-nonstandard-inputs",
        "p2sh scriptsig malformed (input 0: Opcode missing or not understood)")
    oversized = push_data(b"\x00" * 521)
    assert reason(check_inputs_standard, tx(vin=[txin(oversized)]), [coin(P2SH)])[1] == \
        "p2sh scriptsig malformed (input 0: Push value size limit exceeded)"


def test_rejects_a_p2sh_spend_without_a_redeem_script():
    assert reason(check_inputs_standard, tx(), [coin(P2SH)]) == \
        ("bad-txns-nonstandard-inputs", "input 0 P2SH redeemscript missing")


def test_input_checks_skip_coinbase_transactions():
    coinbase = Tx(2, [TxIn(OutPoint(b"\x00" * 32, 0xFFFFFFFF), b"\x01\x02")],
                  [TxOut(50, P2WPKH)])
    check_inputs_standard(coinbase, [])
    check_witness_standard(coinbase, [])


# -- check_witness_standard ---------------------------------------------------------------------

def _witness_reason(script_pubkey: bytes, witness: tuple[bytes, ...],
                    script_sig: bytes = b"") -> str | None:
    try:
        check_witness_standard(tx(vin=[txin(script_sig, witness)]), [coin(script_pubkey)])
    except ValidationError as e:
        assert e.reason == "bad-witness-nonstandard"
        return e.debug
    return None


def test_witness_spends_of_witness_programs_pass():
    assert _witness_reason(P2WPKH, (b"sig", KEY_C)) is None
    assert _witness_reason(P2TR, (b"s" * 64,)) is None  # key path


def test_inputs_without_a_witness_are_not_checked():
    check_witness_standard(tx(), [coin(OP_1)])


def test_rejects_a_witness_on_a_non_witness_spend():
    assert _witness_reason(P2PKH, (b"junk",)) == "input 0: witness on a non-witness-program spend"


def test_rejects_a_witness_on_a_pay_to_anchor_spend():
    assert "pay-to-anchor" in _witness_reason(P2A, (b"stuffing",))


def test_rejects_a_p2wsh_witness_script_over_3600_bytes():
    assert _witness_reason(P2WSH, (b"\x51" * 3_601,)) is not None
    assert _witness_reason(P2WSH, (b"\x51" * 3_600,)) is None


def test_rejects_more_than_100_p2wsh_stack_items():
    assert "101 P2WSH stack items" in _witness_reason(P2WSH, (b"",) * 101 + (OP_1,))
    assert _witness_reason(P2WSH, (b"",) * 100 + (OP_1,)) is None


def test_rejects_a_p2wsh_stack_item_over_80_bytes():
    assert _witness_reason(P2WSH, (b"i" * 81, OP_1)) is not None
    assert _witness_reason(P2WSH, (b"i" * 80, OP_1)) is None


def test_p2wsh_limits_apply_when_nested_in_p2sh():
    redeem = p2wsh_script(H32)
    assert _witness_reason(P2SH, (b"i" * 81, OP_1), push_data(redeem)) is not None
    assert _witness_reason(P2SH, (b"i" * 80, OP_1), push_data(redeem)) is None


def test_rejects_a_witness_on_p2sh_that_does_not_nest_a_witness_program():
    assert _witness_reason(P2SH, (b"w",), push_data(OP_1)) is not None
    assert _witness_reason(P2SH, (b"w",), b"") == "input 0: P2SH redeem script missing"
    assert "P2SH scriptSig fails" in _witness_reason(P2SH, (b"w",), b"\x4c")


def test_rejects_a_taproot_annex():
    assert _witness_reason(P2TR, (b"s" * 64, b"\x50annex")) == "input 0: taproot annex"


def test_rejects_a_tapscript_stack_item_over_80_bytes():
    control = b"\xc0" + H32
    assert _witness_reason(P2TR, (b"i" * 81, OP_1, control)) is not None
    assert _witness_reason(P2TR, (b"i" * 80, OP_1, control)) is None
    # Other leaf versions have no item limit yet.
    assert _witness_reason(P2TR, (b"i" * 81, OP_1, b"\xc2" + H32)) is None


def test_rejects_an_empty_taproot_control_block():
    assert _witness_reason(P2TR, (OP_1, b"")) == "input 0: empty taproot control block"


def test_taproot_rules_do_not_apply_to_p2sh_wrapped_v1_programs():
    redeem = OP_1 + push_data(H32)
    assert _witness_reason(P2SH, (b"s", b"\x50annex"), push_data(redeem)) is None


def test_checks_need_one_coin_per_input():
    with pytest.raises(ValueError):
        check_inputs_standard(tx(), [])
