"""A small, bounded HTTP client for the public read API (standard library only).

The server is not trusted to behave, so every read is bounded:

- a total deadline per response (``timeout``): a watchdog shuts the socket
  when it passes, so a server that drips one byte every few seconds, in its
  headers or its body, is cut off;
- a size cap per response (``max_bytes``), checked while reading;
- JSON that is not UTF-8, uses ``NaN``/``Infinity`` or nests deeper than
  ``MAX_JSON_DEPTH`` levels is refused (never a ``RecursionError``);
- a block's pages must advance: a cursor may not repeat, a page after the
  first must add entries, every page carries the first page's header, and no
  page is fetched once the entries exceed the header's ``count`` (a block
  whose pages do not add up to ``count`` then fails verification);
- prefetching threads are daemons, and ``BlockStream.close`` stops them and
  shuts their sockets, so nothing keeps the process alive after a failure.

Everything the server could get wrong here raises ``ApiError``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote, urlencode, urlsplit

from ..ledger.note import MAX_NOTE_BYTES
from ..ledger.tiles import MAX_BUNDLE_ENTRY, WIDTH, TileError, TileRef, unbundle

PAGE = 1000
MAX_BUNDLE_BYTES = WIDTH * (2 + MAX_BUNDLE_ENTRY)  # 256 entries of at most 65,535 bytes, each after its length
T = TypeVar("T")
MAX_JSON_DEPTH = 128
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_MAX_CURSOR = 1024


class ApiError(Exception):
    """The API could not be read, or answered something that is not an answer."""


class _Transient(Exception):
    """A failure worth one more attempt (connection refused or reset, a 5xx)."""


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT  # seconds for one whole response
    max_bytes: int = DEFAULT_MAX_BYTES  # bytes of one response body
    attempts: int = 3  # tries on connection failures and 5xx answers


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(data: bytes | str, what: str) -> Any:
    """Strict, bounded JSON: UTF-8, no NaN or Infinity, at most MAX_JSON_DEPTH levels; else ApiError."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(f"{what} is not UTF-8") from exc
    except RecursionError as exc:
        raise ApiError(f"{what} is JSON nested too deeply to read") from exc
    except ValueError as exc:
        raise ApiError(f"{what} is not JSON ({str(exc)[:200]})") from exc
    if _too_deep(value, MAX_JSON_DEPTH):
        raise ApiError(f"{what} is JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return value


class LedgerApi:
    def __init__(self, base_url: str, limits: Limits | None = None, page: int = PAGE):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--api must be an http:// or https:// URL, not {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError("--api must not carry a query or a fragment")
        self.base_url = base_url.rstrip("/")
        self.limits = limits or Limits()
        self.page = page
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._closed = False
        self._live: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def clone(self) -> LedgerApi:
        """The same API with connections of its own (for prefetching threads)."""
        return LedgerApi(self.base_url, self.limits, self.page)

    def close(self) -> None:
        """Refuse further requests and shut every connection still open."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for connection in live:
            _shut(connection)

    # --- one request

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET ``path`` and return its JSON object; ApiError on anything else."""
        body = self.read(path, **params)
        assert body is not None
        value = parse_json(body, f"GET {path}")
        if not isinstance(value, dict):
            raise ApiError(f"GET {path} did not answer a JSON object")
        return value

    def read(self, path: str, accept: str = "application/json", cap: int | None = None, missing: bool = False,
             **params: Any) -> bytes | None:
        """The body of a 200 answer to GET ``path`` (at most ``cap`` bytes, and never more than ``max_bytes``).

        With ``missing``, a 404 answers None (a route or object the API does
        not serve); any other answer but 200 raises ApiError, after retrying
        connection failures and 5xx answers.
        """
        target = self._prefix + path + ("?" + urlencode(params) if params else "")
        cap = self.limits.max_bytes if cap is None else min(cap, self.limits.max_bytes)
        delay = 0.2
        last: Exception | None = None
        for attempt in range(max(1, self.limits.attempts)):
            if attempt:
                time.sleep(delay)
                delay *= 2
            try:
                status, body = self._once(path, target, accept, cap)
            except _Transient as exc:
                last = exc
                continue
            if status == 200:
                return body
            if status == 404 and missing:
                return None
            if status >= 500:
                last = ApiError(f"GET {path} answered {status}: {_error_text(body)}")
                continue
            if 300 <= status < 400:
                raise ApiError(f"GET {path} answered {status}: redirects are not followed")
            raise ApiError(f"GET {path} answered {status}: {_error_text(body)}")
        raise ApiError(f"GET {path} failed after {max(1, self.limits.attempts)} attempts: {last}")

    def _connection(self) -> http.client.HTTPConnection:
        timeout = self.limits.timeout
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _once(self, path: str, target: str, accept: str, cap: int) -> tuple[int, bytes]:
        timeout = self.limits.timeout
        connection = self._connection()
        with self._lock:
            if self._closed:
                raise ApiError("the reader was stopped")
            self._live.add(connection)
        expired = threading.Event()

        def watchdog() -> None:
            expired.set()
            _shut(connection)

        timer = threading.Timer(timeout, watchdog)
        timer.daemon = True
        deadline = time.monotonic() + timeout
        timer.start()
        try:
            connection.request("GET", target, headers={"Accept": accept, "User-Agent": "covenant-verify"})
            response = connection.getresponse()
            length = response.getheader("Content-Length")
            if length is not None and length.strip().isdigit() and int(length) > cap:
                raise ApiError(f"GET {path}: the answer is {int(length):,} bytes, more than the cap of {cap:,}")
            chunks: list[bytes] = []
            total = 0
            while True:
                if time.monotonic() >= deadline:
                    expired.set()
                    raise ApiError(f"GET {path}: no complete answer within {timeout:g} s")
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise ApiError(f"GET {path}: the answer exceeds the cap of {cap:,} bytes")
                chunks.append(chunk)
            if expired.is_set():
                raise ApiError(f"GET {path}: no complete answer within {timeout:g} s")
            return response.status, b"".join(chunks)
        except ApiError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if expired.is_set() or time.monotonic() >= deadline:
                raise ApiError(f"GET {path}: no complete answer within {timeout:g} s") from exc
            if self._closed:
                raise ApiError("the reader was stopped") from exc
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        finally:
            timer.cancel()
            connection.close()
            with self._lock:
                self._live.discard(connection)

    # --- the calls of LEDGER.md

    def head(self) -> dict[str, Any]:
        return self.get("/chain/head")

    def entry(self, entry_id: str) -> dict[str, Any]:
        return self.get(f"/entries/{quote(entry_id, safe='')}")

    def block(self, height: int) -> dict[str, Any]:
        """Block ``height`` with every entry, following its pages under the bounds above."""
        where = f"block {height}"
        first = self.get(f"/blocks/{height}", limit=self.page)
        header = first.get("header")
        entries = first.get("entries")
        if not isinstance(entries, list):
            raise ApiError(f"{where}: entries is not a list")
        entries = list(entries)
        count = header.get("count") if isinstance(header, dict) else None
        cursor = first.get("next")
        seen: set[str] = set()
        # A header without a usable count cannot be paged; verification refuses it.
        while cursor is not None and type(count) is int and len(entries) <= count:
            if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR:
                raise ApiError(f"{where}: next is not a cursor")
            if cursor in seen:
                raise ApiError(f"{where}: the paging cursor {cursor[:40]!r} repeats (the pages loop)")
            seen.add(cursor)
            page = self.get(f"/blocks/{height}", limit=self.page, cursor=cursor)
            if (page.get("header"), page.get("hash"), page.get("sig")) != (header, first.get("hash"),
                                                                           first.get("sig")):
                raise ApiError(f"{where}: its pages disagree on the block's header, hash or signature")
            more = page.get("entries")
            if not isinstance(more, list):
                raise ApiError(f"{where}: entries is not a list")
            if not more:
                raise ApiError(f"{where}: the page at cursor {cursor[:40]!r} adds no entries (the cursor does "
                               "not advance)")
            entries.extend(more)
            cursor = page.get("next")
        return {"header": header, "hash": first.get("hash"), "sig": first.get("sig"), "entries": entries}

    def blocks(self, start: int, stop: int, ahead: int = 4) -> BlockStream:
        return BlockStream(self, start, stop, ahead)

    # --- the calls added with checkpoints and tiles

    def checkpoint(self, height: int | None = None) -> bytes | None:
        """The signed checkpoint note of ``/checkpoint`` (or of block ``height``); None if the API serves none."""
        path = "/checkpoint" if height is None else f"/blocks/{height}/checkpoint"
        return self.read(path, accept="text/plain", cap=MAX_NOTE_BYTES, missing=True)

    def bundle(self, n: int, width: int) -> list[bytes] | None:
        """The first ``width`` entries (JCS bytes) of entry bundle ``n``; None if the API serves it in no form.

        A partial bundle is asked for first, then the full one (C2SP
        tlog-tiles: a partial tile may be gone once the tile is full). A bundle
        that does not hold exactly the entries its path names is refused.
        """
        wanted = TileRef(None, n, width)
        for ref in [wanted] if wanted.full else [wanted, TileRef(None, n)]:
            data = self.read("/" + ref.path, accept="application/octet-stream", cap=MAX_BUNDLE_BYTES, missing=True)
            if data is None:
                continue
            try:
                entries = unbundle(data)
            except TileError as exc:
                raise ApiError(f"GET /{ref.path}: {exc}") from exc
            if len(entries) != ref.width:
                raise ApiError(f"GET /{ref.path}: the bundle holds {len(entries)} entries, not {ref.width}")
            return entries[:width]
        return None

    def tiles(self, start: int, stop: int, first: int, size: int, ahead: int = 4,
              first_bundle: list[bytes] | None = None) -> TileBlockStream:
        return TileBlockStream(self, start, stop, first, size, ahead, first_bundle)


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _error_text(body: bytes) -> str:
    try:
        value = json.loads(body[:65536].decode("utf-8"))
        return f"{value['error']['code']}: {value['error']['message']}"[:300]
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeDecodeError):
        return "error"


class Prefetch(Generic[T]):
    """``fetch(api, n)`` for n from ``start`` to ``stop - 1``, in order, fetched ``ahead`` at a time by daemon threads.

    ``close()`` (or leaving a ``with`` block) stops the threads and shuts their
    sockets at once: a failure never waits for what is being prefetched. At most
    ``2 * ahead`` results wait for the reader, so memory stays bounded.
    """

    def __init__(self, api: LedgerApi, start: int, stop: int, fetch: Callable[[LedgerApi, int], T], ahead: int = 4):
        self._api = api.clone()
        self._fetch = fetch
        self._condition = threading.Condition()
        self._results: dict[int, tuple[T | None, BaseException | None]] = {}
        self._following = start  # the next number a thread takes
        self._wanted = start  # the next number the reader takes
        self._stop = stop
        self._window = max(1, ahead) * 2
        self._closed = False
        for number in range(min(max(1, ahead), max(0, stop - start))):
            threading.Thread(target=self._work, name=f"covenant-verify-fetch-{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._condition:
                while (not self._closed and self._following < self._stop
                       and self._following >= self._wanted + self._window):
                    self._condition.wait()
                if self._closed or self._following >= self._stop:
                    return
                number = self._following
                self._following += 1
            try:
                result: tuple[T | None, BaseException | None] = (self._fetch(self._api, number), None)
            except BaseException as exc:  # handed to the reader, raised there
                result = (None, exc)
            with self._condition:
                self._results[number] = result
                self._condition.notify_all()

    def __iter__(self) -> Iterator[T]:
        return self

    def ready(self) -> bool:
        """Whether ``next`` would answer at once (the next result is fetched, or there is none)."""
        with self._condition:
            return self._closed or self._wanted >= self._stop or self._wanted in self._results

    def __next__(self) -> T:
        with self._condition:
            if self._closed or self._wanted >= self._stop:
                raise StopIteration
            while self._wanted not in self._results:
                self._condition.wait()
            value, error = self._results.pop(self._wanted)
            self._wanted += 1
            self._condition.notify_all()
        if error is not None:
            raise error
        return cast(T, value)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._results.clear()
            self._condition.notify_all()
        self._api.close()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class BlockStream(Prefetch[dict[str, Any]]):
    """Blocks ``start`` to ``stop - 1`` in order, every entry through the JSON pages of ``GET /blocks/{h}``."""

    def __init__(self, api: LedgerApi, start: int, stop: int, ahead: int = 4):
        super().__init__(api, start, stop, LedgerApi.block, ahead)

    def raw_for(self, block: dict[str, Any]) -> list[bytes] | None:
        return None  # JSON pages carry no entry bytes


class TileBlockStream:
    """Blocks ``start`` to ``stop - 1`` in order: headers from ``GET /blocks/{h}?limit=1``, entries from bundles.

    ``first`` is the log index of block ``start``'s first entry and ``size``
    the log size at block ``stop - 1`` (the API's head): no entry at or beyond
    ``size`` is ever read, whatever a header's ``count`` says. A block's entries
    are parsed from the bundles' bytes, which ``raw`` keeps for the block last
    returned (``raw_for``), so that the caller can check they are the entries' JCS. Bundles
    the API no longer serves (a partial one that a newer checkpoint replaced)
    are read as JSON pages instead.
    """

    def __init__(self, api: LedgerApi, start: int, stop: int, first: int, size: int, ahead: int = 4,
                 first_bundle: list[bytes] | None = None):
        self._api = api
        self._size = size
        self._position = first  # the log index of the next block's first entry
        self._height = start
        self._bundle_start = first - first % WIDTH  # the log index of buffer[0]
        self._buffer: list[bytes] = []
        self._unbundled = False  # the bundles ran out: JSON pages from here on
        self._raw: dict[int, list[bytes]] = {}  # id(block) -> its entries' bytes, until the caller takes them
        bundles = range(first // WIDTH, -(-size // WIDTH))
        self._headers: Prefetch[dict[str, Any]] = Prefetch(api, start, stop, _header_page, ahead)
        skip = 1 if first_bundle is not None else 0
        self._bundles: Prefetch[list[bytes] | None] = Prefetch(
            api, bundles.start + skip, bundles.stop, lambda a, n: a.bundle(n, _width(n, size)), max(1, ahead // 2))
        if first_bundle is not None:
            self._buffer = list(first_bundle)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        page = next(self._headers)
        height = self._height
        self._height += 1
        header = page.get("header")
        count = header.get("count") if isinstance(header, dict) else None
        count = count if type(count) is int and count >= 0 else 0
        # Never beyond the head's size: a lying count gets what there is, and fails verification.
        stop = min(self._position + count, self._size)
        entries: list[Any] = []
        raw: list[bytes] | None = None
        if not self._unbundled:
            raw = self._take(stop)
        if raw is None:
            self._unbundled = True
            block = self._api.block(height)
            entries = block["entries"]
            if (block["header"], block["hash"], block["sig"]) != (header, page.get("hash"), page.get("sig")):
                raise ApiError(f"block {height}: its pages disagree on the block's header, hash or signature")
        else:
            entries = [_entry_of(data) for data in raw]
        self._position += count
        block = {"header": header, "hash": page.get("hash"), "sig": page.get("sig"), "entries": entries}
        if raw is not None:
            self._raw[id(block)] = raw
        return block

    def ready(self) -> bool:
        """Whether the next block's header and the next bundle are fetched (so ``next`` would not wait long)."""
        return self._headers.ready() and (self._unbundled or self._bundles.ready())

    def raw_for(self, block: dict[str, Any]) -> list[bytes] | None:
        """The bundle bytes of a block this stream returned (once; None if it came from JSON pages)."""
        return self._raw.pop(id(block), None)

    def _take(self, stop: int) -> list[bytes] | None:
        """The bytes of entries ``position`` to ``stop - 1`` from the bundles; None once a bundle is not served."""
        while self._bundle_start + len(self._buffer) < stop:
            try:
                more = next(self._bundles)
            except StopIteration:
                raise ApiError(f"the entry bundles end before log index {stop}") from None
            if more is None:
                return None
            self._buffer.extend(more)
        skip = self._position - self._bundle_start
        taken = self._buffer[skip:stop - self._bundle_start]
        # Drop what no later block needs (whole bundles only, so that indices stay simple).
        done = (stop - self._bundle_start) // WIDTH * WIDTH
        if done:
            del self._buffer[:done]
            self._bundle_start += done
        return taken

    def close(self) -> None:
        self._headers.close()
        self._bundles.close()
        self._api.close() if False else None

    def __enter__(self) -> TileBlockStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class NotJson:
    """A bundle entry whose bytes are not a JSON object: verification names its index."""

    def __init__(self, reason: str):
        self.reason = reason


def _entry_of(data: bytes) -> Any:
    try:
        return parse_json(data, "an entry of an entry bundle")
    except ApiError as exc:
        return NotJson(str(exc))


def _header_page(api: LedgerApi, height: int) -> dict[str, Any]:
    return api.get(f"/blocks/{height}", limit=1)


def _width(n: int, size: int) -> int:
    return min(WIDTH, size - n * WIDTH)
