"""``minicash-wallet``: the wallet's command-line front end (click).

Every command takes ``--name`` (default ``default``), ``--network`` (default regtest) and, when
it talks to a node, ``--node URL`` (an Esplora API base; default the local node's ``/api``).
Read commands take ``--json``. Passwords come from ``MINICASH_WALLET_PASSWORD`` or a prompt.
User errors print one line on stderr and exit with status 1.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any, NoReturn

import click

from node.consensus.address import script_to_address
from node.consensus.errors import DecodeError
from node.consensus.hashes import hash_to_hex
from node.consensus.params import NETWORKS, get_params
from node.consensus.primitives import TxOut

from . import __version__, ledger, spend, store
from .account import CHANGE, RECEIVE
from .amounts import AmountError, format_coins, parse_amount
from .coinselect import InsufficientFunds
from .descriptor import account_descriptors
from .esplora import BadNodeURL, EsploraClient, NodeError, NodeUnreachable
from .hd import Purpose, generate_mnemonic, normalize_mnemonic
from .psbt import Psbt, PsbtError
from .signer import sign_psbt
from .sync import sync
from .txbuilder import FeeTooLow, Plan
from .wallet import Wallet

# Errors a user can cause or fix: one line on stderr, exit 1, no traceback.
USER_ERRORS = (store.StoreError, DecodeError, BadNodeURL, NodeUnreachable, NodeError,
               InsufficientFunds, AmountError, FeeTooLow, spend.Rejected, spend.BumpError,
               OSError)
DEV_NETWORKS = ("regtest", "devnet")


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InsufficientFunds as exc:
            _fail(f"insufficient funds: available {format_coins(exc.available)}, "
                  f"needed {format_coins(exc.needed)}")
        except FeeTooLow as exc:
            _fail(f"fee rate too low: {exc}")
        except USER_ERRORS as exc:
            _fail(str(exc))


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="minicash-wallet")
def main() -> None:
    """minicash wallet: hold and send coins through a node's Esplora-compatible API."""


# -- shared options ---------------------------------------------------------------------------

def network_option(f: Callable) -> Callable:
    return click.option("--network", type=click.Choice(sorted(NETWORKS)), default="regtest",
                        envvar="MINICASH_NETWORK", show_default=True)(f)


def wallet_options(f: Callable) -> Callable:
    f = network_option(f)
    return click.option("--name", default="default", show_default=True,
                        help="Wallet name.")(f)


def node_option(f: Callable) -> Callable:
    return click.option("--node", "node_url", envvar="MINICASH_WALLET_NODE",
                        help="Esplora API base URL (default http://127.0.0.1:<REST port>/api).")(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def online_options(f: Callable) -> Callable:
    """The options of a command that talks to the node: the wallet's, --node and --json."""
    return node_option(json_option(wallet_options(f)))


def _client(network: str, node_url: str | None) -> EsploraClient:
    return EsploraClient(node_url or f"http://127.0.0.1:{get_params(network).rest_port}/api")


def _emit(as_json: bool, data: Any, text: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=1, default=str))
    else:
        text()


def _password(wallet: Wallet | None = None, *, new: bool = False) -> str | None:
    if wallet is not None and not wallet.encrypted:
        return None
    env = os.environ.get(store.PASSWORD_ENV)
    if env:
        return env
    if new:
        return click.prompt("New wallet password", hide_input=True, confirmation_prompt=True)
    return click.prompt("Wallet password", hide_input=True)


def _synced(wallet: Wallet, network: str, node_url: str | None) -> EsploraClient:
    client = _client(network, node_url)
    sync(wallet, client)
    return client


def _open_synced(name: str, network: str, node_url: str | None) -> tuple[Wallet, EsploraClient]:
    wallet = Wallet.open(network, name)
    return wallet, _synced(wallet, network, node_url)


# -- keys and files ---------------------------------------------------------------------------

def _new_wallet_options(f: Callable) -> Callable:
    f = click.option("--no-password", is_flag=True,
                     help="Store the seed unencrypted (anyone who reads the file can spend).")(f)
    f = click.option("--legacy", is_flag=True, help="BIP44 P2PKH addresses instead of BIP84.")(f)
    return click.option("--bip39-passphrase", default="", help="Optional BIP39 passphrase.")(f)


def _create(network: str, name: str, mnemonic: str, bip39_passphrase: str, legacy: bool,
            no_password: bool) -> Wallet:
    password = None if no_password else _password(new=True)
    return Wallet.create(network, name, mnemonic, bip39_passphrase, password,
                         Purpose.BIP44 if legacy else Purpose.BIP84)


@main.command()
@wallet_options
@_new_wallet_options
@click.option("--words", type=click.Choice(["12", "24"]), default="12", show_default=True)
@json_option
def create(name: str, network: str, bip39_passphrase: str, legacy: bool, no_password: bool,
           words: str, as_json: bool) -> None:
    """Create a wallet with a new BIP39 mnemonic (shown once: write it down)."""
    mnemonic = generate_mnemonic(int(words))
    wallet = _create(network, name, mnemonic, bip39_passphrase, legacy, no_password)
    info = {"name": name, "network": network, "mnemonic": mnemonic,
            "encrypted": wallet.encrypted, "path": str(wallet.path)}

    def text() -> None:
        click.echo(f"Created wallet {name!r} on {network} in {wallet.path}")
        click.echo("Write down these words: they are the only backup of your coins.")
        click.echo(mnemonic)
        if not wallet.encrypted:
            click.echo("The seed is stored UNENCRYPTED (--no-password).")
    _emit(as_json, info, text)


@main.command()
@wallet_options
@_new_wallet_options
@node_option
@click.option("--mnemonic", help="The 12 or 24 words (prompted for when left out).")
@json_option
def restore(name: str, network: str, bip39_passphrase: str, legacy: bool, no_password: bool,
            node_url: str | None, mnemonic: str | None, as_json: bool) -> None:
    """Restore a wallet from its mnemonic, then rescan the chain for its history. A wallet
    whose rescan fails (the node down or erring, or its URL unusable) is kept, and `sync`
    rescans it."""
    client = _client(network, node_url)  # a bad --node is refused before the words are asked
    words = normalize_mnemonic(mnemonic if mnemonic is not None
                               else click.prompt("Mnemonic", hide_input=True))
    wallet = _create(network, name, words, bip39_passphrase, legacy, no_password)
    try:
        report = sync(wallet, client)
    except (NodeUnreachable, NodeError, BadNodeURL) as exc:
        # Kept, as Electrum keeps a wallet restored offline: the words (and password) are not
        # asked for again, and a wallet that only signs PSBTs needs no node. Said in one line,
        # or a second restore would meet "already exists" with the first one's fate unclear.
        # A BadNodeURL here is one check_url let through; the rescan needs another URL.
        rescan = f"minicash-wallet sync --name {name} --network {network}"
        if isinstance(exc, BadNodeURL):
            rescan += " --node URL"
        elif node_url:
            rescan += f" --node {shlex.quote(node_url)}"
        _fail(f"wallet {name!r} restored in {wallet.path} but not rescanned ({exc}); "
              f"`{rescan}` rescans it")
    bal = ledger.balance(wallet)
    info = {"name": name, "network": network, "transactions": len(wallet.cache["txs"]),
            "balance": asdict(bal)}
    _emit(as_json, info, lambda: click.echo(
        f"Restored wallet {name!r}: {len(wallet.cache['txs'])} transactions found at height "
        f"{report.tip}; balance {format_coins(bal.confirmed)} confirmed"))


@main.command("list")
@network_option
@json_option
def list_(network: str, as_json: bool) -> None:
    """The wallets of a network."""
    names = store.list_wallets(network)
    _emit(as_json, names, lambda: click.echo("\n".join(names) if names
                                             else f"no wallets on {network}"))


@main.command()
@wallet_options
@click.option("--label", help="Remember this label for the address.")
@click.option("--create-if-missing", is_flag=True,
              help="regtest/devnet only: create the wallet, unencrypted, if it does not exist.")
@json_option
def receive(name: str, network: str, label: str | None, create_if_missing: bool,
            as_json: bool) -> None:
    """A fresh receive address (works offline: no address is handed out twice)."""
    if create_if_missing and not (store.wallet_dir(network, name) / store.WALLET_FILE).exists():
        if network not in DEV_NETWORKS:
            raise store.StoreError("--create-if-missing is for regtest and devnet only")
        created = Wallet.create(network, name, generate_mnemonic(12))
        click.echo(f"created wallet {name!r} on {network} in {created.path}: a development "
                   f"wallet, its seed NOT encrypted; see its words with 'minicash-wallet "
                   f"dump-mnemonic --name {name} --network {network}'", err=True)
    wallet = Wallet.open(network, name)
    index = spend.next_receive_index(wallet)
    address = wallet.account.address(RECEIVE, index)
    wallet.issued[RECEIVE] = max(wallet.issued[RECEIVE], index)
    if label:
        wallet.labels[address] = label
    wallet.save()
    _emit(as_json, {"address": address, "index": index, "label": label},
          lambda: click.echo(address))


@main.command()
@wallet_options
@click.option("--change", is_flag=True, help="Also list change addresses.")
@json_option
def addresses(name: str, network: str, change: bool, as_json: bool) -> None:
    """Addresses handed out or used so far, with their labels."""
    wallet = Wallet.open(network, name)
    rows = []
    for chain in (RECEIVE, CHANGE) if change else (RECEIVE,):
        used = ledger.used_indexes(wallet, chain)
        top = max(max(used, default=-1), wallet.issued[chain])
        for i in range(top + 1):
            addr = wallet.account.address(chain, i)
            rows.append({"address": addr, "chain": "change" if chain else "receive",
                         "index": i, "used": i in used, "label": wallet.labels.get(addr)})

    def text() -> None:
        for r in rows:
            flags = "used" if r["used"] else "unused"
            label = f"  [{r['label']}]" if r["label"] else ""
            click.echo(f"{r['chain']:7} {r['index']:4}  {r['address']}  {flags}{label}")
    _emit(as_json, rows, text)


@main.command("export-descriptor")
@wallet_options
@json_option
def export_descriptor(name: str, network: str, as_json: bool) -> None:
    """The receive and change output descriptors (BIP380, with checksums), to watch elsewhere."""
    wallet = Wallet.open(network, name)
    acct = wallet.account
    receive_desc, change_desc = account_descriptors(acct.purpose, acct.master_fingerprint,
                                                    acct.path, acct.xpub, wallet.params)
    _emit(as_json, {"receive": receive_desc, "change": change_desc},
          lambda: click.echo(f"{receive_desc}\n{change_desc}"))


@main.command("dump-mnemonic")
@wallet_options
@json_option
def dump_mnemonic(name: str, network: str, as_json: bool) -> None:
    """Show the wallet's mnemonic (and BIP39 passphrase); asks for the password."""
    wallet = Wallet.open(network, name)
    secret = wallet.secret(_password(wallet))

    def text() -> None:
        click.echo(secret["mnemonic"])
        if secret["passphrase"]:
            click.echo(f"BIP39 passphrase: {secret['passphrase']}")
    _emit(as_json, secret, text)


# -- chain state ------------------------------------------------------------------------------

@main.command("sync")
@online_options
def sync_(name: str, network: str, node_url: str | None, as_json: bool) -> None:
    """Fetch what changed from the node."""
    wallet = Wallet.open(network, name)
    report = sync(wallet, _client(network, node_url))
    _emit(as_json, asdict(report), lambda: click.echo(
        f"synced to height {report.tip}: {report.addresses_checked} addresses checked, "
        f"{report.addresses_fetched} fetched, {report.new_txs} new transactions"))


@main.command()
@online_options
def balance(name: str, network: str, node_url: str | None, as_json: bool) -> None:
    """Confirmed, unconfirmed and immature (coinbase) balance."""
    wallet, _ = _open_synced(name, network, node_url)
    bal = ledger.balance(wallet)
    _emit(as_json, {**asdict(bal), "height": wallet.cache["tip"]}, lambda: click.echo(
        f"confirmed:   {format_coins(bal.confirmed)}\n"
        f"unconfirmed: {format_coins(bal.unconfirmed)}\n"
        f"immature:    {format_coins(bal.immature)}"))


@main.command()
@online_options
def utxos(name: str, network: str, node_url: str | None, as_json: bool) -> None:
    """The wallet's unspent outputs."""
    wallet, _ = _open_synced(name, network, node_url)
    coins = ledger.coins(wallet)
    rows = [{"txid": c.txid, "vout": c.vout, "value": c.value, "address": c.address,
             "confirmations": c.confirmations, "coinbase": c.coinbase,
             "spendable": c.mature(wallet.params.coinbase_maturity),
             "label": wallet.labels.get(c.address)} for c in coins]

    def text() -> None:
        for r in rows:
            note = "" if r["spendable"] else "  immature"
            click.echo(f"{r['txid']}:{r['vout']}  {format_coins(r['value'])}  "
                       f"{r['confirmations']:6} conf  {r['address']}{note}")
    _emit(as_json, rows, text)


@main.command()
@online_options
def history(name: str, network: str, node_url: str | None, as_json: bool) -> None:
    """Transactions, newest first, with amounts, fees, confirmations and labels."""
    wallet, _ = _open_synced(name, network, node_url)
    entries = ledger.history(wallet)

    def text() -> None:
        for e in entries:
            fee = f"fee {format_coins(e.fee)}" if e.fee is not None else ""
            labels = f"  [{', '.join(e.labels)}]" if e.labels else ""
            click.echo(f"{e.txid}  {format_coins(e.amount):>16}  {e.confirmations:6} conf  "
                       f"{fee}{labels}")
    _emit(as_json, [asdict(e) for e in entries], text)


# -- sending ----------------------------------------------------------------------------------

def payment_options(f: Callable) -> Callable:
    """How a payment's fee is set, for every command that plans one."""
    f = click.option("--subtract-fee", is_flag=True, help="Recipients pay the fee.")(f)
    f = click.option("--target", type=click.IntRange(1, 1008),
                     help="Confirmation target in blocks, for the node's fee estimate.")(f)
    f = click.option("--fee-rate", help="Fee rate in sat/vB (default: the node's estimate).")(f)
    return online_options(f)


def confirm_options(f: Callable) -> Callable:
    """What a command that signs and broadcasts asks before it does."""
    f = click.option("--dry-run", is_flag=True, help="Build and sign, but do not broadcast.")(f)
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)


def send_options(f: Callable) -> Callable:
    return payment_options(confirm_options(f))


def _check_fee_options(fee_rate: str | None, target: int | None) -> Decimal | None:
    """The --fee-rate asked for (None: the node's estimate), checked before any syncing."""
    if fee_rate is not None and target is not None:
        raise click.UsageError("give --fee-rate or --target, not both")
    return None if fee_rate is None else spend.requested_fee_rate(fee_rate)


def _plan_one(address: str, amount: str | None, sweep: bool, fee_rate: str | None,
              target: int | None, subtract_fee: bool, node_url: str | None, name: str,
              network: str) -> tuple[Wallet, EsploraClient, Plan]:
    """A payment of AMOUNT (or --max) to ADDRESS, for send and psbt create: the arguments
    are checked and the address read before the node is asked anything."""
    if sweep == (amount is not None):
        raise click.UsageError("give either AMOUNT or --max")
    rate = _check_fee_options(fee_rate, target)
    wallet = Wallet.open(network, name)
    out = spend.recipient(wallet, address, parse_amount(amount) if amount else 1)
    return wallet, *_plan(wallet, [out], rate, target, subtract_fee, node_url, network, sweep)


def _plan(wallet: Wallet, outputs: list[TxOut], rate: Decimal | None, target: int | None,
          subtract_fee: bool, node_url: str | None, network: str,
          sweep: bool = False) -> tuple[EsploraClient, Plan]:
    """Sync, then plan paying ``outputs`` at ``rate`` or, if None, the node's estimate."""
    client = _synced(wallet, network, node_url)
    if rate is None:
        rate = spend.estimated_fee_rate(client, target)
    plan = spend.plan_send(wallet, outputs, rate,
                           subtract_fee=subtract_fee, sweep=sweep)
    return client, plan


def _summary(wallet: Wallet, plan: Plan) -> list[str]:
    lines = [f"inputs ({len(plan.coins)}):"]
    lines += [f"  {c.txid}:{c.vout}  {format_coins(c.value)}" for c in plan.coins]
    lines.append(f"outputs ({len(plan.outputs)}):")
    for n, o in enumerate(plan.outputs):
        mark = "  (change)" if n == plan.change_position else ""
        lines.append(f"  {script_to_address(o.script_pubkey, wallet.params)}  "
                     f"{format_coins(o.value)}{mark}")
    lines.append(f"fee: {format_coins(plan.fee)} ({plan.fee} sat, "
                 f"{Decimal(plan.fee) / plan.vsize:.2f} sat/vB at ~{plan.vsize} vB)")
    lines.append(f"change: {format_coins(plan.change)}")
    return lines


def _send_plan(wallet: Wallet, client: EsploraClient, plan: Plan, yes: bool, dry_run: bool,
               as_json: bool, extra: dict | None = None) -> None:
    """Show the plan, ask, sign, check, broadcast: the tail every sending command shares."""
    if not as_json:
        click.echo("\n".join(_summary(wallet, plan)))
    if not (yes or dry_run) and not click.confirm("Send this transaction?", default=False):
        _fail("cancelled: nothing was sent")
    psbt = spend.unsigned_psbt(wallet, plan, client)
    tx = spend.sign_and_complete(wallet, psbt, _password(wallet))
    result = {"txid": hash_to_hex(tx.txid), "fee": plan.fee, "vsize": tx.vsize,
              "fee_rate": str(round(Decimal(plan.fee) / tx.vsize, 3)), "change": plan.change,
              "inputs": len(tx.vin), "outputs": len(tx.vout), "broadcast": not dry_run,
              **(extra or {})}
    if dry_run:
        result["hex"] = tx.serialize().hex()
    else:
        spend.broadcast(wallet, client, tx, plan.change_index)
    _emit(as_json, result, lambda: click.echo(
        result["hex"] if dry_run else result["txid"]))


@main.command()
@click.argument("address")
@click.argument("amount", required=False)
@click.option("--max", "sweep", is_flag=True, help="Send everything spendable (no AMOUNT).")
@send_options
def send(address: str, amount: str | None, sweep: bool, fee_rate: str | None,
         target: int | None, subtract_fee: bool, yes: bool, dry_run: bool,
         node_url: str | None, as_json: bool, name: str, network: str) -> None:
    """Send AMOUNT (coins, or satoshis with a 'sat' suffix) to ADDRESS."""
    wallet, client, plan = _plan_one(address, amount, sweep, fee_rate, target, subtract_fee,
                                     node_url, name, network)
    _send_plan(wallet, client, plan, yes, dry_run, as_json)


@main.command("send-many")
@click.argument("csv_file", type=click.File("r"))
@send_options
def send_many(csv_file, fee_rate: str | None, target: int | None, subtract_fee: bool,
              yes: bool, dry_run: bool, node_url: str | None, as_json: bool, name: str,
              network: str) -> None:
    """Pay every line "address,amount" of CSV_FILE ('-' for stdin) in one transaction."""
    rate = _check_fee_options(fee_rate, target)
    wallet = Wallet.open(network, name)
    outputs = []
    for n, row in enumerate(csv.reader(csv_file), 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2:
            raise click.UsageError(f"line {n}: expected 'address,amount'")
        try:
            outputs.append(spend.recipient(wallet, row[0], parse_amount(row[1])))
        except (DecodeError, AmountError) as exc:
            raise click.UsageError(f"line {n}: {exc}") from None
    if not outputs:
        raise click.UsageError("no payments in the file")
    client, plan = _plan(wallet, outputs, rate, target, subtract_fee, node_url, network)
    _send_plan(wallet, client, plan, yes, dry_run, as_json)


@main.command("bump-fee")
@click.argument("txid")
@click.option("--fee-rate", required=True, help="The new fee rate in sat/vB.")
@confirm_options
@online_options
def bump_fee(txid: str, fee_rate: str, yes: bool, dry_run: bool, node_url: str | None,
             as_json: bool, name: str, network: str) -> None:
    """Replace our unconfirmed TXID with a copy paying a higher fee rate (BIP125)."""
    rate = spend.requested_fee_rate(fee_rate)  # refused before syncing, as in send
    wallet, client = _open_synced(name, network, node_url)
    plan, old_fee = spend.plan_bump(wallet, txid.lower(), rate)
    _send_plan(wallet, client, plan, yes, dry_run, as_json,
               {"replaces": txid.lower(), "old_fee": old_fee})


# -- PSBT -------------------------------------------------------------------------------------

@main.group()
def psbt() -> None:
    """BIP174 PSBTs: create here, sign where the seed is (even offline), finalize, send."""


def _read_psbt(text: str) -> Psbt:
    if text == "-":
        text = sys.stdin.read()
    elif os.path.isfile(text):
        with open(text) as f:
            text = f.read()
    return Psbt.from_base64(text)


@psbt.command("create")
@click.argument("address")
@click.argument("amount", required=False)
@click.option("--max", "sweep", is_flag=True, help="Send everything spendable (no AMOUNT).")
@payment_options
def psbt_create(address: str, amount: str | None, sweep: bool, fee_rate: str | None,
                target: int | None, subtract_fee: bool, node_url: str | None, as_json: bool,
                name: str, network: str) -> None:
    """An unsigned PSBT paying AMOUNT to ADDRESS (needs no password)."""
    wallet, client, plan = _plan_one(address, amount, sweep, fee_rate, target, subtract_fee,
                                     node_url, name, network)
    text = spend.unsigned_psbt(wallet, plan, client).to_base64()
    _emit(as_json, {"psbt": text, "fee": plan.fee}, lambda: click.echo(text))


@psbt.command("sign")
@click.argument("psbt_text", metavar="PSBT")
@json_option
@wallet_options
def psbt_sign(psbt_text: str, as_json: bool, name: str, network: str) -> None:
    """Sign our inputs of PSBT (base64, a file, or '-'); needs no node."""
    wallet = Wallet.open(network, name)
    p = _read_psbt(psbt_text)
    signed = sign_psbt(p, wallet.root_key(_password(wallet)))
    if not signed:
        raise PsbtError("no input of this PSBT belongs to this wallet")
    text = p.to_base64()
    _emit(as_json, {"psbt": text, "signed_inputs": signed}, lambda: click.echo(text))


@psbt.command("finalize")
@click.argument("psbt_text", metavar="PSBT")
@click.option("--broadcast", "do_broadcast", is_flag=True, help="Post it to the node.")
@online_options
def psbt_finalize(psbt_text: str, do_broadcast: bool, node_url: str | None, as_json: bool,
                  name: str, network: str) -> None:
    """Finalize a signed PSBT, check it, print the raw transaction (or broadcast it)."""
    tx = spend.complete(_read_psbt(psbt_text))
    result = {"txid": hash_to_hex(tx.txid), "hex": tx.serialize().hex(),
              "broadcast": do_broadcast}
    if do_broadcast:
        wallet = Wallet.open(network, name)
        spend.broadcast(wallet, _client(network, node_url), tx, None)
    _emit(as_json, result, lambda: click.echo(result["txid"] if do_broadcast else result["hex"]))
