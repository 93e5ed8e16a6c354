"""Bitcoin Core's compact on-disk encodings of coins and undo data, byte for byte.

- VARINT (serialize.h ``WriteVarInt``/``ReadVarInt``): MSB-first base-128 where every byte but
  the last has its high bit set and, to make each number's encoding unique, one is subtracted
  from every digit but the last. Not the wire format's CompactSize.
- Amounts (compressor.cpp ``CompressAmount``): trailing decimal zeros folded into a small code.
- Scripts (compressor.cpp ``ScriptCompression``): P2PKH and P2SH as a tag byte and the 20-byte
  hash, P2PK as a 33-byte compressed key; any other script as VARINT(size + 6) and its bytes.
- A coin (coins.h ``Coin::Serialize``): VARINT(height * 2 + coinbase), then the compressed txout.
- Undo data (undo.h ``CBlockUndo``): CompactSize count of transactions (the coinbase excluded),
  each a CompactSize count of the coins its inputs spent, in input order, each coin as
  ``TxInUndoFormatter``: like a coin, plus a dummy 0x00 byte after the code when height > 0 (a
  relic of a former transaction-version field).

Encoders take trusted values and raise ValueError on ones the format cannot hold (an amount
outside 0..MAX_MONEY, a height beyond 2^31 - 1). Decoders take untrusted bytes and raise
:class:`~node.consensus.errors.DecodeError`; they must consume their input exactly.
"""

from __future__ import annotations

from node.consensus import crypto
from node.consensus.coin import Coin, make_coin
from node.consensus.errors import DecodeError
from node.consensus.params import MAX_MONEY
from node.consensus.primitives import TxOut, make_txout
from node.consensus.script.opcodes import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUAL,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_RETURN,
)
from node.consensus.script.script import MAX_SCRIPT_SIZE
from node.consensus.serialize import ByteReader, compact_size

# Core: ScriptCompression::nSpecialScripts. Sizes 0..5 are the special forms below.
N_SPECIAL_SCRIPTS = 6
# Payload bytes of each special form, by its tag (Core: GetSpecialScriptSize).
_SPECIAL_SIZE = (20, 20, 32, 32, 32, 32)

_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF
_I64_MAX = 0x7FFFFFFFFFFFFFFF
_POW10 = tuple(10**e for e in range(10))

# Smallest encodings, to refuse absurd counts before allocating.
_MIN_TXIN_UNDO_SIZE = 3  # code, amount and script size of one byte each (empty script)
_MIN_TX_UNDO_SIZE = 1  # an empty CompactSize count


# -- VARINT ------------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    """Core's VARINT of an unsigned integer below 2^64."""
    if 0 <= n < 0x80:
        return bytes((n,))
    if n < 0 or n > _U64_MAX:
        raise ValueError(f"VARINT out of range: {n}")
    out = bytearray((n & 0x7F,))
    while n > 0x7F:
        n = (n >> 7) - 1
        out.append((n & 0x7F) | 0x80)
    out.reverse()
    return bytes(out)


def _varint_at(data: bytes, pos: int, max_value: int) -> tuple[int, int]:
    """Read a VARINT at ``pos`` for an unsigned type of maximum ``max_value``: (value, new pos).

    Rejects exactly what Core's ReadVarInt rejects for that type: values that do not fit.
    """
    if pos + 1 < len(data):  # one or two bytes: script sizes, heights, most amounts
        b = data[pos]
        if b < 0x80:
            return b, pos + 1
        c = data[pos + 1]
        if c < 0x80:
            return ((b & 0x7F) + 1) << 7 | c, pos + 2
    elif pos < len(data) and data[pos] < 0x80:
        return data[pos], pos + 1
    n = 0
    limit = max_value >> 7
    end = len(data)
    while True:
        if pos >= end:
            raise DecodeError(f"truncated VARINT at offset {pos}")
        b = data[pos]
        pos += 1
        if n > limit:
            raise DecodeError("VARINT too large")
        n = (n << 7) | (b & 0x7F)
        if b & 0x80:
            if n == max_value:
                raise DecodeError("VARINT too large")
            n += 1
        else:
            return n, pos


def read_varint(r: ByteReader, max_value: int = _U64_MAX) -> int:
    """Read one VARINT from ``r`` (bounded like Core's ReadVarInt for a type of ``max_value``)."""
    n, r.pos = _varint_at(r.data, r.pos, max_value)
    return n


# -- amounts -----------------------------------------------------------------------------------
def compress_amount(n: int) -> int:
    """Core's CompressAmount: 0 -> 0, otherwise 1 + 10*(9*m + d - 1) + e (or 1 + 10*(m-1) + 9).

    ``e`` counts the trailing decimal zeros (at most 9), ``d`` is the last non-zero digit.
    Defined, as in Core, for 0 <= n <= MAX_MONEY only (larger codes could overflow 64 bits).
    """
    if n == 0:
        return 0
    if n < 0 or n > MAX_MONEY:
        raise ValueError(f"amount out of range: {n}")
    e = 0
    while n % 10 == 0 and e < 9:
        n //= 10
        e += 1
    if e < 9:
        d = n % 10
        n //= 10
        return 1 + (n * 9 + d - 1) * 10 + e
    return 1 + (n - 1) * 10 + 9


def decompress_amount(x: int) -> int:
    """Core's DecompressAmount, the inverse of :func:`compress_amount`."""
    if x == 0:
        return 0
    x -= 1
    e = x % 10
    x //= 10
    if e < 9:
        d = x % 9 + 1
        x //= 9
        n = x * 10 + d
    else:
        n = x + 1
    return n * _POW10[e]


# -- scripts -----------------------------------------------------------------------------------
def compress_script(script: bytes) -> bytes | None:
    """Core's CompressScript: the special form (tag byte + payload) of ``script``, or None.

    P2PKH -> 0x00 + hash160; P2SH -> 0x01 + hash160; P2PK with a compressed key -> the key
    itself (tag 0x02/0x03); P2PK with an uncompressed key -> 0x04|(y parity) + x, but only if
    the key is a valid point, as the y coordinate must be recomputed on the way back.
    """
    size = len(script)
    if size == 25:
        if (script[0] == OP_DUP and script[1] == OP_HASH160 and script[2] == 20
                and script[23] == OP_EQUALVERIFY and script[24] == OP_CHECKSIG):
            return b"\x00" + script[3:23]
    elif size == 23:
        if script[0] == OP_HASH160 and script[1] == 20 and script[22] == OP_EQUAL:
            return b"\x01" + script[2:22]
    elif size == 35:
        if script[0] == 33 and script[34] == OP_CHECKSIG and script[1] in (2, 3):
            return script[1:34]
    elif size == 67:
        if (script[0] == 65 and script[66] == OP_CHECKSIG and script[1] == 4
                and crypto.pubkey_is_valid(script[1:66])):
            return bytes((0x04 | (script[65] & 1),)) + script[2:34]
    return None


def decompress_script(tag: int, payload: bytes) -> bytes:
    """Core's DecompressScript: the script of special form ``tag`` (0..5) with ``payload``."""
    if tag == 0:
        return bytes((OP_DUP, OP_HASH160, 20)) + payload + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
    if tag == 1:
        return bytes((OP_HASH160, 20)) + payload + bytes((OP_EQUAL,))
    if tag in (2, 3):
        return bytes((33, tag)) + payload + bytes((OP_CHECKSIG,))
    if tag in (4, 5):
        try:
            pubkey = crypto.pubkey_serialize(bytes((tag - 2,)) + payload, compressed=False)
        except ValueError:
            raise DecodeError("compressed P2PK key is not a point on the curve") from None
        return bytes((65,)) + pubkey + bytes((OP_CHECKSIG,))
    raise ValueError(f"not a special script tag: {tag}")


def encode_script(script: bytes) -> bytes:
    """Core's ScriptCompression::Ser."""
    special = compress_script(script)
    if special is not None:
        return special
    return varint(len(script) + N_SPECIAL_SCRIPTS) + script


def _script_at(data: bytes, pos: int) -> tuple[bytes, int]:
    """Core's ScriptCompression::Unser at ``pos``: (script, new pos)."""
    size, pos = _varint_at(data, pos, _U32_MAX)
    if size < N_SPECIAL_SCRIPTS:
        end = pos + _SPECIAL_SIZE[size]
        if end > len(data):
            raise DecodeError(f"truncated compressed script at offset {pos}")
        return decompress_script(size, data[pos:end]), end
    size -= N_SPECIAL_SCRIPTS
    end = pos + size
    if end > len(data):
        raise DecodeError(f"truncated script: wanted {size} bytes at offset {pos}")
    if size > MAX_SCRIPT_SIZE:
        # Core replaces an overly long script with a short unspendable one. The UTXO set never
        # holds such a script (unspendable outputs are not added), so this is unreachable for
        # data we wrote ourselves.
        return bytes((OP_RETURN,)), end
    return data[pos:end], end


# -- txouts and coins --------------------------------------------------------------------------
def encode_txout(txout: TxOut) -> bytes:
    """Core's TxOutCompression: VARINT(CompressAmount(value)), then the compressed script."""
    return varint(compress_amount(txout.value)) + encode_script(txout.script_pubkey)


def _txout_at(data: bytes, pos: int) -> tuple[TxOut, int]:
    code, pos = _varint_at(data, pos, _U64_MAX)
    value = decompress_amount(code)
    if value > _I64_MAX:
        raise DecodeError(f"compressed amount {code} does not fit a 64-bit signed value")
    script, pos = _script_at(data, pos)
    return make_txout(value, script), pos


def _coin_code(coin: Coin) -> int:
    code = coin.height * 2 + bool(coin.is_coinbase)
    if coin.height < 0 or code > _U32_MAX:
        raise ValueError(f"coin height out of range: {coin.height}")
    return code


def encode_coin(coin: Coin) -> bytes:
    """Core's Coin::Serialize: VARINT(height * 2 + coinbase), then the compressed txout."""
    return varint(_coin_code(coin)) + encode_txout(coin.txout)


def _coin_at(data: bytes, pos: int) -> tuple[Coin, int]:
    start = pos
    code, pos = _varint_at(data, pos, _U32_MAX)
    txout, pos = _txout_at(data, pos)
    return make_coin(txout, code >> 1, bool(code & 1), data[start:pos]), pos


def decode_coin(data: bytes) -> Coin:
    """Inverse of :func:`encode_coin`; DecodeError unless ``data`` is exactly one coin.

    Runs on every cache miss of block connection, so the common shape (a plain script under
    122 bytes) is read here without the general readers' calls; anything else, and every
    error, goes through :func:`_coin_at`."""
    try:
        # Core's VARINTs, unbounded here: a value in range below means the bounded reader
        # accepts it too (each continuation byte only makes the value larger).
        b = data[0]
        code = b & 0x7F
        pos = 1
        while b & 0x80:
            b = data[pos]
            pos += 1
            code = (code + 1) << 7 | b & 0x7F
        b = data[pos]
        amount = b & 0x7F
        pos += 1
        while b & 0x80:
            b = data[pos]
            pos += 1
            amount = (amount + 1) << 7 | b & 0x7F
        tag = data[pos]
    except IndexError:
        tag = -1
    if N_SPECIAL_SCRIPTS <= tag < 0x80 and pos + 1 + tag - N_SPECIAL_SCRIPTS == len(data) \
            and code <= _U32_MAX and amount <= _U64_MAX:
        value = decompress_amount(amount)
        if value <= _I64_MAX:
            return make_coin(make_txout(value, data[pos + 1:]), code >> 1, bool(code & 1), data)
    coin, pos = _coin_at(data, 0)
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} trailing bytes after a coin")
    return coin


def read_coin(r: ByteReader) -> Coin:
    coin, r.pos = _coin_at(r.data, r.pos)
    return coin


# -- undo data ---------------------------------------------------------------------------------
def encode_txin_undo(coin: Coin) -> bytes:
    """Core's TxInUndoFormatter::Ser: a coin with a dummy 0x00 after the code if height > 0."""
    stored = coin.stored
    if stored is not None:  # read from the chainstate: the same bytes, bar the dummy
        if coin.height == 0:
            return stored
        end = 1  # of the code's VARINT: its last byte has the high bit clear
        while stored[end - 1] & 0x80:
            end += 1
        return stored[:end] + b"\x00" + stored[end:]
    code = varint(_coin_code(coin))
    if coin.height > 0:
        code += b"\x00"
    return code + encode_txout(coin.txout)


def read_txin_undo(r: ByteReader) -> Coin:
    """Core's TxInUndoFormatter::Unser (the dummy is read as a VARINT and ignored)."""
    data = r.data
    code, pos = _varint_at(data, r.pos, _U32_MAX)
    height = code >> 1
    if height > 0:
        _, pos = _varint_at(data, pos, _U32_MAX)
    txout, r.pos = _txout_at(data, pos)
    return Coin(txout, height, bool(code & 1))


def encode_block_undo(block_undo: list[list[Coin]]) -> bytes:
    """Core's CBlockUndo: for each non-coinbase tx, the coins its inputs spent, in input order."""
    parts = [compact_size(len(block_undo))]
    append = parts.append
    for tx_undo in block_undo:
        append(compact_size(len(tx_undo)))
        for coin in tx_undo:
            append(encode_txin_undo(coin))
    return b"".join(parts)


def _read_count(r: ByteReader, min_item_size: int, what: str) -> int:
    n = r.compact_size()
    if n * min_item_size > r.remaining():
        raise DecodeError(f"{what} count {n} exceeds the bytes left ({r.remaining()})")
    return n


def decode_block_undo(data: bytes) -> list[list[Coin]]:
    """Inverse of :func:`encode_block_undo`; DecodeError on anything else."""
    r = ByteReader(data)
    block_undo = []
    for _ in range(_read_count(r, _MIN_TX_UNDO_SIZE, "undo transaction")):
        n = _read_count(r, _MIN_TXIN_UNDO_SIZE, "undo coin")
        block_undo.append([read_txin_undo(r) for _ in range(n)])
    r.finish()
    return block_undo
