"""Checks of command-line values shared by the node's and the regtest tool's commands."""

from __future__ import annotations

from collections.abc import Callable

import click


def seconds(low: float, high: float) -> Callable[[click.Context, click.Parameter, float | None],
                                                  float | None]:
    """A click callback refusing a number of seconds outside [low, high], NaN included (which
    click's FloatRange lets through, to fail later in the node's API or time.sleep)."""
    def check(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
        if value is not None and not low <= value <= high:
            raise click.BadParameter(f"{value:g} is not a number of seconds from {low:g} to "
                                     f"{high:g}")
        return value
    return check
