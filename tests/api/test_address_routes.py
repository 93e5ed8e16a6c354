"""Esplora's address and script-hash routes, backed by the indexes."""

from __future__ import annotations

import json

import pytest

from node.consensus.address import script_to_address
from node.consensus.hashes import hash_to_hex, sha256
from node.index import Indexes

from .test_api import call, make_ctx


@pytest.fixture
def indexed(env):
    idx = Indexes(env.chain.datadir, env.chain, env.pool)
    idx.start()
    ctx = make_ctx(env)
    ctx.indexes = idx
    yield env, ctx
    idx.stop()


def get(env, ctx, path):
    status, _, body = call(env, "GET", path, ctx=ctx)
    assert status == 200, (path, body)
    return json.loads(body)


def test_address_stats_history_paging_and_utxos(indexed):
    env, ctx = indexed
    address = script_to_address(env.wallet.script_pubkey, env.chain.params)
    sh_hex = hash_to_hex(sha256(env.wallet.script_pubkey))
    info = get(env, ctx, f"/api/address/{address}")
    assert info["address"] == address
    assert info["chain_stats"]["funded_txo_count"] == env.chain.height  # every coinbase
    assert info["mempool_stats"]["tx_count"] == 0
    assert get(env, ctx, f"/api/scripthash/{sh_hex}")["chain_stats"] == info["chain_stats"]

    tx = env.pay([env.coinbase(1)], fee=2_000)
    env.pool.accept(tx)
    page = get(env, ctx, f"/api/address/{address}/txs")
    assert page[0]["txid"] == hash_to_hex(tx.txid)  # mempool first
    assert len(page) == 1 + 25
    chain_page = get(env, ctx, f"/api/address/{address}/txs/chain")
    heights = [t["status"]["block_height"] for t in chain_page]
    assert heights == sorted(heights, reverse=True) and len(heights) == 25
    nxt = get(env, ctx, f"/api/address/{address}/txs/chain/{chain_page[-1]['txid']}")
    assert nxt[0]["status"]["block_height"] == heights[-1] - 1
    assert get(env, ctx, f"/api/address/{address}/txs/mempool")[0]["txid"] == \
        hash_to_hex(tx.txid)
    utxos = get(env, ctx, f"/api/address/{address}/utxo")
    spent = env.coinbase(1)[0]
    assert {(u["txid"], u["vout"]) for u in utxos}.isdisjoint(
        {(hash_to_hex(spent.txid), spent.n)})
    assert any(not u["status"]["confirmed"] for u in utxos)

    # Outspends through the spender index.
    cb_txid = hash_to_hex(spent.txid)
    assert get(env, ctx, f"/api/tx/{cb_txid}/outspend/0")["txid"] == hash_to_hex(tx.txid)
    assert get(env, ctx, f"/api/tx/{hash_to_hex(tx.txid)}/outspends") == [{"spent": False}] * 2


def test_confirmed_tx_lookup_uses_the_tx_index(indexed):
    env, ctx = indexed
    tx = env.pay([env.coinbase(2)], fee=3_000)
    env.pool.accept(tx)
    env.mine([tx])
    d = get(env, ctx, f"/api/tx/{hash_to_hex(tx.txid)}")
    assert d["status"]["confirmed"] and d["status"]["block_height"] == env.chain.height
    assert d["fee"] == 3_000
    proof = get(env, ctx, f"/api/tx/{hash_to_hex(tx.txid)}/merkle-proof")
    assert proof["pos"] == 1 and proof["block_height"] == env.chain.height
    assert get(env, ctx, f"/rest/tx/{hash_to_hex(tx.txid)}.json")["confirmations"] == 1


def test_routes_needing_an_index_answer_503_without_one(env):
    address = script_to_address(env.wallet.script_pubkey, env.chain.params)
    status, _, body = call(env, "GET", f"/api/address/{address}")
    assert status == 503 and b"--no-index" in body
    op = env.coinbase(3)[0]
    assert call(env, "GET", f"/api/tx/{hash_to_hex(op.txid)}")[0] == 503


def test_address_of_another_network_is_a_400(env):
    status, _, body = call(env, "GET", "/api/address/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert status == 400 and b"network 'main'" in body
