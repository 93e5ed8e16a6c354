"""The transaction index and the address (script hash) index behind the Esplora API.

Owns ``<datadir>/indexes/`` (a LevelDB of its own) and an in-memory view of the mempool. It
follows the chain as a :class:`~node.chain.chainstate.ChainListener` and the pool as a
:class:`~node.mempool.mempool.MempoolListener`; it reads blocks and undo data from the chain's
block store and never writes chain, coin or pool state.

A script hash is ``sha256(scriptPubKey)`` in internal byte order (the API shows it reversed, as
Electrum and Esplora do). As in Esplora (electrs), provably unspendable outputs (OP_RETURN,
oversized scripts) are not indexed by script hash; the genesis coinbase is.

Key layout (integers big-endian, so keys sort by them; ``outpoint`` = txid + n as 4 bytes):

- ``b"V"`` -> layout version (one byte); another version is wiped and rebuilt on start
- ``b"T"`` -> hash of the last block indexed (the index tip)
- ``b"t" + txid`` -> height (4) + position in block (4) + block hash (32)
- ``b"s" + outpoint`` -> spending txid (32) + input index (4) + height (4)
- ``b"h" + script hash + height (4) + position (4) + txid`` -> empty: history, read in reverse
  for newest first; a transaction touching a script by both inputs and outputs has one key
- ``b"u" + script hash + outpoint`` -> value (8) + height (4): the script's confirmed unspent
  outputs (deleted when spent, restored when the spend is disconnected)
- ``b"S" + script hash`` -> tx_count, funded_txo_count, funded_txo_sum, spent_txo_count,
  spent_txo_sum (5 x 8): running chain totals; deleted when they return to zero

The pool part lives in memory (:mod:`node.index.mempool_view`): per script hash, the pool's
transactions (arrival order), totals and outputs, and every pool spend by outpoint. Each
transaction's contribution is recorded as it enters, its input scripts looked up in the pool or
the UTXO set, and taken back as it leaves, for whatever reason.

Queries read only what they answer: history pages seek straight to ``last_seen_txid`` (its
``t`` record gives the key) and read one key per item; ``utxos`` reads only its script's ``u``
keys; stats are one ``S`` read plus the pool's totals.

Known limit: mainnet's two pre-BIP30 duplicate coinbase txids (blocks 91842 and 91880) keep one
``t`` record, the later one.

Crash safety: one block's changes and the new ``T`` go in one WriteBatch, so the index is always
exactly the index of the chain ending at ``T``. On start it undoes from ``T`` back to the active
chain (a reorg while the node was down) and indexes forward to the chain tip. The index after a
reorg is byte-for-byte the index of the winning chain alone.
"""

from .indexes import (
    HistoryItem,
    Indexes,
    ScriptHashStats,
    Spender,
    TooManyUtxos,
    TxLocation,
    TxoStats,
    Utxo,
)
from .store import script_hash

__all__ = [
    "HistoryItem",
    "Indexes",
    "ScriptHashStats",
    "Spender",
    "TooManyUtxos",
    "TxLocation",
    "TxoStats",
    "Utxo",
    "script_hash",
]
