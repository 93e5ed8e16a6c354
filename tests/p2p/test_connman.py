"""The connection manager's redial back-off: one step per failure, for the peers it keeps
connected only; automatic addresses are the address manager's to judge (Core: nAttempts). And
what a one-shot connection that fails reports."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest

from node.consensus.params import REGTEST
from node.p2p.banman import BanMan
from node.p2p.connman import ADDRMAN_RETRY, ConnectionManager
from node.p2p.netaddr import NetAddr
from node.p2p.service import P2PService
from tests.ports import free_port

from .framework import start_service, stop_services

ADDNODE = ("127.0.0.1", 18444)
AUTOMATIC = ("127.0.0.1", 18555)


def _service(tmp_path, addrman=None) -> tuple[P2PService, ConnectionManager, list]:
    """A service that is not started, with a connection manager that records its dials."""
    dialled: list[tuple[str, int, bool]] = []

    def dial(host: str, port: int, manual: bool) -> SimpleNamespace:
        dialled.append((host, port, manual))
        return SimpleNamespace(add_done_callback=lambda cb: None)  # a task that never ends

    service = P2PService(REGTEST, SimpleNamespace(chain=None, mempool=None),  # type: ignore[arg-type]
                         tmp_path)
    connman = ConnectionManager(
        connect_peer=dial, accept_peer=lambda *a: None, peers=service.peers, addrman=addrman,
        banman=SimpleNamespace(is_banned=lambda h: False, is_discouraged=lambda h: False),
        bind=None, listen=False, connect=[], addnode=[ADDNODE])
    service.connman = connman
    return service, connman, dialled


def _drop_before_handshake(service: P2PService, key: tuple[str, int], manual: bool) -> None:
    peer = SimpleNamespace(id=len(service.peers) + 1, inbound=False, manual=manual,
                           established=False, host=key[0], port=key[1],
                           close_reason="handshake timeout")
    service.peers[peer.id] = peer  # type: ignore[assignment]
    service.on_disconnect(peer)  # type: ignore[arg-type]


def test_a_manual_peer_dropped_before_the_handshake_backs_off_one_step(tmp_path):
    service, connman, _ = _service(tmp_path)
    before = time.monotonic()
    _drop_before_handshake(service, ADDNODE, manual=True)
    failures, retry_at = connman._backoff[ADDNODE]
    assert failures == 1
    assert retry_at - before <= 1.0 + 0.5  # the first step: 1 s, not 2
    _drop_before_handshake(service, ADDNODE, manual=True)
    assert connman._backoff[ADDNODE][0] == 2


def test_automatic_failures_are_counted_by_the_address_manager_only(tmp_path, addrman):
    addrman.add([NetAddr(9, *AUTOMATIC, int(time.time()))], source="127.0.0.2")
    service, connman, dialled = _service(tmp_path, addrman)
    connman.tick()
    assert (*AUTOMATIC, False) in dialled
    _drop_before_handshake(service, AUTOMATIC, manual=False)
    connman.failed(*AUTOMATIC)  # the dial itself failing: nothing either
    assert AUTOMATIC not in connman._backoff
    info = addrman.info(*AUTOMATIC)
    assert info is not None and info.attempts == 1 and info.last_success == 0


def test_tries_of_automatic_addresses_are_forgotten_after_the_retry_window(tmp_path, addrman):
    # Each try keeps its address out of the next minute's picks; after that it is dropped,
    # not kept for the life of the node.
    _, connman, _ = _service(tmp_path, addrman)
    old = time.monotonic() - ADDRMAN_RETRY - 1
    connman._last_auto_try = {(f"10.0.0.{i}", 8333): old for i in range(256)}
    recent = ("10.1.0.1", 8333)
    connman._last_auto_try[recent] = time.monotonic()
    connman.tick()  # an empty address book: nothing is dialled
    assert connman._last_auto_try == {recent: connman._last_auto_try[recent]}


def test_an_addnode_peer_named_by_host_name_leaves_automatic_dials_going(tmp_path, addrman):
    # The name stays a name (canonical_or_name) in the dialling and peer keys that tick
    # excludes from selection; the address manager used to raise on it, which ended the
    # outbound loop and with it every automatic connection.
    service, connman, dialled = _service(tmp_path, addrman)
    connman.addnode = [("seed.example.org", 18444)]
    connman.tick()  # an empty address book: only the addnode peer is dialled
    assert dialled == [("seed.example.org", 18444, True)]
    peer = SimpleNamespace(id=1, inbound=False, manual=True, host="seed.example.org",
                           port=18444)
    service.peers[peer.id] = peer  # type: ignore[assignment]
    addrman.add([NetAddr(9, *AUTOMATIC, int(time.time()))], source="127.0.0.2")
    connman.tick()  # still dialling it, and connected to it under the same name
    assert dialled[1:] == [(*AUTOMATIC, False)]


def test_the_listening_address_is_not_picked_in_whatever_form_the_socket_gives_it(tmp_path,
                                                                                  addrman):
    # The address manager compares canonical keys as they are; the one key the kernel
    # spells (an IPv4-mapped IPv6 listening address) is made canonical by the tick.
    addrman.add([NetAddr(9, *AUTOMATIC, int(time.time()))], source="127.0.0.2")
    _, connman, dialled = _service(tmp_path, addrman)
    connman.listen_address = (f"::ffff:{AUTOMATIC[0]}", AUTOMATIC[1])
    connman.tick()
    assert (*AUTOMATIC, False) not in dialled


@pytest.mark.parametrize(("host", "logged"), [("::1", "[::1]:"), ("127.0.0.1", "127.0.0.1:")])
def test_the_listening_address_is_logged_as_host_port_with_ipv6_bracketed(caplog, host, logged):
    connman = ConnectionManager(
        connect_peer=lambda *a: None, accept_peer=lambda *a: None, peers={}, addrman=None,
        banman=None, bind=(host, 0), listen=True, connect=[], addnode=[])

    async def listen() -> int:
        await connman.start()
        await connman.stop()
        assert connman.listen_address is not None
        return connman.listen_address[1]

    with caplog.at_level(logging.INFO, logger="minicash.p2p"):
        port = asyncio.run(listen())
    assert f"P2P listening on {logged}{port}" in caplog.messages


def test_a_failing_tick_is_logged_and_the_outbound_loop_goes_on(tmp_path, monkeypatch, caplog):
    """An error in one tick (as the named --addnode peer once raised) is logged, and the next
    tick still runs: the loop is the node's only source of automatic connections."""
    _, connman, _ = _service(tmp_path)
    ticks = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 1:
            raise ValueError("boom")

    monkeypatch.setattr(connman, "tick", tick)
    monkeypatch.setattr("node.p2p.connman.TICK", 0.001)

    async def run() -> None:
        task = asyncio.get_running_loop().create_task(connman._outbound_loop())
        deadline = time.monotonic() + 10
        while len(ticks) < 2:
            assert time.monotonic() < deadline, "the loop stopped after the failing tick"
            await asyncio.sleep(0.005)
        task.cancel()

    with caplog.at_level(logging.ERROR, logger="minicash.p2p"):
        asyncio.run(run())
    assert "outbound connection tick failed" in caplog.text


def test_a_failed_connection_names_an_ipv6_peer_bracketed(tmp_path):
    """POST /node/peers answers this text: "[::1]:port", not the ambiguous "::1:port"."""
    try:
        port = free_port("::1")  # nothing listens there
    except OSError:
        pytest.skip("no ::1 on this machine")

    async def main() -> None:
        service = await start_service(tmp_path / "n")
        try:
            with pytest.raises(ConnectionError, match=rf"^cannot connect to \[::1\]:{port}$"):
                await service.connect("::1", port)
        finally:
            await stop_services(service)

    asyncio.run(main())


def test_an_inbound_socket_gone_before_it_is_read_is_closed_quietly(tmp_path):
    """No peer address (the socket closed under it): nobody to check against the bans or to
    serve; before, "?" reached the ban manager, which cannot read it."""
    accepted: list = []

    async def accept(*args) -> None:
        accepted.append(args)

    bans = BanMan(tmp_path / "bans")
    connman = ConnectionManager(
        connect_peer=lambda *a: None, accept_peer=accept, peers={}, addrman=None, banman=bans,
        bind=None, listen=False, connect=[], addnode=[])
    closed: list = []
    writer = SimpleNamespace(get_extra_info=lambda name: None, close=lambda: closed.append(1))
    asyncio.run(connman._on_inbound(None, writer))  # type: ignore[arg-type]
    assert (closed, accepted) == ([1], [])
    bans.close()
