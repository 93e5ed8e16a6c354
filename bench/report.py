"""Recording benchmark figures into bench/results.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference: float  # the same-run reference measurement, in the same unit
    ratio: float  # oriented so that higher is better
    target: float | None = None

    def as_json(self) -> dict:
        d = asdict(self)
        if self.target is None:
            del d["target"]
        return d

    def line(self) -> str:
        verdict = ""
        if self.target is not None:
            verdict = "  ok" if self.ratio >= self.target else f"  BELOW target {self.target}"
        return (f"{self.name:48} {self.value:12,.0f} {self.unit:10} ref {self.reference:12,.0f}"
                f"  ratio {self.ratio:5.2f}{verdict}")


def rate(fn: Callable[[], int], min_seconds: float = 1.0, repeats: int = 3) -> float:
    """Operations per second of ``fn`` (which returns how many operations it did): the best of
    ``repeats`` runs of at least ``min_seconds`` each, so a noisy neighbour costs less."""
    best = 0.0
    for _ in range(repeats):
        ops = 0
        start = time.perf_counter()
        while True:
            ops += fn()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, ops / elapsed)
    return best


def write(figures: list[Figure]) -> None:
    """Merge ``figures`` into results.json (by name), keeping figures of other benchmarks."""
    existing: dict[str, dict] = {}
    if RESULTS.exists():
        try:
            existing = {f["name"]: f for f in json.loads(RESULTS.read_text())}
        except (ValueError, KeyError, TypeError):
            existing = {}
    for f in figures:
        existing[f.name] = f.as_json()
    RESULTS.write_text(json.dumps(list(existing.values()), indent=2) + "\n")
