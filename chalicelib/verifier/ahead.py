"""The entries' Ed25519 ``auth`` signatures verified together on the machine's cores, block by block.

Verifying a signed entry is mostly its Ed25519 signature, and pyca/cryptography
releases the GIL while it verifies one. So ``SignaturesAhead`` takes the next
blocks (as many as are already fetched, up to ``BATCH`` signatures), has a few
threads verify the (key, signature, signature base) of every ``auth`` whose
key it can name, and hands the blocks on with the set of those found valid.
The verifier waits while the threads work: a thread verifying beside the
verifier's own pure-Python checks would wait for the GIL between signatures
(a convoy), and worker processes pay their start and the copying of every
signature base (measured: README, "Benchmarks").

The set can only spare work, never accept anything: ``verify_block`` still
applies every rule of LEDGER.md to every entry, and looks a signature up in
the set only under the key the ledger gives the entry's ``auth.kid`` at that
entry; anything not in the set (a key registered in a block not read yet, a
signature found invalid) is verified inline as before.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Triple = tuple[str, str, str]  # (JWK x, auth.sig, auth.base)

BATCH = 1024  # signatures verified together at most
MAX_BLOCKS = 256  # blocks handed on together at most (many small blocks)
MIN_SPLIT = 16  # fewer signatures than this are verified by one thread


def check(batch: list[Triple]) -> list[bool]:
    """Which of ``batch`` are valid Ed25519 signatures, as ``keys.signature_valid`` decides (run in a thread)."""
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


def default_threads() -> int:
    """One thread per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


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
    """``(block, verified)`` for each block of ``blocks``, its signatures checked together by ``threads`` threads.

    Beyond the block the verifier needs next, only blocks that
    ``blocks.ready()`` says are already fetched are taken, so a block that is
    slow to come (or never comes) never holds up the verification of those
    before it, and a failure to read one is raised only when the verifier
    reaches it. ``key_of(kid)`` names a key's x from what is verified so far.
    """

    def __init__(self, blocks: Iterable[Any], key_of: Callable[[str], str | None], threads: int):
        self._blocks = iter(blocks)
        ready = getattr(blocks, "ready", None)
        self._available: Callable[[], bool] = ready if callable(ready) else (lambda: True)
        self._key_of = key_of
        self._threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None
        self._hints: dict[str, str] = {}
        self._ready: deque[Any] = deque()
        self._verified: set[Triple] = set()
        self._done = False
        self._error: BaseException | None = None  # raised once the blocks read before it are handed on

    def __iter__(self) -> Iterator[tuple[Any, set[Triple]]]:
        return self

    def _take(self) -> tuple[list[Any], list[Triple]]:
        """The next blocks (the first waited for, the others only if fetched) and their signatures."""
        blocks: list[Any] = []
        triples: list[Triple] = []
        while not self._done and len(triples) < BATCH and len(blocks) < MAX_BLOCKS:
            if blocks and not self._available():
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
        return blocks, triples

    def _check(self, triples: list[Triple]) -> set[Triple]:
        if self._threads == 1 or len(triples) < MIN_SPLIT:
            found = check(triples)
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="covenant-verify-sig")
            size = -(-len(triples) // self._threads)
            parts = [triples[i:i + size] for i in range(0, len(triples), size)]
            found = [ok for part in self._executor.map(check, parts) for ok in part]
        return {t for t, ok in zip(triples, found, strict=True) if ok}

    def __next__(self) -> tuple[Any, set[Triple]]:
        if not self._ready:
            blocks, triples = self._take()
            if not blocks:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopIteration
            self._verified = self._check(triples) if triples else set()
            self._ready.extend(blocks)
        return self._ready.popleft(), self._verified

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
