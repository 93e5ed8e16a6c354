"""Starting and stopping the nodes' processes.

Nodes run detached (their own session), so they outlive the ``up`` command and a Ctrl-C in the
terminal that started them; each writes its log to ``<dir>/<name>/node.log``. A pid is only
trusted while ``/proc/<pid>/cmdline`` still names the node's datadir, so a recycled pid is never
signalled."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from node.client import ClientError, NodeClient
from node.cookie import CookieError, cookie_path, read_cookie

from .state import NetState, NodeState

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
FIRST_IP = "127.0.0.2"  # 127.0.0.1 is left to a node the user runs on their own


class ProcError(Exception):
    pass


def node_ip(index: int, first: str = FIRST_IP) -> str:
    """Node ``index``'s own loopback address: ``first`` (127.0.0.2 by default), then the next
    ones. Tests give each network its own range so two never meet."""
    try:
        ip = ipaddress.IPv4Address(first) + index
    except (ipaddress.AddressValueError, ValueError):
        raise ProcError(f"bad first address {first!r}") from None
    if not ip.is_loopback or str(ip).endswith(".255"):
        raise ProcError(f"{ip} is not a usable loopback address (127.0.0.0/8)")
    return str(ip)


def pick_port(ip: str, preferred: int, taken: set[tuple[str, int]]) -> int:
    """``preferred`` (the network's standard port) if it is free on ``ip``, else (or with
    ``preferred`` 0) a free one."""
    for port in (preferred, 0):
        if port and (ip, port) in taken:
            continue
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, port))
            except OSError:
                continue
            chosen = s.getsockname()[1]
        taken.add((ip, chosen))
        return chosen
    raise ProcError(f"no free port on {ip}")


def start_node(state: NetState, node: NodeState, peers: list[str]) -> None:
    datadir = state.datadir(node)
    datadir.mkdir(parents=True, exist_ok=True)
    log = state.log_path(node)
    cmd = [sys.executable, "-m", "node", "run", "--network", state.network,
           "--datadir", str(datadir), "--p2p-bind", node.p2p,
           "--rest-bind", f"{node.ip}:{node.rest_port}", "--mining-workers", "1",
           "--log-level", "info"]
    for peer in peers:
        cmd += ["--addnode", peer]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, cwd=source_root(),
                                env=_node_env())
    node.pid = proc.pid


def source_root() -> str:
    # The directory holding the ``node`` package, so ``-m node`` finds this very checkout.
    return str(Path(__file__).resolve().parent.parent)


def _node_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICASH_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def client(state: NetState, node: NodeState, timeout: float = 30.0) -> NodeClient:
    token = None
    try:
        token = read_cookie(state.datadir(node))
    except CookieError:
        pass
    return NodeClient(node.rest_url, token, timeout=timeout)


def wait_ready(state: NetState, node: NodeState, timeout: float = START_TIMEOUT) -> None:
    """Until the node answers its API with its cookie written; ProcError (with the log's last
    lines) if it exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(state, node):
            raise ProcError(f"{node.name} exited during start-up:\n{tail(state.log_path(node))}")
        if cookie_path(state.datadir(node)).exists():
            try:
                client(state, node, timeout=2).info()
                return
            except ClientError:
                pass
        time.sleep(0.1)
    raise ProcError(f"{node.name} did not answer within {timeout:.0f} s:\n"
                    f"{tail(state.log_path(node))}")


def is_running(state: NetState, node: NodeState) -> bool:
    if node.pid is None:
        return False
    try:
        with open(f"/proc/{node.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{node.pid}/stat") as f:
            status = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z" and str(state.datadir(node)).encode() in cmdline


def stop_node(state: NetState, node: NodeState, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM (the node flushes and exits), then SIGKILL after ``timeout``. True if it was
    running."""
    if not is_running(state, node):
        node.pid = None
        return False
    assert node.pid is not None
    os.kill(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(state, node):
        if time.monotonic() > deadline:
            os.kill(node.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    _reap(node.pid)
    node.pid = None
    return True


def _reap(pid: int) -> None:
    # A node started by this very process (tests drive the CLI in-process) is our child.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def tail(path: Path, lines: int = 15) -> str:
    try:
        return last_lines(path.read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def last_lines(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])
