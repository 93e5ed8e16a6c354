"""Compact bits, proof-of-work checks, block proof, retargeting, median time past, difficulty.

Vectors are Bitcoin Core's: arith_uint256_tests.cpp (bignum_SetCompact), pow_tests.cpp
(get_next_work*), blockchain_tests.cpp (get_difficulty_*), and mainnet block 100000.
"""

import pytest

from node.consensus.hashes import hex_to_hash
from node.consensus.params import DEVNET, MAIN, NETWORKS, REGTEST, TEST
from node.consensus.pow import (
    block_proof,
    calculate_next_work_required,
    check_proof_of_work,
    compact_to_target,
    derive_target,
    difficulty,
    get_next_work_required,
    median_time_past,
    target_to_compact,
)
from node.consensus.primitives import BlockHeader

# (bits, target, negative, overflow, GetCompact(negative)) from arith_uint256_tests.cpp.
SET_COMPACT_VECTORS = [
    (0x00000000, 0, False, False, 0),
    (0x00123456, 0, False, False, 0),
    (0x01003456, 0, False, False, 0),
    (0x02000056, 0, False, False, 0),
    (0x03000000, 0, False, False, 0),
    (0x04000000, 0, False, False, 0),
    (0x00923456, 0, False, False, 0),
    (0x01803456, 0, False, False, 0),
    (0x02800056, 0, False, False, 0),
    (0x03800000, 0, False, False, 0),
    (0x04800000, 0, False, False, 0),
    (0x01123456, 0x12, False, False, 0x01120000),
    (0x01FEDCBA, 0x7E, True, False, 0x01FE0000),
    (0x02123456, 0x1234, False, False, 0x02123400),
    (0x03123456, 0x123456, False, False, 0x03123456),
    (0x04123456, 0x12345600, False, False, 0x04123456),
    (0x04923456, 0x12345600, True, False, 0x04923456),
    (0x05009234, 0x92340000, False, False, 0x05009234),
    (0x20123456, 0x12345600 << 224, False, False, 0x20123456),
]


@pytest.mark.parametrize("bits,target,negative,overflow,compact", SET_COMPACT_VECTORS,
                         ids=[f"{v[0]:08x}" for v in SET_COMPACT_VECTORS])
def test_set_compact_and_get_compact_match_core(bits, target, negative, overflow, compact):
    assert compact_to_target(bits) == (target, negative, overflow)
    assert target_to_compact(target, negative) == compact


def test_set_compact_flags_overflow():
    _, negative, overflow = compact_to_target(0xFF123456)
    assert (negative, overflow) == (False, True)


@pytest.mark.parametrize("bits", [0x23000001, 0x22000100, 0x21010000])
def test_overflow_boundaries(bits):
    # Core: nSize > 34, or nWord > 0xff && nSize > 33, or nWord > 0xffff && nSize > 32.
    assert compact_to_target(bits)[2] is True
    assert compact_to_target(bits - 0x01000000)[2] is False


def test_get_compact_never_sets_the_sign_bit():
    assert target_to_compact(0x80) == 0x02008000


@pytest.mark.parametrize("bits", [0x1D00FFFF, 0x1B04864C, 0x207FFFFF, 0x1F00FFFF, 0x170331DB])
def test_canonical_bits_round_trip(bits):
    assert target_to_compact(compact_to_target(bits)[0]) == bits


@pytest.mark.parametrize("params,bits", [(MAIN, 0x1D00FFFF), (TEST, 0x1D00FFFF),
                                         (REGTEST, 0x207FFFFF), (DEVNET, 0x1F00FFFF)])
def test_pow_limit_encodes_as_genesis_bits(params, bits):
    assert target_to_compact(params.pow_limit) == bits == params.genesis_bits


def test_rejects_out_of_range_inputs():
    with pytest.raises(ValueError):
        compact_to_target(1 << 32)
    with pytest.raises(ValueError):
        target_to_compact(1 << 256)
    with pytest.raises(ValueError):
        target_to_compact(-1)


# -- CheckProofOfWork -------------------------------------------------------------------------

BLOCK_100000 = BlockHeader(
    version=1,
    prev_hash=hex_to_hash("000000000002d01c1fccc21636b607dfd930d31d01c3a62104612a1719011250"),
    merkle_root=hex_to_hash("f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"),
    time=1293623863, bits=0x1B04864C, nonce=274148111)


def test_real_mainnet_header_passes_check_proof_of_work():
    assert BLOCK_100000.hash == hex_to_hash(
        "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506")
    assert check_proof_of_work(BLOCK_100000.hash, BLOCK_100000.bits, MAIN)


def test_rejects_hash_above_target():
    # The same hash against a target 2**16 times smaller.
    assert not check_proof_of_work(BLOCK_100000.hash, 0x1904864C, MAIN)


@pytest.mark.parametrize("params", list(NETWORKS.values()), ids=list(NETWORKS))
def test_every_genesis_satisfies_its_proof_of_work(params):
    g = params.genesis.header
    assert check_proof_of_work(g.hash, g.bits, params)


def test_devnet_genesis_needs_real_work():
    g = DEVNET.genesis.header
    assert check_proof_of_work(g.hash, g.bits, DEVNET)
    assert g.hash[-2:] == b"\x00\x00"  # display hash starts 0000
    wrong_nonce = BlockHeader(g.version, g.prev_hash, g.merkle_root, g.time, g.bits, g.nonce + 1)
    assert not check_proof_of_work(wrong_nonce.hash, g.bits, DEVNET)


@pytest.mark.parametrize("bits", [
    0x04923456,  # negative
    0x00000000,  # zero
    0x01003456,  # zero after the shift
    0xFF123456,  # overflow
    0x1D01FFFF,  # easier than mainnet's pow_limit
])
def test_rejects_invalid_bits(bits):
    assert derive_target(bits, MAIN.pow_limit) is None
    assert not check_proof_of_work(bytes(32), bits, MAIN)


def test_hash_equal_to_target_passes():
    target = compact_to_target(0x1D00FFFF)[0]
    assert check_proof_of_work(target.to_bytes(32, "little"), 0x1D00FFFF, MAIN)
    assert not check_proof_of_work((target + 1).to_bytes(32, "little"), 0x1D00FFFF, MAIN)


# -- GetBlockProof ----------------------------------------------------------------------------

def test_block_proof():
    assert block_proof(0x1D00FFFF) == 0x100010001  # the well-known work of a difficulty-1 block
    assert block_proof(0x207FFFFF) == 2  # regtest
    for bits in (0x04923456, 0, 0xFF123456):
        assert block_proof(bits) == 0


def test_block_proof_is_2_pow_256_over_target_plus_one():
    for bits in (0x1B04864C, 0x1F00FFFF, 0x170331DB, 0x03123456):
        target = compact_to_target(bits)[0]
        assert block_proof(bits) == 2**256 // (target + 1)


# -- CalculateNextWorkRequired (pow_tests.cpp) ------------------------------------------------

@pytest.mark.parametrize("last_bits,last_time,first_time,expected", [
    (0x1D00FFFF, 1262152739, 1261130161, 0x1D00D86A),  # get_next_work: blocks 30240..32255
    (0x1D00FFFF, 1233061996, 1231006505, 0x1D00FFFF),  # get_next_work_pow_limit: 0..2015
    (0x1C05A3F4, 1279297671, 1279008237, 0x1C0168FD),  # get_next_work_lower_limit_actual
    (0x1C387F6F, 1269211443, 1263163443, 0x1D00E1FD),  # get_next_work_upper_limit_actual
], ids=["plain", "pow_limit", "lower_limit_actual", "upper_limit_actual"])
def test_calculate_next_work_required_matches_core(last_bits, last_time, first_time, expected):
    assert calculate_next_work_required(last_bits, last_time, first_time, MAIN) == expected


def test_calculate_next_work_required_respects_no_retargeting():
    assert calculate_next_work_required(0x1D00FFFF, 10**9, 0, REGTEST) == 0x1D00FFFF


def test_devnet_retarget_clamps_and_caps():
    span = DEVNET.pow_target_timespan
    # Blocks arrived far too fast: the target shrinks by at most 4x.
    bits = calculate_next_work_required(0x1E00FFFF, 1000, 1000, DEVNET)
    assert compact_to_target(bits)[0] == compact_to_target(0x1E00FFFF)[0] // 4
    # Exactly on time: unchanged.
    assert calculate_next_work_required(0x1E00FFFF, 1000 + span, 1000, DEVNET) == 0x1E00FFFF
    # Far too slow from the easiest difficulty: capped at pow_limit.
    assert calculate_next_work_required(0x1F00FFFF, 10**6, 0, DEVNET) == 0x1F00FFFF


# -- GetNextWorkRequired ----------------------------------------------------------------------

def _ancestor(chain: dict[int, tuple[int, int]]):
    def ancestor(height: int) -> tuple[int, int]:
        return chain[height]
    return ancestor


def _no_ancestor(height: int) -> tuple[int, int]:
    raise AssertionError(f"ancestor({height}) should not be needed")


def test_mainnet_keeps_bits_between_retargets():
    assert get_next_work_required(32254, 0x1D00FFFF, 1262152000, 1262152739 + 10**6, MAIN,
                                  _no_ancestor) == 0x1D00FFFF


def test_mainnet_retargets_at_interval_boundary():
    chain = {30240: (0x1D00FFFF, 1261130161)}
    assert get_next_work_required(32255, 0x1D00FFFF, 1262152739, 1262153000, MAIN,
                                  _ancestor(chain)) == 0x1D00D86A


def test_testnet_allows_min_difficulty_after_two_spacings():
    prev_time = 1_300_000_000
    late = prev_time + 2 * TEST.pow_target_spacing + 1
    assert get_next_work_required(100, 0x1C00FFFF, prev_time, late, TEST,
                                  _no_ancestor) == 0x1D00FFFF
    # Exactly two spacings is not enough (Core: strictly greater).
    on_time = prev_time + 2 * TEST.pow_target_spacing
    assert get_next_work_required(100, 0x1C00FFFF, prev_time, on_time, TEST,
                                  _no_ancestor) == 0x1C00FFFF


def test_testnet_walks_back_to_last_real_difficulty():
    # Heights 2017..2020 are min-difficulty blocks on top of a real 0x1c00ffff block at 2016.
    chain = {h: (0x1D00FFFF, 1000 + h) for h in range(2017, 2021)}
    chain[2016] = (0x1C00FFFF, 3016)
    assert get_next_work_required(2020, 0x1D00FFFF, 3020, 3021, TEST,
                                  _ancestor(chain)) == 0x1C00FFFF


def test_testnet_walk_back_stops_at_retarget_boundary():
    # A retarget boundary block that itself carries min-difficulty bits ends the walk.
    chain = {h: (0x1D00FFFF, h) for h in range(4032, 4036)}
    chain[4031] = (0x1C00FFFF, 4031)
    assert get_next_work_required(4035, 0x1D00FFFF, 4035, 4036, TEST,
                                  _ancestor(chain)) == 0x1D00FFFF


def test_testnet_walk_back_stops_at_genesis():
    chain = {h: (0x1D00FFFF, h) for h in range(0, 5)}
    assert get_next_work_required(4, 0x1D00FFFF, 4, 5, TEST, _ancestor(chain)) == 0x1D00FFFF


def test_regtest_never_retargets():
    interval = REGTEST.difficulty_adjustment_interval
    assert get_next_work_required(interval - 1, 0x207FFFFF, 1, 2, REGTEST,
                                  _no_ancestor) == 0x207FFFFF
    assert get_next_work_required(5, 0x207FFFFF, 100, 10**6, REGTEST,
                                  _no_ancestor) == 0x207FFFFF


def test_devnet_retargets_every_interval():
    interval = DEVNET.difficulty_adjustment_interval
    assert interval == 20
    # 20 blocks mined in 100 s instead of 200 s: the target halves.
    chain = {0: (0x1F00FFFF, 1000)}
    bits = get_next_work_required(interval - 1, 0x1F00FFFF, 1100, 1105, DEVNET,
                                  _ancestor(chain))
    assert compact_to_target(bits)[0] == compact_to_target(0x1F00FFFF)[0] // 2
    # Mid-interval (no min-difficulty rule on devnet) the bits are inherited.
    assert get_next_work_required(25, bits, 1200, 10**6, DEVNET, _no_ancestor) == bits


# -- median time past, difficulty -------------------------------------------------------------

def test_median_time_past():
    assert median_time_past([5]) == 5
    assert median_time_past([1, 2]) == 2  # upper middle, as Core's pbegin[(pend - pbegin) / 2]
    assert median_time_past([3, 1, 2]) == 2
    times = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5, 100]
    assert median_time_past(times) == 6  # sorted: 1..10, 100
    # Only the last 11 count.
    assert median_time_past([10**9] * 5 + times) == 6
    with pytest.raises(ValueError):
        median_time_past([])


@pytest.mark.parametrize("bits,expected", [
    (0x1F111111, 0.000001),
    (0x1EF88F6F, 0.000016),
    (0x1DF88F6F, 0.004023),
    (0x1CF88F6F, 1.029916),
    (0x12345678, 5913134931067755359633408.0),
])
def test_difficulty_matches_core(bits, expected):
    # Core's blockchain_tests compares with an absolute tolerance of 0.00001.
    assert difficulty(bits) == pytest.approx(expected, abs=0.00001)


def test_difficulty_of_known_blocks():
    assert difficulty(0x1D00FFFF) == 1.0
    assert difficulty(0x1B04864C) == pytest.approx(14484.1623612254)  # block 100000
