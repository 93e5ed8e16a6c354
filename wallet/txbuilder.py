"""Planning a payment: which coins, which outputs, what fee; and the PSBT that carries it to
the signer. Sizes are worst-case estimates (72-byte signatures), so the fee paid is never
below the rate asked for."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from node.consensus.dust import dust_threshold, is_dust
from node.consensus.primitives import WITNESS_SCALE_FACTOR, Tx, TxIn, TxOut
from node.consensus.serialize import compact_size

from .account import CHANGE, Account
from .amounts import fee_for
from .coinselect import Candidate, InsufficientFunds, select_coins
from .ledger import Coin
from .psbt import Psbt
from .signer import script_kind

# BIP125: a sequence below 0xfffffffe signals that the transaction may be replaced.
SEQUENCE_RBF = 0xFFFFFFFD
# Core's DEFAULT_MIN_RELAY_TX_FEE (1,000 sat/kvB). Dust (Core's GetDustThreshold at
# DUST_RELAY_TX_FEE) is node.consensus.dust's, the rule the node's mempool applies too: change
# below it is folded into the fee rather than made.
MIN_RELAY_FEE_RATE = Decimal(1)

# Weight of one input, by script type, with a 72-byte signature and a compressed key.
_INPUT_WEIGHT = {
    # outpoint 36 + empty scriptSig 1 + sequence 4; witness: count, sig, key
    "p2wpkh": (36 + 1 + 4) * 4 + (1 + 1 + 72 + 1 + 33),
    # scriptSig: push sig, push key (107 bytes, one length byte)
    "p2pkh": (36 + 1 + 107 + 4) * 4,
}
_TX_OVERHEAD_WEIGHT = (4 + 1 + 1 + 4) * 4  # version, input and output counts, locktime
_SEGWIT_MARKER_WEIGHT = 2  # BIP144 marker and flag bytes


class FeeTooLow(Exception):
    pass


def check_fee_rate(rate: Decimal) -> None:
    if rate < MIN_RELAY_FEE_RATE:
        raise FeeTooLow(f"fee rate {rate} sat/vB is below the minimum relay fee rate "
                        f"({MIN_RELAY_FEE_RATE} sat/vB)")


def input_weight(script_pubkey: bytes) -> int:
    kind = script_kind(script_pubkey)
    if kind is None:
        raise ValueError("the wallet only spends P2WPKH and P2PKH outputs")
    return _INPUT_WEIGHT[kind]


def output_weight(script_pubkey: bytes) -> int:
    return (8 + len(compact_size(len(script_pubkey))) + len(script_pubkey)) * 4


def vsize_of(weight: int) -> int:
    return math.ceil(weight / WITNESS_SCALE_FACTOR)


@dataclass
class Plan:
    coins: list[Coin]
    outputs: list[TxOut]
    change_position: int | None  # index of the change output in ``outputs``
    change_index: int | None  # its address index on the change chain
    fee: int
    vsize: int  # estimated (worst case)
    algorithm: str

    @property
    def change(self) -> int:
        return self.outputs[self.change_position].value if self.change_position is not None \
            else 0


def _weight(coins: Sequence[Coin], outputs: Sequence[bytes]) -> int:
    segwit = any(script_kind(c.script_pubkey) == "p2wpkh" for c in coins)
    return (_TX_OVERHEAD_WEIGHT + (_SEGWIT_MARKER_WEIGHT if segwit else 0)
            + sum(input_weight(c.script_pubkey) for c in coins)
            + sum(output_weight(s) for s in outputs))


def plan_payment(spendable: Sequence[Coin], recipients: Sequence[TxOut], rate: Decimal,
                 change_script: bytes, change_index: int, *, subtract_fee: bool = False,
                 sweep: bool = False, must_use: Sequence[Coin] = (),
                 rng: random.Random | None = None) -> Plan:
    """Choose coins and outputs paying ``recipients`` at ``rate`` sat/vB.

    ``sweep`` spends every coin to the single recipient (its value is ignored);
    ``subtract_fee`` takes the fee from the recipients' amounts instead of adding it."""
    check_fee_rate(rate)
    rng = rng or random.SystemRandom()
    scripts = [r.script_pubkey for r in recipients]
    if sweep:
        coins = list(spendable)
        total = sum(c.value for c in coins)
        vsize = vsize_of(_weight(coins, scripts))
        fee = fee_for(vsize, rate)
        value = total - fee
        out = TxOut(value, scripts[0])
        if not coins or is_dust(out):
            raise InsufficientFunds(total, fee + dust_threshold(out))
        return Plan(coins, [out], None, None, fee, vsize, "sweep")

    pay = sum(r.value for r in recipients)
    # Without subtract_fee each coin brings its value less its input's fee; with it, the
    # recipients pay every fee and the coins count at face value.
    def effective(c: Coin) -> int:
        return c.value if subtract_fee else c.value - fee_for(vsize_of(input_weight(
            c.script_pubkey)), rate)
    fixed_fee = 0 if subtract_fee else fee_for(
        vsize_of(_weight([], scripts) + _SEGWIT_MARKER_WEIGHT), rate)
    change_fee = fee_for(vsize_of(output_weight(change_script)), rate)
    spend_change_fee = fee_for(vsize_of(input_weight(change_script)), rate)
    dust = dust_threshold(TxOut(0, change_script))
    pool = [Candidate(c, effective(c)) for c in spendable]
    forced = [Candidate(c, effective(c)) for c in must_use]
    selection = select_coins(
        pool, pay + fixed_fee,
        cost_of_change=0 if subtract_fee else change_fee + spend_change_fee,
        change_target=(0 if subtract_fee else change_fee) + dust, must_use=forced, rng=rng)
    coins = selection.items
    total = sum(c.value for c in coins)

    outputs = [TxOut(r.value, r.script_pubkey) for r in recipients]
    with_change_vsize = vsize_of(_weight(coins, [*scripts, change_script]))
    no_change_vsize = vsize_of(_weight(coins, scripts))
    if subtract_fee:
        fee = fee_for(with_change_vsize if selection.with_change else no_change_vsize, rate)
        outputs = _subtract(outputs, fee)
        change = total - pay if selection.with_change else 0
    else:
        fee = fee_for(with_change_vsize, rate)
        change = total - pay - fee if selection.with_change else 0
    if change < dust:  # dust change is not worth an output: the miner gets it
        change = 0
    vsize = with_change_vsize if change else no_change_vsize
    if not change:
        fee = total - sum(o.value for o in outputs)
        if fee < fee_for(vsize, rate):
            raise InsufficientFunds(total, sum(o.value for o in outputs) + fee_for(vsize, rate))
    position = None
    if change:
        position = rng.randrange(len(outputs) + 1)  # Core places change at random
        outputs.insert(position, TxOut(change, change_script))
    return Plan(coins, outputs, position, change_index if change else None, fee, vsize,
                selection.algorithm)


def _subtract(outputs: list[TxOut], fee: int) -> list[TxOut]:
    """Core's subtractfeefromamount: the fee split evenly, the remainder from the first."""
    share, rest = divmod(fee, len(outputs))
    out = []
    for i, o in enumerate(outputs):
        reduced = TxOut(o.value - share - (rest if i == 0 else 0), o.script_pubkey)
        if is_dust(reduced):  # Core: IsDust, so an output left at the threshold is sent
            raise InsufficientFunds(o.value, share + rest + dust_threshold(reduced))
        out.append(reduced)
    return out


def plan_to_psbt(plan: Plan, account: Account, prev_tx: Callable[[str], Tx]) -> Psbt:
    """The PSBT of a plan: every input with the output it spends (and, for P2PKH, the whole
    previous transaction, fetched with ``prev_tx``) and our key paths, so that a signer with
    only the seed can sign it; our change output carries its key path too."""
    tx = Tx(2, tuple(TxIn(c.outpoint, sequence=SEQUENCE_RBF) for c in plan.coins),
            tuple(plan.outputs), 0)
    psbt = Psbt.from_tx(tx)
    for coin, inp in zip(plan.coins, psbt.inputs, strict=True):
        if script_kind(coin.script_pubkey) == "p2wpkh":
            inp.witness_utxo = TxOut(coin.value, coin.script_pubkey)
        else:
            inp.non_witness_utxo = prev_tx(coin.txid)
        pubkey = account.pubkey(coin.chain, coin.index)
        inp.bip32_paths[pubkey] = (account.master_fingerprint,
                                   tuple(account.full_path(coin.chain, coin.index)))
    if plan.change_position is not None and plan.change_index is not None:
        pubkey = account.pubkey(CHANGE, plan.change_index)
        psbt.outputs[plan.change_position].bip32_paths[pubkey] = (
            account.master_fingerprint, tuple(account.full_path(CHANGE, plan.change_index)))
    return psbt
