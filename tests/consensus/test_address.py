"""Addresses and WIF keys: templates round-trip on every network, and errors say what's wrong."""

import pytest

from node.consensus.address import (
    AddressError,
    address_to_script,
    p2pkh_script,
    p2sh_script,
    p2wpkh_script,
    p2wsh_script,
    script_to_address,
    witness_program,
)
from node.consensus.base58 import b58check_encode
from node.consensus.errors import DecodeError
from node.consensus.params import DEVNET, MAIN, NETWORKS, REGTEST, TEST
from node.consensus.wif import SECP256K1_ORDER, WIFError, decode_wif, encode_wif

H20 = bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")
H32 = bytes(range(32))
TEMPLATES = {
    "p2pkh": p2pkh_script(H20),
    "p2sh": p2sh_script(H20),
    "p2wpkh": p2wpkh_script(H20),
    "p2wsh": p2wsh_script(H32),
    "p2tr": bytes([0x51, 32]) + H32,  # witness v1 (BIP341), addressed with bech32m
    "v16": bytes([0x60, 2, 0xAB, 0xCD]),
}


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("template", TEMPLATES)
def test_template_round_trips_on_every_network(template, network):
    params = NETWORKS[network]
    script = TEMPLATES[template]
    address = script_to_address(script, params)
    assert address is not None
    assert address_to_script(address, params) == script


@pytest.mark.parametrize(("address", "params", "script_hex"), [
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", MAIN, "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"),
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", MAIN, "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
], ids=["genesis-p2pkh", "p2sh"])
def test_known_base58_addresses(address, params, script_hex):
    assert address_to_script(address, params).hex() == script_hex
    assert script_to_address(bytes.fromhex(script_hex), params) == address


def test_test_regtest_and_devnet_share_base58_addresses():
    address = script_to_address(TEMPLATES["p2pkh"], TEST)
    assert address_to_script(address, REGTEST) == address_to_script(address, DEVNET)


@pytest.mark.parametrize(("script_of", "made_on", "used_on", "message"), [
    ("p2pkh", MAIN, REGTEST, "address is for network 'main', not 'regtest'"),
    ("p2sh", MAIN, TEST, "address is for network 'main', not 'test'"),
    ("p2pkh", REGTEST, MAIN, "address is for network 'test' or 'regtest' or 'devnet', not 'main'"),
    ("p2wpkh", MAIN, REGTEST, "address is for network 'main', not 'regtest'"),
    ("p2tr", REGTEST, MAIN, "address is for network 'regtest', not 'main'"),
    ("p2wsh", TEST, REGTEST, "address is for network 'test', not 'regtest'"),
    ("p2wpkh", DEVNET, REGTEST, "address is for network 'devnet', not 'regtest'"),
])
def test_names_the_network_an_address_belongs_to(script_of, made_on, used_on, message):
    address = script_to_address(TEMPLATES[script_of], made_on)
    with pytest.raises(AddressError, match=f"^{message}$"):
        address_to_script(address, used_on)


@pytest.mark.parametrize(("address", "message"), [
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "bad checksum"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad checksum"),
    (b58check_encode(bytes([0]) + bytes(19)), "bad length: base58 address payload is 20 bytes"),
    (b58check_encode(bytes([0]) + bytes(21)), "bad length: base58 address payload is 22 bytes"),
    (b58check_encode(bytes([42]) + bytes(20)), "unknown address prefix 42"),
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "wrong human-readable part 'tc', expected 'bc'"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "v0 requires bech32"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNl", "invalid base58 character 'l' at position 33"),
    ("", "too short"),
    ("1" * 91, "too long"),
], ids=["base58-checksum", "bech32-checksum", "short-payload", "long-payload", "unknown-prefix",
        "unknown-hrp", "v0-bech32m", "bad-char", "empty", "too-long"])
def test_rejects_bad_address_naming_the_problem(address, message):
    with pytest.raises(AddressError, match=message):
        address_to_script(address, MAIN)


def test_address_error_is_a_decode_error():
    assert issubclass(AddressError, DecodeError)


@pytest.mark.parametrize("script_hex", [
    "",
    "2102" + "11" * 32 + "ac",  # P2PK: a script with no address
    "6a0401020304",  # OP_RETURN
    "0019" + "00" * 25,  # witness v0 program of neither 20 nor 32 bytes
    "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ad",  # P2PKH with the wrong last opcode
    "a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888",  # P2SH ending in OP_EQUALVERIFY
])
def test_script_without_an_address_gives_none(script_hex):
    assert script_to_address(bytes.fromhex(script_hex), MAIN) is None


@pytest.mark.parametrize(("script_hex", "expected"), [
    ("0014" + "ab" * 20, (0, bytes([0xAB]) * 20)),
    ("5102abcd", (1, b"\xab\xcd")),
    ("6028" + "00" * 40, (16, bytes(40))),
    ("0001ab", None),  # 3 bytes: program shorter than 2
    ("5129" + "00" * 41, None),  # 43 bytes: program longer than 40
    ("4f02abcd", None),  # OP_1NEGATE is not a version opcode
    ("61020000", None),  # OP_NOP is not a version opcode
    ("0003abcd", None),  # push length disagrees with what follows
    ("004c02abcd", None),  # OP_PUSHDATA1 is not a direct push
])
def test_witness_program_follows_bip141(script_hex, expected):
    assert witness_program(bytes.fromhex(script_hex)) == expected


def test_script_helpers_refuse_wrong_hash_sizes():
    with pytest.raises(ValueError):
        p2pkh_script(bytes(32))
    with pytest.raises(ValueError):
        p2wsh_script(bytes(20))


# -- WIF --

WIKI_SECRET = bytes.fromhex("0c28fca386c7a227600b2fe50b7cae11ec86d3bf1fbe471be89827e19d72aa1d")


@pytest.mark.parametrize(("compressed", "wif"), [
    (False, "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"),
    (True, "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617"),
], ids=["uncompressed", "compressed"])
def test_wif_bitcoin_wiki_vector(compressed, wif):
    assert encode_wif(WIKI_SECRET, compressed, MAIN) == wif
    assert decode_wif(wif, MAIN) == (WIKI_SECRET, compressed)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("compressed", [False, True])
def test_wif_round_trips_on_every_network(network, compressed):
    params = NETWORKS[network]
    wif = encode_wif(WIKI_SECRET, compressed, params)
    if params.wif_prefix == 239:  # testnet-style keys start with '9' or 'c'
        assert wif[0] == ("c" if compressed else "9")
    assert decode_wif(wif, params) == (WIKI_SECRET, compressed)


@pytest.mark.parametrize(("payload", "params", "message"), [
    (bytes([128]) + WIKI_SECRET, REGTEST, "key is for network 'main', not 'regtest'"),
    (bytes([239]) + WIKI_SECRET, MAIN, "key is for network 'test' or 'regtest' or 'devnet', not 'main'"),
    (bytes([42]) + WIKI_SECRET, MAIN, "unknown WIF prefix 42"),
    (bytes([128]) + WIKI_SECRET[:31], MAIN, "bad length: WIF payload is 32 bytes"),
    (bytes([128]) + WIKI_SECRET + b"\x01\x01", MAIN, "bad length: WIF payload is 35 bytes"),
    (bytes([128]) + WIKI_SECRET + b"\x02", MAIN, "bad compression flag 0x02"),
    (bytes([128]) + bytes(32), MAIN, "secret out of range"),
    (bytes([128]) + SECP256K1_ORDER.to_bytes(32, "big") + b"\x01", MAIN, "secret out of range"),
], ids=["main-on-regtest", "test-on-main", "unknown-prefix", "short", "long", "bad-flag",
        "zero-secret", "secret-equals-n"])
def test_rejects_bad_wif_naming_the_problem(payload, params, message):
    with pytest.raises(WIFError, match=message):
        decode_wif(b58check_encode(payload), params)


def test_rejects_wif_with_bad_checksum():
    with pytest.raises(WIFError, match="bad checksum"):
        decode_wif("5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK", MAIN)


def test_wif_secret_range_edges():
    assert decode_wif(encode_wif((1).to_bytes(32, "big"), True, MAIN), MAIN)[0][-1] == 1
    top = (SECP256K1_ORDER - 1).to_bytes(32, "big")
    assert decode_wif(encode_wif(top, True, MAIN), MAIN) == (top, True)
    with pytest.raises(ValueError, match="out of range"):
        encode_wif(SECP256K1_ORDER.to_bytes(32, "big"), True, MAIN)
    with pytest.raises(ValueError, match="bad length"):
        encode_wif(bytes(31), True, MAIN)
