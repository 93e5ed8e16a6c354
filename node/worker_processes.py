"""Ending the node's worker processes (the miner's nonce search, the signature verifiers).

Both pools start their workers with "spawn" and talk to each over a pipe; this is the one way
they end them, so that no worker outlives its pool.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess


def default_workers() -> int:
    """The cores this process may run on: the default size of a worker pool."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def pipe_ready(conn: Connection) -> Callable[[int], list]:
    """``ready(timeout_ms)`` for ``conn``: truthy once a message, or the EOF of a closed
    pipe, is waiting. One syscall per call, where ``Connection.poll`` builds and tears
    down a selector each time (~5 µs; a verify helper asks before each batch it reads)."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return poller.poll


def wait_for_parent(ready: Callable[[int], list], parent: BaseProcess | None,
                    idle_check: float) -> bool:
    """In a worker: wait until ``ready`` (:func:`pipe_ready` of the worker's pipe, made once)
    says the parent's next message is in; False if the parent died meanwhile (checked every
    ``idle_check`` seconds), so orphans do not linger."""
    while not ready(int(idle_check * 1000)):
        if parent is not None and not parent.is_alive():
            return False
    return True


def shut_down(procs: Sequence[BaseProcess], conns: Sequence[Connection],
              say_stop: Callable[[Connection], None], timeout: float) -> None:
    """Ask each worker to exit (``say_stop`` writes the pool's stop message), wait for them
    until ``timeout``, then terminate and kill whatever is left, and close the pipes."""
    for conn in conns:
        try:
            say_stop(conn)
        except OSError:
            pass  # that worker is already gone
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
        if not proc.is_alive():
            proc.close()
    for conn in conns:
        conn.close()
