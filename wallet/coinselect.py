"""Coin selection, after Bitcoin Core's wallet (wallet/coinselection.cpp).

Amounts are *effective values*: a coin's value minus the fee its input costs at the target
rate, so every selection already pays for its own inputs. First branch-and-bound looks for a
set whose effective value lands in [target, target + cost of change]: no change output, the
small excess goes to the fee. Failing that, single random draw adds coins in random order until
the target plus a change output is covered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

BNB_MAX_TRIES = 100_000  # Core: TOTAL_TRIES


class InsufficientFunds(Exception):
    def __init__(self, available: int, needed: int) -> None:
        super().__init__(f"insufficient funds: available {available} sat, needed {needed} sat")
        self.available = available
        self.needed = needed


@dataclass(frozen=True)
class Candidate(Generic[T]):
    item: T
    effective_value: int


@dataclass(frozen=True)
class Selection(Generic[T]):
    items: list[T]
    effective_value: int
    with_change: bool
    algorithm: str


def branch_and_bound(pool: Sequence[Candidate[T]], target: int,
                     cost_of_change: int) -> list[Candidate[T]] | None:
    """Core's SelectCoinsBnB: a depth-first search over coins sorted by descending effective
    value, for the set within [target, target + cost_of_change] with the least excess."""
    pool = sorted(pool, key=lambda c: c.effective_value, reverse=True)
    values = [c.effective_value for c in pool]
    upper = target + cost_of_change
    best: list[bool] | None = None
    best_excess = cost_of_change + 1
    decided: list[bool] = []  # decided[i]: is coin i in? (coins past the list: undecided)
    total = 0
    available = sum(values)  # effective value of the undecided coins
    for _ in range(BNB_MAX_TRIES):
        if total + available < target or total > upper:
            backtrack = True  # the target is out of reach, or the window is overshot
        elif total >= target:
            backtrack = True
            if total - target < best_excess:
                best, best_excess = list(decided), total - target
                if best_excess == 0:
                    break
        else:
            backtrack = False
        if backtrack:
            # Back to the last coin taken, returning the omitted ones to the undecided.
            while decided and not decided[-1]:
                decided.pop()
                available += values[len(decided)]
            if not decided:
                break  # the whole tree is searched
            decided[-1] = False
            total -= values[len(decided) - 1]
            continue
        i = len(decided)
        available -= values[i]
        # Omitting a coin and taking its equal twin next would search the same sums again.
        if decided and not decided[-1] and values[i] == values[i - 1]:
            decided.append(False)
        else:
            decided.append(True)
            total += values[i]
    if best is None:
        return None
    return [pool[k] for k, taken in enumerate(best) if taken]


def single_random_draw(pool: Sequence[Candidate[T]], target: int,
                       rng: random.Random) -> list[Candidate[T]] | None:
    """Core's SelectCoinsSRD: coins in random order until their sum covers ``target``."""
    order = list(pool)
    rng.shuffle(order)
    chosen, total = [], 0
    for c in order:
        chosen.append(c)
        total += c.effective_value
        if total >= target:
            return chosen
    return None


def select_coins(pool: Sequence[Candidate[T]], target: int, cost_of_change: int,
                 change_target: int, must_use: Sequence[Candidate[T]] = (),
                 rng: random.Random | None = None) -> Selection[T]:
    """Pick coins covering ``target`` (outputs plus the fee of the fixed part of the tx).

    Without change: effective value in [target, target + cost_of_change]. With change: at
    least ``target + change_target`` (the change output's fee plus a minimum change above dust).
    ``must_use`` coins are always spent (fee bumping keeps the original inputs)."""
    rng = rng or random.SystemRandom()
    forced = sum(c.effective_value for c in must_use)
    usable = [c for c in pool if c.effective_value > 0 and c not in must_use]
    rest = target - forced
    if must_use and 0 <= -rest <= cost_of_change:
        return _selection(list(must_use), [], False, "preset")
    if must_use and -rest > cost_of_change and -rest >= change_target:
        return _selection(list(must_use), [], True, "preset")
    found = branch_and_bound(usable, rest, cost_of_change) if rest > 0 else None
    if found is not None:
        return _selection(list(must_use), found, False, "bnb")
    drawn = single_random_draw(usable, rest + change_target, rng)
    if drawn is not None:
        return _selection(list(must_use), drawn, True, "srd")
    available = forced + sum(c.effective_value for c in usable)
    raise InsufficientFunds(max(available, 0), target + change_target)


def _selection(forced: list[Candidate[T]], more: list[Candidate[T]], change: bool,
               algorithm: str) -> Selection[T]:
    chosen = forced + more
    return Selection([c.item for c in chosen], sum(c.effective_value for c in chosen), change,
                     algorithm)
