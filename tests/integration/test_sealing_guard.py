"""The sealer stores no block naming an entry it cannot read back as its queue item describes it.

A queue item whose entry is missing (its transaction was cancelled, but a
store showed its writes) once made the sealer store a block it could never
complete: "names entries that are not stored", at every run, for good.
"""

from __future__ import annotations

import json
import sys

import pytest

from chalicelib.ledger.format import make_entry
from chalicelib.services import reading
from chalicelib.services.ledger import Draft, commit, now_ms
from chalicelib.services.sealing import ORPHAN_GRACE_MS, seal_pending_entries
from chalicelib.store import ledger_store
from chalicelib.store.ledger_store import pending_seq, prepare, shard_of
from chalicelib.store.models import EntryRecord, PendingRecord
from tests.integration.chain_checks import pending_count, sealed_ids, verified_chain

# The ledger's DynamoDB storage itself is under test here.
pytestmark = pytest.mark.dynamodb


def _queue_item(entry_id: str, ts: int, leaf: str, commit_token: str = "0123456789ab") -> PendingRecord:
    item = PendingRecord(shard=shard_of(entry_id), seq=pending_seq(f"{ts:013d}#{commit_token}", 0), id=entry_id,
                         leaf=leaf)
    item.save()
    return item


def _queued() -> set[str]:
    return {p.seq for p in ledger_store.oldest_pending(1000)}


def _a_lost_entry(entry_id: str, ts: int) -> dict:
    """An entry that was never committed (its transaction was cancelled): only its queue item remains."""
    return make_entry(entry_id, "test.note", ts, "system", {"lost": True})


class SealerLogs:
    """The sealer's structured log lines, printed to this test's captured stdout."""

    def __init__(self, capsys):
        self.capsys = capsys

    def start(self) -> None:
        # Powertools' handler keeps the stdout it saw when created; point it at this test's capture.
        from chalicelib.observability import logger

        logger.registered_handler.stream = sys.stdout
        self.capsys.readouterr()

    def read(self) -> list[dict]:
        lines = []
        for line in self.capsys.readouterr().out.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines


@pytest.fixture
def logs(capsys):
    from chalicelib.observability import logger

    yield SealerLogs(capsys)
    logger.registered_handler.stream = sys.__stdout__


def test_orphan_and_mismatching_queue_items_are_skipped_and_the_chain_goes_on(chain, logs):
    now = now_ms()
    good = [commit([Draft("test.note", "system", {"n": i})])[0]["id"] for i in range(5)]

    # an orphan: the queue item of an entry whose transaction was cancelled (committed just now)
    lost = prepare(_a_lost_entry("lost-now", now))
    fresh_orphan = _queue_item(lost.id, now, lost.leaf)
    # an orphan older than the grace period
    old = prepare(_a_lost_entry("lost-long-ago", now - ORPHAN_GRACE_MS - 60_000))
    stale_orphan = _queue_item(old.id, now - ORPHAN_GRACE_MS - 60_000, old.leaf)
    # the item of a cancelled attempt whose retry committed the same id: another queue key and leaf
    retried = EntryRecord.get(good[2], consistent_read=True)
    leftover = _queue_item(good[2], now - 5, "ab" * 32, commit_token="cancelled000")
    # a corrupt item: its own entry (same queue key) is stored with another leaf
    corrupt_entry = prepare({**_a_lost_entry("corrupt", now), "data": {"corrupt": True}})
    corrupt_seq = pending_seq(f"{now:013d}#c0ffee000000", 0)
    EntryRecord(id=corrupt_entry.id, body=corrupt_entry.body, leaf=corrupt_entry.leaf, seq=corrupt_seq).save()
    corrupt = PendingRecord(shard=shard_of(corrupt_entry.id), seq=corrupt_seq, id=corrupt_entry.id, leaf="cd" * 32)
    corrupt.save()
    assert pending_count() == 9

    # When the sealer runs
    logs.start()
    report = seal_pending_entries(chain, clock=lambda: now)

    # Then it seals exactly the good entries, each once, in a block that completes and verifies
    assert report.blocks == [1] and report.entries == 5
    assert reading.block(1)["header"]["count"] == 5
    assert sorted(sealed_ids()) == sorted(["genesis-stamp-node", *good])
    assert ledger_store.completed_height() == 1
    assert EntryRecord.get(good[2]).leaf == retried.leaf  # the committed entry, not the leftover's leaf
    # the stale orphan is cleared, and so is the leftover once its id is sealed (by its own item);
    # the fresh orphan and the corrupt item are kept
    assert _queued() == {fresh_orphan.seq, corrupt_seq}
    assert stale_orphan.seq not in _queued() and leftover.seq not in _queued()
    lines = logs.read()
    skipped = [line for line in lines if line["message"] == "skipped a queue item whose entry is not stored under it"]
    assert {(line["entry"], line["cleared"]) for line in skipped} == {
        ("lost-now", False), ("lost-long-ago", True), (good[2], False)}
    assert all(line["level"] == "WARNING" for line in skipped)
    assert {(line["level"], line["entry"]) for line in lines
            if line["message"] == "a queue item disagrees with its stored entry; it is not sealed"} == {
        ("ERROR", "corrupt")}

    # And the chain keeps completing while they wait
    more = [commit([Draft("test.note", "system", {"m": i})])[0]["id"] for i in range(3)]
    assert seal_pending_entries(chain, clock=lambda: now + 1_000).blocks == [2]
    assert ledger_store.completed_height() == 2
    assert set(more) <= set(sealed_ids())

    # And once the grace period is over, the orphans are cleared; the corrupt item waits for a person
    later = now + ORPHAN_GRACE_MS + 1
    assert seal_pending_entries(chain, clock=lambda: later).blocks == []
    assert _queued() == {corrupt_seq}
    blocks = verified_chain()
    assert [b["header"]["height"] for b in blocks] == [0, 1, 2]
    names = [e["id"] for b in blocks for e in b["entries"]]
    assert len(names) == len(set(names)) == 9 and "lost-now" not in names and "corrupt" not in names


def test_an_entry_that_reads_back_late_is_sealed_not_dropped(chain):
    """Why an orphan waits: if its entry becomes readable within the grace period, it is sealed."""
    now = now_ms()
    late = prepare(_a_lost_entry("late", now))
    item = _queue_item(late.id, now, late.leaf)
    assert seal_pending_entries(chain, clock=lambda: now).blocks == []
    assert _queued() == {item.seq}
    EntryRecord(id=late.id, body=late.body, leaf=late.leaf, seq=item.seq).save()
    assert seal_pending_entries(chain, clock=lambda: now + 1_000).blocks == [1]
    assert "late" in sealed_ids() and pending_count() == 0


def test_a_block_is_built_only_from_entries_read_back(chain, monkeypatch):
    """The sealer reads the entries once, strongly consistent, and builds and completes the block from them."""
    entries = [commit([Draft("test.note", "system", {"n": i})])[0]["id"] for i in range(4)]
    reads: list[list[str]] = []
    real = ledger_store.entry_records

    def counting(ids):
        reads.append(list(ids))
        return real(ids)

    monkeypatch.setattr(ledger_store, "entry_records", counting)
    assert seal_pending_entries(chain).blocks == [1]
    assert len(reads) == 1 and sorted(reads[0]) == sorted(entries)


def test_a_commit_missed_by_the_queue_read_holds_back_the_later_ones(chain, monkeypatch):
    """The queue is read shard by shard: a key's registration can land in a shard already read while a
    request signed by that key lands in one not yet read. The block must not hold the second without the first."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chalicelib.ledger.keys import jwk_of
    from tests.chainmaker import signed_auth

    consumer = Ed25519PrivateKey.generate()
    jwk = jwk_of(consumer.public_key())
    node, body = f"c-{jwk['kid'][:16]}", {"role": "consumer", "jwk": jwk}
    registered = next(f"reg-{i}" for i in range(1000) if shard_of(f"reg-{i}") == 2)
    paid = next(f"pay-{i}" for i in range(1000) if shard_of(f"pay-{i}") == 9)
    earlier = commit([Draft("test.note", "system", {"n": 0})])[0]["id"]
    real = PendingRecord.query
    landed: list[str] = []

    def query(shard, *args, **kwargs):
        if shard == 5 and not landed:  # shard 2 is read, shard 9 is not: both commits land now, in order
            landed.append(commit([Draft("node.registered", node, {"node": node, **body},
                                        signed_auth(consumer, body, "/nodes"), id=registered)])[0]["id"])
            data = {"wallet": f"w-{jwk['kid'][:16]}", "amount": 1}
            landed.append(commit([Draft("fiat.deposited", node, data, signed_auth(consumer, data, "/deposits"),
                                        id=paid)])[0]["id"])
        return real(shard, *args, **kwargs)

    monkeypatch.setattr(PendingRecord, "query", query)
    report = seal_pending_entries(chain)
    # the first block holds only what was committed before the read began; the next read takes both, in order
    assert report.blocks == [1, 2] and reading.block(1)["header"]["count"] == 1
    order = [e["id"] for b in verified_chain() for e in b["entries"]]  # the registration precedes its use
    assert order == ["genesis-stamp-node", earlier, registered, paid]
