"""Signing: the BIP174 signer and finalizer roles for P2WPKH (BIP143 signature hash) and P2PKH
(legacy signature hash) inputs, and the check of a finished transaction with the consensus
script interpreter before anything is broadcast."""

from __future__ import annotations

from collections.abc import Sequence

from node.consensus import crypto
from node.consensus.address import p2pkh_script
from node.consensus.hashes import hash160
from node.consensus.primitives import Tx, TxOut
from node.consensus.script.errors import ScriptError
from node.consensus.script.flags import STANDARD_FLAGS
from node.consensus.script.interpreter import verify_input
from node.consensus.script.script import push_data
from node.consensus.script.sighash import (
    SIGHASH_ALL,
    PrecomputedTxData,
    legacy_sighash,
    segwit_v0_sighash,
)

from .hd import ExtendedKey
from .psbt import Psbt, PsbtError, PsbtInput

_P2PKH_LEN, _P2WPKH_LEN = 25, 22


def script_kind(script_pubkey: bytes) -> str | None:
    """"p2wpkh", "p2pkh" or None (a script this wallet cannot sign for)."""
    s = script_pubkey
    if len(s) == _P2WPKH_LEN and s[:2] == b"\x00\x14":
        return "p2wpkh"
    if len(s) == _P2PKH_LEN and s[:3] == b"\x76\xa9\x14" and s[23:] == b"\x88\xac":
        return "p2pkh"
    return None


def _key_hash(script_pubkey: bytes) -> bytes:
    return script_pubkey[2:22] if script_kind(script_pubkey) == "p2wpkh" else script_pubkey[3:23]


def sign_psbt(psbt: Psbt, root: ExtendedKey) -> int:
    """Add our signatures (SIGHASH_ALL) to every input whose key paths start at ``root``'s
    fingerprint; returns how many inputs were signed."""
    cache = PrecomputedTxData(psbt.tx)
    signed = 0
    for n, inp in enumerate(psbt.inputs):
        if inp.finalized:
            continue
        if inp.sighash_type not in (None, SIGHASH_ALL):
            raise PsbtError(f"input {n} asks for sighash type {inp.sighash_type}; "
                            f"only SIGHASH_ALL is signed")
        spent = psbt.spent_output(n)
        kind = script_kind(spent.script_pubkey)
        if kind is None:
            continue
        if kind == "p2pkh" and inp.non_witness_utxo is None:
            # Legacy inputs commit to no amount: only the whole previous tx proves it.
            raise PsbtError(f"input {n} (P2PKH) needs the previous transaction to be signed")
        for pubkey, (fingerprint, path) in inp.bip32_paths.items():
            if fingerprint != root.fingerprint or hash160(pubkey) != _key_hash(spent.script_pubkey):
                continue
            key = root.derive(list(path))
            if key.pubkey != pubkey:
                raise PsbtError(f"input {n}: key path {list(path)} does not give its public key")
            if kind == "p2wpkh":
                # BIP143: a P2WPKH input's scriptCode is the P2PKH script of its key hash.
                digest = segwit_v0_sighash(p2pkh_script(hash160(pubkey)), psbt.tx, n,
                                           SIGHASH_ALL, spent.value, cache)
            else:
                digest = legacy_sighash(spent.script_pubkey, psbt.tx, n, SIGHASH_ALL, cache)
            assert key.secret is not None
            inp.partial_sigs[pubkey] = crypto.sign(key.secret, digest) + bytes([SIGHASH_ALL])
            signed += 1
            break
    return signed


def finalize(psbt: Psbt) -> None:
    """BIP174 finalizer: partial signatures become final scriptSigs / witnesses, and the
    fields only signers need are dropped. Inputs we cannot complete raise PsbtError."""
    for n, inp in enumerate(psbt.inputs):
        if inp.finalized:
            continue
        spent = psbt.spent_output(n)
        kind = script_kind(spent.script_pubkey)
        sigs = [(pk, sig) for pk, sig in inp.partial_sigs.items()
                if hash160(pk) == _key_hash(spent.script_pubkey)]
        if kind is None:
            raise PsbtError(f"input {n}: cannot finalize a script of this type")
        if not sigs:
            raise PsbtError(f"input {n} is not signed")
        pubkey, sig = sigs[0]
        done = PsbtInput(inp.non_witness_utxo, inp.witness_utxo, unknown=inp.unknown)
        if kind == "p2wpkh":
            done.final_script_witness = (sig, pubkey)
        else:
            done.final_script_sig = push_data(sig) + push_data(pubkey)
        psbt.inputs[n] = done


def verify_signed(tx: Tx, spent: Sequence[TxOut]) -> None:
    """Every input against the output it spends, under Core's standard script flags, so that a
    transaction the node would reject for its scripts never leaves the wallet."""
    cache = PrecomputedTxData(tx)
    for n, out in enumerate(spent):
        try:
            verify_input(tx, n, out.script_pubkey, out.value, STANDARD_FLAGS, cache)
        except ScriptError as exc:
            raise PsbtError(f"input {n} does not verify: {exc}") from None
