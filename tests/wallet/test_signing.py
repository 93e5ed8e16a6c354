"""Planning, PSBT round trips and signing of P2WPKH (BIP143) and P2PKH (legacy) inputs, each
result checked by the consensus script interpreter."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from node.consensus.dust import dust_threshold
from node.consensus.hashes import hash_to_hex
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from wallet.account import CHANGE, RECEIVE, Account
from wallet.coinselect import InsufficientFunds
from wallet.hd import ExtendedKey, Purpose, account_path, mnemonic_to_seed
from wallet.ledger import Coin
from wallet.psbt import Psbt, PsbtError
from wallet.signer import finalize, sign_psbt, verify_signed
from wallet.txbuilder import FeeTooLow, plan_payment, plan_to_psbt

from .mnemonics import ABANDON

OTHER = "legal winner thank year wave sausage worth useful legal winner thank yellow"
PAY_TO = bytes.fromhex("0014") + bytes(range(20))  # someone else's P2WPKH


def _wallet(purpose: Purpose, words: str = ABANDON) -> tuple[ExtendedKey, Account]:
    root = ExtendedKey.from_seed(mnemonic_to_seed(words))
    path = account_path(purpose, REGTEST)
    return root, Account(REGTEST, purpose, root.derive(path).neuter(), root.fingerprint, path)


def _funding(account: Account, values: list[int]) -> tuple[list[Coin], dict[str, Tx]]:
    """Coins on receive addresses 0..n-1, each from its own (fake, but well-formed) tx."""
    coins, txs = [], {}
    for i, value in enumerate(values):
        script = account.script(RECEIVE, i)
        prev = Tx(2, (TxIn(OutPoint(bytes([i + 1]) * 32, 0)),), (TxOut(value, script),))
        txid = hash_to_hex(prev.txid)
        txs[txid] = prev
        coins.append(Coin(txid, 0, value, script, RECEIVE, i, account.address(RECEIVE, i), 1,
                          10, False, False))
    return coins, txs


def _sign_and_check(root, account, plan, txs) -> Tx:
    psbt = plan_to_psbt(plan, account, txs.__getitem__)
    psbt = Psbt.from_base64(psbt.to_base64())  # what travels to an offline signer
    assert sign_psbt(Psbt.from_base64(psbt.to_base64()), _wallet(account.purpose, OTHER)[0]) == 0
    assert sign_psbt(psbt, root) == len(plan.coins)
    psbt = Psbt.parse(psbt.serialize())
    finalize(psbt)
    tx = psbt.extract()
    verify_signed(tx, [psbt.spent_output(n) for n in range(len(tx.vin))])
    return tx


@pytest.mark.parametrize("purpose", [Purpose.BIP84, Purpose.BIP44])
def test_send_with_change_signs_and_verifies(purpose):
    root, account = _wallet(purpose)
    coins, txs = _funding(account, [40_000, 70_000, 150_000])
    rate = Decimal(3)
    plan = plan_payment(coins, [TxOut(100_000, PAY_TO)], rate, account.script(CHANGE, 0), 0,
                        rng=random.Random(5))
    tx = _sign_and_check(root, account, plan, txs)
    assert tx.vsize <= plan.vsize  # the estimate is a worst case
    assert plan.fee >= rate * tx.vsize
    assert sum(c.value for c in plan.coins) == sum(o.value for o in tx.vout) + plan.fee
    if plan.change_position is not None:
        assert tx.vout[plan.change_position].script_pubkey == account.script(CHANGE, 0)
    assert all(txin.sequence == 0xFFFFFFFD for txin in tx.vin)  # BIP125 signal


def test_exact_match_makes_no_change_and_dust_change_goes_to_the_fee():
    root, account = _wallet(Purpose.BIP84)
    change = account.script(CHANGE, 0)
    # 42 vB of fixed part and output, 68 vB for the input, at 1 sat/vB; 50 sat more is less
    # than a change output would cost to make and spend (31 + 68 vB): it goes to the fee.
    coins, txs = _funding(account, [100_000 + 42 + 68 + 50])
    plan = plan_payment(coins, [TxOut(100_000, PAY_TO)], Decimal(1), change, 0)
    assert plan.algorithm == "bnb"
    assert plan.change_position is None and plan.change_index is None
    assert plan.fee == 160 and plan.fee - 110 < dust_threshold(TxOut(0, change))
    _sign_and_check(root, account, plan, txs)


def test_subtract_fee_and_sweep_pay_the_fee_from_the_recipient():
    root, account = _wallet(Purpose.BIP84)
    coins, txs = _funding(account, [60_000, 40_000])
    plan = plan_payment(coins, [TxOut(100_000, PAY_TO)], Decimal(2), account.script(CHANGE, 0),
                        0, subtract_fee=True)
    assert plan.outputs == [TxOut(100_000 - plan.fee, PAY_TO)]
    _sign_and_check(root, account, plan, txs)
    sweep = plan_payment(coins, [TxOut(1, PAY_TO)], Decimal(2), account.script(CHANGE, 0), 0,
                         sweep=True)
    assert len(sweep.coins) == 2 and sweep.outputs[0].value == 100_000 - sweep.fee
    _sign_and_check(root, account, sweep, txs)


def test_refusals_insufficient_funds_and_fee_below_relay_minimum():
    _, account = _wallet(Purpose.BIP84)
    coins, _ = _funding(account, [10_000])
    with pytest.raises(InsufficientFunds) as err:
        plan_payment(coins, [TxOut(20_000, PAY_TO)], Decimal(1), account.script(CHANGE, 0), 0)
    assert err.value.available < 10_000 < 20_000 < err.value.needed
    with pytest.raises(FeeTooLow, match="below the minimum relay fee rate"):
        plan_payment(coins, [TxOut(5_000, PAY_TO)], Decimal("0.5"), account.script(CHANGE, 0),
                     0)


def test_a_signature_commits_to_the_amount_spent():
    root, account = _wallet(Purpose.BIP84)
    coins, txs = _funding(account, [50_000])
    plan = plan_payment(coins, [TxOut(20_000, PAY_TO)], Decimal(1), account.script(CHANGE, 0), 0)
    psbt = plan_to_psbt(plan, account, txs.__getitem__)
    sign_psbt(psbt, root)
    finalize(psbt)
    tx = psbt.extract()
    lie = TxOut(49_000, coins[0].script_pubkey)  # BIP143: a different amount, a different hash
    with pytest.raises(PsbtError, match="does not verify"):
        verify_signed(tx, [lie])


def test_psbt_refuses_garbage_and_unsigned_extraction():
    with pytest.raises(PsbtError, match="magic"):
        Psbt.parse(b"notapsbt")
    with pytest.raises(PsbtError, match="base64"):
        Psbt.from_base64("%%%")
    _, account = _wallet(Purpose.BIP84)
    coins, txs = _funding(account, [50_000])
    plan = plan_payment(coins, [TxOut(20_000, PAY_TO)], Decimal(1), account.script(CHANGE, 0), 0)
    raw = plan_to_psbt(plan, account, txs.__getitem__).serialize()
    with pytest.raises(PsbtError):
        Psbt.parse(raw[:-3])
    with pytest.raises(PsbtError, match="not signed"):
        finalize(Psbt.parse(raw))
    with pytest.raises(PsbtError, match="not finalized"):
        Psbt.parse(raw).extract()


@pytest.mark.parametrize("script, threshold", [
    (PAY_TO, 294),  # P2WPKH
    (bytes.fromhex("76a914" + "11" * 20 + "88ac"), 546),  # P2PKH
    (bytes.fromhex("0020" + "44" * 32), 330),  # P2WSH
    (b"\x6a\x04" + b"memo", 0),  # OP_RETURN: unspendable, so never dust
], ids=["p2wpkh", "p2pkh", "p2wsh", "op_return"])
def test_subtract_fee_sends_a_recipient_left_at_the_dust_threshold_and_not_below(script,
                                                                               threshold):
    """Core's wallet refuses a recipient that subtracting the fee leaves as dust (IsDust: below
    GetDustThreshold) and sends one left exactly at the threshold; the wallet now uses the
    node's rule (node.consensus.dust). Its old copy refused the exact threshold and gave an
    OP_RETURN output a positive threshold where Core and the node give 0."""
    _, account = _wallet(Purpose.BIP84)
    change = account.script(CHANGE, 0)
    probe_coins, _ = _funding(account, [50_000])
    fee = plan_payment(probe_coins, [TxOut(50_000, script)], Decimal(1), change, 0,
                       subtract_fee=True).fee
    assert threshold == dust_threshold(TxOut(0, script))
    coins, _ = _funding(account, [threshold + fee])
    plan = plan_payment(coins, [TxOut(threshold + fee, script)], Decimal(1), change, 0,
                        subtract_fee=True)
    assert plan.outputs == [TxOut(threshold, script)] and plan.fee == fee
    coins, _ = _funding(account, [threshold + fee - 1])
    with pytest.raises(InsufficientFunds) as err:
        plan_payment(coins, [TxOut(threshold + fee - 1, script)], Decimal(1), change, 0,
                     subtract_fee=True)
    assert err.value.needed == threshold + fee
