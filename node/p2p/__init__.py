"""Peer-to-peer networking on Bitcoin's wire protocol.

Owns the wire format (``wire``: framing; ``messages``: one class per command; ``netaddr``:
addresses), the address manager (``addrman``) and the ban list (``banman``), which are pure code
used from the event loop, and the peer, connection, sync and relay services built on them. It
talks to the chain and the mempool only through ``Node.submit_block``/``submit_tx``, read-only
chain views and their listeners; it never reaches into their storage.

Notes on the agreed interfaces:
- ``wire.parse_header(data, magic, max_payload)`` takes the magic it checks. A wrong checksum or
  an invalid command field makes Core skip the one message, not drop the peer:
  ``FrameDecoder.feed`` skips such frames (counting them in ``rejected``); readers using
  ``parse_header`` call ``checksum_ok(payload, checksum)``. Invalid command names come back
  escaped, so they never match a registered message.
- ``NetAddr`` lives in ``netaddr`` (re-exported by ``messages``); hosts are canonical text.
  ``AddrV2`` keeps IPv4/IPv6 entries and drops other networks (BIP155 allows ignoring them).
- ``BlockMsg.raw`` is the payload itself when parsed (no copy); empty means "serialize".
- ``AddrMan`` extras: ``good(host, port, services=None)`` adds an unknown peer (a --connect
  one) as its own source; ``connected()`` refreshes a live peer's time (Core: Connected);
  ``remove()``, ``info()``, ``new_count``/``tried_count``; ``routable_only=True`` refuses
  private/local addresses (mainnet), off by default so nodes on one host can gossip;
  link-local IPv6 addresses are never stored (``netaddr.storable``: Core keeps no unroutable
  address and its peers.dat has no scope id).
  ``add()`` takes times as given and only ages them by ``penalty`` (``2 * 3600`` for gossip, as
  Core's AddrMan::Add); gossip fixes implausible times first, as Core's ProcessMessage does.
- ``BanMan`` extras: ``ban(subnet, seconds, absolute=False)`` only ever extends a ban (Core);
  ``clear()``; ``sweep()``; invalid subnets raise ValueError with a reason. Discouragement is
  persisted too (bounded to 50,000 hosts). Both classes accept a path or a shared ``Database``.
"""
