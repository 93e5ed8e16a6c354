"""A peer that breaks the protocol is dropped (and discouraged where Core would); the node keeps
serving its well-behaved peers, loses no state and never falls over."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import replace

import pytest

from node.chain.index import BlockIndex
from node.consensus.params import REGTEST
from node.consensus.pow import check_proof_of_work
from node.consensus.primitives import Block, BlockHeader, OutPoint, TxOut
from node.p2p.messages import (
    MAX_INV_SZ,
    MSG_TX,
    BlockMsg,
    GetAddr,
    GetHeaders,
    Headers,
    Inv,
    InvItem,
    Ping,
    TxMsg,
    Verack,
    WtxidRelay,
)
from node.p2p.peer import Peer, PeerTimeouts
from node.p2p.relay import MAX_UNREQUESTED_TXS
from node.p2p.service import P2PService
from node.p2p.sync import MAX_UNCONNECTING_HEADERS, MAX_UNREQUESTED_BLOCKS, SyncTimeouts
from node.p2p.wire import frame

from ..chain.builder import BlockMaker
from .framework import (
    WALLET,
    Network,
    build_chain,
    spend_coinbase,
    start_service,
    stop_services,
    until,
    wait_until,
)
from .wire_client import WireClient

MAGIC = REGTEST.magic


def _index(block, height: int) -> BlockIndex:
    return BlockIndex(block.header, height, None)


def _bad_pow_header(prev: BlockIndex) -> BlockHeader:
    for nonce in range(1000):
        h = BlockHeader(0x20000000, prev.hash, bytes(32), prev.time + 1, prev.bits, nonce)
        if not check_proof_of_work(h.hash, h.bits, REGTEST):
            return h
    raise AssertionError("every nonce met the target")


def _record_close_reasons(service: P2PService) -> list[str]:
    """The close reason of each peer the service lets go, in order, as it lets it go."""
    reasons: list[str] = []
    on_disconnect = service.on_disconnect

    def record(peer: Peer) -> None:
        reasons.append(peer.close_reason)
        on_disconnect(peer)

    service.on_disconnect = record  # type: ignore[method-assign]
    return reasons


@pytest.fixture
def served(tmp_path):
    """A node with a 20-block chain and a well-behaved peer node connected to it."""
    net = Network(tmp_path)
    try:
        node = net.node("node")
        blocks = build_chain(node.datadir, 20)
        node.start()
        good = net.node("good").start("--connect", node.p2p_address)
        wait_until(lambda: good.height() == 20, 60, "the good peer synced")
        yield net, node, good, blocks
    finally:
        net.stop_all()


def test_garbage_gets_peers_dropped_while_the_good_peer_is_served(served):
    net, node, good, blocks = served
    tip = _index(blocks[-1], 20)
    maker = BlockMaker(REGTEST, WALLET)
    maker.extra = 10_000
    fork_parent = _index(blocks[4], 5)

    async def session(script, handshake: bool = True) -> bool:
        client = await WireClient().connect("127.0.0.1", node.p2p_port)
        try:
            if handshake:
                await client.handshake(start_height=0)
            await script(client)
            return await client.wait_closed(10)
        finally:
            await client.close()

    async def bad_magic(c):
        c.send_raw(frame(b"\xf9\xbe\xb4\xd9", "ping", struct.pack("<Q", 1)))

    async def oversized(c):
        c.send_raw(MAGIC + b"block".ljust(12, b"\0") + struct.pack("<I", 4_000_001) + bytes(4))

    async def malformed_inv(c):
        c.send_raw(frame(MAGIC, "inv", b"\x03" + struct.pack("<I", MSG_TX) + bytes(32)))

    async def too_many_inv(c):
        c.send(Inv(tuple(InvItem(MSG_TX, i.to_bytes(32, "little"))
                         for i in range(MAX_INV_SZ + 1))))

    async def invalid_header(c):
        c.send(Headers((_bad_pow_header(tip),)))

    async def non_continuous_headers(c):
        a = maker.block(tip)
        b = maker.block(_index(a, 21))
        c.send(Headers((b.header, a.header)))

    async def invalid_block(c):
        bad = maker.block(tip, reward=REGTEST.block_subsidy(21) * 2)  # bad-cb-amount
        c.send(BlockMsg(bad))

    async def unrequested_flood(c):
        prev = fork_parent
        for _ in range(12):  # valid side-chain blocks nobody asked for, no new tip
            block = maker.block(prev, time=prev.time + 1)
            c.send(BlockMsg(block))

    async def wtxidrelay_after_verack(c):
        c.send(WtxidRelay())

    async def verack_before_version(c):
        c.send(Verack())

    async def truncated(c):
        c.send_raw(frame(MAGIC, "ping", struct.pack("<Q", 7))[:27])
        c.writer.close()  # type: ignore[union-attr]

    async def run_all() -> None:
        for script in (bad_magic, oversized, malformed_inv, too_many_inv, invalid_header,
                       non_continuous_headers, invalid_block, unrequested_flood,
                       wtxidrelay_after_verack):
            assert await session(script), f"{script.__name__}: not disconnected"
        assert await session(verack_before_version, handshake=False)
        await session(truncated)

        # A wrong checksum costs the message, not the connection (Core): a ping still works.
        client = await WireClient().connect("127.0.0.1", node.p2p_port)
        try:
            await client.handshake()
            bad = bytearray(frame(MAGIC, "ping", struct.pack("<Q", 5)))
            bad[20] ^= 0xFF
            client.send_raw(bytes(bad))
            client.send(Ping(6))
            pong = await client.expect("pong", 10)
            assert pong.nonce == 6  # type: ignore[attr-defined]
        finally:
            await client.close()

    asyncio.run(run_all())
    # The node's log reaches the test through a reader thread: wait for the lines.
    for reason in ("malformed inv", "invalid header: high-hash", "non-continuous headers",
                   "bad-cb-amount", "unrequested blocks", "wrong network magic",
                   "block message of 4000001 bytes exceeds"):
        node.wait_for_log(reason)
    node.wait_for_log("discouraged for 24 h", count=5)
    log = "\n".join(node.lines)
    # An unreadable stream (wrong magic, oversized length) is dropped, not discouraged: Core's
    # readHeader fails and the connection closes, without Misbehaving.
    # The bad frame may arrive with the client's verack, before the handshake is done.
    for reason in ("wrong network magic", "block message of 4000001 bytes exceeds"):
        (line,) = [ln for ln in log.splitlines() if "unreadable stream (" in ln and reason in ln]
        assert "disconnected" in line, line
    assert "misbehaved: unreadable" not in log
    assert log.count("discouraged for 24 h") >= 5
    # Nothing was lost and the good peer is still served: a new block reaches it.
    assert node.height() == 20
    assert any(p["address"] == good.p2p_address or p["inbound"] for p in node.peers())
    (new,) = node.generate(1)
    wait_until(lambda: good.tip() == new, 30, "the good peer getting the new block")
    assert node.proc is not None and node.proc.poll() is None


def test_an_unreadable_stream_after_the_handshake_is_logged_once_at_info(tmp_path):
    """The "unreadable stream" line says why the peer went; the generic disconnect line for
    the same peer goes to debug, so the node's info log has one line for it, not two."""
    net = Network(tmp_path)
    try:
        # At debug, the generic line is there to wait for, whichever level it has.
        node = net.node("node").start("--log-level", "debug")

        async def session() -> str:
            client = await WireClient().connect("127.0.0.1", node.p2p_port)
            try:
                await client.handshake()
                client.send(Ping(1))
                await client.expect("pong")  # answered in the main loop: established
                assert client.writer is not None
                host, port = client.writer.get_extra_info("sockname")[:2]
                client.send_raw(frame(b"\xf9\xbe\xb4\xd9", "ping", struct.pack("<Q", 2)))
                assert await client.wait_closed(10)
                return f"{host}:{port} inbound"
            finally:
                await client.close()

        address = asyncio.run(session())
        # The generic line, logged last: the disconnect's lines are all in by then.
        (generic,) = node.wait_for_log(f"{address} (unreadable stream: wrong network magic",
                                       timeout=30)
        assert "peer disconnected: " in generic, generic
        info = [ln for ln in node.lines if " INFO " in ln and address in ln and "disconnect" in ln]
        assert len(info) == 1 and "unreadable stream (wrong network magic" in info[0], info
    finally:
        net.stop_all()


def test_silent_peers_time_out_in_the_handshake_and_after_it(tmp_path):
    async def main() -> None:
        service = await start_service(tmp_path / "n", peer_timeouts=PeerTimeouts(
            handshake=0.5, ping_interval=0.2, inactivity=1.0))
        host, port = service.listen_address  # type: ignore[misc]
        reasons = _record_close_reasons(service)
        try:
            silent = await WireClient().connect(host, port)
            started = time.monotonic()
            assert await silent.wait_closed(5)
            assert 0.4 < time.monotonic() - started < 3
            await silent.close()
            await until(lambda: reasons, 5, "the disconnect")
            assert reasons == ["handshake timeout"], reasons

            # After the handshake: pings go unanswered and nothing is sent.
            mute = await WireClient().connect(host, port)
            await mute.handshake()
            started = time.monotonic()
            assert mute.reader is not None
            while await asyncio.wait_for(mute.reader.read(1 << 16), 5):
                pass  # read (so the node's buffer drains) but never answer
            assert 0.8 < time.monotonic() - started < 4
            await mute.close()
            assert not service.peers
        finally:
            await stop_services(service)

    asyncio.run(main())


def test_a_staller_is_dropped_and_its_blocks_fetched_from_another_peer(tmp_path):
    blocks = build_chain(tmp_path / "source", 40)

    async def main() -> None:
        source = await start_service(tmp_path / "source")
        node = await start_service(tmp_path / "n", sync_timeouts=SyncTimeouts(stall=0.5))
        try:
            host, port = node.listen_address  # type: ignore[misc]
            staller = await WireClient().connect(host, port)
            await staller.handshake(start_height=40)
            # The node asks the first peer for headers; it gets them, then asks for blocks,
            # which never come.
            await staller.expect("getheaders")
            staller.send(Headers(tuple(b.header for b in blocks)))
            await staller.expect("getdata")
            await node.connect(*source.listen_address)  # type: ignore[misc]
            chain = node.node.chain
            await until(lambda: chain.height == 40, 20, "the node synced from the good peer")
            assert await staller.wait_closed(5)
            await staller.close()
        finally:
            await stop_services(node, source)

    asyncio.run(main())


def test_getheaders_beyond_the_locator_limit_is_malformed(tmp_path):
    async def main() -> None:
        service = await start_service(tmp_path / "n")
        host, port = service.listen_address  # type: ignore[misc]
        try:
            client = await WireClient().connect(host, port)
            await client.handshake()
            client.send(GetHeaders(70016, tuple(bytes([i]) * 32 for i in range(102))))
            assert await client.wait_closed(5)
            await client.close()
        finally:
            await stop_services(service)

    asyncio.run(main())



def test_a_timeout_after_the_handshake_is_not_called_a_handshake_timeout(tmp_path):
    """Only the handshake's own deadline is a 'handshake timeout'. A TimeoutError after it is
    an OSError (a socket's ETIMEDOUT raises one): the connection is taken as lost."""
    async def main() -> None:
        service = await start_service(tmp_path / "n")
        reasons = _record_close_reasons(service)

        async def timing_out(peer, msg):
            raise TimeoutError

        service.handlers["getaddr"] = timing_out
        host, port = service.listen_address  # type: ignore[misc]
        try:
            client = await WireClient().connect(host, port)
            await client.handshake()
            client.send(GetAddr())
            assert await client.wait_closed(5)
            await client.close()
            await until(lambda: reasons, 5, "the disconnect")
            assert reasons == ["connection lost (TimeoutError)"], reasons

            # Within the handshake too: a TimeoutError that is not its deadline.
            def own_nonce_times_out(nonce):
                raise TimeoutError

            service.is_own_nonce = own_nonce_times_out  # type: ignore[method-assign]
            client = await WireClient().connect(host, port)
            client.send(client.version(0))
            assert await client.wait_closed(5)
            await client.close()
            await until(lambda: len(reasons) == 2, 5, "the second disconnect")
            assert reasons[1] == "connection lost (TimeoutError)", reasons
        finally:
            await stop_services(service)

    asyncio.run(main())


def test_one_rule_punishes_misbehaviour_whichever_path_found_it(tmp_path):
    """Core's MaybeDiscourageAndDisconnect, for an undecodable message, a handler's verdict
    (an invalid header) and a stored block found invalid later (sync's punish callback) alike:
    a manual peer and a whitelisted (noban) one are neither disconnected nor discouraged; any
    other peer is both."""
    malformed_inv = b"\x03" + struct.pack("<I", MSG_TX) + bytes(32)

    async def main() -> None:
        node = await start_service(tmp_path / "node")
        remote = await start_service(tmp_path / "remote")
        noban = await start_service(tmp_path / "noban", whitelist=["127.0.0.1"])
        try:
            bad_header = Headers((_bad_pow_header(node.node.chain.tip),))

            # A manual peer: the node dialled it (the admin API's connect).
            manual = await node.connect(*remote.listen_address)  # type: ignore[misc]
            assert manual.manual
            await until(lambda: any(p.established for p in remote.peers.values()), 5,
                        "the remote side of the handshake")
            (theirs,) = remote.peers.values()
            theirs.send_raw("inv", malformed_inv)
            theirs.send(bad_header)
            theirs.send_ping()  # answered after the two are handled: the node still listens
            await until(lambda: theirs.ping_nonce is None or theirs.closed, 5, "the pong")
            node.sync.punish(manual.id, "invalid block")  # type: ignore[union-attr]
            assert not manual.closed and not theirs.closed
            assert not node.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]

            # A whitelisted peer, inbound.
            client = await WireClient().connect(*noban.listen_address)  # type: ignore[misc]
            await client.handshake()
            client.send_raw(frame(MAGIC, "inv", malformed_inv))
            client.send(bad_header)
            client.send(Ping(1))
            assert (await client.expect("pong", 5)).nonce == 1  # type: ignore[attr-defined]
            (peer,) = noban.peers.values()
            noban.sync.punish(peer.id, "invalid block")  # type: ignore[union-attr]
            client.send(Ping(2))
            assert (await client.expect("pong", 5)).nonce == 2  # type: ignore[attr-defined]
            assert not noban.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]
            await client.close()

            # Anyone else, whichever path: disconnected and discouraged.
            for punish in ("wire", "handler", "later"):
                client = await WireClient().connect(*node.listen_address)  # type: ignore[misc]
                await client.handshake()
                if punish == "wire":
                    client.send_raw(frame(MAGIC, "inv", malformed_inv))
                elif punish == "handler":
                    client.send(bad_header)
                else:
                    (peer,) = [p for p in node.peers.values() if p.inbound]
                    node.sync.punish(peer.id, "invalid block")  # type: ignore[union-attr]
                assert await client.wait_closed(5), punish
                await client.close()
                await until(lambda: not any(p.inbound for p in node.peers.values()), 5,
                            "the peer gone")
            assert node.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]
        finally:
            await stop_services(node, remote, noban)

    asyncio.run(main())


def test_an_orphan_found_invalid_when_its_parent_comes_gets_its_sender_punished(tmp_path):
    """The orphan's sender, not the parent's, is disconnected and discouraged (relay's punish
    callback into the service's one rule), though the verdict comes while handling the
    parent's ``tx`` from another peer."""
    blocks = build_chain(tmp_path / "n", 101)
    parent = spend_coinbase(blocks[0])
    value = parent.vout[0].value
    # Spends more than its input: bad-txns-in-belowout, a consensus failure, once the input
    # is known; until then it is an orphan.
    child = WALLET.spend([(OutPoint(parent.txid, 0), value)],
                         [TxOut(value + 1, WALLET.script_pubkey)])

    async def main() -> None:
        service = await start_service(tmp_path / "n")
        host, port = service.listen_address  # type: ignore[misc]
        try:
            orphan_sender, parent_sender = WireClient(), WireClient()
            for client in (orphan_sender, parent_sender):
                await (await client.connect(host, port)).handshake(start_height=101)
            orphan_sender.send(TxMsg(child))
            getdata = await orphan_sender.expect("getdata", 5)  # the missing parent
            assert [i.hash for i in getdata.items] == [parent.txid]  # type: ignore[attr-defined]
            parent_sender.send(TxMsg(parent))
            assert await orphan_sender.wait_closed(5)
            await orphan_sender.close()
            parent_sender.send(Ping(9))
            assert (await parent_sender.expect("pong", 5)).nonce == 9  # type: ignore[attr-defined]
            assert parent.txid in service.node.mempool.entries  # type: ignore[union-attr]
            assert child.wtxid not in service.relay.orphanage  # type: ignore[union-attr]
            assert service.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]
            await parent_sender.close()
        finally:
            await stop_services(service)

    asyncio.run(main())


def test_a_spared_peer_past_the_unconnecting_headers_limit_still_gets_the_gap_asked_for(
        tmp_path):
    """Core's Misbehaving does not stop the message's processing: a whitelisted peer sending
    more unconnecting headers than the limit is still asked for the gap each time, rather
    than ignored for the rest of the connection (its count starts afresh)."""
    async def main() -> None:
        noban = await start_service(tmp_path / "noban", whitelist=["127.0.0.1"])
        try:
            client = await WireClient().connect(*noban.listen_address)  # type: ignore[misc]
            await client.handshake()
            tip = noban.node.chain.tip.header  # type: ignore[union-attr]
            for i in range(2 * MAX_UNCONNECTING_HEADERS + 1):
                # A pong after the headers: whatever the node sent for them came before it.
                client.received.clear()
                client.send(Headers((replace(tip, prev_hash=(i + 1).to_bytes(32, "little")),)))
                client.send(Ping(i))
                while (await client.expect("pong", 5)).nonce != i:  # type: ignore[attr-defined]
                    pass
                assert any(m.command == "getheaders" for m in client.received), i
            assert not noban.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]
            await client.close()
        finally:
            await stop_services(noban)

    asyncio.run(main())


def _spared_flood_warnings(caplog, what: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if what in r.getMessage() and "not punished, whitelisted" in r.getMessage()]


async def _flood_then_ping(client: WireClient, message, times: int) -> None:
    for _ in range(times):
        client.send(message)
    client.send(Ping(times))  # answered after the flood is handled: the peer is still served
    while (await client.expect("pong", 10)).nonce != times:  # type: ignore[attr-defined]
        pass


_ORPHAN = WALLET.spend([(OutPoint(b"\x01" * 32, 0), 50_000)],
                       [TxOut(40_000, WALLET.script_pubkey)])


def _stale_block(chain) -> Block:
    return BlockMaker(REGTEST, WALLET).block(chain.active[0])  # less work than the tip


@pytest.mark.parametrize("kind, limit", [("transactions", MAX_UNREQUESTED_TXS),
                                         ("blocks", MAX_UNREQUESTED_BLOCKS)])
def test_a_spared_peer_past_an_unrequested_limit_is_counted_afresh(tmp_path, caplog, kind,
                                                                   limit):
    """A whitelisted peer flooding transactions, or blocks that would not be a new tip, that
    nobody asked for is warned of once per limit's worth, each count starting at zero, and
    stays connected, undiscouraged (Core's Misbehaving does not end the connection of a noban
    peer)."""
    build_chain(tmp_path / "noban", 2)

    async def main() -> None:
        noban = await start_service(tmp_path / "noban", whitelist=["127.0.0.1"])
        try:
            chain = noban.node.chain
            assert chain is not None
            stale = _stale_block(chain)
            unasked = {"transactions": TxMsg(_ORPHAN), "blocks": BlockMsg(stale)}[kind]
            client = await WireClient().connect(*noban.listen_address)  # type: ignore[misc]
            await client.handshake(start_height=2)
            await _flood_then_ping(client, unasked, 2 * (limit + 1))
            assert [p.closed for p in noban.peers.values()] == [False]
            assert not noban.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]
            assert chain.height == 2 and stale.hash not in chain.index
            await client.close()
        finally:
            await stop_services(noban)

    with caplog.at_level(logging.WARNING, logger="minicash.p2p"):
        asyncio.run(main())
    warnings = _spared_flood_warnings(caplog, f"unrequested {kind}")
    assert len(warnings) == 2, warnings
    assert all(f"({limit + 1} unrequested {kind})" in w for w in warnings)


def test_unrequested_transactions_do_not_count_towards_the_unrequested_blocks_limit(
        tmp_path, caplog):
    """Each kind has its own limit (1,000 transactions, 10 blocks): a peer well within the
    transactions' one is not disconnected for the first stale block it sends unasked."""
    build_chain(tmp_path / "n", 2)

    async def main() -> None:
        service = await start_service(tmp_path / "n")
        try:
            chain = service.node.chain
            assert chain is not None
            client = await WireClient().connect(*service.listen_address)  # type: ignore[misc]
            await client.handshake(start_height=2)
            await _flood_then_ping(client, TxMsg(_ORPHAN), MAX_UNREQUESTED_BLOCKS + 1)
            await _flood_then_ping(client, BlockMsg(_stale_block(chain)), 1)
            assert [p.closed for p in service.peers.values()] == [False]
            assert not service.banman.is_discouraged("127.0.0.1")  # type: ignore[union-attr]
            await client.close()
        finally:
            await stop_services(service)

    with caplog.at_level(logging.WARNING, logger="minicash.p2p"):
        asyncio.run(main())
    assert not [r for r in caplog.records if "misbehaved" in r.getMessage()]
