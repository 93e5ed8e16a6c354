"""The Esplora-compatible API (``/api/...``): the paths, fields and paging of the Esplora API
served by public block explorers, so that existing Esplora clients work with base URL
``http://HOST:PORT/api``. Text answers are plain text, as in Esplora."""

from __future__ import annotations

from aiohttp import web

from node.consensus.errors import DecodeError, ValidationError
from node.consensus.hashes import hash_to_hex, sha256
from node.consensus.merkle import merkle_branch
from node.consensus.primitives import OutPoint, Tx
from node.consensus.serialize import from_bytes
from node.index import TooManyUtxos

from .context import CTX_KEY, ApiContext
from .errors import ApiError, bad_request, not_found
from .formats import TxStatus, esplora_block, esplora_tx, find_tx, status_json
from .validate import address_param, hash_param, hex_body, int_param

routes = web.RouteTableDef()

TXS_PER_PAGE = 25  # Esplora: block txs and confirmed history pages
BLOCKS_PER_PAGE = 10
MEMPOOL_RECENT = 10
MAX_TX_BODY = 400_000 * 2 + 2  # hex of the largest standard transaction (400,000 WU)


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CTX_KEY]


def _text(value: object) -> web.Response:
    return web.Response(text=str(value), content_type="text/plain")


def _tx_or_404(ctx: ApiContext, txid_hex: str):
    found = find_tx(ctx, hash_param(txid_hex, "txid"))
    if found is None:
        raise ApiError(404, "Transaction not found", text=True)
    return found


# -- transactions ------------------------------------------------------------------------------

@routes.get("/api/tx/{txid}")
async def tx(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    t, status = _tx_or_404(ctx, request.match_info["txid"])
    return web.json_response(esplora_tx(ctx, t, status))


@routes.get("/api/tx/{txid}/status")
async def tx_status(request: web.Request) -> web.Response:
    _, status = _tx_or_404(_ctx(request), request.match_info["txid"])
    return web.json_response(status_json(status))


@routes.get("/api/tx/{txid}/hex")
async def tx_hex(request: web.Request) -> web.Response:
    t, _ = _tx_or_404(_ctx(request), request.match_info["txid"])
    return _text(t.serialize().hex())


@routes.get("/api/tx/{txid}/raw")
async def tx_raw(request: web.Request) -> web.Response:
    t, _ = _tx_or_404(_ctx(request), request.match_info["txid"])
    return web.Response(body=t.serialize(), content_type="application/octet-stream")


@routes.get("/api/tx/{txid}/merkle-proof")
async def tx_merkle_proof(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    t, status = _tx_or_404(ctx, request.match_info["txid"])
    if status.block is None:
        raise ApiError(400, "Transaction not confirmed", text=True)
    block = ctx.chain.read_block(status.block.hash)
    assert block is not None
    branch = merkle_branch([x.txid for x in block.txs], status.position)
    return web.json_response({"block_height": status.block.height,
                              "merkle": [hash_to_hex(h) for h in branch],
                              "pos": status.position})


def _outspend(ctx: ApiContext, outpoint: OutPoint) -> dict:
    if ctx.indexes is None:
        raise ApiError(503, "the spending index is disabled (node runs with --no-index)")
    spender = ctx.indexes.spender(outpoint)
    if spender is None:
        return {"spent": False}
    return {"spent": True, "txid": hash_to_hex(spender.txid), "vin": spender.vin,
            "status": _status_at(ctx, spender.height)}


def _status_at(ctx: ApiContext, height: int | None) -> dict:
    """Esplora's status of something confirmed at ``height`` of the active chain (or None:
    in the mempool)."""
    return status_json(TxStatus(None if height is None else ctx.chain.at_height(height)))


@routes.get("/api/tx/{txid}/outspend/{vout}")
async def tx_outspend(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    t, _ = _tx_or_404(ctx, request.match_info["txid"])
    n = int_param(request.match_info["vout"], "output index", 0, len(t.vout) - 1)
    return web.json_response(_outspend(ctx, OutPoint(t.txid, n)))


@routes.get("/api/tx/{txid}/outspends")
async def tx_outspends(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    t, _ = _tx_or_404(ctx, request.match_info["txid"])
    return web.json_response([_outspend(ctx, OutPoint(t.txid, n)) for n in range(len(t.vout))])


@routes.post("/api/tx")
async def post_tx(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    if request.content_length is not None and request.content_length > MAX_TX_BODY:
        raise ApiError(413, "transaction too large", text=True)
    body = await request.text()
    try:
        raw = hex_body(body)
        tx = from_bytes(Tx, raw)
    except (ApiError, DecodeError) as e:
        raise ApiError(400, f"TX decode failed: {e}", text=True) from None
    try:
        await ctx.accept_tx(tx)
    except ValidationError as e:
        raise ApiError(400, f"sendrawtransaction RPC error: {e.reason}", text=True) from None
    return _text(hash_to_hex(tx.txid))


# -- blocks ------------------------------------------------------------------------------------

def _block(ctx: ApiContext, hash_hex: str):
    block_hash = hash_param(hash_hex, "block hash")
    index = ctx.chain.index.get(block_hash)
    block = ctx.chain.read_block(block_hash) if index is not None else None
    if index is None or block is None:
        raise ApiError(404, "Block not found", text=True)
    return index, block


@routes.get("/api/block/{hash}")
async def block(request: web.Request) -> web.Response:
    index, blk = _block(_ctx(request), request.match_info["hash"])
    return web.json_response(esplora_block(index, blk))


@routes.get("/api/block/{hash}/status")
async def block_status(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    index, _ = _block(ctx, request.match_info["hash"])
    active = ctx.chain.is_active(index)
    d: dict = {"in_best_chain": active}
    if active:
        d["height"] = index.height
        nxt = ctx.chain.at_height(index.height + 1)
        d["next_best"] = hash_to_hex(nxt.hash) if nxt else None
    return web.json_response(d)


@routes.get("/api/block/{hash}/header")
async def block_header(request: web.Request) -> web.Response:
    index, _ = _block(_ctx(request), request.match_info["hash"])
    return _text(index.header.serialize().hex())


@routes.get("/api/block/{hash}/raw")
async def block_raw(request: web.Request) -> web.Response:
    _, blk = _block(_ctx(request), request.match_info["hash"])
    return web.Response(body=blk.serialize(), content_type="application/octet-stream")


@routes.get("/api/block/{hash}/txids")
async def block_txids(request: web.Request) -> web.Response:
    _, blk = _block(_ctx(request), request.match_info["hash"])
    return web.json_response([hash_to_hex(t.txid) for t in blk.txs])


@routes.get("/api/block/{hash}/txid/{index}")
async def block_txid(request: web.Request) -> web.Response:
    _, blk = _block(_ctx(request), request.match_info["hash"])
    i = int_param(request.match_info["index"], "index", 0, len(blk.txs) - 1)
    return _text(hash_to_hex(blk.txs[i].txid))


@routes.get("/api/block/{hash}/txs")
@routes.get("/api/block/{hash}/txs/{start}")
async def block_txs(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    index, blk = _block(ctx, request.match_info["hash"])
    start = int_param(request.match_info.get("start", "0"), "start index")
    if start % TXS_PER_PAGE:
        raise bad_request(f"start index must be a multiple of {TXS_PER_PAGE}")
    if start >= len(blk.txs):
        raise not_found("start index out of range")
    return web.json_response([esplora_tx(ctx, t, TxStatus(index, start + i)) for i, t in
                              enumerate(blk.txs[start:start + TXS_PER_PAGE])])


@routes.get("/api/block-height/{height}")
async def block_height(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    index = ctx.chain.at_height(int_param(request.match_info["height"], "height"))
    if index is None:
        raise ApiError(404, "Block not found", text=True)
    return _text(hash_to_hex(index.hash))


@routes.get("/api/blocks")
@routes.get("/api/blocks/{start_height}")
async def blocks(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    chain = ctx.chain
    start = chain.height
    if "start_height" in request.match_info:
        start = min(int_param(request.match_info["start_height"], "start height"), chain.height)
    out = []
    for h in range(start, max(start - BLOCKS_PER_PAGE, -1), -1):
        index = chain.active[h]
        blk = chain.read_block(index)
        if blk is not None:
            out.append(esplora_block(index, blk))
    return web.json_response(out)


@routes.get("/api/blocks/tip/height")
async def tip_height(request: web.Request) -> web.Response:
    return _text(_ctx(request).chain.height)


@routes.get("/api/blocks/tip/hash")
async def tip_hash(request: web.Request) -> web.Response:
    return _text(hash_to_hex(_ctx(request).chain.tip.hash))


# -- mempool and fees --------------------------------------------------------------------------

@routes.get("/api/mempool")
async def mempool(request: web.Request) -> web.Response:
    pool = _ctx(request).mempool
    # Esplora's histogram: [fee rate, vsize] pairs, from high to low fee rates, each bucket
    # closing once it holds at least ~100 kvB (a fraction of a block).
    entries = sorted(pool.entries.values(), key=lambda e: e.fee_rate, reverse=True)
    histogram: list[list[float]] = []
    bucket_size = 0
    for e in entries:
        bucket_size += e.vsize
        if bucket_size >= 100_000:
            histogram.append([round(e.fee_rate, 3), bucket_size])
            bucket_size = 0
    if bucket_size and entries:
        histogram.append([round(entries[-1].fee_rate, 3), bucket_size])
    return web.json_response({"count": len(pool), "vsize": pool.total_vsize,
                              "total_fee": pool.total_fees, "fee_histogram": histogram})


@routes.get("/api/mempool/txids")
async def mempool_txids(request: web.Request) -> web.Response:
    return web.json_response([hash_to_hex(t) for t in _ctx(request).mempool.entries])


@routes.get("/api/mempool/recent")
async def mempool_recent(request: web.Request) -> web.Response:
    pool = _ctx(request).mempool
    recent = sorted(pool.entries.values(), key=lambda e: e.time, reverse=True)[:MEMPOOL_RECENT]
    return web.json_response([{"txid": hash_to_hex(e.txid), "fee": e.fee, "vsize": e.vsize,
                               "value": sum(o.value for o in e.tx.vout)} for e in recent])


@routes.get("/api/fee-estimates")
async def fee_estimates(request: web.Request) -> web.Response:
    table = _ctx(request).fees.estimates()
    return web.json_response({str(k): v for k, v in table.items()})


# -- addresses and script hashes -----------------------------------------------------------------

MEMPOOL_TXS_PER_PAGE = 50  # Esplora: up to 50 mempool txs in /txs and /txs/mempool
MAX_UTXOS = 5_000  # a bound on one /utxo answer (Esplora refuses beyond its own limit)


def _indexes(ctx: ApiContext):
    if ctx.indexes is None:
        raise ApiError(503, "the address index is disabled (node runs with --no-index)")
    return ctx.indexes


def _address_target(request: web.Request) -> tuple[bytes, dict]:
    """The script hash a route is about, and the identifying fields of its JSON."""
    ctx = _ctx(request)
    if "address" in request.match_info:
        address = request.match_info["address"]
        script = address_param(address, ctx.params)
        return sha256(script), {"address": address}
    sh_hex = request.match_info["scripthash"]
    return hash_param(sh_hex, "script hash"), {"scripthash": sh_hex.lower()}


def _stats_json(s) -> dict:
    return {"funded_txo_count": s.funded_txo_count, "funded_txo_sum": s.funded_txo_sum,
            "spent_txo_count": s.spent_txo_count, "spent_txo_sum": s.spent_txo_sum,
            "tx_count": s.tx_count}


@routes.get("/api/address/{address}")
@routes.get("/api/scripthash/{scripthash}")
async def address_info(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    sh, ident = _address_target(request)
    stats = _indexes(ctx).scripthash_stats(sh)
    return web.json_response({**ident, "chain_stats": _stats_json(stats.chain),
                              "mempool_stats": _stats_json(stats.mempool)})


def _mempool_txs(ctx: ApiContext, sh: bytes) -> list[dict]:
    out = []
    for txid in _indexes(ctx).history_mempool(sh, MEMPOOL_TXS_PER_PAGE):
        entry = ctx.mempool.get(txid)
        if entry is not None:
            out.append(esplora_tx(ctx, entry.tx, TxStatus(None)))
    return out


def _chain_txs(ctx: ApiContext, sh: bytes, after: bytes | None) -> list[dict]:
    out = []
    for item in _indexes(ctx).history_chain(sh, after, TXS_PER_PAGE):
        found = find_tx(ctx, item.txid)
        if found is not None:
            out.append(esplora_tx(ctx, *found))
    return out


@routes.get("/api/address/{address}/txs")
@routes.get("/api/scripthash/{scripthash}/txs")
async def address_txs(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    sh, _ = _address_target(request)
    return web.json_response(_mempool_txs(ctx, sh) + _chain_txs(ctx, sh, None))


@routes.get("/api/address/{address}/txs/chain")
@routes.get("/api/address/{address}/txs/chain/{last_seen_txid}")
@routes.get("/api/scripthash/{scripthash}/txs/chain")
@routes.get("/api/scripthash/{scripthash}/txs/chain/{last_seen_txid}")
async def address_txs_chain(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    sh, _ = _address_target(request)
    last = request.match_info.get("last_seen_txid")
    after = hash_param(last, "last seen txid") if last is not None else None
    return web.json_response(_chain_txs(ctx, sh, after))


@routes.get("/api/address/{address}/txs/mempool")
@routes.get("/api/scripthash/{scripthash}/txs/mempool")
async def address_txs_mempool(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    sh, _ = _address_target(request)
    return web.json_response(_mempool_txs(ctx, sh))


@routes.get("/api/address/{address}/utxo")
@routes.get("/api/scripthash/{scripthash}/utxo")
async def address_utxo(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    sh, _ = _address_target(request)
    try:
        utxos = _indexes(ctx).utxos(sh, MAX_UTXOS)
    except TooManyUtxos:
        raise bad_request(f"Too many unspent transaction outputs (over {MAX_UTXOS})") from None
    out = []
    for u in utxos:
        out.append({"txid": hash_to_hex(u.outpoint.txid), "vout": u.outpoint.n,
                    "status": _status_at(ctx, u.height), "value": u.value})
    return web.json_response(out)
