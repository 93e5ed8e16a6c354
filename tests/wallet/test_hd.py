"""BIP32 derivation, BIP39 seeds and BIP44/BIP84 addresses against published test vectors, on
both crypto backends."""

from __future__ import annotations

import pytest

from node.consensus import crypto
from node.consensus.address import script_to_address
from node.consensus.params import MAIN, REGTEST
from wallet.hd import (
    ExtendedKey,
    HDError,
    Purpose,
    account_path,
    mnemonic_to_seed,
    normalize_mnemonic,
    parse_path,
)

from .mnemonics import ABANDON

ZPUB = bytes.fromhex("04b24746")  # BIP84's SLIP-132 version for mainnet xpubs

# BIP32 "Test vector 1": seed, then (path, xpub, xprv).
BIP32_SEED = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
BIP32_VECTOR_1 = [
    ("m", "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8",
     "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"),
    ("m/0H", "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
     "xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7"),
    ("m/0H/1", "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ",
     "xprv9wTYmMFdV23N2TdNG573QoEsfRrWKQgWeibmLntzniatZvR9BmLnvSxqu53Kw1UmYPxLgboyZQaXwTCg8MSY3H2EU4pWcQDnRnrVA1xe8fs"),
]


@pytest.fixture(params=crypto.available_backends())
def backend(request):
    """Run a test on each installed crypto backend, then restore the default."""
    previous = crypto.get_backend().name
    crypto.set_backend(request.param)
    yield request.param
    crypto.set_backend(previous)


@pytest.mark.parametrize(("path", "xpub", "xprv"), BIP32_VECTOR_1, ids=[v[0] for v in BIP32_VECTOR_1])
def test_bip32_vector_1_private_and_public_derivation(backend, path, xpub, xprv):
    node = ExtendedKey.from_seed(BIP32_SEED).derive(path)
    assert node.to_xprv(MAIN) == xprv
    assert node.to_xpub(MAIN) == xpub
    assert ExtendedKey.parse(xprv, MAIN).to_xpub(MAIN) == xpub


def test_public_derivation_matches_private_derivation(backend):
    account = ExtendedKey.from_seed(BIP32_SEED).derive("m/84'/1'/0'")
    for chain in (0, 1):
        for i in range(3):
            assert account.neuter().derive([chain, i]).pubkey == account.derive([chain, i]).pubkey


def test_bip39_seed_vector_with_passphrase():
    # BIP39's English vectors use the passphrase "TREZOR".
    assert mnemonic_to_seed(ABANDON, "TREZOR").hex() == (
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1"
        "e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04")


def test_bip84_vectors_account_and_addresses(backend):
    root = ExtendedKey.from_seed(mnemonic_to_seed(ABANDON))
    account = root.derive(account_path(Purpose.BIP84, MAIN))
    assert account.neuter().serialize(ZPUB) == (
        "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUk"
        "gDKf31mGDtKsAYz2oz2AGutZYs")
    def address(chain: int, index: int) -> str:
        return script_to_address(Purpose.BIP84.script_for(account.derive([chain, index]).pubkey),
                                 MAIN)
    assert address(0, 0) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert address(0, 1) == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert address(1, 0) == "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


def test_bip44_vector_first_address():
    root = ExtendedKey.from_seed(mnemonic_to_seed(ABANDON))
    account = root.derive(account_path(Purpose.BIP44, MAIN))
    assert account.to_xpub(MAIN) == (
        "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSS"
        "SoekkudhUd9yLb6qx39T9nMdj")
    first = account.derive([0, 0]).pubkey
    assert script_to_address(Purpose.BIP44.script_for(first), MAIN) == \
        "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"


def test_regtest_uses_coin_type_1_and_tpub():
    assert account_path(Purpose.BIP84, REGTEST) == parse_path("m/84'/1'/0'")
    account = ExtendedKey.from_seed(mnemonic_to_seed(ABANDON)).derive("m/84h/1h/0h")
    assert account.to_xpub(REGTEST).startswith("tpub")
    with pytest.raises(HDError, match="not for network 'main'"):
        ExtendedKey.parse(account.to_xpub(REGTEST), MAIN)


@pytest.mark.parametrize(("words", "message"), [
    ("abandon " * 12, "checksum"),
    ("abandon " * 11, "12 or 24 words, got 11"),
    ("abandon " * 11 + "bitcoinz", "not a BIP39 English word"),
])
def test_bad_mnemonics_say_what_is_wrong(words, message):
    with pytest.raises(HDError, match=message):
        normalize_mnemonic(words)


def test_mnemonic_is_normalised():
    assert normalize_mnemonic("  ABANDON " * 11 + " About ") == ABANDON.strip()


def test_hardened_child_of_a_public_key_is_refused():
    xpub = ExtendedKey.from_seed(BIP32_SEED).neuter()
    with pytest.raises(HDError, match="hardened"):
        xpub.derive("m/0'")
