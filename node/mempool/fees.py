"""Fee estimation from the mempool's projected blocks and recently confirmed blocks.

For a confirmation target of N blocks: order the pool by ancestor fee rate (how a miner
fills blocks) and find the fee rate at the bottom of the N-th projected block; a rate at least
that would confirm within N blocks if no better-paying transaction arrived. Recent blocks keep
the estimate honest when they were full: the rate that got in then is a floor. Never empty:
the floor of floors is the pool's minimum fee rate (the minimum relay fee unless the pool
overflowed). Rates are in sat/vB, as Esplora's /fee-estimates answers.
"""

from __future__ import annotations

from collections import deque
from statistics import quantiles

from node.chain.index import BlockIndex
from node.consensus.limits import MAX_BLOCK_WEIGHT
from node.consensus.primitives import Block

from .mempool import Mempool, MempoolEntry

# Esplora's targets.
TARGETS = (*range(1, 26), 144, 504, 1008)
BLOCK_VSIZE = MAX_BLOCK_WEIGHT // 4 - 1_000  # room a miner leaves for the coinbase
RECENT_BLOCKS = 12
FULL_BLOCK_SHARE = 0.9  # a block this full tells the rate that competed for space


class FeeEstimator:
    """A mempool listener (fee rates of what blocks confirm) and a chain listener (one record
    per block). Register it on the chain after the mempool."""

    def __init__(self, mempool: Mempool, block_vsize: int = BLOCK_VSIZE) -> None:
        self.mempool = mempool
        self.block_vsize = block_vsize
        self._confirming: list[tuple[float, int]] = []  # (sat/vB, vsize) of the next block
        self._recent: deque[tuple[float, float]] = deque(maxlen=RECENT_BLOCKS)

    # -- listeners -----------------------------------------------------------------------------
    def tx_added(self, entry: MempoolEntry) -> None:
        pass  # only confirmations matter here

    def tx_removed(self, entry: MempoolEntry, reason: str) -> None:
        if reason == "block":
            self._confirming.append((entry.ancestor_fee_rate, entry.vsize))

    def block_connected(self, block: Block, index: BlockIndex) -> None:
        rates = self._confirming
        self._confirming = []
        fullness = sum(v for _, v in rates) / self.block_vsize
        if rates and fullness >= FULL_BLOCK_SHARE:
            low = sorted(r for r, _ in rates)
            floor = quantiles(low, n=10)[0] if len(low) > 1 else low[0]
            self._recent.append((fullness, floor))
        else:
            self._recent.append((fullness, 0.0))

    def block_disconnected(self, block: Block, index: BlockIndex) -> None:
        if self._recent:
            self._recent.pop()

    # -- estimates -----------------------------------------------------------------------------
    def estimates(self) -> dict[int, float]:
        """sat/vB for each of Esplora's targets: non-increasing with the target."""
        minimum = self.mempool.min_fee_rate() / 1000
        bottoms = self._projected_bottoms(max(TARGETS))
        out: dict[int, float] = {}
        for target in TARGETS:
            projected = bottoms[target - 1] if target <= len(bottoms) else 0.0
            recent = self._recent_floor(target)
            out[target] = round(max(minimum, projected, recent), 3)
        return out

    def estimate(self, target: int) -> float:
        """sat/vB to confirm within ``target`` blocks (the nearest larger Esplora target)."""
        table = self.estimates()
        for t in TARGETS:
            if t >= target:
                return table[t]
        return table[TARGETS[-1]]

    def _projected_bottoms(self, max_blocks: int) -> list[float]:
        """The lowest ancestor fee rate in each full projected block, best first. A partly
        filled last block is not included: any rate above the minimum gets into it."""
        entries = sorted(self.mempool.entries.values(),
                         key=lambda e: e.ancestor_fee_rate, reverse=True)
        bottoms: list[float] = []
        used = 0
        for e in entries:
            used += e.vsize
            if used >= self.block_vsize:
                bottoms.append(e.ancestor_fee_rate)
                used = 0
                if len(bottoms) >= max_blocks:
                    break
        return bottoms

    def _recent_floor(self, target: int) -> float:
        """Recent full blocks put a floor under short targets; a longer target looks at more
        blocks and takes the lowest floor among them (patience pays less)."""
        if not self._recent:
            return 0.0
        window = list(self._recent)[-max(1, min(target, len(self._recent))):]
        floors = [f for _, f in window]
        return min(floors) if target > 1 else max(floors)
