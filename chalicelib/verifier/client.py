"""A small HTTP client for the public read API (standard library only)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

PAGE = 1000


class ApiError(Exception):
    """The API could not be read, or answered with an error."""


class LedgerApi:
    def __init__(self, base_url: str, timeout: float = 30.0, attempts: int = 4):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        delay = 0.2
        for attempt in range(self.attempts):
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as response:
                    return dict(json.loads(response.read()))
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == self.attempts - 1:
                    raise ApiError(f"GET {path} answered {exc.code}: {_error_text(exc)}") from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.attempts - 1:
                    raise ApiError(f"GET {path} failed: {exc}") from exc
            except ValueError as exc:
                raise ApiError(f"GET {path} did not answer JSON") from exc
            time.sleep(delay)
            delay *= 2
        raise ApiError(f"GET {path} failed")  # pragma: no cover - the loop always returns or raises

    def head(self) -> dict[str, Any]:
        return self.get("/chain/head")

    def block(self, height: int) -> dict[str, Any]:
        """Block ``height`` with every entry, following the pages."""
        first = self.get(f"/blocks/{height}", limit=PAGE)
        entries = list(first["entries"])
        cursor = first.get("next")
        while cursor:
            page = self.get(f"/blocks/{height}", limit=PAGE, cursor=cursor)
            entries.extend(page["entries"])
            cursor = page.get("next")
        return {"header": first["header"], "hash": first["hash"], "sig": first["sig"], "entries": entries}

    def blocks(self, start: int, stop: int, ahead: int = 4) -> Iterator[dict[str, Any]]:
        """Blocks ``start`` to ``stop - 1`` in order, fetched ``ahead`` at a time in parallel."""
        with ThreadPoolExecutor(max_workers=ahead) as pool:
            queue: list[Future[dict[str, Any]]] = []
            following = start
            while following < stop or queue:
                while following < stop and len(queue) < ahead * 2:
                    queue.append(pool.submit(self.block, following))
                    following += 1
                yield queue.pop(0).result()


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return f"{body['error']['code']}: {body['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return exc.reason if isinstance(exc.reason, str) else "error"
