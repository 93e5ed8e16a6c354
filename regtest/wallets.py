"""Each node's wallet, driven through ``minicash-wallet`` itself (as a user would), with the
network's own wallet home and the node's API. Regtest and devnet wallets here hold play money,
so they are created unencrypted (the wallet's explicit ``--no-password``). Amounts in the
JSON the wallet prints are satoshis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .procs import source_root
from .state import NetState, NodeState

WALLET_TIMEOUT = 300.0


class WalletError(Exception):
    pass


def run_wallet(state: NetState, node: NodeState, *args: str, online: bool = True,
               via: NodeState | None = None):
    """``minicash-wallet <args> --name <node> --network <net> [--node <API>] --json``, the API
    being the node's own or ``via``'s (``online`` commands only); the parsed JSON output;
    WalletError with the wallet's one-line error."""
    env = dict(os.environ, MINICASH_HOME=str(state.wallet_home))
    env.pop("MINICASH_WALLET_PASSWORD", None)
    cmd = [sys.executable, "-m", "wallet", *args, "--name", node.name, "--network", state.network]
    if online:
        cmd += ["--node", (via or node).api_url]
    cmd.append("--json")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=source_root(),
                          timeout=WALLET_TIMEOUT)
    if proc.returncode != 0:
        line = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()[-1]
        raise WalletError(f"wallet {node.name}: {line}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise WalletError(f"wallet {node.name}: unexpected output {proc.stdout[:200]!r}") from None


def create(state: NetState, node: NodeState) -> None:
    run_wallet(state, node, "create", "--no-password", online=False)


def receive_address(state: NetState, node: NodeState) -> str:
    return run_wallet(state, node, "receive", online=False)["address"]


def balance(state: NetState, node: NodeState, via: NodeState | None = None) -> dict:
    return run_wallet(state, node, "balance", via=via)


def history(state: NetState, node: NodeState) -> list[dict]:
    return run_wallet(state, node, "history")


def send(state: NetState, node: NodeState, address: str, amount: str) -> str:
    return run_wallet(state, node, "send", address, amount, "--yes")["txid"]
