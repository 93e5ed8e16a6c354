"""Suite-wide pytest hooks and fixtures: a per-file tally of Bitcoin's conformance vectors,
the mempool tests' chain (``env``, ``prepared``), ``no_minicash_env`` and ``captured_run``.
Plain helpers shared by test modules live in modules of their own (``tests/ports.py``,
``tests/node_process.py``, ``tests/run_capture.py``, ``tests/chain/builder.py``)."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from tests.pool_env import env, prepared  # noqa: F401  (shared fixtures)
from tests.run_capture import capture_run


@pytest.fixture(autouse=True)
def no_minicash_env() -> Iterator[None]:
    """No MINICASH_* variable in os.environ (nor in the processes a test starts), so the
    settings a test gives are the only ones: for every test, as a developer's shell may well
    set some (a test wanting one sets it itself). Its own MonkeyPatch, not the ``monkeypatch``
    fixture: an autouse fixture's would be undone after every other fixture's teardown,
    where a test's patches must be undone before them. Fixtures of a wider scope are set up
    before this one and see the variables: ``start_node`` strips them itself."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("MINICASH_"):
                patch.delenv(name)
        yield


@pytest.fixture
def captured_run(monkeypatch):
    """`minicash-node run` stops short of starting the node: the NodeConfigs it would have
    started with (tests/run_capture.py)."""
    return capture_run(monkeypatch)


# Test functions that run one conformance vector each -> the vector file they read.
VECTOR_TESTS = {
    "test_script_vector": "script_tests.json",
    "test_tx_valid_vector": "tx_valid.json",
    "test_tx_invalid_vector": "tx_invalid.json",
    "test_legacy_sighash_vector": "sighash.json",
    "test_vector_encodes_and_decodes_exactly": "base58_encode_decode.json",
    "test_vector_address_and_script_round_trip": "bech32_encode_decode.json",
    "test_invalid_vector_is_rejected_for_the_reason_given": "bech32_invalid.json",
}

_tally: dict[str, Counter] = defaultdict(Counter)


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[-1].split("[")[0]
    vector_file = VECTOR_TESTS.get(name)
    if vector_file is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _tally[vector_file][report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _tally:
        return
    terminalreporter.section("conformance vectors")
    for vector_file in sorted(_tally):
        c = _tally[vector_file]
        terminalreporter.write_line(
            f"{vector_file:28} {c['passed']:5} passed {c['failed']:3} failed "
            f"{c['skipped']:3} skipped")
