"""Lock times (IsFinalTx, BIP68 sequence locks) and the input value rules (CheckTxInputs)."""

import pytest

from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.limits import LOCKTIME_THRESHOLD
from node.consensus.params import COIN, MAX_MONEY, REGTEST
from node.consensus.primitives import SEQUENCE_FINAL, OutPoint, Tx, TxIn, TxOut
from node.consensus.tx_verify import (
    calculate_sequence_locks,
    check_tx_inputs,
    evaluate_sequence_locks,
    format_money,
    is_final_tx,
)

DISABLE = 1 << 31  # SEQUENCE_LOCKTIME_DISABLE_FLAG
TYPE_TIME = 1 << 22  # SEQUENCE_LOCKTIME_TYPE_FLAG
OUT = TxOut(1000, b"\x51")


def tx(*sequences, locktime=0, version=2, outputs=(OUT,)):
    vin = tuple(TxIn(OutPoint(bytes([i + 1]) * 32, 0), b"", s) for i, s in enumerate(sequences))
    return Tx(version, vin, outputs, locktime)


# -- IsFinalTx ---------------------------------------------------------------------------------

def test_locktime_zero_is_always_final():
    assert is_final_tx(tx(0, 0, locktime=0), 0, 0)


def test_height_locktime_is_final_only_after_that_height():
    t = tx(0, locktime=100)
    assert not is_final_tx(t, 100, 10**10)
    assert is_final_tx(t, 101, 0)


def test_time_locktime_is_final_only_after_that_time():
    t = tx(0, locktime=LOCKTIME_THRESHOLD)  # the threshold itself is a time
    assert not is_final_tx(t, 10**9, LOCKTIME_THRESHOLD)  # a huge height does not help
    assert is_final_tx(t, 0, LOCKTIME_THRESHOLD + 1)


def test_locktime_below_threshold_is_a_height():
    t = tx(0, locktime=LOCKTIME_THRESHOLD - 1)
    assert not is_final_tx(t, 1, 2**40)
    assert is_final_tx(t, LOCKTIME_THRESHOLD, 0)


def test_all_final_sequences_make_a_locked_tx_final():
    assert is_final_tx(tx(SEQUENCE_FINAL, SEQUENCE_FINAL, locktime=1000), 1, 0)
    assert not is_final_tx(tx(SEQUENCE_FINAL, SEQUENCE_FINAL - 1, locktime=1000), 1, 0)


# -- BIP68 sequence locks ----------------------------------------------------------------------

def no_mtp(height):
    raise AssertionError(f"median time past of {height} should not be needed")


def test_height_lock_counts_blocks_from_the_coins_block():
    lock = calculate_sequence_locks(tx(10), True, [100], no_mtp)
    assert lock == (109, -1)  # nLockTime semantics: the last height still invalid
    assert not evaluate_sequence_locks(109, 0, lock)
    assert evaluate_sequence_locks(110, 0, lock)


def test_time_lock_counts_512_second_units_from_the_mtp_before_the_coins_block():
    asked = []

    def mtp_at_height(h):
        asked.append(h)
        return 1_000_000

    lock = calculate_sequence_locks(tx(TYPE_TIME | 2), True, [100], mtp_at_height)
    assert asked == [99]  # the block before the one that created the coin
    assert lock == (-1, 1_000_000 + 2 * 512 - 1)
    assert not evaluate_sequence_locks(10**6, 1_000_000 + 1023, lock)
    assert evaluate_sequence_locks(10**6, 1_000_000 + 1024, lock)


def test_time_lock_on_a_genesis_coin_asks_for_height_zero():
    asked = []
    calculate_sequence_locks(tx(TYPE_TIME | 1), True, [0], lambda h: asked.append(h) or 0)
    assert asked == [0]


def test_disable_flag_turns_the_input_lock_off():
    assert calculate_sequence_locks(tx(DISABLE | 10, DISABLE | TYPE_TIME | 5), True, [100, 100],
                                    no_mtp) == (-1, -1)
    assert calculate_sequence_locks(tx(SEQUENCE_FINAL), True, [100], no_mtp) == (-1, -1)


def test_version_1_transactions_have_no_relative_locks():
    assert calculate_sequence_locks(tx(10, version=1), True, [100], no_mtp) == (-1, -1)


def test_version_is_compared_unsigned_as_in_core():
    # Core's CTransaction::version is uint32_t: 0xffffffff (signed -1) is ">= 2".
    assert calculate_sequence_locks(tx(10, version=-1), True, [100], no_mtp) == (109, -1)


def test_locks_are_not_enforced_before_csv():
    assert calculate_sequence_locks(tx(10), False, [100], no_mtp) == (-1, -1)


def test_strictest_input_wins_and_unused_sequence_bits_are_ignored():
    t = tx(5, (1 << 16) | 20, TYPE_TIME | 1, TYPE_TIME | 3)
    mtps = {49: 5000, 9: 7000}
    lock = calculate_sequence_locks(t, True, [10, 100, 50, 10], mtps.__getitem__)
    assert lock == (100 + 20 - 1, max(5000 + 512 - 1, 7000 + 3 * 512 - 1))


def test_zero_relative_lock_is_satisfied_by_the_coins_own_block():
    lock = calculate_sequence_locks(tx(0), True, [100], no_mtp)
    assert lock == (99, -1)
    assert evaluate_sequence_locks(100, 0, lock)


def test_no_locks_are_always_met():
    assert evaluate_sequence_locks(0, 0, (-1, -1))


def test_prev_heights_must_match_inputs():
    with pytest.raises(ValueError):
        calculate_sequence_locks(tx(1, 2), True, [100], no_mtp)


# -- CheckTxInputs -----------------------------------------------------------------------------

def coin(value, height=1, is_coinbase=False):
    return Coin(TxOut(value, b"\x51"), height, is_coinbase)


def reject(t, coins, spend_height):
    with pytest.raises(ValidationError) as e:
        check_tx_inputs(t, coins, spend_height, REGTEST)
    return e.value


def test_returns_the_fee():
    assert check_tx_inputs(tx(0, 0), [coin(600), coin(700)], 10, REGTEST) == 300
    assert check_tx_inputs(tx(0), [coin(1000)], 10, REGTEST) == 0


def test_rejects_coinbase_spend_before_maturity():
    t = tx(0)
    err = reject(t, [coin(5000, height=100, is_coinbase=True)], 199)
    assert (err.reason, err.debug) == ("bad-txns-premature-spend-of-coinbase",
                                       "tried to spend coinbase at depth 99")
    assert check_tx_inputs(t, [coin(5000, height=100, is_coinbase=True)], 200, REGTEST) == 4000


def test_ordinary_coins_are_spendable_at_once():
    assert check_tx_inputs(tx(0), [coin(5000, height=100)], 100, REGTEST) == 4000


@pytest.mark.parametrize("values", [[MAX_MONEY + 1], [-1, 2000], [MAX_MONEY, 1]])
def test_rejects_input_values_out_of_range(values):
    err = reject(tx(*[0] * len(values)), [coin(v) for v in values], 10)
    assert err.reason == "bad-txns-inputvalues-outofrange"


def test_rejects_outputs_worth_more_than_inputs():
    err = reject(tx(0, outputs=(TxOut(2000, b""), TxOut(COIN, b""))), [coin(1000)], 10)
    assert err.reason == "bad-txns-in-belowout"
    assert err.debug == "value in (0.00001) < value out (1.00002)"


def test_rejects_fee_out_of_range():
    # Unreachable after check_transaction (outputs are never negative); CheckTxInputs keeps it.
    err = reject(tx(0, outputs=(TxOut(-1, b""),)), [coin(MAX_MONEY)], 10)
    assert err.reason == "bad-txns-fee-outofrange"


def test_coins_must_match_inputs():
    with pytest.raises(ValueError):
        check_tx_inputs(tx(0, 0), [coin(1)], 10, REGTEST)


@pytest.mark.parametrize("amount,text", [
    (0, "0.00"), (1, "0.00000001"), (COIN, "1.00"), (COIN // 10, "0.10"),
    (123_456_789 * COIN, "123456789.00"), (MAX_MONEY, "21000000.00"), (-COIN // 2, "-0.50"),
    (12_345_678, "0.12345678"),
])
def test_format_money_matches_core(amount, text):
    assert format_money(amount) == text
