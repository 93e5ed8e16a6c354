"""ConnectBlock's work on a block's transactions, one transaction at a time.

Core's ConnectBlock walks a block's transactions once, in order: the coins each spends exist
and are unspent, coinbase maturity and amounts (CheckTxInputs), BIP68 sequence locks, the
block's sigop cost, then the input scripts, queued for its check threads; the spent coins go
to the undo data and the new ones into a child view of the UTXO cache.
:class:`TxConnector` is that walk, taking the transactions as they come, so that a new tip's
can be connected before the block's other checks, as the block is parsed
(``ChainState.process_raw_block``) or at once (``process_block``): its scripts then reach the
signature helpers from the block's first transactions, and each transaction is walked once,
not once to start its checks and again to connect it.

Nothing here touches the UTXO cache: the changes stay in a :class:`BlockView` until the
chain commits them, once the block's other checks have passed.
"""

from __future__ import annotations

from collections.abc import Callable

from node.consensus.coin import Coin, make_coin
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.limits import MAX_BLOCK_SIGOPS_COST
from node.consensus.params import Params
from node.consensus.primitives import Tx, TxOut
from node.consensus.script.interpreter import SEQUENCE_LOCKTIME_DISABLE_FLAG
from node.consensus.script.script import MAX_SCRIPT_SIZE
from node.consensus.script.sigops import tx_sigop_cost
from node.consensus.tx_verify import (
    calculate_sequence_locks,
    check_tx_inputs,
    evaluate_sequence_locks,
)
from node.storage.coins import CoinsCache

from .index import BlockIndex
from .script_check import BlockChecks


class BlockView:
    """UTXO changes of one block, applied to the cache only if the whole block is valid
    (Core connects into a child CCoinsViewCache for the same reason). Keyed by (txid, n).
    :class:`TxConnector` fills ``added`` and ``spent`` itself: a coin the block creates and
    spends ends up in neither."""

    __slots__ = ("base", "added", "spent")

    def __init__(self, base: CoinsCache) -> None:
        self.base = base
        self.added: dict[tuple[bytes, int], Coin] = {}
        self.spent: dict[tuple[bytes, int], Coin] = {}  # coins of the base spent, by key

    def get(self, key: tuple[bytes, int]) -> Coin | None:
        coin = self.added.get(key)
        if coin is not None:
            return coin
        if key in self.spent:
            return None
        return self.base.get_coin_key(key)

    def revertible(self) -> bool:
        """Whether :meth:`revert` could take a :meth:`commit` back exactly. Asked once the
        block's changes are all in, just before the commit."""
        return self.base.revertible(self.added)

    def commit(self, revertible: bool = False) -> None:
        """``revertible``: :meth:`revertible` said so for these very changes, which spares
        the cache a walk over the new keys."""
        # Added with possible_overwrite: pre-BIP34 duplicate coinbases overwrite (Core's
        # possible_overwrite for them). Unspendable outputs were never added here.
        self.base.apply_block_changes(self.spent, self.added, revertible)

    def release_spent(self) -> None:
        """Drop the spent coins after :meth:`commit`: only :meth:`revert` needs them, and is
        then given them (see TxConnector.release_spent)."""
        self.spent = None  # type: ignore[assignment]

    def revert(self, spent: dict[tuple[bytes, int], Coin]) -> None:
        """Take back a commit: the block turned out invalid. ``spent``: the coins of the base
        it spent, by key (what :meth:`release_spent` dropped)."""
        self.base.revert_block_changes(spent, self.added)


class TxConnector:
    """Connects a block's transactions, fed in block order by :meth:`add`, into ``view``
    on top of the chain whose tip is ``prev``. ``checks`` gets each transaction's scripts
    (None: a replay of a block connected before, whose changes are applied unchecked).

    After the last transaction, ``fees`` and ``undo`` (the coins each non-coinbase
    transaction spent, in order) are the block's. A ValidationError from :meth:`add` is the
    block's verdict, unless one of the checks Core runs before ConnectBlock fails too."""

    __slots__ = ("view", "undo", "fees", "checks", "_sigop_cost", "_params", "_prev",
                 "_height", "_flags", "_prev_mtp", "_enforce_bip30", "_enforce_bip68")

    def __init__(self, view: BlockView, params: Params, prev: BlockIndex, flags: int,
                 checks: BlockChecks | None, enforce_bip30: bool) -> None:
        self.view = view
        self.undo: list[list[Coin]] = []
        self.fees = 0
        self.checks = checks
        self._sigop_cost = 0
        self._params = params
        self._prev = prev
        self._height = prev.height + 1
        self._flags = flags
        self._prev_mtp = prev.median_time_past()
        self._enforce_bip30 = enforce_bip30
        self._enforce_bip68 = self._height >= params.csv_height

    def add(self, tx_pos: int, tx: Tx) -> None:
        """Connect transaction ``tx_pos`` (0 is the coinbase). The hottest code of the node,
        once per transaction of every block: coins are keyed by (txid, n) tuples rather than
        OutPoints."""
        view = self.view
        # BlockView.get, inlined below, and the spends and new coins written into the view's
        # dicts directly: once per input and output of every block.
        added, spent_here = view.added, view.spent
        height = self._height
        checks = self.checks
        txid = tx.txid
        coins: list[Coin] = []
        spent: list[TxOut] = []  # the coins' outputs, for the sigop count
        keys: list[tuple[bytes, int]] = []  # and their keys, to spend them
        if tx_pos:
            base_get = view.base.get_coin_key
            for txin in tx.vin:
                prevout = txin.prevout
                key = (prevout.txid, prevout.n)
                coin = added.get(key)
                if coin is None and key not in spent_here:
                    coin = base_get(key)
                if coin is None:
                    raise ValidationError("bad-txns-inputs-missingorspent",
                                          f"{hash_to_hex(txid)} spends {prevout}")
                keys.append(key)
                coins.append(coin)
                spent.append(coin.txout)
            if checks is not None:
                self.fees += check_tx_inputs(tx, coins, height, self._params)
                # BIP68 constrains only version 2+ transactions with an input whose sequence
                # lacks the disable flag (most have it: 0xFFFFFFFD, 0xFFFFFFFF).
                if self._enforce_bip68 and tx.version & 0xFFFFFFFF >= 2:
                    for txin in tx.vin:
                        if not txin.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG:
                            self._check_sequence_locks(tx, coins)
                            break
        if checks is not None:
            self._sigop_cost += tx_sigop_cost(tx, spent, self._flags)
            if self._sigop_cost > MAX_BLOCK_SIGOPS_COST:
                raise ValidationError("bad-blk-sigops", "too many sigops")
            if coins:
                checks.add(tx_pos, tx, coins)
            if self._enforce_bip30:
                for n in range(len(tx.vout)):
                    if view.get((txid, n)) is not None:
                        raise ValidationError("bad-txns-BIP30", "tried to overwrite transaction")
        if tx_pos:
            for key, coin in zip(keys, coins, strict=False):  # equal lengths: built together
                if added.pop(key, None) is None:
                    spent_here[key] = coin
            self.undo.append(coins)
        is_coinbase = tx_pos == 0
        for n, out in enumerate(tx.vout):
            script = out.script_pubkey
            # Provably unspendable outputs never enter the UTXO set (Core: IsUnspendable;
            # script.is_unspendable, inlined: once per output of every block).
            if script[:1] == b"\x6a" or len(script) > MAX_SCRIPT_SIZE:
                continue
            added[(txid, n)] = make_coin(out, height, is_coinbase)

    def release_spent(self, coins_of: Callable[[int], list[Coin]]) -> None:
        """Free the coins the block spent once its changes are committed, keeping those of
        the scripts' suspects already known: the rest are wanted again only if the block
        fails, and ``coins_of(pos)`` (the block's undo data) then gives transaction
        ``pos``'s back."""
        self.checks.release_coins(coins_of)  # type: ignore[union-attr]
        self.view.release_spent()
        self.undo = []

    def _check_sequence_locks(self, tx: Tx, coins: list[Coin]) -> None:
        # The coins' blocks are at or below the tip: the ancestors of ``prev`` are theirs.
        prev = self._prev
        lock = calculate_sequence_locks(tx, True, [c.height for c in coins],
                                        lambda h: prev.ancestor(h).median_time_past())
        if not evaluate_sequence_locks(self._height, self._prev_mtp, lock):
            raise ValidationError("bad-txns-nonfinal", "contains a non-BIP68-final transaction")
