"""Loading Bitcoin's JSON conformance vectors from tests/data/ (comments dropped)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str, min_len: int = 2) -> list[tuple[int, list]]:
    """(index, entry) for every entry of ``name`` that is not a comment (Core's convention:
    comments are arrays holding a single string)."""
    entries = json.loads((DATA / name).read_text(), parse_float=Decimal)
    return [(i, e) for i, e in enumerate(entries)
            if not (len(e) < min_len or (len(e) == 1 and isinstance(e[0], str)))]
