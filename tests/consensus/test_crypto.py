"""Keys and ECDSA behind the crypto interface: every backend, and the backends against each other."""

from __future__ import annotations

import hashlib
import importlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.consensus import crypto
from node.consensus.crypto.backend import (
    HALF_N,
    N,
    P,
    encode_der,
    grind_entropy,
    normalize_s,
    parse_der_lax,
)
from node.consensus.errors import DecodeError
from node.consensus.keys import PrivateKey, PublicKey

try:
    import coincurve  # noqa: F401

    HAVE_COINCURVE = True
except ImportError:
    HAVE_COINCURVE = False

NEEDS_COINCURVE = pytest.mark.skipif(not HAVE_COINCURVE, reason="coincurve is not installed")
BACKEND_NAMES = [
    "ecdsa",
    pytest.param("coincurve", marks=NEEDS_COINCURVE),
]


def load(name: str) -> crypto.CryptoBackend:
    return importlib.import_module(f"node.consensus.crypto.{name}_backend")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request) -> crypto.CryptoBackend:
    return load(request.param)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def secret_int(k: int) -> bytes:
    return k.to_bytes(32, "big")


def der_raw(r: bytes, s: bytes) -> bytes:
    """DER-shaped bytes around raw R and S contents, short-form lengths, no checks at all."""
    body = b"\x02" + bytes([len(r)]) + r + b"\x02" + bytes([len(s)]) + s
    return b"\x30" + bytes([len(body)]) + body


def split_der(sig: bytes) -> tuple[int, int]:
    rs = parse_der_lax(sig)
    assert rs is not None
    return rs


G_COMPRESSED = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
G_UNCOMPRESSED = (
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)

# RFC6979 over secp256k1 with SHA-256, low-S DER: the Trezor / CoreBitcoin vectors, also in
# btcd's and dcrd's signature tests. (secret, message to SHA-256, DER signature.)
RFC6979_VECTORS = [
    (
        "cca9fbcc1b41e5a95d369eaa6ddcff73b61a4efaa279cfc6567e8daa39cbaf50",
        b"sample",
        "3045022100af340daf02cc15c8d5d08d7735dfe6b98a474ed373bdb5fbecf7571be52b3842"
        "02205009fb27f37034a9b24b707b7c6b79ca23ddef9e25f7282e8a797efe53a8f124",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000001",
        b"Satoshi Nakamoto",
        "3045022100934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
        "02202442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5",
    ),
    (
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
        b"Satoshi Nakamoto",
        "3045022100fd567d121db66e382991534ada77a6bd3106f0a1098c231e47993447cd6af2d0"
        "02206b39cd0eb1bc8603e159ef5c20a5c8ad685a45b06ce9bebed3f153d10d93bed5",
    ),
    (
        "f8b8af8ce3c7cca5e300d33939540c10d45ce001b8f252bfbc57ba0342904181",
        b"Alan Turing",
        "304402207063ae83e7f62bbb171798131b4a0564b956930092b33b07b395615d9ec7e15c"
        "022058dfcc1e00a35e1572f366ffe34ba0fc47db1e7189759b9fb233c5b05ab388ea",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000001",
        b"All those moments will be lost in time, like tears in rain. Time to die...",
        "30450221008600dbd41e348fe5c9465ab92d23e3db8b98b873beecd930736488696438cb6b"
        "0220547fe64427496db33bf66019dacbf0039c04199abb0122918601db38a72cfc21",
    ),
    (
        "e91671c46231f833a6406ccbea0e3e392c76c167bac1cb013f6f1013980455c2",
        b"There is a computer disease that anybody who works with computers knows about. "
        b"It's a very serious disease and it interferes completely with the work. "
        b"The trouble with computers is that you 'play' with them!",
        "3045022100b552edd27580141f3b2a5463048cb7cd3e047b97c9f98076c32dbdf85a68718b"
        "0220279fa72dd19bfae05577e06c7c0c1900c371fcd5893f7e1d56a37d30174671f6",
    ),
]

# Bitcoin Core's key_tests.cpp "test deterministic signing": CKey::Sign (grinding) over
# Hash("Very deterministic message"), for strSecret1 and strSecret2.
CORE_DETERMINISTIC_VECTORS = [
    (
        "12b004fff7f4b69ef8650e767f18f11ede158148b425660723b9f9a66e61f747",
        "304402205dbbddda71772d95ce91cd2d14b592cfbc1dd0aabd6a394b6c2d377bbe59d31d"
        "022014ddda21494a4e221f0824f0b8b924c43fa43c0ad57dccdaa11f81a6bd4582f6",
    ),
    (
        "b524c28b61c9b2c49b2c7dd4c2d75887abb78768c054bd7c01af4029f6c0d117",
        "3044022052d8a32079c11e79db95af63bb9600c5b04f21a9ca33dc129c2bfa8ac9dc1cd5"
        "022061d8ae5e0f6c1a16bde3719c64c2fd70e404b6428ab9a69566962e8771b5944d",
    ),
]

# BIP143's native P2WPKH example, input 1: key, sighash, and the signature in the spec.
BIP143_SECRET = "619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9"
BIP143_PUBKEY = "025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357"
BIP143_SIGHASH = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"
BIP143_SIG = (
    "304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a"
    "0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee"
)


# --- known vectors ------------------------------------------------------------------------


def test_pubkey_of_secret_one_is_the_generator(backend):
    assert backend.pubkey_from_secret(secret_int(1)).hex() == G_COMPRESSED
    assert backend.pubkey_from_secret(secret_int(1), compressed=False).hex() == G_UNCOMPRESSED


@pytest.mark.parametrize("secret,message,expected", RFC6979_VECTORS, ids=lambda v: None)
def test_signs_rfc6979_vectors_without_grinding(backend, secret, message, expected):
    sig = backend.sign(bytes.fromhex(secret), sha256(message), grind=False)
    assert sig.hex() == expected


@pytest.mark.parametrize("secret,expected", CORE_DETERMINISTIC_VECTORS)
def test_signs_bitcoin_core_deterministic_vectors(backend, secret, expected):
    msg = hashlib.sha256(sha256(b"Very deterministic message")).digest()
    assert backend.sign(bytes.fromhex(secret), msg).hex() == expected


def test_bip143_p2wpkh_signature_verifies_and_is_reproduced(backend):
    secret, msg = bytes.fromhex(BIP143_SECRET), bytes.fromhex(BIP143_SIGHASH)
    assert backend.pubkey_from_secret(secret).hex() == BIP143_PUBKEY
    assert backend.verify(bytes.fromhex(BIP143_PUBKEY), bytes.fromhex(BIP143_SIG), msg)
    assert backend.sign(secret, msg).hex() == BIP143_SIG


def test_grinding_matches_core_extra_entropy_counter(backend):
    # key 1 / "Satoshi Nakamoto" has a high R (0x93...), so CKey::Sign grinds: counter 1, 2, ...
    # as WriteLE32 into 32 zero bytes, fed to RFC6979 as extra data. Recompute independently
    # with python-ecdsa's own sign_digest_deterministic(extra_entropy=...).
    from ecdsa import SECP256k1, SigningKey

    secret, msg = secret_int(1), sha256(b"Satoshi Nakamoto")
    sk = SigningKey.from_string(secret, curve=SECP256k1, hashfunc=hashlib.sha256)
    counter = 0
    while True:
        extra = b"" if counter == 0 else counter.to_bytes(4, "little") + bytes(28)
        r, s = sk.sign_digest_deterministic(
            msg, hashfunc=hashlib.sha256, sigencode=lambda r, s, order: (r, s), extra_entropy=extra
        )
        if r < 1 << 255:
            break
        counter += 1
    assert counter >= 1
    sig = backend.sign(secret, msg)
    assert sig == encode_der(r, normalize_s(s))
    assert len(sig) <= 70 and sig[3] == 0x20 and sig[4] < 0x80
    assert backend.verify(backend.pubkey_from_secret(secret), sig, msg)


def test_grind_entropy_is_write_le32_into_32_zero_bytes():
    assert grind_entropy(1) == b"\x01" + bytes(31)
    assert grind_entropy(0x01020304) == bytes([4, 3, 2, 1]) + bytes(28)


# --- sign and verify ----------------------------------------------------------------------


def test_signatures_are_low_r_low_s_strict_der_and_verify(backend):
    rng = random.Random(1)
    for _ in range(20):
        secret = rng.randbytes(32)
        msg = rng.randbytes(32)
        sig = backend.sign(secret, msg)
        r, s = split_der(sig)
        assert sig == encode_der(r, s)  # strict, minimal DER
        assert r < 1 << 255 and s <= HALF_N
        assert len(sig) <= 70
        pub = backend.pubkey_from_secret(secret)
        assert backend.verify(pub, sig, msg)
        assert backend.verify(backend.pubkey_from_secret(secret, compressed=False), sig, msg)
        assert not backend.verify(pub, sig, bytes([msg[0] ^ 1]) + msg[1:])
        assert not backend.verify(backend.pubkey_from_secret(sha256(secret)), sig, msg)


def test_sign_is_deterministic(backend):
    secret, msg = sha256(b"k"), sha256(b"m")
    assert backend.sign(secret, msg) == backend.sign(secret, msg)


@pytest.mark.parametrize(
    "secret", [b"", bytes(32), secret_int(N), b"\xff" * 32, secret_int(1)[1:], b"\x01" * 33]
)
def test_sign_rejects_invalid_secrets(backend, secret):
    with pytest.raises(ValueError):
        backend.sign(secret, bytes(32))
    with pytest.raises(ValueError):
        backend.pubkey_from_secret(secret)
    assert not backend.secret_is_valid(secret)


def test_sign_rejects_message_not_32_bytes(backend):
    with pytest.raises(ValueError):
        backend.sign(secret_int(1), bytes(31))


def test_secret_validity_bounds(backend):
    assert backend.secret_is_valid(secret_int(1))
    assert backend.secret_is_valid(secret_int(N - 1))
    assert not backend.secret_is_valid(secret_int(0))
    assert not backend.secret_is_valid(secret_int(N))


def test_high_s_twin_verifies_because_core_normalizes(backend):
    secret, msg = sha256(b"high s"), sha256(b"msg")
    r, s = split_der(backend.sign(secret, msg))
    twin = encode_der(r, N - s)
    assert N - s > HALF_N
    assert backend.verify(backend.pubkey_from_secret(secret), twin, msg)


def test_accepts_bytearray_and_memoryview_inputs(backend):
    secret, msg = sha256(b"buf"), sha256(b"msg")
    pub, sig = backend.pubkey_from_secret(secret), backend.sign(secret, msg)
    assert backend.verify(bytearray(pub), bytearray(sig), bytearray(msg))
    assert backend.verify(memoryview(pub), memoryview(sig), memoryview(msg))


@pytest.fixture
def signed(backend):
    secret, msg = sha256(b"fixture"), sha256(b"message")
    sig = backend.sign(secret, msg, grind=False)
    return backend, backend.pubkey_from_secret(secret), sig, msg


def test_rejects_invalid_signatures_without_raising(signed):
    backend, pub, sig, msg = signed
    r, s = split_der(sig)
    cases = {
        "r zero": encode_der(0, s),
        "s zero": encode_der(r, 0),
        "r equals N": encode_der(N, s),
        "r plus N": encode_der(r + N, s) if r + N < 1 << 256 else encode_der(N + 1, s),
        "s equals N": encode_der(r, N),
        "r 33 significant bytes": der_raw(b"\x01" + r.to_bytes(32, "big"), s.to_bytes(32, "big")),
        "empty": b"",
        "sequence tag only": b"\x30",
        "garbage": b"\x01\x02\x03 not a signature",
        "all zero": bytes(70),
        "truncated": sig[:-1],
        "compact 64 bytes": r.to_bytes(32, "big") + s.to_bytes(32, "big"),
        "wrong integer tag": sig[:2] + b"\x03" + sig[3:],
    }
    for name, bad in cases.items():
        assert backend.verify(pub, bad, msg) is False, name
    assert backend.verify(pub, sig, bytes(32)) is False
    assert backend.verify(pub, sig, msg[:31]) is False
    assert backend.verify(pub, sig, msg + b"\x00") is False


def test_accepts_ber_encodings_the_lax_parser_allows(signed):
    """Pre-BIP66 blocks hold such signatures; CPubKey::Verify reads them through the lax parser."""
    backend, pub, sig, msg = signed
    r, s = split_der(sig)
    rb, sb = r.to_bytes(32, "big"), s.to_bytes(32, "big")
    body = b"\x02\x20" + rb + b"\x02\x20" + sb
    cases = {
        "strict": sig,
        "trailing garbage (e.g. a sighash byte)": sig + b"\x01",
        "wrong sequence length": b"\x30\x00" + sig[2:],
        "long-form sequence length": b"\x30\x81" + bytes([len(body)]) + body,
        "long-form R length": b"\x30\x45\x02\x81\x20" + rb + b"\x02\x20" + sb,
        "zero-padded long-form R length": b"\x30\x48\x02\x84\x00\x00\x00\x20"
        + rb
        + b"\x02\x20"
        + sb,
        "excess zero padding": der_raw(bytes(5) + rb, bytes(40) + sb),
        "unpadded (negative) R and S": der_raw(rb, sb),
    }
    for name, good in cases.items():
        assert backend.verify(pub, good, msg) is True, name


def test_negative_r_encoding_verifies(backend):
    """A high-bit R without its 0x00 pad: strict DER says negative, Core's lax parser does not."""
    rng = random.Random(7)
    while True:
        secret, msg = rng.randbytes(32), rng.randbytes(32)
        sig = backend.sign(secret, msg, grind=False)
        r, s = split_der(sig)
        if r >> 255:
            break
    ber = der_raw(r.to_bytes(32, "big"), s.to_bytes((s.bit_length() + 8) // 8, "big"))
    assert ber[4] >= 0x80
    assert backend.verify(backend.pubkey_from_secret(secret), ber, msg)


def _not_on_curve_x() -> int:
    x = 1
    while pow(x**3 + 7, (P - 1) // 2, P) == 1:
        x += 1
    return x


def _on_curve_small_x() -> int:
    x = 1
    while pow(x**3 + 7, (P - 1) // 2, P) != 1:
        x += 1
    return x


def _hybrid(uncompressed: bytes, right_parity: bool) -> bytes:
    odd = uncompressed[64] & 1
    header = 6 + (odd if right_parity else 1 - odd)
    return bytes([header]) + uncompressed[1:]


def test_rejects_invalid_pubkeys_without_raising(signed):
    backend, pub, sig, msg = signed
    unc = backend.pubkey_serialize(pub, compressed=False)
    bad_y = unc[:64] + bytes([unc[64] ^ 1])
    x_off = _not_on_curve_x().to_bytes(32, "big")
    x_big = (P + _on_curve_small_x()).to_bytes(32, "big")
    cases = {
        "empty": b"",
        "header only": pub[:1],
        "compressed, one byte short": pub[:-1],
        "compressed, one byte long": pub + b"\x00",
        "0x04 header on 33 bytes": b"\x04" + pub[1:],
        "0x06 header on 33 bytes": b"\x06" + pub[1:],
        "0x02 header on 65 bytes": b"\x02" + unc[1:],
        "0x05 header, 33 bytes": b"\x05" + pub[1:],
        "0x05 header, 65 bytes": b"\x05" + unc[1:],
        "0x00 header (infinity)": b"\x00",
        "raw 64 bytes": unc[1:],
        "x only": pub[1:],
        "compressed x not on curve": b"\x02" + x_off,
        "compressed x >= p": b"\x02" + x_big,
        "uncompressed y off curve": bad_y,
        "hybrid wrong parity": _hybrid(unc, right_parity=False),
        "hybrid y off curve": b"\x06" + bad_y[1:] if bad_y[64] % 2 == 0 else b"\x07" + bad_y[1:],
    }
    for name, bad in cases.items():
        assert backend.pubkey_is_valid(bad) is False, name
        assert backend.verify(bad, sig, msg) is False, name
        with pytest.raises(ValueError):
            backend.pubkey_serialize(bad, True)
    # The small x itself is a valid point: only its >= p encoding was invalid.
    assert backend.pubkey_is_valid(b"\x02" + _on_curve_small_x().to_bytes(32, "big"))


def test_hybrid_pubkey_with_right_parity_verifies(signed):
    backend, pub, sig, msg = signed
    hybrid = _hybrid(backend.pubkey_serialize(pub, compressed=False), right_parity=True)
    assert backend.pubkey_is_valid(hybrid)
    assert backend.verify(hybrid, sig, msg)
    assert backend.pubkey_serialize(hybrid, compressed=True) == pub


def test_pubkey_serialize_round_trips(backend):
    pub = backend.pubkey_from_secret(sha256(b"ser"))
    unc = backend.pubkey_serialize(pub, compressed=False)
    assert len(unc) == 65 and unc[0] == 4
    assert backend.pubkey_serialize(unc, compressed=True) == pub
    assert backend.pubkey_serialize(pub, compressed=True) == pub


_bytes_or_near_valid = st.one_of(
    st.binary(max_size=80),
    st.binary(min_size=33, max_size=33).map(lambda b: b"\x02" + b[1:]),
    st.binary(min_size=65, max_size=65).map(lambda b: b"\x04" + b[1:]),
    st.binary(min_size=4, max_size=75).map(lambda b: b"\x30" + b[:1] + b"\x02" + b[2:]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pubkey=_bytes_or_near_valid, sig=_bytes_or_near_valid, msg=st.binary(max_size=40))
@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_verify_never_raises(name, pubkey, sig, msg):
    assert load(name).verify(pubkey, sig, msg) in (True, False)


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_verify_of_non_bytes_objects_is_false(name):
    backend = load(name)
    for junk in (None, 5, "02" * 33, object()):
        assert backend.verify(junk, b"\x30", bytes(32)) is False
        assert backend.verify(bytes.fromhex(G_COMPRESSED), junk, bytes(32)) is False
        assert backend.verify(bytes.fromhex(G_COMPRESSED), b"\x30", junk) is False


# --- tweaks (BIP32) -----------------------------------------------------------------------


def test_tweaks_commute_with_pubkey_derivation(backend):
    rng = random.Random(3)
    for _ in range(10):
        secret, tweak = rng.randbytes(32), rng.randbytes(32)
        if not backend.secret_is_valid(secret) or int.from_bytes(tweak, "big") >= N:
            continue
        child = backend.secret_tweak_add(secret, tweak)
        assert (
            int.from_bytes(child, "big")
            == (int.from_bytes(secret, "big") + int.from_bytes(tweak, "big")) % N
        )
        for compressed in (True, False):
            parent_pub = backend.pubkey_from_secret(secret, compressed)
            assert backend.pubkey_tweak_add(parent_pub, tweak) == backend.pubkey_from_secret(
                child, compressed
            )


def test_zero_tweak_is_identity(backend):
    secret = sha256(b"zero tweak")
    pub = backend.pubkey_from_secret(secret)
    assert backend.secret_tweak_add(secret, bytes(32)) == secret
    assert backend.pubkey_tweak_add(pub, bytes(32)) == pub


def test_tweaks_reject_out_of_range_and_zero_results(backend):
    secret = secret_int(5)
    pub = backend.pubkey_from_secret(secret)
    for bad_tweak in (secret_int(N), b"\xff" * 32, bytes(31)):
        with pytest.raises(ValueError):
            backend.secret_tweak_add(secret, bad_tweak)
        with pytest.raises(ValueError):
            backend.pubkey_tweak_add(pub, bad_tweak)
    with pytest.raises(ValueError):  # 5 + (N - 5) == 0
        backend.secret_tweak_add(secret, secret_int(N - 5))
    with pytest.raises(ValueError):  # 5G + (N - 5)G is the point at infinity
        backend.pubkey_tweak_add(pub, secret_int(N - 5))
    with pytest.raises(ValueError):
        backend.secret_tweak_add(bytes(32), secret_int(1))
    with pytest.raises(ValueError):
        backend.pubkey_tweak_add(b"\x02" + bytes(32), secret_int(1))


# --- the two backends against each other ---------------------------------------------------


@pytest.fixture
def both():
    pytest.importorskip("coincurve", reason="coincurve is not installed")
    return load("ecdsa"), load("coincurve")


def test_backends_agree_on_sign_and_pubkeys(both):
    ec, cc = both
    rng = random.Random(2024)
    for i in range(200):
        secret = rng.randbytes(32)
        msg = rng.randbytes(32) if i % 50 else b"\xff" * 32  # >= N: RFC6979 reduces it mod N
        if not ec.secret_is_valid(secret):
            continue
        assert ec.sign(secret, msg) == cc.sign(secret, msg), secret.hex()
        if i % 4 == 0:
            assert ec.sign(secret, msg, grind=False) == cc.sign(secret, msg, grind=False)
        for compressed in (True, False):
            assert ec.pubkey_from_secret(secret, compressed) == cc.pubkey_from_secret(
                secret, compressed
            )


def test_backends_agree_on_tweaks(both):
    ec, cc = both
    rng = random.Random(99)
    specials = [bytes(32), secret_int(1), secret_int(N - 1), secret_int(N), b"\xff" * 32]
    for i in range(60):
        secret = rng.randbytes(32)
        tweak = specials[i] if i < len(specials) else rng.randbytes(32)
        if i == len(specials):
            tweak = secret_int(N - int.from_bytes(secret, "big") % N)  # sums to zero
        for compressed in (True, False):
            pub = cc.pubkey_from_secret(secret, compressed)
            assert _outcome(ec.pubkey_tweak_add, pub, tweak) == _outcome(
                cc.pubkey_tweak_add, pub, tweak
            )
        assert _outcome(ec.secret_tweak_add, secret, tweak) == _outcome(
            cc.secret_tweak_add, secret, tweak
        )


def _outcome(f, *args):
    try:
        return f(*args)
    except ValueError:
        return "ValueError"


def _mutations(rng: random.Random, pub: bytes, sig: bytes, msg: bytes):
    r, s = split_der(sig)
    yield pub, sig, msg
    yield pub, encode_der(r, N - s), msg
    yield pub, der_raw(r.to_bytes(32, "big"), s.to_bytes(32, "big")), msg
    yield pub, sig + rng.randbytes(3), msg
    i = rng.randrange(len(sig))
    yield pub, sig[:i] + bytes([sig[i] ^ (1 << rng.randrange(8))]) + sig[i + 1 :], msg
    yield pub, sig[: rng.randrange(len(sig))], msg
    j = rng.randrange(1, len(pub))
    yield pub[:j] + bytes([pub[j] ^ 1]) + pub[j + 1 :], sig, msg
    yield pub, sig, bytes([msg[0] ^ 0x80]) + msg[1:]
    yield pub, rng.randbytes(len(sig)), msg


def test_backends_agree_on_verify(both):
    ec, cc = both
    rng = random.Random(5)
    verdicts = []
    for _ in range(40):
        secret, msg = rng.randbytes(32), rng.randbytes(32)
        pub = cc.pubkey_from_secret(secret, compressed=rng.random() < 0.7)
        sig = cc.sign(secret, msg, grind=rng.random() < 0.5)
        for case in _mutations(rng, pub, sig, msg):
            verdict = cc.verify(*case)
            assert ec.verify(*case) == verdict, [c.hex() for c in case]
            verdicts.append(verdict)
    assert any(verdicts) and not all(verdicts)


# --- the ecdsa backend's per-key precomputation -------------------------------------------


# --- shared helpers -----------------------------------------------------------------------


R1 = bytes.fromhex("934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8")
S1 = bytes.fromhex("2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5")
R1_INT, S1_INT = int.from_bytes(R1, "big"), int.from_bytes(S1, "big")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("strict DER", (R1_INT, S1_INT)),
        ("trailing garbage", (R1_INT, S1_INT)),
        ("sequence length ignored", (R1_INT, S1_INT)),
        ("long-form sequence length", (R1_INT, S1_INT)),
        ("long-form sequence length past end", None),
        ("long-form R length", (R1_INT, S1_INT)),
        ("long-form R length, zero-padded", (R1_INT, S1_INT)),
        ("long-form R length of 4 bytes", None),
        ("long-form R length 0x80 (empty R)", (0, S1_INT)),
        ("R longer than input", None),
        ("S longer than input", None),
        ("many leading zeros", (R1_INT, S1_INT)),
        ("negative R read unsigned", (R1_INT, S1_INT)),
        ("R of 33 significant bytes", (0, 0)),
        ("R equals N", (0, 0)),
        ("S equals N", (0, 0)),
        ("R is N - 1", (N - 1, S1_INT)),
        ("empty R and S", (0, 0)),
        ("empty", None),
        ("no sequence length", None),
        ("wrong sequence tag", None),
        ("missing S", None),
        ("wrong S tag", None),
        ("S length byte missing", None),
    ],
)
def test_parse_der_lax_edge_cases(raw, expected):
    r, s = b"\x00" + R1, S1
    builds = {
        "strict DER": der_raw(r, s),
        "trailing garbage": der_raw(r, s) + b"\xde\xad",
        "sequence length ignored": b"\x30\x01" + der_raw(r, s)[2:],
        "long-form sequence length": b"\x30\x82\x00\x45" + der_raw(r, s)[2:],
        "long-form sequence length past end": b"\x30\x85\x00\x00\x00\x00",
        "long-form R length": b"\x30\x00\x02\x81\x21" + r + b"\x02\x20" + s,
        "long-form R length, zero-padded": b"\x30\x00\x02\x86\x00\x00\x00\x00\x00\x21"
        + r
        + b"\x02\x20"
        + s,
        "long-form R length of 4 bytes": b"\x30\x00\x02\x84\x01\x00\x00\x00" + bytes(300),
        "long-form R length 0x80 (empty R)": b"\x30\x00\x02\x80\x02\x20" + s,
        "R longer than input": b"\x30\x00\x02\x30" + r,
        "S longer than input": b"\x30\x00\x02\x21" + r + b"\x02\x21" + s,
        "many leading zeros": der_raw(bytes(20) + R1, bytes(25) + S1),
        "negative R read unsigned": der_raw(R1, S1),
        "R of 33 significant bytes": der_raw(b"\x01" + R1, S1),
        "R equals N": der_raw(N.to_bytes(32, "big"), S1),
        "S equals N": der_raw(R1, N.to_bytes(32, "big")),
        "R is N - 1": der_raw((N - 1).to_bytes(32, "big"), S1),
        "empty R and S": b"\x30\x04\x02\x00\x02\x00",
        "empty": b"",
        "no sequence length": b"\x30",
        "wrong sequence tag": b"\x31" + der_raw(r, s)[1:],
        "missing S": b"\x30\x23\x02\x21" + r,
        "wrong S tag": b"\x30\x00\x02\x21" + r + b"\x03\x20" + s,
        "S length byte missing": b"\x30\x00\x02\x21" + r + b"\x02",
    }
    assert parse_der_lax(builds[raw]) == expected


@pytest.mark.parametrize(
    "r,s,expected",
    [
        (1, 1, "3006020101020101"),
        (0x7F, 0x80, "30070201 7f 0202 0080"),
        (0, 0x100, "30070201 00 0202 0100"),
        (R1_INT, S1_INT, "3045022100" + R1.hex() + "0220" + S1.hex()),
    ],
)
def test_encode_der_is_minimal(r, s, expected):
    sig = encode_der(r, s)
    assert sig.hex() == expected.replace(" ", "")
    assert parse_der_lax(sig) == ((r, s) if r < N and s < N else (0, 0))


def test_encode_der_rejects_out_of_range():
    with pytest.raises(ValueError):
        encode_der(-1, 1)
    with pytest.raises(ValueError):
        encode_der(1, 1 << 256)


def test_normalize_s():
    assert normalize_s(1) == 1
    assert normalize_s(HALF_N) == HALF_N
    assert normalize_s(HALF_N + 1) == N - HALF_N - 1 == HALF_N
    assert normalize_s(N - 1) == 1


# --- backend selection --------------------------------------------------------------------


def test_available_backends_lists_ecdsa_and_prefers_coincurve():
    names = crypto.available_backends()
    assert "ecdsa" in names
    assert names[0] == ("coincurve" if HAVE_COINCURVE else "ecdsa")


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_env_var_picks_the_backend(monkeypatch, name):
    monkeypatch.setattr(crypto, "_backend", None)
    monkeypatch.setenv(crypto.ENV_VAR, name)
    assert crypto.get_backend().name == name
    assert crypto.pubkey_from_secret(secret_int(1)).hex() == G_COMPRESSED


def test_default_backend_is_the_preferred_one(monkeypatch):
    monkeypatch.setattr(crypto, "_backend", None)
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    assert crypto.get_backend().name == crypto.available_backends()[0]


def test_unknown_backend_is_a_clear_value_error(monkeypatch):
    monkeypatch.setattr(crypto, "_backend", None)
    monkeypatch.setenv(crypto.ENV_VAR, "openssl")
    with pytest.raises(ValueError, match="MINICASH_CRYPTO_BACKEND.*openssl.*coincurve, ecdsa"):
        crypto.get_backend()
    with pytest.raises(ValueError, match="unknown crypto backend"):
        crypto.set_backend("nope")


def test_set_backend_switches_the_convenience_functions(monkeypatch):
    monkeypatch.setattr(crypto, "_backend", None)
    for name in crypto.available_backends():
        assert crypto.set_backend(name).name == name
        assert crypto.get_backend().name == name
        secret, msg = sha256(b"conv"), sha256(b"m")
        sig = crypto.sign(secret, msg)
        pub = crypto.pubkey_from_secret(secret)
        assert crypto.verify(pub, sig, msg)
        assert crypto.pubkey_is_valid(pub) and crypto.secret_is_valid(secret)
        assert crypto.pubkey_serialize(pub, False)[0] == 4
        assert crypto.pubkey_tweak_add(pub, secret_int(1)) == crypto.pubkey_from_secret(
            crypto.secret_tweak_add(secret, secret_int(1))
        )


# --- keys.py ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_private_and_public_key_objects(monkeypatch, name):
    monkeypatch.setattr(crypto, "_backend", load(name))
    key = PrivateKey(secret_int(1))
    assert key.pubkey().data.hex() == G_COMPRESSED
    assert key.pubkey(compressed=False).serialize().hex() == G_UNCOMPRESSED
    assert "0000" not in repr(key) and G_COMPRESSED in repr(key)
    pub = key.pubkey()
    assert pub.compressed and not key.pubkey(compressed=False).compressed
    assert pub.serialize(compressed=False).hex() == G_UNCOMPRESSED
    assert PublicKey(bytes.fromhex(G_UNCOMPRESSED)).serialize(compressed=True) == pub.data
    msg = sha256(b"keys")
    sig = key.sign(msg)
    assert pub.verify(sig, msg) and not pub.verify(sig, bytes(32))
    assert PublicKey(bytearray(pub.data)) == pub and hash(PublicKey(pub.data)) == hash(pub)
    with pytest.raises(DecodeError):
        PublicKey(b"\x02" + bytes(32))
    with pytest.raises(ValueError):
        PrivateKey(bytes(32))


def test_clear_caches_forgets_parsed_keys_and_verifying_still_works(backend):
    pubkey = bytes.fromhex(BIP143_PUBKEY)
    sig, digest = bytes.fromhex(BIP143_SIG), bytes.fromhex(BIP143_SIGHASH)
    assert backend.verify(pubkey, sig, digest)
    assert backend._parse_pubkey.cache_info().currsize > 0
    backend.clear_caches()
    assert backend._parse_pubkey.cache_info().currsize == 0
    assert backend.verify(pubkey, sig, digest)
