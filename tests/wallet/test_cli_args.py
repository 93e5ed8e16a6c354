"""The paying commands check their arguments before asking the node anything: these run with
no node at all (a port nothing listens on)."""

from __future__ import annotations

import shlex
import urllib.request

import pytest
from click.testing import CliRunner

from node.consensus.address import p2wpkh_script, script_to_address
from node.consensus.params import REGTEST
from wallet import esplora
from wallet.cli import main
from wallet.esplora import check_url

from ..ports import free_port
from .mnemonics import ABANDON

PAYEE = script_to_address(p2wpkh_script(bytes(range(20))), REGTEST)


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()
    env = {"MINICASH_HOME": str(tmp_path / "home"),
           "MINICASH_WALLET_NODE": f"http://127.0.0.1:{free_port()}/api"}
    assert runner.invoke(main, ["create", "--name", "w", "--no-password"],
                         env=env).exit_code == 0
    return lambda *args: runner.invoke(main, [*args, "--name", "w"], env=env)


@pytest.fixture
def offline(monkeypatch):
    """Fails the test if anything asks the network."""
    def urlopen(*args, **kwargs):
        raise AssertionError("the node was contacted")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


BAD_NODE_URLS = {"foo": "http:// or https://", "http://h:abc": "abc",
                 "http://[::1": "IPv6", "http:///api": "no host",
                 "http://h h/api": "space",
                 # Each once failed only when requested (and restore left the wallet behind).
                 f"http://{'a' * 64}.lan/api": "idna",  # a label over 63 characters
                 "http://127.0.0.1:1/é": "non-ASCII character in its path",
                 "http://127.0.0.1:1/api?x=é": "no query or fragment",
                 "http://127.0.0.1:1/api?": "no query or fragment",
                 "http://127.0.0.1:1/api#top": "no query or fragment",
                 "http://ё.lan/api": "give it as 'xn--61a.lan'"}


@pytest.mark.parametrize("url", BAD_NODE_URLS)
@pytest.mark.parametrize("command", [["sync"], ["send", PAYEE, "1000sat", "--yes",
                                                "--fee-rate", "1"]])
def test_a_bad_node_url_is_one_line_naming_it(run, offline, command, url):
    result = run(*command, "--node", url)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: bad node URL {url!r}: ")
    assert BAD_NODE_URLS[url] in line


@pytest.mark.parametrize("url", ["http://h:abc", f"http://{'a' * 64}.lan/api",
                                 "http://127.0.0.1:1/é"], ids=["port", "idna", "non-ascii"])
def test_restore_refuses_a_bad_node_url_before_writing_the_wallet(tmp_path, offline, url):
    home = tmp_path / "home"
    runner, env = CliRunner(), {"MINICASH_HOME": str(home)}
    result = runner.invoke(main, ["restore", "--name", "r", "--no-password", "--node", url,
                                  "--mnemonic", ABANDON], env=env)
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: bad node URL {url!r}: "), line
    assert not list(home.glob("**/r"))
    assert runner.invoke(main, ["list"], env=env).output == "no wallets on regtest\n"


# The backstop for a URL check_url lets through but the request cannot send: the wallet is
# kept as when the node is down, and the command named asks for another URL.
def test_restore_keeps_the_wallet_when_the_node_url_fails_only_when_requested(
        tmp_path, monkeypatch):
    monkeypatch.setattr(esplora, "check_url", lambda url: None)
    env = {"MINICASH_HOME": str(tmp_path / "home")}
    url = f"http://127.0.0.1:{free_port()}/é"  # the request line cannot be encoded
    runner = CliRunner()
    result = runner.invoke(main, ["restore", "--name", "r", "--no-password", "--node", url,
                                  "--mnemonic", ABANDON], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    [line] = result.stderr.splitlines()
    wallet_dir = tmp_path / "home" / "wallets" / "regtest" / "r"
    assert line.startswith(f"error: wallet 'r' restored in {wallet_dir} but not rescanned "
                           f"(bad node URL {url!r}: "), line
    assert line.endswith("; `minicash-wallet sync --name r --network regtest --node URL` "
                         "rescans it"), line
    assert runner.invoke(main, ["list"], env=env).output == "r\n"


# Once left the wallet behind with only "cannot reach the node": a second restore then met
# "already exists", and nothing said whether the first had restored anything.
@pytest.mark.parametrize("network", ["regtest", "devnet"])
def test_restore_with_the_node_down_keeps_the_wallet_and_names_the_rescan(tmp_path, network):
    env = {"MINICASH_HOME": str(tmp_path / "home")}
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    runner = CliRunner()
    result = runner.invoke(main, ["restore", "--name", "r", "--network", network,
                                  "--no-password", "--node", url, "--mnemonic", ABANDON],
                           env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    [line] = result.stderr.splitlines()
    wallet_dir = tmp_path / "home" / "wallets" / network / "r"
    rescan = f"minicash-wallet sync --name r --network {network} --node {url}"
    assert line.startswith(f"error: wallet 'r' restored in {wallet_dir} but not rescanned "
                           f"(cannot reach the node at {url}: "), line
    assert line.endswith(f"; `{rescan}` rescans it"), line
    assert runner.invoke(main, ["list", "--network", network], env=env).output == "r\n"
    # The command named finds the wallet and rescans it (here: the node is still down).
    again = runner.invoke(main, shlex.split(rescan)[1:], env=env)
    assert again.exit_code == 1
    assert again.stderr.startswith(f"error: cannot reach the node at {url}: "), again.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:3002/api", "https://mempool.space/api/",
                                 "http://[::1]:3002/api", "HTTP://node.lan/api"])
def test_a_good_node_url_passes_the_check(url):
    check_url(url)


@pytest.mark.parametrize("command", [["send", PAYEE, "1000sat", "--yes"],
                                     ["psbt", "create", PAYEE, "1000sat"],
                                     ["send-many", "PAYMENTS", "--yes"]])
def test_fee_rate_and_target_together_are_refused(run, offline, tmp_path, command):
    csv = tmp_path / "pay.csv"
    csv.write_text(f"{PAYEE},1000sat\n")
    result = run(*[str(csv) if a == "PAYMENTS" else a for a in command],
                 "--fee-rate", "2", "--target", "3")
    assert result.exit_code == 2 and "give --fee-rate or --target, not both" in result.output


@pytest.mark.parametrize("command", [["send", "--yes"], ["psbt", "create"]])
def test_a_bad_address_is_named_before_the_node_is_asked(run, offline, command):
    result = run(*command, "bcrt1qnotanaddress", "1000sat", "--fee-rate", "1")
    assert result.exit_code == 1, result.output
    assert "address" in result.stderr.lower() and "reach" not in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1


# Not a number, not positive, below Core's minimum relay rate, above the wallet's ceiling.
BAD_FEE_RATES = ["abc", "nan", "-1", "0", "0.5", "100001"]


@pytest.mark.parametrize("rate", BAD_FEE_RATES)
@pytest.mark.parametrize("command", [["send", PAYEE, "1000sat", "--yes"],
                                     ["psbt", "create", PAYEE, "1000sat"],
                                     ["send-many", "PAYMENTS", "--yes"],
                                     ["bump-fee", "ab" * 32, "--yes"]])
def test_a_bad_fee_rate_is_refused_before_the_node_is_asked(run, offline, tmp_path, command,
                                                          rate):
    csv = tmp_path / "pay.csv"
    csv.write_text(f"{PAYEE},1000sat\n")
    result = run(*[str(csv) if a == "PAYMENTS" else a for a in command], "--fee-rate", rate)
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert "fee rate" in line and "reach" not in line
