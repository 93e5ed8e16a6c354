"""Bech32/Bech32m strings and segwit addresses: BIP173 and BIP350 vectors plus our data files."""

import json
from pathlib import Path

import pytest

from node.consensus.address import AddressError, address_to_script, script_to_address
from node.consensus.bech32 import (
    Bech32Error,
    Encoding,
    bech32_decode,
    bech32_encode,
    convertbits,
    decode_segwit_address,
    encode_segwit_address,
)
from node.consensus.params import MAIN, NETWORKS, REGTEST, TEST

DATA = Path(__file__).parents[1] / "data"
VALID = json.loads((DATA / "bech32_encode_decode.json").read_text())
INVALID = json.loads((DATA / "bech32_invalid.json").read_text())
NETWORK_BY_HRP = {"bc": MAIN, "tb": TEST, "bcrt": REGTEST}

# BIP350 replaced these BIP173 vectors: v1+ programs now take a bech32m checksum, so the old
# strings must be rejected and the new ones produced.
SUPERSEDED_BY_BIP350 = {
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx":
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    "BC1SW50QA3JX3S": "BC1SW50QGDZ25J",
    "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj": "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
}

# BIP350's v1 vectors that BIP173 could not have.
BIP350_VALID = [
    ("5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
     "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"),
    ("512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
     "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
]

# The data file's reasons (BIP173's wording) -> what our error message says.
REASON_MESSAGE = {
    "Invalid human-readable part": "wrong human-readable part",
    "Invalid checksum": "bad checksum",
    "Invalid witness version": "invalid witness version",
    "Invalid program length": "invalid program length",
    "Invalid program length for witness version 0 (per BIP141)": "for witness version 0",
    "Mixed case": "mixed case",
    "zero padding of more than 4 bits": "padding of more than 4 bits",
    "Non-zero padding in 8-to-5 conversion": "non-zero padding",
    "Empty data section": "empty data section",
}


def _hrp(address: str) -> str:
    return address.lower().rpartition("1")[0]


@pytest.mark.parametrize(("script_hex", "address"), VALID + BIP350_VALID,
                         ids=[a for _, a in VALID + BIP350_VALID])
def test_vector_address_and_script_round_trip(script_hex, address):
    params = NETWORK_BY_HRP[_hrp(address)]
    script = bytes.fromhex(script_hex)
    if address in SUPERSEDED_BY_BIP350:
        with pytest.raises(AddressError, match="requires bech32m"):
            address_to_script(address, params)
        address = SUPERSEDED_BY_BIP350[address]
    assert address_to_script(address, params) == script
    assert script_to_address(script, params) == address.lower()


@pytest.mark.parametrize(("address", "reason"), INVALID, ids=[a for a, _ in INVALID])
def test_invalid_vector_is_rejected_for_the_reason_given(address, reason):
    hrp = _hrp(address) if _hrp(address) in NETWORK_BY_HRP else "bc"
    with pytest.raises(Bech32Error, match=REASON_MESSAGE[reason]):
        decode_segwit_address(hrp, address)
    for params in NETWORKS.values():
        with pytest.raises(AddressError):
            address_to_script(address, params)


# BIP350's invalid segwit addresses, with the problem each one has.
BIP350_INVALID = [
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "wrong human-readable part"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "v1 requires bech32m"),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "v2 requires bech32m"),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "v16 requires bech32m"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "wrong encoding: v0 requires bech32"),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "v0 requires bech32"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
     "invalid data character 'o' at position 59"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "invalid witness version 17"),
    ("bc1pw5dgrnzv", "invalid program length 1"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
     "invalid program length 41"),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "invalid program length 16 for witness version 0"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "mixed case"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "more than 4 bits"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "non-zero padding"),
    ("bc1gmk9yu", "empty data section"),
]


@pytest.mark.parametrize(("address", "message"), BIP350_INVALID, ids=[a for a, _ in BIP350_INVALID])
def test_bip350_invalid_address_is_rejected_saying_why(address, message):
    hrp = _hrp(address) if _hrp(address) in NETWORK_BY_HRP else "bc"
    with pytest.raises(Bech32Error, match=message):
        decode_segwit_address(hrp, address)


VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + "q" * 82 + "c8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11" + "l" * 82 + "ludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]


@pytest.mark.parametrize(("text", "encoding"),
                         [(s, Encoding.BECH32) for s in VALID_BECH32]
                         + [(s, Encoding.BECH32M) for s in VALID_BECH32M],
                         ids=VALID_BECH32 + VALID_BECH32M)
def test_valid_checksum_decodes_and_re_encodes_lowercase(text, encoding):
    hrp, data, got = bech32_decode(text)
    assert got is encoding
    assert bech32_encode(hrp, data, encoding) == text.lower()


# BIP173's and BIP350's invalid strings (the checksum kind does not matter for these).
INVALID_GENERIC = [
    ("\x201nwldj5", "invalid character ' ' at position 0"),
    ("\x7f1axkwrx", "invalid character"),
    ("\x801eym55h", "invalid character"),
    ("an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
     "too long \\(91 characters, max 90\\)"),
    ("pzry9x0s0muk", "missing separator"),
    ("1pzry9x0s0muk", "empty human-readable part"),
    ("x1b4n0q5v", "invalid data character 'b' at position 2"),
    ("li1dgmt3", "checksum too short"),
    ("de1lg7wt\xff", "invalid character"),
    ("A1G7SGD8", "bad checksum"),  # checksum computed over the uppercase hrp
    ("10a06t8", "empty human-readable part"),
    ("1qzzfhee", "empty human-readable part"),
    ("M1VUXWEZ", "bad checksum"),
    ("lt1igcx5c0", "invalid data character 'i'"),
    ("mm1crxm3i", "invalid data character 'i'"),
    ("au1s5cgom", "invalid data character 'o'"),
    ("A12UEl5L", "mixed case"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_GENERIC, ids=[repr(t) for t, _ in INVALID_GENERIC])
def test_invalid_string_is_rejected_saying_why(text, message):
    with pytest.raises(Bech32Error, match=message):
        bech32_decode(text)


def test_rejects_mixed_case_but_accepts_either_case_alone():
    address = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert decode_segwit_address("bc", address) == decode_segwit_address("bc", address.upper())
    with pytest.raises(Bech32Error, match="mixed case"):
        decode_segwit_address("bc", address[:-1] + "T")


def test_90_characters_is_the_limit():
    ninety = "11" + "q" * 82 + "c8247j"
    assert len(ninety) == 90
    bech32_decode(ninety)
    with pytest.raises(Bech32Error, match="too long"):
        bech32_decode("1" + ninety)
    with pytest.raises(ValueError, match="too long"):
        bech32_encode("1", [0] * 84, Encoding.BECH32)


@pytest.mark.parametrize(("witver", "size", "message"), [
    (17, 20, "invalid witness version 17"),
    (-1, 20, "invalid witness version -1"),
    (1, 1, "invalid program length 1"),
    (1, 41, "invalid program length 41"),
    (0, 19, "invalid program length 19 for witness version 0"),
])
def test_encoder_refuses_what_no_address_can_carry(witver, size, message):
    with pytest.raises(ValueError, match=message):
        encode_segwit_address("bc", witver, bytes(size))


@pytest.mark.parametrize(("witver", "size"), [(0, 20), (0, 32), (1, 32), (1, 2), (16, 40)])
def test_segwit_address_round_trips(witver, size):
    program = bytes(range(size))
    assert decode_segwit_address("bcrt", encode_segwit_address("bcrt", witver, program)) == (
        witver, program)


def test_convertbits_padding_rules():
    assert convertbits([0xFF], 8, 5, True) == [31, 28]
    assert convertbits([31, 28], 5, 8, False) == [0xFF]
    with pytest.raises(Bech32Error, match="non-zero padding"):
        convertbits([31, 29], 5, 8, False)
    with pytest.raises(Bech32Error, match="padding of more than 4 bits"):
        convertbits([31, 28, 0], 5, 8, False)
