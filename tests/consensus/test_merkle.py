"""Merkle roots (with the CVE-2012-2459 mutation flag), branches, and the BIP141 commitment."""

import pytest

from node.consensus.hashes import hash_to_hex, hex_to_hash, sha256d
from node.consensus.merkle import (
    WITNESS_COMMITMENT_HEADER,
    block_merkle_root,
    block_witness_merkle_root,
    merkle_branch,
    merkle_root,
    merkle_root_from_branch,
    witness_commitment,
    witness_commitment_index,
    witness_commitment_script,
)
from node.consensus.params import MAIN
from node.consensus.primitives import NULL_OUTPOINT, Block, OutPoint, Tx, TxIn, TxOut

# Mainnet block 100000 (4 transactions) and block 100002 (9: exercises the odd-level rule).
BLOCK_100000_TXIDS = [
    "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
    "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
    "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
    "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
]
BLOCK_100000_ROOT = "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766"
BLOCK_100002_TXIDS = [
    "ef1d870d24c85b89d92ad50f4631026f585d6a34e972eaf427475e5d60acf3a3",
    "f9fc751cb7dc372406a9f8d738d5e6f8f63bab71986a39cf36ee70ee17036d07",
    "db60fb93d736894ed0b86cb92548920a3fe8310dd19b0da7ad97e48725e1e12e",
    "220ebc64e21abece964927322cba69180ed853bb187fbc6923bac7d010b9d87a",
    "71b3dbaca67e9f9189dad3617138c19725ab541ef0b49c05a94913e9f28e3f4e",
    "fe305e1ed08212d76161d853222048eea1f34af42ea0e197896a269fbf8dc2e0",
    "21d2eb195736af2a40d42107e6abd59c97eb6cffd4a5a7a7709e86590ae61987",
    "dd1fd2a6fc16404faf339881a90adbde7f4f728691ac62e8f168809cdfae1053",
    "74d681e0e03bafa802c8aa084379aa98d9fcd632ddc2ed9782b586ec87451f20",
]
BLOCK_100002_ROOT = "2fda58e5959b0ee53c5253da9b9f3c0c739422ae04946966991cf55895287552"


def _h(hexes: list[str]) -> list[bytes]:
    return [hex_to_hash(x) for x in hexes]


def _leaves(n: int) -> list[bytes]:
    return [sha256d(i.to_bytes(4, "little")) for i in range(n)]


def _naive_root(hashes: list[bytes]) -> bytes:
    """The textbook definition, written independently of the module under test."""
    if not hashes:
        return bytes(32)
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level = level + [level[-1]]
        level = [sha256d(a + b) for a, b in zip(level[::2], level[1::2], strict=True)]
    return level[0]


# -- roots ------------------------------------------------------------------------------------

@pytest.mark.parametrize("txids,root", [
    (BLOCK_100000_TXIDS, BLOCK_100000_ROOT),
    (BLOCK_100002_TXIDS, BLOCK_100002_ROOT),
], ids=["block100000", "block100002"])
def test_real_block_merkle_roots(txids, root):
    assert merkle_root(_h(txids)) == (hex_to_hash(root), False)


def test_single_leaf_root_is_the_leaf():
    genesis = MAIN.genesis
    assert hash_to_hex(block_merkle_root(genesis)[0]) == (
        "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
    assert block_merkle_root(genesis) == (genesis.header.merkle_root, False)


def test_empty_root_is_zero():
    assert merkle_root([]) == (bytes(32), False)


@pytest.mark.parametrize("n", range(1, 18))
def test_root_matches_naive_definition(n):
    leaves = _leaves(n)
    assert merkle_root(leaves) == (_naive_root(leaves), False)


def test_rejects_leaves_of_wrong_length():
    with pytest.raises(ValueError):
        merkle_root([b"\x00" * 31])


# -- CVE-2012-2459 ----------------------------------------------------------------------------

def test_duplicating_the_last_two_txids_keeps_the_root_but_flags_mutation():
    # [1..6] and [1..6, 5, 6] share a root (Core's merkle.cpp comment); only the second is flagged.
    six = _leaves(6)
    root, mutated = merkle_root(six)
    assert not mutated
    assert merkle_root(six + six[4:6]) == (root, True)


def test_duplicating_an_odd_last_txid_is_flagged():
    five = _leaves(5)
    root, mutated = merkle_root(five)
    assert not mutated
    assert merkle_root(five + five[4:]) == (root, True)


def test_duplicate_subtree_at_a_higher_level_is_flagged():
    # Leaves [a, b, c, d, a, b, c, d]: level 1 is [ab, cd, ab, cd], level 2 [abcd, abcd].
    four = _leaves(4)
    assert merkle_root(four + four)[1] is True


def test_identical_adjacent_pair_is_flagged_anywhere():
    a, b, c = _leaves(3)
    assert merkle_root([a, a, b, c])[1] is True
    # Equal but not paired (positions 1 and 2) is not a mutation.
    assert merkle_root([a, b, b, c])[1] is False
    # A lone odd last hash is duplicated by the algorithm itself; that is not a mutation.
    assert merkle_root([a, b, c])[1] is False


# -- branches ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", range(1, 18))
def test_branch_round_trips_for_every_index(n):
    leaves = _leaves(n)
    root = merkle_root(leaves)[0]
    for i, leaf in enumerate(leaves):
        branch = merkle_branch(leaves, i)
        assert len(branch) == (n - 1).bit_length()
        assert merkle_root_from_branch(leaf, branch, i) == root
        if n > 1:
            # The branch does not prove a different leaf at that position.
            assert merkle_root_from_branch(leaves[(i + 1) % n], branch, i) != root


def test_real_branch_matches_esplora_merkle_proof():
    # Esplora's /tx/fff2.../merkle-proof for block 100000: pos 1.
    branch = merkle_branch(_h(BLOCK_100000_TXIDS), 1)
    assert [hash_to_hex(h) for h in branch] == [
        "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
        "8e30899078ca1813be036a073bbf80b86cdddde1c96e9e9c99e9e3782df4ae49",
    ]
    # Esplora's /tx/74d6.../merkle-proof for block 100002: the last of 9, paired with itself.
    branch = merkle_branch(_h(BLOCK_100002_TXIDS), 8)
    assert [hash_to_hex(h) for h in branch] == [
        "74d681e0e03bafa802c8aa084379aa98d9fcd632ddc2ed9782b586ec87451f20",
        "bb8db5f1d687839cc15a875e321ffb910d1c62d9280c1e4089122544c3528a13",
        "e7413bdf2c1215c3983536a62b1e210d9006a789cdc1427ccb4bb347745e52fc",
        "660af9921e9e17eba1106409c93aeec1b390bff99b0c25499da1b9c0e9aa56bc",
    ]
    assert hash_to_hex(merkle_root_from_branch(
        hex_to_hash(BLOCK_100002_TXIDS[8]), branch, 8)) == BLOCK_100002_ROOT


def test_branch_rejects_bad_index():
    with pytest.raises(ValueError):
        merkle_branch(_leaves(3), 3)
    with pytest.raises(ValueError):
        merkle_branch([], 0)


# -- BIP141 witness commitment ----------------------------------------------------------------

def _tx(tag: int, witness: tuple[bytes, ...] = ()) -> Tx:
    txin = TxIn(OutPoint(sha256d(bytes([tag])), 0), b"", 0xFFFFFFFF, witness)
    return Tx(2, (txin,), (TxOut(1000 + tag, b"\x51"),))


def _segwit_block(commitment_outputs: list[bytes] | None = None) -> tuple[Block, Tx]:
    spends = [_tx(1, (b"\x01" * 71, b"\x02" * 33)), _tx(2), _tx(3, (b"\x03",))]
    body = Block(MAIN.genesis.header, (_tx(0),) + tuple(spends))
    root, _ = block_witness_merkle_root(body)
    script = witness_commitment_script(witness_commitment(root))
    outputs = [TxOut(50, b"\x51"), TxOut(0, script)] + [
        TxOut(0, s) for s in (commitment_outputs or [])]
    coinbase = Tx(2, (TxIn(NULL_OUTPOINT, b"\x01\x01", 0xFFFFFFFF, (bytes(32),)),),
                  tuple(outputs))
    return Block(body.header, (coinbase,) + tuple(spends)), coinbase


def test_witness_root_ignores_the_coinbase_wtxid():
    block, coinbase = _segwit_block()
    assert coinbase.has_witness()
    root, mutated = block_witness_merkle_root(block)
    assert not mutated
    assert root == merkle_root([bytes(32)] + [tx.wtxid for tx in block.txs[1:]])[0]
    assert root != merkle_root([tx.wtxid for tx in block.txs])[0]
    # Witness data changes the witness root but not the txid root.
    assert root != block_merkle_root(block)[0]


def test_witness_commitment_round_trip():
    block, coinbase = _segwit_block()
    i = witness_commitment_index(coinbase)
    assert i == 1
    script = coinbase.vout[i].script_pubkey
    assert script[:6] == WITNESS_COMMITMENT_HEADER and len(script) == 38
    reserved = coinbase.vin[0].witness[0]
    root, _ = block_witness_merkle_root(block)
    assert script[6:38] == witness_commitment(root, reserved)
    assert witness_commitment(root) == sha256d(root + bytes(32))


def test_witness_commitment_index_takes_the_last_match():
    other = witness_commitment_script(bytes(range(32)))
    _, coinbase = _segwit_block([other + b"extra", b"\x6a"])
    assert witness_commitment_index(coinbase) == 2  # the longer script still counts


def test_witness_commitment_index_ignores_near_misses():
    short = WITNESS_COMMITMENT_HEADER + bytes(31)  # 37 bytes
    wrong_tag = bytes.fromhex("6a24aa21a9ee") + bytes(32)
    coinbase = Tx(1, (TxIn(NULL_OUTPOINT, b"\x01\x01"),),
                  (TxOut(0, short), TxOut(0, wrong_tag), TxOut(0, b"")))
    assert witness_commitment_index(coinbase) is None


def test_commitment_helpers_reject_wrong_lengths():
    with pytest.raises(ValueError):
        witness_commitment(bytes(31))
    with pytest.raises(ValueError):
        witness_commitment(bytes(32), bytes(33))
    with pytest.raises(ValueError):
        witness_commitment_script(bytes(20))


def test_empty_block_roots():
    empty = Block(MAIN.genesis.header, ())
    assert block_merkle_root(empty) == (bytes(32), False)
    assert block_witness_merkle_root(empty) == (bytes(32), False)
