"""The ledger explorer: a static page the API serves itself (``chalicelib/explorer/static``).

Only the files in that folder are served, by a name found in its listing, so
no name reaches anything else; the page runs under a strict Content-Security-
Policy (its own scripts and styles only, and it talks to this API alone).
"""

from __future__ import annotations

from pathlib import Path

from chalice.app import Blueprint, Response

from ..errors import NotFound
from .routing import route

STATIC = Path(__file__).resolve().parent.parent / "explorer" / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
          "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# The page checks what it shows each time, so a browser revalidates it rather than trusting an old copy.
CACHE = "no-cache"

explorer_api = Blueprint(__name__)


def _file(name: str) -> Response:
    path = STATIC / name
    if name not in {p.name for p in STATIC.iterdir() if p.is_file()} or path.suffix not in TYPES:
        raise NotFound(f"the explorer has no file {name!r}", field="name")
    headers: dict[str, str | list[str]] = {
        "Content-Type": TYPES[path.suffix], "Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": CACHE}
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers=headers)


@route(explorer_api, "/", methods=["GET"], content_type=TYPES[".html"], tag="explorer")
def explorer_page() -> Response:
    """The ledger explorer: a page that shows the ledger and checks what it shows in the browser."""
    return _file("index.html")


@route(explorer_api, "/explorer/{name}", methods=["GET"], content_type=", ".join(sorted(set(TYPES.values()))),
       errors=("not_found",), tag="explorer")
def explorer_file(name: str) -> Response:
    """One of the explorer's own files (scripts, style, icon)."""
    return _file(name)
