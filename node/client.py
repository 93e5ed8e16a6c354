"""A small client of a running node's API, for the ``minicash-node`` client subcommands.

Uses only the standard library (urllib): one request per command, the admin token from
``<datadir>/.cookie``, and every failure turned into :class:`ClientError` with one line.

The base URL is checked as the wallet checks its node URL, by the wallet's own
:func:`wallet.esplora.check_url`: both clients append request paths to a base URL with urllib.
The check lives with the wallet because the wallet may import nothing from ``node`` but
``node.consensus`` (ARCHITECTURE.md), and a URL check is no consensus rule."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from wallet.esplora import BadNodeURL, check_url


class ClientError(Exception):
    pass


class NodeClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        try:
            check_url(base_url)
        except BadNodeURL as e:
            raise ClientError(str(e)) from None
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, auth: bool = False) -> Any:
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            if self.token is None:
                raise ClientError("no admin token: is the node running with this datadir?")
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base_url + path
        try:
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise ClientError(f"{url}: {_reason(e)}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ClientError(f"cannot reach the node at {self.base_url} ({reason})") from None
        except (ValueError, http.client.InvalidURL) as e:
            # Whatever check_url did not foresee: still one line, in check_url's format.
            raise ClientError(str(BadNodeURL(self.base_url, str(e)))) from None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def info(self) -> dict:
        return self.request("GET", "/node/info")

    def peers(self) -> list:
        return self.request("GET", "/node/peers")

    def generate(self, blocks: int, address: str) -> list[str]:
        return self.request("POST", "/node/generate", {"blocks": blocks, "address": address},
                            auth=True)

    def set_mining(self, enabled: bool, address: str | None = None,
                   interval: float | None = None) -> dict:
        """Switch the node's miner on or off; an address or interval not given stays as the
        node had it. Answers the node's mining state."""
        body: dict[str, Any] = {"enabled": enabled}
        if address is not None:
            body["address"] = address
        if interval is not None:
            body["interval"] = interval
        return self.request("POST", "/node/mining", body, auth=True)

    def stop(self) -> dict:
        return self.request("POST", "/node/stop", {}, auth=True)


def _reason(e: urllib.error.HTTPError) -> str:
    try:
        body = e.read().decode(errors="replace")
        parsed = json.loads(body)
        if isinstance(parsed, dict) and "error" in parsed:
            return f"{parsed['error']} (HTTP {e.code})"
        return f"{body.strip()} (HTTP {e.code})"
    except ValueError:
        return f"HTTP {e.code}"
