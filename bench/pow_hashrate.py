"""Proof-of-work hash rate: the midstate scan on one core beside a bare hashlib double-SHA-256
loop over 80-byte headers, and the PowSearcher's worker pool on every core beside that many
times the single-core scan.

Every search uses target 0, which no hash meets, so each scan runs its whole range.

* ``pow_hashrate.scan_single``: hashes/s of :func:`scan` in this process over fixed ranges; the
  reference is ``sha256(sha256(header76 + nonce).digest()).digest()`` per nonce, alternated
  with it. Target 0.9: the search loop adds (almost) nothing to the hashing itself.
* ``pow_hashrate.searcher_all_cores``: hashes/s of :meth:`PowSearcher.solve` with one worker per
  core over a fixed range; the reference is cores x the single-core scan rate. Reported without
  a target: it depends on the machine (other load, SMT siblings, turbo clocks).
"""

from __future__ import annotations

import hashlib
import struct

from node.mining.pow_search import (
    DEFAULT_CHUNK,
    NONCE_SPACE,
    PowSearcher,
    default_workers,
    scan,
)

from .report import Figure, rate

# A regtest-like header without its nonce; its content does not change the hashing cost.
HEADER76 = bytes(range(76))
RANGE = 1 << 16  # nonces per timed scan call (~50 ms)
CHUNKS_PER_WORKER = 4  # one timed pool search: 4 default chunks per worker (~0.7 s)


def _bare_loop(start: int):
    sha256 = hashlib.sha256
    pack = struct.Struct("<I").pack
    header = HEADER76
    state = {"next": start}

    def loop() -> int:
        lo = state["next"]
        for nonce in range(lo, lo + RANGE):
            sha256(sha256(header + pack(nonce)).digest()).digest()
        state["next"] = lo + RANGE
        return RANGE
    return loop


def _scan_loop(start: int):
    state = {"next": start}

    def loop() -> int:
        lo = state["next"]
        if scan(HEADER76, 0, lo, lo + RANGE) is not None:
            raise AssertionError("target 0 was met")
        state["next"] = lo + RANGE
        return RANGE
    return loop


def _pool_loop(searcher: PowSearcher, cores: int):
    span = cores * CHUNKS_PER_WORKER * DEFAULT_CHUNK
    state = {"next": 0}

    def loop() -> int:
        lo = state["next"]
        if searcher.solve(HEADER76, 0, start=lo, end=lo + span) is not None:
            raise AssertionError("target 0 was met")
        state["next"] = (lo + span) % (NONCE_SPACE - span)
        return span
    return loop


def run() -> list[Figure]:
    cores = default_workers()
    bare_loop = _bare_loop(0)
    scan_loop = _scan_loop(0)
    with PowSearcher(workers=cores) as searcher:
        # Warm-up: the workers are fresh interpreters still importing; time them once ready.
        if searcher.solve(HEADER76, 0, chunk=1 << 12, end=cores * (1 << 12)) is not None:
            raise AssertionError("target 0 was met")
        pool_loop = _pool_loop(searcher, cores)
        # Alternate the three so all see the same machine load; keep the best of each.
        bare = single = pool = 0.0
        for _ in range(3):
            bare = max(bare, rate(bare_loop, min_seconds=0.7, repeats=1))
            single = max(single, rate(scan_loop, min_seconds=0.7, repeats=1))
            pool = max(pool, rate(pool_loop, min_seconds=1.0, repeats=1))
    return [
        Figure(name="pow_hashrate.scan_single", value=single, unit="hashes/s", reference=bare,
               ratio=single / bare, target=0.9),
        Figure(name="pow_hashrate.searcher_all_cores", value=pool, unit="hashes/s",
               reference=cores * single, ratio=pool / (cores * single), target=None),
    ]
