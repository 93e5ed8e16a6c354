"""Bitcoin Core's script notation in its JSON test vectors (Core's ParseScript, core_read.cpp).

Decimal numbers are minimal pushes (``CScript() << n``), ``0x..`` tokens are raw bytes copied
verbatim, ``'text'`` pushes the text, and opcode names may omit the ``OP_`` prefix.
"""

from __future__ import annotations

from node.consensus.script.opcodes import OP_NOP, OP_RESERVED, OPCODE_NAMES
from node.consensus.script.script import push_data, push_int


def _opcode_table() -> dict[str, int]:
    table: dict[str, int] = {}
    for op, name in OPCODE_NAMES.items():
        # Core leaves the push opcodes out of the table (numbers are written as numbers).
        if op < OP_NOP and op != OP_RESERVED:
            continue
        table[name] = op
        if name.startswith("OP_"):
            table[name[3:]] = op
    return table


_OPCODES = _opcode_table()


def parse_script(text: str) -> bytes:
    out = bytearray()
    for word in text.split():
        if word.isdigit() or (word.startswith("-") and word[1:].isdigit()):
            n = int(word)
            if not -0xFFFFFFFF <= n <= 0xFFFFFFFF:
                raise ValueError(f"number out of range: {word}")
            out += push_int(n)
        elif word.startswith("0x") and len(word) > 2:
            out += bytes.fromhex(word[2:])
        elif len(word) >= 2 and word[0] == "'" and word[-1] == "'":
            out += push_data(word[1:-1].encode())
        elif word in _OPCODES:
            out.append(_OPCODES[word])
        else:
            raise ValueError(f"script parse error: {word!r}")
    return bytes(out)
