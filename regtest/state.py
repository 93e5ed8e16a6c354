"""What is running: the network's nodes with their addresses, datadirs and pids, kept in
``<dir>/network.json`` (written atomically: temp file, fsync, rename) so every command after
``up`` finds them."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .spec import NetworkSpec, NodeSpec

STATE_FILE = "network.json"


class StateError(Exception):
    pass


@dataclass
class NodeState:
    name: str
    ip: str  # its own loopback address: P2P and REST listen there, outbound connects from it
    p2p_port: int
    rest_port: int
    mine: bool = False
    interval: float = 0.0
    pid: int | None = None

    @property
    def p2p(self) -> str:
        return f"{self.ip}:{self.p2p_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.ip}:{self.rest_port}"

    @property
    def api_url(self) -> str:
        return self.rest_url + "/api"


@dataclass
class NetState:
    root: Path
    network: str
    nodes: list[NodeState] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    # Groups while partitioned (node names), empty when whole.
    partition: list[list[str]] = field(default_factory=list)

    def node_dir(self, node: NodeState) -> Path:
        """Everything of ``node``'s: its datadir and its log."""
        return self.root / node.name

    def datadir(self, node: NodeState) -> Path:
        return self.node_dir(node) / "data"

    def log_path(self, node: NodeState) -> Path:
        return self.node_dir(node) / "node.log"

    @property
    def wallet_home(self) -> Path:
        """MINICASH_HOME of the network's wallets: <root>/home/wallets/<network>/<node name>."""
        return self.root / "home"

    def node(self, ref: str) -> NodeState:
        """A node by name or by index (``0``, ``1``...)."""
        for n in self.nodes:
            if n.name == ref:
                return n
        if ref.isascii() and ref.isdigit() and int(ref) < len(self.nodes):
            return self.nodes[int(ref)]
        names = ", ".join(n.name for n in self.nodes)
        raise StateError(f"no node {ref!r} in this network (nodes: {names}; or 0..{len(self.nodes) - 1})")

    def spec(self) -> NetworkSpec:
        """The network this state was made from: what ``up --file`` is compared with."""
        return NetworkSpec(self.network, [NodeSpec(n.name, n.mine, n.interval) for n in self.nodes],
                           list(self.links))

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"network": self.network, "nodes": [asdict(n) for n in self.nodes],
                "links": [list(link) for link in self.links], "partition": self.partition}
        tmp = self.root / (STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / STATE_FILE)

    def forget(self) -> None:
        """Remove the saved state (and a temp file a crashed save left): no network here."""
        for name in (STATE_FILE, STATE_FILE + ".tmp"):
            (self.root / name).unlink(missing_ok=True)

    @classmethod
    def load(cls, root: Path) -> NetState:
        path = root / STATE_FILE
        try:
            data = json.loads(path.read_text())
            return cls(root, data["network"], [NodeState(**n) for n in data["nodes"]],
                       [(a, b) for a, b in data["links"]], data.get("partition", []))
        except FileNotFoundError:
            raise StateError(f"no network in {root}: start one with `python -m regtest up`") from None
        except (ValueError, KeyError, TypeError) as e:
            raise StateError(f"{path} is damaged ({e}); `python -m regtest down --wipe` "
                             f"removes it") from None

    @staticmethod
    def exists(root: Path) -> bool:
        return (root / STATE_FILE).exists()
