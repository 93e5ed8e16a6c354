"""Cookie authentication for the admin API, as Bitcoin Core's ``.cookie`` file.

The running node writes a fresh random token to ``<datadir>/.cookie`` (mode 0600) on start and
removes it on stop; whoever can read the file may call the admin routes with
``Authorization: Bearer <token>``. The file holds the token alone, as hex, without a newline
(Core writes ``__cookie__:<hex>`` for HTTP basic auth; we use a bearer token, API.md).

Owns the file and the header check only; the HTTP server decides which routes need it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

COOKIE_FILE = ".cookie"
TOKEN_BYTES = 32


class CookieError(Exception):
    """The cookie file is missing or unusable; the message says which and where."""


def cookie_path(datadir: Path | str) -> Path:
    return Path(datadir) / COOKIE_FILE


def write_cookie(datadir: Path | str) -> str:
    """Write a new token to ``<datadir>/.cookie`` and return it.

    The token goes to a fresh file created 0600 with O_EXCL (never through an existing file or
    symlink), which then replaces any stale cookie in one rename: a reader sees the old token or
    the new one, never a partial file or one readable by others."""
    token = secrets.token_hex(TOKEN_BYTES)
    path = cookie_path(datadir)
    tmp = path.with_name(f"{COOKIE_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
            with os.fdopen(fd, "w", encoding="ascii") as f:
                fd = -1
                f.write(token)
                f.flush()
                os.fsync(f.fileno())
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return token


def read_cookie(datadir: Path | str) -> str:
    """The token in ``<datadir>/.cookie``; :class:`CookieError` when there is none."""
    path = cookie_path(datadir)
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise CookieError(f"no .cookie in {datadir}: is the node running?") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CookieError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    if not token:
        raise CookieError(f"{path} is empty")
    return token


def remove_cookie(datadir: Path | str, token: str) -> bool:
    """Remove ``<datadir>/.cookie`` if it still holds ``token`` (a newer node's cookie stays).
    Returns whether it was removed."""
    path = cookie_path(datadir)
    try:
        if path.read_text(encoding="ascii").strip() != token:
            return False
        path.unlink()
    except (OSError, UnicodeDecodeError):
        return False
    return True


def check_authorization(header_value: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``. The scheme is
    case-insensitive (RFC 7235); the token is compared in constant time."""
    if not header_value or not token:
        return False
    scheme, _, given = header_value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    given = given.strip()
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8", "replace"))
