"""The README is checked, not trusted: every command in its ``sh`` blocks runs here, in the
README's order, as a newcomer would type it, in a fresh home directory.

- ``make ...`` runs against this checkout (``make -C <repo>``) and ``.venv/`` means the
  checkout's; everything else runs in a scratch working directory.
- A command that starts a server (``make run``) goes to the background; the test waits until
  its API answers, and stops it with Ctrl-C (SIGINT) at the end, expecting a clean exit.
- ``<address>``, ``<txid>`` and ``<mnemonic>`` are filled in as a reader would: a fresh address
  of the wallet the README created, the last transaction id a command printed, that wallet's
  words.
- One command is not run, with the reason: ``make test`` is this very suite.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOT_RUN = {"make test": "this very suite (CI runs it)"}
SERVERS = ("make run",)
API = "http://127.0.0.1:18443"
PASSWORD = "readme-password"
TXID = re.compile(r"\b[0-9a-f]{64}\b")


def sh_commands() -> list[str]:
    """Every command line of the README's sh blocks, trailing comments removed."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.S | re.M):
        for line in block.splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_the_readme_has_commands_and_only_known_exceptions():
    commands = sh_commands()
    assert len(commands) > 20
    for skipped in NOT_RUN:
        assert skipped in commands, f"NOT_RUN lists {skipped!r}, which the README no longer shows"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Reader:
    """Types the README's commands into a shell, one by one."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.work = home / "work"
        self.work.mkdir(parents=True)
        venv_bin = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MINICASH_")}
        self.env.update(HOME=str(home), PATH=f"{venv_bin}:{os.environ.get('PATH', '')}",
                        MINICASH_WALLET_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
        self.servers: list[tuple[str, subprocess.Popen]] = []
        self.last_output = ""
        self.txid: str | None = None

    def wallet(self, *args: str) -> dict:
        out = subprocess.run([sys.executable, "-m", "wallet", *args, "--json"], env=self.env,
                             cwd=self.work, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def fill(self, command: str) -> str:
        if "<address>" in command:
            command = command.replace("<address>",
                                      self.wallet("receive", "--name", "alice")["address"])
        if "<txid>" in command:
            assert self.txid, f"{command!r} needs a txid, and no command printed one yet"
            command = command.replace("<txid>", self.txid)
        if "<mnemonic>" in command:
            command = command.replace("<mnemonic>",
                                      self.wallet("dump-mnemonic", "--name", "alice")["mnemonic"])
        command = re.sub(r"(^|\s)\.venv/", rf"\1{ROOT}/.venv/", command)
        return re.sub(r"^make\b", f"make -s -C {ROOT}", command)

    def run(self, command: str) -> None:
        line = self.fill(command)
        if command in SERVERS:
            log = open(self.home / f"server{len(self.servers)}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(["bash", "-c", f"exec {line}"], env=self.env, cwd=self.work,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            self.servers.append((command, proc))
            deadline = time.monotonic() + 180
            while not _answers(API + "/api/blocks/tip/height"):
                assert proc.poll() is None, f"{command!r} exited: {self._log(len(self.servers) - 1)}"
                assert time.monotonic() < deadline, f"{command!r} never answered on {API}"
                time.sleep(0.2)
            return
        proc = subprocess.run(["bash", "-c", line], env=self.env, cwd=self.work, input="y\n",
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (f"README command failed: {command}\n(ran: {line})\n"
                                      f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        self.last_output = proc.stdout
        found = TXID.findall(proc.stdout)
        if found and ("send" in command or "bump-fee" in command or "broadcast" in command):
            self.txid = found[-1]

    def _log(self, i: int) -> str:
        return (self.home / f"server{i}.log").read_text()[-3000:]

    def stop_servers(self) -> None:
        """Ctrl-C, as the README says; the node must then exit cleanly, which it shows by
        removing its cookie (``make`` itself may report the interrupt with its own code)."""
        cookie = self.home / ".minicash" / "regtest" / ".cookie"
        for command, proc in reversed(self.servers):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while cookie.exists() or _answers(API + "/api/blocks/tip/height"):
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    raise AssertionError(f"{command!r} did not stop cleanly on Ctrl-C")
                time.sleep(0.1)
            proc.wait(30)


@pytest.mark.skipif(not (ROOT / "Makefile").exists(), reason="needs the source checkout")
def test_every_readme_command_runs_in_order(tmp_path):
    if not _port_free(18443) or not _port_free(18444):
        if os.environ.get("CI"):
            pytest.fail("the README's node needs 127.0.0.1:18443 and 18444, which are taken")
        pytest.skip("a node already uses 127.0.0.1:18443/18444 (the README's default ports)")
    reader = Reader(tmp_path)
    ran = []
    try:
        for command in sh_commands():
            if command in NOT_RUN:
                continue
            reader.run(command)
            ran.append(command)
    finally:
        reader.stop_servers()
        subprocess.run([sys.executable, "-m", "regtest", "down", "--wipe"], env=reader.env,
                       cwd=reader.work, capture_output=True, timeout=120)
    assert len(ran) == len(sh_commands()) - len(NOT_RUN)
