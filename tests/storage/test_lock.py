"""One node per datadir: the lock, tested against real second processes."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from node.storage.errors import DatadirInUse, StorageError
from node.storage.lock import DatadirLock

REPO = Path(__file__).resolve().parents[2]

# A second process that takes the lock, says so, and holds it until its stdin closes.
HOLDER = textwrap.dedent("""
    import sys
    from node.storage.lock import DatadirLock
    lock = DatadirLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()
    lock.release()
""")


@pytest.fixture
def holder(tmp_path):
    """Start a process holding the lock on tmp_path/"data"; yields (datadir, process)."""
    datadir = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(datadir)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield datadir, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdin.close()
        proc.stdout.close()


def test_lock_held_by_another_process_names_its_pid(holder):
    datadir, proc = holder
    with pytest.raises(DatadirInUse) as err:
        DatadirLock(datadir).acquire()
    assert err.value.pid == proc.pid
    assert str(err.value) == f"datadir is in use by process {proc.pid}"
    assert isinstance(err.value, StorageError)


def test_lock_is_free_once_the_holder_exits(holder):
    datadir, proc = holder
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    with DatadirLock(datadir) as lock:
        assert lock.held
        assert lock.path.read_text() == f"{os.getpid()}\n"


def test_lock_is_free_once_the_holder_is_killed(holder):
    datadir, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # The killed holder's pid is still in the file; the kernel dropped its lock anyway.
    assert (datadir / ".lock").read_text() == f"{proc.pid}\n"
    with DatadirLock(datadir) as lock:
        assert lock.held


def test_second_lock_in_the_same_process_is_refused(tmp_path):
    with DatadirLock(tmp_path):
        with pytest.raises(DatadirInUse, match=f"^datadir is in use by process {os.getpid()}$"):
            DatadirLock(tmp_path).acquire()


def test_unreadable_pid_says_another_process(tmp_path):
    path = tmp_path / ".lock"
    path.write_text("not a pid")
    with open(path, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(DatadirInUse) as err:
            DatadirLock(tmp_path).acquire()
    assert err.value.pid is None
    assert str(err.value) == "datadir is in use by another process"


def test_release_lets_the_next_one_in_and_is_idempotent(tmp_path):
    first = DatadirLock(tmp_path / "new")  # the datadir is created
    first.acquire()
    first.acquire()  # already held: no-op
    first.release()
    first.release()
    assert not first.held
    with DatadirLock(tmp_path / "new") as second:
        assert second.held


def test_uncreatable_lock_file_is_a_storage_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match="cannot create the lock file"):
        DatadirLock(tmp_path / "file").acquire()
