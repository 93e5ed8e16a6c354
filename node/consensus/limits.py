"""Consensus limits, named and valued as Bitcoin Core names them.

One home for the block-level constants that more than one rule module needs. Constants that
already live with the code that owns them (the witness scale factor with the primitives, the
lock-time threshold with script, the median-time span with pow) are re-exported here so callers
can import every limit from one place. Network-specific values live in :mod:`.params`.
"""

from __future__ import annotations

from .pow import MEDIAN_TIME_SPAN
from .primitives import WITNESS_SCALE_FACTOR
from .script.script import LOCKTIME_THRESHOLD

__all__ = [
    "LOCKTIME_THRESHOLD",
    "MAX_BLOCK_SERIALIZED_SIZE",
    "MAX_BLOCK_SIGOPS_COST",
    "MAX_BLOCK_WEIGHT",
    "MAX_FUTURE_BLOCK_TIME",
    "MEDIAN_TIME_SPAN",
    "WITNESS_SCALE_FACTOR",
]

# Core: MAX_BLOCK_SERIALIZED_SIZE (consensus/consensus.h). The largest a serialized block (with
# witnesses) can be; a buffer bound for decoders and the P2P layer, not itself a validity rule.
MAX_BLOCK_SERIALIZED_SIZE = 4_000_000

# Core: MAX_BLOCK_WEIGHT (consensus/consensus.h). BIP141 weight limit: base size x 3 + total size.
MAX_BLOCK_WEIGHT = 4_000_000

# Core: MAX_BLOCK_SIGOPS_COST (consensus/consensus.h). BIP141 sigop cost limit (legacy and P2SH
# sigops weigh WITNESS_SCALE_FACTOR each, witness sigops 1).
MAX_BLOCK_SIGOPS_COST = 80_000

# Core: MAX_FUTURE_BLOCK_TIME (chain.h). A block timestamp may be at most this many seconds
# ahead of the node's clock ("time-too-new").
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60

# Re-exported (see the imports above):
# - WITNESS_SCALE_FACTOR = 4: Core's WITNESS_SCALE_FACTOR (consensus/consensus.h).
# - LOCKTIME_THRESHOLD = 500_000_000: Core's LOCKTIME_THRESHOLD (script/script.h); nLockTime
#   below it is a block height, at or above it a UNIX time.
# - MEDIAN_TIME_SPAN = 11: Core's CBlockIndex::nMedianTimeSpan (chain.h).
