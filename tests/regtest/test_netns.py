"""Nodes on separate network hosts: three Linux network namespaces in a line, a - b - c,
joined by veth pairs (a and c share no link, so everything between them goes through b's
node), each node with its own addresses. The test syncs blocks, relays a transaction end to
end, then cuts the a-b link: both sides mine, and once the link is back every node follows
the longer branch.

Each namespace also gets a management link to the test's own namespace, where its REST API
listens; P2P traffic never uses it. Namespaces, links and processes are created here and
removed at the end. Without root or iproute2 the test is skipped and says why; CI runs as
root with iproute2 installed by .ci/run.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import urllib.request

import pytest

from node.client import ClientError, NodeClient
from node.consensus.address import script_to_address
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, TxOut

from ..chain.builder import Wallet
from ..node_process import ROOT
from ..p2p.framework import wait_until

DEADLINE = 90.0


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=30)


def _why_not() -> str | None:
    if shutil.which("ip") is None:
        return "no iproute2 ('ip' command): apt-get install iproute2"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"mcprobe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


class Hosts:
    """Three namespaces in a line with management links; ``cut`` and ``mend`` the a-b link."""

    def __init__(self) -> None:
        self.tag = f"{os.getpid() % 10_000:04d}{random.randrange(100):02d}"
        self.net = random.randrange(100, 200)  # 10.<net>.x.y, fresh per run
        self.ns = {h: f"mc{self.tag}{h}" for h in "abc"}
        self.p2p = {"a": f"10.{self.net}.1.1", "b": f"10.{self.net}.1.2",
                    "c": f"10.{self.net}.2.2"}
        self.b_to_c = f"10.{self.net}.2.1"
        self.api = {h: f"10.{self.net}.{10 + i}.2" for i, h in enumerate("abc")}
        self.root_links: list[str] = []

    def build(self) -> None:
        for ns in self.ns.values():
            _ip("netns", "add", ns)
            _ip("link", "set", "lo", "up", ns=ns)
        self._veth("a", f"{self.p2p['a']}/24", "b", f"{self.p2p['b']}/24", "ab")
        self._veth("b", f"{self.b_to_c}/24", "c", f"{self.p2p['c']}/24", "bc")
        for i, h in enumerate("abc"):
            host_side = f"mc{self.tag}m{h}"
            _ip("link", "add", host_side, "type", "veth", "peer", "name", "mgmt",
                "netns", self.ns[h])
            self.root_links.append(host_side)
            _ip("addr", "add", f"10.{self.net}.{10 + i}.1/30", "dev", host_side)
            _ip("link", "set", host_side, "up")
            _ip("addr", "add", f"{self.api[h]}/30", "dev", "mgmt", ns=self.ns[h])
            _ip("link", "set", "mgmt", "up", ns=self.ns[h])

    def _veth(self, x: str, x_addr: str, y: str, y_addr: str, name: str) -> None:
        # Created inside x's namespace, the peer end moved into y's.
        _ip("link", "add", f"v{name}", "type", "veth", "peer", "name", f"v{name}",
            "netns", self.ns[y], ns=self.ns[x])
        for h, addr in ((x, x_addr), (y, y_addr)):
            _ip("addr", "add", addr, "dev", f"v{name}", ns=self.ns[h])
            _ip("link", "set", f"v{name}", "up", ns=self.ns[h])

    def cut(self) -> None:
        _ip("link", "set", "vab", "down", ns=self.ns["a"])

    def mend(self) -> None:
        _ip("link", "set", "vab", "up", ns=self.ns["a"])

    def remove(self) -> None:
        for link in self.root_links:
            _ip("link", "del", link, check=False)
        for ns in self.ns.values():
            _ip("netns", "del", ns, check=False)


@pytest.fixture
def hosts():
    why = _why_not()
    if why:
        pytest.skip(f"network namespaces unavailable: {why}")
    h = Hosts()
    try:
        h.build()
        yield h
    finally:
        h.remove()


def _post_tx(host: str, raw_hex: str) -> str:
    req = urllib.request.Request(f"http://{host}:18443/api/tx", data=raw_hex.encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def _poll(predicate, what: str):
    """wait_until, counting a node that does not answer yet as "not yet"."""
    def answered():
        try:
            return predicate()
        except ClientError:
            return None
    return wait_until(answered, DEADLINE, what, interval=0.2)


def test_nodes_on_separate_hosts_sync_relay_and_heal_a_cut_link(hosts, tmp_path):
    peers = {"a": [], "b": [hosts.p2p["a"], hosts.p2p["c"]], "c": []}
    binds = {"a": hosts.p2p["a"], "b": "0.0.0.0", "c": hosts.p2p["c"]}
    procs = {}
    try:
        for h in "abc":
            cmd = ["ip", "netns", "exec", hosts.ns[h], sys.executable, "-m", "node", "run",
                   "--network", "regtest", "--datadir", str(tmp_path / h),
                   "--p2p-bind", f"{binds[h]}:18444", "--rest-bind", f"{hosts.api[h]}:18443",
                   "--mining-workers", "1", "--no-index"]
            for p in peers[h]:
                cmd += ["--addnode", f"{p}:18444"]
            procs[h] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=open(tmp_path / f"{h}.log", "w"))  # noqa: SIM115
        api = {h: NodeClient(f"http://{hosts.api[h]}:18443") for h in "abc"}
        for h in "abc":
            _poll(lambda h=h: (tmp_path / h / ".cookie").exists() and api[h].info(),
                  f"node {h} to start")
            api[h].token = (tmp_path / h / ".cookie").read_text().strip()
        _poll(lambda: api["b"].info()["peers"] >= 2, "b to connect to a and c")

        # Sync: blocks mined on a reach c through b.
        wallet = Wallet(b"netns")
        address = script_to_address(wallet.script_pubkey, REGTEST)
        api["a"].generate(101, address)
        tip = api["a"].info()["best_block"]
        _poll(lambda: api["c"].info()["best_block"] == tip, "c to sync a's 101 blocks")

        # Relay: a payment posted to c reaches a's mempool through b.
        first = api["a"].request("GET", "/api/block-height/1")
        coinbase = api["a"].request("GET", f"/api/block/{first}/txid/0")
        value = REGTEST.block_subsidy(1)
        tx = wallet.spend([(OutPoint(bytes.fromhex(coinbase)[::-1], 0), value)],
                          [TxOut(value - 10_000, wallet.script_pubkey)])
        txid = _post_tx(hosts.api["c"], tx.serialize().hex())
        _poll(lambda: txid in api["a"].request("GET", "/api/mempool/txids"),
              "the payment to cross from c to a")

        # Partition by cutting the a-b link: each side mines its own branch.
        hosts.cut()
        api["a"].generate(2, address)
        api["c"].generate(4, address)
        height = 101 + 4
        _poll(lambda: api["b"].info()["height"] == height, "b to follow c's branch")
        assert api["a"].info()["height"] == 101 + 2
        assert api["a"].info()["best_block"] != api["b"].info()["best_block"]

        # Mend it: a reorganises onto the longer branch.
        hosts.mend()
        api["b"].generate(1, address)  # a new block makes b announce its chain to a at once
        _poll(lambda: len({api[h].info()["best_block"] for h in "abc"}) == 1,
              "every node on one tip after the link is back")
        assert api["a"].info()["height"] == height + 1
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
