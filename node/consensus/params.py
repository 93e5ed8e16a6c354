"""Network parameters: one :class:`Params` object per network, nothing network-specific elsewhere.

Values for ``main``, ``test`` (testnet3) and ``regtest`` are Bitcoin Core's (kernel/chainparams.cpp).
``devnet`` is minicash's own private network with real proof of work at a small scale: 10-second
blocks and Bitcoin's retarget algorithm every 20 blocks, so nodes race for blocks and forks happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .primitives import NULL_OUTPOINT, Block, BlockHeader, Tx, TxIn, TxOut

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN  # Core: MAX_MONEY (consensus/amount.h)

# The coinbase of every Bitcoin genesis block (Core: CreateGenesisBlock).
_GENESIS_SCRIPT_SIG = bytes.fromhex(
    "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e2062"
    "72696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73")
_GENESIS_OUTPUT_SCRIPT = bytes.fromhex(
    "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f355"
    "04e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac")


def build_genesis(time: int, nonce: int, bits: int, version: int = 1,
                  reward: int = 50 * COIN) -> Block:
    """Core's CreateGenesisBlock: the Times headline coinbase paying to Satoshi's key."""
    coinbase = Tx(1, (TxIn(NULL_OUTPOINT, _GENESIS_SCRIPT_SIG),),
                  (TxOut(reward, _GENESIS_OUTPUT_SCRIPT),), 0)
    # A one-transaction block's merkle root is that transaction's txid.
    header = BlockHeader(version, bytes(32), coinbase.txid, time, bits, nonce)
    return Block(header, (coinbase,))


@dataclass(frozen=True)
class Params:
    name: str
    # -- wire --
    magic: bytes  # Core: pchMessageStart
    default_port: int
    rest_port: int
    # -- addresses and keys --
    pubkey_prefix: int  # Core: base58Prefixes[PUBKEY_ADDRESS]
    script_prefix: int  # Core: base58Prefixes[SCRIPT_ADDRESS]
    wif_prefix: int  # Core: base58Prefixes[SECRET_KEY]
    bech32_hrp: str
    bip44_coin_type: int
    xpub_version: bytes  # Core: base58Prefixes[EXT_PUBLIC_KEY]
    xprv_version: bytes  # Core: base58Prefixes[EXT_SECRET_KEY]
    # -- genesis --
    genesis_time: int
    genesis_nonce: int
    genesis_bits: int
    genesis_hash_hex: str  # the published value, asserted by a test
    # -- proof of work --
    pow_limit: int
    pow_target_spacing: int
    pow_target_timespan: int
    pow_allow_min_difficulty_blocks: bool  # Core: fPowAllowMinDifficultyBlocks
    pow_no_retargeting: bool  # Core: fPowNoRetargeting
    # -- subsidy and soft forks (buried deployments: active from these heights) --
    subsidy_halving_interval: int
    bip34_height: int
    bip65_height: int
    bip66_height: int
    csv_height: int
    segwit_height: int
    coinbase_maturity: int = 100  # Core: COINBASE_MATURITY
    _genesis: list[Block] = field(default_factory=list, repr=False, compare=False)

    @property
    def difficulty_adjustment_interval(self) -> int:
        return self.pow_target_timespan // self.pow_target_spacing

    @property
    def genesis(self) -> Block:
        if not self._genesis:
            self._genesis.append(build_genesis(self.genesis_time, self.genesis_nonce,
                                               self.genesis_bits))
        return self._genesis[0]

    def block_subsidy(self, height: int) -> int:
        """Core's GetBlockSubsidy: 50 coins halving every interval, zero after 64 halvings."""
        halvings = height // self.subsidy_halving_interval
        if halvings >= 64:
            return 0
        return (50 * COIN) >> halvings


MAIN = Params(
    name="main", magic=bytes.fromhex("f9beb4d9"), default_port=8333, rest_port=8332,
    pubkey_prefix=0, script_prefix=5, wif_prefix=128, bech32_hrp="bc", bip44_coin_type=0,
    xpub_version=bytes.fromhex("0488b21e"), xprv_version=bytes.fromhex("0488ade4"),
    genesis_time=1231006505, genesis_nonce=2083236893, genesis_bits=0x1D00FFFF,
    genesis_hash_hex="000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    pow_limit=0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    pow_target_spacing=600, pow_target_timespan=14 * 24 * 3600,
    pow_allow_min_difficulty_blocks=False, pow_no_retargeting=False,
    subsidy_halving_interval=210_000, bip34_height=227_931, bip65_height=388_381,
    bip66_height=363_725, csv_height=419_328, segwit_height=481_824,
)

TEST = Params(
    name="test", magic=bytes.fromhex("0b110907"), default_port=18333, rest_port=18332,
    pubkey_prefix=111, script_prefix=196, wif_prefix=239, bech32_hrp="tb", bip44_coin_type=1,
    xpub_version=bytes.fromhex("043587cf"), xprv_version=bytes.fromhex("04358394"),
    genesis_time=1296688602, genesis_nonce=414098458, genesis_bits=0x1D00FFFF,
    genesis_hash_hex="000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    pow_limit=0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    pow_target_spacing=600, pow_target_timespan=14 * 24 * 3600,
    pow_allow_min_difficulty_blocks=True, pow_no_retargeting=False,
    subsidy_halving_interval=210_000, bip34_height=21_111, bip65_height=581_885,
    bip66_height=330_776, csv_height=770_112, segwit_height=834_624,
)

REGTEST = Params(
    name="regtest", magic=bytes.fromhex("fabfb5da"), default_port=18444, rest_port=18443,
    pubkey_prefix=111, script_prefix=196, wif_prefix=239, bech32_hrp="bcrt", bip44_coin_type=1,
    xpub_version=bytes.fromhex("043587cf"), xprv_version=bytes.fromhex("04358394"),
    genesis_time=1296688602, genesis_nonce=2, genesis_bits=0x207FFFFF,
    genesis_hash_hex="0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    pow_limit=0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    pow_target_spacing=600, pow_target_timespan=14 * 24 * 3600,
    pow_allow_min_difficulty_blocks=True, pow_no_retargeting=True,
    subsidy_halving_interval=150, bip34_height=1, bip65_height=1, bip66_height=1,
    csv_height=1, segwit_height=0,
)

# minicash's own network: real, retargeting proof of work sized for a laptop. The genesis
# difficulty (0x1f00ffff, ~65,536 hashes a block) is also the easiest allowed.
DEVNET = Params(
    name="devnet", magic=bytes.fromhex("d1e57a11"), default_port=28444, rest_port=28443,
    pubkey_prefix=111, script_prefix=196, wif_prefix=239, bech32_hrp="mdev", bip44_coin_type=1,
    xpub_version=bytes.fromhex("043587cf"), xprv_version=bytes.fromhex("04358394"),
    genesis_time=1767225600, genesis_nonce=5632, genesis_bits=0x1F00FFFF,
    genesis_hash_hex="0000b9681099c09ecba566cafd4172491ce609ab6cc3619af817960bb9f0be55",
    pow_limit=0x0000FFFF << 224,
    pow_target_spacing=10, pow_target_timespan=200,
    pow_allow_min_difficulty_blocks=False, pow_no_retargeting=False,
    subsidy_halving_interval=210_000, bip34_height=1, bip65_height=1, bip66_height=1,
    csv_height=1, segwit_height=0,
)

NETWORKS: dict[str, Params] = {p.name: p for p in (MAIN, TEST, REGTEST, DEVNET)}


def get_params(name: str) -> Params:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r} (choose from {', '.join(NETWORKS)})") from None
