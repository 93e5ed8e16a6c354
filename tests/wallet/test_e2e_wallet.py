"""The wallet's user story against a live regtest node, through the CLI as a person (or a
script, with --json and MINICASH_WALLET_PASSWORD) would use it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.client import NodeClient
from node.consensus.params import COIN
from wallet.cli import main

from ..node_process import drain_stderr, start_node, wait_for_lines
from ..ports import free_port


class WalletCli:
    """Runs ``minicash-wallet`` in-process against one node and one wallet home."""

    def __init__(self, home: Path, api: str) -> None:
        self.env = {"MINICASH_HOME": str(home), "MINICASH_WALLET_NODE": api,
                    "MINICASH_WALLET_PASSWORD": "hunter2"}
        self.runner = CliRunner()

    def run(self, *args: str, ok: bool = True, env: dict | None = None):
        result = self.runner.invoke(main, list(args), env={**self.env, **(env or {})})
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json").stdout)

    def fail(self, *args: str, env: dict | None = None) -> str:
        result = self.run(*args, ok=False, env=env)
        assert result.exit_code == 1, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]


@pytest.fixture
def node(tmp_path):
    datadir = tmp_path / "node"
    port = free_port()
    proc = start_node(datadir, "--mining-workers", "1", rest_bind=f"127.0.0.1:{port}")
    try:
        wait_for_lines(proc, "REST API on", 1)
        drain_stderr(proc)
        token = (datadir / ".cookie").read_text().strip()
        yield f"http://127.0.0.1:{port}", NodeClient(f"http://127.0.0.1:{port}", token)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _mempool(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/api/mempool/txids", timeout=30) as r:
        return json.loads(r.read())


def test_wallet_user_story(node, tmp_path):
    base, admin = node
    cli = WalletCli(tmp_path / "home", base + "/api")
    created = cli.json("create", "--name", "alice")
    cli.run("create", "--name", "bob", "--no-password")

    # Mine 101 blocks to alice: the first coinbase is spendable, 100 are immature.
    admin.generate(101, cli.json("receive", "--name", "alice", "--label", "mining")["address"])
    bal = cli.json("balance", "--name", "alice")
    assert (bal["confirmed"], bal["unconfirmed"], bal["immature"]) == (50 * COIN, 0, 5000 * COIN)

    # Alice pays bob 1.5 coins; bob sees it unconfirmed at once.
    bob_address = cli.json("receive", "--name", "bob", "--label", "from alice")["address"]
    sent = cli.json("send", bob_address, "1.5", "--fee-rate", "2", "--yes", "--name", "alice")
    assert sent["txid"] in _mempool(base)
    assert cli.json("balance", "--name", "bob")["unconfirmed"] == 150_000_000

    # Bump its fee: the replacement takes its place in the mempool.
    bumped = cli.json("bump-fee", sent["txid"], "--fee-rate", "5", "--yes", "--name", "alice")
    assert bumped["fee"] > sent["fee"] and bumped["replaces"] == sent["txid"]
    assert bumped["txid"] in _mempool(base) and sent["txid"] not in _mempool(base)
    # Both wallets forget the replaced transaction, though no address's totals changed.
    assert cli.json("balance", "--name", "bob")["unconfirmed"] == 150_000_000
    assert [h["txid"] for h in cli.json("history", "--name", "bob")] == [bumped["txid"]]
    assert sent["txid"] not in {h["txid"] for h in cli.json("history", "--name", "alice")}

    # One block later both balances are right and confirmed.
    admin.generate(1, cli.json("receive", "--name", "bob")["address"])
    bob = cli.json("balance", "--name", "bob")
    assert bob["confirmed"] == 150_000_000 and bob["unconfirmed"] == 0
    # Nothing changed since: a repeat sync asks for stats only, and fetches no history.
    again = cli.json("sync", "--name", "bob")
    assert again["addresses_fetched"] == 0 and again["addresses_checked"] >= 40
    alice = cli.json("balance", "--name", "alice")
    assert alice["confirmed"] + alice["unconfirmed"] == 100 * COIN - 150_000_000 - bumped["fee"]
    history = cli.json("history", "--name", "bob")
    heights = [h["height"] for h in history]
    assert heights == sorted(heights, reverse=True) == [102, 102]  # newest first
    assert {"txid": bumped["txid"], "amount": 150_000_000, "labels": ["from alice"]}.items() <= \
        next(h for h in history if h["txid"] == bumped["txid"]).items()
    assert [h["txid"] for h in cli.json("history", "--name", "alice")
            if h["fee"]] == [bumped["txid"]]

    # PSBT round trip: alice creates (no password), signs where the seed is, finalizes, sends.
    carol = cli.json("receive", "--name", "bob")["address"]
    unsigned = cli.json("psbt", "create", carol, "20000sat", "--fee-rate", "1",
                        "--name", "alice")["psbt"]
    assert "not signed" in cli.fail("psbt", "finalize", unsigned)
    signed = cli.json("psbt", "sign", unsigned, "--name", "alice")
    assert signed["signed_inputs"] >= 1
    assert "no input of this PSBT belongs" in cli.fail("psbt", "sign", unsigned, "--name", "bob")
    final = cli.json("psbt", "finalize", signed["psbt"], "--broadcast", "--name", "alice")
    assert final["txid"] in _mempool(base)
    # Broadcasting it again is refused with the node's reason, and changes nothing.
    wallet_file = tmp_path / "home" / "wallets" / "regtest" / "alice" / "wallet.json"
    before = wallet_file.read_bytes()
    reason = cli.fail("psbt", "finalize", signed["psbt"], "--broadcast", "--name", "alice")
    assert reason.startswith("error: transaction rejected by the node: ")
    assert wallet_file.read_bytes() == before

    # Restoring alice's mnemonic finds her whole history.
    cli.run("restore", "--name", "alice2", "--mnemonic", created["mnemonic"], "--no-password")
    def unlabelled(name: str) -> list[dict]:  # labels live in the wallet file, not the chain
        return [{**h, "labels": []} for h in cli.json("history", "--name", name)]
    assert unlabelled("alice2") == unlabelled("alice")
    assert len(unlabelled("alice2")) > 101  # 101 coinbases on one address: pages of 25
    assert cli.json("balance", "--name", "alice2") == cli.json("balance", "--name", "alice")
    assert cli.json("export-descriptor", "--name", "alice2") == \
        cli.json("export-descriptor", "--name", "alice")

    # Clear one-line errors.
    assert "insufficient funds: available" in cli.fail("send", carol, "100000", "--yes",
                                                        "--fee-rate", "1", "--name", "alice")
    assert "for network 'main'" in cli.fail("send", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
                                            "1", "--yes", "--name", "alice")
    assert "checksum" in cli.fail("send", carol[:-1] + ("q" if carol[-1] != "q" else "p"), "1",
                                  "--yes", "--name", "alice")
    assert "wrong password" in cli.fail("send", carol, "1", "--yes", "--fee-rate", "1",
                                        "--name", "alice",
                                        env={"MINICASH_WALLET_PASSWORD": "nope"})
    assert "fee rate too low" in cli.fail("send", carol, "1", "--yes", "--fee-rate", "0.5",
                                          "--name", "alice")
    # Interactive: the password from a prompt; answering no to the summary sends nothing.
    prompted = cli.runner.invoke(main, ["send", carol, "1000sat", "--fee-rate", "1", "--name",
                                        "alice"], input="n\n",
                                 env={**cli.env, "MINICASH_WALLET_PASSWORD": ""})
    assert prompted.exit_code == 1 and "Send this transaction?" in prompted.output
    assert "nothing was sent" in prompted.stderr
    dumped = cli.runner.invoke(main, ["dump-mnemonic", "--name", "alice"], input="hunter2\n",
                               env={**cli.env, "MINICASH_WALLET_PASSWORD": ""})
    assert created["mnemonic"] in dumped.stdout
    dead = f"http://127.0.0.1:{free_port()}/api"
    assert f"cannot reach the node at {dead}" in cli.fail("balance", "--name", "alice",
                                                          "--node", dead)
    assert wallet_file.read_bytes() == before


def test_send_many_max_and_dry_run(node, tmp_path):
    base, admin = node
    cli = WalletCli(tmp_path / "home", base + "/api")
    cli.run("create", "--no-password", "--legacy")  # BIP44 P2PKH: legacy signing end to end
    cli.run("create", "--name", "b", "--no-password")
    admin.generate(102, cli.json("receive")["address"])
    payees = [cli.json("receive", "--name", "b")["address"] for _ in range(3)]
    csv_file = tmp_path / "pay.csv"
    csv_file.write_text(f"{payees[0]},0.1\n{payees[1]},2500000sat\n# comment\n{payees[2]},1\n")
    # Without --fee-rate the node's estimate is used (with no history: its relay minimum).
    dry = cli.json("send-many", str(csv_file), "--dry-run", "--target", "3")
    assert not dry["broadcast"] and dry["txid"] not in _mempool(base)
    assert float(dry["fee_rate"]) >= 1
    sent = cli.json("send-many", str(csv_file), "--yes", "--fee-rate", "1")
    assert sent["txid"] in _mempool(base)
    assert cli.json("balance", "--name", "b")["unconfirmed"] == 10_000_000 + 2_500_000 + COIN
    # Sweep b's unconfirmed-but-own coins? No: they came from another wallet, so they wait.
    assert "insufficient funds" in cli.fail("send", payees[0], "--max", "--yes", "--name", "b")
    admin.generate(1, payees[0])
    swept = cli.json("send", cli.json("receive")["address"], "--max", "--yes", "--name", "b",
                     "--fee-rate", "1")
    assert swept["change"] == 0 and swept["outputs"] == 1
    admin.generate(1, payees[0])
    assert cli.json("balance", "--name", "b")["confirmed"] == 0
