"""The command-line entry points."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from node.cli import main as node_main
from wallet.cli import main as wallet_main


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


@pytest.mark.parametrize("url", ["foo", "http://h:abc", "http://[::1"])
def test_a_bad_node_url_is_one_line_not_a_traceback(url, tmp_path):
    result = CliRunner().invoke(node_main, ["status", "--rest", url, "--datadir", str(tmp_path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: bad node URL {url} (")
