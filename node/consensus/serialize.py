"""Bitcoin serialization: little-endian integers, CompactSize, and a bounds-checked reader.

The reader is the only way bytes become objects: it raises :class:`DecodeError` on truncation,
on non-canonical CompactSize, on sizes beyond Bitcoin's sanity limit, and (via
:meth:`ByteReader.finish`) on trailing bytes, so no IndexError or struct.error escapes a parser.
"""

from __future__ import annotations

import struct
from typing import Protocol, TypeVar

from .errors import DecodeError

# Bitcoin Core's MAX_SIZE: no CompactSize-prefixed length may exceed this (serialize.h).
MAX_SIZE = 0x02000000

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class ByteReader:
    """A cursor over immutable bytes. Every read checks that enough bytes remain."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = bytes(data)
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, n: int) -> bytes:
        if n < 0:
            raise DecodeError(f"negative read length {n}")
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError(f"truncated: wanted {n} bytes at offset {self.pos}, "
                              f"only {len(self.data) - self.pos} left")
        out = self.data[self.pos:end]
        self.pos = end
        return out

    def _unpack(self, st: struct.Struct) -> int:
        end = self.pos + st.size
        if end > len(self.data):
            raise DecodeError(f"truncated: wanted {st.size} bytes at offset {self.pos}, "
                              f"only {len(self.data) - self.pos} left")
        (v,) = st.unpack_from(self.data, self.pos)
        self.pos = end
        return v

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError(f"truncated: wanted 1 byte at offset {self.pos}")
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        return self._unpack(_U16)

    def u32(self) -> int:
        return self._unpack(_U32)

    def i32(self) -> int:
        return self._unpack(_I32)

    def u64(self) -> int:
        return self._unpack(_U64)

    def i64(self) -> int:
        return self._unpack(_I64)

    def compact_size(self, range_check: bool = True) -> int:
        """Read a CompactSize; reject non-canonical encodings and (by default) values > MAX_SIZE."""
        first = self.u8()
        if first < 0xFD:
            v = first
        elif first == 0xFD:
            v = self.u16()
            if v < 0xFD:
                raise DecodeError("non-canonical CompactSize")
        elif first == 0xFE:
            v = self.u32()
            if v < 0x10000:
                raise DecodeError("non-canonical CompactSize")
        else:
            v = self.u64()
            if v < 0x100000000:
                raise DecodeError("non-canonical CompactSize")
        if range_check and v > MAX_SIZE:
            raise DecodeError(f"CompactSize {v} exceeds the maximum {MAX_SIZE}")
        return v

    def var_bytes(self) -> bytes:
        """A CompactSize length followed by that many bytes."""
        return self.read(self.compact_size())

    def finish(self) -> None:
        """Raise if bytes are left over: a message must be consumed exactly."""
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} trailing bytes")


_ONE_BYTE_SIZES = [bytes((n,)) for n in range(0xFD)]


def compact_size(n: int) -> bytes:
    """Encode ``n`` as a CompactSize."""
    if 0 <= n < 0xFD:
        return _ONE_BYTE_SIZES[n]
    if n < 0:
        raise ValueError(f"a CompactSize cannot be negative: {n}")
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def var_bytes(b: bytes) -> bytes:
    return compact_size(len(b)) + b


def u32(n: int) -> bytes:
    return _U32.pack(n)


def i32(n: int) -> bytes:
    return _I32.pack(n)


def u64(n: int) -> bytes:
    return _U64.pack(n)


def i64(n: int) -> bytes:
    return _I64.pack(n)


class Parseable(Protocol):
    @classmethod
    def parse(cls, r: ByteReader): ...


P = TypeVar("P", bound=Parseable)


def from_bytes(cls: type[P], data: bytes) -> P:
    """Parse exactly one ``cls`` from ``data``; trailing bytes are an error."""
    r = ByteReader(data)
    obj = cls.parse(r)
    r.finish()
    return obj
