"""A test peer that speaks Bitcoin's wire protocol, well or badly on purpose.

It does the handshake like any peer, then lets a test send any message, any raw bytes (bad
magic, oversized lengths, truncated frames, wrong checksums) and read what the node answers,
or see that the node hung up."""

from __future__ import annotations

import asyncio
import secrets
import time

from node.consensus.params import REGTEST
from node.p2p.messages import (
    NODE_NETWORK,
    NODE_WITNESS,
    PROTOCOL_VERSION,
    Message,
    Ping,
    Pong,
    SendAddrV2,
    Verack,
    Version,
    WtxidRelay,
    decode_message,
    encode_message,
)
from node.p2p.netaddr import NetAddr
from node.p2p.wire import FrameDecoder


class WireClient:
    def __init__(self, magic: bytes = REGTEST.magic) -> None:
        self.magic = magic
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder(magic)
        self._pending: list[Message] = []
        self.their_version: Version | None = None
        self.received: list[Message] = []  # everything read, in order

    async def connect(self, host: str, port: int) -> WireClient:
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), 5)
        return self

    def version(self, start_height: int = 0, services: int = NODE_NETWORK | NODE_WITNESS,
                relay: bool = True, nonce: int | None = None) -> Version:
        return Version(PROTOCOL_VERSION, services, int(time.time()),
                       NetAddr(0, "127.0.0.1", 0), NetAddr(services, "0.0.0.0", 0),
                       secrets.randbits(64) if nonce is None else nonce, "/wire-client:1/",
                       start_height, relay)

    async def handshake(self, start_height: int = 0, relay: bool = True,
                        timeout: float = 10) -> Version:
        self.send(self.version(start_height, relay=relay))
        self.send(WtxidRelay())
        self.send(SendAddrV2())
        self.their_version = await self.expect("version", timeout)  # type: ignore[assignment]
        self.send(Verack())
        await self.expect("verack", timeout)
        return self.their_version  # type: ignore[return-value]

    def send(self, msg: Message) -> None:
        self.send_raw(encode_message(self.magic, msg))

    def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def recv(self, timeout: float = 10) -> Message:
        """The next message; pings are answered on the way, as any peer must."""
        while True:
            if self._pending:
                msg = self._pending.pop(0)
                self.received.append(msg)
                if isinstance(msg, Ping):
                    self.send(Pong(msg.nonce))
                return msg
            assert self.reader is not None
            data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            if not data:
                raise EOFError("the node closed the connection")
            for command, payload in self._decoder.feed(data):
                msg = decode_message(command, payload)
                if msg is not None:
                    self._pending.append(msg)

    async def expect(self, command: str, timeout: float = 10) -> Message:
        """Read until a ``command`` message arrives (others are kept in :attr:`received`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {command} within {timeout} s")
            msg = await self.recv(left)
            if msg.command == command:
                return msg

    async def wait_closed(self, timeout: float = 10) -> bool:
        """True once the node hangs up within ``timeout`` seconds (messages are drained)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                await self.recv(deadline - time.monotonic())
        except (EOFError, ConnectionError):
            return True
        except TimeoutError:
            return False
        return False

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
