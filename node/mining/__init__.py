"""Block assembly and proof of work: building coinbases and blocks, and solving them.

Owns the construction of new blocks; never validates them itself (mined blocks go through the
chain's validation like any other) and never touches storage.
"""

# The longest wait between a miner's blocks the admin API (POST /node/mining) accepts, in
# seconds; tools that drive it (regtest) check against the same bound.
MAX_MINING_INTERVAL = 86400


def is_mining_interval(seconds: float) -> bool:
    """Whether a miner may wait ``seconds`` between blocks: from 0 to MAX_MINING_INTERVAL
    (NaN is not)."""
    return 0 <= seconds <= MAX_MINING_INTERVAL
