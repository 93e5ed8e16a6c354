"""Talking to the running nodes through their APIs: status, mining, waiting for agreement,
and cutting the network in two (bans both ways across the cut) and joining it again."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from node.client import ClientError

from .procs import client, is_running
from .state import NetState, NodeState

SYNC_TIMEOUT = 120.0


class ControlError(Exception):
    pass


@dataclass
class NodeStatus:
    name: str
    height: int | None = None
    tip: str | None = None
    peers: int | None = None
    mempool: int | None = None
    mining: bool | None = None
    error: str | None = None


def status(state: NetState, node: NodeState) -> NodeStatus:
    if not is_running(state, node):
        return NodeStatus(node.name, error="not running")
    try:
        info = client(state, node, timeout=5).info()
    except ClientError as e:
        return NodeStatus(node.name, error=str(e))
    pool = info.get("mempool") or {}
    return NodeStatus(node.name, info.get("height"), info.get("best_block"),
                      info.get("peers"), pool.get("count"),
                      (info.get("mining") or {}).get("enabled"))


def table(state: NetState) -> str:
    """The nodes' status table; when tips differ, each distinct tip gets a letter so forks
    show."""
    rows = [status(state, n) for n in state.nodes]
    tips = {}
    for r in rows:
        if r.tip and r.tip not in tips:
            tips[r.tip] = chr(ord("A") + len(tips))
    forked = len(tips) > 1
    head = ["node", "p2p", "api", "height", "tip", "peers", "mempool", "mining"]
    body = []
    for r, n in zip(rows, state.nodes, strict=True):
        if r.error:
            body.append([r.name, n.p2p, n.api_url, "-", r.error, "-", "-", "-"])
            continue
        tip = (r.tip or "")[:12]
        if forked:
            tip += f" ({tips[r.tip]})"  # type: ignore[index]
        body.append([r.name, n.p2p, n.api_url, str(r.height), tip, str(r.peers), str(r.mempool),
                     "on" if r.mining else "off"])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, *body]]
    if forked:
        lines.append(f"tips differ: {len(tips)} branches (letters mark which node is on which)")
    if state.partition:
        lines.append("partitioned: " + " | ".join(",".join(g) for g in state.partition))
    return "\n".join(lines)


def wait_for(predicate, what: str, timeout: float = SYNC_TIMEOUT, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise ControlError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def same_tip(state: NetState) -> str:
    """Wait until every node reports one tip; returns it."""
    def agreed():
        tips = {status(state, n).tip for n in state.nodes}
        return next(iter(tips)) if len(tips) == 1 and None not in tips else None

    return wait_for(agreed, "the nodes to agree on one tip")


def peer_hosts(state: NetState, node: NodeState) -> set[str]:
    """The IPs ``node`` is connected to."""
    return {_host(p.get("address", "")) for p in client(state, node).peers()}


def _peer_lookup(state: NetState) -> Callable[[str], set[str]]:
    """``peers(name)``: the IPs node ``name`` is connected to, each node asked once per
    lookup made (one per poll)."""
    by_name = {n.name: n for n in state.nodes}
    return functools.cache(lambda name: peer_hosts(state, by_name[name]))


def connected(state: NetState) -> None:
    """Wait until every link of the network is up (in either direction), but those a
    partition cuts."""
    by_name = {n.name: n for n in state.nodes}
    group = {name: i for i, g in enumerate(state.partition) for name in g}

    def up() -> bool:
        peers = _peer_lookup(state)
        return all(by_name[b].ip in peers(a) for a, b in state.links
                   if group.get(a) == group.get(b))

    wait_for(up, "every link to connect")


def mine(state: NetState, node: NodeState, blocks: int, address: str) -> list[str]:
    return client(state, node, timeout=600).generate(blocks, address)


def partition(state: NetState, groups: list[list[NodeState]]) -> None:
    """Cut the network between ``groups``: every node bans every node of the other groups
    (which drops those connections and refuses new ones, both ways)."""
    for i, group in enumerate(groups):
        others = [n for j, g in enumerate(groups) if j != i for n in g]
        for node in group:
            c = client(state, node)
            for other in others:
                c.request("POST", "/node/bans", {"address": other.ip}, auth=True)
    for i, group in enumerate(groups):
        other_ips = {n.ip for j, g in enumerate(groups) if j != i for n in g}
        for node in group:
            wait_for(lambda node=node, ips=other_ips: not (peer_hosts(state, node) & ips),
                     f"{node.name} to drop its peers across the cut", 30)
    state.partition = [[n.name for n in g] for g in groups]


def heal(state: NetState) -> None:
    """Lift the cut: remove the bans, reconnect the network's links, wait until all are up."""
    ips = {n.ip for n in state.nodes}
    for node in state.nodes:
        c = client(state, node)
        for ban in c.request("GET", "/node/bans"):
            host = _host(ban.get("address", ""))
            if host in ips:
                c.request("DELETE", f"/node/bans/{ban['address']}", auth=True)
    by_name = {n.name: n for n in state.nodes}
    peers = _peer_lookup(state)
    for a, b in state.links:
        if by_name[b].ip in peers(a):
            continue  # --addnode's back-off reconnected it already
        try:
            client(state, by_name[a]).request("POST", "/node/peers",
                                              {"address": by_name[b].p2p}, auth=True)
        except ClientError:
            # A race with that reconnection (a second connection to the same peer is
            # refused); whether the link is up is what connected() waits for.
            pass
    state.partition = []
    connected(state)


def _host(address: str) -> str:
    """The host of ``ip:port``, ``[v6]:port`` or ``subnet/bits`` text."""
    address = address.split("/", 1)[0]
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address
