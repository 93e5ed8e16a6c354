"""The aiohttp application: the three route families, error handling, and ``/openapi.json``
generated from the router itself so that it always describes what the server does."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from node import __version__

from . import admin, core_rest, esplora, explorer
from .context import CTX_KEY, ApiContext
from .errors import ApiError

log = logging.getLogger(__name__)

# A raw block in hex is at most 8 MB (4 MB serialized); larger bodies get 413.
MAX_BODY = 8_000_000 + 1024


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return _error(e.status, e.reason, e.text)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body too large (limit {MAX_BODY} bytes)", False)
    except web.HTTPNotFound:
        return _error(404, f"unknown route {request.path}", False)
    except web.HTTPMethodNotAllowed as e:
        return _error(405, f"method {request.method} not allowed here (allowed: "
                           f"{', '.join(sorted(e.allowed_methods))})", False)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return _error(500, "internal error", False)


def _error(status: int, reason: str, text: bool) -> web.Response:
    if text:
        return web.Response(status=status, text=reason, content_type="text/plain")
    return web.json_response({"error": reason, "code": status}, status=status)


def create_app(ctx: ApiContext) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[CTX_KEY] = ctx
    app.add_routes(core_rest.routes)
    app.add_routes(esplora.routes)
    app.add_routes(admin.routes)
    app.router.add_get("/openapi.json", openapi)
    explorer.add_routes(app)
    return app


# -- OpenAPI ---------------------------------------------------------------------------------

_PARAM_SCHEMAS = {
    "hash": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    "txid": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    "height": {"type": "integer", "minimum": 0},
    "start_height": {"type": "integer", "minimum": 0},
    "start": {"type": "integer", "minimum": 0},
    "index": {"type": "integer", "minimum": 0},
    "vout": {"type": "integer", "minimum": 0},
    "scripthash": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    "last_seen_txid": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    "address": {"type": "string"},
}


def _operation(path: str, method: str, handler) -> dict:
    doc = (handler.__doc__ or handler.__name__.replace("_", " ")).strip().splitlines()[0]
    params = []
    for name in re.findall(r"{(\w+)(?::[^}]*)?}", path):
        schema = _PARAM_SCHEMAS.get(name, {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    op: dict = {"summary": doc, "responses": {"200": {"description": "success"},
                                              "400": {"description": "invalid input"},
                                              "404": {"description": "not found"}}}
    if params:
        op["parameters"] = params
    if path.startswith("/node/") and method == "post":
        op["security"] = [{"cookie": []}]
        op["responses"]["401"] = {"description": "missing or wrong token"}
    return op


def openapi_spec(app: web.Application) -> dict:
    paths: dict[str, dict] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        # The explorer's pages and files are HTML for people, not part of the API.
        if not path or route.method == "HEAD" or path == "/openapi.json" \
                or explorer.is_explorer_route(route):
            continue
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(path, route.method.lower(),
                                                                        route.handler)
    return {
        "openapi": "3.0.3",
        "info": {"title": "minicash node API", "version": __version__},
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": {"cookie": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_spec(request.app))
