"""The command-line entry points."""

import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner, Result

from node.app import NodeConfig, api_location, miner_script
from node.cli import _print_welcome
from node.cli import main as node_main
from node.client import NodeClient
from node.config import load_settings
from node.consensus.params import get_params
from node.cookie import write_cookie
from node.netutil import HostPort, connect_url
from wallet.cli import main as wallet_main

from .ports import free_port


def test_node_info_shows_the_genesis_built_from_parameters():
    result = CliRunner().invoke(node_main, ["info", "--network", "regtest"])
    assert result.exit_code == 0, result.output
    assert "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206" in result.output
    assert "matches the published hash" in result.output
    assert "fabfb5da" in result.output


def test_node_info_rejects_an_unknown_network_in_one_line():
    result = CliRunner().invoke(node_main, ["info", "--network", "moon"])
    assert result.exit_code == 2
    assert "Invalid value for '--network'" in result.output


def test_python_dash_m_entry_points_run():
    for module in ("node", "wallet"):
        out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                             text=True, timeout=60, check=True).stdout
        assert "0.1.0" in out


def test_wallet_group_has_help():
    result = CliRunner().invoke(wallet_main, ["--help"])
    assert result.exit_code == 0


def _one_line_error(result: Result, prefix: str, fragment: str = "") -> None:
    """The command failed with exit status 1 and one line of output, not a traceback: a line
    that starts with ``prefix`` and holds ``fragment``."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    [line] = result.output.strip().splitlines()
    assert line.startswith(prefix) and fragment in line, line


@pytest.mark.parametrize(("url", "why"), [
    ("foo", "expected an http:// or https:// URL"),
    ("http://h:abc", "Port could not be cast"),
    ("http://[::1", "Invalid IPv6 URL"),
    # The client appends each request's path to the URL: 'http://h/?x/node/info' and
    # 'http://h/#x/node/info' would ask for '/' instead.
    ("http://127.0.0.1:1/?x", "no query or fragment"),
    ("http://127.0.0.1:1/#x", "no query or fragment"),
])
def test_a_bad_node_url_is_one_line_not_a_traceback(url, why, tmp_path):
    result = CliRunner().invoke(node_main, ["status", "--rest", url, "--datadir", str(tmp_path)])
    _one_line_error(result, f"Error: bad node URL {url!r}: ", why)


# -- where the client commands find the node -------------------------------------------------------
@pytest.mark.parametrize(("bind", "url"), [
    (("127.0.0.1", 18443), "http://127.0.0.1:18443"),
    (("0.0.0.0", 5000), "http://127.0.0.1:5000"),  # a wildcard bind is reached on loopback
    (("::", 5000), "http://[::1]:5000"),
    (("::1", 5000), "http://[::1]:5000"),
    (("node.example", 5000), "http://node.example:5000"),
])
def test_the_client_url_of_a_rest_bind(bind, url):
    assert connect_url(bind) == url


@pytest.mark.parametrize(("bind", "logged"), [
    (("::1", 5000), "http://[::1]:5000"),
    (("::", 5000), "http://[::1]:5000, listening on [::]:5000"),
    (("0.0.0.0", 5000), "http://127.0.0.1:5000, listening on 0.0.0.0:5000"),
])
def test_the_api_location_the_node_logs(bind, logged):
    """The URL to open, and the bind too where they differ (a wildcard)."""
    assert api_location(HostPort(*bind)) == logged


def test_the_client_url_defaults_to_the_networks_rest_port(tmp_path):
    settings = load_settings({"datadir": tmp_path}, {})
    assert connect_url(settings.rest_bind) == "http://127.0.0.1:18443"
    settings = load_settings({"network": "devnet", "datadir": tmp_path}, {})
    assert connect_url(settings.rest_bind) == "http://127.0.0.1:28443"


def _tried(args: list[str], env: dict[str, str] | None = None) -> str:
    """The URL `status` tried: nothing listens on these tests' ports."""
    result = CliRunner().invoke(node_main, ["status", *args], env=env)
    assert result.exit_code == 1, result.output
    match = re.search(r"cannot reach the node at (\S+) ", result.output)
    assert match, result.output
    return match.group(1)


def test_client_commands_find_the_node_as_run_does_flag_then_env_then_config_file(
        tmp_path):
    file_port, env_port, flag_port, other_port = (free_port() for _ in range(4))
    (tmp_path / "minicash.toml").write_text(f'rest-bind = "127.0.0.1:{file_port}"\n')
    datadir = ["--datadir", str(tmp_path)]
    assert _tried(datadir) == f"http://127.0.0.1:{file_port}"
    assert _tried([*datadir, "--rest", f"http://127.0.0.1:{flag_port}"]) == \
        f"http://127.0.0.1:{flag_port}"
    assert _tried(datadir, {"MINICASH_REST_BIND": f"127.0.0.1:{env_port}"}) == \
        f"http://127.0.0.1:{env_port}"
    other = tmp_path / "other.toml"
    other.write_text(f'rest-bind = "0.0.0.0:{other_port}"\n')
    assert _tried([*datadir, "--config", str(other)]) == f"http://127.0.0.1:{other_port}"


# -- where the commands on a datadir find it ---------------------------------------------------------
@pytest.mark.parametrize("command", ["utxo-stats", "reindex-chainstate", "import"])
def test_datadir_commands_find_the_chain_as_run_does_flag_then_env_then_config_file(
        command, tmp_path, monkeypatch):
    # A default datadir under tmp_path, never the user's ~/.minicash.
    monkeypatch.setenv("MINICASH_HOME", str(tmp_path / "home"))
    empty_blk = tmp_path / "blk00000.dat"
    empty_blk.write_bytes(b"")
    devnet = get_params("devnet").genesis_hash_hex

    def opened(*args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
        """The genesis the command reports (which network's chain it opened) and the datadirs
        that hold a chain afterwards, relative to tmp_path."""
        files = [str(empty_blk)] if command == "import" else []
        result = CliRunner().invoke(node_main, [command, *files, *args], env=env)
        assert result.exit_code == 0, result.output
        [genesis] = re.findall(r"^(?:best block|tip) +([0-9a-f]{64})$", result.output, re.M)
        return genesis, sorted(str(d.parent.relative_to(tmp_path))
                               for d in tmp_path.rglob("chainstate"))

    # The default config file of a datadir given on the command line sets its network.
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "minicash.toml").write_text('network = "devnet"\n')
    assert opened("--datadir", str(tmp_path / "dev")) == (devnet, ["dev"])
    # MINICASH_NETWORK picks the network and so the default datadir.
    assert opened(env={"MINICASH_NETWORK": "devnet"}) == (devnet, ["dev", "home/devnet"])
    # A config file (from MINICASH_CONFIG) sets the datadir, relative to the file...
    (tmp_path / "node.toml").write_text('network = "devnet"\ndatadir = "from-file"\n')
    env = {"MINICASH_CONFIG": str(tmp_path / "node.toml")}
    assert opened(env=env) == (devnet, ["dev", "from-file", "home/devnet"])
    # ... MINICASH_DATADIR beats the file, and --datadir beats both.
    env["MINICASH_DATADIR"] = str(tmp_path / "from-env")
    assert opened(env=env)[1] == ["dev", "from-env", "from-file", "home/devnet"]
    assert opened("--datadir", str(tmp_path / "from-flag"), env=env)[1] == \
        ["dev", "from-env", "from-file", "from-flag", "home/devnet"]


# -- a bad setting in the config file -------------------------------------------------------------
@pytest.mark.parametrize(("command", "toml", "prefix", "fragment"), [
    ("status", 'rest-bind = "127.0.0.1:http"', "Error: 'rest-bind' in ", "bad port 'http'"),
    ("utxo-stats", 'network = "moon"', "Error: 'network' in ", "got 'moon'"),
], ids=["client command", "datadir command"])
def test_a_bad_setting_in_the_config_file_is_one_line(command, toml, prefix, fragment, tmp_path):
    (tmp_path / "minicash.toml").write_text(toml + "\n")
    result = CliRunner().invoke(node_main, [command, "--datadir", str(tmp_path)])
    _one_line_error(result, prefix, fragment)


# -- where `generate` pays -------------------------------------------------------------------------
FILE_ADDRESS = "bcrt1qzyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3lgth6c"
ENV_ADDRESS = "bcrt1qyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zs4w3j0"
FLAG_ADDRESS = "bcrt1qxvenxvenxvenxvenxvenxvenxvenxvenztev8a"


@pytest.fixture
def generated_to(monkeypatch, tmp_path):
    """Runs `generate 1` on a datadir with a cookie and returns the address it asked the node
    to pay; the request itself is recorded, not sent."""
    write_cookie(tmp_path)
    paid: list[str] = []

    def generate(_client: NodeClient, blocks: int, address: str) -> list[str]:
        paid.append(address)
        return ["00" * 32] * blocks

    monkeypatch.setattr(NodeClient, "generate", generate)

    def run(*args: str, env: dict[str, str] | None = None) -> str:
        result = CliRunner().invoke(node_main, ["generate", "1", "--datadir", str(tmp_path),
                                                *args], env=env)
        assert result.exit_code == 0, result.output
        return paid.pop()
    return run


def test_generate_pays_the_miner_address_of_the_nodes_config_file(tmp_path, generated_to):
    (tmp_path / "minicash.toml").write_text(f'miner-address = "{FILE_ADDRESS}"\n')
    assert generated_to() == FILE_ADDRESS


def test_generate_pays_address_flag_then_env_then_config_file(tmp_path, generated_to):
    (tmp_path / "minicash.toml").write_text(f'miner-address = "{FILE_ADDRESS}"\n')
    env = {"MINICASH_MINER_ADDRESS": ENV_ADDRESS}
    assert generated_to(env=env) == ENV_ADDRESS
    assert generated_to("--address", FLAG_ADDRESS, env=env) == FLAG_ADDRESS


def test_generate_without_a_miner_address_pays_the_nodes_miner_key(tmp_path, generated_to):
    _, key_address = miner_script(NodeConfig(get_params("regtest"), tmp_path))  # makes the key
    assert generated_to() == key_address


# -- the welcome banner of `run` -------------------------------------------------------------------
def _welcome(capsys, rest_address: tuple[str, int], datadir: Path = Path("/d"),
             config_file: Path | None = None, network: str = "regtest") -> str:
    """The banner `run` prints for a node whose API listens on ``rest_address``."""
    node = SimpleNamespace(rest_address=rest_address,
                           config=SimpleNamespace(params=get_params(network), datadir=datadir))
    _print_welcome(node, config_file)  # type: ignore[arg-type]  # reads only these attributes
    return capsys.readouterr().err


def _hints(text: str) -> list[str]:
    """The commands the banner suggests."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith("minicash-node")]


@pytest.mark.parametrize(("bound", "url"), [
    (("::1", 18443), "http://[::1]:18443"),
    (("0.0.0.0", 18443), "http://127.0.0.1:18443"),  # where it listens is not where to go
    (("::", 18443), "http://[::1]:18443"),
    (("127.0.0.1", 18443), "http://127.0.0.1:18443"),
])
def test_the_welcome_banner_shows_urls_a_browser_and_curl_can_open(capsys, bound, url):
    text = _welcome(capsys, bound)
    assert f"Explorer     {url}/ " in text
    assert f"curl {url}/api/blocks/tip/height" in text
    assert f"curl {url}/rest/chaininfo.json" in text
    assert f"API spec     {url}/openapi.json" in text
    assert text.count("http://") == text.count(url), text  # no other spelling anywhere


@pytest.mark.parametrize("node_home", [None, "node home"],
                         ids=["default home", "the node's MINICASH_HOME"])
def test_the_welcome_hints_leave_out_the_default_datadir_and_config_file(
        capsys, tmp_path, monkeypatch, node_home):
    # The default as a plain shell sees it: ~/.minicash. A datadir under the node's own
    # MINICASH_HOME is named, as the shell the hint is typed in need not have that variable.
    monkeypatch.setenv("HOME", str(tmp_path))
    home = tmp_path / ".minicash"
    if node_home is not None:
        home = tmp_path / node_home
        monkeypatch.setenv("MINICASH_HOME", str(home))

    def flag(datadir: Path) -> str:
        return "" if node_home is None else f" --datadir {shlex.quote(str(datadir))}"
    datadir = home / "regtest"
    text = _welcome(capsys, ("127.0.0.1", 18443), datadir, datadir / "minicash.toml")
    assert _hints(text) == [f"minicash-node status{flag(datadir)}",
                            f"minicash-node generate 10{flag(datadir)}"]
    devnet = home / "devnet"
    text = _welcome(capsys, ("127.0.0.1", 28443), devnet, network="devnet")
    assert _hints(text) == [f"minicash-node status --network devnet{flag(devnet)}",
                            f"minicash-node generate 10 --network devnet{flag(devnet)}"]


def test_the_welcome_hints_name_another_datadir_and_config_file_quoted_for_the_shell(
        capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICASH_HOME", str(tmp_path / "home"))
    datadir, config = tmp_path / "my node", tmp_path / "it's.toml"
    config.write_text("")  # the banner reads it: a rest-bind there would be found without --rest
    text = _welcome(capsys, ("127.0.0.1", 18443), datadir, config)
    flags = f"--datadir '{datadir}' --config '{tmp_path}/it'\"'\"'s.toml'"
    assert _hints(text) == [f"minicash-node status {flags}",
                            f"minicash-node generate 10 {flags}"]
    # The shell gives the client command the node's own datadir and file.
    assert shlex.split(_hints(text)[0])[2:] == ["--datadir", str(datadir),
                                                "--config", str(config)]
    # A config file in the datadir is found without --config; a relative datadir is made
    # absolute, for a shell started elsewhere.
    monkeypatch.chdir(tmp_path)
    text = _welcome(capsys, ("127.0.0.1", 18443), Path("my node"),
                    Path("my node") / "minicash.toml")
    assert _hints(text)[0] == f"minicash-node status --datadir '{datadir}'"


def test_the_welcome_hints_give_the_api_url_where_the_settings_would_not_find_it(
        capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    datadir = tmp_path / ".minicash" / "regtest"
    datadir.mkdir(parents=True)
    # Bound elsewhere than the network's default (run's --rest-bind or MINICASH_REST_BIND,
    # which the shell the hint is typed in may not have): the URL it answers on, quoted.
    text = _welcome(capsys, ("::1", 5000), datadir)
    assert _hints(text) == ["minicash-node status --rest 'http://[::1]:5000'",
                            "minicash-node generate 10 --rest 'http://[::1]:5000'"]
    # The rest-bind of the config file the hint leads to is found without --rest...
    (datadir / "minicash.toml").write_text('rest-bind = "[::]:5000"\n')
    text = _welcome(capsys, ("::", 5000), datadir, datadir / "minicash.toml")
    assert _hints(text)[0] == "minicash-node status"
    # ... unless the node listens elsewhere (a flag or the environment beat the file).
    text = _welcome(capsys, ("127.0.0.1", 5001), datadir, datadir / "minicash.toml")
    assert _hints(text)[0] == "minicash-node status --rest http://127.0.0.1:5001"


@pytest.mark.parametrize("seconds", ["-1", "nan", "inf", "86401"])
def test_mining_refuses_an_interval_the_node_would_refuse_before_asking_it(seconds, tmp_path):
    result = CliRunner().invoke(node_main, ["mining", "on", "--interval", seconds,
                                            "--datadir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a number of seconds from 0 to 86400" in result.output, result.output
