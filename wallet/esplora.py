"""A small synchronous client of the Esplora HTTP API (stdlib urllib, with timeouts).

Talks to any Esplora-compatible server: the node's ``/api`` or a public explorer of the same
network. A URL that cannot name such a server is :class:`BadNodeURL` before anything is sent;
failures become :class:`NodeUnreachable` (naming the URL) or :class:`NodeError` (the server's
answer, e.g. a transaction's reject reason).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from node.consensus.hashes import sha256

TXS_PER_PAGE = 25  # Esplora: confirmed transactions per /txs/chain page


class BadNodeURL(Exception):
    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"bad node URL {url!r}: {why}")


def check_url(url: str) -> None:
    """Refuse a URL urllib would fail on with a bare ValueError or InvalidURL (a traceback),
    or that could never reach an Esplora server; ``BadNodeURL`` says which part is wrong.
    ``node.client`` checks the node's API URL with it too (it builds requests the same way)."""
    if any(c <= " " or c == "\x7f" for c in url):
        raise BadNodeURL(url, "it contains a space or control character")
    try:
        parts = urllib.parse.urlsplit(url)
        # The port is parsed only when read: one that is no number in 0-65535 raises here.
        host, _ = parts.hostname, parts.port
    except ValueError as e:
        raise BadNodeURL(url, str(e)) from None
    if parts.scheme not in ("http", "https"):
        raise BadNodeURL(url, "expected an http:// or https:// URL")
    if not host:
        raise BadNodeURL(url, "no host")
    # The client appends each request's path to it: after a query or fragment the path would
    # be part of those, and the request would go to the base URL itself.
    if "?" in url or "#" in url:
        raise BadNodeURL(url, "a node URL has no query or fragment ('?' or '#')")
    # The rest is what urlopen does before it sends anything, done with urllib's own parts so
    # the two cannot drift apart: it reads the host (unquoted) and port, IDNA-encodes the host
    # name for the socket (a label over 63 characters fails), and encodes the Host header in
    # Latin-1 and the request line (the path) in ASCII.
    try:
        req = urllib.request.Request(url)
        name = http.client.HTTPConnection(req.host).host  # the host without its port
        idna = name.encode("idna").decode()
    except (ValueError, http.client.InvalidURL) as e:  # UnicodeError is a ValueError
        raise BadNodeURL(url, str(e)) from None
    if not req.selector.isascii():
        raise BadNodeURL(url, "a non-ASCII character in its path (percent-encode it)")
    try:
        req.host.encode("latin-1")
    except UnicodeEncodeError:
        raise BadNodeURL(url, f"the Host header cannot carry {name!r}: give it as {idna!r}"
                         ) from None


class NodeUnreachable(Exception):
    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"cannot reach the node at {url}: {why}")


class NodeError(Exception):
    """The server answered with an error status; ``reason`` is its message."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        super().__init__(f"{url}: {status} {reason}")
        self.status = status
        self.reason = reason


def scripthash(script_pubkey: bytes) -> str:
    """Esplora's (and Electrum's) script hash: sha256 of the script, reversed, in hex."""
    return sha256(script_pubkey)[::-1].hex()


class EsploraClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        check_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _request(self, path: str, body: bytes | None = None) -> bytes:
        url = self.base_url + path
        req = urllib.request.Request(url, data=body, method="POST" if body is not None
                                     else "GET", headers={"Content-Type": "text/plain"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace").strip()
            try:  # JSON errors: {"error": reason}; Esplora's text errors are the reason itself
                text = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                pass
            raise NodeError(e.code, text or e.reason, url) from None
        except urllib.error.URLError as e:
            raise NodeUnreachable(self.base_url, str(e.reason)) from None
        except (TimeoutError, ConnectionError, OSError) as e:
            raise NodeUnreachable(self.base_url, str(e) or type(e).__name__) from None
        except (ValueError, http.client.InvalidURL) as e:
            # Whatever check_url did not foresee: still one line, not a traceback, naming the
            # URL the user gave.
            raise BadNodeURL(self.base_url, str(e)) from None

    def get_json(self, path: str) -> Any:
        raw = self._request(path)
        try:
            return json.loads(raw)
        except ValueError:
            raise NodeError(200, f"not JSON: {raw[:80]!r}", self.base_url + path) from None

    def get_text(self, path: str) -> str:
        return self._request(path).decode().strip()

    # -- the routes a wallet needs ---------------------------------------------------------
    def tip_height(self) -> int:
        text = self.get_text("/blocks/tip/height")
        if not text.isdigit():
            raise NodeError(200, f"bad tip height {text!r}", self.base_url)
        return int(text)

    def scripthash_stats(self, sh: str) -> dict:
        return self.get_json(f"/scripthash/{sh}")

    def scripthash_txs(self, sh: str, known_confirmed: set[str] | None = None) -> list[dict]:
        """The whole history of a script hash, newest first: mempool, then confirmed pages of
        25. Paging stops early at a confirmed txid in ``known_confirmed`` (the caller has it and
        everything older)."""
        txs = self.get_json(f"/scripthash/{sh}/txs")
        confirmed = [t for t in txs if t["status"]["confirmed"]]
        page = confirmed
        known = known_confirmed or set()
        while len(page) >= TXS_PER_PAGE and not any(t["txid"] in known for t in page):
            page = self.get_json(f"/scripthash/{sh}/txs/chain/{page[-1]['txid']}")
            txs.extend(page)
        return txs

    def tx_hex(self, txid: str) -> str:
        return self.get_text(f"/tx/{txid}/hex")

    def fee_estimates(self) -> dict[int, float]:
        return {int(k): float(v) for k, v in self.get_json("/fee-estimates").items()}

    def broadcast(self, raw_hex: str) -> str:
        return self._request("/tx", raw_hex.encode()).decode().strip()
