"""Block templates: choose mempool transactions by ancestor fee rate and build the block
(Core's BlockAssembler).

Selection follows Core's addPackageTxs: the candidate with the best fee rate *including its
unconfirmed ancestors* goes in together with those ancestors, so a child paying a high fee
pulls in a low-fee parent (child pays for parent). When a package is included, the
descendants' ancestor totals drop what was included and they are re-ranked. Weight and sigop
limits keep Core's reserved room for the coinbase.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from node.chain.index import AncestorWalk, BlockIndex
from node.consensus.limits import MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT, WITNESS_SCALE_FACTOR
from node.consensus.params import Params
from node.consensus.pow import get_next_work_required
from node.consensus.primitives import Block, Tx
from node.consensus.script.script import push_int
from node.consensus.tx_verify import is_final_tx
from node.mempool.mempool import Mempool, MempoolEntry

from .blocktools import BLOCK_VERSION, build_block, create_coinbase, with_witness_commitment

# Core: DEFAULT_BLOCK_MAX_WEIGHT leaves 4,000 weight units for the coinbase and header,
# and 400 sigops of cost for the coinbase.
COINBASE_RESERVED_WEIGHT = 4_000
COINBASE_RESERVED_SIGOPS = 400
DEFAULT_BLOCK_MIN_TX_FEE = 1_000  # sat/kvB: Core's blockmintxfee
# Core gives up looking for packages that fit after this many failures near a full block.
MAX_CONSECUTIVE_FAILURES = 1_000


@dataclass
class BlockTemplate:
    block: Block  # proof of work not yet searched (nonce 0)
    height: int
    fees: int
    weight: int
    sigop_cost: int


def select_transactions(mempool: Mempool, height: int, lock_time_cutoff: int, *,
                        max_weight: int = MAX_BLOCK_WEIGHT - COINBASE_RESERVED_WEIGHT,
                        max_sigops: int = MAX_BLOCK_SIGOPS_COST - COINBASE_RESERVED_SIGOPS,
                        min_fee_rate: int = DEFAULT_BLOCK_MIN_TX_FEE,
                        ) -> tuple[list[MempoolEntry], int, int, int]:
    """Choose transactions for a block at ``height``. Returns (entries in block order, fees,
    weight, sigop cost). ``lock_time_cutoff`` is the BIP113 median time past."""
    in_block: set[MempoolEntry] = set()
    failed: set[MempoolEntry] = set()
    # Ancestor totals of each entry minus what is already in the block (Core's modified
    # entries): [vsize, fees, sigops].
    state: dict[MempoolEntry, list[int]] = {}
    counter = itertools.count()
    heap: list[tuple[float, int, MempoolEntry, int]] = []

    def push(entry: MempoolEntry, size: int, fees: int) -> None:
        heapq.heappush(heap, (-fees / size, next(counter), entry, fees))

    for entry in mempool.entries.values():
        push(entry, entry.ancestor_size, entry.ancestor_fees)

    chosen: list[MempoolEntry] = []
    weight = sigops = total_fees = 0
    failures = 0
    while heap:
        _, _, entry, pushed_fees = heapq.heappop(heap)
        if entry in in_block or entry in failed:
            continue
        size, fees, pkg_sigops = state.get(
            entry, [entry.ancestor_size, entry.ancestor_fees, entry.ancestor_sigops])
        if fees != pushed_fees:
            continue  # a stale heap item: a newer one with updated totals exists
        if fees * 1000 < min_fee_rate * size:
            break  # everything left pays less than the block's minimum fee rate
        package = [a for a in mempool.ancestors(entry) if a not in in_block]
        package.append(entry)
        # Core's TestPackage: the package's vsize x 4 (a slight overestimate of its weight)
        # must stay strictly below the limit.
        pkg_weight = size * WITNESS_SCALE_FACTOR
        if weight + pkg_weight >= max_weight or sigops + pkg_sigops >= max_sigops or \
                not all(is_final_tx(e.tx, height, lock_time_cutoff) for e in package):
            failed.add(entry)
            failures += 1
            if failures > MAX_CONSECUTIVE_FAILURES and weight > max_weight - 4_000:
                break
            continue
        failures = 0
        # Parents before children: fewer in-pool ancestors first.
        package.sort(key=lambda e: e.ancestor_count)
        for member in package:
            in_block.add(member)
            chosen.append(member)
            weight += member.tx.weight
            sigops += member.sigop_cost
            total_fees += member.fee
            # Its descendants' ancestor totals no longer count it: re-rank them.
            for d in mempool.descendants(member):
                if d in in_block:
                    continue
                s = state.setdefault(d, [d.ancestor_size, d.ancestor_fees, d.ancestor_sigops])
                s[0] -= member.vsize
                s[1] -= member.fee
                s[2] -= member.sigop_cost
        for member in package:
            for d in mempool.descendants(member):
                if d not in in_block and d in state:
                    push(d, state[d][0], state[d][1])
    return chosen, total_fees, weight, sigops


def create_template(params: Params, tip: BlockIndex, mempool: Mempool | None,
                    script_pubkey: bytes, now: int, extranonce: int = 0) -> BlockTemplate:
    """A block on ``tip`` paying subsidy plus fees to ``script_pubkey``; proof of work unsolved."""
    height = tip.height + 1
    mtp = tip.median_time_past()
    time = max(mtp + 1, now)
    bits = get_next_work_required(tip.height, tip.bits, tip.time, time, params,
                                  AncestorWalk(tip))
    entries, fees, weight, sigops = ([], 0, 0, 0) if mempool is None else \
        select_transactions(mempool, height, mtp)
    # The extranonce follows the BIP34 height as Core's miner writes it (CScriptNum): rolling
    # it changes the merkle root, a fresh 2^32 nonce space for the same template.
    coinbase = create_coinbase(height, params.block_subsidy(height) + fees, script_pubkey,
                               extra=push_int(extranonce))
    txs: list[Tx] = with_witness_commitment([coinbase, *(e.tx for e in entries)])
    block = build_block(tip.hash, txs, time, bits, BLOCK_VERSION)
    return BlockTemplate(block, height, fees, weight + txs[0].weight, sigops)

