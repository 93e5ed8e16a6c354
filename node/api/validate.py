"""Parsing and validating path and query parameters: every failure is a 400 with a reason."""

from __future__ import annotations

from node.consensus.address import address_to_script
from node.consensus.errors import DecodeError
from node.consensus.params import Params

from .errors import bad_request

_HEX = frozenset("0123456789abcdefABCDEF")
MAX_HEIGHT = 0x7FFFFFFF


def hash_param(value: str, what: str = "hash") -> bytes:
    """A 64-hex-character hash in display order -> internal-order bytes."""
    if len(value) != 64 or not _HEX.issuperset(value):
        raise bad_request(f"invalid {what}: expected 64 hex characters")
    return bytes.fromhex(value)[::-1]


def int_param(value: str, what: str, low: int = 0, high: int = MAX_HEIGHT) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise bad_request(f"invalid {what}: expected a whole number")
    n = int(value)
    if not low <= n <= high:
        raise bad_request(f"invalid {what}: must be between {low} and {high}")
    return n


def hex_body(text: str, what: str = "transaction") -> bytes:
    text = text.strip()
    if not text or len(text) % 2 or not _HEX.issuperset(text):
        raise bad_request(f"invalid {what} hex")
    return bytes.fromhex(text)


def address_param(value: str, params: Params) -> bytes:
    try:
        return address_to_script(value, params)
    except DecodeError as e:
        raise bad_request(f"invalid address: {e}") from None
