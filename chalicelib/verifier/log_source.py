"""A sub-chain's view of the log over its public HTTP API: blocks, checkpoints, and sending cosignatures.

Operator sub-chains on AWS and a consumer's own sub-chain both read the log
through this, never through the log's tables: what they verify is what
anyone can fetch.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import ssl
import time
from typing import Any

from ..errors import BlockUnavailable, CosignatureRefused
from .client import ApiError, LedgerApi

# The log's answers that refuse a cosignature for good: sending it again changes nothing.
PERMANENT = frozenset({"cosigner_unknown", "cosigner_retired", "cosignature_invalid", "checkpoint_unknown",
                       "invalid_body", "invalid_parameter"})


class HttpLog:
    """``LogSource`` over ``GET /blocks/{h}``, ``GET /blocks/{h}/checkpoint`` and
    ``POST /checkpoints/{size}/cosignatures``."""

    def __init__(self, base_url: str, api: LedgerApi | None = None, timeout: float = 10.0, attempts: int = 3):
        self.api = api or LedgerApi(base_url)
        self.base_url = self.api.base_url
        self.timeout = timeout
        self.attempts = attempts

    def head_height(self) -> int:
        header = self.api.head().get("header")
        height = header.get("height") if isinstance(header, dict) else None
        if type(height) is not int:
            raise ApiError("GET /chain/head has no header height")
        return height

    def block(self, height: int) -> dict[str, Any] | None:
        try:
            return self.api.block(height)
        except ApiError as exc:
            if " 404" in str(exc) or "answered 404" in str(exc):
                return None
            raise BlockUnavailable(f"block {height} could not be read: {exc}") from exc

    def checkpoint(self, height: int) -> str | None:
        try:
            text = self.api.checkpoint(height)
        except ApiError as exc:
            raise BlockUnavailable(f"the checkpoint of block {height} could not be read: {exc}") from exc
        return None if text is None else text.decode("utf-8", "replace")

    def submit(self, size: int, line: str) -> None:
        body = json.dumps({"cosignature": line.rstrip("\n")}).encode("utf-8")
        status, answer = self._post(f"/checkpoints/{size}/cosignatures", body)
        if status in (200, 201):
            return
        code = ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            code = str(json.loads(answer)["error"]["code"])
        if 400 <= status < 500 and (code in PERMANENT or status in (400, 404, 409)):
            raise CosignatureRefused(f"the log refused the cosignature of {size} entries: {status} {code}",
                                     code=code or None)
        raise BlockUnavailable(f"the log did not take the cosignature of {size} entries: {status} {code}")

    def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        from urllib.parse import urlsplit

        parts = urlsplit(self.base_url)
        target = parts.path.rstrip("/") + path
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(0.2 * 2 ** attempt)
            connection: http.client.HTTPConnection = (
                http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=self.timeout,
                                            context=ssl.create_default_context())
                if parts.scheme == "https" else
                http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout))
            try:
                connection.request("POST", target, body=body, headers={
                    "Content-Type": "application/json", "Accept": "application/json",
                    "User-Agent": "covenant-subchain"})
                response = connection.getresponse()
                answer = response.read(65_536)
                if response.status < 500:
                    return response.status, answer
                last = f"{response.status}"
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            finally:
                connection.close()
        raise BlockUnavailable(f"POST {path} failed after {self.attempts} attempts: {last}")
