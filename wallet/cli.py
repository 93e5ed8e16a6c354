"""``minicash-wallet``: the wallet's command-line front end (click)."""

from __future__ import annotations

import click

from wallet import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="minicash-wallet")
def main() -> None:
    """minicash wallet: hold and send coins through a node's Esplora-compatible API."""
