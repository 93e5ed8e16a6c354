"""Scripts as text: Bitcoin Core's asm (``ScriptToAsmStr``) and the asm Esplora shows
(rust-bitcoin's formatting, what the ``scriptpubkey_asm`` fields of Esplora's API hold)."""

from __future__ import annotations

from .num import decode_num
from .opcodes import (
    OP_0,
    OP_1,
    OP_1NEGATE,
    OP_16,
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIGADD,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    OP_PUSHDATA4,
    OP_RETURN,
    opcode_name,
)
from .script import iter_ops


def core_asm(script: bytes) -> str:
    """Core's ScriptToAsmStr (without signature-hash decoding): pushes of at most 4 bytes
    show as numbers, longer ones as hex; small-integer opcodes as their values."""
    out = []
    for op, data in iter_ops(script):
        if op < 0:
            out.append("[error]")
            break
        if 0 <= op <= OP_PUSHDATA4:
            assert data is not None
            if len(data) <= 4:
                try:
                    out.append(str(decode_num(data, False, 4)))
                    continue
                except Exception:  # pragma: no cover - any <=4-byte push decodes
                    pass
            out.append(data.hex())
        else:
            name = opcode_name(op)
            out.append(name if not name.startswith("OP_UNKNOWN") else "OP_UNKNOWN")
    return " ".join(out)


def esplora_asm(script: bytes) -> str:
    """rust-bitcoin's asm: ``OP_0 OP_PUSHBYTES_20 <hex>``, ``OP_PUSHNUM_1``, ``OP_CLTV``..."""
    out = []
    for op, data in iter_ops(script):
        if op < 0:
            out.append("<push past end>")
            break
        if op == OP_0:
            out.append("OP_0")
        elif op < OP_PUSHDATA1:
            out.append(f"OP_PUSHBYTES_{op} {data.hex()}")  # type: ignore[union-attr]
        elif op in (OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4):
            name = {OP_PUSHDATA1: "OP_PUSHDATA1", OP_PUSHDATA2: "OP_PUSHDATA2",
                    OP_PUSHDATA4: "OP_PUSHDATA4"}[op]
            out.append(f"{name} {data.hex()}")  # type: ignore[union-attr]
        elif op == OP_1NEGATE:
            out.append("OP_PUSHNUM_NEG1")
        elif OP_1 <= op <= OP_16:
            out.append(f"OP_PUSHNUM_{op - OP_1 + 1}")
        elif op == OP_CHECKLOCKTIMEVERIFY:
            out.append("OP_CLTV")
        elif op == OP_CHECKSEQUENCEVERIFY:
            out.append("OP_CSV")
        elif op == OP_CHECKSIGADD:
            out.append("OP_CHECKSIGADD")
        elif op > OP_CHECKSIGADD and op != OP_RETURN:
            out.append(f"OP_RETURN_{op}")  # rust-bitcoin's name for undefined opcodes
        else:
            out.append(opcode_name(op))
    return " ".join(out)
