"""A consumer's own sub-chain storage: one SQLite file per profile, the ``SubchainStore`` of the one core.

It keeps what an operator sub-chain keeps in its DynamoDB table
(``store.replica_store.ReplicaStore``), with the same meaning:

- the verified copy: every block's header, hash and signature, every entry
  (so the file can serve as a mirror), the keys the ledger registered and the
  signed requests (kid, nonce) it carried, and the head (height, hash, log
  size, Merkle frontier, stamp node);
- ``apply`` writes all of a verified block in ONE transaction, conditional on
  the head it was verified against: a second writer that got there first
  makes it return False, and nothing of the block is written twice;
- a quarantine of refused blocks with their reasons, each cut to a bounded
  size, counted once per (height, claimed hash), at most ``MAX_QUARANTINED``
  rows (the oldest go first);
- the last checkpoint it cosigned, replaced only over the one that was read.

The file is created 0600 (SQLite gives its WAL and shared-memory files the
same mode), runs in WAL mode so ``covenant subchain status`` reads while
``run`` writes, and carries its schema version in ``meta`` so that a later
version can migrate it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Collection, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StorageError
from ..ledger.format import is_key_id
from ..ledger.quarantine import (
    MAX_HEADER_CHARS,
    MAX_REASON_CHARS,
    MAX_SHOWN_HASH_CHARS,
    bounded_json,
    is_height,
    quarantine_key,
)
from ..ledger.verify import BlockOutcome, ChainState, KeyRecord, SignedRequest, nonce_digest
from ..services.replication import Witnessed

SCHEMA_VERSION = 1
MAX_QUARANTINED = 10_000
_BATCH = 500  # SQLite's host parameters per statement stay far below its limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    height INTEGER, hash TEXT, log_size INTEGER, frontier TEXT, stamp_node TEXT,
    status TEXT, reason TEXT, ts INTEGER);
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, hash TEXT NOT NULL, header TEXT NOT NULL, sig TEXT NOT NULL, ts INTEGER);
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY, id TEXT, type TEXT, height INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS entries_by_id ON entries (id);
CREATE INDEX IF NOT EXISTS entries_by_type ON entries (type);
CREATE TABLE IF NOT EXISTS keys (
    kid TEXT PRIMARY KEY, jwk TEXT NOT NULL, added INTEGER NOT NULL, revoked INTEGER, sealer INTEGER NOT NULL,
    owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (digest TEXT PRIMARY KEY, height INTEGER NOT NULL, ts INTEGER);
CREATE TABLE IF NOT EXISTS quarantine (
    qkey TEXT PRIMARY KEY, height INTEGER, hash TEXT NOT NULL, reason TEXT NOT NULL, header TEXT NOT NULL,
    ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS witness (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    origin TEXT NOT NULL, size INTEGER NOT NULL, root TEXT NOT NULL, line TEXT NOT NULL, submitted INTEGER NOT NULL);
"""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class Quarantined:
    count: int
    height: int | None = None
    hash: str = ""
    reason: str = ""
    ts: int = 0


class SqliteSubchainStore:
    """The SubchainStore protocol on one SQLite file (one connection; one writer at a time, any readers)."""

    def __init__(self, path: str | Path, label: str | None = None):
        self.path = Path(path)
        self.label = label or str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # made 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database's mode
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(self.path, 0o600)
            self.db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=10000")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"the sub-chain file {self.path} cannot be opened: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqliteSubchainStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed whole, or rolled back whole (an exception, or ``_Abort``)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"sub-chain {self.label} could not {what}: {exc}") from exc
        try:
            yield self.db
        except _Abort:
            self.db.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            self.db.execute("ROLLBACK")
            raise StorageError(f"sub-chain {self.label} could not {what}: {exc}") from exc
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise StorageError(f"sub-chain {self.label} could not {what}: {exc}") from exc

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"sub-chain {self.label} could not read: {exc}") from exc

    def _migrate(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StorageError(f"{self.path} is of schema version {row[0]}, newer than this covenant "
                                   f"({SCHEMA_VERSION}): upgrade covenant")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- meta: small facts the CLI keeps beside the copy (registration, the log's last refusal)

    def meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write("keep a fact") as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self._write("forget a fact") as db:
            db.execute("DELETE FROM meta WHERE key = ?", (key,))

    @property
    def schema_version(self) -> int:
        return int(self.meta("schema_version") or 0)

    # --- the head

    def state(self) -> ChainState:
        rows = self._read("SELECT height, hash, log_size, frontier, stamp_node FROM head WHERE id = 0")
        if not rows or rows[0][0] is None:
            return ChainState.empty()
        height, hash_, log_size, frontier, stamp_node = rows[0]
        return ChainState(height=int(height), hash=str(hash_), log_size=int(log_size),
                          frontier=tuple(bytes.fromhex(x) for x in json.loads(frontier)), stamp_node=stamp_node)

    def status(self) -> tuple[str, str, int]:
        """(status, reason, time): in_sync, quarantined or checkpoint_refused, as ReplicaStore's state record."""
        rows = self._read("SELECT status, reason, ts FROM head WHERE id = 0")
        if not rows:
            return "empty", "", 0
        return str(rows[0][0] or "empty"), str(rows[0][1] or ""), int(rows[0][2] or 0)

    def block_hash(self, height: int) -> str | None:
        rows = self._read("SELECT hash FROM blocks WHERE height = ?", (height,))
        return str(rows[0][0]) if rows else None

    def header(self, height: int) -> dict[str, Any] | None:
        rows = self._read("SELECT header FROM blocks WHERE height = ?", (height,))
        return json.loads(rows[0][0]) if rows else None

    def block(self, height: int) -> dict[str, Any] | None:
        """Block ``height`` as the log serves it (header, hash, sig, entries), from this copy; None if absent."""
        rows = self._read("SELECT header, hash, sig FROM blocks WHERE height = ?", (height,))
        if not rows:
            return None
        header = json.loads(rows[0][0])
        first = int(header["log_size"]) - int(header["count"])
        return {"header": header, "hash": rows[0][1], "sig": rows[0][2],
                "entries": self.entries(first, int(header["log_size"]) - 1)}

    # --- KeyBook

    def get(self, kid: str) -> KeyRecord | None:
        if not is_key_id(kid):
            return None
        rows = self._read("SELECT jwk, added, revoked, sealer, owner FROM keys WHERE kid = ?", (kid,))
        if not rows:
            return None
        jwk, added, revoked, sealer, owner = rows[0]
        return KeyRecord(jwk=json.loads(jwk), added=int(added), revoked=None if revoked is None else int(revoked),
                         sealer=bool(sealer), owner=str(owner))

    # --- NonceBook

    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]:
        by_digest = {nonce_digest(pair): pair for pair in pairs}
        digests = list(by_digest)
        found: set[SignedRequest] = set()
        for start in range(0, len(digests), _BATCH):
            chunk = digests[start:start + _BATCH]
            rows = self._read(f"SELECT digest FROM nonces WHERE digest IN ({','.join('?' * len(chunk))})",
                              tuple(chunk))
            found.update(by_digest[row[0]] for row in rows)
        return found

    # --- writes

    def apply(self, previous: ChainState, outcome: BlockOutcome, block: dict[str, Any], now: int) -> bool:
        """Store a verified block whole, in one transaction; False when the head is no longer ``previous``."""
        state = outcome.state
        first = state.log_size - len(block["entries"])
        try:
            with self._write(f"store block {state.height}") as db:
                row = db.execute("SELECT height FROM head WHERE id = 0").fetchone()
                current = -1 if row is None or row[0] is None else int(row[0])
                if current != previous.height:
                    raise _Abort
                db.executemany(
                    "INSERT OR REPLACE INTO entries (idx, id, type, height, body) VALUES (?, ?, ?, ?, ?)",
                    [(first + offset, entry.get("id"), entry.get("type"), state.height,
                      json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
                     for offset, entry in enumerate(block["entries"])])
                db.executemany(
                    "INSERT OR REPLACE INTO keys (kid, jwk, added, revoked, sealer, owner) VALUES (?, ?, ?, ?, ?, ?)",
                    [(kid, json.dumps(key.jwk), key.added, key.revoked, int(key.sealer), key.owner or "")
                     for kid, key in outcome.keys.items()])
                db.executemany("INSERT OR REPLACE INTO nonces (digest, height, ts) VALUES (?, ?, ?)",
                               [(nonce_digest(pair), state.height, now) for pair in outcome.nonces])
                db.execute("INSERT OR REPLACE INTO blocks (height, hash, header, sig, ts) VALUES (?, ?, ?, ?, ?)",
                           (state.height, state.hash, json.dumps(block["header"], separators=(",", ":")),
                            block["sig"], now))
                db.execute(
                    "INSERT INTO head (id, height, hash, log_size, frontier, stamp_node, status, reason, ts) "
                    "VALUES (0, ?, ?, ?, ?, ?, 'in_sync', NULL, ?) ON CONFLICT (id) DO UPDATE SET "
                    "height = excluded.height, hash = excluded.hash, log_size = excluded.log_size, "
                    "frontier = excluded.frontier, stamp_node = excluded.stamp_node, status = 'in_sync', "
                    "reason = NULL, ts = excluded.ts",
                    (state.height, state.hash, state.log_size, json.dumps([n.hex() for n in state.frontier]),
                     state.stamp_node, now))
        except _Abort:
            return False
        return True

    def quarantine(self, height: Any, claimed_hash: Any, reason: str, block: Any, now: int) -> bool:
        """Keep a refused block with its reason, cut to bounded sizes; True only the first time it is refused."""
        reason = _cut(str(reason), MAX_REASON_CHARS)
        header = block.get("header") if isinstance(block, dict) else block
        shown = _cut(claimed_hash if isinstance(claimed_hash, str) else bounded_json(claimed_hash, 1000),
                     MAX_SHOWN_HASH_CHARS)
        where = f"height {height}" if is_height(height) else "a block without a valid height"
        with self._write(f"quarantine {where}") as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO quarantine (qkey, height, hash, reason, header, ts) VALUES (?, ?, ?, ?, ?, ?)",
                (quarantine_key(height, claimed_hash), height if is_height(height) else None, shown, reason,
                 bounded_json(header, MAX_HEADER_CHARS), now))
            first = cursor.rowcount == 1
            if first:
                db.execute("DELETE FROM quarantine WHERE rowid IN (SELECT rowid FROM quarantine ORDER BY ts DESC, "
                           "rowid DESC LIMIT -1 OFFSET ?)", (MAX_QUARANTINED,))
            self._set_status(db, "quarantined", _cut(f"{where}: {reason}", MAX_REASON_CHARS + 100), now)
        return first

    def record_alarm(self, reason: str, now: int) -> None:
        with self._write("record its status") as db:
            self._set_status(db, "checkpoint_refused", _cut(reason, MAX_REASON_CHARS), now)

    @staticmethod
    def _set_status(db: sqlite3.Connection, status: str, reason: str, now: int) -> None:
        db.execute("INSERT INTO head (id, status, reason, ts) VALUES (0, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                   "status = excluded.status, reason = excluded.reason, ts = excluded.ts", (status, reason, now))

    def quarantined(self) -> Quarantined:
        """How many refused blocks are kept, and the newest."""
        total = int(self._read("SELECT COUNT(*) FROM quarantine")[0][0])
        rows = self._read("SELECT height, hash, reason, ts FROM quarantine ORDER BY ts DESC, rowid DESC LIMIT 1")
        if not rows:
            return Quarantined(0)
        height, hash_, reason, ts = rows[0]
        return Quarantined(total, height, str(hash_), str(reason), int(ts))

    # --- the witness memory

    def witnessed(self) -> Witnessed:
        rows = self._read("SELECT origin, size, root, line, submitted FROM witness WHERE id = 0")
        if not rows:
            return Witnessed()
        origin, size, root, line, submitted = rows[0]
        return Witnessed(origin=str(origin), size=int(size), root=str(root), line=str(line),
                         submitted=bool(submitted))

    def record_cosigned(self, previous: Witnessed, new: Witnessed) -> bool:
        """Keep the newest cosignature, only over the one that was read (never two for one size)."""
        try:
            with self._write("keep its cosignature") as db:
                row = db.execute("SELECT size, line FROM witness WHERE id = 0").fetchone()
                if previous.origin is None:
                    if row is not None:
                        raise _Abort
                elif row is None or (int(row[0]), str(row[1])) != (previous.size, previous.line):
                    raise _Abort
                db.execute("INSERT OR REPLACE INTO witness (id, origin, size, root, line, submitted) "
                           "VALUES (0, ?, ?, ?, ?, ?)",
                           (new.origin or "", new.size, new.root, new.line, int(new.submitted)))
        except _Abort:
            return False
        return True

    # --- reading the copy

    def entries(self, first: int, last: int) -> list[dict[str, Any]]:
        """This copy of entries ``first`` to ``last`` inclusive, in order."""
        return [json.loads(row[0]) for row in
                self._read("SELECT body FROM entries WHERE idx BETWEEN ? AND ? ORDER BY idx", (first, last))]

    def entry(self, entry_id: str) -> tuple[int, int, dict[str, Any]] | None:
        """(index, height, entry) of the entry with this id in the copy, or None."""
        rows = self._read("SELECT idx, height, body FROM entries WHERE id = ? ORDER BY idx LIMIT 1", (entry_id,))
        return (int(rows[0][0]), int(rows[0][1]), json.loads(rows[0][2])) if rows else None

    def entries_of_type(self, entry_type: str, **data: str) -> list[tuple[int, int, dict[str, Any]]]:
        """(index, height, entry) of every entry of ``entry_type`` whose data has these string members."""
        found = []
        for idx, height, body in self._read("SELECT idx, height, body FROM entries WHERE type = ? ORDER BY idx",
                                            (entry_type,)):
            entry = json.loads(body)
            fields = entry.get("data") if isinstance(entry.get("data"), dict) else {}
            if all(fields.get(name) == value for name, value in data.items()):
                found.append((int(idx), int(height), entry))
        return found


class _Abort(Exception):
    """A condition that does not hold: the transaction is rolled back and the write answers False."""
