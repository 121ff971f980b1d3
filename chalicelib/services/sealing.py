"""Sealing: turning unsealed entries into signed blocks, exactly once.

How log indices stay correct under concurrency without a hot counter:
appending writes an entry and a queue item (in one of N shards) and nothing
shared. Indices are assigned here, at sealing: block h's header fixes
``log_size``, and so the indices of its entries, and it is stored only if
height h is free (a conditional put). Any number of sealers may race; exactly
one wins each height, the others lose cleanly and start over from the winner.

After a block is stored it is *completed*: Merkle nodes and entry positions
indexed, sealer keys recorded, the block broadcast, its entries removed from the
queue, and finally the head marker advanced. Every completion step is
idempotent, and a sealer always completes every stored block above the head
marker before it reads the queue, so a sealer that dies between any two writes
leaves work the next run finishes, and no queued entry of a stored block can be
sealed twice.

A block is stored only if every entry it names reads back, with strong
consistency, as its queue item describes it (same queue key, same leaf, bytes
that hash to the leaf): a block naming an entry that is not stored could never
be completed, and would stop the chain at its height for good. A queue item
that fails this is skipped (see ``_readable``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, OriginChanged, StorageError
from ..ledger import merkle
from ..ledger.format import ZERO_HASH, header_bytes, make_entry, make_header
from ..ledger.note import NoteError, local_origin, parse_checkpoint, parse_note, sign_checkpoint
from ..ledger.verify import GENESIS_STAMP_NODE, SYSTEM_ACTOR, registers_sealer_key
from ..observability import count, logger
from ..settings import get_settings
from ..store import backend, broadcast
from ..store import ledger as store
from ..store.ledger_records import Block, Pending, StoredEntry, pending_ts
from ..store.port import Change
from . import tiles, timeline
from .ledger import Clock, now_ms
from .sealer_key import Signer

GENESIS_ENTRY_ID = "genesis-stamp-node"
STAMP_WALLET = "w-stamp"
# How long an orphan queue item (its entry not stored under it) is kept, skipped,
# before it is cleared, by its commit time. An entry and its queue item commit in one
# transaction, so on DynamoDB such an item is left only by a fault (a hand edit, a
# bug, a store that showed writes of a cancelled transaction). Waiting costs one
# read per item per run; clearing too early would lose an entry for good if it
# only became readable late. No transaction can still be running 15 minutes
# after its commit time was taken: that is Lambda's longest run, and far beyond
# any SDK retry or clock skew between the writer and the sealer.
ORPHAN_GRACE_MS = 15 * 60 * 1000


@dataclass
class SealReport:
    blocks: list[int] = field(default_factory=list)
    entries: int = 0
    lost_races: int = 0
    completed: list[int] = field(default_factory=list)


def header_of(record: Block) -> dict[str, Any]:
    return dict(json.loads(record.header))


def block_view(record: Block, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"header": header_of(record), "hash": record.hash, "sig": record.sig, "entries": entries}


def _frontier(record: Block | None) -> list[bytes]:
    return [bytes.fromhex(value) for value in record.frontier] if record is not None else []


def origin_of(genesis: Block) -> str:
    """The origin the log was given at genesis: the first line of block 0's checkpoint.

    A block 0 stored before checkpoints existed has none: its origin is then the
    configured one, or the one derived from its hash.
    """
    if genesis.checkpoint:
        try:
            return parse_checkpoint(parse_note(genesis.checkpoint).body).origin
        except NoteError as exc:
            raise StorageError("block 0's stored checkpoint is unreadable") from exc
    return get_settings().origin or local_origin(genesis.hash)


_origin: str | None = None


def log_origin() -> str:
    """This log's origin, checked against COVENANT_ORIGIN (OriginChanged if they differ)."""
    global _origin
    if _origin is None:
        genesis = store.get_block(0)
        if genesis is None:
            raise StorageError("the chain has no genesis block, so no origin yet")
        origin = origin_of(genesis)
        configured = get_settings().origin or local_origin(genesis.hash)
        if configured != origin:
            raise OriginChanged(
                f"this log's origin is {origin!r}, fixed at genesis, but COVENANT_ORIGIN makes it {configured!r}: "
                "an origin never changes (LEDGER.md); set COVENANT_ORIGIN back to the log's origin"
                + (" or unset it" if origin == local_origin(genesis.hash) else ""))
        _origin = origin
    return _origin


def forget_origin() -> None:
    global _origin
    _origin = None


def build_block(
    prev: Block | None, ids: list[str], leaves: list[bytes], signer: Signer, now: int, origin: str | None = None
) -> Block:
    """The block after ``prev`` (genesis when None) holding ``ids`` in this order, with its signed checkpoint.

    ``origin`` is the log's; for genesis None derives it from the block's hash.
    """
    prev_header = header_of(prev) if prev is not None else {"height": -1, "log_size": 0, "ts": 0}
    frontier = _frontier(prev)
    size = prev_header["log_size"]
    for leaf in leaves:
        frontier, _ = merkle.append_leaf(frontier, size, leaf)
        size += 1
    header = make_header(
        height=prev_header["height"] + 1,
        prev=prev.hash if prev is not None else ZERO_HASH,
        log_size=size,
        log_root=merkle.frontier_root(frontier),
        count=len(ids),
        ts=max(now, prev_header["ts"]),
        sealer=signer.kid,
    )
    body = header_bytes(header)
    block_hash = hashlib.sha256(body).hexdigest()
    if origin is None:
        if prev is not None:
            raise ValueError("only genesis derives its origin")
        origin = local_origin(block_hash)
    return Block(
        height=header["height"],
        header=body.decode("utf-8"),
        hash=block_hash,
        sig=signer.sign(body),
        ids=ids,
        frontier=[node.hex() for node in frontier],
        checkpoint=sign_checkpoint(origin, size, merkle.frontier_root(frontier), signer.key),
    )


def _sealer_key_changes(entries: list[dict[str, Any]], first_index: int) -> list[dict[str, Any]]:
    known = {item["jwk"]["kid"]: item for item in store.sealer_keys()}
    changes = []
    for offset, entry in enumerate(entries):
        index = first_index + offset
        # this program's genesis names the stamp node GENESIS_STAMP_NODE (create_genesis)
        if registers_sealer_key(entry, GENESIS_STAMP_NODE) and entry["data"]["jwk"]["kid"] not in known:
            record = {"jwk": entry["data"]["jwk"], "added": index, "revoked": None}
            known[record["jwk"]["kid"]] = record
            changes.append(record)
        revoked = entry["data"].get("revoke_kid")
        if isinstance(revoked, str) and revoked in known and known[revoked]["revoked"] is None:
            record = {**known[revoked], "revoked": index}
            known[revoked] = record
            changes.append(record)
    return changes


def complete_block(record: Block, prior: Block | None,
                   read_back: dict[str, StoredEntry] | None = None) -> None:
    """Finish everything that follows storing ``record``; safe to run any number of times.

    ``read_back``: the block's entries as its sealer just read them back, so they
    are not read twice; without it (a block stored by an earlier run) they are read.
    """
    header = header_of(record)
    first = header["log_size"] - header["count"]
    stored = read_back if read_back is not None else store.entry_records(record.ids)
    missing = [entry_id for entry_id in record.ids if entry_id not in stored]
    if missing:
        raise StorageError(f"block {record.height} names entries that are not stored: {missing[:3]}")
    entries = [json.loads(stored[entry_id].body) for entry_id in record.ids]

    frontier = _frontier(prior)
    nodes: list[tuple[int, int, bytes]] = []
    for offset, entry_id in enumerate(record.ids):
        frontier, completed = merkle.append_leaf(frontier, first + offset, bytes.fromhex(stored[entry_id].leaf))
        nodes.extend(completed)
    if merkle.frontier_root(frontier).hex() != header["log_root"]:
        raise StorageError(f"block {record.height} does not match its stored entries")

    store.write_nodes(nodes)
    height = int(record.height)
    store.write_positions(height, first, record.ids)
    changes = _sealer_key_changes(entries, first)
    if changes:
        store.record_sealer_keys(changes)
    tiles.publish_block(record, [stored[entry_id].body.encode("utf-8") for entry_id in record.ids])
    timeline.index_block(height, first, entries)
    broadcast.publish_block(block_view(record, entries))
    store.delete_pending((store.shard_of(entry_id), stored[entry_id].seq) for entry_id in record.ids)
    store.advance_completed_height(height)
    logger.info("block completed", extra={"height": height, "entries": header["count"]})


def complete_stored_blocks(report: SealReport | None = None) -> Block | None:
    """Complete every stored block above the head marker; return the head block (None before genesis)."""
    height = store.completed_height()
    head = store.get_block(height) if height >= 0 else None
    if height >= 0 and head is None:
        raise StorageError(f"the head marker names block {height}, which is not stored")
    while True:
        following = store.get_block(height + 1)
        if following is None:
            return head
        complete_block(following, head)
        if report is not None:
            report.completed.append(int(following.height))
        head, height = following, height + 1


def _without_sealed(pending: list[Pending]) -> list[Pending]:
    """Drop (and clear) queue items whose entry already has a log position.

    The protocol never leaves such an item; this guard keeps "every entry in
    exactly one block" even if one is left by hand or by a bug.
    """
    sealed = store.sealed_ids([p.id for p in pending]) if pending else set()
    if not sealed:
        return pending
    logger.warning("cleared queue items of entries already sealed", extra={"count": len(sealed)})
    store.delete_pending((int(p.shard), p.seq) for p in pending if p.id in sealed)
    return [p for p in pending if p.id not in sealed]


def _readable(pending: list[Pending], now: int) -> tuple[list[Pending], dict[str, StoredEntry]]:
    """The queue items whose entry reads back (strongly consistent) exactly as the item describes it.

    An item is good if its entry is stored under the same queue key (``seq``)
    and leaf, and the stored bytes hash to that leaf. The others are skipped,
    never sealed:

    - an orphan, whose entry is not stored or is stored under another queue key
      (an item of a cancelled attempt whose retry committed the same id with its
      own item), is cleared once its commit time is ``ORPHAN_GRACE_MS`` old;
    - a corrupt item, whose own stored entry disagrees with it (another leaf, or
      bytes that do not hash to it), is kept and logged as an error at every
      run: clearing it would silently drop a stored entry from the log, and
      which of the two is wrong is for a person to decide.
    """
    if not pending:
        return [], {}
    stored = store.entry_records(list(dict.fromkeys(p.id for p in pending)))
    good: list[Pending] = []
    stale: list[tuple[int, str]] = []
    for item in pending:
        entry = stored.get(item.id)
        if entry is not None and entry.seq == item.seq:
            if entry.leaf == item.leaf and merkle.leaf_hash(entry.body.encode("utf-8")).hex() == item.leaf:
                good.append(item)
            else:
                logger.error("a queue item disagrees with its stored entry; it is not sealed",
                             extra={"entry": item.id, "seq": item.seq, "shard": int(item.shard)})
            continue
        committed = pending_ts(item.seq)
        expired = committed is None or committed < now - ORPHAN_GRACE_MS
        logger.warning("skipped a queue item whose entry is not stored under it",
                       extra={"entry": item.id, "seq": item.seq, "shard": int(item.shard),
                              "stored_seq": entry.seq if entry is not None else None, "cleared": expired})
        if expired:
            stale.append((int(item.shard), item.seq))
    if stale:
        store.delete_pending(stale)
    return good, {item.id: stored[item.id] for item in good}


def _settled_queue(limit: int) -> list[Pending]:
    """The oldest queue items, leaving out any that might precede a commit this read missed.

    The queue is read one shard after another, so a commit can land in a shard
    already read while a later one lands in a shard not yet read: the block
    would hold the later commit (a payment signed by a new key) and not the
    earlier one (the key's registration), and the log would put them the wrong
    way round for good. So the queue is read twice: an item seen only by the
    second read committed during the first, and nothing from its queue key on
    is sealed in this block. A commit that finished before an item seen by the
    first read was committed (before it took its time, so its key is smaller)
    finished before the second read began: either the first read saw it too,
    and it is sealed with the item, ahead of it, or it holds the item back.
    The cost is one more read of the queue per block.
    """
    first = store.oldest_pending(limit)
    if not first:
        return first
    seen = {(int(p.shard), p.seq) for p in first}
    second = store.oldest_pending(limit)
    arrived = [p.seq for p in second if (int(p.shard), p.seq) not in seen]
    if not arrived:
        return second
    cutoff = min(arrived)
    return [p for p in second if p.seq < cutoff]


def seal_pending_entries(signer: Signer, clock: Clock = now_ms) -> SealReport:
    """Seal queued entries into as many blocks as needed (at most ``blocks_per_run``)."""
    settings = get_settings()
    report = SealReport()
    head = complete_stored_blocks(report)
    if head is None:
        logger.warning("nothing sealed: the chain has no genesis block")
        return report
    origin = log_origin()
    for _ in range(settings.blocks_per_run):
        pending = _settled_queue(settings.max_block_entries)
        pending, read_back = _readable(_without_sealed(pending), clock())
        if not pending:
            break
        record = build_block(head, [p.id for p in pending], [bytes.fromhex(p.leaf) for p in pending], signer, clock(),
                             origin)
        if not store.put_block(record):
            report.lost_races += 1
            logger.info("lost the race for a height", extra={"height": record.height})
            head = complete_stored_blocks(report)
            continue
        count("BlocksSealed")
        count("EntriesSealed", len(pending))
        report.blocks.append(int(record.height))
        report.entries += len(pending)
        complete_block(record, head, read_back)
        head = record
    return report


def create_genesis(signer: Signer, clock: Clock = now_ms, changes: Sequence[Change] = ()) -> Block:
    """Make block 0 with the entry that registers the stamp node and its key; idempotent.

    ``changes`` (the program's starting state) commit with the genesis entry.
    """
    existing = store.get_block(0)
    if existing is None:
        entry = make_entry(GENESIS_ENTRY_ID, "node.registered", clock(), SYSTEM_ACTOR,
                           {"node": GENESIS_STAMP_NODE, "role": "stamp", "jwk": signer.jwk, "wallet": STAMP_WALLET})
        stored = store.get_entry(GENESIS_ENTRY_ID, consistent=True)
        if stored is None:
            backend.state().commit([store.prepare(entry)], changes)
        else:
            entry = json.loads(stored.body)
        if entry["data"]["jwk"]["kid"] != signer.kid:
            raise Conflict("a genesis entry for another stamp key exists")
        record = build_block(None, [entry["id"]], [bytes.fromhex(store.prepare(entry).leaf)], signer, clock(),
                             get_settings().origin or None)
        if store.put_block(record):
            count("BlocksSealed")
            count("EntriesSealed")
        existing = store.get_block(0)
        assert existing is not None
    if header_of(existing)["sealer"] != signer.kid:
        raise Conflict("the chain was started with another stamp key")
    log_origin()  # a restart with another COVENANT_ORIGIN is refused here, before anything else is done
    complete_stored_blocks()
    return existing
