"""Network parameters: genesis blocks built from them match the published hashes; subsidy."""

import pytest

from node.consensus.hashes import hash_to_hex
from node.consensus.merkle import block_merkle_root
from node.consensus.params import COIN, DEVNET, MAIN, MAX_MONEY, NETWORKS, REGTEST, TEST, get_params
from node.consensus.pow import check_proof_of_work

PUBLISHED_GENESIS = {
    "main": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "test": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    "devnet": DEVNET.genesis_hash_hex,  # our own network: the value pinned in params.py
}
BITCOIN_GENESIS_MERKLE_ROOT = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"


@pytest.mark.parametrize("name", list(PUBLISHED_GENESIS))
def test_genesis_hash_built_from_params_matches_published(name):
    params = get_params(name)
    assert hash_to_hex(params.genesis.hash) == PUBLISHED_GENESIS[name] == params.genesis_hash_hex


@pytest.mark.parametrize("params", [MAIN, TEST, REGTEST], ids=["main", "test", "regtest"])
def test_bitcoin_genesis_merkle_root(params):
    assert hash_to_hex(params.genesis.header.merkle_root) == BITCOIN_GENESIS_MERKLE_ROOT


@pytest.mark.parametrize("params", list(NETWORKS.values()), ids=list(NETWORKS))
def test_genesis_is_self_consistent(params):
    genesis = params.genesis
    assert len(genesis.txs) == 1 and genesis.txs[0].is_coinbase()
    assert genesis.header.prev_hash == bytes(32)
    assert block_merkle_root(genesis) == (genesis.header.merkle_root, False)
    assert genesis.header.bits == params.genesis_bits
    assert check_proof_of_work(genesis.hash, genesis.header.bits, params)
    assert genesis.txs[0].vout[0].value == params.block_subsidy(0)


def test_genesis_block_serializes_to_285_bytes():
    assert len(MAIN.genesis.serialize()) == 285


def test_networks_have_distinct_magic_and_genesis():
    assert len({p.magic for p in NETWORKS.values()}) == len(NETWORKS)
    assert len({p.genesis.hash for p in NETWORKS.values()}) == len(NETWORKS)


def test_difficulty_adjustment_interval():
    assert MAIN.difficulty_adjustment_interval == 2016
    assert TEST.difficulty_adjustment_interval == 2016
    assert DEVNET.difficulty_adjustment_interval == 20


def test_regtest_subsidy_halves_every_150_blocks():
    assert REGTEST.block_subsidy(0) == 50 * COIN
    assert REGTEST.block_subsidy(149) == 50 * COIN
    assert REGTEST.block_subsidy(150) == 25 * COIN
    assert REGTEST.block_subsidy(299) == 25 * COIN
    assert REGTEST.block_subsidy(300) == 1_250_000_000
    assert REGTEST.block_subsidy(150 * 33) == 0  # 5e9 >> 33 rounds down to nothing
    assert REGTEST.block_subsidy(150 * 64) == 0
    assert REGTEST.block_subsidy(150 * 64 + 1_000_000) == 0


def test_mainnet_subsidy_schedule():
    assert MAIN.block_subsidy(209_999) == 50 * COIN
    assert MAIN.block_subsidy(210_000) == 25 * COIN
    assert MAIN.block_subsidy(840_000) == 3 * COIN + COIN // 8  # 3.125 after the 4th halving
    assert MAIN.block_subsidy(210_000 * 64) == 0


def test_total_supply_stays_below_max_money():
    # Core's subsidy_limit_test: sum of all subsidies is 2,099,999,997,690,000 satoshis.
    total = sum(MAIN.block_subsidy(h * 210_000) * 210_000 for h in range(64))
    assert total == 2_099_999_997_690_000
    assert total < MAX_MONEY


def test_unknown_network_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown network"):
        get_params("mainnet")
