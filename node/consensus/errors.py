"""Error types raised by consensus code.

Every decoder raises :class:`DecodeError`; rule checks raise :class:`ValidationError` carrying
Bitcoin Core's reject-reason string so callers (mempool, P2P, API) can report it verbatim.
"""

from __future__ import annotations


class MinicashError(Exception):
    """Base of every error minicash raises on purpose."""


class DecodeError(MinicashError, ValueError):
    """Bytes or text that do not decode to the object asked for (truncated, malformed, too big)."""


class ValidationError(MinicashError):
    """A consensus or policy rule was broken. ``reason`` is Bitcoin Core's reject reason."""

    def __init__(self, reason: str, debug: str = "") -> None:
        super().__init__(f"{reason} ({debug})" if debug else reason)
        self.reason = reason
        self.debug = debug
