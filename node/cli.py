"""``minicash-node``: the node's command-line front end (click)."""

from __future__ import annotations

import click

from node import __version__
from node.consensus.hashes import hash_to_hex
from node.consensus.params import NETWORKS, get_params
from node.consensus.pow import difficulty


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="minicash-node")
def main() -> None:
    """minicash: a Bitcoin-compatible full node."""


@main.command()
@click.option("--network", type=click.Choice(sorted(NETWORKS)), default="regtest",
              show_default=True, help="Which network's parameters to show.")
def info(network: str) -> None:
    """Show a network's parameters and its genesis block, built from them."""
    p = get_params(network)
    genesis = p.genesis
    computed = hash_to_hex(genesis.hash)
    status = "matches the published hash" if computed == p.genesis_hash_hex else "MISMATCH"
    rows = [
        ("network", p.name),
        ("magic", p.magic.hex()),
        ("p2p port", p.default_port),
        ("rest port", p.rest_port),
        ("address prefixes", f"base58 {p.pubkey_prefix}/{p.script_prefix}, bech32 {p.bech32_hrp}"),
        ("genesis", f"{computed} ({status})"),
        ("genesis time", genesis.header.time),
        ("genesis bits", f"{genesis.header.bits:08x} (difficulty {difficulty(genesis.header.bits):.6g})"),
        ("block spacing", f"{p.pow_target_spacing} s, retarget every "
                          f"{p.difficulty_adjustment_interval} blocks"
                          + (" (disabled)" if p.pow_no_retargeting else "")),
        ("halving interval", p.subsidy_halving_interval),
        ("soft forks", f"BIP34 {p.bip34_height}, BIP66 {p.bip66_height}, BIP65 {p.bip65_height}, "
                       f"CSV {p.csv_height}, segwit {p.segwit_height}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:{width}}  {value}")
