"""Signature hashes: the legacy algorithm (with its quirks) and BIP143's for segwit v0.

:class:`PrecomputedTxData` caches BIP143's hashPrevouts/hashSequence/hashOutputs once per
transaction (Core's PrecomputedTransactionData), so signing or verifying n inputs costs O(n),
not O(n^2).
"""

from __future__ import annotations

import struct
from functools import lru_cache

from ..hashes import sha256d
from ..primitives import Tx, TxOut
from ..serialize import compact_size
from .opcodes import OP_CODESEPARATOR
from .script import get_op

SIGHASH_ALL = 1
SIGHASH_NONE = 2
SIGHASH_SINGLE = 3
SIGHASH_ANYONECANPAY = 0x80

SIGVERSION_BASE = 0
SIGVERSION_WITNESS_V0 = 1

# Core returns the number one (as uint256) instead of failing for two out-of-range cases;
# signatures over it are valid forever (the SIGHASH_SINGLE bug).
ONE = (1).to_bytes(32, "little")

_EMPTY_OUTPUT = struct.pack("<q", -1) + b"\x00"  # CTxOut(): value -1, empty script
_ZERO_SEQUENCE = bytes(4)


def _strip_codeseparators(script_code: bytes) -> bytes:
    """Core's CTransactionSignatureSerializer::SerializeScriptCode: the CompactSize counts the
    script less its OP_CODESEPARATORs, and the bytes written stop where opcode parsing stopped
    (a truncated final push loses its data bytes)."""
    n_seps = 0
    pieces = []
    begin = pc = 0
    end = len(script_code)
    while pc < end:
        op, _, pc = get_op(script_code, pc)
        if op < 0:
            break
        if op == OP_CODESEPARATOR:
            n_seps += 1
            pieces.append(script_code[begin:pc - 1])
            begin = pc
    if begin != end:
        pieces.append(script_code[begin:pc])
    return compact_size(end - n_seps) + b"".join(pieces)


def legacy_sighash(script_code: bytes, tx: Tx, n_in: int, hash_type: int,
                   cache: PrecomputedTxData | None = None) -> bytes:
    """Core's SignatureHash for SigVersion::BASE. ``hash_type`` is the full 32-bit value."""
    if n_in >= len(tx.vin):
        return ONE
    base_type = hash_type & 0x1F
    anyone_can_pay = bool(hash_type & SIGHASH_ANYONECANPAY)
    single = base_type == SIGHASH_SINGLE
    none = base_type == SIGHASH_NONE
    if single and n_in >= len(tx.vout):
        return ONE

    if cache is None:
        cache = PrecomputedTxData(tx)
    prevouts, sequences, outputs = cache.legacy_parts()
    parts = [struct.pack("<i", tx.version)]
    inputs = [n_in] if anyone_can_pay else range(len(tx.vin))
    parts.append(compact_size(len(inputs)))
    script_ser = _strip_codeseparators(script_code)
    for i in inputs:
        parts.append(prevouts[i])
        if i == n_in:
            parts.append(script_ser)
            parts.append(sequences[i])
        else:
            parts.append(b"\x00")
            parts.append(_ZERO_SEQUENCE if single or none else sequences[i])
    if none:
        parts.append(b"\x00")
    elif single:
        parts.append(compact_size(n_in + 1))
        parts.extend(_EMPTY_OUTPUT for _ in range(n_in))
        parts.append(tx.vout[n_in].serialize())
    else:
        parts.append(outputs)
    parts.append(struct.pack("<Ii", tx.locktime, hash_type))
    return sha256d(b"".join(parts))


class PrecomputedTxData:
    """BIP143 midstate hashes of one transaction, computed on first use."""

    __slots__ = ("tx", "_prevouts", "_sequence", "_outputs", "_all_prefix", "_all_suffix",
                 "_legacy")

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self._prevouts: bytes | None = None
        self._sequence: bytes | None = None
        self._outputs: bytes | None = None
        self._all_prefix: bytes | None = None
        self._all_suffix: bytes | None = None
        self._legacy: tuple[list[bytes], list[bytes], bytes] | None = None

    def legacy_parts(self) -> tuple[list[bytes], list[bytes], bytes]:
        """Serialized prevouts, sequences and the output list (with its count), which the
        legacy hash of every input repeats."""
        if self._legacy is None:
            vin, vout = self.tx.vin, self.tx.vout
            self._legacy = (
                [i.prevout.serialize() for i in vin],
                [struct.pack("<I", i.sequence) for i in vin],
                compact_size(len(vout)) + outputs_serialized(self.tx),
            )
        return self._legacy

    def sighash_all_parts(self) -> tuple[bytes, bytes]:
        """For SIGHASH_ALL (the common case) everything before the input's outpoint and after
        its sequence is the same for every input: serialize it once per transaction."""
        if self._all_prefix is None:
            tx = self.tx
            self._all_prefix = _PACK_I32(tx.version) + self.hash_prevouts + self.hash_sequence
            self._all_suffix = self.hash_outputs + _PACK_LOCKTIME_ALL(tx.locktime, SIGHASH_ALL)
        return self._all_prefix, self._all_suffix  # type: ignore[return-value]

    # Serialized with precompiled structs, and without a list to join for one input (most
    # transactions): these run for every transaction a block or the mempool verifies.
    @property
    def hash_prevouts(self) -> bytes:
        if self._prevouts is None:
            vin = self.tx.vin
            if len(vin) == 1:
                prevout = vin[0].prevout
                self._prevouts = sha256d(_PACK_OUTPOINT(prevout.txid, prevout.n))
            else:
                self._prevouts = sha256d(b"".join(
                    [_PACK_OUTPOINT(i.prevout.txid, i.prevout.n) for i in vin]))
        return self._prevouts

    @property
    def hash_sequence(self) -> bytes:
        if self._sequence is None:
            vin = self.tx.vin
            if len(vin) == 1:
                self._sequence = _hash_one_sequence(vin[0].sequence)
            else:
                self._sequence = sha256d(b"".join([_PACK_U32(i.sequence) for i in vin]))
        return self._sequence

    @property
    def hash_outputs(self) -> bytes:
        if self._outputs is None:
            self._outputs = sha256d(outputs_serialized(self.tx))
        return self._outputs


_PACK_I32 = struct.Struct("<i").pack
_PACK_U32 = struct.Struct("<I").pack
_PACK_OUTPOINT = struct.Struct("<32sI").pack
_PACK_LOCKTIME_ALL = struct.Struct("<Ii").pack
_PACK_AMOUNT_SEQUENCE = struct.Struct("<qI").pack


@lru_cache(maxsize=64)
def _hash_one_sequence(sequence: int) -> bytes:
    """hashSequence of a one-input transaction. Wallets use a handful of sequences (final,
    RBF's 0xFFFFFFFD, anti-fee-sniping's 0xFFFFFFFE), so this hash of 4 bytes is nearly
    always one already made: a lookup instead of a double SHA-256 (~0.6 µs)."""
    return sha256d(_PACK_U32(sequence))


def outputs_serialized(tx: Tx) -> bytes:
    """``tx``'s outputs as serialized, without their count: the bytes they were parsed from,
    if they were (an accepted encoding is canonical, so serializing gives the same bytes)."""
    raw = tx._outputs_raw
    return raw if raw is not None else serialize_outputs(tx.vout)


def serialize_outputs(vout: tuple[TxOut, ...]) -> bytes:
    """The outputs as a transaction serializes them, without their count."""
    return b"".join([o.serialize() for o in vout])


_ZERO32 = bytes(32)
# BIP143's scriptCode of a P2WPKH program, with its length: DUP HASH160 <20 bytes> EQUALVERIFY
# CHECKSIG.
_P2WPKH_CODE_HEAD = b"\x19\x76\xa9\x14"
_P2WPKH_CODE_TAIL = b"\x88\xac"


def p2wpkh_script_code(program: bytes) -> bytes:
    """BIP143: a P2WPKH program is executed as OP_DUP OP_HASH160 <program> OP_EQUALVERIFY
    OP_CHECKSIG (the scriptCode its signatures commit to, without the length)."""
    return _P2WPKH_CODE_HEAD[1:] + program + _P2WPKH_CODE_TAIL


def p2wpkh_sighash_all(tx: Tx, n_in: int, program: bytes, amount: int,
                       cache: PrecomputedTxData | None) -> bytes:
    """``segwit_v0_sighash`` of a P2WPKH input with ``program`` and SIGHASH_ALL, the hash most
    signatures a block holds commit to. A one-input transaction's is made in one join, its
    hashPrevouts being the hash of the very outpoint the preimage holds (``cache`` unused);
    any other's is segwit_v0_sighash's, from ``cache``'s parts shared by every input."""
    if len(tx.vin) != 1:
        return segwit_v0_sighash(p2wpkh_script_code(program), tx, n_in, SIGHASH_ALL, amount,
                                 cache)
    txin = tx.vin[n_in]
    prevout = txin.prevout
    outpoint = _PACK_OUTPOINT(prevout.txid, prevout.n)
    sequence = txin.sequence
    return sha256d(b"".join((
        _PACK_I32(tx.version), sha256d(outpoint), _hash_one_sequence(sequence), outpoint,
        _P2WPKH_CODE_HEAD, program, _P2WPKH_CODE_TAIL, _PACK_AMOUNT_SEQUENCE(amount, sequence),
        sha256d(outputs_serialized(tx)), _PACK_LOCKTIME_ALL(tx.locktime, SIGHASH_ALL))))


def segwit_v0_sighash(script_code: bytes, tx: Tx, n_in: int, hash_type: int, amount: int,
                      cache: PrecomputedTxData | None = None) -> bytes:
    """BIP143 signature hash. ``script_code`` is the executed script from the last
    OP_CODESEPARATOR on, serialized whole (no separator stripping)."""
    if cache is None:
        cache = PrecomputedTxData(tx)
    txin = tx.vin[n_in]
    if hash_type == SIGHASH_ALL:
        prefix, suffix = cache.sighash_all_parts()
        prevout = txin.prevout
        return sha256d(b"".join((
            prefix, _PACK_OUTPOINT(prevout.txid, prevout.n), compact_size(len(script_code)),
            script_code,
            _PACK_AMOUNT_SEQUENCE(amount, txin.sequence), suffix)))
    base_type = hash_type & 0x1F
    anyone_can_pay = hash_type & SIGHASH_ANYONECANPAY
    hash_prevouts = _ZERO32 if anyone_can_pay else cache.hash_prevouts
    if anyone_can_pay or base_type in (SIGHASH_SINGLE, SIGHASH_NONE):
        hash_sequence = _ZERO32
    else:
        hash_sequence = cache.hash_sequence
    if base_type != SIGHASH_SINGLE and base_type != SIGHASH_NONE:
        hash_outputs = cache.hash_outputs
    elif base_type == SIGHASH_SINGLE and n_in < len(tx.vout):
        hash_outputs = sha256d(tx.vout[n_in].serialize())
    else:
        hash_outputs = _ZERO32
    return sha256d(b"".join((
        struct.pack("<i", tx.version), hash_prevouts, hash_sequence,
        txin.prevout.serialize(), compact_size(len(script_code)), script_code,
        struct.pack("<qI", amount, txin.sequence), hash_outputs,
        struct.pack("<Ii", tx.locktime, hash_type),
    )))
