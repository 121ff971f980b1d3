"""The entries' Ed25519 ``auth`` signatures verified ahead of the verifier, by worker processes on other cores.

Verifying a signed entry is mostly its Ed25519 signature. pyca/cryptography
releases the GIL during a verification, but a thread verifying beside the
verifier's own (pure Python) checks waits for the GIL between signatures, so
threads gain nothing there (measured: README, "Benchmarks"). Worker processes
do gain on long chains: ``SignaturesAhead`` reads blocks a window ahead of the
verifier, sends the (key, signature, signature base) of every ``auth`` whose
key it can name to a process pool, and hands each block on with the set of
those found valid.

That set can only spare work, never accept anything: ``verify_block`` still
applies every rule of LEDGER.md to every entry, and looks a signature up in
the set only under the key the ledger gives the entry's ``auth.kid`` at that
entry; anything not in the set (a key registered in a block not read yet, a
signature found invalid, a worker that failed) is verified inline as before.
Workers import nothing but ``cryptography``; they start with ``spawn``, so no
lock held by the fetching threads is inherited.
"""

from __future__ import annotations

import base64
import binascii
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

Triple = tuple[str, str, str]  # (JWK x, auth.sig, auth.base)

# Below this many entries to verify, starting processes costs more than it saves (measured; README).
MIN_ENTRIES = 4000
BATCH = 512  # signatures per job
MAX_BLOCKS = 256  # blocks per job at most (many small blocks)


def check(batch: list[Triple]) -> list[bool]:
    """In a worker: which of ``batch`` are valid Ed25519 signatures (as ``keys.signature_valid`` decides)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys: dict[str, Ed25519PublicKey | None] = {}
    found = []
    for x, sig, base in batch:
        valid = False
        try:
            if x not in keys:
                raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
                keys[x] = Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else None
            key = keys[x]
            signature = base64.b64decode(sig, validate=True)
            if key is not None and len(signature) == 64:
                key.verify(signature, base.encode("utf-8"))
                valid = True
        except (InvalidSignature, ValueError, binascii.Error, TypeError, UnicodeEncodeError):
            valid = False
        found.append(valid)
    return found


def _warm() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: F401


def default_workers() -> int:
    """One worker per core but the verifier's own, at most four."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


class Pool:
    """A lazily started process pool for signature batches; any failure disables it (work stays inline)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self.broken = workers <= 0

    def start(self) -> None:
        if self._executor is None and not self.broken:
            try:
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
                for _ in range(self.workers):
                    self._executor.submit(_warm)
            except (OSError, RuntimeError, ValueError):
                self.broken = True

    def submit(self, batch: list[Triple]) -> Future[list[bool]] | None:
        self.start()
        if self._executor is None or self.broken:
            return None
        try:
            return self._executor.submit(check, batch)
        except (RuntimeError, OSError):  # a broken pool
            self.broken = True
            return None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _hints(block: Any, hints: dict[str, str]) -> None:
    """Remember the x of every key a block's entries register (a hint only: the ledger decides)."""
    for entry in block.get("entries", ()) if isinstance(block, dict) else ():
        data = entry.get("data") if isinstance(entry, dict) else None
        jwk = data.get("jwk") if isinstance(data, dict) else None
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and isinstance(jwk.get("x"), str):
            hints.setdefault(jwk["kid"], jwk["x"])


def _triples(block: Any, key_of: Callable[[str], str | None], hints: dict[str, str]) -> list[Triple]:
    found = []
    for entry in block.get("entries", ()) if isinstance(block, dict) else ():
        auth = entry.get("auth") if isinstance(entry, dict) else None
        if not isinstance(auth, dict):
            continue
        kid, sig, base = auth.get("kid"), auth.get("sig"), auth.get("base")
        if not (isinstance(kid, str) and isinstance(sig, str) and isinstance(base, str)):
            continue
        x = hints.get(kid) or key_of(kid)
        if x is not None:
            found.append((x, sig, base))
    return found


class SignaturesAhead:
    """``(block, verified)`` for each block of ``blocks``, its signatures checked ahead by ``pool``.

    Blocks are read up to ``depth`` jobs ahead (each job: up to ``BATCH``
    signatures or ``MAX_BLOCKS`` blocks), so that the workers stay ahead of the
    verifier; but beyond the block the verifier needs next, only blocks that
    ``blocks.ready()`` says are already fetched are read, so a block that is
    slow to come (or never comes) never holds up the verification of those
    before it, and a failure to read one is raised only when the verifier
    reaches it. ``key_of(kid)`` names a key's x from what is verified so far.
    """

    def __init__(self, blocks: Iterable[Any], key_of: Callable[[str], str | None], pool: Pool, depth: int = 4):
        self._blocks = iter(blocks)
        ready = getattr(blocks, "ready", None)
        self._available: Callable[[], bool] = ready if callable(ready) else (lambda: True)
        self._key_of = key_of
        self._pool = pool
        self._depth = max(1, depth)
        self._hints: dict[str, str] = {}
        self._jobs: deque[tuple[list[Any], list[Triple], Future[list[bool]] | None]] = deque()
        self._ready: deque[Any] = deque()
        self._verified: set[Triple] = set()
        self._done = False
        self._error: BaseException | None = None  # raised once the blocks read before it are handed on

    def __iter__(self) -> Iterator[tuple[Any, set[Triple]]]:
        return self

    def _read_job(self, wait: bool) -> None:
        """Read the blocks of one more job and submit it (the first block waited for only if ``wait``)."""
        blocks: list[Any] = []
        triples: list[Triple] = []
        while not self._done and len(triples) < BATCH and len(blocks) < MAX_BLOCKS:
            if not (wait and not blocks) and not self._available():
                break
            try:
                block = next(self._blocks)
            except StopIteration:
                self._done = True
                break
            except Exception as exc:  # handed on after the blocks before it
                self._done, self._error = True, exc
                break
            blocks.append(block)
            _hints(block, self._hints)
            triples.extend(_triples(block, self._key_of, self._hints))
        if blocks:
            future = self._pool.submit(triples) if triples else None
            self._jobs.append((blocks, triples, future))

    def __next__(self) -> tuple[Any, set[Triple]]:
        if not self._ready:
            if not self._jobs:
                self._read_job(wait=True)
            while not self._done and len(self._jobs) < self._depth and self._available():
                self._read_job(wait=False)
            if not self._jobs:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopIteration
            blocks, triples, future = self._jobs.popleft()
            self._verified = set()
            if future is not None:
                try:
                    self._verified = {t for t, ok in zip(triples, future.result(), strict=True) if ok}
                except Exception:  # a failed worker: verify inline
                    self._pool.broken = True
            self._ready.extend(blocks)
        return self._ready.popleft(), self._verified

    def close(self) -> None:
        for _, _, future in self._jobs:
            if future is not None:
                future.cancel()
        self._jobs.clear()
        self._pool.close()
