"""One node per datadir: an exclusive advisory lock on ``<datadir>/.lock``.

The lock is ``flock(2)`` on an open file, so the kernel drops it when the holder exits for any
reason, ``kill -9`` included: a stale lock file never blocks a restart. The holder writes its pid
into the file so that the next process can say who is in the way. Core's equivalent is the
``.lock`` file in its datadir (``LockDirectory``).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from .errors import DatadirInUse, StorageError

LOCK_FILE_NAME = ".lock"


class DatadirLock:
    """An exclusive lock on a datadir, held from :meth:`acquire` until :meth:`release`.

    Usable as a context manager. Locks are per open file, so a second ``DatadirLock`` on the
    same datadir fails even inside the process that holds the first.
    """

    __slots__ = ("datadir", "path", "_fd")

    def __init__(self, datadir: Path) -> None:
        self.datadir = Path(datadir)
        self.path = self.datadir / LOCK_FILE_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (creating the datadir if needed); :class:`DatadirInUse` if it is taken."""
        if self._fd is not None:
            return
        try:
            self.datadir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: "
                               f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DatadirInUse(pid) from None
            raise StorageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot write to the lock file {self.path}: "
                               f"{exc.strerror or exc}") from exc
        self._fd = fd

    def release(self) -> None:
        """Give the lock up. The file stays (removing it would race with a new holder)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the pid is only informative; the lock goes with the descriptor below
        os.close(fd)

    def __enter__(self) -> DatadirLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"DatadirLock({str(self.datadir)!r}, held={self.held})"


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote into the lock file, or None if there is none to read."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isascii() and text.isdigit() else None
