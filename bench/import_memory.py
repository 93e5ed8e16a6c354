"""Resident memory while importing a 10,000-block regtest chain from a blk*.dat file.

Memory must stay flat: block data goes to LevelDB and the UTXO cache flushes by size and
count, so only the block index (a few hundred bytes a block) may grow with the chain. Reported
as the RSS after the whole import against the RSS after the first 1,000 blocks (ratio =
first / last, so 1.0 is perfectly flat and higher is better).
"""

from __future__ import annotations

import struct
import tempfile
import time
from pathlib import Path

from node.chain.chainstate import ChainState
from node.chain.importer import ImportStats, import_files
from node.consensus.params import REGTEST
from node.mining.blocktools import build_block, create_coinbase, solve

from .report import Figure

BLOCKS = 10_000
SAMPLE_EVERY = 1_000


def rss_bytes() -> int:
    """Current (not peak) resident set size, from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def write_chain(path: Path, n: int) -> None:
    genesis = REGTEST.genesis.header
    prev, t = genesis.hash, genesis.time
    script = b"\x00\x14" + bytes(20)
    with path.open("wb") as f:
        for height in range(1, n + 1):
            t += 1
            cb = create_coinbase(height, REGTEST.block_subsidy(height), script)
            block = solve(build_block(prev, [cb], t, genesis.bits), REGTEST)
            raw = block.serialize()
            f.write(REGTEST.magic + struct.pack("<I", len(raw)) + raw)
            prev = block.hash


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        blk = Path(tmp) / "blk00000.dat"
        write_chain(blk, BLOCKS)
        samples: list[int] = []

        def progress(stats: ImportStats) -> None:
            if stats.imported and stats.imported % SAMPLE_EVERY == 0 and \
                    len(samples) < stats.imported // SAMPLE_EVERY:
                samples.append(rss_bytes())

        with ChainState(REGTEST, Path(tmp) / "node") as chain:
            start = time.perf_counter()
            stats = import_files(chain, [blk], progress)
            elapsed = time.perf_counter() - start
            assert chain.height == BLOCKS, chain.height
    first, last = samples[0], samples[-1]
    mib = 1 << 20
    print(f"  RSS every {SAMPLE_EVERY} blocks (MiB): "
          + " ".join(f"{s / mib:.0f}" for s in samples))
    return [
        Figure(name="import.rss_after_10000_blocks", value=last / mib, unit="MiB",
               reference=first / mib, ratio=first / last),
        Figure(name="import.blocks_per_s", value=stats.imported / elapsed, unit="blocks/s",
               reference=stats.imported / elapsed, ratio=1.0),
    ]


if __name__ == "__main__":  # pragma: no cover
    for fig in run():
        print(fig.line())
