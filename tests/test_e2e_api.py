"""End to end on a live regtest node over real HTTP: mine, look things up in all three API
families, send a transaction, confirm it, then replace the chain with a longer branch and see
every index and route follow."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from node.chain.index import BlockIndex
from node.consensus.address import script_to_address
from node.consensus.hashes import hash_to_hex, hex_to_hash
from node.consensus.params import REGTEST
from node.consensus.primitives import BlockHeader, OutPoint, TxOut
from node.consensus.serialize import ByteReader

from .chain.builder import BlockMaker
from .node_process import start_node, wait_for_lines
from .ports import free_port


class Http:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def text(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return r.read().decode()

    def get(self, path: str):
        return json.loads(self.text(path))

    def post(self, path: str, body: str, admin: bool = False) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if admin else {}
        req = urllib.request.Request(self.base + path, data=body.encode(), method="POST",
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def test_user_story_over_http_including_a_reorg(tmp_path):
    datadir = tmp_path / "n"
    port = free_port()
    proc = start_node(datadir, "--mining-workers", "1", rest_bind=f"127.0.0.1:{port}")
    try:
        wait_for_lines(proc, "REST API on", 1)
        http = Http(f"http://127.0.0.1:{port}", (datadir / ".cookie").read_text().strip())
        maker = BlockMaker()
        address = script_to_address(maker.wallet.script_pubkey, REGTEST)

        # Mine 105 blocks to our key: coinbases 1..5 are mature.
        status, body = http.post("/node/generate", json.dumps({"blocks": 105,
                                                               "address": address}), admin=True)
        assert status == 200, body
        assert http.text("/api/blocks/tip/height") == "105"
        tip = http.text("/api/blocks/tip/hash")
        assert http.get("/rest/blockhashbyheight/105.json")["blockhash"] == tip
        assert http.get(f"/api/block/{tip}")["height"] == 105
        assert http.get("/node/info")["height"] == 105

        # Spend the coinbase of block 1.
        b1 = http.text("/api/block-height/1")
        cb_txid = http.text(f"/api/block/{b1}/txid/0")
        cb = http.get(f"/api/tx/{cb_txid}")
        value = cb["vout"][0]["value"]
        tx = maker.wallet.spend([(OutPoint(hex_to_hash(cb_txid), 0), value)],
                                [TxOut(value - 5_000, maker.wallet.script_pubkey)])
        txid = hash_to_hex(tx.txid)
        assert http.post("/api/tx", tx.serialize().hex()) == (200, txid)
        assert txid in http.get("/api/mempool/txids")
        assert http.get(f"/api/tx/{txid}")["status"] == {"confirmed": False}
        assert http.get(f"/api/tx/{txid}")["fee"] == 5_000
        assert http.get(f"/api/address/{address}/txs/mempool")[0]["txid"] == txid
        assert http.get(f"/api/tx/{cb_txid}/outspend/0")["txid"] == txid
        assert any(u["txid"] == txid for u in http.get(f"/api/address/{address}/utxo"))
        assert http.get(f"/rest/tx/{txid}.json")["txid"] == txid

        # Confirm it.
        http.post("/node/generate", json.dumps({"blocks": 1, "address": address}), admin=True)
        confirmed = http.get(f"/api/tx/{txid}")["status"]
        assert confirmed["confirmed"] and confirmed["block_height"] == 106
        assert http.get("/api/mempool")["count"] == 0
        assert http.get(f"/api/address/{address}/txs/chain")[0]["txid"] == txid
        old_tip = http.text("/api/blocks/tip/hash")

        # A longer branch from block 105 (without our transaction): two blocks beat one.
        fork_hex = http.text(f"/api/block/{tip}/header")
        fork = BlockIndex(BlockHeader.parse(ByteReader(bytes.fromhex(fork_hex))), 105, None)
        prev = fork
        maker.extra = 999
        for _ in range(2):
            block = maker.block(prev)
            status, body = http.post("/node/blocks", block.serialize().hex(), admin=True)
            assert status == 200, body
            prev = BlockIndex(block.header, prev.height + 1, None)
        assert http.text("/api/blocks/tip/hash") == hash_to_hex(prev.hash)
        assert http.text("/api/blocks/tip/height") == "107"

        # Every view follows the new chain: the old tip is off the best chain, the transaction
        # is back in the mempool, the histories and the spender say so.
        assert http.get(f"/api/block/{old_tip}/status")["in_best_chain"] is False
        assert http.get(f"/api/tx/{txid}")["status"] == {"confirmed": False}
        assert txid in http.get("/api/mempool/txids")
        assert all(t["txid"] != txid for t in http.get(f"/api/address/{address}/txs/chain"))
        assert http.get(f"/api/address/{address}/txs/mempool")[0]["txid"] == txid
        assert http.get(f"/api/tx/{cb_txid}/outspend/0")["status"] == {"confirmed": False}
        assert http.get("/rest/chaininfo.json")["bestblockhash"] == hash_to_hex(prev.hash)
        assert http.get("/rest/blockhashbyheight/106.json")["blockhash"] != old_tip
        info = http.get(f"/api/address/{address}")
        assert info["mempool_stats"]["tx_count"] == 1

        assert http.post("/node/stop", "{}", admin=True)[0] == 200
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
