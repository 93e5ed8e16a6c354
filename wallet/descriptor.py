"""BIP380 output descriptors for the wallet's accounts: ``wpkh(...)`` (BIP84) and ``pkh(...)``
(BIP44), with key origin and the descriptor checksum, so another wallet can watch this one."""

from __future__ import annotations

from node.consensus.errors import DecodeError
from node.consensus.params import Params

from .hd import ExtendedKey, Purpose, format_path

# BIP380 "Checksum": the character set a descriptor may use, grouped so that the 32 symbols
# of most concern (hex, key origin and path characters) get single-error detection.
_INPUT_CHARSET = ("0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~"
                  "ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ")
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)


def _polymod(symbols: list[int]) -> int:
    chk = 1
    for value in symbols:
        top = chk >> 35
        chk = (chk & 0x7FFFFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _expand(desc: str) -> list[int]:
    symbols: list[int] = []
    groups: list[int] = []
    for c in desc:
        v = _INPUT_CHARSET.find(c)
        if v < 0:
            raise DecodeError(f"character {c!r} cannot appear in a descriptor")
        symbols.append(v & 31)
        groups.append(v >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    return symbols


def descriptor_checksum(desc: str) -> str:
    """The 8-character checksum that follows ``#`` (BIP380)."""
    c = _polymod(_expand(desc) + [0] * 8) ^ 1
    return "".join(_CHECKSUM_CHARSET[(c >> (5 * (7 - i))) & 31] for i in range(8))


def add_checksum(desc: str) -> str:
    return f"{desc}#{descriptor_checksum(desc)}"


def check_checksum(desc_with_checksum: str) -> str:
    """The descriptor without its checksum; DecodeError if the checksum is missing or wrong."""
    desc, sep, checksum = desc_with_checksum.rpartition("#")
    if not sep:
        raise DecodeError("descriptor has no checksum")
    if descriptor_checksum(desc) != checksum:
        raise DecodeError(f"descriptor checksum {checksum!r} does not match")
    return desc


def account_descriptors(purpose: Purpose, master_fingerprint: bytes, path: list[int],
                        account: ExtendedKey, params: Params) -> tuple[str, str]:
    """The receive (``/0/*``) and change (``/1/*``) descriptors of an account, as Bitcoin
    Core's ``listdescriptors`` writes them: ``wpkh([fpr/84h/1h/0h]tpub.../0/*)#checksum``."""
    origin = f"[{master_fingerprint.hex()}/{format_path(path, 'h')}]"
    key = account.to_xpub(params)
    fn = purpose.descriptor_function
    return (add_checksum(f"{fn}({origin}{key}/0/*)"),
            add_checksum(f"{fn}({origin}{key}/1/*)"))
