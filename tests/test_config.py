"""Settings of `minicash-node run`: flags beat MINICASH_* variables, which beat the TOML file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from node.config import (
    ConfigError,
    Settings,
    load_settings,
    parse_hostport,
)
from node.consensus.address import p2wpkh_script, script_to_address
from node.consensus.params import REGTEST
from node.netutil import HostPort
from node.p2p.banman import BanMan
from tests.run_capture import invoke_run

REGTEST_ADDRESS = script_to_address(p2wpkh_script(bytes(20)), REGTEST)
MAIN_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.fixture
def datadir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def write_config(datadir: Path, text: str) -> Path:
    path = datadir / "minicash.toml"
    path.write_text(text)
    return path


def load(datadir: Path, flags: dict | None = None, env: dict | None = None) -> Settings:
    return load_settings({"datadir": datadir, **(flags or {})}, env or {})


# -- defaults ------------------------------------------------------------------------------------

def test_defaults_without_file_or_environment(datadir):
    s = load(datadir)
    assert s == Settings(
        network="regtest", datadir=datadir, config_file=None,
        rest_bind=HostPort("127.0.0.1", 18443), p2p_bind=HostPort("0.0.0.0", 18444),
        connect=(), addnode=(), no_listen=False, whitelist=(), mine=False, miner_address=None,
        mine_interval=5.0, mining_workers=None, log_level="info", log_file=None,
        no_index=False)


def test_ports_and_mine_interval_default_per_network(datadir):
    s = load(datadir, {"network": "devnet"})
    assert s.rest_bind == ("127.0.0.1", 28443) and s.p2p_bind == ("0.0.0.0", 28444)
    assert s.mine_interval == 0.0
    s = load(datadir, {"network": "main"})
    assert s.rest_bind.port == 8332 and s.p2p_bind.port == 8333


def test_default_datadir_and_its_config_file_follow_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    regtest_dir = tmp_path / ".minicash" / "regtest"
    devnet_dir = tmp_path / ".minicash" / "devnet"
    regtest_dir.mkdir(parents=True)
    devnet_dir.mkdir(parents=True)
    write_config(regtest_dir, "mine-interval = 1\n")
    write_config(devnet_dir, "mine-interval = 2\n")
    s = load_settings({}, {})
    assert (s.datadir, s.config_file, s.mine_interval) == (
        regtest_dir, regtest_dir / "minicash.toml", 1.0)
    s = load_settings({}, {"MINICASH_NETWORK": "devnet"})
    assert (s.datadir, s.config_file, s.mine_interval) == (
        devnet_dir, devnet_dir / "minicash.toml", 2.0)


# -- precedence ----------------------------------------------------------------------------------

@pytest.mark.parametrize("key, file_value, env_value, flag_value, attr, expected", [
    ("mine-interval", "1.5", "2.5", 3.5, "mine_interval", (1.5, 2.5, 3.5)),
    ("mining-workers", "1", "2", 3, "mining_workers", (1, 2, 3)),
    ("log-level", '"error"', "warning", "debug", "log_level", ("error", "warning", "debug")),
    ("rest-bind", '"127.0.0.1:1001"', "127.0.0.1:1002", "127.0.0.1:1003", "rest_bind",
     tuple(HostPort("127.0.0.1", p) for p in (1001, 1002, 1003))),
    ("p2p-bind", '"127.0.0.1:2001"', "127.0.0.1:2002", "127.0.0.1:2003", "p2p_bind",
     tuple(HostPort("127.0.0.1", p) for p in (2001, 2002, 2003))),
    ("connect", '["a:1"]', "b:2", ("c:3",), "connect",
     ((HostPort("a", 1),), (HostPort("b", 2),), (HostPort("c", 3),))),
    ("addnode", '["a:1"]', "b:2", ("c:3",), "addnode",
     ((HostPort("a", 1),), (HostPort("b", 2),), (HostPort("c", 3),))),
    ("mine", "true", "0", True, "mine", (True, False, True)),
    ("no-listen", "true", "false", True, "no_listen", (True, False, True)),
    ("no-index", "false", "yes", False, "no_index", (False, True, False)),
])
def test_flag_beats_environment_beats_file(datadir, key, file_value, env_value, flag_value,
                                           attr, expected):
    write_config(datadir, f"{key} = {file_value}\n")
    env = {"MINICASH_" + key.upper().replace("-", "_"): env_value}
    flags = {key.replace("-", "_"): flag_value}
    assert getattr(load(datadir), attr) == expected[0]
    assert getattr(load(datadir, env=env), attr) == expected[1]
    assert getattr(load(datadir, flags, env), attr) == expected[2]


def test_miner_address_flag_beats_environment_beats_file(datadir):
    a, b, c = (script_to_address(p2wpkh_script(bytes([i]) * 20), REGTEST) for i in (1, 2, 3))
    write_config(datadir, f"miner-address = '{a}'\n")
    env = {"MINICASH_MINER_ADDRESS": b}
    assert load(datadir).miner_address == a
    assert load(datadir, env=env).miner_address == b
    assert load(datadir, {"miner_address": c}, env).miner_address == c
    with pytest.raises(ConfigError, match="^--miner-address: address is for network 'main'"):
        load(datadir, {"miner_address": MAIN_ADDRESS}, env)


def test_a_flag_given_as_none_does_not_override(datadir):
    write_config(datadir, "mine-interval = 1\n")
    assert load(datadir, {"mine_interval": None}, {"MINICASH_MINE_INTERVAL": "2"}).mine_interval \
        == 2.0


def test_an_empty_environment_variable_counts_as_unset(datadir):
    write_config(datadir, "mining-workers = 4\n")
    assert load(datadir, env={"MINICASH_MINING_WORKERS": ""}).mining_workers == 4


def test_a_value_overridden_by_a_flag_is_not_validated(datadir):
    s = load(datadir, {"mine_interval": 1.0}, {"MINICASH_MINE_INTERVAL": "soon"})
    assert s.mine_interval == 1.0


def test_datadir_and_config_from_the_environment(tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text("mining-workers = 7\n")
    s = load_settings({}, {"MINICASH_DATADIR": str(tmp_path / "d"),
                           "MINICASH_CONFIG": str(other)})
    assert (s.datadir, s.config_file, s.mining_workers) == (tmp_path / "d", other, 7)


def test_file_keys_take_dashes_or_underscores(datadir):
    write_config(datadir, "mine_interval = 2\nmining-workers = 3\nno_index = true\n")
    s = load(datadir)
    assert (s.mine_interval, s.mining_workers, s.no_index) == (2.0, 3, True)
    path = write_config(datadir, "mine_interval = 2\nmine-interval = 3\n")
    with pytest.raises(ConfigError, match=f"setting 'mine-interval' given twice in {path}"):
        load(datadir)


def test_every_setting_from_a_file(datadir, tmp_path):
    path = write_config(datadir, f"""
network = "regtest"
rest-bind = "127.0.0.1:18500"
p2p-bind = "[::1]:18501"
connect = ["127.0.0.1:18502", "localhost"]
addnode = []
no-listen = true
mine = true
miner-address = "{REGTEST_ADDRESS}"
mine-interval = 0
mining-workers = 2
log-level = "DEBUG"
log-file = "logs/node.log"
no-index = true
whitelist = ["::ffff:10.0.0.1", "fe80::/10"]
""")
    s = load(datadir)
    assert s == Settings(
        network="regtest", datadir=datadir, config_file=path,
        rest_bind=HostPort("127.0.0.1", 18500), p2p_bind=HostPort("::1", 18501),
        connect=(HostPort("127.0.0.1", 18502), HostPort("localhost", 18444)), addnode=(),
        whitelist=("10.0.0.1/32", "fe80::/10"),
        no_listen=True, mine=True, miner_address=REGTEST_ADDRESS, mine_interval=0.0,
        mining_workers=2, log_level="debug", log_file=datadir / "logs" / "node.log",
        no_index=True)
    assert str(s.p2p_bind) == "[::1]:18501"


# -- the config file -----------------------------------------------------------------------------

def test_unknown_key_is_an_error_naming_key_and_file(datadir):
    path = write_config(datadir, "mine = true\nfoo = 1\n")
    with pytest.raises(ConfigError) as e:
        load(datadir)
    assert str(e.value) == f"unknown setting 'foo' in {path}"


@pytest.mark.parametrize("text, name", [
    ("config = 'x.toml'\n", "config"),  # flag and environment only
    ("[rest]\nbind = '127.0.0.1:1'\n", "rest"),  # no tables
    ("Mine = true\n", "Mine"),  # keys are lower case
])
def test_keys_a_file_cannot_hold(datadir, text, name):
    path = write_config(datadir, text)
    with pytest.raises(ConfigError, match=f"^unknown setting '{name}' in {path}$"):
        load(datadir)


def test_missing_default_file_is_fine_missing_explicit_file_is_an_error(datadir, tmp_path):
    assert load(datadir).config_file is None
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=f"^config file {missing} not found$"):
        load(datadir, {"config": missing})
    with pytest.raises(ConfigError, match=f"^config file {missing} not found$"):
        load(datadir, env={"MINICASH_CONFIG": str(missing)})


def test_invalid_toml_names_the_file(datadir):
    path = write_config(datadir, "mine = \n")
    with pytest.raises(ConfigError, match=f"^{path}: not valid TOML"):
        load(datadir)


def test_datadir_only_from_flag_environment_or_an_explicit_file(datadir, tmp_path):
    path = write_config(datadir, "datadir = '/somewhere'\n")
    with pytest.raises(ConfigError, match=f"^datadir cannot be set in {path}"):
        load(datadir)
    explicit = tmp_path / "etc" / "node.toml"
    explicit.parent.mkdir()
    explicit.write_text("datadir = 'var/node'\n")
    assert load_settings({"config": explicit}, {}).datadir == tmp_path / "etc" / "var" / "node"
    assert load_settings({"config": explicit}, {"MINICASH_DATADIR": str(datadir)}).datadir \
        == datadir


def test_explicit_file_may_choose_the_network_and_so_the_default_datadir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    explicit = tmp_path / "devnet.toml"
    explicit.write_text("network = 'devnet'\n")
    s = load_settings({"config": explicit}, {})
    assert (s.network, s.datadir) == ("devnet", tmp_path / ".minicash" / "devnet")


def test_default_file_cannot_move_the_node_to_another_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    regtest_dir = tmp_path / ".minicash" / "regtest"
    regtest_dir.mkdir(parents=True)
    path = write_config(regtest_dir, "network = 'devnet'\n")
    with pytest.raises(ConfigError, match=f"^network 'devnet' in {path}: that file is in the "
                                          "regtest datadir"):
        load_settings({}, {})
    # Inside an explicit datadir, the file says which network that datadir is for.
    s = load_settings({"datadir": regtest_dir}, {})
    assert (s.network, s.datadir) == ("devnet", regtest_dir)


# -- wrong types and values ----------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ("mine = 'yes'", "'mine' in {path}: expected true or false, got 'yes'"),
    ("no-listen = 1", "'no-listen' in {path}: expected true or false, got 1"),
    ("mine-interval = 'fast'", "'mine-interval' in {path}: expected a number of seconds, got "
                               "'fast'"),
    ("mine-interval = -1", "'mine-interval' in {path}: expected a number of seconds from 0 to "
                           "86400, got -1"),
    ("mine-interval = nan", "'mine-interval' in {path}: expected a number of seconds from 0 to "
                            "86400"),
    ("mine-interval = 86401", "'mine-interval' in {path}: expected a number of seconds from 0 "
                              "to 86400, got 86401"),
    ("mine-interval = true", "'mine-interval' in {path}: expected a number of seconds, got True"),
    ("mining-workers = 0", "'mining-workers' in {path}: expected a whole number >= 1, got 0"),
    ("mining-workers = 2.0", "'mining-workers' in {path}: expected a whole number >= 1, got 2.0"),
    ("mining-workers = '2'", "'mining-workers' in {path}: expected a whole number >= 1, got '2'"),
    ("network = 'mars'", "'network' in {path}: expected one of devnet, main, regtest, test, got "
                         "'mars'"),
    ("network = 1", "'network' in {path}: expected a string, got 1"),
    ("log-level = 'loud'", "'log-level' in {path}: expected one of debug, info, warning, error"),
    ("log-file = ''", "'log-file' in {path}: must not be empty"),
    ("connect = '127.0.0.1:1'", "'connect' in {path}: expected a list of HOST:PORT strings, got "
                                "'127.0.0.1:1'"),
    ("addnode = [18444]", "'addnode' in {path}: expected a HOST:PORT string, got 18444"),
    ("rest-bind = 18443", "'rest-bind' in {path}: expected a HOST:PORT string, got 18443"),
    ("rest-bind = '127.0.0.1:0'", "'rest-bind' in {path}: port must be 1..65535, got 0"),
    ("miner-address = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'",
     "'miner-address' in {path}: address is for network 'main', not 'regtest'"),
])
def test_wrong_types_in_the_file_name_the_key(datadir, line, message):
    path = write_config(datadir, line + "\n")
    with pytest.raises(ConfigError) as e:
        load(datadir)
    assert str(e.value).startswith(message.format(path=path))


@pytest.mark.parametrize("name, value, message", [
    ("MINICASH_MINE", "maybe", "MINICASH_MINE: expected true or false (1/0, true/false, yes/no, "
                               "on/off), got 'maybe'"),
    ("MINICASH_NO_INDEX", "2", "MINICASH_NO_INDEX: expected true or false"),
    ("MINICASH_MINE_INTERVAL", "soon", "MINICASH_MINE_INTERVAL: expected a number of seconds"),
    ("MINICASH_MINE_INTERVAL", "inf", "MINICASH_MINE_INTERVAL: expected a number of seconds from 0 to 86400"),
    ("MINICASH_MINING_WORKERS", "two", "MINICASH_MINING_WORKERS: expected a whole number >= 1"),
    ("MINICASH_MINING_WORKERS", "-1", "MINICASH_MINING_WORKERS: expected a whole number >= 1"),
    ("MINICASH_NETWORK", "mars", "MINICASH_NETWORK: expected one of devnet, main, regtest, test"),
    ("MINICASH_LOG_LEVEL", "trace", "MINICASH_LOG_LEVEL: expected one of debug, info"),
    ("MINICASH_P2P_BIND", "127.0.0.1:99999", "MINICASH_P2P_BIND: port must be 1..65535"),
    ("MINICASH_CONNECT", "a:1,b:x", "MINICASH_CONNECT: bad port 'x' in 'b:x'"),
])
def test_wrong_values_in_the_environment_name_the_variable(datadir, name, value, message):
    with pytest.raises(ConfigError) as e:
        load(datadir, env={name: value})
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " 1 "])
def test_environment_booleans_true(datadir, value):
    assert load(datadir, env={"MINICASH_NO_LISTEN": value}).no_listen is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_environment_booleans_false(datadir, value):
    write_config(datadir, "no-listen = true\n")
    assert load(datadir, env={"MINICASH_NO_LISTEN": value}).no_listen is False


def test_flag_errors_name_the_flag(datadir):
    with pytest.raises(ConfigError, match="^--rest-bind: missing host in ':18443'$"):
        load(datadir, {"rest_bind": ":18443"})
    with pytest.raises(ConfigError, match="^--connect: port must be 1..65535, got 65536 "):
        load(datadir, {"connect": ("127.0.0.1:1", "127.0.0.1:65536")})
    with pytest.raises(ValueError, match="no such flag: bogus"):
        load(datadir, {"bogus": 1})


def test_mining_is_for_regtest_and_devnet_wherever_it_is_asked(datadir):
    with pytest.raises(ConfigError, match="^--mine is for regtest and devnet, not main$"):
        load(datadir, {"network": "main", "mine": True})
    with pytest.raises(ConfigError, match="^MINICASH_MINE is for regtest and devnet, not test$"):
        load(datadir, {"network": "test"}, {"MINICASH_MINE": "1"})
    path = write_config(datadir, "mine = true\n")
    with pytest.raises(ConfigError, match=f"^'mine' in {path} is for regtest and devnet"):
        load(datadir, {"network": "main"})
    assert load(datadir, {"network": "main", "mine": False}).mine is False
    assert load(datadir, {"network": "devnet"}).mine is True


# -- HOST:PORT -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:18443", HostPort("127.0.0.1", 18443)),
    ("localhost:1", HostPort("localhost", 1)),
    ("node-1.example_net:65535", HostPort("node-1.example_net", 65535)),
    ("[::1]:18444", HostPort("::1", 18444)),
    ("[::]:8333", HostPort("::", 8333)),
    (" 10.0.0.2:8333 ", HostPort("10.0.0.2", 8333)),
    ("10.0.0.2", HostPort("10.0.0.2", 7)),  # the default port
    ("[fe80::1]", HostPort("fe80::1", 7)),
])
def test_parse_hostport(text, expected):
    assert parse_hostport(text, default_port=7) == expected


@pytest.mark.parametrize("text, message", [
    ("127.0.0.1:0", "port must be 1..65535, got 0"),
    ("127.0.0.1:65536", "port must be 1..65535, got 65536"),
    ("127.0.0.1:", "bad port ''"),
    ("127.0.0.1:-1", "bad port '-1'"),
    ("127.0.0.1:8a", "bad port '8a'"),
    ("127.0.0.1:٣", "bad port '٣'"),  # a digit, but not an ASCII one
    (":8333", "missing host"),
    ("", "missing host"),
    ("::1:8333", "IPv6 addresses go in brackets"),
    ("[::1:8333", "missing ']'"),
    ("[::1]8333", "expected HOST:PORT"),
    ("[example.com]:8333", "'example.com' in brackets is not an IPv6 address"),
    ("bad host:8333", "bad host 'bad host'"),
    ("host/x:1", "bad host 'host/x'"),
])
def test_parse_hostport_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_hostport(text, default_port=7)


def test_parse_hostport_without_a_default_needs_the_port():
    with pytest.raises(ValueError, match="missing port in 'localhost'"):
        parse_hostport("localhost")


def test_lists_from_the_environment_are_comma_separated(datadir):
    s = load(datadir, env={"MINICASH_CONNECT": " 127.0.0.1:1, [::1]:2,,localhost ",
                           "MINICASH_ADDNODE": "10.0.0.1:18444"})
    assert s.connect == (HostPort("127.0.0.1", 1), HostPort("::1", 2),
                         HostPort("localhost", 18444))
    assert s.addnode == (HostPort("10.0.0.1", 18444),)


# -- the whitelist -------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, stored", [
    ("127.0.0.1", "127.0.0.1/32"),
    ("::ffff:127.0.0.1", "127.0.0.1/32"),
    ("::FFFF:10.0.0.0/104", "10.0.0.0/8"),
    ("fe80::1%eth0", "fe80::1/128"),
    ("10.1.2.3/8", "10.0.0.0/8"),
    ("1.2.3.4/255.255.0.0", "1.2.0.0/16"),
    (" 192.168.1.0/24 ", "192.168.1.0/24"),
    ("2001:DB8::1/32", "2001:db8::/32"),
    ("::ffff:0:0/95", "::fffe:0:0/95"),
    ("::/0", "::/0"),
])
def test_a_whitelist_entry_is_stored_as_a_ban_of_it_is_listed(datadir, tmp_path, entry, stored):
    """Whether given as a flag, in the environment or in the file, the entry is kept in the form
    BanMan lists a ban of the same entry in: one canonical subnet for both."""
    write_config(datadir, f"whitelist = [{json.dumps(entry)}]\n")
    from_file = load(datadir).whitelist
    from_env = load(datadir, env={"MINICASH_WHITELIST": entry}).whitelist
    from_flag = load(datadir, {"whitelist": (entry,)}).whitelist
    assert from_file == from_env == from_flag == (stored,)
    bans = BanMan(tmp_path / "bans")
    try:
        bans.ban(entry)
        assert [b["address"] for b in bans.list_bans()] == [stored]
    finally:
        bans.close()


@pytest.mark.parametrize("source, entry", [
    ("flag", "localhost"), ("env", "10.0.0.0/33"), ("file", "::ffff:1.2.3.4/200"),
    ("file", "1.2.3.4\n5.6.7.8"), ("file", 167772161),
])
def test_a_bad_whitelist_entry_is_one_line_naming_it_and_its_source(datadir, source, entry):
    # json.dumps writes a TOML basic string (escapes kept) or an integer.
    path = write_config(datadir, f"whitelist = [{json.dumps(entry)}]\n" if source == "file"
                        else "")
    label = {"flag": "--whitelist", "env": "MINICASH_WHITELIST",
             "file": f"'whitelist' in {path}"}[source]
    with pytest.raises(ConfigError) as e:
        if source == "flag":
            load(datadir, {"whitelist": ("127.0.0.1", entry)})
        elif source == "env":
            load(datadir, env={"MINICASH_WHITELIST": f"127.0.0.1,{entry}"})
        else:
            load(datadir)
    assert str(e.value) == f"{label}: {entry!r} is not an IP address or subnet"
    assert "\n" not in str(e.value)


def test_a_list_given_higher_up_replaces_the_lower_one(datadir):
    write_config(datadir, "addnode = ['10.0.0.1:1', '10.0.0.2:2']\n")
    s = load(datadir, {"addnode": ("10.0.0.3:3",)})
    assert s.addnode == (HostPort("10.0.0.3", 3),)


# -- the run command -----------------------------------------------------------------------------

def test_run_builds_the_node_config_from_flags_environment_and_file(datadir, captured_run):
    write_config(datadir, "mine = true\nmine-interval = 7\naddnode = ['127.0.0.1:5']\n"
                          "rest-bind = '127.0.0.1:9999'\n")
    result = invoke_run(["--datadir", str(datadir), "--rest-bind", "127.0.0.1:18600",
                         "--connect", "127.0.0.1:1", "--connect", "[::1]:2", "--no-listen",
                         "--no-index"],
                        env={"MINICASH_MINING_WORKERS": "2", "MINICASH_MINE_INTERVAL": "3"})
    assert result.exit_code == 0, result.output
    (config,) = captured_run
    assert config.params.name == "regtest" and config.datadir == datadir
    assert (config.mine, config.mine_interval, config.mining_workers) == (True, 3.0, 2)
    assert config.rest_bind == ("127.0.0.1", 18600)
    assert config.p2p_bind == ("0.0.0.0", 18444)
    assert config.connect == [("127.0.0.1", 1), ("::1", 2)]
    assert config.addnode == [("127.0.0.1", 5)]
    assert (config.listen, config.index) == (False, False)


def test_run_hands_the_node_whitelist_entries_in_the_form_bans_take(datadir, captured_run):
    write_config(datadir, "whitelist = ['10.0.0.0/8']\n")
    result = invoke_run(["--datadir", str(datadir), "--whitelist", "::ffff:127.0.0.1",
                         "--whitelist", "fe80::1%eth0", "--whitelist", "::ffff:10.0.0.0/104"])
    assert result.exit_code == 0, result.output
    (config,) = captured_run
    assert config.whitelist == ["127.0.0.1/32", "fe80::1/128", "10.0.0.0/8"]


def test_run_flags_not_given_leave_environment_and_file_alone(datadir, captured_run):
    write_config(datadir, "no-listen = true\nmine = true\n")
    result = invoke_run(["--datadir", str(datadir)], env={"MINICASH_NETWORK": "devnet"})
    assert result.exit_code == 0, result.output
    (config,) = captured_run
    assert (config.params.name, config.listen, config.mine) == ("devnet", False, True)
    assert config.mine_interval == 0.0
    result = invoke_run(["--datadir", str(datadir), "--listen", "--no-mine"])
    assert result.exit_code == 0, result.output
    assert (captured_run[1].listen, captured_run[1].mine) == (True, False)


def test_run_reports_a_bad_setting_in_one_line(datadir, captured_run):
    path = write_config(datadir, "foo = 1\n")
    result = invoke_run(["--datadir", str(datadir)])
    assert result.exit_code == 1
    assert result.output == f"Error: unknown setting 'foo' in {path}\n"
    result = invoke_run(["--datadir", str(datadir), "--config", str(datadir / "nope.toml")])
    assert result.exit_code == 1
    assert result.output == f"Error: config file {datadir / 'nope.toml'} not found\n"
    path.unlink()
    result = invoke_run(["--datadir", str(datadir), "--p2p-bind", "127.0.0.1:0"])
    assert result.exit_code == 1
    assert result.output == "Error: --p2p-bind: port must be 1..65535, got 0 in '127.0.0.1:0'\n"
    assert captured_run == []


def test_run_logs_to_the_log_file_as_well(datadir, tmp_path, captured_run):
    log_file = tmp_path / "logs" / "node.log"
    result = invoke_run(["--datadir", str(datadir), "--log-file", str(log_file),
                         "--log-level", "DEBUG"])
    assert result.exit_code == 0, result.output
    assert "fake node ran" in log_file.read_text()
    # The handlers are gone once run returns: nothing more reaches the file.
    logging.getLogger("minicash").info("after the run")
    assert "after the run" not in log_file.read_text()


def test_run_reports_an_unwritable_log_file(datadir, captured_run):
    blocker = datadir / "file"
    blocker.write_text("")
    result = invoke_run(["--datadir", str(datadir), "--log-file", str(blocker / "node.log")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot open log file {blocker / 'node.log'}: ")
    assert captured_run == []


def test_minicash_home_moves_every_default_datadir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    s = load_settings({}, {"MINICASH_HOME": str(tmp_path / "mh"), "MINICASH_NETWORK": "devnet"})
    assert s.datadir == tmp_path / "mh" / "devnet"
    assert load_settings({}, {}).datadir == tmp_path / "elsewhere" / ".minicash" / "regtest"
