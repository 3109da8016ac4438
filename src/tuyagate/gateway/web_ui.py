"""The dashboard's files: the page at ``/`` for browsers and its assets under ``/ui/``.

The assets are built by ``dashboard/build.sh`` from the TypeScript in ``dashboard/src`` (npm packages
pinned in ``dashboard/package-lock.json``) into ``tuyagate/gateway/dashboard/``, and shipped in the
package: nothing is fetched from another origin, so the page works on a LAN without internet. Every
asset name carries a hash of its content, so it is cached for a year; the page itself is never cached.
Each asset is gzipped once, on first request, and sent compressed to browsers that accept it. The
page's Content-Security-Policy allows scripts, styles and connections to this origin only.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["ASSETS_DIR", "Asset", "assets", "page", "routes", "wants_html"]

ASSETS_DIR = Path(__file__).resolve().parent / "dashboard"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HASHED = re.compile(r"-[A-Za-z0-9]{8}\.\w+$")  # esbuild's [name]-[hash] file names
_SECURITY = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    media_type: str
    etag: str

    @property
    def gzipped(self) -> bytes:
        return _gzip(self.body)


@cache
def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=9, mtime=0)


@cache
def assets() -> dict[str, Asset]:
    """The built assets by file name (read once; a missing build is an empty dashboard, said on the page)."""
    found: dict[str, Asset] = {}
    if ASSETS_DIR.is_dir():
        for path in sorted(ASSETS_DIR.iterdir()):
            kind = _TYPES.get(path.suffix)
            if path.is_file() and kind is not None:
                body = path.read_bytes()
                found[path.name] = Asset(path.name, body, kind, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
    return found


def wants_html(request: Request) -> bool:
    """A browser navigating here (``Accept: text/html...``), not an API client (``*/*``, JSON)."""
    return "text/html" in request.headers.get("accept", "")


def _send(asset: Asset, request: Request, cache_control: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding", **_SECURITY}
    if extra:
        headers.update(extra)
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "") and len(asset.body) > 1024:
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def page(request: Request) -> Response:
    """The dashboard page (``index.html``), never cached so a new build is picked up at once."""
    index = assets().get("index.html")
    if index is None:
        message = "the dashboard is not built: run dashboard/build.sh (the API is at /api/v1, the explorer at /docs)"
        body = json.dumps({"error": {"code": "not_built", "message": message}}).encode()
        return Response(body, status_code=503, media_type="application/json")
    return _send(index, request, "no-cache", {"Content-Security-Policy": CSP})


async def _asset(request: Request) -> Response:
    asset = assets().get(request.path_params["name"])
    if asset is None or asset.name == "index.html":
        body = b'{"error":{"code":"not_found","message":"no such dashboard file"}}'
        return Response(body, status_code=404, media_type="application/json")
    # Hashed names (app-1a2b3c4d.js) never change content; the others are revalidated.
    immutable = _HASHED.search(asset.name) is not None
    return _send(asset, request, "public, max-age=31536000, immutable" if immutable else "no-cache")


async def _page(request: Request) -> Response:
    return page(request)


def routes() -> list[Route]:
    """``/ui/{name}`` (the assets) and ``/dashboard`` (the page, whatever the Accept header says)."""
    return [
        Route("/ui/{name}", _asset, methods=["GET", "HEAD"], include_in_schema=False),
        Route("/dashboard", _page, methods=["GET", "HEAD"], include_in_schema=False),
    ]
