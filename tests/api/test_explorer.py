"""The explorer's routes and files, without a browser: one shell for every page path, static
files from a whitelist with the right types, nothing loaded from elsewhere, no page in
``/openapi.json``, and every file shipped as package data."""

from __future__ import annotations

import asyncio
import posixpath
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from node.api import explorer
from node.api.app import create_app, openapi_spec
from node.api.context import ApiContext
from node.consensus.params import REGTEST

ROOT = Path(__file__).resolve().parents[2]
TXID = "ab" * 32


def _app():
    # The explorer never reads the node's services: it is a client of the API like any other.
    return create_app(ApiContext(REGTEST, None, None, None))  # type: ignore[arg-type]


def fetch(*requests: tuple[str, dict]) -> list[tuple[int, CIMultiDict, bytes]]:
    async def go():
        out = []
        async with TestClient(TestServer(_app())) as client:
            for path, headers in requests:
                resp = await client.get(path, headers=headers, allow_redirects=False)
                out.append((resp.status, resp.headers.copy(), await resp.read()))
        return out
    return asyncio.run(go())


def test_every_page_path_answers_the_same_html_shell_under_a_strict_csp():
    paths = ["/", f"/block/{TXID}", f"/tx/{TXID}", "/address/bcrt1qanything", "/block/not-hex"]
    answers = fetch(*[(p, {}) for p in paths])
    shell = (explorer.STATIC_DIR / "index.html").read_bytes()
    for path, (status, headers, body) in zip(paths, answers, strict=True):
        assert status == 200, path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert body == shell
        assert "default-src 'self'" in headers["Content-Security-Policy"]


def test_static_files_have_their_types_and_revalidate_with_an_etag():
    (status, headers, body), = fetch(("/explorer/app.js", {}))
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert body == (explorer.STATIC_DIR / "app.js").read_bytes()
    assert headers["Cache-Control"] == "no-cache"
    again, css, svg = fetch(("/explorer/app.js", {"If-None-Match": headers["ETag"]}),
                            ("/explorer/style.css", {}), ("/explorer/favicon.svg", {}))
    assert again[0] == 304 and again[2] == b""
    assert css[1]["Content-Type"].startswith("text/css")
    assert svg[1]["Content-Type"] == "image/svg+xml"


@pytest.mark.parametrize("path", ["/explorer/nope.js", "/explorer/../app.py",
                                  "/explorer/%2e%2e/__init__.py", "/explorer/views/../../x",
                                  "/explorer/__init__.py", "/block/a/b"])
def test_unknown_or_escaping_file_names_are_404(path):
    (status, _, _), = fetch((path, {}))
    assert status == 404


def test_openapi_leaves_out_the_pages_but_keeps_every_api_route():
    app = _app()
    spec = openapi_spec(app)["paths"]
    assert not [p for p in spec if not p.startswith(("/api/", "/rest/", "/node/"))]
    page_routes = [r for r in app.router.routes() if explorer.is_explorer_route(r)]
    assert {r.resource.canonical for r in page_routes} == \
        {*explorer.PAGE_PATHS.values(), explorer.ASSET_PREFIX + "{name}"}
    api_paths = {re.sub(r"{(\w+):[^}]*}", r"{\1}", r.resource.canonical)
                 for r in app.router.routes()
                 if not explorer.is_explorer_route(r) and r.resource.canonical != "/openapi.json"}
    assert api_paths == set(spec)


def _references(name: str, text: str) -> list[str]:
    if name.endswith(".html"):
        return re.findall(r'(?:src|href)="([^"]+)"', text)
    if name.endswith(".js"):
        return re.findall(r"""^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'""", text, re.M) + \
            re.findall(r"""^import\s+'([^']+)'""", text, re.M)
    return re.findall(r"url\(([^)]+)\)", text)


def test_every_reference_between_files_resolves_to_a_served_file():
    assets = explorer.load_assets()
    assert {"index.html", "app.js", "style.css", "favicon.svg"} <= set(assets)
    for name, asset in assets.items():
        for ref in _references(name, asset.body.decode()):
            if ref in ("/", "/openapi.json"):  # the home page and the API description
                continue
            if ref.startswith("/explorer/"):
                target = ref.removeprefix("/explorer/")
            else:
                assert ref.startswith("."), f"{name}: {ref} is neither local nor relative"
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), ref))
            assert target in assets, f"{name} refers to {ref}, which is not served"


def test_no_file_loads_anything_from_another_host():
    for name, asset in explorer.load_assets().items():
        text = asset.body.decode()
        # The SVG namespace is an identifier, never fetched.
        text = text.replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name


def test_every_static_file_is_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["node.api.explorer"]
    package_dir = explorer.STATIC_DIR.parent
    files = [p.relative_to(package_dir).as_posix() for p in explorer.STATIC_DIR.rglob("*")
             if p.is_file()]
    assert files
    for f in files:
        assert any(fnmatch(f, g) and f.count("/") == g.count("/") for g in globs), \
            f"{f} would be missing from an installed node"
