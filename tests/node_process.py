"""A real ``minicash-node run`` process for the tests that drive one: started from this
checkout's source on free 127.0.0.1 ports, its stderr read line by line with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .ports import free_port

# The checkout the tests belong to: a node is started with it as its cwd, so ``python -m node``
# runs this checkout's code (a worktree's own, not another's).
ROOT = Path(__file__).resolve().parents[1]


def start_node(datadir: Path, *args: str, rest_bind: str | None = "127.0.0.1:0",
               env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m node run --datadir <datadir> <args>`` with P2P on a free 127.0.0.1 port and
    the REST API on ``rest_bind`` (port 0: a free port, picked here; None: no --rest-bind, so
    the node's settings decide), stderr piped as text for `wait_for_lines`. ``args`` come after
    those flags, so a --p2p-bind among them wins. The node has the test's environment without
    its MINICASH_* variables (a developer's settings never reach it), plus ``env``. The caller
    stops the process.

    The autouse fixture ``no_minicash_env`` does not make that filter redundant: it is
    function-scoped, and pytest sets up a wider-scoped fixture before it, so a node started by
    a module-scoped fixture (tests/explorer/test_pages.py's ``chain``) would otherwise get the
    developer's MINICASH_* variables."""
    if rest_bind == "127.0.0.1:0":
        rest_bind = f"127.0.0.1:{free_port()}"
    rest = [] if rest_bind is None else ["--rest-bind", rest_bind]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MINICASH_")}
    return subprocess.Popen([sys.executable, "-m", "node", "run", "--datadir", str(datadir),
                             *rest, "--p2p-bind", f"127.0.0.1:{free_port()}",
                             *args], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env={**environ, **(env or {})})


def wait_for_lines(proc: subprocess.Popen, needle: str, count: int,
                   deadline_s: float = 60) -> list[str]:
    """The first ``count`` lines of ``proc``'s stderr that contain ``needle``, reading until
    they have come; fails the test if the deadline passes first (checked as each line comes)
    or the process exits before."""
    deadline = time.monotonic() + deadline_s
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        if needle in line:
            seen.append(line)
            if len(seen) >= count:
                return seen
        assert time.monotonic() < deadline, f"no {count} x {needle!r} in time"
    raise AssertionError(f"node exited early with {proc.wait()}")


def drain_stderr(proc: subprocess.Popen) -> None:
    """Read and drop the rest of ``proc``'s stderr in a daemon thread, so a node whose log
    nobody reads any more never blocks on a full pipe."""
    stderr = proc.stderr
    assert stderr is not None

    def drain() -> None:
        for _ in stderr:
            pass

    threading.Thread(target=drain, daemon=True).start()
