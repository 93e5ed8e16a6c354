"""Settings of ``minicash-node run``, from flags, ``MINICASH_*`` environment variables and a
TOML config file, in that order of precedence (a flag beats the environment, which beats the
file; a list given at a higher level replaces the lower one, it is not merged).

``load_settings`` is a pure function of the flags it is handed, the environment mapping and the
config file it reads: no globals, nothing else from the process. It owns parsing and validation
only; building and running the node is ``node/cli.py``'s and ``node/app.py``'s business.
HOST:PORT values are read into ``node.netutil.HostPort``.

Keys (file keys take the flag's name with dashes or underscores: ``mine-interval`` or
``mine_interval``; environment variables are ``MINICASH_`` + the upper-case underscore name):

=================  ===========================  ============================================
key                type                         default
=================  ===========================  ============================================
network            main|test|regtest|devnet     regtest
datadir            path                         $MINICASH_HOME/<network> (~/.minicash/...)
config             path (flag and env only)     <datadir>/minicash.toml (may be absent)
rest-bind          HOST:PORT                    127.0.0.1:<network REST port> (18443 regtest)
p2p-bind           HOST:PORT                    0.0.0.0:<network P2P port> (18444 regtest)
connect            list of HOST:PORT            none (only these peers, as Core's -connect)
addnode            list of HOST:PORT            none (these peers too, as Core's -addnode)
no-listen          bool                         false
whitelist          list of IP or SUBNET         none (Core's -whitelist: noban, mempool, relay)
mine               bool                         false
miner-address      address                      a key the node keeps in <datadir>/miner.key
mine-interval      seconds, 0 to 86400          5 on regtest, 0 elsewhere
mining-workers     int >= 1                     all cores
log-level          debug|info|warning|error     info
log-file           path                         none (stderr only)
no-index           bool                         false
=================  ===========================  ============================================

Choices made here, and why:

- P2P listens on all interfaces by default, as Bitcoin Core does (``-bind`` defaults to every
  address): a node that only accepts loopback peers is not part of a network. The REST API,
  which carries the admin routes, binds to 127.0.0.1 by default (API.md).
- The port of a HOST:PORT may be left out; it then defaults to the network's port for that
  service (P2P port for ``p2p-bind``, ``connect`` and ``addnode``; REST port for ``rest-bind``),
  as Core's ``-connect=host`` does. IPv6 hosts go in brackets: ``[::1]:18444``.
- The datadir comes from a flag or the environment; a config file given explicitly (``--config``
  or ``MINICASH_CONFIG``) may also set it, but the default file, which lives inside the datadir,
  may not. Likewise that default file may not move the node to another network than the one
  whose datadir it sits in: the node would silently use another directory than the file's.
- Relative paths in the config file are relative to the file's directory; relative paths in
  flags and the environment are relative to the working directory.
- An environment variable set to the empty string counts as unset.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.consensus.address import address_to_script
from node.consensus.errors import DecodeError
from node.consensus.params import NETWORKS, get_params
from node.mining import MAX_MINING_INTERVAL, is_mining_interval
from node.netutil import DEFAULT_P2P_HOST, DEFAULT_REST_HOST, HostPort
from node.p2p.netaddr import parse_subnet

CONFIG_FILE_NAME = "minicash.toml"
ENV_PREFIX = "MINICASH_"
HOME_ENV = "MINICASH_HOME"
DEFAULT_NETWORK = "regtest"
LOG_LEVELS = ("debug", "info", "warning", "error")
MINING_NETWORKS = ("regtest", "devnet")
# Core's DEFAULT_BLOCK_INTERVAL has no equivalent; this is ours: regtest has no real PoW.
DEFAULT_REGTEST_MINE_INTERVAL = 5.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HOSTNAME = re.compile(r"^[A-Za-z0-9._-]+$")


class ConfigError(Exception):
    """A setting that cannot be used; the message names the setting and where it came from."""


@dataclass(frozen=True)
class Settings:
    network: str
    datadir: Path
    config_file: Path | None  # the file that was read; None when there was none
    rest_bind: HostPort
    p2p_bind: HostPort
    connect: tuple[HostPort, ...]
    addnode: tuple[HostPort, ...]
    no_listen: bool
    whitelist: tuple[str, ...]
    mine: bool
    miner_address: str | None
    mine_interval: float
    mining_workers: int | None  # None: one per core
    log_level: str
    log_file: Path | None
    no_index: bool


def minicash_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$MINICASH_HOME`` or ``~/.minicash``: holds each network's datadir and the wallets
    (``wallet/store.py`` applies the same rule; the wallet may not import this module)."""
    home = env.get(HOME_ENV, "").strip()
    return Path(home).expanduser() if home else Path.home() / ".minicash"


def default_datadir(network: str, env: Mapping[str, str] = os.environ) -> Path:
    return minicash_home(env) / network


def parse_hostport(text: str, default_port: int | None = None) -> HostPort:
    """``host:port``, ``[ipv6]:port``, or, given ``default_port``, ``host`` / ``[ipv6]``.

    Raises ValueError with a message that does not name the setting (the caller does)."""
    s = text.strip()
    port_text: str | None
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise ValueError(f"missing ']' in {text!r}")
        host, rest = s[1:end], s[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError(f"expected HOST:PORT, got {text!r}")
        port_text = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
    else:
        if s.count(":") > 1:
            raise ValueError(f"IPv6 addresses go in brackets, as in [::1]:18444; got {text!r}")
        host, sep, port_text_or_empty = s.partition(":")
        port_text = port_text_or_empty if sep else None
        if not host:
            raise ValueError(f"missing host in {text!r}")
        if not _HOSTNAME.match(host):
            raise ValueError(f"bad host {host!r} in {text!r}")
    if port_text is None:
        if default_port is None:
            raise ValueError(f"missing port in {text!r} (expected HOST:PORT)")
        return HostPort(host, default_port)
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"bad port {port_text!r} in {text!r}")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1..65535, got {port} in {text!r}")
    return HostPort(host, port)


# -- where a value came from, and converting it ------------------------------------------------

@dataclass(frozen=True)
class _Value:
    raw: Any
    label: str  # how an error names it: "--mine", "MINICASH_MINE", "'mine' in /x/minicash.toml"
    kind: str  # "flag", "env" or "file"
    base: Path | None = None  # directory that relative paths are relative to (file values)


def _as_bool(v: _Value) -> bool:
    if isinstance(v.raw, bool):
        return v.raw
    if v.kind == "env" and isinstance(v.raw, str):
        word = v.raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigError(f"{v.label}: expected true or false"
                      + (" (1/0, true/false, yes/no, on/off)" if v.kind == "env" else "")
                      + f", got {v.raw!r}")


def _as_str(v: _Value) -> str:
    if not isinstance(v.raw, str):
        raise ConfigError(f"{v.label}: expected a string, got {v.raw!r}")
    value = v.raw.strip()
    if not value:
        raise ConfigError(f"{v.label}: must not be empty")
    return value


def _as_path(v: _Value) -> Path:
    if isinstance(v.raw, Path):
        path = v.raw
    else:
        path = Path(_as_str(v)).expanduser()
    if v.base is not None and not path.is_absolute():
        path = v.base / path
    return path


def _as_choice(choices: tuple[str, ...]) -> Callable[[_Value], str]:
    def convert(v: _Value) -> str:
        value = _as_str(v).lower()
        if value not in choices:
            raise ConfigError(f"{v.label}: expected one of {', '.join(choices)}, got {v.raw!r}")
        return value
    return convert


def _as_interval(v: _Value) -> float:
    raw = v.raw
    if isinstance(raw, str) and v.kind != "file":
        try:
            raw = float(raw)
        except ValueError:
            raise ConfigError(f"{v.label}: expected a number of seconds, got {v.raw!r}") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{v.label}: expected a number of seconds, got {v.raw!r}")
    # The admin API's bound (POST /node/mining), so a node never runs with an interval it
    # would refuse to be set to.
    if not is_mining_interval(raw):
        raise ConfigError(f"{v.label}: expected a number of seconds from 0 to "
                          f"{MAX_MINING_INTERVAL}, got {v.raw!r}")
    return float(raw)


def _as_workers(v: _Value) -> int:
    raw = v.raw
    if isinstance(raw, str) and v.kind != "file":
        text = raw.strip()
        if not (text.isascii() and text.isdigit()):
            raise ConfigError(f"{v.label}: expected a whole number >= 1, got {v.raw!r}")
        raw = int(text)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ConfigError(f"{v.label}: expected a whole number >= 1, got {v.raw!r}")
    if raw < 1:
        raise ConfigError(f"{v.label}: expected a whole number >= 1, got {v.raw!r}")
    return raw


def _hostport(v: _Value, text: Any, default_port: int) -> HostPort:
    if isinstance(text, HostPort):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"{v.label}: expected a HOST:PORT string, got {text!r}")
    try:
        return parse_hostport(text, default_port)
    except ValueError as e:
        raise ConfigError(f"{v.label}: {e}") from None


def _as_subnet_list(v: _Value) -> tuple[str, ...]:
    """Whitelist entries, each in the form a ban of it is listed in (netaddr's ``parse_subnet``
    written back with ``str``, as ``listbanned`` and the ban records write it): an IPv4-mapped
    entry is its IPv4 subnet (``::ffff:127.0.0.1`` is ``127.0.0.1/32``) and a scope id is
    dropped, so the node's settings, its bans and the P2P service all name one subnet alike
    (Core: NetWhitelistPermissions and BanMan both hold a CSubNet)."""
    raw = v.raw
    if v.kind == "env":
        items: list[Any] = [item.strip() for item in str(raw).split(",") if item.strip()]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise ConfigError(f"{v.label}: expected a list of IP addresses or subnets, got {raw!r}")
    out = []
    for item in items:
        try:
            out.append(str(parse_subnet(str(item))))
        except ValueError:
            raise ConfigError(f"{v.label}: {item!r} is not an IP address or subnet") from None
    return tuple(out)


def _as_hostport_list(v: _Value, default_port: int) -> tuple[HostPort, ...]:
    raw = v.raw
    if v.kind == "env":
        items: list[Any] = [item for item in str(raw).split(",") if item.strip()]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise ConfigError(f"{v.label}: expected a list of HOST:PORT strings, got {raw!r}")
    return tuple(_hostport(v, item, default_port) for item in items)


# -- the keys ------------------------------------------------------------------------------------

# Every setting, by its underscore name. "config" is for flags and the environment only.
KEYS = ("network", "datadir", "config", "rest_bind", "p2p_bind", "connect", "addnode",
        "no_listen", "whitelist", "mine", "miner_address", "mine_interval", "mining_workers", "log_level",
        "log_file", "no_index")
_NOT_IN_FILE = frozenset({"config"})


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def _read_file(path: Path, explicit: bool) -> dict[str, _Value] | None:
    """The file's settings by underscore name, or None when a default file is absent."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} not found") from None
        return None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    values: dict[str, _Value] = {}
    for file_key, raw in data.items():
        key = file_key.replace("-", "_")
        if key not in KEYS or key in _NOT_IN_FILE:
            raise ConfigError(f"unknown setting {file_key!r} in {path}")
        if key in values:
            raise ConfigError(f"setting {file_key!r} given twice in {path}")
        values[key] = _Value(raw, f"{file_key!r} in {path}", "file", path.parent)
    return values


def load_settings(flags: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Merge explicitly given ``flags`` (underscore or dash names; absent or None means "not
    given"), ``MINICASH_*`` variables from ``env`` and the config file into :class:`Settings`.

    Raises :class:`ConfigError` with a one-line message naming the setting and its source."""
    given: dict[str, _Value] = {}
    for name, raw in flags.items():
        key = name.replace("-", "_")
        if key not in KEYS:
            raise ValueError(f"no such flag: {name}")
        if raw is not None:
            given[key] = _Value(raw, "--" + key.replace("_", "-"), "flag")
    from_env: dict[str, _Value] = {}
    for key in KEYS:
        raw = env.get(env_name(key))
        if raw is not None and raw.strip():
            from_env[key] = _Value(raw, env_name(key), "env")

    def early(key: str) -> _Value | None:  # flag, then environment: before the file is read
        return given.get(key) or from_env.get(key)

    choose_network = _as_choice(tuple(sorted(NETWORKS)))
    v = early("network")
    early_network = choose_network(v) if v else None
    v = early("datadir")
    early_datadir = _as_path(v) if v else None
    v = early("config")
    explicit_config = v is not None
    if v is not None:
        config_path = _as_path(v)
    else:
        config_path = (early_datadir or default_datadir(early_network or DEFAULT_NETWORK, env)) \
            / CONFIG_FILE_NAME
    from_file = _read_file(config_path, explicit_config)

    if from_file is not None and not explicit_config and "datadir" in from_file:
        raise ConfigError(f"datadir cannot be set in {config_path}, which is inside the datadir: "
                          f"use --datadir or {env_name('datadir')}")

    def pick(key: str) -> _Value | None:
        return early(key) or (from_file or {}).get(key)

    v = pick("network")
    network = choose_network(v) if v else DEFAULT_NETWORK
    if (from_file is not None and early_network is None and early_datadir is None
            and not explicit_config and network != DEFAULT_NETWORK):
        raise ConfigError(f"network {network!r} in {config_path}: that file is in the "
                          f"{DEFAULT_NETWORK} datadir; use --network {network} (or "
                          f"{env_name('network')}) to run {network}")
    params = get_params(network)
    v = pick("datadir")
    datadir = _as_path(v) if v else default_datadir(network, env)

    v = pick("rest_bind")
    rest_bind = _hostport(v, v.raw, params.rest_port) if v else \
        HostPort(DEFAULT_REST_HOST, params.rest_port)
    v = pick("p2p_bind")
    p2p_bind = _hostport(v, v.raw, params.default_port) if v else \
        HostPort(DEFAULT_P2P_HOST, params.default_port)
    v = pick("connect")
    connect = _as_hostport_list(v, params.default_port) if v else ()
    v = pick("addnode")
    addnode = _as_hostport_list(v, params.default_port) if v else ()
    v = pick("whitelist")
    whitelist = _as_subnet_list(v) if v else ()

    def flag(key: str) -> bool:
        v = pick(key)
        return _as_bool(v) if v else False

    no_listen, no_index = flag("no_listen"), flag("no_index")
    mine = flag("mine")
    if mine and network not in MINING_NETWORKS:
        raise ConfigError(f"{pick('mine').label} is for regtest and devnet, not "  # type: ignore[union-attr]
                          f"{network}")
    v = pick("miner_address")
    miner_address = _as_str(v) if v else None
    if v is not None and miner_address is not None:
        try:
            address_to_script(miner_address, params)
        except DecodeError as e:
            raise ConfigError(f"{v.label}: {e}") from None
    v = pick("mine_interval")
    mine_interval = _as_interval(v) if v else (
        DEFAULT_REGTEST_MINE_INTERVAL if network == "regtest" else 0.0)
    v = pick("mining_workers")
    mining_workers = _as_workers(v) if v else None
    v = pick("log_level")
    log_level = _as_choice(LOG_LEVELS)(v) if v else "info"
    v = pick("log_file")
    log_file = _as_path(v) if v else None

    return Settings(
        network=network, datadir=datadir,
        config_file=config_path if from_file is not None else None,
        rest_bind=rest_bind, p2p_bind=p2p_bind, connect=connect, addnode=addnode,
        no_listen=no_listen, whitelist=whitelist, mine=mine, miner_address=miner_address,
        mine_interval=mine_interval, mining_workers=mining_workers, log_level=log_level,
        log_file=log_file, no_index=no_index)
