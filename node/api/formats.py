"""JSON shapes: Esplora's (integers in satoshis) and Bitcoin Core's (amounts in coins)."""

from __future__ import annotations

from dataclasses import dataclass

from node.chain.index import BlockIndex
from node.consensus.address import script_to_address
from node.consensus.hashes import hash_to_hex
from node.consensus.params import COIN, Params
from node.consensus.pow import difficulty
from node.consensus.primitives import Block, OutPoint, Tx, TxOut
from node.consensus.script.asm import core_asm, esplora_asm
from node.mempool.policy import esplora_type_name, script_type_name, solver

from .context import ApiContext
from .errors import ApiError


@dataclass(slots=True)
class TxStatus:
    block: BlockIndex | None  # None: in the mempool
    position: int = 0


def find_tx(ctx: ApiContext, txid: bytes) -> tuple[Tx, TxStatus] | None:
    """A transaction from the mempool or, through the tx index, from its block."""
    entry = ctx.mempool.get(txid)
    if entry is not None:
        return entry.tx, TxStatus(None)
    if ctx.indexes is None:
        raise ApiError(503, "the transaction index is disabled (node runs with --no-index)")
    loc = ctx.indexes.tx_location(txid)
    if loc is None:
        return None
    index = ctx.chain.index.get(loc.block_hash)
    block = ctx.chain.read_block(loc.block_hash)
    if index is None or block is None:
        return None
    return block.txs[loc.position], TxStatus(index, loc.position)


def find_prevout(ctx: ApiContext, outpoint: OutPoint) -> TxOut | None:
    """The output an input spends: unspent in the UTXO set, in the mempool, or found through
    the tx index (spent outputs of confirmed transactions)."""
    coin = ctx.chain.get_coin(outpoint)
    if coin is not None:
        return coin.txout
    entry = ctx.mempool.get(outpoint.txid)
    if entry is not None:
        return entry.tx.vout[outpoint.n] if outpoint.n < len(entry.tx.vout) else None
    if ctx.indexes is None:
        return None
    found = find_tx(ctx, outpoint.txid)
    if found is None or outpoint.n >= len(found[0].vout):
        return None
    return found[0].vout[outpoint.n]


def status_json(status: TxStatus) -> dict:
    if status.block is None:
        return {"confirmed": False}
    b = status.block
    return {"confirmed": True, "block_height": b.height, "block_hash": hash_to_hex(b.hash),
            "block_time": b.time}


def esplora_output(out: TxOut, params: Params) -> dict:
    d = {
        "scriptpubkey": out.script_pubkey.hex(),
        "scriptpubkey_asm": esplora_asm(out.script_pubkey),
        "scriptpubkey_type": esplora_type_name(out.script_pubkey),
        "value": out.value,
    }
    address = script_to_address(out.script_pubkey, params)
    if address is not None:
        d["scriptpubkey_address"] = address
    return d


def esplora_tx(ctx: ApiContext, tx: Tx, status: TxStatus) -> dict:
    params = ctx.params
    vin = []
    fee = 0
    coinbase = tx.is_coinbase()
    total_in = 0
    for txin in tx.vin:
        prevout = None if coinbase else find_prevout(ctx, txin.prevout)
        if prevout is not None:
            total_in += prevout.value
        vin.append({
            "txid": hash_to_hex(txin.prevout.txid),
            "vout": txin.prevout.n,
            "prevout": esplora_output(prevout, params) if prevout is not None else None,
            "scriptsig": txin.script_sig.hex(),
            "scriptsig_asm": esplora_asm(txin.script_sig),
            "witness": [w.hex() for w in txin.witness] if txin.witness else None,
            "is_coinbase": coinbase,
            "sequence": txin.sequence,
        })
        if vin[-1]["witness"] is None:
            del vin[-1]["witness"]
    if not coinbase:
        fee = total_in - sum(o.value for o in tx.vout)
    return {
        "txid": hash_to_hex(tx.txid),
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": [esplora_output(o, params) for o in tx.vout],
        "size": tx.total_size,
        "weight": tx.weight,
        "fee": fee,
        "status": status_json(status),
    }


def esplora_block(index: BlockIndex, block: Block) -> dict:
    h = index.header
    return {
        "id": hash_to_hex(index.hash),
        "height": index.height,
        "version": h.version,
        "timestamp": h.time,
        "tx_count": len(block.txs),
        "size": block.total_size,
        "weight": block.weight,
        "merkle_root": hash_to_hex(h.merkle_root),
        "previousblockhash": hash_to_hex(h.prev_hash) if index.prev else None,
        "mediantime": index.median_time_past(),
        "nonce": h.nonce,
        "bits": h.bits,
        "difficulty": difficulty(h.bits),
    }


# -- Bitcoin Core's JSON ---------------------------------------------------------------------

def coins(amount: int) -> float:
    """Satoshis as Core's JSON shows them: a number of coins with 8 decimals."""
    return round(amount / COIN, 8)


def core_script_pubkey(script: bytes, params: Params) -> dict:
    d = {"asm": core_asm(script), "hex": script.hex(), "type": script_type_name(solver(script)[0])}
    address = script_to_address(script, params)
    if address is not None:
        d["address"] = address
    return d


def core_tx(tx: Tx, params: Params) -> dict:
    vin = []
    for txin in tx.vin:
        if tx.is_coinbase():
            item = {"coinbase": txin.script_sig.hex()}
        else:
            item = {"txid": hash_to_hex(txin.prevout.txid), "vout": txin.prevout.n,
                    "scriptSig": {"asm": core_asm(txin.script_sig),
                                  "hex": txin.script_sig.hex()}}
        if txin.witness:
            item["txinwitness"] = [w.hex() for w in txin.witness]
        item["sequence"] = txin.sequence
        vin.append(item)
    return {
        "txid": hash_to_hex(tx.txid),
        "hash": hash_to_hex(tx.wtxid),
        "version": tx.version,
        "size": tx.total_size,
        "vsize": tx.vsize,
        "weight": tx.weight,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": [{"value": coins(o.value), "n": n,
                  "scriptPubKey": core_script_pubkey(o.script_pubkey, params)}
                 for n, o in enumerate(tx.vout)],
        "hex": tx.serialize().hex(),
    }


def core_header(index: BlockIndex, chain) -> dict:
    """Core's getblockheader JSON; ``confirmations`` is -1 off the active chain."""
    h = index.header
    active = chain.is_active(index)
    d = {
        "hash": hash_to_hex(index.hash),
        "confirmations": chain.height - index.height + 1 if active else -1,
        "height": index.height,
        "version": h.version,
        "versionHex": f"{h.version & 0xFFFFFFFF:08x}",
        "merkleroot": hash_to_hex(h.merkle_root),
        "time": h.time,
        "mediantime": index.median_time_past(),
        "nonce": h.nonce,
        "bits": f"{h.bits:08x}",
        "difficulty": difficulty(h.bits),
        "chainwork": f"{index.chainwork:064x}",
        "nTx": index.tx_count,
    }
    if index.prev is not None:
        d["previousblockhash"] = hash_to_hex(index.prev.hash)
    nxt = chain.at_height(index.height + 1) if active else None
    if nxt is not None:
        d["nextblockhash"] = hash_to_hex(nxt.hash)
    return d
