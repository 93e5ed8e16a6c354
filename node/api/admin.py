"""Node administration (``/node/...``). Reads are open; writes need
``Authorization: Bearer <token>`` with the token from ``<datadir>/.cookie``."""

from __future__ import annotations

from aiohttp import web

from node.config import parse_hostport
from node.consensus.errors import DecodeError, ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Block
from node.consensus.serialize import from_bytes
from node.cookie import check_authorization
from node.mining import MAX_MINING_INTERVAL, is_mining_interval

from .context import CTX_KEY, ApiContext
from .errors import ApiError, bad_request, not_found
from .validate import address_param, hex_body, int_param

routes = web.RouteTableDef()
MAX_GENERATE = 1_000
MAX_BAN_SECONDS = 10 * 365 * 86400
DEFAULT_BAN_SECONDS = 86400  # Core: DEFAULT_MISBEHAVING_BANTIME, setban's default


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CTX_KEY]


def require_token(request: web.Request) -> ApiContext:
    ctx = _ctx(request)
    if ctx.cookie is None or \
            not check_authorization(request.headers.get("Authorization"), ctx.cookie):
        raise ApiError(401, "missing or wrong token: send 'Authorization: Bearer <token>' "
                            "with the token from <datadir>/.cookie")
    return ctx


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


@routes.get("/node/info")
async def info(request: web.Request) -> web.Response:
    return web.json_response(_ctx(request).info())


@routes.get("/node/peers")
async def peers(request: web.Request) -> web.Response:
    return web.json_response(_ctx(request).info().get("peer_list", []))


def _p2p(ctx: ApiContext):
    if ctx.p2p is None:
        raise ApiError(503, "this server runs no P2P network")
    return ctx.p2p


@routes.post("/node/peers")
async def connect_peer(request: web.Request) -> web.Response:
    """Connect to a peer now, once (Core: addnode ... onetry); answers its peer entry."""
    ctx = require_token(request)
    p2p = _p2p(ctx)
    address = (await _json_body(request)).get("address")
    if not isinstance(address, str):
        raise bad_request("'address' (HOST:PORT of the peer) is required")
    try:
        host, port = parse_hostport(address, ctx.params.default_port)
    except ValueError as e:
        raise bad_request(f"'address': {e}") from None
    try:
        peer = await p2p.connect(host, port)
    except ConnectionError as e:
        raise ApiError(502, str(e)) from None
    return web.json_response(peer.info())


@routes.delete("/node/peers/{peer_id}")
async def disconnect_peer(request: web.Request) -> web.Response:
    ctx = require_token(request)
    peer_id = int_param(request.match_info["peer_id"], "peer id")
    if not _p2p(ctx).disconnect(peer_id):
        raise not_found(f"no peer {peer_id}")
    return web.json_response({"disconnected": peer_id})


@routes.get("/node/bans")
async def list_bans(request: web.Request) -> web.Response:
    return web.json_response(_p2p(_ctx(request)).list_bans())


@routes.post("/node/bans")
async def add_ban(request: web.Request) -> web.Response:
    """Ban a host or subnet (Core: setban add); its peers are disconnected."""
    ctx = require_token(request)
    body = await _json_body(request)
    address = body.get("address")
    if not isinstance(address, str):
        raise bad_request("'address' (an IP address or subnet) is required")
    seconds = body.get("seconds", DEFAULT_BAN_SECONDS)
    if not isinstance(seconds, int) or isinstance(seconds, bool) \
            or not 1 <= seconds <= MAX_BAN_SECONDS:
        raise bad_request(f"'seconds' must be a whole number from 1 to {MAX_BAN_SECONDS}")
    p2p = _p2p(ctx)
    try:
        p2p.ban(address, seconds)
    except ValueError as e:
        raise bad_request(f"'address': {e}") from None
    return web.json_response(p2p.list_bans())


@routes.delete("/node/bans/{address:.+}")
async def remove_ban(request: web.Request) -> web.Response:
    ctx = require_token(request)
    address = request.match_info["address"]
    try:
        removed = _p2p(ctx).unban(address)
    except ValueError as e:
        raise bad_request(f"address: {e}") from None
    if not removed:
        raise not_found(f"{address} is not banned")
    return web.json_response({"unbanned": address})


@routes.get("/node/utxo-stats")
async def utxo_stats(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    stats = ctx.chain.utxo_stats()
    index = ctx.chain.index.get(stats.best_block)
    return web.json_response({"count": stats.count, "total_amount": stats.total_amount,
                              "hash": stats.hash_serialized,
                              "best_block": hash_to_hex(stats.best_block),
                              "height": index.height if index else None})


@routes.post("/node/generate")
async def generate(request: web.Request) -> web.Response:
    ctx = require_token(request)
    if ctx.generate is None or ctx.params.name not in ("regtest", "devnet"):
        raise bad_request(f"generate is for regtest and devnet, not {ctx.params.name}")
    body = await _json_body(request)
    n = body.get("blocks", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_GENERATE:
        raise bad_request(f"'blocks' must be a whole number from 1 to {MAX_GENERATE}")
    address = body.get("address")
    if not isinstance(address, str):
        raise bad_request("'address' (the address paid by the coinbases) is required")
    script = address_param(address, ctx.params)
    hashes = await ctx.generate(n, script)
    return web.json_response([hash_to_hex(h) for h in hashes])


@routes.post("/node/mining")
async def mining(request: web.Request) -> web.Response:
    ctx = require_token(request)
    if ctx.set_mining is None:
        raise bad_request(f"mining is for regtest and devnet, not {ctx.params.name}")
    body = await _json_body(request)
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise bad_request("'enabled' must be true or false")
    script = None
    if body.get("address") is not None:
        if not isinstance(body["address"], str):
            raise bad_request("'address' must be a string")
        script = address_param(body["address"], ctx.params)
    interval = body.get("interval")
    if interval is not None and (not isinstance(interval, int | float)
                                 or isinstance(interval, bool)
                                 or not is_mining_interval(interval)):
        raise bad_request(f"'interval' must be a number of seconds from 0 to {MAX_MINING_INTERVAL}")
    return web.json_response(await ctx.set_mining(enabled, script, interval))


@routes.post("/node/blocks")
async def submit_block(request: web.Request) -> web.Response:
    ctx = require_token(request)
    try:
        raw = hex_body(await request.text(), "block")
        block = from_bytes(Block, raw)
    except DecodeError as e:
        raise bad_request(f"block decode failed: {e}") from None
    try:
        index = await ctx.process_block(block, raw)
    except ValidationError as e:
        raise bad_request(e.reason) from None
    if index is None:
        raise bad_request("inconclusive: the block's parent is unknown (kept as an orphan)")
    return web.Response(text=hash_to_hex(block.hash), content_type="text/plain")


@routes.post("/node/stop")
async def stop(request: web.Request) -> web.Response:
    ctx = require_token(request)
    if ctx.request_stop is None:
        raise ApiError(503, "this server cannot stop its node")
    ctx.request_stop()
    return web.json_response({"stopping": True})
