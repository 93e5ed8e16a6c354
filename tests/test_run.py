"""`minicash-node run`: a real process that mines, stops cleanly on a signal, and restarts."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import urllib.request

import pytest
from click.testing import CliRunner

from node.cli import main

from .node_process import start_node, wait_for_lines
from .ports import free_port


def test_run_mines_stops_on_sigterm_and_resumes(tmp_path):
    datadir = tmp_path / "n"
    proc = start_node(datadir, "--mine", "--mine-interval", "0.1", "--mining-workers", "1")
    try:
        wait_for_lines(proc, "mined block", 3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (datadir / "mempool.dat").exists()
    assert (datadir / "miner.key").stat().st_mode & 0o777 == 0o600
    stats = CliRunner().invoke(main, ["utxo-stats", "--datadir", str(datadir)])
    height = int(stats.output.splitlines()[1].split()[1])
    assert height >= 3

    # A restart continues the same chain, mining to the same key.
    proc = start_node(datadir, "--mine", "--mine-interval", "0.1", "--mining-workers", "1")
    try:
        line = wait_for_lines(proc, "mined block", 1)[0]
        assert f"mined block {height + 1} " in line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)


def test_run_refuses_mining_on_mainnet_and_bad_addresses(tmp_path):
    result = CliRunner().invoke(main, ["run", "--network", "main", "--mine",
                                       "--datadir", str(tmp_path / "m")])
    assert result.exit_code == 1 and "--mine is for regtest and devnet" in result.output
    result = CliRunner().invoke(main, ["run", "--mine", "--miner-address",
                                       "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                                       "--datadir", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "--miner-address: address is for network 'main', not 'regtest'" in result.output


def test_running_node_serves_the_api_and_stops_on_request(tmp_path):
    import json
    import urllib.request

    datadir = tmp_path / "n"
    port = free_port()
    proc = start_node(datadir, "--mine", "--mine-interval", "0.1", "--mining-workers", "1",
                      rest_bind=f"127.0.0.1:{port}")
    try:
        wait_for_lines(proc, "REST API on", 1)
        wait_for_lines(proc, "mined block", 2)
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/api/blocks/tip/height", timeout=10) as r:
            assert int(r.read()) >= 2
        with urllib.request.urlopen(f"{base}/node/info", timeout=10) as r:
            info = json.loads(r.read())
        assert info["network"] == "regtest" and info["mining"]["enabled"]
        assert info["mempool"] == {"count": 0, "vsize": 0}  # empty, not missing
        token = (datadir / ".cookie").read_text().strip()
        req = urllib.request.Request(f"{base}/node/stop", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read()) == {"stopping": True}
        assert proc.wait(timeout=20) == 0
        assert not (datadir / ".cookie").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_run_logs_an_api_url_that_opens_for_an_ipv6_rest_bind(tmp_path):
    """Not http://::1:port. (A wildcard bind's line is node.app.api_location's, tested with
    the client URLs: binding one here would listen beyond loopback.)"""
    port = free_port("::1")
    proc = start_node(tmp_path / "n", "--no-listen", rest_bind=f"[::1]:{port}")
    try:
        (line,) = wait_for_lines(proc, "REST API on", 1)
        assert f"REST API on http://[::1]:{port} (Esplora API" in line, line
        with urllib.request.urlopen(f"http://[::1]:{port}/node/info", timeout=10) as r:
            assert json.loads(r.read())["network"] == "regtest"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_client_subcommands_talk_to_a_running_node(tmp_path):
    datadir = tmp_path / "n"
    port = free_port()
    proc = start_node(datadir, "--mining-workers", "1", rest_bind=f"127.0.0.1:{port}")
    rest = ["--rest", f"http://127.0.0.1:{port}", "--datadir", str(datadir)]
    try:
        wait_for_lines(proc, "REST API on", 1)
        runner = CliRunner()
        status = runner.invoke(main, ["status", *rest])
        assert status.exit_code == 0 and "height   0" in status.output
        assert "mining   off" in status.output
        # No miner key yet (not mining): the address must be given.
        no_key = runner.invoke(main, ["generate", "2", *rest])
        assert no_key.exit_code == 1 and "give --address" in no_key.output
        address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
        generated = runner.invoke(main, ["generate", "2", "--address", address, *rest])
        assert generated.exit_code == 0, generated.output
        assert len(generated.output.split()) == 2
        assert "height   2" in runner.invoke(main, ["status", *rest]).output
        assert runner.invoke(main, ["peers", *rest]).output.strip() == "no peers"

        # The miner switched on, off, and on again with the settings it had.
        on = runner.invoke(main, ["mining", "on", "--address", address, "--interval", "0.1",
                                  *rest])
        assert on.exit_code == 0, on.output
        assert on.output == f"mining on: a block every 0.1 s, paying {address}\n"
        wait_for_lines(proc, "mined block", 2)
        off = runner.invoke(main, ["mining", "off", *rest])
        assert off.exit_code == 0, off.output
        found = int(re.fullmatch(r"mining off \((\d+) blocks found\)\n", off.output)[1])
        assert found >= 2
        assert "mining   off" in runner.invoke(main, ["status", *rest]).output
        again = runner.invoke(main, ["mining", "on", *rest])
        assert again.output == f"mining on: a block every 0.1 s, paying {address}\n"
        info = json.loads(runner.invoke(main, ["status", "--json", *rest]).output)
        assert info["mining"]["enabled"] and info["mining"]["blocks_found"] >= found
        bad = runner.invoke(main, ["mining", "on", "--address", "bc1qw508d6qejxtdg4y5r3zarvary0"
                                   "c5xw7kv8f3t4", *rest])
        assert bad.exit_code == 1
        assert bad.output.startswith("Error: ") and "not 'regtest'" in bad.output, bad.output

        stopped = runner.invoke(main, ["stop", *rest])
        assert stopped.exit_code == 0 and "node stopping" in stopped.output
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # With the node gone: one clear line, non-zero exit.
    gone = CliRunner().invoke(main, ["status", *rest])
    assert gone.exit_code == 1 and "cannot reach the node" in gone.output


@pytest.mark.parametrize("rest_from", ["config file", "--rest-bind", "--rest-bind [::1]",
                                       "MINICASH_REST_BIND"])
def test_the_welcome_banners_status_hint_talks_to_the_node_it_was_printed_by(
        tmp_path, rest_from):
    """A datadir and config file elsewhere than the defaults, the API bound by the config
    file, a flag or the node's environment: the hinted command, typed as printed in a shell
    without the node's environment, finds the node's settings and reaches it."""
    datadir, config = tmp_path / "my node", tmp_path / "my settings.toml"
    host = "::1" if "[::1]" in rest_from else "127.0.0.1"
    bind = f"{'[::1]' if host == '::1' else host}:{free_port(host)}"
    config.write_text(f'rest-bind = "{bind}"\n' if rest_from == "config file" else "")
    env = {"MINICASH_REST_BIND": bind} if rest_from == "MINICASH_REST_BIND" else {}
    proc = start_node(datadir, "--config", str(config), "--no-listen",
                      rest_bind=bind if rest_from.startswith("--rest-bind") else None, env=env)
    try:
        (line,) = wait_for_lines(proc, "REST API on", 1)
        assert f"REST API on http://{bind} " in line, line  # where the setting says
        (hint,) = wait_for_lines(proc, "minicash-node status", 1)
        command = shlex.split(hint)
        assert command[0] == "minicash-node", hint
        status = CliRunner().invoke(main, command[1:])
        assert status.exit_code == 0 and "height   0" in status.output, (hint, status.output)
        stopped = CliRunner().invoke(main, ["stop", *command[2:]])
        assert stopped.exit_code == 0 and "node stopping" in stopped.output, stopped.output
        assert proc.wait(timeout=20) == 0
        # --rest only where the settings the hint gives do not lead to the API.
        assert ("--rest" in command) == (rest_from != "config file"), hint
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("taken", ["rest", "p2p"])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_run_with_a_port_in_use_exits_with_one_line(tmp_path, taken, host):
    """A REST or P2P port another process holds: one line naming the address (IPv6
    bracketed) and a non-zero exit, not a traceback; the datadir is left unlocked."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        holder = socket.socket(family, socket.SOCK_STREAM)
        holder.bind((host, 0))
    except OSError:
        pytest.skip(f"no {host} on this machine")
    holder.listen()
    port = holder.getsockname()[1]
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # start_node puts the other of the two on a free port (a --p2p-bind in args wins).
    if taken == "rest":
        proc = start_node(tmp_path / "n", rest_bind=shown)
    else:
        proc = start_node(tmp_path / "n", "--p2p-bind", shown)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
    what = "serve the REST API" if taken == "rest" else "listen for peers"
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: cannot {what} on {shown}: Address already in use"]
    stats = CliRunner().invoke(main, ["utxo-stats", "--datadir", str(tmp_path / "n")])
    assert stats.exit_code == 0, stats.output  # the lock went with the process
