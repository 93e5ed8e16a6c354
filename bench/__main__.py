"""Run every benchmark: ``python -m bench [NAME...]``; writes bench/results.json."""

from __future__ import annotations

import sys

from . import (
    api_bench,
    api_responsive,
    block_connect,
    import_memory,
    mempool_bench,
    p2p_bench,
    pow_hashrate,
    report,
    script_verify,
    wire_bench,
)

BENCHMARKS = {
    "script_verify": script_verify.run,
    "block_connect": block_connect.run,
    "import_memory": import_memory.run,
    "pow_hashrate": pow_hashrate.run,
    "mempool": mempool_bench.run,
    "api": api_bench.run,
    "api_responsive": api_responsive.run,
    "p2p": p2p_bench.run,
    "wire": wire_bench.run,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    figures: list[report.Figure] = []
    for name in names:
        print(f"== {name}")
        for fig in BENCHMARKS[name]():
            print(fig.line())
            figures.append(fig)
    report.write(figures)
    print(f"wrote {report.RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
