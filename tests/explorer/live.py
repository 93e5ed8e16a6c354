"""What the explorer's browser tests stand on: a live regtest node with real data (blocks, a
block of 32 transactions, a confirmed payment with a fee whose output an unconfirmed
transaction spends, addresses with history) and headless Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from node.consensus.address import p2pkh_script, script_to_address
from node.consensus.hashes import hash160
from node.consensus.params import COIN, REGTEST
from node.consensus.primitives import OutPoint, TxOut

from ..chain.builder import Wallet
from ..node_process import ROOT, drain_stderr, start_node, wait_for_lines
from ..ports import free_port
from ..test_e2e_api import Http

CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Chromium from phoning home and from needing a sandbox or a GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "tests" / "artifacts" / "explorer"

BATCH = 30  # coinbases spent into the big block: with the payment, two pages of 25
PAYMENT_FEE = 5_000
PENDING_FEE = 3_000


def playwright_or_skip():
    """Playwright's sync API, or a skip saying what is missing; in CI a failure instead, so
    the browser tests can never silently stop running there."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "the playwright package is missing (pip install -e '.[dev]')"
        sync_playwright = None
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}")
    return sync_playwright


# -- the same formatting as the page (format.js), to compare what it shows with the API -------

def coins(sat: int) -> str:
    sign = "-" if sat < 0 else ""
    return f"{sign}{abs(sat) // COIN}.{abs(sat) % COIN:08d} BTC"


def signed_coins(sat: int) -> str:
    return ("+" if sat > 0 else "") + coins(sat)


def count(n: int) -> str:
    return f"{n:,}"


def utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def vsize(tx: dict) -> int:
    return -(-tx["weight"] // 4)


def fee_rate(fee: int, size: int) -> str:
    return f"{fee / size:.2f} sat/vB"


# -- the node and its data --------------------------------------------------------------------

@dataclass
class Chain:
    """A running node and the objects the tests look at (hex ids as the API shows them)."""
    base: str
    http: Http
    proc: subprocess.Popen
    miner: Wallet
    miner_address: str
    payee: Wallet
    payee_address: str
    big_block: str  # 1 coinbase + BATCH coinbase spends + the payment
    payment: str  # confirmed: pays the payee, fee PAYMENT_FEE
    pending: str  # unconfirmed: spends the payment's output 0 to a P2PKH address
    next_coinbase_height: int  # the next unspent mature coinbase

    def generate(self, blocks: int, address: str | None = None) -> list[str]:
        status, body = self.http.post("/node/generate", json.dumps(
            {"blocks": blocks, "address": address or self.miner_address}), admin=True)
        assert status == 200, body
        return json.loads(body)

    def send(self, tx) -> str:
        status, body = self.http.post("/api/tx", tx.serialize().hex())
        assert status == 200, body
        return body

    def coinbase(self, height: int) -> tuple[OutPoint, int]:
        """The miner's coinbase output at ``height`` and its value."""
        block = self.http.text(f"/api/block-height/{height}")
        txid = self.http.text(f"/api/block/{block}/txid/0")
        value = self.http.get(f"/api/tx/{txid}")["vout"][0]["value"]
        return OutPoint(bytes.fromhex(txid)[::-1], 0), value

    def spend_coinbase(self, height: int, fee: int = 1_000):
        """A transaction paying the miner's coinbase at ``height`` back to the miner."""
        outpoint, value = self.coinbase(height)
        return self.miner.spend([(outpoint, value)],
                                [TxOut(value - fee, self.miner.script_pubkey)])

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.http.post("/node/stop", "{}", admin=True)
                self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def start_chain(datadir: Path) -> Chain:
    port = free_port()
    proc = start_node(datadir, "--mining-workers", "1", rest_bind=f"127.0.0.1:{port}")
    try:
        wait_for_lines(proc, "REST API on", 1)
        drain_stderr(proc)
        return _fill(proc, port, datadir)
    except BaseException:
        proc.kill()
        raise


def _fill(proc: subprocess.Popen, port: int, datadir: Path) -> Chain:
    base = f"http://127.0.0.1:{port}"
    http = Http(base, (datadir / ".cookie").read_text().strip())
    miner, payee = Wallet(b"explorer miner"), Wallet(b"explorer payee")
    chain = Chain(base, http, proc, miner, script_to_address(miner.script_pubkey, REGTEST),
                  payee, script_to_address(payee.script_pubkey, REGTEST), "", "", "", 0)
    # Coinbases 1..BATCH+1 mature once the chain is 100 blocks past them.
    chain.generate(BATCH + REGTEST.coinbase_maturity)

    # The payment: 10 coins to the payee, change to the miner.
    outpoint, value = chain.coinbase(1)
    payment = miner.spend([(outpoint, value)], [
        TxOut(10 * COIN, payee.script_pubkey),
        TxOut(value - 10 * COIN - PAYMENT_FEE, miner.script_pubkey)])
    chain.payment = chain.send(payment)
    for height in range(2, BATCH + 2):
        chain.send(chain.spend_coinbase(height, fee=1_000 + 37 * height))
    chain.big_block = chain.generate(1)[0]
    assert chain.http.get(f"/api/block/{chain.big_block}")["tx_count"] == BATCH + 2

    # The pending spend of the payment's first output, to a legacy address.
    elsewhere = p2pkh_script(hash160(b"explorer elsewhere"))
    pending = payee.spend([(OutPoint(payment.txid, 0), 10 * COIN)],
                          [TxOut(4 * COIN, elsewhere),
                           TxOut(6 * COIN - PENDING_FEE, payee.script_pubkey)])
    chain.pending = chain.send(pending)
    chain.next_coinbase_height = BATCH + 2
    return chain
