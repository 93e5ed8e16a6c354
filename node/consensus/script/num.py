"""Script numbers (Core's CScriptNum): little-endian sign-magnitude, at most 4 bytes as operands
(5 for CHECKLOCKTIMEVERIFY/CHECKSEQUENCEVERIFY), results may overflow to 5 bytes."""

from __future__ import annotations

from .errors import ScriptErr, ScriptError

DEFAULT_MAX_NUM_SIZE = 4


def decode_num(data: bytes, require_minimal: bool, max_size: int = DEFAULT_MAX_NUM_SIZE) -> int:
    """Decode an operand; raises SCRIPTNUM on overflow or (with MINIMALDATA) non-minimal form."""
    n = len(data)
    if n > max_size:
        raise ScriptError(ScriptErr.SCRIPTNUM)
    if n == 0:
        return 0
    last = data[-1]
    if require_minimal and last & 0x7F == 0:
        # The most significant byte may be 0x00/0x80 only to hold a sign bit the next byte needs.
        if n == 1 or data[-2] & 0x80 == 0:
            raise ScriptError(ScriptErr.SCRIPTNUM)
    if last & 0x80:
        return -int.from_bytes(data[:-1] + bytes((last & 0x7F,)), "little")
    return int.from_bytes(data, "little")


def encode_num(value: int) -> bytes:
    """Minimal encoding of ``value`` (Core's CScriptNum::serialize); zero is the empty string."""
    if value == 0:
        return b""
    neg = value < 0
    absv = -value if neg else value
    out = bytearray(absv.to_bytes((absv.bit_length() + 7) // 8, "little"))
    if out[-1] & 0x80:
        out.append(0x80 if neg else 0x00)
    elif neg:
        out[-1] |= 0x80
    return bytes(out)


def cast_to_bool(data: bytes) -> bool:
    """Any non-zero byte is true, except that negative zero (0x80 last) is false."""
    for i, b in enumerate(data):
        if b:
            return not (i == len(data) - 1 and b == 0x80)
    return False
