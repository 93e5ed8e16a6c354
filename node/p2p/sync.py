"""Block sync: headers-first download, parallel block download, and block announcements.

Follows Bitcoin Core's net_processing:
- headers first: ``getheaders`` with a locator to one peer while our best header is old (Core:
  one sync peer during IBD), to every peer once it is recent; each full ``headers`` reply (2,000)
  asks for more. Headers go through ``ChainState.process_headers``; an invalid or
  non-continuous run gets the peer discouraged, one that does not connect makes us ask for the
  gap (10 such in a row are misbehaviour, Core's MAX_NUM_UNCONNECTING_HEADERS_MSGS);
- blocks: every peer whose best known block has more work than our tip is asked for the missing
  blocks on its chain, at most 16 in flight per peer (MAX_BLOCKS_IN_TRANSIT_PER_PEER) and no
  further than 1,024 blocks past our tip (BLOCK_DOWNLOAD_WINDOW). If the next block we need has
  been in flight from one peer for longer than the stall timeout (2 s, doubling on each stall up
  to 64 s) while another peer that has it sits idle, the staller is dropped and its blocks go to
  the others (Core: BLOCK_STALLING_TIMEOUT_DEFAULT/MAX). Blocks go through ``submit_block``;
- announcements: a new tip is announced with ``headers`` to peers that sent ``sendheaders``
  (BIP130, up to 8 blocks that connect to what the peer has), with an ``inv`` of the tip
  otherwise, never to a peer that told us of the block. Nothing is announced while the tip is
  more than a day old (Core: no announcements during initial block download).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.chain.index import HAVE_DATA, BlockIndex
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Block
from node.consensus.serialize import from_bytes

from .messages import (
    MAX_HEADERS_RESULTS,
    MSG_BLOCK,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_FLAG,
    NODE_NETWORK,
    PROTOCOL_VERSION,
    BlockMsg,
    GetBlocks,
    GetData,
    GetHeaders,
    Headers,
    Inv,
    InvItem,
)
from .peer import Misbehaving, Peer, cancel_and_wait

if TYPE_CHECKING:
    from node.chain.chainstate import ChainState

log = logging.getLogger("minicash.p2p")

MAX_BLOCKS_IN_TRANSIT_PER_PEER = 16  # Core
BLOCK_DOWNLOAD_WINDOW = 1024  # Core
MAX_BLOCKS_TO_ANNOUNCE = 8  # Core: more than this in one go is announced by inv
MAX_UNCONNECTING_HEADERS = 10  # Core: MAX_NUM_UNCONNECTING_HEADERS_MSGS
MAX_GETBLOCKS_RESULTS = 500  # Core: an inv of at most 500 blocks answers getblocks
MAX_UNREQUESTED_BLOCKS = 10  # ours: old blocks nobody asked for, before it counts as a flood
MAX_BLOCK_SOURCES = 2048  # bounded memory of who sent blocks not yet connected
RECENT_TIP_AGE = 24 * 3600  # Core: IBD ends when the tip is less than a day old
# Not punished: a block from the future may become valid later (Core: BLOCK_TIME_FUTURE).
UNPUNISHED_REASONS = frozenset({"time-too-new"})


@dataclass
class SyncTimeouts:
    stall: float = 2.0  # Core: BLOCK_STALLING_TIMEOUT_DEFAULT
    stall_max: float = 64.0  # Core: BLOCK_STALLING_TIMEOUT_MAX
    block_download: float = 600.0  # Core: 10 minutes (BLOCK_DOWNLOAD_TIMEOUT_BASE)
    progress_log: float = 10.0


def block_locator(chain: ChainState, index: BlockIndex) -> list[bytes]:
    """Hashes from ``index`` back to genesis, ten one apart then ever sparser (Core:
    LocatorEntries): at most ~log2(height) + 10 entries, well under MAX_LOCATOR_SZ."""
    hashes = []
    step = 1
    node = index
    while True:
        hashes.append(node.hash)
        if node.height == 0:
            return hashes
        height = max(node.height - step, 0)
        node = chain.active[height] if chain.is_active(node) else node.ancestor(height)
        if len(hashes) >= 10:
            step *= 2


class BlockSync:
    """Headers, blocks and their announcements for every peer of one :class:`P2PService`."""

    def __init__(self, chain: ChainState, peers: dict[int, Peer],
                 submit_block: Callable[[Block, bytes | None], Awaitable[BlockIndex | None]],
                 punish: Callable[[int, str], None],
                 timeouts: SyncTimeouts | None = None) -> None:
        self.chain = chain
        self.peers = peers
        self.submit_block = submit_block
        self.punish = punish  # (peer id, reason): a block it sent turned out invalid
        self.timeouts = timeouts or SyncTimeouts()
        self.stall_timeout = self.timeouts.stall
        self.in_flight: dict[bytes, tuple[Peer, float]] = {}  # hash -> (peer, when asked)
        self.best_header = chain.best_header()
        self.block_sources: dict[bytes, int] = {}  # stored, unconnected block -> sender
        self._paths: dict[int, tuple[BlockIndex, list[BlockIndex], int]] = {}
        self._window_blocked = False
        self._announce_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._progress = (time.monotonic(), chain.height)
        self.handlers = {"headers": self.on_headers, "block": self.on_block,
                         "getheaders": self.on_getheaders, "getblocks": self.on_getblocks}

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.chain.listeners.append(self)
        self._task = self._loop.create_task(self._housekeeping())

    async def stop(self) -> None:
        if self in self.chain.listeners:
            self.chain.listeners.remove(self)
        await cancel_and_wait(self._task)

    # -- starting a peer's sync ------------------------------------------------------------------
    def in_initial_download(self) -> bool:
        return self.chain.tip.time < time.time() - RECENT_TIP_AGE

    def peer_established(self, peer: Peer) -> None:
        if not peer.services & NODE_NETWORK:
            return
        syncing = [p for p in self.peers.values() if p.sync_started and p is not peer]
        # Core: one headers-sync peer while the best header is old; all peers once it is
        # recent. Ours also asks a peer that claims more blocks than every sync peer so far, so
        # a sync peer that turns out to be behind does not hold everything up.
        if not syncing or self.best_header.time > time.time() - RECENT_TIP_AGE \
                or peer.start_height > max(max(p.start_height for p in syncing),
                                           self.best_header.height):
            self._start_sync(peer)

    def _start_sync(self, peer: Peer) -> None:
        peer.sync_started = True
        # Core starts one block before the best header, so that an up-to-date peer answers
        # with at least one header and we learn its best block.
        self.send_getheaders(peer, self.best_header.prev or self.best_header)

    def send_getheaders(self, peer: Peer, start: BlockIndex, stop: bytes = bytes(32)) -> None:
        log.debug("%r: getheaders from height %d", peer, start.height)
        peer.send(GetHeaders(PROTOCOL_VERSION, block_locator(self.chain, start), stop))

    def peer_gone(self, peer: Peer) -> None:
        for h in peer.blocks_in_flight:
            entry = self.in_flight.get(h)
            if entry is not None and entry[0] is peer:
                del self.in_flight[h]
        peer.blocks_in_flight.clear()
        self._paths.pop(peer.id, None)
        if peer.sync_started and not any(
                p.sync_started for p in self.peers.values() if p is not peer):
            for other in self.peers.values():
                if other is not peer and other.established and other.services & NODE_NETWORK:
                    self._start_sync(other)
                    break
        self.schedule()

    # -- what peers have ---------------------------------------------------------------------------
    def _update_best_known(self, peer: Peer, index: BlockIndex) -> None:
        if peer.best_known is None or index.chainwork > peer.best_known.chainwork:
            peer.best_known = index
        if index.chainwork > self.best_header.chainwork and not index.is_failed():
            self.best_header = index

    def peer_has(self, peer: Peer, index: BlockIndex) -> bool:
        """Whether the peer can serve ``index``: it is on the peer's best known chain."""
        best = peer.best_known
        return best is not None and best.height >= index.height and \
            best.ancestor(index.height) is index

    def on_block_inv(self, peer: Peer, hashes: list[bytes]) -> None:
        """Blocks announced by inv: ask for headers up to the last unknown one (Core)."""
        unknown = None
        for h in hashes:
            peer.known_blocks.add(h)
            index = self.chain.index.get(h)
            if index is None:
                unknown = h
            else:
                self._update_best_known(peer, index)
        if unknown is not None:
            self.send_getheaders(peer, self.best_header, unknown)
        self.schedule()

    # -- headers --------------------------------------------------------------------------------
    async def on_headers(self, peer: Peer, msg: Headers) -> None:
        headers = msg.headers
        log.debug("%r: %d headers", peer, len(headers))
        if not headers:
            return
        for a, b in zip(headers, headers[1:], strict=False):
            if b.prev_hash != a.hash:
                raise Misbehaving("non-continuous headers sequence")
        chain = self.chain
        if headers[0].prev_hash not in chain.index:
            # Probably an announcement of a block whose parent we lack: ask for the gap.
            peer.unconnecting_headers += 1
            # The gap is asked for even when the count is up: Core's Misbehaving does not stop
            # the message's processing, and a peer spared (noban, manual) is counted afresh.
            self.send_getheaders(peer, self.best_header)
            if peer.unconnecting_headers >= MAX_UNCONNECTING_HEADERS:
                count, peer.unconnecting_headers = peer.unconnecting_headers, 0
                raise Misbehaving(f"{count} non-connecting headers")
            return
        peer.known_blocks.update(h.hash for h in headers)
        try:
            indexes = chain.process_headers(headers)
        except ValidationError as e:
            if e.reason in UNPUNISHED_REASONS:
                return
            raise Misbehaving(f"invalid header: {e.reason}") from None
        peer.unconnecting_headers = 0
        last = indexes[-1]
        self._update_best_known(peer, last)
        if len(headers) == MAX_HEADERS_RESULTS:
            self.send_getheaders(peer, last)  # more where these came from
        self.schedule()

    async def on_getheaders(self, peer: Peer, msg: GetHeaders) -> None:
        chain = self.chain
        if not msg.locator:
            index = chain.index.get(msg.hash_stop)  # Core: just that one header
            if index is not None and index.status & HAVE_DATA and not index.is_failed():
                peer.send(Headers((index.header,)))
            return
        start = self._fork_point(msg.locator)
        end = min(start.height + MAX_HEADERS_RESULTS, chain.height)
        headers = []
        for height in range(start.height + 1, end + 1):
            index = chain.active[height]
            headers.append(index.header)
            if index.hash == msg.hash_stop:
                break
        peer.send(Headers(tuple(headers)))

    async def on_getblocks(self, peer: Peer, msg: GetBlocks) -> None:
        chain = self.chain
        start = self._fork_point(msg.locator)
        items = []
        for height in range(start.height + 1, min(start.height + MAX_GETBLOCKS_RESULTS,
                                                  chain.height) + 1):
            index = chain.active[height]
            if index.hash == msg.hash_stop:
                break
            items.append(InvItem(MSG_BLOCK, index.hash))
        if items:
            peer.send(Inv(tuple(items)))

    def _fork_point(self, locator: tuple[bytes, ...]) -> BlockIndex:
        """The first locator entry on our active chain (Core: FindForkInGlobalIndex)."""
        chain = self.chain
        for h in locator:
            index = chain.index.get(h)
            if index is not None and chain.is_active(index):
                return index
        return chain.active[0]

    # -- blocks ---------------------------------------------------------------------------------
    async def on_block(self, peer: Peer, msg: BlockMsg) -> None:
        block = msg.block
        h = block.hash
        peer.known_blocks.add(h)
        requested = peer.blocks_in_flight.pop(h, None) is not None
        if requested and self.in_flight.get(h, (None,))[0] is peer:
            del self.in_flight[h]
        chain = self.chain
        index = chain.index.get(h)
        if index is not None and index.status & HAVE_DATA:
            self.schedule()
            return  # we have it already
        if not requested and not self._is_new_tip(block):
            # Core processes an unrequested block only if it would be a new tip.
            peer.unrequested_blocks += 1
            if peer.unrequested_blocks > MAX_UNREQUESTED_BLOCKS:
                # Counted afresh: a peer spared (noban, manual) is judged on what comes next.
                count, peer.unrequested_blocks = peer.unrequested_blocks, 0
                raise Misbehaving(f"{count} unrequested blocks")
            return
        try:
            index = await self.submit_block(block, msg.raw)
        except ValidationError as e:
            if e.reason in UNPUNISHED_REASONS:
                return
            raise Misbehaving(f"invalid block {hash_to_hex(h)}: {e.reason}") from None
        if index is not None:
            self._update_best_known(peer, index)
            if not chain.is_active(index) and len(self.block_sources) < MAX_BLOCK_SOURCES:
                self.block_sources[h] = peer.id
        self._check_block_sources()
        self.schedule()

    def _is_new_tip(self, block: Block) -> bool:
        prev = self.chain.index.get(block.header.prev_hash)
        return prev is not None and prev.chainwork >= self.chain.tip.chainwork

    def _check_block_sources(self) -> None:
        """A stored block judged only later, when its parent arrived: punish its sender if it
        failed (Core: mapBlockSource), forget it once connected."""
        if not self.block_sources:
            return
        chain = self.chain
        for h, peer_id in list(self.block_sources.items()):
            index = chain.index.get(h)
            if index is None or chain.is_active(index):
                del self.block_sources[h]
            elif index.is_failed():
                del self.block_sources[h]
                reason = chain.invalid_reasons.get(h, "bad-prevblk")
                self.punish(peer_id, f"invalid block {hash_to_hex(h)}: {reason}")

    def serve_block(self, peer: Peer, item: InvItem) -> bool:
        """Send a block asked for by getdata; False if we do not have it."""
        index = self.chain.index.get(item.hash)
        if index is None or not index.status & HAVE_DATA or index.is_failed():
            return False
        raw = self.chain.blocks.get_block(item.hash)
        if raw is None:
            return False
        if not item.type & MSG_WITNESS_FLAG:
            # Core (ProcessGetBlockData): MSG_BLOCK is answered without witness data
            # (TX_NO_WITNESS), MSG_WITNESS_BLOCK with it, as stored.
            raw = from_bytes(Block, raw).serialize(witness=False)  # parse what we read, not re-read
        peer.send_raw("block", raw)
        return True

    # -- download scheduling --------------------------------------------------------------------
    def schedule(self) -> None:
        """Ask every peer with free slots for the next blocks it can give us."""
        tip = self.chain.tip
        self._window_blocked = False
        for peer in list(self.peers.values()):
            if not peer.established or peer.closed or peer.best_known is None:
                continue
            free = MAX_BLOCKS_IN_TRANSIT_PER_PEER - len(peer.blocks_in_flight)
            if free <= 0 or peer.best_known.chainwork <= tip.chainwork:
                continue
            wanted = self._next_blocks(peer, free, tip.height + BLOCK_DOWNLOAD_WINDOW)
            if not wanted:
                continue
            now = time.monotonic()
            for index in wanted:
                self.in_flight[index.hash] = (peer, now)
                peer.blocks_in_flight[index.hash] = now
            log.debug("%r: getdata %d blocks from height %d", peer, len(wanted),
                      wanted[0].height)
            peer.send(GetData(tuple(InvItem(MSG_WITNESS_BLOCK, i.hash) for i in wanted)))

    def _path(self, peer: Peer) -> tuple[list[BlockIndex], int]:
        """The blocks from our active chain up to the peer's best known block, cached per peer
        and extended as its headers arrive (Core walks from pindexLastCommonBlock likewise)."""
        best = peer.best_known
        assert best is not None
        cached = self._paths.get(peer.id)
        if cached is not None and cached[0] is best:
            return cached[1], cached[2]
        old_tip, old_path, pos = cached if cached is not None else (None, [], 0)
        new: list[BlockIndex] = []
        node: BlockIndex | None = best
        while node is not None and node is not old_tip and not self.chain.is_active(node):
            new.append(node)
            node = node.prev
        new.reverse()
        if node is not None and node is old_tip:
            path = old_path + new
        else:
            path, pos = new, 0
        self._paths[peer.id] = (best, path, pos)
        return path, pos

    def _next_blocks(self, peer: Peer, count: int, max_height: int) -> list[BlockIndex]:
        path, pos = self._path(peer)
        # Skip the prefix already downloaded, so the next scan starts past it.
        while pos < len(path) and path[pos].status & HAVE_DATA:
            pos += 1
        best = peer.best_known
        assert best is not None
        self._paths[peer.id] = (best, path, pos)
        wanted: list[BlockIndex] = []
        in_flight = self.in_flight
        for index in path[pos:]:
            if index.height > max_height:
                self._window_blocked = True
                break
            if index.is_failed():
                break
            if index.status & HAVE_DATA or index.hash in in_flight:
                continue
            wanted.append(index)
            if len(wanted) >= count:
                break
        return wanted

    # -- stalls, timeouts, progress ---------------------------------------------------------------
    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(min(0.5, self.timeouts.stall / 2))
            self.check_stalls()
            self._log_progress()

    def check_stalls(self) -> None:
        now = time.monotonic()
        for h, (peer, asked) in list(self.in_flight.items()):
            if now - asked > self.timeouts.block_download:
                peer.close(f"block download timeout for {hash_to_hex(h)}")
        if not self.in_flight:
            return
        # The block the tip waits for: the lowest one in flight.
        front_hash, (staller, asked) = min(
            self.in_flight.items(), key=lambda kv: self.chain.index[kv[0]].height)
        if now - asked <= self.stall_timeout:
            return
        front = self.chain.index[front_hash]
        idle = [p for p in self.peers.values()
                if p is not staller and p.established and not p.closed
                and len(p.blocks_in_flight) < MAX_BLOCKS_IN_TRANSIT_PER_PEER
                and self.peer_has(p, front)]
        if idle or self._window_blocked and len(self.peers) > 1:
            log.info("%r stalled block download at height %d for %.1f s: disconnecting",
                     staller, front.height, now - asked)
            staller.close("stalling block download")
            self.stall_timeout = min(self.stall_timeout * 2, self.timeouts.stall_max)

    def _log_progress(self) -> None:
        now = time.monotonic()
        then, height_then = self._progress
        if now - then < self.timeouts.progress_log:
            return
        chain = self.chain
        self._progress = (now, chain.height)
        target = self.best_header.height
        if chain.height >= target or chain.height == height_then:
            return
        rate = (chain.height - height_then) / (now - then)
        eta = (target - chain.height) / rate if rate > 0 else float("inf")
        log.info("sync: height %d of %d headers, %.1f blocks/s, eta %s", chain.height, target,
                 rate, f"{eta:.0f} s" if eta != float("inf") else "unknown")

    # -- chain listener: announcements ----------------------------------------------------------
    def block_connected(self, block: Block, index: BlockIndex) -> None:
        if index.chainwork > self.best_header.chainwork:
            self.best_header = index
        # A connected block no longer stalls anyone, so the stall timeout relaxes (Core: decays
        # by 0.85 per connected block, down to the default).
        self.stall_timeout = max(self.timeouts.stall, self.stall_timeout * 0.85)
        if not self._announce_pending and self._loop is not None:
            self._announce_pending = True
            # Listeners may be called off the event loop (validation in a worker).
            self._loop.call_soon_threadsafe(self._announce)

    def block_disconnected(self, block: Block, index: BlockIndex) -> None:
        return None  # the new tip's announcement (after the reorg) says all there is

    def _announce(self) -> None:
        self._announce_pending = False
        if self.in_initial_download():
            return
        tip = self.chain.tip
        for peer in list(self.peers.values()):
            if peer.established and not peer.closed:
                self._announce_to(peer, tip)

    def _announce_to(self, peer: Peer, tip: BlockIndex) -> None:
        new: list[BlockIndex] = []
        node: BlockIndex | None = tip
        while node is not None and len(new) <= MAX_BLOCKS_TO_ANNOUNCE \
                and node.hash not in peer.known_blocks and not self.peer_has(peer, node):
            new.append(node)
            node = node.prev
        if not new:
            return
        connects = node is not None and len(new) <= MAX_BLOCKS_TO_ANNOUNCE
        new.reverse()
        if peer.prefer_headers and connects:
            peer.send(Headers(tuple(i.header for i in new)))
        else:
            peer.send(Inv((InvItem(MSG_BLOCK, tip.hash),)))
        peer.known_blocks.update(i.hash for i in new)
