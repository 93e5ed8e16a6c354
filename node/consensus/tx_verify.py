"""Transaction rules that need context: lock times and the coins spent (Core's
consensus/tx_verify.cpp).

Absolute lock time (IsFinalTx), BIP68 relative lock time (CalculateSequenceLocks and
EvaluateSequenceLocks) and the value rules on the spent coins (Consensus::CheckTxInputs). Pure
functions: the chain is reached only through the heights, times and coins the caller passes.
Sigop counting lives in :mod:`.script.sigops` (``tx_sigop_cost``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .coin import Coin
from .errors import ValidationError
from .limits import LOCKTIME_THRESHOLD
from .params import COIN, MAX_MONEY, Params
from .primitives import SEQUENCE_FINAL, Tx
from .script.interpreter import (
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_MASK,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
)
from .tx_check import money_range

# Core: CTxIn::SEQUENCE_LOCKTIME_GRANULARITY (primitives/transaction.h). BIP68 time-based
# relative locks count units of 2**9 = 512 seconds.
SEQUENCE_LOCKTIME_GRANULARITY = 9


def is_final_tx(tx: Tx, block_height: int, block_time: int) -> bool:
    """Core's IsFinalTx: may ``tx`` be in a block at ``block_height`` whose lock-time cutoff is
    ``block_time``?

    nLockTime 0 is always final. Otherwise it is a height (below LOCKTIME_THRESHOLD) or a UNIX
    time, and names the last height/time at which the tx is *not* yet valid: it is final once
    ``locktime < block_height`` (resp. ``< block_time``). A tx whose every input has nSequence
    0xffffffff is final regardless. ``block_time`` is the previous block's median time past
    once BIP113 is active, the block's own time before (see ``contextual_check_block``).
    """
    if tx.locktime == 0:
        return True
    cutoff = block_height if tx.locktime < LOCKTIME_THRESHOLD else block_time
    if tx.locktime < cutoff:
        return True
    return all(txin.sequence == SEQUENCE_FINAL for txin in tx.vin)


def calculate_sequence_locks(tx: Tx, enforce_bip68: bool, prev_heights: Sequence[int],
                             mtp_at_height: Callable[[int], int]) -> tuple[int, int]:
    """Core's CalculateSequenceLocks (BIP68): ``(min_height, min_time)``, the last block height
    and the last median time past at which ``tx`` is still *not* valid (nLockTime semantics);
    -1 means "no constraint".

    ``enforce_bip68`` is Core's ``flags & LOCKTIME_VERIFY_SEQUENCE`` (on for blocks at or above
    ``params.csv_height``). Even then only txs with version >= 2, compared *unsigned* as Core
    does (a version with the top bit set counts as >= 2), have relative locks. ``prev_heights[i]``
    is the height of the block that created the coin input ``i`` spends (for a coin still in the
    mempool, the height of the block being built).

    ``mtp_at_height(h)`` must return the median time past of the block at height ``h`` on the
    chain being validated. For each input with a time-based lock it is asked for
    ``h = max(prev_height - 1, 0)``: BIP68 measures from the median time past of the block
    *before* the one holding the coin (Core: ``block.GetAncestor(std::max(nCoinHeight - 1,
    0))->GetMedianTimePast()``). Since a coin's height is at most the spending block's height,
    ``h`` is always below the block being validated, so the callable is only ever asked about
    blocks already in the chain. It is not called for height-based or disabled locks.

    Unlike Core, ``prev_heights`` is not modified (Core zeroes the entries of inputs whose lock
    is disabled; callers that need that for lock points can do it themselves).
    """
    if len(prev_heights) != len(tx.vin):
        raise ValueError(f"{len(prev_heights)} prev heights for {len(tx.vin)} inputs")
    min_height = -1  # Core: nMinHeight
    min_time = -1  # Core: nMinTime
    # Core: tx.version is uint32_t, so the comparison is unsigned.
    if not (enforce_bip68 and (tx.version & 0xFFFFFFFF) >= 2):
        return min_height, min_time
    for txin, coin_height in zip(tx.vin, prev_heights, strict=True):
        seq = txin.sequence
        if seq & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            continue
        value = seq & SEQUENCE_LOCKTIME_MASK
        if seq & SEQUENCE_LOCKTIME_TYPE_FLAG:
            coin_time = mtp_at_height(max(coin_height - 1, 0))  # Core: nCoinTime
            # -1: BIP68 gives the first valid time; nLockTime semantics want the last invalid.
            min_time = max(min_time, coin_time + (value << SEQUENCE_LOCKTIME_GRANULARITY) - 1)
        else:
            min_height = max(min_height, coin_height + value - 1)
    return min_height, min_time


def evaluate_sequence_locks(block_height: int, prev_block_mtp: int,
                            lock: tuple[int, int]) -> bool:
    """Core's EvaluateSequenceLocks: are the locks from :func:`calculate_sequence_locks` met by a
    block at ``block_height`` whose parent has median time past ``prev_block_mtp``?

    (A failing tx in a block is rejected by the caller as ``bad-txns-nonfinal``, Core's debug
    "contains a non-BIP68-final transaction".)
    """
    min_height, min_time = lock
    return not (min_height >= block_height or min_time >= prev_block_mtp)


def format_money(amount: int) -> str:
    """Core's FormatMoney (util/moneystr.cpp): coins with 8 decimals, trailing zeros trimmed to
    at least two decimals ("1.00", "0.0001", "-0.50"). Used in reject debug messages."""
    quotient, remainder = divmod(abs(amount), COIN)
    text = f"{quotient}.{remainder:08d}".rstrip("0")
    text += "0" * (2 - len(text.split(".")[1]))
    return "-" + text if amount < 0 else text


def check_tx_inputs(tx: Tx, coins: Sequence[Coin], spend_height: int, params: Params) -> int:
    """Core's Consensus::CheckTxInputs: coinbase maturity and value rules; returns the fee.

    ``coins[i]`` is the coin input ``i`` spends; the caller has already found every one (and
    rejects a missing one as ``bad-txns-inputs-missingorspent`` itself). ``spend_height`` is the
    height of the block the tx would be in (the tip's height + 1 for the mempool).
    ``check_transaction`` must have passed, so the output total is in range.
    """
    if len(coins) != len(tx.vin):
        raise ValueError(f"{len(coins)} coins for {len(tx.vin)} inputs")
    value_in = 0  # Core: nValueIn
    for coin in coins:
        if coin.is_coinbase and spend_height - coin.height < params.coinbase_maturity:
            raise ValidationError("bad-txns-premature-spend-of-coinbase",
                                  f"tried to spend coinbase at depth {spend_height - coin.height}")
        value = coin.txout.value
        value_in += value
        # MoneyRange of both, inlined: once per input of every block.
        if not (0 <= value <= MAX_MONEY and value_in <= MAX_MONEY):
            raise ValidationError("bad-txns-inputvalues-outofrange")
    value_out = sum([out.value for out in tx.vout])
    if value_in < value_out:
        raise ValidationError(
            "bad-txns-in-belowout",
            f"value in ({format_money(value_in)}) < value out ({format_money(value_out)})")
    fee = value_in - value_out
    if not money_range(fee):
        raise ValidationError("bad-txns-fee-outofrange")
    return fee
