"""What covenant-verify remembers, per API URL, so that no server can show it two histories.

One SQLite file per URL (standard library only) in the state directory:
``--state-dir``, else ``$XDG_CONFIG_HOME/covenant/verify``, else
``~/.config/covenant/verify`` (a pin is configuration, like ssh's
known_hosts: the state used to live in ``$XDG_STATE_HOME/covenant-verify``,
and a URL's file found there is moved on first use). Its name is the first 32
hex characters of SHA-256 of the normalised URL, ``.sqlite3``. It holds:

- ``meta``: the URL, the pins (the genesis hash and the log's origin, trusted
  on first use or as ``--genesis`` and ``--origin`` gave them, with when they
  were pinned), the last checkpoint verified (tree size, root and the signed
  note), when the URL was last verified, and the verified head's
  ``ChainState`` (height, hash, log size, Merkle frontier, stamp node);
- ``blocks``: for every verified height, its hash, log size and log root
  (inclusion and consistency answers come from here, never from the server);
- ``keys``, ``nonces``, ``ids``: the key records with their owners, the
  SHA-256 of every ``(auth.kid, nonce)`` pair seen and every entry id, so that
  verification can resume at the verified head.

A ``ChainStore`` is also the memory ``verify_block`` reads (``KeyBook``,
``NonceBook``, ``IdBook``); ``MemoryChain`` is the same in memory, for
``--file`` and for tests.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..ledger.verify import BlockOutcome, ChainState, KeyRecord, SignedRequest, nonce_digest

SCHEMA_VERSION = 1
APP = "covenant-verify"


class StateError(Exception):
    """The state file cannot be used (locked by another run, unreadable, for another URL)."""


class BlockRow(NamedTuple):
    hash: str
    log_size: int
    log_root: str


class TreeRow(NamedTuple):
    """A verified tree: its size, its root (hex) and, for a checkpoint, the signed note."""

    size: int
    root: str
    note: str | None = None


class ChainMemory(Protocol):
    """Everything a verifier keeps between blocks."""

    @property
    def state(self) -> ChainState: ...

    def get(self, kid: str) -> KeyRecord | None: ...

    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]: ...

    def __contains__(self, entry_id: object, /) -> bool: ...

    def update(self, ids: Iterable[str], /) -> None: ...

    def remember(self, header: dict[str, Any], outcome: BlockOutcome) -> None: ...

    def block_at(self, height: int) -> BlockRow | None: ...

    def sealer_keys(self) -> list[dict[str, str]]: ...


class MemoryChain:
    """A ChainMemory in memory."""

    def __init__(self) -> None:
        self._state = ChainState.empty()
        self.keys: dict[str, KeyRecord] = {}
        self.pairs: set[SignedRequest] = set()
        self.ids: set[str] = set()
        self.rows: list[BlockRow] = []

    @property
    def state(self) -> ChainState:
        return self._state

    def get(self, kid: str) -> KeyRecord | None:
        return self.keys.get(kid)

    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]:
        return self.pairs.intersection(pairs)

    def __contains__(self, entry_id: object, /) -> bool:
        return entry_id in self.ids

    def update(self, ids: Iterable[str], /) -> None:
        self.ids.update(ids)

    def remember(self, header: dict[str, Any], outcome: BlockOutcome) -> None:
        self.keys.update(outcome.keys)
        self.pairs.update(outcome.nonces)
        state = outcome.state
        self.rows.append(BlockRow(state.hash, state.log_size, state.log_root))
        self._state = state

    def block_at(self, height: int) -> BlockRow | None:
        return self.rows[height] if 0 <= height < len(self.rows) else None

    def sealer_keys(self) -> list[dict[str, str]]:
        return [r.jwk for r in sorted(self.keys.values(), key=lambda r: r.added) if r.sealer and r.registered]


# --- where state lives

def _xdg(variable: str, fallback: Path) -> Path:
    """An XDG base directory: the variable if it holds an absolute path (the spec ignores others), else fallback."""
    value = os.environ.get(variable, "")
    return Path(value) if value and os.path.isabs(value) else fallback


def default_state_dir() -> Path:
    """Where pins and verified heads live by default: the user's configuration directory."""
    return _xdg("XDG_CONFIG_HOME", Path.home() / ".config") / "covenant" / "verify"


def legacy_state_dir() -> Path:
    """Where earlier versions kept them (moved to ``default_state_dir`` on first use)."""
    return _xdg("XDG_STATE_HOME", Path.home() / ".local" / "state") / APP


def move_legacy_state(path: Path, legacy_dir: Path) -> Path | None:
    """Move a URL's state file from ``legacy_dir`` to ``path`` if only the old one exists; the old path if moved."""
    old = legacy_dir / path.name
    if path.exists() or not old.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import shutil

    # A hot journal (a run that was killed) travels with its database.
    for suffix in ("-journal", ""):
        source, target = old.with_name(old.name + suffix), path.with_name(path.name + suffix)
        if not source.exists():
            continue
        try:
            shutil.move(source, target)
        except OSError as exc:
            raise StateError(f"cannot move the state file {source} to {target}: {exc}") from exc
    old.with_name(old.name + ".lock").unlink(missing_ok=True)
    return old


def normalise_url(url: str) -> str:
    """The URL that names a ledger: scheme and host lower-case, default port dropped, no trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--api must be an http:// or https:// URL, not {url!r}")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == {"http": 80, "https": 443}[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


def state_path(state_dir: Path, url: str) -> Path:
    name = sha256(normalise_url(url).encode("utf-8")).hexdigest()[:32]
    return state_dir / f"{name}.sqlite3"


def _record_json(record: KeyRecord) -> str:
    return json.dumps({"jwk": record.jwk, "added": record.added, "revoked": record.revoked,
                       "sealer": record.sealer, "owner": record.owner}, separators=(",", ":"))


def _record_of(text: str) -> KeyRecord:
    value = json.loads(text)
    return KeyRecord(jwk=value["jwk"], added=int(value["added"]), revoked=value["revoked"],
                     sealer=bool(value["sealer"]), owner=str(value["owner"]))


def _state_json(state: ChainState) -> str:
    return json.dumps({"height": state.height, "hash": state.hash, "log_size": state.log_size,
                       "frontier": [node.hex() for node in state.frontier], "stamp_node": state.stamp_node},
                      separators=(",", ":"))


def _state_of(text: str) -> ChainState:
    value = json.loads(text)
    return ChainState(height=int(value["height"]), hash=str(value["hash"]), log_size=int(value["log_size"]),
                      frontier=tuple(bytes.fromhex(node) for node in value["frontier"]),
                      stamp_node=value["stamp_node"])


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, log_size INTEGER NOT NULL,
                                   log_root TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_by_size ON blocks (log_size);
CREATE TABLE IF NOT EXISTS keys (kid TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (digest TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ids (id TEXT PRIMARY KEY) WITHOUT ROWID;
"""


class ChainStore:
    """One URL's state file, open in one transaction until ``commit`` or ``close``."""

    def __init__(self, path: Path, url: str, connection: sqlite3.Connection):
        self.path = path
        self.url = normalise_url(url)
        self._db = connection
        self._closed = False
        self._keys: dict[str, KeyRecord | None] = {}
        self._state = ChainState.empty()
        text = self._meta("chain")
        if text is not None:
            self._state = _state_of(text)

    @classmethod
    def open(cls, path: Path, url: str, create: bool = False) -> ChainStore | None:
        """The state file at ``path`` (None if there is none and ``create`` is False)."""
        if not create and not path.exists():
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            connection = sqlite3.connect(str(path), isolation_level=None, timeout=0.5)
            connection.executescript(_SCHEMA)
            connection.execute("BEGIN IMMEDIATE")
            store = cls(path, url, connection)
            version = store._meta("version")
            if version is None:
                store._set("version", str(SCHEMA_VERSION))
                store._set("api", store.url)
            elif version != str(SCHEMA_VERSION):
                raise StateError(f"{path} is state version {version}; this covenant-verify reads {SCHEMA_VERSION}")
            elif store._meta("api") != store.url:
                raise StateError(f"{path} holds the state of {store._meta('api')}, not {store.url}")
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"cannot use the state file {path}: {exc}") from exc
        return store

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    # --- what was pinned and verified

    @property
    def state(self) -> ChainState:
        return self._state

    @property
    def genesis(self) -> str | None:
        return self._meta("genesis")

    @property
    def origin(self) -> str | None:
        return self._meta("origin")

    def pin_origin(self, origin: str) -> None:
        self._set("origin", origin)
        self._set("origin_ms", str(time.time_ns() // 1_000_000))

    @property
    def checkpoint(self) -> TreeRow | None:
        """The newest checkpoint verified for this URL (by ``checkpoint`` or ``chain``)."""
        text = self._meta("checkpoint")
        if text is None:
            return None
        value = json.loads(text)
        return TreeRow(int(value["size"]), str(value["root"]), value.get("note"))

    def remember_checkpoint(self, tree: TreeRow) -> None:
        self._set("checkpoint", json.dumps({"size": tree.size, "root": tree.root, "note": tree.note},
                                           separators=(",", ":")))
        self._set("checkpoint_ms", str(time.time_ns() // 1_000_000))

    def newest_tree(self) -> TreeRow | None:
        """The largest tree verified for this URL: the last checkpoint or the verified head, whichever is larger."""
        trees = [t for t in (self.checkpoint, TreeRow(self._state.log_size, self._state.log_root)
                             if self._state.height >= 0 else None) if t is not None]
        return max(trees, key=lambda t: t.size) if trees else None

    def adopt_pins(self, other: ChainStore) -> None:
        """Carry ``other``'s origin pin and last checkpoint over (a fresh run's scratch state)."""
        for name in ("origin", "origin_ms", "checkpoint", "checkpoint_ms"):
            value = other._meta(name)
            if value is not None:
                self._set(name, value)

    def block_of_size(self, log_size: int) -> BlockRow | None:
        """The verified block whose log has exactly ``log_size`` entries."""
        row = self._db.execute("SELECT hash, log_size, log_root FROM blocks WHERE log_size = ? ORDER BY height "
                               "LIMIT 1", (log_size,)).fetchone()
        return None if row is None else BlockRow(str(row[0]), int(row[1]), str(row[2]))

    def info(self) -> dict[str, Any]:
        checkpoint = self.checkpoint
        return {"api": self._meta("api"), "genesis": self.genesis, "pinned_ms": self._meta("pinned_ms"),
                "origin": self.origin, "origin_ms": self._meta("origin_ms"),
                "checkpoint": None if checkpoint is None else (checkpoint.size, checkpoint.root),
                "checkpoint_ms": self._meta("checkpoint_ms"),
                "verified_ms": self._meta("verified_ms"), "height": self._state.height, "hash": self._state.hash,
                "log_size": self._state.log_size}

    def block_at(self, height: int) -> BlockRow | None:
        row = self._db.execute("SELECT hash, log_size, log_root FROM blocks WHERE height = ?", (height,)).fetchone()
        return None if row is None else BlockRow(str(row[0]), int(row[1]), str(row[2]))

    def height_of_index(self, index: int) -> int | None:
        """The verified block holding log index ``index``."""
        row = self._db.execute("SELECT MIN(height) FROM blocks WHERE log_size > ?", (index,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def mark_verified(self) -> None:
        self._set("verified_ms", str(time.time_ns() // 1_000_000))

    # --- KeyBook, NonceBook, IdBook

    def get(self, kid: str) -> KeyRecord | None:
        if kid not in self._keys:
            row = self._db.execute("SELECT record FROM keys WHERE kid = ?", (kid,)).fetchone()
            self._keys[kid] = None if row is None else _record_of(row[0])
        return self._keys[kid]

    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]:
        by_digest = {nonce_digest(pair): pair for pair in pairs}
        digests = list(by_digest)
        found: set[SignedRequest] = set()
        for start in range(0, len(digests), 500):
            chunk = digests[start:start + 500]
            rows = self._db.execute(f"SELECT digest FROM nonces WHERE digest IN ({','.join('?' * len(chunk))})",
                                    chunk).fetchall()
            found.update(by_digest[row[0]] for row in rows)
        return found

    def __contains__(self, entry_id: object, /) -> bool:
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (entry_id,)).fetchone() is not None

    def update(self, ids: Iterable[str], /) -> None:
        self._db.executemany("INSERT OR IGNORE INTO ids (id) VALUES (?)", ((i,) for i in ids))

    # --- remembering

    def remember(self, header: dict[str, Any], outcome: BlockOutcome) -> None:
        state = outcome.state
        self._db.execute("INSERT OR REPLACE INTO blocks (height, hash, log_size, log_root) VALUES (?, ?, ?, ?)",
                         (state.height, state.hash, state.log_size, header["log_root"]))
        self._db.executemany("INSERT OR REPLACE INTO keys (kid, record) VALUES (?, ?)",
                             ((kid, _record_json(record)) for kid, record in outcome.keys.items()))
        self._db.executemany("INSERT OR IGNORE INTO nonces (digest) VALUES (?)",
                             ((nonce_digest(pair),) for pair in outcome.nonces))
        self._keys.update(outcome.keys)
        if state.height == 0:
            self._set("genesis", state.hash)
            self._set("pinned_ms", str(time.time_ns() // 1_000_000))
        self._set("chain", _state_json(state))
        self._state = state

    def sealer_keys(self) -> list[dict[str, str]]:
        records = [_record_of(row[0]) for row in self._db.execute("SELECT record FROM keys")]
        return [r.jwk for r in sorted(records, key=lambda r: r.added) if r.sealer and r.registered]

    # --- transactions

    def commit(self) -> None:
        try:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"cannot write the state file {self.path}: {exc}") from exc

    def replace(self, target: Path) -> None:
        """Commit, close, and put this file in place of ``target`` (atomically)."""
        self.commit()
        self.close()
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise StateError(f"cannot write the state file {target}: {exc}") from exc
        self.path = target

    def close(self) -> None:
        """Close, dropping whatever was not committed."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        finally:
            self._db.close()


@dataclass
class StateLock:
    """An exclusive lock on one URL's state for the length of a run (POSIX; a no-op elsewhere)."""

    path: Path
    _handle: Any = None

    def __enter__(self) -> StateLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._handle = open(self.path, "a+")
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                self._handle.close()
                raise StateError(f"another covenant-verify run is using {self.path.with_suffix('')}; "
                                 "try again when it ends") from exc
        return self

    def __exit__(self, *_: object) -> None:
        if self._handle is not None:
            self._handle.close()


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def forget(path: Path) -> bool:
    """Delete one URL's state; True if there was any."""
    existed = False
    for candidate in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + ".new")):
        try:
            candidate.unlink()
            existed = existed or candidate == path
        except FileNotFoundError:
            pass
    return existed
