"""``minicash-node``: the node's command-line front end (click)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from click.core import ParameterSource

from node import __version__
from node.app import MINER_KEY_FILE, Node, NodeConfig, miner_script
from node.chain.chainstate import ChainState
from node.chain.importer import ImportStats, import_files
from node.cli_checks import seconds
from node.client import ClientError, NodeClient
from node.config import (
    CONFIG_FILE_NAME,
    DEFAULT_NETWORK,
    LOG_LEVELS,
    ConfigError,
    Settings,
    default_datadir,
    load_settings,
)
from node.consensus.hashes import hash_to_hex
from node.consensus.params import COIN, NETWORKS, get_params
from node.consensus.pow import difficulty
from node.cookie import CookieError, read_cookie
from node.mining import MAX_MINING_INTERVAL
from node.netutil import connect_url
from node.storage.errors import StorageError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="minicash-node")
def main() -> None:
    """minicash: a Bitcoin-compatible full node."""


@main.command()
@click.option("--network", type=click.Choice(sorted(NETWORKS)), default=DEFAULT_NETWORK,
              show_default=True, help="Which network's parameters to show.")
def info(network: str) -> None:
    """Show a network's parameters and its genesis block, built from them."""
    p = get_params(network)
    genesis = p.genesis
    computed = hash_to_hex(genesis.hash)
    status = "matches the published hash" if computed == p.genesis_hash_hex else "MISMATCH"
    rows = [
        ("network", p.name),
        ("magic", p.magic.hex()),
        ("p2p port", p.default_port),
        ("rest port", p.rest_port),
        ("address prefixes", f"base58 {p.pubkey_prefix}/{p.script_prefix}, bech32 {p.bech32_hrp}"),
        ("genesis", f"{computed} ({status})"),
        ("genesis time", genesis.header.time),
        ("genesis bits", f"{genesis.header.bits:08x} (difficulty {difficulty(genesis.header.bits):.6g})"),
        ("block spacing", f"{p.pow_target_spacing} s, retarget every "
                          f"{p.difficulty_adjustment_interval} blocks"
                          + (" (disabled)" if p.pow_no_retargeting else "")),
        ("halving interval", p.subsidy_halving_interval),
        ("soft forks", f"BIP34 {p.bip34_height}, BIP66 {p.bip66_height}, BIP65 {p.bip65_height}, "
                       f"CSV {p.csv_height}, segwit {p.segwit_height}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:{width}}  {value}")


# -- where the node's settings come from -----------------------------------------------------------

def _settings_options(network_help: str, config_help: str):
    """--network, --datadir and --config: where `run` and the other commands on a node's
    datadir find the node's settings (see :func:`_settings`). No default network here: one not
    given comes from MINICASH_NETWORK or the config file, so both find the same datadir and
    file."""
    def add(f):
        f = click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
                         help=config_help)(f)
        f = click.option("--datadir", type=click.Path(file_okay=False, path_type=Path),
                         help="Data directory (default ~/.minicash/<network>).")(f)
        return click.option("--network", type=click.Choice(sorted(NETWORKS)), default=None,
                            help=f"{network_help}  [default: {DEFAULT_NETWORK}]")(f)
    return add


def _settings(given: dict[str, object]) -> Settings:
    """The node's settings from the options ``given`` (None: not given), the MINICASH_*
    environment and the config file; a bad one is a one-line error."""
    try:
        return load_settings(given, os.environ)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def _with_settings(network_help: str, config_help: str):
    """The settings options, for a command called with ``settings`` instead: the node's
    settings as `run` resolves them from the same options, so every command on a node's
    datadir finds the one `run` uses."""
    def add(command):
        @functools.wraps(command)
        def with_settings(network: str | None, datadir: Path | None, config: Path | None,
                          **kwargs: object) -> None:
            command(settings=_settings({"network": network, "datadir": datadir,
                                        "config": config}), **kwargs)
        return _settings_options(network_help, config_help)(with_settings)
    return add


# -- offline commands on a datadir -------------------------------------------------------------

# The datadir and network as `run` finds them (flag, MINICASH_* environment, config file), so
# these commands open the chain the node keeps.
_offline_options = _with_settings(
    network_help="Which network's rules and magic to use.",
    config_help="The node's TOML config file (default <datadir>/minicash.toml, if present), "
                "for its network and datadir.")


def _open_chain(settings: Settings, **kwargs) -> ChainState:
    try:
        return ChainState(get_params(settings.network), settings.datadir, **kwargs)
    except (StorageError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None


@contextmanager
def _first_sigint_stops() -> Iterator[threading.Event]:
    """A Ctrl-C asks for a stop after the block at hand, which is finished and flushed (as
    Core's shutdown request: a block cut short would only be replayed at the next start);
    a second one interrupts at once."""
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:  # started to ignore it (`import ... &` in a script)
        yield stop
        return

    def on_sigint(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@main.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_offline_options
def import_cmd(files: tuple[Path, ...], settings: Settings) -> None:
    """Import blocks from Bitcoin Core's blk*.dat files (any order; resumable)."""
    chain = _open_chain(settings)
    total = sum(f.stat().st_size for f in files) or 1
    started = last = time.monotonic()

    def progress(stats: ImportStats) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.5:
            return
        last = now
        rate = stats.imported / max(now - started, 1e-9)
        click.echo(f"\rheight {chain.height:>8}  imported {stats.imported:>8}  "
                   f"{rate:8.0f} blocks/s  {100 * stats.bytes_read / total:5.1f}%", nl=False,
                   err=True)

    try:
        with _first_sigint_stops() as stop:
            stats: ImportStats | None = import_files(chain, list(files), progress, stop.is_set)
    except KeyboardInterrupt:  # the second Ctrl-C
        stats = None
    except (StorageError, RuntimeError) as e:
        chain.close()
        raise click.ClickException(str(e)) from None
    click.echo("", err=True)  # ends the progress line
    # Reported even when stopped: a rerun skips a stored block, even one found invalid.
    for block_hash, reason in stats.invalid if stats is not None else ():
        click.echo(f"invalid block {block_hash}: {reason}", err=True)
    if stats is None or stats.stopped:
        chain.close()
        click.echo(f"interrupted at height {chain.height}; run the same command again to "
                   f"resume", err=True)
        sys.exit(130)
    elapsed = time.monotonic() - started
    chain.close()
    click.echo(f"imported {stats.imported} blocks ({stats.skipped} already stored, "
               f"{len(stats.invalid)} invalid, {stats.unconnected} without a parent) "
               f"in {elapsed:.1f} s")
    click.echo(f"height {chain.height}")
    click.echo(f"tip {hash_to_hex(chain.tip.hash)}")


@main.command("utxo-stats")
@_offline_options
def utxo_stats_cmd(settings: Settings) -> None:
    """Count, total amount and hash of the UTXO set, and its best block."""
    with _open_chain(settings) as chain:
        chain.flush()
        stats = chain.utxo_stats()
        height = chain.index[stats.best_block].height
    click.echo(f"best block   {hash_to_hex(stats.best_block)}")
    click.echo(f"height       {height}")
    click.echo(f"utxos        {stats.count}")
    click.echo(f"total amount {stats.total_amount / COIN:.8f}")
    click.echo(f"hash         {stats.hash_serialized}")


@main.command("reindex-chainstate")
@_offline_options
def reindex_chainstate_cmd(settings: Settings) -> None:
    """Rebuild the UTXO set by reconnecting every stored block, fully validated."""
    started = time.monotonic()
    with _open_chain(settings, reindex_chainstate=True) as chain:
        click.echo(f"reindexed to height {chain.height} in {time.monotonic() - started:.1f} s")
        click.echo(f"tip {hash_to_hex(chain.tip.hash)}")


# -- the running node ----------------------------------------------------------------------------

def _hostport_list_option(name: str, help: str):
    return click.option(name, multiple=True, metavar="HOST:PORT", help=help)


@main.command()
@_settings_options(
    network_help="Which network to run.",
    config_help="TOML config file (default <datadir>/minicash.toml, if present). Keys are the "
                "flag names, e.g. mine-interval = 2; flags beat MINICASH_* environment "
                "variables, which beat the file.")
@click.option("--rest-bind", metavar="HOST:PORT",
              help="Where the REST API listens.  [default: 127.0.0.1:<REST port>, 18443 on "
                   "regtest]")
@click.option("--p2p-bind", metavar="HOST:PORT",
              help="Where P2P listens: on all interfaces by default, as in Bitcoin Core."
                   "  [default: 0.0.0.0:<P2P port>, 18444 on regtest]")
@_hostport_list_option("--connect", "Connect only to this peer (repeatable).")
@_hostport_list_option("--addnode", "Also connect to this peer, reconnecting with back-off "
                       "(repeatable).")
@click.option("--no-listen/--listen", "no_listen", default=None,
              help="Accept no inbound P2P connections.  [default: listen]")
@click.option("--whitelist", multiple=True, metavar="IP|SUBNET",
              help="Trust peers from this IP or subnet (repeatable; no host names), as "
                   "Core's -whitelist: never disconnected or discouraged for misbehaving, "
                   "BIP35 mempool requests answered, "
                   "transactions announced without trickle delay.")
@click.option("--mine/--no-mine", default=None, help="Mine blocks (regtest and devnet).")
@click.option("--miner-address", help="Address the mined coins go to (default: a key the "
              "node creates in <datadir>/miner.key).")
@click.option("--mine-interval", type=float, default=None, metavar="SECONDS",
              help="Seconds between mined blocks (default 5 on regtest, none on devnet: its "
                   "own difficulty spaces blocks).")
@click.option("--mining-workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Proof-of-work worker processes (default: all cores).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default=None,
              help="How much to log.  [default: info]")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also log to this file (appended to).")
@click.option("--no-index/--index", "no_index", default=None,
              help="Keep no transaction and address indexes.  [default: keep them]")
@click.pass_context
def run(ctx: click.Context, **flags: object) -> None:
    """Run the node until SIGINT or SIGTERM (a second signal exits at once).

    Every option can also come from a MINICASH_<NAME> environment variable (MINICASH_MINE=1,
    MINICASH_CONNECT=host:port,host:port) or from the config file."""
    settings = _settings({name: value for name, value in flags.items()
                          if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE})
    config = NodeConfig(
        get_params(settings.network), settings.datadir, mine=settings.mine,
        miner_address=settings.miner_address, mine_interval=settings.mine_interval,
        mining_workers=settings.mining_workers, rest_bind=settings.rest_bind,
        p2p_bind=settings.p2p_bind, connect=list(settings.connect),
        addnode=list(settings.addnode), listen=not settings.no_listen,
        whitelist=list(settings.whitelist),
        index=not settings.no_index)
    logs = _start_logging(settings.log_level, settings.log_file)
    try:
        if settings.config_file is not None:
            logging.getLogger("minicash").info("settings from %s", settings.config_file)
        asyncio.run(_run_node(config, settings.config_file))
    except (StorageError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        _stop_logging(logs)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _start_logging(level: str, log_file: Path | None) -> tuple[list[logging.Handler], int]:
    """Log at ``level`` to stderr and, given ``log_file``, to that file too. Returns the
    handlers added to the root logger and its previous level, for :func:`_stop_logging`."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as e:
            raise click.ClickException(
                f"cannot open log file {log_file}: {e.strerror or e}") from None
    root = logging.getLogger()
    formatter = logging.Formatter(LOG_FORMAT)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    previous_level = root.level
    root.setLevel(level.upper())
    return handlers, previous_level


def _stop_logging(started: tuple[list[logging.Handler], int]) -> None:
    handlers, previous_level = started
    root = logging.getLogger()
    root.setLevel(previous_level)
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()


async def _run_node(config: NodeConfig, config_file: Path | None = None) -> None:
    """Run a node until a signal or POST /node/stop; ``config_file``, the settings file `run`
    read, is for the welcome banner's hints."""
    node = Node(config)
    stop = node.stop_requested  # set by a signal, or by POST /node/stop
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            os._exit(130)  # the user insists: leave now (the datadir survives a kill)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await node.start()
        _print_welcome(node, config_file)
        await stop.wait()
        logging.getLogger("minicash").info("shutting down")
    finally:
        await node.stop()


# -- client commands: talk to a running node over its API ------------------------------------------

def _client_options(command):
    """The node's settings options and --rest. The command is called with ``settings``, the
    node's settings as `run` resolves them from the same options, and ``rest_url``."""
    f = click.option("--rest", "rest_url", help="The node's API base URL (default: from "
                     "rest-bind, as `run` finds it in MINICASH_REST_BIND or the config file; "
                     "else http://127.0.0.1:<network REST port>).")(command)
    return _with_settings(
        network_help="The node's network.",
        config_help="The node's TOML config file (default <datadir>/minicash.toml, if "
                    "present).")(f)


def _client(settings: Settings, url: str | None, need_token: bool = False) -> NodeClient:
    # As bitcoin-cli takes -rpcport/-rpcconnect: the command line, then the node's settings
    # (here, where `run` binds the API), then the network's default, which load_settings
    # already gives when rest-bind is set nowhere.
    token = None
    try:
        token = read_cookie(settings.datadir)
    except CookieError as e:
        if need_token:
            raise click.ClickException(str(e)) from None
    return _call(NodeClient, url or connect_url(settings.rest_bind), token)  # a bad --rest URL


def _call(fn, *args):
    try:
        return fn(*args)
    except ClientError as e:
        raise click.ClickException(str(e)) from None


@main.command()
@_client_options
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
def status(settings: Settings, rest_url: str | None, as_json: bool) -> None:
    """Show a running node's height, peers, mempool and mining state."""
    info = _call(_client(settings, rest_url).info)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    mining = info.get("mining") or {}
    pool = info.get("mempool") or {}
    click.echo(f"network  {info.get('network')}")
    click.echo(f"height   {info.get('height')}  {info.get('best_block')}")
    click.echo(f"peers    {info.get('peers')}")
    click.echo(f"mempool  {pool.get('count')} txs, {pool.get('vsize')} vB")
    click.echo(f"mining   {'on' if mining.get('enabled') else 'off'}"
               f" ({mining.get('blocks_found', 0)} blocks found)")
    click.echo(f"uptime   {info.get('uptime')} s, version {info.get('version')}")


@main.command()
@_client_options
def peers(settings: Settings, rest_url: str | None) -> None:
    """List the node's peers."""
    listed = _call(_client(settings, rest_url).peers)
    if not listed:
        click.echo("no peers")
    for p in listed:
        click.echo(json.dumps(p))


@main.command("generate")
@click.argument("blocks", type=click.IntRange(1, 1000))
@click.option("--address", help="Address the coinbases pay (default: the node's miner-address "
              "setting, as `run` finds it; else its miner key in <datadir>/miner.key).")
@_client_options
def generate_cmd(blocks: int, address: str | None, settings: Settings,
                 rest_url: str | None) -> None:
    """Mine BLOCKS blocks now (regtest and devnet); prints their hashes."""
    # Pay where the node's own miner pays: its miner-address setting, else its key.
    if address is None:
        address = settings.miner_address
    if address is None:
        # Only a key the node already has: the client creates no files in the node's datadir
        # (miner_script would).
        if not (settings.datadir / MINER_KEY_FILE).exists():
            raise click.ClickException(f"give --address: no miner-address set and no miner key "
                                       f"in {settings.datadir}")
        _, address = miner_script(NodeConfig(get_params(settings.network), settings.datadir))
    client = _client(settings, rest_url, need_token=True)
    for h in _call(client.generate, blocks, address):
        click.echo(h)


@main.command("mining")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--address", help="Address the mined coins go to (default: where the node last "
              "mined to, else its miner-address setting or miner key).")
@click.option("--interval", type=float, callback=seconds(0, MAX_MINING_INTERVAL), metavar="SECONDS",
              help="Seconds between blocks, 0 for as fast as found (default: as before).")
@_client_options
def mining_cmd(state: str, address: str | None, interval: float | None, settings: Settings,
               rest_url: str | None) -> None:
    """Switch a running node's miner on or off (regtest and devnet), e.g. to keep a payment
    unconfirmed for a while; settings given with "off" are kept for the next "on"."""
    client = _client(settings, rest_url, need_token=True)
    mining = _call(client.set_mining, state == "on", address, interval)
    if mining.get("enabled"):
        pace = f"a block every {mining['interval']:g} s" if mining.get("interval") else \
            "blocks as fast as found"
        click.echo(f"mining on: {pace}, paying {mining.get('address')}")
    else:
        click.echo(f"mining off ({mining.get('blocks_found', 0)} blocks found)")


@main.command()
@_client_options
def stop(settings: Settings, rest_url: str | None) -> None:
    """Ask a running node to shut down cleanly."""
    _call(_client(settings, rest_url, need_token=True).stop)
    click.echo("node stopping")


def _print_welcome(node: Node, config_file: Path | None = None) -> None:
    """What a newcomer needs once the node is up: where it answers and what to try next.
    ``config_file`` is the settings file the node was run with, if any."""
    # Where the API listens is not always where to reach it: connect_url brackets an IPv6 host
    # and turns a wildcard bind (0.0.0.0, ::) into loopback, so every URL below opens.
    assert node.rest_address is not None, "the node is started"
    base = connect_url(node.rest_address)
    net = node.config.params.name
    flags = _client_flags(node, config_file, base)
    lines = [
        f"minicash {net} node running (datadir {node.config.datadir})",
        f"  Explorer     {base}/          open it in a browser",
        f"  Esplora API  {base}/api      e.g. curl {base}/api/blocks/tip/height",
        f"  Core REST    {base}/rest     e.g. curl {base}/rest/chaininfo.json",
        f"  API spec     {base}/openapi.json",
        "Try:",
        f"  minicash-node status{flags}",
    ]
    if net in ("regtest", "devnet"):
        lines.append(f"  minicash-node generate 10{flags}")
    lines.append("Ctrl-C stops the node cleanly.")
    click.echo("\n".join(lines), err=True)


def _client_flags(node: Node, config_file: Path | None, url: str) -> str:
    """The options a client command needs to reach this node, for the banner's hints: its
    network, datadir and config file where they are not the defaults (absolute paths, for a
    shell in another directory; quoted for the shell), and ``--rest`` with ``url``, where the
    API answers, if those settings alone would look for it elsewhere."""
    net = node.config.params.name
    datadir = node.config.datadir.absolute()
    config = config_file.absolute() if config_file is not None else None
    if config == datadir / CONFIG_FILE_NAME:
        config = None  # found without --config
    # The settings the hint gives a client command (the datadir is there even where the hint
    # leaves it out, as the default a plain shell finds).
    given: dict[str, object] = {"network": None if net == DEFAULT_NETWORK else net,
                                "datadir": datadir, "config": config}
    flags = [] if net == DEFAULT_NETWORK else ["--network", net]
    # The default datadir as the shell the hint is typed in sees it, like _found_url: the
    # node's MINICASH_HOME need not be set there.
    if datadir != default_datadir(net, {}).absolute():
        flags += ["--datadir", str(datadir)]
    if config is not None:
        flags += ["--config", str(config)]
    if _found_url(given) != url:
        flags += ["--rest", url]
    return "".join(f" {shlex.quote(flag)}" for flag in flags)


def _found_url(given: dict[str, object]) -> str | None:
    """The API URL a client command given these settings finds: the config file's rest-bind,
    else the network's default. The environment is left out: the node's MINICASH_REST_BIND
    need not be set in the shell the hint is typed in, and a --rest-bind given to `run` is in
    neither. None if the file no longer loads."""
    try:
        return connect_url(load_settings(given, {}).rest_bind)
    except ConfigError:
        return None
