"""The regtest command line refuses impossible numbers up front, with click's usage error, and
reports any other error in one line."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner, Result

from node.p2p.connman import MAX_INBOUND
from regtest import control, wallets
from regtest.cli import main
from regtest.control import ControlError
from regtest.state import NetState, NodeState


@pytest.fixture
def net(tmp_path):
    """A network of one stopped node whose log holds three lines; no process is started."""
    state = NetState(tmp_path, "regtest", [NodeState("node0", "127.0.0.2", 18444, 18443)])
    state.save()
    log = state.log_path(state.nodes[0])
    log.parent.mkdir()
    log.write_text("one\ntwo\nthree\n")
    return tmp_path


def _one_line_error(result: Result, expected: str) -> None:
    """The command failed with ``expected`` on stderr, nothing on stdout and exit status 1: an
    error it reported, not a traceback."""
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == expected


# NaN and infinity reached time.sleep once (a ValueError or OverflowError traceback).
@pytest.mark.parametrize("seconds", ["-1", "0", "0.01", "nan", "inf", "1e300", "86401"])
def test_status_watch_needs_an_interval_from_a_tenth_of_a_second_to_a_day(net, seconds,
                                                                         monkeypatch):
    def interrupt(_seconds):  # a watch that did start stops at its first wait, as on Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr("regtest.cli.time.sleep", interrupt)
    result = CliRunner().invoke(main, ["status", "--watch", seconds, "--dir", str(net)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--watch'" in result.output
    assert "from 0.1 to 86400" in result.output


def test_status_help_gives_the_watch_intervals_bounds():
    result = CliRunner().invoke(main, ["status", "--help"])
    assert result.exit_code == 0, result.output
    assert "Refresh every SECONDS (0.1 to 86400) until Ctrl-C." in " ".join(result.output.split())


@pytest.mark.parametrize("seconds", ["86401", "1e9", "-1", "nan", "inf"])
def test_up_refuses_a_mining_interval_the_node_would_refuse(tmp_path, no_start, seconds):
    result = CliRunner().invoke(main, ["up", "--interval", seconds, "--dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--interval'" in result.output
    assert "from 0 to 86400" in result.output
    assert not NetState.exists(tmp_path)


@pytest.mark.parametrize("seconds", ["0", "86400"])
def test_up_takes_a_mining_interval_within_the_nodes_bounds(tmp_path, no_start, seconds):
    result = CliRunner().invoke(main, ["up", "--interval", seconds, "--dir", str(tmp_path)])
    assert result.stderr == "error: no node is started in this test\n"


@pytest.mark.parametrize("how", ["flags", "file"])
def test_up_refuses_a_node_with_more_inbound_links_than_it_accepts_before_starting_any(
        tmp_path, no_start, how):
    if how == "flags":
        args = ["--nodes", str(MAX_INBOUND + 2), "--topology", "star"]
    else:
        spec = tmp_path / "network.toml"
        spec.write_text('topology = "full"\n' + "".join(
            f'[[node]]\nname = "n{i}"\n' for i in range(MAX_INBOUND + 2)))
        args = ["--file", str(spec)]
    root = tmp_path / "net"
    result = CliRunner().invoke(main, ["up", *args, "--dir", str(root)])
    first = "node0" if how == "flags" else "n0"
    _one_line_error(result, f"error: node {first} would need {MAX_INBOUND + 1} inbound links, "
                            f"more than the {MAX_INBOUND} inbound peers a node accepts\n")
    assert not root.exists()


@pytest.mark.parametrize("lines", ["0", "-1"])
def test_logs_needs_at_least_one_line(net, lines):
    result = CliRunner().invoke(main, ["logs", "node0", "-n", lines, "--dir", str(net)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--lines'" in result.output


def test_logs_prints_the_last_n_lines(net):
    result = CliRunner().invoke(main, ["logs", "node0", "-n", "2", "--dir", str(net)])
    assert result.exit_code == 0, result.output
    assert result.output == "two\nthree\n"


def test_logs_follow_of_a_node_without_a_log_is_a_one_line_error(net):
    state = NetState.load(net)
    log = state.log_path(state.nodes[0])
    log.unlink()
    result = CliRunner().invoke(main, ["logs", "node0", "-f", "--dir", str(net)])
    _one_line_error(result, f"error: cannot follow node0's log {log}: No such file or directory\n")


def test_logs_follow_prints_the_last_lines_then_what_is_appended(net, monkeypatch):
    state = NetState.load(net)
    log = state.log_path(state.nodes[0])

    def append_then_interrupt(_seconds):  # the node writes a line; then the user presses Ctrl-C
        if "four" in log.read_text():
            raise KeyboardInterrupt
        with open(log, "a") as f:
            f.write("four\n")

    monkeypatch.setattr("regtest.cli.time.sleep", append_then_interrupt)
    result = CliRunner().invoke(main, ["logs", "node0", "-n", "1", "-f", "--dir", str(net)])
    assert result.exit_code == 0, result.output
    assert result.output == "three\nfour\n"


def test_logs_follow_loses_no_line_written_while_the_last_lines_are_shown(net, monkeypatch):
    state = NetState.load(net)
    log = state.log_path(state.nodes[0])
    echo = click.echo
    written = []

    def echo_while_the_node_writes(message=None, *args, **kwargs):
        echo(message, *args, **kwargs)
        if not written:  # the node logs a line just as the last lines are shown
            written.append(True)
            with open(log, "a") as f:
                f.write("late\n")

    def interrupt(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(click, "echo", echo_while_the_node_writes)
    monkeypatch.setattr("regtest.cli.time.sleep", interrupt)
    result = CliRunner().invoke(main, ["logs", "node0", "-n", "1", "-f", "--dir", str(net)])
    assert result.exit_code == 0, result.output
    assert result.output == "three\nlate\n"


# -- errors: one line on stderr, exit status 1, never a traceback ---------------------------------
@pytest.mark.parametrize("args", [
    ["down"], ["stop", "node0"], ["start", "node0"], ["status"], ["status", "--watch", "1"],
    ["logs", "node0"], ["logs", "node0", "-f"], ["balances"], ["mine", "1"],
    ["send", "--from", "0", "--to", "1", "1"], ["partition", "0|1"], ["heal"],
], ids=" ".join)
def test_a_command_on_a_directory_without_a_network_is_a_one_line_error(tmp_path, args):
    result = CliRunner().invoke(main, [*args, "--dir", str(tmp_path)])
    _one_line_error(result, f"error: no network in {tmp_path}: start one with "
                            f"`python -m regtest up`\n")


def test_an_error_from_a_node_is_a_one_line_error(net, monkeypatch):
    def refuse(*_args) -> list[str]:
        raise ControlError("node0 refused to mine")

    monkeypatch.setattr(wallets, "receive_address", lambda *_args: "an address")
    monkeypatch.setattr(control, "mine", refuse)
    result = CliRunner().invoke(main, ["mine", "1", "--dir", str(net)])
    _one_line_error(result, "error: node0 refused to mine\n")


def test_status_watch_ends_quietly_on_ctrl_c(net, monkeypatch):
    def interrupt(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(control, "table", lambda _state: "the table")  # no node is asked
    monkeypatch.setattr("regtest.cli.time.sleep", interrupt)
    result = CliRunner().invoke(main, ["status", "--watch", "1", "--dir", str(net)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("the table\n") and result.stderr == ""
