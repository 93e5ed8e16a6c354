"""Scripts checked ahead of connection (node.chain.preverify): what passes is skipped when
the block connects; nothing it does can let an invalid block through or change the chain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.chain.chainstate import ChainState
from node.chain.preverify import is_new_tip, preverify_scripts
from node.consensus.errors import ValidationError
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut

from .builder import BlockMaker, mine_to_maturity


@pytest.fixture
def funded(tmp_path):
    """A chain whose first coinbase (the wallet's) is mature, and the maker."""
    with ChainState(REGTEST, tmp_path / "node", script_workers=2) as chain:
        maker = BlockMaker()
        yield chain, maker, mine_to_maturity(chain, maker)


def _fan(maker: BlockMaker, coinbase: Tx, n: int) -> Tx:
    value = coinbase.vout[0].value
    share = (value - 10_000) // n
    return maker.wallet.spend([(OutPoint(coinbase.txid, 0), value)],
                              [TxOut(share, maker.wallet.script_pubkey) for _ in range(n)])


def test_verified_transactions_are_skipped_when_the_block_connects(funded):
    chain, maker, coinbase = funded
    fan = _fan(maker, coinbase, 3)
    share = fan.vout[0].value
    # Children spend the fan-out inside the same block: their coins come from the block.
    kids = [maker.wallet.spend([(OutPoint(fan.txid, i), share)],
                               [TxOut(share - 1_000, maker.wallet.script_pubkey)])
            for i in range(3)]
    block = maker.block(chain.tip, [fan, *kids], fees=10_000 + 3_000)
    coins_before = len(chain.coins)

    flags, passed = preverify_scripts(chain, block)

    assert set(passed) == {t.wtxid for t in [fan, *kids]}
    assert len(chain.coins) == coins_before  # read-only: the cache did not grow
    for w in passed:
        chain.script_checker.cache.add(w, flags)
    session = chain.script_checker.session(flags)
    for pos, tx in enumerate(block.txs[1:], 1):
        session.add(pos, tx, [])
    assert session.skipped == 4
    assert chain.process_block(block).hash == block.hash


def test_a_bad_signature_is_not_recorded_and_the_block_is_still_rejected(funded):
    chain, maker, coinbase = funded
    good = _fan(maker, coinbase, 2)
    txin = good.vin[0]
    sig = bytearray(txin.witness[0])
    sig[10] ^= 1
    bad = Tx(good.version, (TxIn(txin.prevout, b"", txin.sequence, (bytes(sig), txin.witness[1])),),
             good.vout, good.locktime)
    block = maker.block(chain.tip, [bad], fees=10_000)
    tip = chain.tip

    flags, passed = preverify_scripts(chain, block)

    assert passed == []
    with pytest.raises(ValidationError) as e:
        chain.process_block(block)
    assert e.value.reason.startswith("mandatory-script-verify-flag-failed")
    assert chain.tip is tip


def test_missing_coins_are_left_for_the_connection(funded):
    chain, maker, _ = funded
    ghost = maker.wallet.spend([(OutPoint(b"\x11" * 32, 0), 50_000)],
                               [TxOut(40_000, maker.wallet.script_pubkey)])
    block = maker.block(chain.tip, [ghost], fees=10_000)
    assert preverify_scripts(chain, block)[1] == []
    with pytest.raises(ValidationError, match="bad-txns-inputs-missingorspent"):
        chain.process_block(block)


def test_an_orphan_is_not_preverified(funded):
    chain, maker, coinbase = funded
    block = maker.block(chain.tip, [_fan(maker, coinbase, 2)], fees=10_000)
    header = replace(block.header, prev_hash=b"\x22" * 32)
    assert preverify_scripts(chain, replace(block, header=header)) == (0, [])


def test_only_a_new_tip_is_checked_ahead_not_a_block_of_a_sync(funded):
    chain, maker, _ = funded
    b1 = maker.block(chain.tip)
    assert is_new_tip(chain, b1)
    # Headers of two more blocks arrive first (headers-first sync): b1 is now one block of a
    # catching-up chain, and the heights known run ahead of it.
    (h1,) = chain.process_headers([b1.header])
    b2 = maker.block(h1)
    chain.process_headers([b2.header])
    assert chain.header_height == chain.height + 2
    assert not is_new_tip(chain, b1)
    assert not is_new_tip(chain, b2)  # its parent is not the tip


def test_header_height_survives_a_restart(tmp_path):
    maker = BlockMaker()
    with ChainState(REGTEST, tmp_path / "n") as chain:
        b1 = maker.block(chain.tip)
        chain.process_headers([b1.header])
        assert chain.header_height == 1 and chain.height == 0
    with ChainState(REGTEST, tmp_path / "n") as chain:
        assert chain.header_height == 1
