"""Block rules (Core's CheckBlockHeader, CheckBlock, ContextualCheckBlockHeader,
ContextualCheckBlock, GetBlockScriptFlags) reject with Bitcoin Core's reasons.

Blocks are built on regtest (bits 0x207fffff: about one nonce in two meets the target) at height
1, where BIP34/65/66, CSV and segwit are all active. Each invalid case starts from a valid block
and breaks exactly one rule.
"""

from dataclasses import replace

import pytest

from node.consensus.block_check import (
    SCRIPT_FLAG_EXCEPTIONS,
    block_script_flags,
    check_block,
    check_block_header,
    contextual_check_block,
    contextual_check_block_header,
)
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex, hex_to_hash
from node.consensus.limits import MAX_BLOCK_WEIGHT, MAX_FUTURE_BLOCK_TIME
from node.consensus.merkle import (
    block_witness_merkle_root,
    merkle_root,
    witness_commitment,
    witness_commitment_script,
)
from node.consensus.params import COIN, MAIN, NETWORKS, REGTEST
from node.consensus.pow import check_proof_of_work
from node.consensus.primitives import NULL_OUTPOINT, Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from node.consensus.script.flags import MANDATORY_FLAGS, Flag
from node.consensus.script.opcodes import OP_CHECKMULTISIG, OP_CHECKSIG, OP_PUSHDATA4, OP_TRUE
from node.consensus.script.script import push_data, push_int

P = REGTEST
GENESIS = P.genesis
HEIGHT = 1
TIME = GENESIS.header.time + 600  # the child of genesis
PREV_MTP = GENESIS.header.time  # genesis is its own median time past
NOW = TIME
P2A = bytes((OP_TRUE,))
RESERVED = bytes(32)  # the witness reserved value, zeros by convention


REWARD = TxOut(50 * COIN, P2A)


def coinbase(height=HEIGHT, outputs=(REWARD,), witness=(), script_sig=None):
    # Something after the height keeps small heights (OP_1..OP_16) above the 2-byte minimum.
    if script_sig is None:
        script_sig = push_int(height) + push_data(b"minicash")
    return Tx(2, (TxIn(NULL_OUTPOINT, script_sig, witness=witness),), tuple(outputs))


def spend(n=0, value=1000, witness=(), locktime=0, sequence=0xFFFFFFFF):
    return Tx(2, (TxIn(OutPoint(bytes([n + 1]) * 32, 0), b"", sequence, witness),),
              (TxOut(value, P2A),), locktime)


def with_commitment(cb, txs, reserved=RESERVED):
    """``cb`` plus a BIP141 commitment to ``txs`` (the coinbase's own wtxid counts as zero)."""
    cb = Tx(cb.version, (TxIn(NULL_OUTPOINT, cb.vin[0].script_sig, witness=(reserved,)),),
            cb.vout, cb.locktime)
    root, _ = block_witness_merkle_root(Block(GENESIS.header, (cb, *txs)))
    out = TxOut(0, witness_commitment_script(witness_commitment(root, reserved)))
    return Tx(cb.version, cb.vin, (*cb.vout, out), cb.locktime)


def mine(header):
    """Grind the nonce until the header meets its own bits (a couple of tries on regtest)."""
    nonce = 0
    while True:
        h = replace(header, nonce=nonce)
        if check_proof_of_work(h.hash, h.bits, P):
            return h
        nonce += 1


def make_block(txs, *, root=None, time=TIME, version=0x20000000, bits=0x207FFFFF):
    txs = tuple(txs)
    if root is None:
        root = merkle_root([tx.txid for tx in txs])[0]
    return Block(mine(BlockHeader(version, GENESIS.hash, root, time, bits, 0)), txs)


def valid_block():
    """Coinbase with a witness commitment, one legacy spend and one segwit spend."""
    txs = (spend(0), spend(1, witness=(b"\x01" * 72, b"\x02" * 33)))
    return make_block((with_commitment(coinbase(), txs), *txs))


def reason_of(fn, *args, **kwargs):
    with pytest.raises(ValidationError) as e:
        fn(*args, **kwargs)
    return e.value


def full_check(block, height=HEIGHT, prev_mtp=PREV_MTP, params=P):
    check_block(block, params)
    contextual_check_block(block, height, prev_mtp, params)


# -- valid blocks ------------------------------------------------------------------------------

def test_valid_block_passes_every_check():
    block = valid_block()
    check_block_header(block.header, P)
    full_check(block)
    contextual_check_block_header(block.header, HEIGHT, PREV_MTP, 0x207FFFFF, P, NOW)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_genesis_block_passes_check_block(name):
    params = NETWORKS[name]
    check_block_header(params.genesis.header, params)
    check_block(params.genesis, params)
    contextual_check_block(params.genesis, 0, 0, params)


def test_coinbase_only_block_without_commitment_passes():
    full_check(make_block((coinbase(),)))


# -- CheckBlockHeader / CheckBlock -------------------------------------------------------------

def test_rejects_header_whose_hash_misses_its_target():
    good = valid_block()
    nonce = good.header.nonce
    while True:
        nonce += 1
        header = replace(good.header, nonce=nonce)
        if not check_proof_of_work(header.hash, header.bits, P):
            break
    err = reason_of(check_block_header, header, P)
    assert (err.reason, err.debug) == ("high-hash", "proof of work failed")
    assert reason_of(check_block, Block(header, good.txs), P).reason == "high-hash"
    check_block(Block(header, good.txs), P, check_pow=False)


def test_rejects_bits_easier_than_pow_limit():
    header = BlockHeader(4, bytes(32), bytes(32), TIME, 0x2100FFFF, 0)  # target > pow_limit
    assert reason_of(check_block_header, header, P).reason == "high-hash"


def test_rejects_wrong_merkle_root():
    good = valid_block()
    block = make_block(good.txs, root=bytes(32))
    err = reason_of(check_block, block, P)
    assert (err.reason, err.debug) == ("bad-txnmrklroot", "hashMerkleRoot mismatch")
    check_block(block, P, check_merkle=False)


def test_rejects_merkle_mutation_by_duplicated_transactions():
    # [cb, a, b, b] has the same root as [cb, a, b] (CVE-2012-2459).
    a, b = spend(0), spend(1)
    block = make_block((coinbase(), a, b, b))
    assert block.header.merkle_root == make_block((coinbase(), a, b)).header.merkle_root
    err = reason_of(check_block, block, P)
    assert (err.reason, err.debug) == ("bad-txns-duplicate", "duplicate transaction")


def test_rejects_block_without_transactions():
    err = reason_of(check_block, make_block(()), P)
    assert (err.reason, err.debug) == ("bad-blk-length", "size limits failed")


def test_rejects_more_transactions_than_could_fit():
    tx = spend(0)
    count = MAX_BLOCK_WEIGHT // 4 + 1
    block = make_block((coinbase(),) + (tx,) * (count - 1), root=bytes(32))
    assert reason_of(check_block, block, P, check_merkle=False).reason == "bad-blk-length"


def _block_of_stripped_size(size):
    """Coinbase plus one tx whose single output script is one big push, padded to ``size``."""
    def build(n):
        script = bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little") + bytes(n)
        return make_block((coinbase(), Tx(2, spend(0).vin, (TxOut(0, script),))))
    block = build(900_000)
    return build(900_000 + size - block.base_size)


def test_rejects_stripped_size_over_a_million_bytes():
    at_limit = _block_of_stripped_size(MAX_BLOCK_WEIGHT // 4)
    assert at_limit.base_size == 1_000_000
    check_block(at_limit, P)
    over = _block_of_stripped_size(MAX_BLOCK_WEIGHT // 4 + 1)
    assert over.base_size == 1_000_001
    assert reason_of(check_block, over, P).reason == "bad-blk-length"


def test_rejects_block_whose_first_transaction_is_not_coinbase():
    err = reason_of(check_block, make_block((spend(0), spend(1))), P)
    assert (err.reason, err.debug) == ("bad-cb-missing", "first tx is not coinbase")


def test_rejects_second_coinbase():
    block = make_block((coinbase(), spend(0), coinbase(script_sig=b"\x51\x52")))
    err = reason_of(check_block, block, P)
    assert (err.reason, err.debug) == ("bad-cb-multiple", "more than one coinbase")


def test_rejects_block_with_invalid_transaction_with_its_reason_and_txid():
    bad = Tx(2, spend(0).vin * 2, (TxOut(1, P2A),))  # the same input twice (CVE-2018-17144)
    err = reason_of(check_block, make_block((coinbase(), bad)), P)
    assert err.reason == "bad-txns-inputs-duplicate"
    assert err.debug == f"Transaction check failed (tx hash {hash_to_hex(bad.txid)}) "


def _coinbase_with_multisigs(n):
    return coinbase(outputs=(TxOut(50 * COIN, bytes((OP_CHECKMULTISIG,)) * n),))


def test_rejects_more_than_20000_legacy_sigops():
    check_block(make_block((_coinbase_with_multisigs(1000),)), P)  # 20,000 x 4 = 80,000
    one_more = Tx(2, spend(0).vin, (TxOut(0, bytes((OP_CHECKSIG,))),))
    block = make_block((_coinbase_with_multisigs(1000), one_more))
    err = reason_of(check_block, block, P)
    assert (err.reason, err.debug) == ("bad-blk-sigops", "out-of-bounds SigOpCount")


# -- GetBlockScriptFlags -----------------------------------------------------------------------

def test_script_flags_on_regtest():
    assert block_script_flags(0, P) == Flag.P2SH | Flag.WITNESS | Flag.NULLDUMMY
    assert block_script_flags(1, P) == MANDATORY_FLAGS
    assert not block_script_flags(1_000_000, P) & Flag.TAPROOT


@pytest.mark.parametrize("field,flag", [
    ("bip66_height", Flag.DERSIG),
    ("bip65_height", Flag.CHECKLOCKTIMEVERIFY),
    ("csv_height", Flag.CHECKSEQUENCEVERIFY),
    ("segwit_height", Flag.NULLDUMMY),
])
def test_script_flag_starts_at_its_deployment_height(field, flag):
    height = getattr(MAIN, field)
    assert not block_script_flags(height - 1, MAIN) & flag
    assert block_script_flags(height, MAIN) & flag


def test_p2sh_and_witness_apply_from_genesis():
    assert block_script_flags(0, MAIN) == Flag.P2SH | Flag.WITNESS


def test_bip16_exception_block_gets_no_flags():
    block_170060 = hex_to_hash(
        "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22")
    assert block_170060 in SCRIPT_FLAG_EXCEPTIONS
    assert block_script_flags(170_060, MAIN, block_170060) == 0
    assert block_script_flags(170_060, MAIN, bytes(32)) == Flag.P2SH | Flag.WITNESS


# -- ContextualCheckBlockHeader ----------------------------------------------------------------

def header(version=0x20000000, time=TIME, bits=0x207FFFFF):
    return BlockHeader(version, GENESIS.hash, bytes(32), time, bits, 0)


def test_rejects_bits_other_than_expected():
    err = reason_of(contextual_check_block_header, header(bits=0x207FFFFE), HEIGHT, PREV_MTP,
                    0x207FFFFF, P, NOW)
    assert (err.reason, err.debug) == ("bad-diffbits", "incorrect proof of work")


def test_rejects_time_not_after_median_time_past():
    contextual_check_block_header(header(time=PREV_MTP + 1), HEIGHT, PREV_MTP, 0x207FFFFF, P, NOW)
    err = reason_of(contextual_check_block_header, header(time=PREV_MTP), HEIGHT, PREV_MTP,
                    0x207FFFFF, P, NOW)
    assert (err.reason, err.debug) == ("time-too-old", "block's timestamp is too early")


def test_rejects_time_more_than_two_hours_ahead():
    limit = NOW + MAX_FUTURE_BLOCK_TIME
    contextual_check_block_header(header(time=limit), HEIGHT, PREV_MTP, 0x207FFFFF, P, NOW)
    err = reason_of(contextual_check_block_header, header(time=limit + 1), HEIGHT, PREV_MTP,
                    0x207FFFFF, P, NOW)
    assert (err.reason, err.debug) == ("time-too-new", "block timestamp too far in the future")


@pytest.mark.parametrize("version,field", [
    (1, "bip34_height"), (2, "bip66_height"), (3, "bip65_height")])
def test_rejects_obsolete_version_from_its_upgrade_height(version, field):
    height = getattr(MAIN, field)
    h = header(version=version, bits=0x1D00FFFF)
    contextual_check_block_header(h, height - 1, PREV_MTP, 0x1D00FFFF, MAIN, NOW)
    err = reason_of(contextual_check_block_header, h, height, PREV_MTP, 0x1D00FFFF, MAIN, NOW)
    assert err.reason == f"bad-version(0x0000000{version})"
    assert err.debug == f"rejected nVersion=0x0000000{version} block"


def test_negative_version_is_formatted_as_unsigned():
    err = reason_of(contextual_check_block_header, header(version=-1), HEIGHT, PREV_MTP,
                    0x207FFFFF, P, NOW)
    assert err.reason == "bad-version(0xffffffff)"


# -- ContextualCheckBlock ----------------------------------------------------------------------

def test_rejects_transaction_locked_to_this_height():
    locked = spend(0, locktime=HEIGHT, sequence=0)
    block = make_block((coinbase(), locked))
    check_block(block, P)
    err = reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P)
    assert (err.reason, err.debug) == ("bad-txns-nonfinal", "non-final transaction")
    contextual_check_block(make_block((coinbase(), spend(0, locktime=HEIGHT - 1, sequence=0))),
                           HEIGHT, PREV_MTP, P)


def test_final_sequences_override_lock_time():
    contextual_check_block(make_block((coinbase(), spend(0, locktime=HEIGHT + 100))),
                           HEIGHT, PREV_MTP, P)


def test_bip113_compares_time_locks_with_median_time_past():
    # Locked until PREV_MTP: the block's own time is later, but BIP113 uses the parent's MTP.
    block = make_block((coinbase(), spend(0, locktime=PREV_MTP, sequence=0)))
    assert block.header.time > PREV_MTP
    assert reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P).reason == \
        "bad-txns-nonfinal"
    # Before CSV (BIP113's deployment) the block's own time is the cutoff.
    pre_csv = replace(P, csv_height=HEIGHT + 1)
    contextual_check_block(block, HEIGHT, PREV_MTP, pre_csv)
    late = make_block((coinbase(), spend(0, locktime=TIME, sequence=0)))
    assert reason_of(contextual_check_block, late, HEIGHT, PREV_MTP, pre_csv).reason == \
        "bad-txns-nonfinal"


@pytest.mark.parametrize("height", [1, 16, 17, 127, 128, 255, 256, 32767, 32768, 500_000])
def test_accepts_coinbase_starting_with_its_height(height):
    contextual_check_block(make_block((coinbase(height),)), height, PREV_MTP, P)


@pytest.mark.parametrize("script_sig", [
    push_int(2) + b"\x00",  # another height
    b"\x01\x01\x00",  # height 1 as a one-byte push instead of OP_1 (`CScript() << 1`)
    b"\x00\x51",  # something before the height
])
def test_rejects_coinbase_without_its_height_first(script_sig):
    block = make_block((coinbase(script_sig=script_sig),))
    check_block(block, P)
    err = reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P)
    assert (err.reason, err.debug) == ("bad-cb-height", "block height mismatch in coinbase")


def test_coinbase_height_not_required_before_bip34():
    block = make_block((coinbase(script_sig=b"\x00\x00"),))
    contextual_check_block(block, HEIGHT, PREV_MTP, replace(P, bip34_height=HEIGHT + 1))


def test_rejects_unexpected_witness_without_commitment():
    txs = (spend(0, witness=(b"\x01",)),)
    block = make_block((coinbase(), *txs))
    check_block(block, P)
    err = reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P)
    assert err.reason == "unexpected-witness"


def test_rejects_witness_before_segwit_even_with_commitment():
    block = valid_block()
    pre_segwit = replace(P, segwit_height=HEIGHT + 1)
    assert reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, pre_segwit).reason == \
        "unexpected-witness"
    # Without witness data, a pre-segwit block may carry a commitment-like output: it is
    # not checked.
    cb = with_commitment(coinbase(), ())
    cb = Tx(2, (TxIn(NULL_OUTPOINT, cb.vin[0].script_sig),), cb.vout)
    contextual_check_block(make_block((cb,)), HEIGHT, PREV_MTP, pre_segwit)


@pytest.mark.parametrize("witness", [(), (RESERVED, RESERVED), (bytes(31),), (bytes(33),)])
def test_rejects_coinbase_witness_other_than_one_32_byte_item(witness):
    good = valid_block()
    cb = good.txs[0]
    cb = Tx(cb.version, (TxIn(NULL_OUTPOINT, cb.vin[0].script_sig, witness=witness),), cb.vout)
    block = make_block((cb, *good.txs[1:]))
    check_block(block, P)
    err = reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P)
    assert err.reason == "bad-witness-nonce-size"


def test_rejects_commitment_that_does_not_match():
    good = valid_block()
    # Commit to the transactions without the segwit spend's witness.
    cb = with_commitment(coinbase(), (spend(0), spend(1)))
    block = make_block((cb, *good.txs[1:]))
    check_block(block, P)
    err = reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P)
    assert err.reason == "bad-witness-merkle-match"


def test_reserved_value_is_part_of_the_commitment():
    txs = valid_block().txs[1:]
    full_check(make_block((with_commitment(coinbase(), txs, reserved=b"\x07" * 32), *txs)))
    cb = with_commitment(coinbase(), txs)  # commits with zeros; now claim another value
    cb = Tx(cb.version, (TxIn(NULL_OUTPOINT, cb.vin[0].script_sig, witness=(b"\x07" * 32,)),),
            cb.vout)
    assert reason_of(contextual_check_block, make_block((cb, *txs)), HEIGHT, PREV_MTP, P).reason \
        == "bad-witness-merkle-match"


def test_last_commitment_output_is_the_one_that_counts():
    txs = valid_block().txs[1:]
    cb = with_commitment(coinbase(), txs)
    wrong = TxOut(0, witness_commitment_script(bytes(32)))
    full_check(make_block((Tx(2, cb.vin, (wrong, *cb.vout)), *txs)))
    block = make_block((Tx(2, cb.vin, (*cb.vout, wrong)), *txs))
    assert reason_of(contextual_check_block, block, HEIGHT, PREV_MTP, P).reason == \
        "bad-witness-merkle-match"


def test_rejects_weight_over_four_million():
    def build(witness_size):
        txs = (spend(0, witness=(bytes(witness_size),)),)
        return make_block((with_commitment(coinbase(), txs), *txs))
    probe = build(3_000_000)
    at_limit = build(3_000_000 + MAX_BLOCK_WEIGHT - probe.weight)
    assert at_limit.weight == MAX_BLOCK_WEIGHT
    full_check(at_limit)
    over = build(3_000_000 + MAX_BLOCK_WEIGHT - probe.weight + 1)
    assert over.weight == MAX_BLOCK_WEIGHT + 1
    check_block(over, P)  # the stripped size is tiny: only the witness is too big
    err = reason_of(contextual_check_block, over, HEIGHT, PREV_MTP, P)
    assert err.reason == "bad-blk-weight"
