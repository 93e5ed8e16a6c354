"""Sending: addresses to hand out, fee rates, planning a send or a fee bump, and finishing a
PSBT into a verified, broadcast transaction. The wallet's files change only after the node has
accepted the transaction, so a failed broadcast leaves the wallet as it was."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from node.consensus.address import address_to_script
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Tx, TxOut

from .account import CHANGE, RECEIVE
from .amounts import parse_fee_rate
from .esplora import EsploraClient, NodeError
from .ledger import Coin, last_used, spendable, used_indexes
from .psbt import Psbt, PsbtError
from .signer import finalize, sign_psbt, verify_signed
from .sync import GAP_LIMIT
from .txbuilder import (
    MIN_RELAY_FEE_RATE,
    FeeTooLow,
    Plan,
    check_fee_rate,
    plan_payment,
    plan_to_psbt,
    vsize_of,
)
from .wallet import Wallet

# Core's reject reasons for a fee below the node's relay minimum or its mempool's current one.
NODE_FEE_REJECTIONS = ("min relay fee not met", "mempool min fee not met")
DEFAULT_TARGET = 6  # Core's wallet default confirmation target (-txconfirmtarget)


class Rejected(Exception):
    """The node refused the transaction; ``reason`` is what it said."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"transaction rejected by the node: {reason}")
        self.reason = reason


class BumpError(Exception):
    pass


def next_receive_index(wallet: Wallet) -> int:
    """A fresh receive index: past every used and every handed-out address. Past the gap
    limit a restore would not find it, so then the oldest handed-out unused one is reused."""
    used = used_indexes(wallet, RECEIVE)
    top = max(used, default=-1)  # the last used index (-1: none)
    issued = wallet.issued[RECEIVE]
    candidate = max(top, issued) + 1
    if candidate <= top + GAP_LIMIT:
        return candidate
    return next(i for i in range(top + 1, candidate) if i not in used)


def next_change_index(wallet: Wallet) -> int:
    return max(last_used(wallet, CHANGE), wallet.issued[CHANGE]) + 1


def recipient(wallet: Wallet, address: str, value: int) -> TxOut:
    """AddressError (bad checksum, another network...) for an address we cannot pay."""
    return TxOut(value, address_to_script(address.strip(), wallet.params))


def requested_fee_rate(text: str) -> Decimal:
    """A fee rate the user typed, refused (AmountError, FeeTooLow) for anything planning would
    refuse too, so that a command can refuse it before it syncs."""
    rate = parse_fee_rate(text)
    check_fee_rate(rate)
    return rate


def estimated_fee_rate(client: EsploraClient, target: int | None) -> Decimal:
    """The node's estimate for ``target`` blocks (Esplora's table has some targets only: take
    the nearest one not slower than asked)."""
    table = client.fee_estimates()
    want = target or DEFAULT_TARGET
    keys = sorted(k for k in table if k <= want) or sorted(table)[:1]
    if not keys:
        return MIN_RELAY_FEE_RATE
    return max(parse_fee_rate(table[keys[-1]]), MIN_RELAY_FEE_RATE)


def plan_send(wallet: Wallet, recipients: Sequence[TxOut], rate: Decimal, *,
              subtract_fee: bool = False, sweep: bool = False) -> Plan:
    change_index = next_change_index(wallet)
    change_script = wallet.account.script(CHANGE, change_index)
    return plan_payment(spendable(wallet), recipients, rate, change_script, change_index,
                        subtract_fee=subtract_fee, sweep=sweep)


def plan_bump(wallet: Wallet, txid: str, rate: Decimal) -> tuple[Plan, int]:
    """A replacement of our unconfirmed ``txid`` paying ``rate``: the same inputs and
    recipients, less change (or more inputs). Returns the plan and the fee replaced."""
    tx = wallet.cache.get("txs", {}).get(txid)
    if tx is None:
        raise BumpError(f"transaction {txid} is not in this wallet (run sync?)")
    if tx["status"]["confirmed"]:
        raise BumpError(f"transaction {txid} is already confirmed")
    owners = [i["prevout"] and wallet.account.owner(bytes.fromhex(i["prevout"]["scriptpubkey"]))
              for i in tx["vin"]]
    if not all(owners):
        raise BumpError("only transactions whose inputs are all ours can be bumped")
    original = [Coin(i["txid"], i["vout"], i["prevout"]["value"],
                     bytes.fromhex(i["prevout"]["scriptpubkey"]), o[0], o[1], "", None, 0,
                     False, True) for i, o in zip(tx["vin"], owners, strict=True)]
    recipients = []
    change_index = None
    for o in tx["vout"]:
        owner = wallet.account.owner(bytes.fromhex(o["scriptpubkey"]))
        if owner is not None and owner[0] == CHANGE:
            change_index = owner[1]
        else:
            recipients.append(TxOut(o["value"], bytes.fromhex(o["scriptpubkey"])))
    if change_index is None:
        change_index = next_change_index(wallet)
    old_fee = tx["fee"]
    old_vsize = vsize_of(tx["weight"])
    if rate * old_vsize <= old_fee:
        raise FeeTooLow(f"fee rate {rate} sat/vB does not raise the transaction's rate "
                        f"({Decimal(old_fee) / old_vsize:.2f} sat/vB)")
    pool = [c for c in spendable(wallet) if c.txid != txid]
    plan = plan_payment(pool, recipients, rate, wallet.account.script(CHANGE, change_index),
                        change_index, must_use=original)
    # BIP125 rule 4: the replacement pays for its own relay on top of the fee it replaces.
    needed = old_fee + int(MIN_RELAY_FEE_RATE * plan.vsize)
    if plan.fee < needed:
        raise FeeTooLow(f"fee rate {rate} sat/vB gives a fee of {plan.fee} sat; replacing "
                        f"needs at least {needed} sat (BIP125: old fee + 1 sat/vB)")
    return plan, old_fee


def unsigned_psbt(wallet: Wallet, plan: Plan, client: EsploraClient) -> Psbt:
    return plan_to_psbt(plan, wallet.account,
                        lambda txid: Tx.from_hex(client.tx_hex(txid)))


def complete(psbt: Psbt) -> Tx:
    """Finalize and extract, then check every input with the script interpreter."""
    finalize(psbt)
    tx = psbt.extract()
    verify_signed(tx, [psbt.spent_output(n) for n in range(len(tx.vin))])
    return tx


def sign_and_complete(wallet: Wallet, psbt: Psbt, password: str | None) -> Tx:
    root = wallet.root_key(password)
    if sign_psbt(psbt, root) == 0:
        raise PsbtError("no input of this PSBT belongs to this wallet")
    return complete(psbt)


def broadcast(wallet: Wallet, client: EsploraClient, tx: Tx,
              change_index: int | None) -> str:
    """Post the transaction; on success record the change address as handed out."""
    try:
        txid = client.broadcast(tx.serialize().hex())
    except NodeError as exc:
        if exc.status >= 500:
            raise
        reason = exc.reason.removeprefix("sendrawtransaction RPC error: ")
        if reason in NODE_FEE_REJECTIONS:
            raise FeeTooLow(f"the node's minimum fee rate is higher (it says: {reason})") \
                from None
        raise Rejected(reason) from None
    if txid != hash_to_hex(tx.txid):
        raise Rejected(f"the node answered {txid!r}, not the txid {hash_to_hex(tx.txid)}")
    if change_index is not None and change_index > wallet.issued[CHANGE]:
        wallet.issued[CHANGE] = change_index
        wallet.save()
    return txid


