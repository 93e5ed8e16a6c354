"""The HTTP API against a real chain and mempool, over aiohttp's in-process test server."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.api.app import create_app, openapi_spec
from node.api.context import ApiContext
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import OutPoint
from node.mempool.fees import FeeEstimator
from node.mining.miner import generate

TOKEN = "t0ken"


def make_ctx(env) -> ApiContext:
    async def gen(n, script):
        return generate(env.chain, env.pool, n, script)

    return ApiContext(env.chain.params, env.chain, env.pool, FeeEstimator(env.pool),
                      cookie=TOKEN, info=lambda: {"network": "regtest",
                                                  "height": env.chain.height},
                      generate=gen)


def call(env, method, path, *, data=None, json=None, headers=None, ctx=None):
    async def go():
        app = create_app(ctx or make_ctx(env))
        async with TestClient(TestServer(app)) as client:
            resp = await client.request(method, path, data=data, json=json, headers=headers)
            body = await resp.read()
            return resp.status, resp.content_type, body
    return asyncio.run(go())


def get_json(env, path):
    import json
    status, ctype, body = call(env, "GET", path)
    assert status == 200, body
    return json.loads(body)


def test_tip_routes_answer_plain_text(env):
    assert call(env, "GET", "/api/blocks/tip/height")[2] == str(env.chain.height).encode()
    assert call(env, "GET", "/api/blocks/tip/hash")[2] == \
        hash_to_hex(env.chain.tip.hash).encode()


def test_block_routes_in_both_families(env):
    tip = env.chain.tip
    h = hash_to_hex(tip.hash)
    block = get_json(env, f"/api/block/{h}")
    assert block["id"] == h and block["height"] == tip.height and block["tx_count"] == 1
    assert get_json(env, f"/api/block/{h}/status") == {"in_best_chain": True,
                                                       "height": tip.height, "next_best": None}
    assert call(env, "GET", f"/api/block-height/{tip.height}")[2] == h.encode()
    blocks = get_json(env, "/api/blocks")
    assert len(blocks) == 10 and blocks[0]["id"] == h
    assert get_json(env, "/api/blocks/5")[0]["height"] == 5
    raw = env.chain.read_block(tip).serialize()
    assert call(env, "GET", f"/rest/block/{h}.bin")[2] == raw
    assert call(env, "GET", f"/rest/block/{h}.hex")[2].strip() == raw.hex().encode()
    core = get_json(env, f"/rest/block/{h}.json")
    assert core["hash"] == h and core["tx"][0]["vin"][0]["coinbase"]
    assert get_json(env, f"/rest/block/notxdetails/{h}.json")["tx"] == \
        [hash_to_hex(env.chain.read_block(tip).txs[0].txid)]
    headers = get_json(env, f"/rest/headers/{hash_to_hex(env.chain.active[3].hash)}.json?count=3")
    assert [x["height"] for x in headers] == [3, 4, 5]
    assert get_json(env, "/rest/blockhashbyheight/7.json") == \
        {"blockhash": hash_to_hex(env.chain.active[7].hash)}
    info = get_json(env, "/rest/chaininfo.json")
    assert info["blocks"] == tip.height and info["chain"] == "regtest"


def test_bad_input_gets_the_right_4xx(env):
    assert call(env, "GET", "/api/block/xyz")[0] == 400
    assert call(env, "GET", "/api/block/" + "00" * 32)[:2] == (404, "text/plain")
    assert call(env, "GET", "/api/block-height/999999")[0] == 404
    assert call(env, "GET", "/api/block-height/-1")[0] == 400
    assert call(env, "GET", "/rest/block/" + "00" * 32 + ".xml")[0] == 404
    status, ctype, body = call(env, "GET", "/no/such/route")
    assert status == 404 and ctype == "application/json" and b"unknown route" in body
    assert call(env, "POST", "/api/tx", data="zz")[0] == 400
    assert call(env, "POST", "/api/tx", data="00" * 500_000)[0] == 413


def test_submitted_transaction_is_in_the_mempool_routes(env):
    tx = env.pay([env.coinbase(1)], fee=4_000)
    status, _, body = call(env, "POST", "/api/tx", data=tx.serialize().hex())
    assert status == 200 and body.decode() == hash_to_hex(tx.txid)
    txid = hash_to_hex(tx.txid)
    esplora = get_json(env, f"/api/tx/{txid}")
    assert esplora["fee"] == 4_000 and esplora["status"] == {"confirmed": False}
    assert esplora["vin"][0]["prevout"]["value"] == env.coinbase(1)[1]
    assert esplora["vout"][0]["scriptpubkey_type"] == "v0_p2wpkh"
    assert esplora["vout"][0]["scriptpubkey_address"].startswith("bcrt1q")
    assert get_json(env, "/api/mempool")["count"] == 1
    assert get_json(env, "/api/mempool/txids") == [txid]
    assert get_json(env, "/rest/mempool/info.json")["size"] == 1
    assert txid in get_json(env, "/rest/mempool/contents.json")
    op = env.coinbase(1)[0]
    utxos = get_json(env, f"/rest/getutxos/checkmempool/{hash_to_hex(op.txid)}-0.json")
    assert utxos["bitmap"] == "0"  # spent by the mempool transaction
    assert get_json(env, f"/rest/getutxos/{hash_to_hex(op.txid)}-0.json")["bitmap"] == "1"
    # The same transaction again: rejected with the mempool's reason.
    status, ctype, body = call(env, "POST", "/api/tx", data=tx.serialize().hex())
    assert status == 400 and b"txn-already-in-mempool" in body


def test_fee_estimates_are_never_empty(env):
    table = get_json(env, "/api/fee-estimates")
    assert set(table) == {str(t) for t in (*range(1, 26), 144, 504, 1008)}
    assert all(v >= 1.0 for v in table.values())


def test_admin_writes_need_the_token(env):
    addr = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    assert call(env, "POST", "/node/generate", json={"blocks": 1, "address": addr})[0] == 401
    wrong = {"Authorization": "Bearer nope"}
    assert call(env, "POST", "/node/generate", json={"blocks": 1, "address": addr},
                headers=wrong)[0] == 401
    ok = {"Authorization": f"Bearer {TOKEN}"}
    height = env.chain.height
    status, _, body = call(env, "POST", "/node/generate", json={"blocks": 2, "address": addr},
                           headers=ok)
    assert status == 200 and env.chain.height == height + 2
    assert call(env, "POST", "/node/generate", json={"blocks": 0, "address": addr},
                headers=ok)[0] == 400
    assert call(env, "POST", "/node/generate", json={"blocks": 1, "address": "tb1qxyz"},
                headers=ok)[0] == 400


def test_submit_block_validates_like_a_peer_block(env):
    ok = {"Authorization": f"Bearer {TOKEN}"}
    good = env.maker.block(env.chain.tip)
    status, _, body = call(env, "POST", "/node/blocks", data=good.serialize().hex(), headers=ok)
    assert status == 200 and body.decode() == hash_to_hex(good.hash)
    bad = env.maker.block(env.chain.tip, reward=10**10)
    status, _, body = call(env, "POST", "/node/blocks", data=bad.serialize().hex(), headers=ok)
    assert status == 400 and b"bad-cb-amount" in body


def test_openapi_documents_every_route_and_every_documented_route_answers(env):
    import json

    spec = json.loads(call(env, "GET", "/openapi.json")[2])
    app = create_app(make_ctx(env))
    assert spec == json.loads(json.dumps(openapi_spec(app)))
    samples = {"hash": hash_to_hex(env.chain.tip.hash), "txid": "00" * 32, "height": "3",
               "start_height": "3", "start": "0", "index": "0", "vout": "0",
               "hash_fmt": hash_to_hex(env.chain.tip.hash) + ".json",
               "txid_fmt": "00" * 32 + ".json", "height_fmt": "3.json",
               "rest": hash_to_hex(OutPoint(b"\0" * 32, 0).txid) + "-0.json"}
    for path, methods in spec["paths"].items():
        for method in methods:
            url = path
            for name, value in samples.items():
                url = url.replace("{" + name + "}", value)
            status = call(env, method.upper(), url, data="" if method == "post" else None)[0]
            assert status not in (404 if "{" not in path else 0, 405, 500), (method, url, status)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(segment=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s and "?" not in s
                                                       and "#" not in s))
def test_no_generated_path_input_makes_a_route_answer_500(env, segment):
    from urllib.parse import quote

    seg = quote(segment, safe="")
    for template in ("/api/block/{}", "/api/tx/{}", "/api/block-height/{}", "/api/blocks/{}",
                     "/rest/block/{}", "/rest/tx/{}", "/rest/headers/{}",
                     "/rest/blockhashbyheight/{}", "/rest/getutxos/{}",
                     "/api/tx/{}/outspend/{}", "/api/block/{}/txs/{}"):
        url = template.replace("{}", seg)
        assert call(env, "GET", url)[0] < 500, url


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(segment=st.text(min_size=1, max_size=90).filter(lambda s: "/" not in s and "?" not in s
                                                       and "#" not in s),
       body=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(bytes.hex)))
def test_no_generated_input_to_address_or_post_routes_makes_a_500(env, segment, body):
    from urllib.parse import quote

    seg = quote(segment, safe="")
    for template in ("/api/address/{}", "/api/address/{}/txs", "/api/address/{}/utxo",
                     "/api/scripthash/{}", "/api/scripthash/{}/txs/chain/{}",
                     "/api/address/{}/txs/mempool"):
        assert call(env, "GET", template.replace("{}", seg))[0] < 500
    ok = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/tx", "/node/blocks", "/node/generate", "/node/mining"):
        assert call(env, "POST", path, data=body, headers=ok)[0] < 500, (path, body)


class _FakeP2P:
    """Just enough of the P2P service for the peer routes: no peers at all."""

    def disconnect(self, peer_id: int) -> bool:
        return False


def test_a_peer_id_too_long_to_be_one_is_a_400_not_a_500(env):
    ok = {"Authorization": f"Bearer {TOKEN}"}
    ctx = make_ctx(env)
    ctx.p2p = _FakeP2P()
    status, _, body = call(env, "DELETE", "/node/peers/" + "9" * 5000, headers=ok, ctx=ctx)
    assert status == 400 and b"peer id" in body, body
    assert call(env, "DELETE", "/node/peers/x1", headers=ok, ctx=ctx)[0] == 400
    assert call(env, "DELETE", "/node/peers/7", headers=ok, ctx=ctx)[0] == 404
