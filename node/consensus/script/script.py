"""Reading scripts: opcode iteration with Core's exact failure semantics, push encoding, and the
template predicates (push-only, P2SH, witness program) that validation needs."""

from __future__ import annotations

from collections.abc import Iterator

from .opcodes import (
    OP_0,
    OP_1,
    OP_1NEGATE,
    OP_16,
    OP_EQUAL,
    OP_HASH160,
    OP_PUSHDATA1,
    OP_PUSHDATA2,
    OP_PUSHDATA4,
    OP_RETURN,
)

# Script limits (Core: script/script.h)
MAX_SCRIPT_ELEMENT_SIZE = 520
MAX_OPS_PER_SCRIPT = 201
MAX_PUBKEYS_PER_MULTISIG = 20
MAX_SCRIPT_SIZE = 10_000
MAX_STACK_SIZE = 1000
LOCKTIME_THRESHOLD = 500_000_000  # below: block height; at or above: UNIX time


def get_op(script: bytes, pc: int) -> tuple[int, bytes | None, int]:
    """Read one operation at ``pc``: (opcode, push data or None, next pc).

    On a truncated push, returns opcode -1 with the pc advanced past the opcode and its length
    bytes but not the data, exactly as Core's GetScriptOp leaves its iterator: the legacy
    signature hash depends on where that iterator stops.
    """
    op = script[pc]
    pc += 1
    if op > OP_PUSHDATA4:
        return op, None, pc
    end = len(script)
    if op < OP_PUSHDATA1:
        size = op
    elif op == OP_PUSHDATA1:
        if pc + 1 > end:
            return -1, None, pc
        size = script[pc]
        pc += 1
    elif op == OP_PUSHDATA2:
        if pc + 2 > end:
            return -1, None, pc
        size = script[pc] | script[pc + 1] << 8
        pc += 2
    else:
        if pc + 4 > end:
            return -1, None, pc
        size = int.from_bytes(script[pc:pc + 4], "little")
        pc += 4
    if pc + size > end:
        return -1, None, pc
    return op, script[pc:pc + size], pc + size


def iter_ops(script: bytes) -> Iterator[tuple[int, bytes | None]]:
    """Yield (opcode, data) until the end or the first malformed push (yielded as opcode -1)."""
    pc, end = 0, len(script)
    while pc < end:
        op, data, pc = get_op(script, pc)
        yield op, data
        if op < 0:
            return


def push_data(data: bytes) -> bytes:
    """The push of ``data`` as Core's ``CScript() << data`` writes it (smallest PUSHDATA form;
    note that an empty push is OP_0, and single bytes are *not* turned into OP_N)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little") + data
    return bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little") + data


def push_int(n: int) -> bytes:
    """``CScript() << n``: OP_0, OP_1NEGATE or OP_1..OP_16 when possible, else a number push."""
    from .num import encode_num

    if n == 0:
        return bytes((OP_0,))
    if n == -1 or 1 <= n <= 16:
        return bytes((n + (OP_1 - 1),))
    return push_data(encode_num(n))


def is_push_only(script: bytes) -> bool:
    """Core's IsPushOnly: only push operations (OP_RESERVED counts as a push here)."""
    for op, _ in iter_ops(script):
        if op < 0 or op > OP_16:
            return False
    return True


def is_p2sh(script: bytes) -> bool:
    """BIP16 template: OP_HASH160 <20 bytes> OP_EQUAL, byte-exact."""
    return (len(script) == 23 and script[0] == OP_HASH160 and script[1] == 0x14
            and script[22] == OP_EQUAL)


def is_unspendable(script_pubkey: bytes) -> bool:
    """Core's CScript::IsUnspendable: starts with OP_RETURN, or is too big ever to run."""
    return (len(script_pubkey) > 0 and script_pubkey[0] == OP_RETURN) or \
        len(script_pubkey) > MAX_SCRIPT_SIZE


def witness_program(script: bytes) -> tuple[int, bytes] | None:
    """BIP141: a version byte (OP_0, OP_1..OP_16) then one direct push of 2 to 40 bytes."""
    n = len(script)
    if n < 4 or n > 42:
        return None
    v = script[0]
    if v != OP_0 and not OP_1 <= v <= OP_16:
        return None
    if script[1] + 2 != n:
        return None
    return (0 if v == OP_0 else v - (OP_1 - 1)), script[2:]


def check_minimal_push(data: bytes, op: int) -> bool:
    """Core's CheckMinimalPush: was ``data`` pushed with the smallest possible opcode?"""
    n = len(data)
    if n == 0:
        return op == OP_0
    if n == 1 and 1 <= data[0] <= 16:
        return op == OP_1 + data[0] - 1
    if n == 1 and data[0] == 0x81:
        return op == OP_1NEGATE
    if n <= 75:
        return op == n
    if n <= 255:
        return op == OP_PUSHDATA1
    if n <= 65535:
        return op == OP_PUSHDATA2
    return True


def find_and_delete(script: bytes, pattern: bytes) -> tuple[bytes, int]:
    """Core's FindAndDelete: remove every occurrence of ``pattern`` that starts at an opcode
    boundary. Returns (new script, count). Pre-segwit signature checking applies it to the
    scriptCode with each signature push (a consensus quirk that must be reproduced exactly)."""
    if not pattern or pattern not in script:
        return script, 0
    found = 0
    out = bytearray()
    plen = len(pattern)
    end = len(script)
    pc = pc2 = 0
    while True:
        out += script[pc2:pc]
        while end - pc >= plen and script.startswith(pattern, pc):
            pc += plen
            found += 1
        pc2 = pc
        if pc >= end:
            break
        op, _, pc = get_op(script, pc)
        if op < 0:
            break
    if not found:
        return script, 0
    out += script[pc2:]
    return bytes(out), found
