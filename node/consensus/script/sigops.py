"""Signature-operation counting exactly as Bitcoin Core counts it (consensus/tx_verify.cpp).

Three kinds: legacy (every CHECKSIG in scriptSigs and scriptPubKeys, CHECKMULTISIG counted as
20), P2SH (BIP16: the redeem script, counted accurately) and witness (BIP141). A transaction's
sigop *cost* weighs legacy and P2SH sigops by the witness scale factor.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..primitives import WITNESS_SCALE_FACTOR, Tx, TxOut, slot_setters
from .flags import Flag
from .opcodes import (
    OP_1,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKMULTISIGVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
)
from .script import MAX_PUBKEYS_PER_MULTISIG, is_p2sh, is_push_only, iter_ops, witness_program


def script_sigop_count(script: bytes, accurate: bool) -> int:
    """Core's CScript::GetSigOpCount(fAccurate): with ``accurate``, a CHECKMULTISIG preceded by
    OP_1..OP_16 counts that many keys; otherwise it counts 20."""
    # The standard output templates, whose counts are fixed (most scripts a node sees).
    size = len(script)
    if size == 0:
        return 0
    if (size == 22 or size == 34) and script[1] == size - 2 and \
            (script[0] == 0 or OP_1 <= script[0] <= OP_16):
        return 0  # a witness program: two pushes
    if size == 23 and is_p2sh(script):
        return 0
    if size == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return 1  # P2PKH: one CHECKSIG
    n = 0
    last = -1
    for op, _ in iter_ops(script):
        if op < 0:
            break
        if op == OP_CHECKSIG or op == OP_CHECKSIGVERIFY:
            n += 1
        elif op == OP_CHECKMULTISIG or op == OP_CHECKMULTISIGVERIFY:
            if accurate and OP_1 <= last <= OP_16:
                n += last - (OP_1 - 1)
            else:
                n += MAX_PUBKEYS_PER_MULTISIG
        last = op
    return n


def _last_push(script_sig: bytes) -> bytes | None:
    """The data of the final push of a push-only scriptSig (the P2SH redeem script)."""
    data = b""
    for op, d in iter_ops(script_sig):
        if op < 0 or op > OP_16:
            return None
        data = d if d is not None else b""
    return data


def p2sh_sigop_count(script_pubkey: bytes, script_sig: bytes) -> int:
    """Core's GetSigOpCount(scriptSig) for a P2SH output: the redeem script's accurate count."""
    if not is_p2sh(script_pubkey):
        return script_sigop_count(script_pubkey, True)
    redeem = _last_push(script_sig)
    return 0 if redeem is None else script_sigop_count(redeem, True)


def _witness_program_sigops(version: int, program: bytes, witness: tuple[bytes, ...]) -> int:
    if version == 0:
        if len(program) == 20:
            return 1
        if len(program) == 32 and witness:
            return script_sigop_count(witness[-1], True)
    # Future versions count nothing until a soft fork defines them.
    return 0


def witness_sigop_count(script_sig: bytes, script_pubkey: bytes, witness: tuple[bytes, ...],
                        flags: int) -> int:
    """Core's CountWitnessSigOps."""
    if not flags & _WITNESS:
        return 0
    wp = witness_program(script_pubkey)
    if wp is not None:
        return _witness_program_sigops(wp[0], wp[1], witness)
    if is_p2sh(script_pubkey) and is_push_only(script_sig):
        redeem = _last_push(script_sig)
        if redeem is not None:
            wp = witness_program(redeem)
            if wp is not None:
                return _witness_program_sigops(wp[0], wp[1], witness)
    return 0


def legacy_sigop_count(tx: Tx) -> int:
    """Core's GetLegacySigOpCount: inaccurate counts over every scriptSig and scriptPubKey.
    Kept on the transaction, which is immutable: CheckBlock and ConnectBlock both need it."""
    n = tx._legacy_sigops
    if n >= 0:
        return n
    n = 0
    for txin in tx.vin:
        if txin.script_sig:  # empty for every segwit input
            n += script_sigop_count(txin.script_sig, False)
    for out in tx.vout:
        n += script_sigop_count(out.script_pubkey, False)
    _SET_LEGACY_SIGOPS(tx, n)
    return n


(_SET_LEGACY_SIGOPS,) = slot_setters(Tx, "_legacy_sigops")


def tx_p2sh_sigop_count(tx: Tx, spent: Sequence[TxOut]) -> int:
    """Core's GetP2SHSigOpCount; ``spent[i]`` is the output input ``i`` spends."""
    if tx.is_coinbase():
        return 0
    return sum(p2sh_sigop_count(prev.script_pubkey, txin.script_sig)
               for txin, prev in zip(tx.vin, spent, strict=True) if is_p2sh(prev.script_pubkey))


def tx_sigop_cost(tx: Tx, spent: Sequence[TxOut], flags: int) -> int:
    """Core's GetTransactionSigOpCost: what MAX_BLOCK_SIGOPS_COST (80,000) limits."""
    cost = legacy_sigop_count(tx) * WITNESS_SCALE_FACTOR
    if tx.is_coinbase():
        return cost
    if len(spent) != len(tx.vin):
        raise ValueError(f"{len(spent)} spent outputs for {len(tx.vin)} inputs")
    p2sh = flags & _P2SH
    witness = flags & _WITNESS
    for txin, prev in zip(tx.vin, spent, strict=False):  # lengths checked above
        spk = prev.script_pubkey
        if len(spk) == 22 and spk[0] == 0 and spk[1] == 20:
            # P2WPKH, most inputs: not P2SH, and one witness sigop (BIP141).
            if witness:
                cost += 1
            continue
        if p2sh and is_p2sh(spk):
            cost += p2sh_sigop_count(spk, txin.script_sig) * WITNESS_SCALE_FACTOR
        if witness:
            cost += witness_sigop_count(txin.script_sig, spk, txin.witness, flags)
    return cost


_P2SH = int(Flag.P2SH)
_WITNESS = int(Flag.WITNESS)
