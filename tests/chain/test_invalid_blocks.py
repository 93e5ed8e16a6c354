"""Invalid blocks, one broken rule each: a catalog in the spirit of Bitcoin Core's
test/functional/feature_block.py.

Every case builds a block on a regtest chain of 110 blocks mined by the builder's wallet (so the
coinbases of heights 1..11 are mature at height 111), breaks exactly one consensus rule, and
checks that :meth:`ChainState.process_block` rejects it with Bitcoin Core's reject reason while
the tip and the UTXO set stay as they were.

What a second submission of the same block gets depends on where Core rejects it
(validation.cpp):

- ``HEADER``: CheckBlockHeader or ContextualCheckBlockHeader, or a parent marked invalid
  (AcceptBlockHeader). The header never enters the block index, so the block is judged afresh
  and fails for the same reason.
- ``CHECK_BLOCK``: CheckBlock, which ProcessNewBlock runs *before* AcceptBlock so that such a
  block is never marked invalid ("protective against consensus failure if there are any unknown
  forms of block malleability"). Core gives the same reason again; minicash marks these blocks
  failed, see :func:`test_check_block_failure_does_not_mark_the_block_invalid`.
- ``MUTATED``: BLOCK_MUTATED results (merkle and witness malleation). Never marked invalid:
  the genuine block with the same header still connects afterwards.
- ``INVALID``: ContextualCheckBlock and ConnectBlock. Core marks the block BLOCK_FAILED_VALID
  and answers a second submission with ``duplicate``.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import pytest

from node.chain.chainstate import ChainState, _enforce_bip30
from node.chain.index import BlockIndex
from node.consensus.errors import ValidationError
from node.consensus.limits import MAX_BLOCK_WEIGHT, MAX_FUTURE_BLOCK_TIME, WITNESS_SCALE_FACTOR
from node.consensus.params import COIN, MAX_MONEY, REGTEST, get_params
from node.consensus.pow import check_proof_of_work
from node.consensus.primitives import (
    NULL_HASH,
    NULL_OUTPOINT,
    Block,
    BlockHeader,
    OutPoint,
    Tx,
    TxIn,
    TxOut,
)
from node.consensus.script.interpreter import SEQUENCE_LOCKTIME_TYPE_FLAG
from node.consensus.script.script import push_data
from node.mining.blocktools import create_coinbase

from .builder import BlockMaker, Wallet, assemble_block

CHAIN_LENGTH = 110
# The chain's clock, fixed so that time-too-new is exact (the mined blocks are dated 2011).
NOW = REGTEST.genesis_time + 100_000
FEE = 1_000
MAX_BLOCK_SIGOPS = 20_000  # Core's test framework: MAX_BLOCK_SIGOPS_COST // WITNESS_SCALE_FACTOR
MAX_BLOCK_BASE_SIZE = MAX_BLOCK_WEIGHT // WITNESS_SCALE_FACTOR
OP_TRUE = b"\x51"
OP_CHECKSIG = b"\xac"
OP_RETURN = b"\x6a"


class Stage(Enum):
    """Where Bitcoin Core rejects the block (see the module docstring)."""

    HEADER = "header"
    CHECK_BLOCK = "check-block"
    MUTATED = "mutated"
    INVALID = "invalid"


# -- the prepared chain ------------------------------------------------------------------------

@dataclass
class Env:
    chain: ChainState
    maker: BlockMaker
    coinbases: list[Tx]  # the coinbase of the block at height h is coinbases[h - 1]

    @property
    def wallet(self) -> Wallet:
        return self.maker.wallet

    @property
    def height(self) -> int:
        """The height of the block under test: one above the tip."""
        return self.chain.height + 1

    def coin(self, height: int) -> tuple[OutPoint, int]:
        """The output of the coinbase at ``height`` (mature for heights up to tip - 98)."""
        cb = self.coinbases[height - 1]
        return OutPoint(cb.txid, 0), cb.vout[0].value

    def pay(self, coins: list[tuple[OutPoint, int]], outputs: list[TxOut] | None = None,
            **kwargs) -> Tx:
        """The wallet's spend of ``coins``, by default back to itself less FEE."""
        if outputs is None:
            outputs = [TxOut(sum(v for _, v in coins) - FEE, self.wallet.script_pubkey)]
        return self.wallet.spend(coins, outputs, **kwargs)

    def block(self, txs: Sequence[Tx] = (), **kwargs) -> Block:
        """A block on the tip with a valid coinbase (and witness commitment) before ``txs``."""
        return self.maker.block(self.chain.tip, txs, **kwargs)

    def coinbase(self, *, value: int | None = None, script_pubkey: bytes | None = None,
                 extra: bytes = b"\x04\xc0\xff\xee\x00") -> Tx:
        """A valid coinbase for the block under test (BIP34 height first)."""
        return create_coinbase(
            self.height, REGTEST.block_subsidy(self.height) if value is None else value,
            self.wallet.script_pubkey if script_pubkey is None else script_pubkey, extra)

    def assemble(self, txs: list[Tx], **kwargs) -> Block:
        """A solved block on the tip with exactly ``txs`` (no coinbase added)."""
        return assemble_block(self.chain.tip, txs, **kwargs)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A datadir holding a regtest chain of CHAIN_LENGTH blocks, and those blocks' coinbases."""
    datadir = tmp_path_factory.mktemp("prepared") / "node"
    maker = BlockMaker()
    coinbases = []
    with ChainState(REGTEST, datadir, clock=lambda: NOW) as chain:
        for _ in range(CHAIN_LENGTH):
            block = maker.block(chain.tip)
            chain.process_block(block)
            coinbases.append(block.txs[0])
        assert chain.height == CHAIN_LENGTH
    return datadir, coinbases


@pytest.fixture(params=[1, 2], ids=["1worker", "2workers"])
def env(prepared, tmp_path, request):
    """The prepared chain, checking scripts inline (1 worker) or with a helper process (2):
    a block that would be the new tip is then connected as it is parsed, before CheckBlock,
    and must still get the reason Core gives."""
    source, coinbases = prepared
    datadir = tmp_path / "node"
    shutil.copytree(source, datadir)
    with ChainState(REGTEST, datadir, clock=lambda: NOW, script_workers=request.param) as chain:
        yield Env(chain, BlockMaker(), list(coinbases))


def utxo_stats(chain: ChainState):
    chain.flush()
    return chain._coins_db.stats()


def reject_reason(chain: ChainState, block: Block) -> str:
    with pytest.raises(ValidationError) as excinfo:
        chain.process_block(block)
    return excinfo.value.reason


def is_marked_failed(chain: ChainState, block: Block) -> bool:
    index = chain.index.get(block.hash)
    return index is not None and index.is_failed()


# -- small constructions -----------------------------------------------------------------------

def with_witness(tx: Tx, n: int, witness: tuple[bytes, ...]) -> Tx:
    """``tx`` with input ``n``'s witness replaced (same txid, new wtxid)."""
    vin = list(tx.vin)
    txin = vin[n]
    vin[n] = TxIn(txin.prevout, txin.script_sig, txin.sequence, witness)
    return Tx(tx.version, tuple(vin), tx.vout, tx.locktime)


def failing_nonce(block: Block) -> Block:
    """``block`` with the first nonce whose header hash misses its target."""
    h = block.header
    for nonce in range(1 << 32):
        header = BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, nonce)
        if not check_proof_of_work(header.hash, h.bits, REGTEST):
            return Block(header, block.txs)
    raise AssertionError("every nonce met the target")


def op_return_padding(n: int) -> bytes:
    """An unspendable output script of ``n`` + 6 bytes with no sigops (one PUSHDATA4)."""
    return OP_RETURN + push_data(bytes(n))


def padded_block(env: Env, heights: list[int], base_size: int) -> Block:
    """A block spending the coinbases at ``heights``, one tx each, padded with OP_RETURN outputs
    so that the block's stripped size is exactly ``base_size`` and each tx stays below the
    per-transaction limit (bad-txns-oversize)."""
    pads = [base_size // len(heights)] * len(heights)
    for _ in range(5):
        txs = []
        for height, pad in zip(heights, pads, strict=True):
            op, value = env.coin(height)
            txs.append(env.pay([(op, value)], [TxOut(value - FEE, env.wallet.script_pubkey),
                                              TxOut(0, op_return_padding(pad))]))
        block = env.block(txs)
        missing = base_size - block.base_size
        if missing == 0:
            assert all(tx.base_size * WITNESS_SCALE_FACTOR <= MAX_BLOCK_WEIGHT for tx in txs)
            return block
        pads[-1] += missing
    raise AssertionError(f"could not pad a block to {base_size} bytes")


def p2wsh(witness_script: bytes) -> bytes:
    return b"\x00\x20" + hashlib.sha256(witness_script).digest()


# -- the catalog: one builder per case ---------------------------------------------------------
# A builder returns the invalid block; for MUTATED cases where a genuine block with the same
# header exists, it returns (mutated block, genuine block).

def high_hash(env: Env) -> Block:
    return failing_nonce(env.block(solve_pow=False))


def bad_diffbits(env: Env) -> Block:
    # Regtest never retargets: every block must carry the pow limit's bits, 0x207fffff. One less
    # is a (slightly) harder target, so the proof of work itself is still valid.
    return env.block(bits=0x207FFFFE)


def bad_merkle_root(env: Env) -> tuple[Block, Block]:
    genuine = env.block([env.pay([env.coin(1)])])
    return Block(genuine.header, genuine.txs[:1]), genuine  # the spend dropped


def duplicate_tx_merkle_mutation(env: Env) -> tuple[Block, Block]:
    # CVE-2012-2459: [cb, a, b] and [cb, a, b, b] have the same merkle root.
    genuine = env.block([env.pay([env.coin(1)]), env.pay([env.coin(2)])])
    return Block(genuine.header, genuine.txs + genuine.txs[-1:]), genuine


def no_coinbase(env: Env) -> Block:
    # Without a coinbase there is nowhere to commit to the spend's witness either; CheckBlock
    # looks for the coinbase first, in Core and here.
    return env.assemble([env.pay([env.coin(1)])], commit_witness=False)


def two_coinbases(env: Env) -> Block:
    second = env.coinbase(value=0, extra=b"\x02\x0b\x0b")
    return env.assemble([env.coinbase(), second])


def coinbase_script_sig_too_short(env: Env) -> Block:
    # One byte cannot hold the BIP34 height above 16 either; CheckBlock (bad-cb-length) runs
    # before ContextualCheckBlock (bad-cb-height), in Core and here.
    cb = Tx(2, (TxIn(NULL_OUTPOINT, OP_TRUE),),
            (TxOut(REGTEST.block_subsidy(env.height), env.wallet.script_pubkey),))
    return env.assemble([cb])


def coinbase_script_sig_too_long(env: Env) -> Block:
    cb = env.coinbase(extra=bytes(99))  # 2-byte height push + 99 OP_0s = 101 bytes
    assert len(cb.vin[0].script_sig) == 101
    return env.assemble([cb])


def coinbase_pays_too_much(env: Env) -> Block:
    return env.block(reward=REGTEST.block_subsidy(env.height) + 1)


def spend_of_nonexistent_output(env: Env) -> Block:
    return env.block([env.pay([(OutPoint(b"\xab" * 32, 0), 50 * COIN)])])


def double_spend_in_one_block(env: Env) -> Block:
    coin = env.coin(1)
    return env.block([env.pay([coin]),
                      env.pay([coin], [TxOut(coin[1] - 2 * FEE, env.wallet.script_pubkey)])])


def double_spend_across_blocks(env: Env) -> Block:
    coin = env.coin(1)
    first = env.block([env.pay([coin])])
    assert env.chain.process_block(first) is not None and env.chain.tip.hash == first.hash
    return env.block([env.pay([coin], [TxOut(coin[1] - 2 * FEE, env.wallet.script_pubkey)])])


def spend_of_op_return_output(env: Env) -> Block:
    # Provably unspendable outputs never enter the UTXO set (Core: IsUnspendable).
    op, value = env.coin(1)
    burn = env.pay([(op, value)], [TxOut(COIN, OP_RETURN), TxOut(value - COIN - FEE,
                                                                  env.wallet.script_pubkey)])
    return env.block([burn, env.pay([(OutPoint(burn.txid, 0), COIN)])])


def spend_of_output_created_later_in_block(env: Env) -> Block:
    parent = env.pay([env.coin(1)])
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)])
    return env.block([child, parent])


def duplicate_inputs(env: Env) -> Block:
    coin = env.coin(1)
    return env.block([env.pay([coin, coin], [TxOut(coin[1] - FEE, env.wallet.script_pubkey)])])


def null_prevout_in_non_coinbase(env: Env) -> Block:
    op, value = env.coin(1)
    return env.block([env.pay([(op, value), (NULL_OUTPOINT, 0)])])


def immature_coinbase_spend(env: Env) -> Block:
    # The coinbase at height 12 is 99 blocks deep at height 111: one block short of maturity.
    return env.block([env.pay([env.coin(env.height - REGTEST.coinbase_maturity + 1)])])


def spend_of_coinbase_in_its_own_block(env: Env) -> Block:
    # The coinbase pays to bare OP_TRUE so that spending it needs no witness: a witness spend
    # would need a commitment in the very coinbase whose txid it references.
    cb = env.coinbase(script_pubkey=OP_TRUE)
    spend = Tx(2, (TxIn(OutPoint(cb.txid, 0)),),
               (TxOut(cb.vout[0].value - FEE, env.wallet.script_pubkey),))
    return env.assemble([cb, spend])


def outputs_exceed_inputs(env: Env) -> Block:
    op, value = env.coin(1)
    return env.block([env.pay([(op, value)], [TxOut(value + 1, env.wallet.script_pubkey)])])


def negative_output(env: Env) -> Block:
    op, value = env.coin(1)
    return env.block([env.pay([(op, value)], [TxOut(-1, env.wallet.script_pubkey),
                                              TxOut(value - FEE, env.wallet.script_pubkey)])])


def output_above_max_money(env: Env) -> Block:
    # Such an output necessarily exceeds the inputs too; CheckTransaction comes first.
    return env.block([env.pay([env.coin(1)], [TxOut(MAX_MONEY + 1, env.wallet.script_pubkey)])])


def outputs_total_above_max_money(env: Env) -> Block:
    return env.block([env.pay([env.coin(1)], [TxOut(MAX_MONEY, env.wallet.script_pubkey),
                                              TxOut(1, env.wallet.script_pubkey)])])


def tx_without_inputs(env: Env) -> Block:
    return env.block([Tx(2, (), (TxOut(0, OP_RETURN),))])


def tx_without_outputs(env: Env) -> Block:
    return env.block([env.pay([env.coin(1)], [])])


def time_at_median_time_past(env: Env) -> Block:
    return env.block(time=env.chain.tip.median_time_past())


def time_more_than_two_hours_ahead(env: Env) -> Block:
    return env.block(time=NOW + MAX_FUTURE_BLOCK_TIME + 1)


def wrong_bip34_height(env: Env) -> Block:
    cb = create_coinbase(env.height + 1, REGTEST.block_subsidy(env.height),
                         env.wallet.script_pubkey)
    return env.assemble([cb])


def locktime_height_not_reached(env: Env) -> Block:
    # nLockTime is the last height at which the tx is NOT valid.
    return env.block([env.pay([env.coin(1)], locktime=env.height)])


def locktime_time_not_reached(env: Env) -> Block:
    # BIP113: compared with the parent's median time past, not the block's own time.
    return env.block([env.pay([env.coin(1)], locktime=env.chain.tip.median_time_past())])


def bip68_height_lock_not_met(env: Env) -> Block:
    # A coin from height 11 with a 101-block relative lock is spendable from height 112.
    return env.block([env.pay([env.coin(11)], sequence=101)])


def bip68_time_lock_not_met(env: Env) -> Block:
    return env.block([env.pay([env.coin(1)], sequence=SEQUENCE_LOCKTIME_TYPE_FLAG | 1000)])


def base_size_above_one_megabyte(env: Env) -> Block:
    # Core's CheckBlock: stripped size x 4 > MAX_BLOCK_WEIGHT. Two txs of ~500 kB, so that no
    # single tx breaks the per-tx limit first.
    block = padded_block(env, [1, 2], MAX_BLOCK_BASE_SIZE + 1)
    assert block.base_size == MAX_BLOCK_BASE_SIZE + 1
    return block


def weight_above_limit(env: Env) -> Block:
    # Stripped size exactly 1 MB passes CheckBlock; the committed witnesses then tip the weight
    # over 4M in ContextualCheckBlock.
    block = padded_block(env, [1], MAX_BLOCK_BASE_SIZE)
    assert block.weight > MAX_BLOCK_WEIGHT
    return block


def legacy_sigops_above_limit(env: Env) -> Block:
    op, value = env.coin(1)
    script = OP_CHECKSIG * (MAX_BLOCK_SIGOPS + 1)
    return env.block([env.pay([(op, value)], [TxOut(value - FEE, script)])])


def sigop_cost_above_limit(env: Env) -> Block:
    # Exactly MAX_BLOCK_SIGOPS legacy sigops pass CheckBlock; the P2WPKH input's one witness
    # sigop makes the cost 80,001 in ConnectBlock.
    op, value = env.coin(1)
    script = OP_CHECKSIG * MAX_BLOCK_SIGOPS
    return env.block([env.pay([(op, value)], [TxOut(value - FEE, script)])])


def witness_commitment_mismatch(env: Env) -> tuple[Block, Block]:
    genuine = env.block([env.pay([env.coin(1)])])
    cb, spend = genuine.txs
    sig, pubkey = spend.vin[0].witness
    mangled = with_witness(spend, 0, (sig[:-1] + b"\x02", pubkey))
    return Block(genuine.header, (cb, mangled)), genuine


def witness_nonce_wrong_size(env: Env) -> tuple[Block, Block]:
    genuine = env.block([env.pay([env.coin(1)])])
    cb, spend = genuine.txs
    return Block(genuine.header, (with_witness(cb, 0, (bytes(33),)), spend)), genuine


def witness_on_coinbase_without_commitment(env: Env) -> tuple[Block, Block]:
    genuine = env.block()
    assert not genuine.txs[0].has_witness()
    return Block(genuine.header, (with_witness(genuine.txs[0], 0, (NULL_HASH,)),)), genuine


def witness_spend_without_commitment(env: Env) -> Block:
    return env.assemble([env.coinbase(), env.pay([env.coin(1)])], commit_witness=False)


def bad_signature(env: Env) -> Block:
    # Signed for the wrong amount (BIP143 commits to the amount spent).
    op, value = env.coin(1)
    return env.block([env.wallet.spend([(op, value + 1)],
                                       [TxOut(value - FEE, env.wallet.script_pubkey)])])


def p2wpkh_spend_with_wrong_key(env: Env) -> Block:
    op, value = env.coin(1)
    thief = Wallet(b"not the owner")
    return env.block([thief.spend([(op, value)], [TxOut(value - FEE, thief.script_pubkey)])])


def p2wsh_spend_with_wrong_script(env: Env) -> Block:
    op, value = env.coin(1)
    fund = env.pay([(op, value)], [TxOut(value - FEE, p2wsh(OP_TRUE))])
    spend = Tx(2, (TxIn(OutPoint(fund.txid, 0), b"", 0xFFFFFFFE, (b"\x52",)),),  # OP_2
               (TxOut(value - 2 * FEE, env.wallet.script_pubkey),))
    return env.block([fund, spend])


def version_1(env: Env) -> Block:
    return env.block(version=1)


def version_2(env: Env) -> Block:
    return env.block(version=2)


def version_3(env: Env) -> Block:
    return env.block(version=3)


def version_negative(env: Env) -> Block:
    return env.block(version=-0x80000000)  # int32 nVersion, formatted as its bit pattern


def child_of_invalid_block(env: Env) -> Block:
    parent = coinbase_pays_too_much(env)
    assert reject_reason(env.chain, parent) == "bad-cb-amount"
    return env.maker.block(env.chain.index[parent.hash])


@dataclass(frozen=True)
class Case:
    build: Callable[[Env], Block | tuple[Block, Block]]
    reason: str
    stage: Stage


def case(build, reason: str, stage: Stage, case_id: str):
    return pytest.param(Case(build, reason, stage), id=case_id)


H, C, M, INV = Stage.HEADER, Stage.CHECK_BLOCK, Stage.MUTATED, Stage.INVALID
MISSING = "bad-txns-inputs-missingorspent"
SCRIPT_FAILED = "mandatory-script-verify-flag-failed"

CATALOG = [
    # Header: CheckBlockHeader, ContextualCheckBlockHeader, AcceptBlockHeader.
    case(high_hash, "high-hash", H, "pow-hash-above-target"),
    case(bad_diffbits, "bad-diffbits", H, "bits-not-the-expected-difficulty"),
    case(time_at_median_time_past, "time-too-old", H, "time-at-median-time-past"),
    case(time_more_than_two_hours_ahead, "time-too-new", H, "time-more-than-2h-ahead"),
    case(version_1, "bad-version(0x00000001)", H, "version-1-after-bip34"),
    case(version_2, "bad-version(0x00000002)", H, "version-2-after-bip66"),
    case(version_3, "bad-version(0x00000003)", H, "version-3-after-bip65"),
    case(version_negative, "bad-version(0x80000000)", H, "version-negative"),
    case(child_of_invalid_block, "bad-prevblk", H, "parent-marked-invalid"),
    # CheckBlock.
    case(bad_merkle_root, "bad-txnmrklroot", M, "merkle-root-mismatch"),
    case(duplicate_tx_merkle_mutation, "bad-txns-duplicate", M, "merkle-duplicate-tx"),
    case(base_size_above_one_megabyte, "bad-blk-length", C, "stripped-size-above-1MB"),
    case(no_coinbase, "bad-cb-missing", C, "no-coinbase"),
    case(two_coinbases, "bad-cb-multiple", C, "two-coinbases"),
    case(coinbase_script_sig_too_short, "bad-cb-length", C, "coinbase-scriptsig-1-byte"),
    case(coinbase_script_sig_too_long, "bad-cb-length", C, "coinbase-scriptsig-101-bytes"),
    case(tx_without_inputs, "bad-txns-vin-empty", C, "tx-without-inputs"),
    case(tx_without_outputs, "bad-txns-vout-empty", C, "tx-without-outputs"),
    case(negative_output, "bad-txns-vout-negative", C, "output-negative"),
    case(output_above_max_money, "bad-txns-vout-toolarge", C, "output-above-max-money"),
    case(outputs_total_above_max_money, "bad-txns-txouttotal-toolarge", C,
         "outputs-total-above-max-money"),
    case(duplicate_inputs, "bad-txns-inputs-duplicate", C, "tx-spends-one-output-twice"),
    case(null_prevout_in_non_coinbase, "bad-txns-prevout-null", C, "null-prevout-in-spend"),
    case(legacy_sigops_above_limit, "bad-blk-sigops", C, "legacy-sigops-20001"),
    # ContextualCheckBlock.
    case(locktime_height_not_reached, "bad-txns-nonfinal", INV, "locktime-height-not-reached"),
    case(locktime_time_not_reached, "bad-txns-nonfinal", INV, "locktime-mtp-not-reached"),
    case(wrong_bip34_height, "bad-cb-height", INV, "bip34-height-wrong"),
    case(witness_nonce_wrong_size, "bad-witness-nonce-size", M, "witness-nonce-33-bytes"),
    case(witness_commitment_mismatch, "bad-witness-merkle-match", M,
         "witness-commitment-mismatch"),
    case(witness_on_coinbase_without_commitment, "unexpected-witness", M,
         "coinbase-witness-without-commitment"),
    case(witness_spend_without_commitment, "unexpected-witness", M,
         "witness-spend-without-commitment"),
    case(weight_above_limit, "bad-blk-weight", INV, "weight-above-4M"),
    # ConnectBlock.
    case(spend_of_nonexistent_output, MISSING, INV, "spend-nonexistent-output"),
    case(double_spend_in_one_block, MISSING, INV, "double-spend-in-one-block"),
    case(double_spend_across_blocks, MISSING, INV, "double-spend-across-blocks"),
    case(spend_of_op_return_output, MISSING, INV, "spend-op-return-output"),
    case(spend_of_output_created_later_in_block, MISSING, INV, "spend-before-creation"),
    case(immature_coinbase_spend, "bad-txns-premature-spend-of-coinbase", INV,
         "coinbase-spend-at-depth-99"),
    case(spend_of_coinbase_in_its_own_block, "bad-txns-premature-spend-of-coinbase", INV,
         "coinbase-spend-in-own-block"),
    case(outputs_exceed_inputs, "bad-txns-in-belowout", INV, "outputs-exceed-inputs"),
    case(coinbase_pays_too_much, "bad-cb-amount", INV, "coinbase-pays-subsidy-plus-1"),
    case(bip68_height_lock_not_met, "bad-txns-nonfinal", INV, "bip68-height-lock"),
    case(bip68_time_lock_not_met, "bad-txns-nonfinal", INV, "bip68-time-lock"),
    case(sigop_cost_above_limit, "bad-blk-sigops", INV, "sigop-cost-80001"),
    case(bad_signature, f"{SCRIPT_FAILED} (Script evaluated without error but finished with "
         "a false/empty top stack element)", INV, "signature-for-wrong-amount"),
    case(p2wpkh_spend_with_wrong_key, f"{SCRIPT_FAILED} (Script failed an OP_EQUALVERIFY "
         "operation)", INV, "p2wpkh-key-hash-mismatch"),
    case(p2wsh_spend_with_wrong_script, f"{SCRIPT_FAILED} (Witness program hash mismatch)", INV,
         "p2wsh-script-hash-mismatch"),
]


def _split(built: Block | tuple[Block, Block]) -> tuple[Block, Block | None]:
    return built if isinstance(built, tuple) else (built, None)


@pytest.mark.parametrize("case", CATALOG)
def test_invalid_block_is_rejected_with_cores_reason_and_changes_nothing(env, case):
    bad, genuine = _split(case.build(env))
    chain = env.chain
    tip, stats = chain.tip.hash, utxo_stats(chain)

    # Exact, so the script cases also pin Core's ScriptErrorString after the prefix.
    assert reject_reason(chain, bad) == case.reason
    assert chain.tip.hash == tip
    assert utxo_stats(chain) == stats

    again = reject_reason(chain, bad)
    if case.stage is Stage.INVALID:
        assert is_marked_failed(chain, bad)
        assert again == "duplicate"
    elif case.stage is Stage.HEADER:
        assert bad.hash not in chain.index
        assert again == case.reason
    elif case.stage is Stage.MUTATED:
        assert not is_marked_failed(chain, bad)
        assert again == case.reason
    else:  # CHECK_BLOCK: never indexed, so never condemned (Core's ProcessNewBlock)
        assert bad.hash not in chain.index
        assert again == case.reason
    assert chain.tip.hash == tip
    assert utxo_stats(chain) == stats

    if genuine is not None:  # the mutation did not condemn the header: the real block connects
        assert genuine.hash == bad.hash
        assert chain.process_block(genuine) is not None
        assert chain.tip.hash == genuine.hash
        assert utxo_stats(chain) != stats


def test_catalog_covers_at_least_thirty_cases():
    assert len(CATALOG) >= 30
    assert len({p.id for p in CATALOG}) == len(CATALOG)


CHECK_BLOCK_CASES = [p for p in CATALOG if p.values[0].stage is Stage.CHECK_BLOCK]


@pytest.mark.parametrize("case", CHECK_BLOCK_CASES)
def test_check_block_failure_does_not_mark_the_block_invalid(env, case):
    bad, _ = _split(case.build(env))
    assert reject_reason(env.chain, bad) == case.reason
    assert not is_marked_failed(env.chain, bad)
    assert reject_reason(env.chain, bad) == case.reason  # judged afresh, not "duplicate"


# -- around the catalog ------------------------------------------------------------------------

def test_the_prepared_chain_can_spend_its_mature_coinbases(env):
    block = env.block([env.pay([env.coin(h)]) for h in range(1, 12)])
    assert env.chain.process_block(block) is not None
    assert env.chain.tip.hash == block.hash


def test_block_exactly_two_hours_ahead_is_accepted(env):
    block = env.block(time=NOW + MAX_FUTURE_BLOCK_TIME)
    assert env.chain.process_block(block) is not None
    assert env.chain.tip.hash == block.hash


def test_block_with_unknown_parent_waits_as_orphan_without_error(env):
    chain = env.chain
    tip, stats = chain.tip.hash, utxo_stats(chain)
    parent = env.block()
    child = env.maker.block(_unconnected_index(parent, chain))
    assert chain.process_block(child) is None
    assert chain.orphan_count() == 1
    assert child.hash not in chain.index
    assert chain.tip.hash == tip
    assert utxo_stats(chain) == stats
    # The parent's arrival connects both.
    chain.process_block(parent)
    assert chain.tip.hash == child.hash
    assert chain.orphan_count() == 0


def _unconnected_index(block: Block, chain: ChainState) -> BlockIndex:
    """An index entry for ``block`` that the chain does not know, to build a child on."""
    prev = chain.index[block.header.prev_hash]
    return BlockIndex(block.header, prev.height + 1, prev)


def _raise_median_time_past_to(env: Env, target: int) -> None:
    """Mine blocks dated ``target`` until the tip's median time past is ``target``."""
    for _ in range(11):
        if env.chain.tip.median_time_past() == target:
            return
        env.chain.process_block(env.block(time=target))
    raise AssertionError(f"median time past stuck at {env.chain.tip.median_time_past()}")


def _bip68_time_lock_setup(env: Env, mtp_over_core_boundary: int) -> tuple[Tx, int]:
    """A spend of the coinbase at height 10 with a 512-second relative time lock, and the tip's
    median time past placed ``mtp_over_core_boundary`` seconds after Core's last invalid time.

    Core (CalculateSequenceLocks): the coin's time is the median time past of the block *before*
    the coin's, here MTP(9); the lock's last invalid time is that + 512 - 1, and the block is
    valid only if its parent's MTP is greater.
    """
    coin_height = 10
    active = env.chain.active
    coin_time = active[coin_height - 1].median_time_past()
    # MTP(8) < MTP(9) here, so measuring from one block too early would be visible.
    assert active[coin_height - 2].median_time_past() < coin_time
    last_invalid = coin_time + 512 - 1
    _raise_median_time_past_to(env, last_invalid + mtp_over_core_boundary)
    tx = env.pay([env.coin(coin_height)], sequence=SEQUENCE_LOCKTIME_TYPE_FLAG | 1)
    return tx, last_invalid


def test_bip68_time_lock_is_met_once_parent_mtp_passes_the_lock(env):
    tx, _ = _bip68_time_lock_setup(env, 1)
    block = env.block([tx])
    assert env.chain.process_block(block) is not None
    assert env.chain.tip.hash == block.hash


def test_bip68_time_lock_at_exact_boundary_is_not_final(env):
    tx, last_invalid = _bip68_time_lock_setup(env, 0)
    chain = env.chain
    assert chain.tip.median_time_past() == last_invalid
    tip, stats = chain.tip.hash, utxo_stats(chain)
    assert reject_reason(chain, env.block([tx])) == "bad-txns-nonfinal"
    assert chain.tip.hash == tip
    assert utxo_stats(chain) == stats


@pytest.mark.parametrize(("network", "height", "checked"), [
    ("main", 100_000, True),  # before BIP34
    ("main", 91_842, False),  # Core's two historical duplicate coinbases
    ("main", 91_880, False),
    ("main", 227_931, False),  # BIP34 active: its unique coinbases imply BIP30
    ("main", 1_983_701, False),
    ("main", 1_983_702, True),  # an early coinbase encodes this height: checked again
    ("regtest", 0, REGTEST.bip34_height > 0),
    ("regtest", REGTEST.bip34_height, False),
])
def test_bip30_is_checked_where_bip34_does_not_imply_it(network, height, checked):
    assert _enforce_bip30(height, get_params(network)) is checked
