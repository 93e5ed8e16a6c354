"""kill -9 at random moments while blocks connect: every restart reaches a consistent state."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from node.cli import main

from ..node_process import ROOT

KILLS = 20


def _stats(datadir: Path) -> list[str]:
    result = CliRunner().invoke(main, ["utxo-stats", "--datadir", str(datadir)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _run_until_killed(datadir: Path, blocks_before_kill: int, delay: float,
                      deadline_s: float = 60) -> int:
    """Start the worker, wait until it reports ``blocks_before_kill`` more blocks, SIGKILL it.
    Returns the last height it reported."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.chain.crash_worker", str(datadir)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + deadline_s
    seen = 0
    height = -1
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            height = int(line.split()[1])
            seen += 1
            if seen >= blocks_before_kill:
                # Not a wait for anything: a random offset into the next block's work (a block
                # takes a few ms), so kills land in validation, block writes and flushes alike.
                time.sleep(delay)
                break
            assert time.monotonic() < deadline, "worker too slow"
        else:
            raise AssertionError(f"worker exited: {proc.wait()} {proc.stderr.read()}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    return height


def test_sigkill_at_random_moments_never_loses_consistency(tmp_path):
    datadir = tmp_path / "node"
    rng = random.Random(2026)
    last_reported = -1
    for i in range(KILLS):
        # The first run mines the 101 blocks that make coinbases spendable.
        target = 105 if i == 0 else rng.randint(1, 6)
        last_reported = _run_until_killed(datadir, target, rng.uniform(0, 0.015))
        after_restart = _stats(datadir)
        height = int(after_restart[1].split()[1])
        # Nothing the worker reported as connected may be lost.
        assert height >= last_reported, (i, height, last_reported)
        reindex = CliRunner().invoke(main, ["reindex-chainstate", "--datadir", str(datadir)],
                                     catch_exceptions=False)
        assert reindex.exit_code == 0, reindex.output
        assert _stats(datadir) == after_restart, f"kill {i}: reindex differs"
