"""What a network should be: its nodes, the links between them and their roles.

Built from ``up``'s flags (a topology name) or from a declarative ``network.toml``::

    network = "regtest"          # or "devnet"

    [[node]]
    name = "alice"
    mine = true                  # mines on its own (regtest: one block every `interval` s)
    interval = 5

    [[node]]
    name = "bob"

    [[link]]                     # bob connects to alice (P2P links work both ways once made)
    from = "bob"
    to = "alice"

Unknown keys are errors that name the key, like the node's own config file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from node.mining import MAX_MINING_INTERVAL, is_mining_interval
from node.p2p.connman import MAX_INBOUND

NETWORKS = ("regtest", "devnet")
TOPOLOGIES = ("line", "ring", "star", "full")
DEFAULT_INTERVAL = 5.0  # seconds between blocks of a regtest miner
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class SpecError(Exception):
    """A network description that cannot be built; the message says what is wrong."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    mine: bool = False
    interval: float = DEFAULT_INTERVAL  # regtest only: devnet's difficulty spaces blocks


@dataclass
class NetworkSpec:
    network: str = "regtest"
    nodes: list[NodeSpec] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (from, to): from connects to to

    def validate(self) -> None:
        if self.network not in NETWORKS:
            raise SpecError(f"network must be one of {', '.join(NETWORKS)}, not {self.network!r}")
        if not self.nodes:
            raise SpecError("a network needs at least one node")
        names = [n.name for n in self.nodes]
        for name in names:
            if not _NAME.match(name):
                raise SpecError(f"bad node name {name!r}: use lower-case letters, digits, - and _")
        if len(set(names)) != len(names):
            raise SpecError("node names must be unique")
        for a, b in self.links:
            for end in (a, b):
                if end not in names:
                    raise SpecError(f"link {a} -> {b}: no node named {end!r}")
            if a == b:
                raise SpecError(f"link {a} -> {b}: a node cannot link to itself")
        self._check_inbound()
        for n in self.nodes:
            if not is_mining_interval(n.interval):  # the node's API refuses the rest
                raise SpecError(f"node {n.name}: interval must be from 0 to "
                                f"{MAX_MINING_INTERVAL} seconds")

    def _check_inbound(self) -> None:
        """Each link is an inbound connection at its ``to`` end, and a node refuses inbound
        peers beyond MAX_INBOUND: a network that needs more would never finish connecting."""
        inbound = {n.name: 0 for n in self.nodes}
        for _a, b in set(self.links):  # a link given twice is dialled once
            inbound[b] += 1
        over = [name for name, count in inbound.items() if count > MAX_INBOUND]
        if over:
            worst = max(over, key=lambda name: inbound[name])
            others = f" (and {len(over) - 1} other node(s) over it too)" if len(over) > 1 else ""
            raise SpecError(f"node {worst} would need {inbound[worst]} inbound links, more than "
                            f"the {MAX_INBOUND} inbound peers a node accepts{others}")

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise SpecError(f"no node named {name!r}")


def topology_links(names: list[str], topology: str) -> list[tuple[str, str]]:
    """Links for a named topology. Each link is made once, by the later node connecting to the
    earlier, so a node started after its peers finds them listening."""
    n = len(names)
    if topology == "line":
        return [(names[i], names[i - 1]) for i in range(1, n)]
    if topology == "ring":
        links = [(names[i], names[i - 1]) for i in range(1, n)]
        if n > 2:
            links.append((names[-1], names[0]))
        return links
    if topology == "star":
        return [(names[i], names[0]) for i in range(1, n)]
    if topology == "full":
        return [(names[j], names[i]) for j in range(n) for i in range(j)]
    raise SpecError(f"topology must be one of {', '.join(TOPOLOGIES)}, not {topology!r}")


def from_flags(nodes: int, topology: str, miners: int, network: str,
               interval: float = DEFAULT_INTERVAL) -> NetworkSpec:
    if nodes < 1:
        raise SpecError("--nodes must be at least 1")
    if not 0 <= miners <= nodes:
        raise SpecError(f"--miners must be between 0 and {nodes}")
    names = [f"node{i}" for i in range(nodes)]
    spec = NetworkSpec(network, [NodeSpec(name, mine=i < miners, interval=interval)
                                 for i, name in enumerate(names)],
                       topology_links(names, topology))
    spec.validate()
    return spec


_TOP_KEYS = {"network", "node", "link", "topology"}
_NODE_KEYS = {"name", "mine", "interval"}
_LINK_KEYS = {"from", "to"}


def load_toml(path: Path) -> NetworkSpec:
    """Read a ``network.toml``; a missing ``[[link]]`` list with ``topology = "line"`` (or
    ring, star, full) links the nodes in that shape, in file order."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise SpecError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: {e}") from None
    _no_unknown(data, _TOP_KEYS, str(path))
    nodes = []
    for where, raw in _tables(data, "node", _NODE_KEYS, path):
        if "name" not in raw:
            raise SpecError(f"{where}: needs a name")
        mine, interval = raw.get("mine", False), raw.get("interval", DEFAULT_INTERVAL)
        if not isinstance(mine, bool):
            raise SpecError(f"{where}: mine must be true or false")
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise SpecError(f"{where}: interval must be a number of seconds")
        nodes.append(NodeSpec(str(raw["name"]), mine, float(interval)))
    links = []
    for where, raw in _tables(data, "link", _LINK_KEYS, path):
        if "from" not in raw or "to" not in raw:
            raise SpecError(f"{where}: needs from and to")
        links.append((str(raw["from"]), str(raw["to"])))
    if "topology" in data:
        if links:
            raise SpecError(f"{path}: give either topology or [[link]] entries, not both")
        links = topology_links([n.name for n in nodes], str(data["topology"]))
    spec = NetworkSpec(str(data.get("network", "regtest")), nodes, links)
    spec.validate()
    return spec


def _tables(data: dict, key: str, allowed: set[str], path: Path):
    """(where, table) for each ``[[key]]`` entry, each checked to be a table of known keys."""
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise SpecError(f"{path}: {key} must be a list of tables ([[{key}]])")
    for i, raw in enumerate(entries):
        where = f"{path}: {key} {i + 1}"
        if not isinstance(raw, dict):
            raise SpecError(f"{where}: must be a table ([[{key}]])")
        _no_unknown(raw, allowed, where)
        yield where, raw


def _no_unknown(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
