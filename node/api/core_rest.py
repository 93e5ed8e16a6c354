"""Bitcoin Core's REST interface (``/rest/...``), read-only, same paths and formats as Core:
the suffix ``.bin``, ``.hex`` or ``.json`` picks the format."""

from __future__ import annotations

import struct

from aiohttp import web

from node.consensus.hashes import hash_to_hex
from node.consensus.pow import difficulty
from node.consensus.primitives import OutPoint
from node.consensus.serialize import compact_size

from .context import CTX_KEY, ApiContext
from .errors import ApiError, bad_request, not_found
from .formats import coins, core_header, core_script_pubkey, core_tx, find_tx
from .validate import hash_param, int_param

routes = web.RouteTableDef()
MAX_HEADERS = 2000  # Core: MAX_REST_HEADERS_RESULTS
MAX_GETUTXOS_OUTPOINTS = 15  # Core: MAX_GETUTXOS_OUTPOINTS


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CTX_KEY]


def _split_format(value: str, allowed: tuple[str, ...] = ("bin", "hex", "json")) -> tuple[str, str]:
    stem, dot, fmt = value.rpartition(".")
    if not dot or fmt not in allowed:
        raise ApiError(404, f"output format not found (available: {', '.join(allowed)})")
    return stem, fmt


def _respond(fmt: str, raw: bytes | None = None, obj: object = None) -> web.Response:
    if fmt == "bin":
        return web.Response(body=raw, content_type="application/octet-stream")
    if fmt == "hex":
        return web.Response(text=raw.hex() + "\n", content_type="text/plain")  # type: ignore[union-attr]
    return web.json_response(obj)


@routes.get("/rest/chaininfo.json")
async def chaininfo(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    chain = ctx.chain
    tip = chain.tip
    return web.json_response({
        "chain": ctx.params.name if ctx.params.name != "test" else "test",
        "blocks": chain.height,
        "headers": chain.best_header().height,
        "bestblockhash": hash_to_hex(tip.hash),
        "difficulty": difficulty(tip.bits),
        "time": tip.time,
        "mediantime": tip.median_time_past(),
        "verificationprogress": 1.0,
        "initialblockdownload": False,
        "chainwork": f"{tip.chainwork:064x}",
        "pruned": False,
        "warnings": [],
    })


def _block_index(ctx: ApiContext, hash_hex: str):
    block_hash = hash_param(hash_hex, "block hash")
    index = ctx.chain.index.get(block_hash)
    block = ctx.chain.read_block(block_hash) if index is not None else None
    if index is None or block is None:
        raise not_found(f"block {hash_hex} not found")
    return index, block


@routes.get("/rest/block/notxdetails/{hash_fmt}")
async def block_notxdetails(request: web.Request) -> web.Response:
    return _block_response(request, details=False)


@routes.get("/rest/block/{hash_fmt}")
async def block(request: web.Request) -> web.Response:
    return _block_response(request, details=True)


def _block_response(request: web.Request, details: bool) -> web.Response:
    ctx = _ctx(request)
    hash_hex, fmt = _split_format(request.match_info["hash_fmt"])
    index, blk = _block_index(ctx, hash_hex)
    if fmt != "json":
        return _respond(fmt, blk.serialize())
    d = core_header(index, ctx.chain)
    d["strippedsize"] = blk.base_size
    d["size"] = blk.total_size
    d["weight"] = blk.weight
    d["tx"] = [core_tx(tx, ctx.params) for tx in blk.txs] if details else \
        [hash_to_hex(tx.txid) for tx in blk.txs]
    return web.json_response(d)


@routes.get("/rest/headers/{hash_fmt}")
async def headers(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    hash_hex, fmt = _split_format(request.match_info["hash_fmt"])
    count = int_param(request.query.get("count", "5"), "count", 1, MAX_HEADERS)
    start = ctx.chain.index.get(hash_param(hash_hex, "block hash"))
    found = []
    if start is not None and ctx.chain.is_active(start):
        for h in range(start.height, min(start.height + count, ctx.chain.height + 1)):
            found.append(ctx.chain.active[h])
    elif start is not None:
        found.append(start)
    if fmt != "json":
        return _respond(fmt, b"".join(i.header.serialize() for i in found))
    return web.json_response([core_header(i, ctx.chain) for i in found])


@routes.get("/rest/blockhashbyheight/{height_fmt}")
async def blockhashbyheight(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    height_text, fmt = _split_format(request.match_info["height_fmt"])
    height = int_param(height_text, "height")
    index = ctx.chain.at_height(height)
    if index is None:
        raise not_found(f"block height out of range (tip is {ctx.chain.height})")
    return _respond(fmt, index.hash, {"blockhash": hash_to_hex(index.hash)})


@routes.get("/rest/tx/{txid_fmt}")
async def tx(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    txid_hex, fmt = _split_format(request.match_info["txid_fmt"])
    found = find_tx(ctx, hash_param(txid_hex, "txid"))
    if found is None:
        raise not_found(f"transaction {txid_hex} not found")
    t, status = found
    if fmt != "json":
        return _respond(fmt, t.serialize())
    d = core_tx(t, ctx.params)
    if status.block is not None:
        d["blockhash"] = hash_to_hex(status.block.hash)
        d["confirmations"] = ctx.chain.height - status.block.height + 1
        d["time"] = d["blocktime"] = status.block.time
    return web.json_response(d)


@routes.get("/rest/getutxos/{rest:.*}")
async def getutxos(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    rest = request.match_info["rest"]
    check_mempool = rest.startswith("checkmempool/")
    if check_mempool:
        rest = rest[len("checkmempool/"):]
    body, fmt = _split_format(rest)
    parts = [p for p in body.split("/") if p]
    if not parts:
        raise bad_request("empty request")
    if len(parts) > MAX_GETUTXOS_OUTPOINTS:
        raise bad_request(f"Error: max outpoints exceeded (max: {MAX_GETUTXOS_OUTPOINTS}, "
                          f"tried: {len(parts)})")
    outpoints = []
    for p in parts:
        txid_hex, dash, n = p.partition("-")
        if not dash:
            raise bad_request(f"parse error: {p!r} is not TXID-N")
        outpoints.append(OutPoint(hash_param(txid_hex, "txid"), int_param(n, "output index")))
    bitmap = []
    found = []
    for op in outpoints:
        coin = ctx.chain.get_coin(op)
        if check_mempool and op in ctx.mempool.spenders:
            coin = None  # spent by a mempool transaction
        if coin is None and check_mempool:
            entry = ctx.mempool.get(op.txid)
            if entry is not None and op.n < len(entry.tx.vout) and \
                    op not in ctx.mempool.spenders:
                from node.consensus.coin import Coin
                from node.mempool.mempool import MEMPOOL_HEIGHT

                coin = Coin(entry.tx.vout[op.n], MEMPOOL_HEIGHT, False)
        bitmap.append(coin is not None)
        if coin is not None:
            found.append(coin)
    tip = ctx.chain.tip
    bitmap_bytes = bytes(sum(1 << j for j in range(8) if i + j < len(bitmap) and bitmap[i + j])
                         for i in range(0, len(bitmap), 8))
    if fmt != "json":
        raw = struct.pack("<i", ctx.chain.height) + tip.hash + compact_size(len(bitmap_bytes)) + \
            bitmap_bytes + compact_size(len(found)) + b"".join(
                struct.pack("<I", c.height) + c.txout.serialize() for c in found)
        return _respond(fmt, raw)
    return web.json_response({
        "chainHeight": ctx.chain.height,
        "chaintipHash": hash_to_hex(tip.hash),
        "bitmap": "".join("1" if b else "0" for b in bitmap),
        "utxos": [{"height": c.height, "value": coins(c.value),
                   "scriptPubKey": core_script_pubkey(c.script_pubkey, ctx.params)}
                  for c in found],
    })


@routes.get("/rest/mempool/info.json")
async def mempool_info(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    pool = ctx.mempool
    return web.json_response({
        "loaded": True,
        "size": len(pool),
        "bytes": pool.total_vsize,
        "usage": pool.memory_usage(),
        "total_fee": coins(pool.total_fees),
        "maxmempool": pool.limits.max_bytes,
        "mempoolminfee": coins(pool.min_fee_rate()),
        "minrelaytxfee": coins(pool.limits.min_relay_fee),
        "incrementalrelayfee": coins(pool.limits.incremental_relay_fee),
        "unbroadcastcount": 0,
        "fullrbf": True,
    })


MAX_MEMPOOL_CONTENTS = 10_000  # a bound on one response; Core has none


@routes.get("/rest/mempool/contents.json")
async def mempool_contents(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    out = {}
    for entry in list(ctx.mempool.entries.values())[:MAX_MEMPOOL_CONTENTS]:
        out[hash_to_hex(entry.txid)] = {
            "vsize": entry.vsize, "weight": entry.tx.weight, "time": entry.time,
            "height": entry.height,
            "descendantcount": entry.descendant_count, "descendantsize": entry.descendant_size,
            "ancestorcount": entry.ancestor_count, "ancestorsize": entry.ancestor_size,
            "wtxid": hash_to_hex(entry.tx.wtxid),
            "fees": {"base": coins(entry.fee), "modified": coins(entry.fee),
                     "ancestor": coins(entry.ancestor_fees),
                     "descendant": coins(entry.descendant_fees)},
            "depends": sorted(hash_to_hex(p.txid) for p in entry.parents),
            "spentby": sorted(hash_to_hex(c.txid) for c in entry.children),
            "bip125-replaceable": True,
        }
    return web.json_response(out)
