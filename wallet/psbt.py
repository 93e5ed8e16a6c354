"""BIP174 Partially Signed Bitcoin Transactions (version 0): the format and the extractor.

A PSBT carries the unsigned transaction, and per input the output it spends and the key path of
each key that can sign it, so that a signer holding only the seed (offline) can sign it. Fields
this module does not interpret are kept as they came, as BIP174 asks.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass, field

from node.consensus.errors import DecodeError
from node.consensus.primitives import Tx, TxIn, TxOut
from node.consensus.serialize import ByteReader, compact_size, from_bytes, var_bytes

MAGIC = b"psbt\xff"
# Global, input and output key types (BIP174 "Specification").
GLOBAL_UNSIGNED_TX = 0x00
IN_NON_WITNESS_UTXO = 0x00
IN_WITNESS_UTXO = 0x01
IN_PARTIAL_SIG = 0x02
IN_SIGHASH_TYPE = 0x03
IN_BIP32_DERIVATION = 0x06
IN_FINAL_SCRIPTSIG = 0x07
IN_FINAL_SCRIPTWITNESS = 0x08
OUT_BIP32_DERIVATION = 0x02

KeyPath = tuple[bytes, tuple[int, ...]]  # (master key fingerprint, path)


class PsbtError(DecodeError):
    """A PSBT that is malformed or cannot do what was asked; the message says why."""


@dataclass
class PsbtInput:
    non_witness_utxo: Tx | None = None
    witness_utxo: TxOut | None = None
    partial_sigs: dict[bytes, bytes] = field(default_factory=dict)  # pubkey -> sig+hashtype
    sighash_type: int | None = None
    bip32_paths: dict[bytes, KeyPath] = field(default_factory=dict)
    final_script_sig: bytes | None = None
    final_script_witness: tuple[bytes, ...] | None = None
    unknown: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def finalized(self) -> bool:
        return self.final_script_sig is not None or self.final_script_witness is not None


@dataclass
class PsbtOutput:
    bip32_paths: dict[bytes, KeyPath] = field(default_factory=dict)
    unknown: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class Psbt:
    tx: Tx  # unsigned: empty scriptSigs and witnesses
    inputs: list[PsbtInput]
    outputs: list[PsbtOutput]
    unknown: dict[bytes, bytes] = field(default_factory=dict)

    @classmethod
    def from_tx(cls, tx: Tx) -> Psbt:
        bare = Tx(tx.version, tuple(TxIn(i.prevout, b"", i.sequence) for i in tx.vin), tx.vout,
                  tx.locktime)
        return cls(bare, [PsbtInput() for _ in tx.vin], [PsbtOutput() for _ in tx.vout])

    # -- the spent outputs ---------------------------------------------------------------------
    def spent_output(self, n: int) -> TxOut:
        """The output input ``n`` spends, from its witness or non-witness UTXO field."""
        inp, prevout = self.inputs[n], self.tx.vin[n].prevout
        if inp.witness_utxo is not None:
            return inp.witness_utxo
        if inp.non_witness_utxo is not None:
            return inp.non_witness_utxo.vout[prevout.n]
        raise PsbtError(f"input {n} has no UTXO information")

    # -- extractor (the finalizer, which knows scripts, is wallet.signer.finalize) -------------
    def extract(self) -> Tx:
        missing = [n for n, i in enumerate(self.inputs) if not i.finalized]
        if missing:
            raise PsbtError(f"input {missing[0]} is not finalized (not signed yet?)")
        vin = tuple(TxIn(txin.prevout, inp.final_script_sig or b"", txin.sequence,
                         inp.final_script_witness or ())
                    for txin, inp in zip(self.tx.vin, self.inputs, strict=True))
        return Tx(self.tx.version, vin, self.tx.vout, self.tx.locktime)

    # -- serialization -----------------------------------------------------------------------
    def serialize(self) -> bytes:
        out = [MAGIC, _pair(bytes([GLOBAL_UNSIGNED_TX]), self.tx.serialize_legacy())]
        out += [_pair(k, v) for k, v in self.unknown.items()]
        out.append(b"\x00")
        for inp in self.inputs:
            if inp.non_witness_utxo is not None:
                out.append(_pair(bytes([IN_NON_WITNESS_UTXO]), inp.non_witness_utxo.serialize()))
            if inp.witness_utxo is not None:
                out.append(_pair(bytes([IN_WITNESS_UTXO]), inp.witness_utxo.serialize()))
            out += [_pair(bytes([IN_PARTIAL_SIG]) + pk, sig)
                    for pk, sig in inp.partial_sigs.items()]
            if inp.sighash_type is not None:
                out.append(_pair(bytes([IN_SIGHASH_TYPE]), struct.pack("<I", inp.sighash_type)))
            out += [_pair(bytes([IN_BIP32_DERIVATION]) + pk, _keypath(kp))
                    for pk, kp in inp.bip32_paths.items()]
            if inp.final_script_sig is not None:
                out.append(_pair(bytes([IN_FINAL_SCRIPTSIG]), inp.final_script_sig))
            if inp.final_script_witness is not None:
                out.append(_pair(bytes([IN_FINAL_SCRIPTWITNESS]),
                                 compact_size(len(inp.final_script_witness))
                                 + b"".join(var_bytes(w) for w in inp.final_script_witness)))
            out += [_pair(k, v) for k, v in inp.unknown.items()]
            out.append(b"\x00")
        for o in self.outputs:
            out += [_pair(bytes([OUT_BIP32_DERIVATION]) + pk, _keypath(kp))
                    for pk, kp in o.bip32_paths.items()]
            out += [_pair(k, v) for k, v in o.unknown.items()]
            out.append(b"\x00")
        return b"".join(out)

    def to_base64(self) -> str:
        return base64.b64encode(self.serialize()).decode()

    @classmethod
    def parse(cls, data: bytes) -> Psbt:
        if not data.startswith(MAGIC):
            raise PsbtError("not a PSBT (bad magic bytes)")
        r = ByteReader(data, len(MAGIC))
        try:
            return _parse(r)
        except PsbtError:
            raise
        except DecodeError as exc:
            raise PsbtError(f"malformed PSBT: {exc}") from None

    @classmethod
    def from_base64(cls, text: str) -> Psbt:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PsbtError("not a PSBT: invalid base64") from None
        return cls.parse(raw)


def _pair(key: bytes, value: bytes) -> bytes:
    return var_bytes(key) + var_bytes(value)


def _keypath(kp: KeyPath) -> bytes:
    fingerprint, path = kp
    return fingerprint + b"".join(struct.pack("<I", i) for i in path)


def _read_keypath(value: bytes) -> KeyPath:
    if len(value) < 4 or len(value) % 4:
        raise PsbtError("bad BIP32 derivation value")
    return value[:4], tuple(struct.unpack(f"<{len(value) // 4 - 1}I", value[4:]))


def _read_map(r: ByteReader) -> list[tuple[bytes, bytes]]:
    pairs, seen = [], set()
    while True:
        key = r.var_bytes()
        if not key:
            return pairs
        if key in seen:
            raise PsbtError(f"duplicate key {key.hex()}")
        seen.add(key)
        pairs.append((key, r.var_bytes()))


def _expect_key_size(key: bytes, size: int, what: str) -> None:
    if len(key) != size:
        raise PsbtError(f"bad key size for {what}")


def _parse(r: ByteReader) -> Psbt:
    tx = None
    unknown = {}
    for key, value in _read_map(r):
        if key[0] == GLOBAL_UNSIGNED_TX:
            _expect_key_size(key, 1, "the unsigned transaction")
            tx = from_bytes(Tx, value)
        else:
            unknown[key] = value
    if tx is None:
        raise PsbtError("PSBT has no unsigned transaction")
    if any(i.script_sig or i.witness for i in tx.vin):
        raise PsbtError("the PSBT's transaction is not unsigned")
    inputs = []
    for n in range(len(tx.vin)):
        inp = PsbtInput()
        for key, value in _read_map(r):
            t = key[0]
            if t == IN_NON_WITNESS_UTXO:
                _expect_key_size(key, 1, "a non-witness UTXO")
                inp.non_witness_utxo = from_bytes(Tx, value)
                if inp.non_witness_utxo.txid != tx.vin[n].prevout.txid:
                    raise PsbtError(f"input {n}: the non-witness UTXO is not the spent tx")
                if tx.vin[n].prevout.n >= len(inp.non_witness_utxo.vout):
                    raise PsbtError(f"input {n}: the spent output does not exist")
            elif t == IN_WITNESS_UTXO:
                _expect_key_size(key, 1, "a witness UTXO")
                inp.witness_utxo = from_bytes(TxOut, value)
            elif t == IN_PARTIAL_SIG:
                if len(key) not in (34, 66):
                    raise PsbtError("bad key size for a partial signature")
                inp.partial_sigs[key[1:]] = value
            elif t == IN_SIGHASH_TYPE:
                _expect_key_size(key, 1, "the sighash type")
                if len(value) != 4:
                    raise PsbtError("bad sighash type value")
                inp.sighash_type = struct.unpack("<I", value)[0]
            elif t == IN_BIP32_DERIVATION:
                inp.bip32_paths[key[1:]] = _read_keypath(value)
            elif t == IN_FINAL_SCRIPTSIG:
                _expect_key_size(key, 1, "the final scriptSig")
                inp.final_script_sig = value
            elif t == IN_FINAL_SCRIPTWITNESS:
                _expect_key_size(key, 1, "the final witness")
                wr = ByteReader(value)
                inp.final_script_witness = tuple(wr.var_bytes() for _ in range(wr.compact_size()))
                wr.finish()
            else:
                inp.unknown[key] = value
        inputs.append(inp)
    outputs = []
    for _ in tx.vout:
        out = PsbtOutput()
        for key, value in _read_map(r):
            if key[0] == OUT_BIP32_DERIVATION:
                out.bip32_paths[key[1:]] = _read_keypath(value)
            else:
                out.unknown[key] = value
        outputs.append(out)
    r.finish()
    return Psbt(tx, inputs, outputs, unknown)
