"""The block explorer served at ``/`` of the API port: one HTML shell for every page path and
the static files it loads (plain HTML, CSS and JavaScript modules under ``static/``; no build
step, nothing fetched from anywhere but this server).

The pages read the node only through the public HTTP API (``/api/...`` and ``GET /node/info``),
so the explorer works, and is tested, exactly as any other client of that API would. These
routes are pages, not API: ``/openapi.json`` leaves them out (see :func:`is_explorer_route`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..errors import ApiError

STATIC_DIR = Path(__file__).with_name("static")
ASSET_PREFIX = "/explorer/"
ROUTE_NAME_PREFIX = "explorer-"

# Page paths that all answer the same shell; the page's script picks the view from the path.
PAGE_PATHS = {"home": "/", "block": "/block/{hash}", "tx": "/tx/{txid}",
              "address": "/address/{address}"}

_CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",  # module scripts need a JavaScript MIME type (HTML spec)
    ".css": "text/css",
    ".svg": "image/svg+xml",
}

# Only this server may be contacted: the browser itself refuses any other origin, so a stray
# CDN link fails in every test instead of working silently on a machine with internet access.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(root: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every servable file under ``root`` by its relative path: the whitelist of the asset
    route, so a request can never name a file outside it."""
    assets = {}
    for path in sorted(root.rglob("*")):
        content_type = _CONTENT_TYPES.get(path.suffix)
        if not path.is_file() or content_type is None:
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[path.relative_to(root).as_posix()] = Asset(body, content_type, etag)
    return assets


ASSETS_KEY = web.AppKey("explorer_assets", dict)


def _respond(request: web.Request, asset: Asset) -> web.Response:
    # no-cache: revalidate every time (cheap with the ETag), so an upgraded node never runs
    # a mix of old and new modules.
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Content-Security-Policy": CSP,
               "X-Content-Type-Options": "nosniff"}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if asset.content_type.startswith("text/") else None
    return web.Response(body=asset.body, content_type=asset.content_type, charset=charset,
                         headers=headers)


async def page(request: web.Request) -> web.Response:
    """The explorer's HTML shell (every page path answers it)."""
    return _respond(request, request.app[ASSETS_KEY]["index.html"])


async def asset(request: web.Request) -> web.Response:
    """A static file of the explorer."""
    found = request.app[ASSETS_KEY].get(request.match_info["name"])
    if found is None:
        raise ApiError(404, f"no explorer file {request.match_info['name']}")
    return _respond(request, found)


def add_routes(app: web.Application, assets: dict[str, Asset] | None = None) -> None:
    app[ASSETS_KEY] = load_assets() if assets is None else assets
    for name, path in PAGE_PATHS.items():
        app.router.add_get(path, page, name=ROUTE_NAME_PREFIX + name)
    app.router.add_get(ASSET_PREFIX + "{name:.+}", asset, name=ROUTE_NAME_PREFIX + "asset")


def is_explorer_route(route: web.AbstractRoute) -> bool:
    name = route.resource.name if route.resource is not None else None
    return bool(name and name.startswith(ROUTE_NAME_PREFIX))
