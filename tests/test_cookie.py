"""The admin API's cookie: a fresh 0600 token file while the node runs, gone when it stops."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from node.cookie import (
    COOKIE_FILE,
    CookieError,
    check_authorization,
    read_cookie,
    remove_cookie,
    write_cookie,
)

from .node_process import start_node, wait_for_lines

HEX = set("0123456789abcdef")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_write_cookie_makes_a_0600_file_holding_a_fresh_token(tmp_path):
    token = write_cookie(tmp_path)
    path = tmp_path / COOKIE_FILE
    assert len(token) == 64 and set(token) <= HEX
    assert path.read_text() == token
    assert mode(path) == 0o600
    assert read_cookie(tmp_path) == token
    assert write_cookie(tmp_path) != token
    assert sorted(p.name for p in tmp_path.iterdir()) == [COOKIE_FILE]  # no temporary left


def test_write_cookie_is_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        write_cookie(tmp_path)
    finally:
        os.umask(old)
    assert mode(tmp_path / COOKIE_FILE) == 0o600


def test_write_cookie_replaces_a_stale_cookie_and_never_writes_through_a_symlink(tmp_path):
    path = tmp_path / COOKIE_FILE
    path.write_text("stale")
    path.chmod(0o644)
    token = write_cookie(tmp_path)
    assert path.read_text() == token and mode(path) == 0o600

    target = tmp_path / "precious"
    target.write_text("keep me")
    path.unlink()
    path.symlink_to(target)
    token = write_cookie(tmp_path)
    assert target.read_text() == "keep me"
    assert not path.is_symlink() and path.read_text() == token and mode(path) == 0o600


def test_read_cookie_without_a_cookie_says_whether_the_node_runs(tmp_path):
    with pytest.raises(CookieError) as e:
        read_cookie(tmp_path)
    assert str(e.value) == f"no .cookie in {tmp_path}: is the node running?"
    (tmp_path / COOKIE_FILE).write_text("\n")
    with pytest.raises(CookieError, match="is empty"):
        read_cookie(tmp_path)


def test_read_cookie_ignores_a_trailing_newline(tmp_path):
    (tmp_path / COOKIE_FILE).write_text("abc\n")
    assert read_cookie(tmp_path) == "abc"


def test_remove_cookie_only_removes_our_own(tmp_path):
    ours = write_cookie(tmp_path)
    assert remove_cookie(tmp_path, "someone else's") is False
    assert read_cookie(tmp_path) == ours
    assert remove_cookie(tmp_path, ours) is True
    assert not (tmp_path / COOKIE_FILE).exists()
    assert remove_cookie(tmp_path, ours) is False  # already gone: fine


TOKEN = "ab" * 32


@pytest.mark.parametrize("header, ok", [
    (f"Bearer {TOKEN}", True),
    (f"bearer {TOKEN}", True),  # the scheme is case-insensitive (RFC 7235)
    (f"  Bearer   {TOKEN}  ", True),
    (None, False),
    ("", False),
    ("Bearer", False),
    ("Bearer ", False),
    (TOKEN, False),
    (f"Basic {TOKEN}", False),
    (f"Bearer {TOKEN[:-1]}", False),
    (f"Bearer {TOKEN}0", False),
    (f"Bearer {TOKEN.upper()}", False),
    (f"Bearer {TOKEN} extra", False),
    ("Bearer \udcff\u00e9", False),  # not ASCII, not even encodable: no exception
])
def test_check_authorization(header, ok):
    assert check_authorization(header, TOKEN) is ok


def test_check_authorization_never_accepts_an_empty_token():
    assert check_authorization("Bearer ", "") is False
    assert check_authorization("Bearer x", "") is False


# -- a real node ---------------------------------------------------------------------------------

def test_running_node_holds_a_cookie_and_removes_it_on_sigterm(tmp_path):
    datadir = tmp_path / "n"
    datadir.mkdir()
    cookie = datadir / COOKIE_FILE
    cookie.write_text("stale cookie of a node that was killed")
    log_file = tmp_path / "logs" / "node.log"
    proc = start_node(datadir, "--no-listen", "--log-file", str(log_file))
    try:
        wait_for_lines(proc, "admin API cookie in", 1)
        token = cookie.read_text()
        assert len(token) == 64 and set(token) <= HEX
        assert mode(cookie) == 0o600
        assert read_cookie(datadir) == token
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
        assert proc.returncode == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not cookie.exists()
    logged = log_file.read_text()
    assert f"admin API cookie in {cookie}" in logged and "chain state flushed" in logged
