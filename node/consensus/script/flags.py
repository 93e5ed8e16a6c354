"""Script verification flags, as Bitcoin Core defines them (script/interpreter.h)."""

from __future__ import annotations

from enum import IntFlag


class Flag(IntFlag):
    NONE = 0
    P2SH = 1 << 0  # BIP16
    STRICTENC = 1 << 1
    DERSIG = 1 << 2  # BIP66
    LOW_S = 1 << 3  # BIP146
    NULLDUMMY = 1 << 4  # BIP147
    SIGPUSHONLY = 1 << 5
    MINIMALDATA = 1 << 6
    DISCOURAGE_UPGRADABLE_NOPS = 1 << 7
    CLEANSTACK = 1 << 8
    CHECKLOCKTIMEVERIFY = 1 << 9  # BIP65
    CHECKSEQUENCEVERIFY = 1 << 10  # BIP112
    WITNESS = 1 << 11  # BIP141
    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = 1 << 12
    MINIMALIF = 1 << 13
    NULLFAIL = 1 << 14  # BIP146
    WITNESS_PUBKEYTYPE = 1 << 15
    CONST_SCRIPTCODE = 1 << 16
    TAPROOT = 1 << 17  # BIP341/342: named so vectors parse; never enforced by minicash


def parse_flags(text: str) -> Flag:
    """Parse Core's comma-separated flag notation ("P2SH,STRICTENC"; "" or "NONE" = none)."""
    flags = Flag.NONE
    for name in filter(None, (s.strip() for s in text.split(","))):
        if name == "NONE":
            continue
        try:
            flags |= Flag[name]
        except KeyError:
            raise ValueError(f"unknown script verification flag {name!r}") from None
    return flags


# Core's MANDATORY_SCRIPT_VERIFY_FLAGS: what blocks must satisfy once all soft forks are active.
MANDATORY_FLAGS = (Flag.P2SH | Flag.DERSIG | Flag.NULLDUMMY | Flag.CHECKLOCKTIMEVERIFY
                   | Flag.CHECKSEQUENCEVERIFY | Flag.WITNESS)

# Core's STANDARD_SCRIPT_VERIFY_FLAGS (policy/policy.h), without Taproot's flags.
STANDARD_FLAGS = (MANDATORY_FLAGS | Flag.STRICTENC | Flag.MINIMALDATA
                  | Flag.DISCOURAGE_UPGRADABLE_NOPS | Flag.CLEANSTACK | Flag.MINIMALIF
                  | Flag.NULLFAIL | Flag.LOW_S | Flag.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM
                  | Flag.WITNESS_PUBKEYTYPE | Flag.CONST_SCRIPTCODE)

ALL_FLAGS = STANDARD_FLAGS | Flag.SIGPUSHONLY
