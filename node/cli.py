"""``minicash-node``: the node's command-line front end (click)."""

from __future__ import annotations

import click

from node import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="minicash-node")
def main() -> None:
    """minicash: a Bitcoin-compatible full node."""
