"""``python -m regtest``: bring up a local network, watch it, mine, pay, split and join it."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click
from click.core import ParameterSource

from node.cli_checks import seconds
from node.client import ClientError
from node.config import minicash_home
from node.consensus.params import get_params
from node.mining import MAX_MINING_INTERVAL
from wallet.amounts import format_coins

from . import control, procs, wallets
from .control import ControlError
from .procs import ProcError
from .spec import NETWORKS, TOPOLOGIES, SpecError, from_flags, load_toml, topology_links
from .state import NetState, NodeState, StateError
from .wallets import WalletError

ERRORS = (SpecError, StateError, ProcError, ControlError, WalletError, ClientError)
# `status --watch`: the shortest and longest refresh, in seconds (time.sleep takes neither NaN
# nor infinity).
MIN_WATCH_INTERVAL = 0.1
MAX_WATCH_INTERVAL = 86400.0  # a day


def default_dir() -> Path:
    return minicash_home() / "localnet"


def _dir_option(f):
    return click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="Where the network lives (default "
                        "$MINICASH_HOME/localnet, i.e. ~/.minicash/localnet).")(f)


def _fail(e: Exception) -> NoReturn:
    click.echo(f"error: {e}", err=True)
    sys.exit(1)


class _Group(click.Group):
    """Any of ERRORS from a command ends it with one line, ``error: ...`` on stderr, and exit
    status 1, rather than a traceback. They are caught here, around the whole command, so a
    command that calls another with ``ctx.invoke`` (``demo``) sees that one's errors first."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ERRORS as e:
            _fail(e)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A local network of minicash nodes: up, status, mine, send, partition, heal, down."""


def _load(root: Path | None) -> NetState:
    return NetState.load(root or default_dir())


# -- up / down -----------------------------------------------------------------------------------
@main.command()
@click.option("--nodes", type=click.IntRange(1, 250), default=3, show_default=True)
@click.option("--topology", type=click.Choice(TOPOLOGIES), default="line", show_default=True)
@click.option("--miners", type=int, default=1, show_default=True,
              help="How many nodes mine on their own (the first K).")
@click.option("--network", type=click.Choice(NETWORKS), default="regtest", show_default=True)
@click.option("--interval", type=float, default=5.0, show_default=True,
              callback=seconds(0, MAX_MINING_INTERVAL),  # the node's mining API bound
              help=f"Seconds between a regtest miner's blocks (0 to {MAX_MINING_INTERVAL}).")
@click.option("--file", "spec_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A network.toml describing nodes, links and roles (instead of the flags).")
@click.option("--no-fund", is_flag=True, help="Skip funding the wallets (no initial blocks).")
@click.option("--first-ip", default=procs.FIRST_IP, show_default=True,
              help="Loopback address of the first node; the others follow it.")
@click.option("--free-ports", is_flag=True,
              help="Any free ports, not the network's standard ones (which a node started "
                   "later on all addresses, as `make run`'s P2P is, would collide with).")
@_dir_option
def up(nodes: int, topology: str, miners: int, network: str, interval: float,
       spec_file: Path | None, no_fund: bool, first_ip: str, free_ports: bool,
       root: Path | None) -> None:
    """Start the network (or restart a stopped one, data kept) and print its nodes."""
    root = root or default_dir()
    if NetState.exists(root):
        state = NetState.load(root)
        changed = _changed_settings(state, click.get_current_context())
        if changed:
            raise StateError(f"the network in {root} exists with other settings: "
                             f"{'; '.join(changed)}. `python -m regtest down --wipe` first "
                             f"to make a new one, or `up` without them to restart it")
        running = [n.name for n in state.nodes if procs.is_running(state, n)]
        if running:
            raise StateError(f"a network is already running in {root} ({', '.join(running)});"
                             f" `python -m regtest down` stops it")
        click.echo(f"restarting the network in {root} (its data is kept; `down --wipe` "
                   f"to start afresh)")
        _start_all(state)  # a partition outlives the restart: the bans are on disk
        for node in state.nodes:
            _resume_mining(state, node)
    else:
        spec = load_toml(spec_file) if spec_file else from_flags(
            nodes, topology, miners, network, interval)
        state = _create(root, spec, first_ip, free_ports)
        try:
            _start_all(state)
            click.echo("creating a wallet per node...")
            for node in state.nodes:
                wallets.create(state, node)
            if not no_fund:
                _fund(state)
            for node in state.nodes:
                _resume_mining(state, node)
        except BaseException:
            # Left behind, network.json would make the next `up` restart a network without
            # wallets or funds; undone, the next `up` creates it afresh. Ctrl-C included.
            _discard(state)
            raise
    click.echo(control.table(state))
    click.echo("\nlogs: python -m regtest logs NODE    stop: python -m regtest down")


def _changed_settings(state: NetState, ctx: click.Context) -> list[str]:
    """The settings the user gave ``up`` that the existing network does not have, each as
    "--nodes 5 (it has 3)". Restarting keeps the saved network as it is, so a difference would
    otherwise be ignored without a word. Defaults the user did not give do not count."""
    def given(name: str) -> bool:  # None: set by ctx.invoke (demo), not by the user
        return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)

    opt = ctx.params
    names = [n.name for n in state.nodes]
    links = set(state.links)
    miner_names = [n.name for n in state.nodes if n.mine]
    # Only miners use the interval; without any, every node holds the one the network got.
    intervals = sorted({n.interval for n in state.nodes if n.mine or not miner_names})
    changed = []
    if given("nodes") and opt["nodes"] != len(names):
        changed.append(f"--nodes {opt['nodes']} (it has {len(names)})")
    if given("topology") and set(topology_links(names, opt["topology"])) != links:
        shape = next((t for t in TOPOLOGIES if set(topology_links(names, t)) == links),
                     "its own links")
        changed.append(f"--topology {opt['topology']} (it has {shape})")
    if given("miners") and [n.mine for n in state.nodes] != [
            i < opt["miners"] for i in range(len(names))]:
        changed.append(f"--miners {opt['miners']} (its miners: {', '.join(miner_names) or 'none'})")
    if given("network") and opt["network"] != state.network:
        changed.append(f"--network {opt['network']} (it is {state.network})")
    if given("interval") and intervals != [opt["interval"]]:
        changed.append(f"--interval {opt['interval']:g} "
                       f"(it has {', '.join(f'{x:g}' for x in intervals)})")
    if given("first_ip") and opt["first_ip"] != state.nodes[0].ip:
        changed.append(f"--first-ip {opt['first_ip']} (it starts at {state.nodes[0].ip})")
    if given("free_ports") and opt["free_ports"]:
        # Ports are picked when the network is made; a restart keeps them.
        params = get_params(state.network)
        fixed = [n.name for n in state.nodes
                 if (n.p2p_port, n.rest_port) == (params.default_port, params.rest_port)]
        if fixed:
            changed.append(f"--free-ports (its ports were fixed when it was made: "
                           f"{', '.join(fixed)} on the standard ones)")
    if given("spec_file"):
        spec, saved = load_toml(opt["spec_file"]), state.spec()
        if (spec.network, spec.nodes, set(spec.links)) != (saved.network, saved.nodes, links):
            changed.append(f"--file {opt['spec_file']} (it describes another network)")
    return changed


def _create(root: Path, spec, first_ip: str, free_ports: bool) -> NetState:
    params = get_params(spec.network)
    state = NetState(root, spec.network, links=list(spec.links))
    taken: set[tuple[str, int]] = set()
    for i, ns in enumerate(spec.nodes):
        ip = procs.node_ip(i, first_ip)
        p2p, rest = (0, 0) if free_ports else (params.default_port, params.rest_port)
        state.nodes.append(NodeState(ns.name, ip, procs.pick_port(ip, p2p, taken),
                                     procs.pick_port(ip, rest, taken), ns.mine,
                                     ns.interval))
    state.save()
    return state


def _discard(state: NetState) -> None:
    """Stop the nodes of a network whose creation failed and remove what it wrote: the state
    file, each node's directory, the wallets, and the network's directory if that leaves it
    empty (it may be one the user made)."""
    for node in state.nodes:
        procs.stop_node(state, node)
    state.forget()
    for node in state.nodes:
        shutil.rmtree(state.node_dir(node), ignore_errors=True)
    shutil.rmtree(state.wallet_home, ignore_errors=True)
    try:
        state.root.rmdir()
    except OSError:
        pass  # not empty: something of the user's is there


def _peers(state: NetState, node: NodeState) -> list[str]:
    """The P2P addresses ``node`` connects out to: the far end of each of its links."""
    by_name = {n.name: n for n in state.nodes}
    return [by_name[b].p2p for a, b in state.links if a == node.name]


def _start_all(state: NetState) -> None:
    for node in state.nodes:
        procs.start_node(state, node, _peers(state, node))
        state.save()  # the pid, at once: `down` must find whatever was started
    try:
        for node in state.nodes:
            procs.wait_ready(state, node)
        click.echo(f"{len(state.nodes)} node(s) up; waiting for their links...")
        control.connected(state)
    except ERRORS:
        for node in state.nodes:
            procs.stop_node(state, node)
        state.save()
        raise


def _resume_mining(state: NetState, node: NodeState) -> None:
    """Switch ``node``'s miner on if its spec says it mines. Mining is set through the API, so
    it lasts only as long as the process: every (re)start of a miner must call this."""
    if not node.mine:
        return
    # Devnet's difficulty spaces its blocks; an interval there would only slow them further.
    procs.client(state, node).set_mining(True, wallets.receive_address(state, node),
                                         node.interval if state.network == "regtest" else 0)


def _fund(state: NetState) -> None:
    """One block to each wallet, then COINBASE_MATURITY more to the first node's, all mined by
    the first node so every block reaches the others: each wallet then holds one spendable
    coinbase."""
    maturity = get_params(state.network).coinbase_maturity
    first = state.nodes[0]
    click.echo(f"funding: mining {len(state.nodes) + maturity} blocks...")
    for node in state.nodes:
        control.mine(state, first, 1, wallets.receive_address(state, node))
    control.mine(state, first, maturity, wallets.receive_address(state, first))
    control.same_tip(state)


@main.command()
@click.option("--wipe", is_flag=True, help="Also delete every node's data and wallet.")
@_dir_option
def down(wipe: bool, root: Path | None) -> None:
    """Stop every node cleanly (keeping their data unless --wipe)."""
    root = root or default_dir()
    try:
        state = _load(root)
    except StateError:
        if wipe and root.exists():
            shutil.rmtree(root)
            click.echo(f"removed {root}")
            return
        raise
    stopped = [n.name for n in state.nodes if procs.stop_node(state, n)]
    state.save()
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "no node was running")
    if wipe:
        shutil.rmtree(root)
        click.echo(f"removed {root}")


@main.command("stop")
@click.argument("node")
@_dir_option
def stop_cmd(node: str, root: Path | None) -> None:
    """Stop one node (by name or index); `start` brings it back."""
    state = _load(root)
    n = state.node(node)
    click.echo(f"stopped {n.name}" if procs.stop_node(state, n) else f"{n.name} was not running")
    state.save()


@main.command("start")
@click.argument("node")
@_dir_option
def start_cmd(node: str, root: Path | None) -> None:
    """Start one stopped node again; it reconnects to its links and catches up."""
    state = _load(root)
    n = state.node(node)
    if procs.is_running(state, n):
        raise StateError(f"{n.name} is already running")
    procs.start_node(state, n, _peers(state, n))
    state.save()
    procs.wait_ready(state, n)
    _resume_mining(state, n)
    click.echo(f"started {n.name} at {n.api_url}")


# -- looking ---------------------------------------------------------------------------------
@main.command()
@click.option("--watch", type=float, default=None, metavar="SECONDS",
              callback=seconds(MIN_WATCH_INTERVAL, MAX_WATCH_INTERVAL),
              help=f"Refresh every SECONDS ({MIN_WATCH_INTERVAL:g} to {MAX_WATCH_INTERVAL:g}) "
                   "until Ctrl-C.")
@_dir_option
def status(watch: float | None, root: Path | None) -> None:
    """A table of every node: height, tip, peers, mempool, mining; forks show as letters."""
    try:
        state = _load(root)
        while True:
            text = control.table(state)
            if watch is None:
                click.echo(text)
                return
            click.clear()
            click.echo(time.strftime("%H:%M:%S  ") + f"(every {watch:g} s, Ctrl-C to stop)")
            click.echo(text)
            time.sleep(watch)
    except KeyboardInterrupt:
        pass


@main.command()
@click.argument("node")
@click.option("--lines", "-n", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@_dir_option
def logs(node: str, lines: int, follow: bool, root: Path | None) -> None:
    """The last lines of NODE's log (by name or index)."""
    try:
        state = _load(root)
        n = state.node(node)
        path = state.log_path(n)
        if not follow:
            click.echo(procs.tail(path, lines))
            return
        try:
            f = open(path, errors="replace")
        except OSError as e:  # e.g. a node never started has no log yet
            raise StateError(f"cannot follow {n.name}'s log {path}: {e.strerror}") from None
        with f:
            # The last lines from the open file, which is then at its end: nothing written
            # between showing them and following is lost.
            click.echo(procs.last_lines(f.read(), lines))
            while True:
                line = f.readline()
                if line:
                    click.echo(line, nl=False)
                else:
                    time.sleep(0.2)
    except KeyboardInterrupt:
        pass


@main.command()
@_dir_option
@click.option("--json", "as_json", is_flag=True)
def balances(root: Path | None, as_json: bool) -> None:
    """Every node's wallet balance."""
    state = _load(root)
    result = {n.name: wallets.balance(state, n) for n in state.nodes}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for name, b in result.items():
        click.echo(f"{name:10} " + "  ".join(
            f"{k} {_coins(b[k])}" for k in ("confirmed", "unconfirmed", "immature") if k in b))


def _coins(sats: int) -> str:
    """The wallet's coins without trailing zeros: 1.5, 50, 0.00000001."""
    return format_coins(sats).rstrip("0").rstrip(".")


# -- acting ------------------------------------------------------------------------------------
@main.command("mine")
@click.argument("blocks", type=click.IntRange(1, 1000))
@click.option("--node", "node_ref", default="0", show_default=True, help="Name or index.")
@_dir_option
def mine_cmd(blocks: int, node_ref: str, root: Path | None) -> None:
    """Mine BLOCKS blocks now on one node, paying its wallet."""
    state = _load(root)
    node = state.node(node_ref)
    hashes = control.mine(state, node, blocks, wallets.receive_address(state, node))
    click.echo(f"{node.name} mined {len(hashes)} block(s); tip {hashes[-1]}")


@main.command()
@click.option("--from", "src", required=True, help="Paying node (name or index).")
@click.option("--to", "dst", required=True, help="Receiving node (name or index).")
@click.argument("amount")
@_dir_option
def send(src: str, dst: str, amount: str, root: Path | None) -> None:
    """Pay AMOUNT (in coins, or in satoshis as 5000sat) from one node's wallet to another's."""
    state = _load(root)
    payer, payee = state.node(src), state.node(dst)
    address = wallets.receive_address(state, payee)
    txid = wallets.send(state, payer, address, amount)
    click.echo(f"{payer.name} -> {payee.name} {amount}: {txid}")


@main.command()
@click.argument("groups", nargs=-1, required=True)
@_dir_option
def partition(groups: tuple[str, ...], root: Path | None) -> None:
    """Cut the network: partition "node0,node1 | node2" (names or indexes; every node listed)."""
    state = _load(root)
    parts = [[state.node(x.strip()) for x in g.split(",") if x.strip()]
             for g in " ".join(groups).split("|")]
    names = [n.name for g in parts for n in g]
    if len(parts) < 2 or any(not g for g in parts):
        raise StateError('give two or more groups separated by "|", e.g. "0,1 | 2"')
    if len(set(names)) != len(names):
        raise StateError("a node can be in one group only")
    missing = [n.name for n in state.nodes if n.name not in names]
    if missing:
        parts[-1].extend(state.node(m) for m in missing)
    control.partition(state, parts)
    state.save()
    click.echo("partitioned: " + " | ".join(",".join(n.name for n in g) for g in parts))


@main.command()
@_dir_option
def heal(root: Path | None) -> None:
    """Join a partitioned network again; the longest chain wins everywhere."""
    state = _load(root)
    control.heal(state)
    state.save()
    tip = control.same_tip(state)
    click.echo(f"healed: every node at {tip}")


@main.command()
@click.option("--keep", is_flag=True, help="Leave the network running at the end.")
@_dir_option
def demo(keep: bool, root: Path | None) -> None:
    """The story in one go: three nodes, 101+ blocks, a payment from one wallet to another,
    confirmed on every node, balances printed (what `make regtest` runs)."""
    root = root or default_dir().with_name("localnet-demo")
    ctx = click.get_current_context()
    try:
        if NetState.exists(root):
            ctx.invoke(down, wipe=True, root=root)
        ctx.invoke(up, nodes=3, miners=0, root=root)  # the other options at their defaults
        state = NetState.load(root)
        payer, payee, miner = state.nodes[0], state.nodes[-1], state.nodes[1]
        before = wallets.balance(state, payee)["confirmed"]
        address = wallets.receive_address(state, payee)
        txid = wallets.send(state, payer, address, "1.5")
        click.echo(f"\n{payer.name} pays {payee.name} 1.5 coins: {txid}")
        for node in state.nodes:
            control.wait_for(lambda node=node: txid in procs.client(state, node).request(
                "GET", "/api/mempool/txids"), f"the payment in {node.name}'s mempool", 60)
        click.echo("relayed to every node's mempool; mining one block on "
                   f"{miner.name} to confirm it...")
        control.mine(state, miner, 1, wallets.receive_address(state, miner))
        tip = control.same_tip(state)
        for node in state.nodes:
            status = procs.client(state, node).request("GET", f"/api/tx/{txid}/status")
            if not status.get("confirmed"):
                raise ControlError(f"the payment is not confirmed on {node.name}")
        click.echo(f"confirmed on every node (tip {tip[:16]}...)\n")
        after = wallets.balance(state, payee)["confirmed"]
        if after - before != 150_000_000:
            raise ControlError(f"{payee.name} received {after - before} sat, not 150000000")
        ctx.invoke(balances, root=root, as_json=False)
    except ERRORS as e:
        # Here, not in _Group: the error is reported before the teardown below prints.
        _fail(e)
    finally:
        if not keep and NetState.exists(root):
            ctx.invoke(down, wipe=True, root=root)


if __name__ == "__main__":  # pragma: no cover
    main()
