"""Wallet building blocks: amounts, descriptors, coin selection and wallet files."""

from __future__ import annotations

import random
import stat

import pytest

from node.consensus.errors import DecodeError
from node.consensus.params import REGTEST
from wallet import store
from wallet.amounts import AmountError, format_coins, parse_amount, parse_fee_rate
from wallet.coinselect import (
    Candidate,
    InsufficientFunds,
    branch_and_bound,
    select_coins,
)
from wallet.descriptor import account_descriptors, add_checksum, check_checksum
from wallet.hd import ExtendedKey, Purpose, account_path, mnemonic_to_seed
from wallet.wallet import Wallet, WalletExists

from .mnemonics import ABANDON

# -- amounts ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "sats"), [
    ("1", 100_000_000), ("0.00000001", 1), ("1.5", 150_000_000), ("21000000", 21_000_000 * 10**8),
    ("1000sat", 1000), ("1000 sat", 1000), ("7sats", 7), ("0.1", 10_000_000),
])
def test_amounts_parse_exactly(text, sats):
    assert parse_amount(text) == sats


@pytest.mark.parametrize(("text", "why"), [
    ("0.000000001", "at most 8 decimals"), ("-1", "positive"), ("0", "positive"),
    ("1e400", "21 million"), ("abc", "expected coins"), ("1.5sat", "whole number"),
    ("nan", "bad amount"),
])
def test_bad_amounts_say_why(text, why):
    with pytest.raises(AmountError, match=why):
        parse_amount(text)


def test_format_and_fee_rates():
    assert format_coins(-150_000_001) == "-1.50000001"
    assert parse_fee_rate("1.5") == parse_fee_rate(1.5)
    with pytest.raises(AmountError):
        parse_fee_rate("0")


# -- descriptors (BIP380) ---------------------------------------------------------------------

def test_descriptor_checksums_match_published_examples():
    assert add_checksum("raw(deadbeef)") == "raw(deadbeef)#89f8spxm"
    # Bitcoin Core's deriveaddresses help example.
    desc = ("wpkh([d34db33f/84h/0h/0h]xpub6DJ2dNUysrn5Vt36jH2KLBT2i1auw1tTSSomg8PhqNiUtx8QX2SvC"
            "9nrHu81fT41fvDUnhMjEzQgXnQjKEu3oaqMSzhSrHMxyyoEAmUHQbY/0/*)")
    assert add_checksum(desc) == desc + "#cjjspncu"
    with pytest.raises(DecodeError, match="does not match"):
        check_checksum(desc + "#cjjspncv")


def test_account_descriptors_carry_origin_and_checksum():
    root = ExtendedKey.from_seed(mnemonic_to_seed(ABANDON))
    path = account_path(Purpose.BIP84, REGTEST)
    account = root.derive(path)
    receive, change = account_descriptors(Purpose.BIP84, root.fingerprint, path, account,
                                          REGTEST)
    assert receive.startswith(f"wpkh([{root.fingerprint.hex()}/84h/1h/0h]tpub")
    assert check_checksum(receive).endswith("/0/*)")
    assert check_checksum(change).endswith("/1/*)")
    legacy, _ = account_descriptors(Purpose.BIP44, root.fingerprint, path, account, REGTEST)
    assert legacy.startswith("pkh(")


# -- coin selection ---------------------------------------------------------------------------

def _pool(*values: int) -> list[Candidate[int]]:
    return [Candidate(i, v) for i, v in enumerate(values)]


def test_branch_and_bound_finds_an_exact_changeless_match():
    pool = _pool(1_000, 2_000, 5_000, 7_000, 30_000)
    found = branch_and_bound(pool, 9_000, cost_of_change=0)
    assert found is not None and sum(c.effective_value for c in found) == 9_000


def test_branch_and_bound_accepts_excess_up_to_the_cost_of_change_only():
    pool = _pool(4_000, 6_500)  # the only match has an excess of 500
    assert branch_and_bound(pool, 10_000, cost_of_change=500) is not None
    assert branch_and_bound(pool, 10_000, cost_of_change=499) is None


def test_selection_prefers_no_change_then_falls_back_to_random_draw():
    pool = _pool(10_000, 20_000, 55_555)
    chosen = select_coins(pool, 30_000, cost_of_change=300, change_target=1_000)
    assert chosen.algorithm == "bnb" and not chosen.with_change
    assert sorted(chosen.items) == [0, 1]
    fallback = select_coins(pool, 40_000, cost_of_change=300, change_target=1_000,
                            rng=random.Random(7))
    assert fallback.algorithm == "srd" and fallback.with_change
    assert fallback.effective_value >= 41_000


def test_insufficient_funds_names_available_and_needed():
    with pytest.raises(InsufficientFunds) as err:
        select_coins(_pool(1_000, 2_000), 5_000, cost_of_change=100, change_target=500)
    assert (err.value.available, err.value.needed) == (3_000, 5_500)


def test_coins_that_cost_more_than_they_bring_are_never_chosen():
    pool = _pool(-50, 10_000)
    chosen = select_coins(pool, 9_000, cost_of_change=0, change_target=500,
                          rng=random.Random(1))
    assert chosen.items == [1]


def test_must_use_coins_are_always_spent():
    pool = _pool(10_000, 50_000)
    chosen = select_coins(pool[1:], 20_000, cost_of_change=0, change_target=500,
                          must_use=pool[:1], rng=random.Random(3))
    assert 0 in chosen.items and 1 in chosen.items


# -- wallet files -----------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path))
    return tmp_path


def test_wallet_files_are_private_and_the_seed_encrypted(home):
    wallet = Wallet.create("regtest", "w", ABANDON, password="correct horse")
    path = home / "wallets" / "regtest" / "w" / store.WALLET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "abandon" not in path.read_text()
    reopened = Wallet.open("regtest", "w")
    assert reopened.secret("correct horse")["mnemonic"] == ABANDON
    with pytest.raises(store.WrongPassword):
        reopened.secret("wrong")
    assert reopened.account.address(0, 0) == wallet.account.address(0, 0)
    with pytest.raises(WalletExists):
        Wallet.create("regtest", "w", ABANDON)
    assert store.list_wallets("regtest") == ["w"] and store.list_wallets("main") == []


def test_unencrypted_only_when_asked_and_per_network(home):
    Wallet.create("regtest", "dev", ABANDON, password=None)
    assert Wallet.open("regtest", "dev").secret(None)["mnemonic"] == ABANDON
    with pytest.raises(store.StoreError, match="no wallet 'dev' on devnet"):
        Wallet.open("devnet", "dev")


def test_a_sealed_seed_moved_to_another_wallet_does_not_open(home):
    a = Wallet.create("regtest", "a", ABANDON, password="pw")
    b = Wallet.create("regtest", "b", "legal winner thank year wave sausage worth useful legal "
                      "winner thank yellow", password="pw")
    b.data["seed"] = a.data["seed"]
    with pytest.raises(store.WrongPassword):
        b.secret("pw")


def test_atomic_write_leaves_no_temp_files(home):
    target = home / "x" / "f.json"
    store.write_json_atomic(target, {"a": 1})
    store.write_json_atomic(target, {"a": 2})
    assert store.read_json(target) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_bad_wallet_names_are_refused(home):
    with pytest.raises(store.StoreError, match="bad wallet name"):
        store.wallet_dir("regtest", "../escape")


def test_the_wallet_imports_nothing_from_the_node_but_consensus():
    # ARCHITECTURE.md: the wallet must work against any Esplora server, so it may not lean on
    # the node's internals.
    import ast
    from pathlib import Path

    import wallet as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for name in names:
                assert name.split(".")[0] != "node" or name.startswith("node.consensus"), \
                    f"{path.name} imports {name}"
