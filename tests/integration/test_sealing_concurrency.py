"""Racing sealers and sealers that crash: one chain, every entry in exactly one block."""

from __future__ import annotations

import threading

import pytest

from chalicelib.services import sealing
from chalicelib.services.ledger import Draft, commit
from chalicelib.services.sealing import seal_pending_entries
from chalicelib.settings import reset_settings
from chalicelib.store import broadcast, ledger_store

from .chain_checks import pending_count, sealed_ids

# The ledger's and the program's DynamoDB storage itself is under test here.
pytestmark = pytest.mark.dynamodb


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setenv("COVENANT_MAX_BLOCK_ENTRIES", "15")
    reset_settings()


def _commit_many(n: int, tag: str = "n") -> set[str]:
    return {commit([Draft("test.note", "system", {tag: i})])[0]["id"] for i in range(n)}


def test_four_concurrent_sealers_make_one_chain(chain, small_blocks):
    # Given 200 committed entries and four sealers started at once
    ids = _commit_many(200)
    barrier = threading.Barrier(4)
    reports, errors = [], []

    def sealer() -> None:
        barrier.wait()
        try:
            reports.append(seal_pending_entries(chain))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sealer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one verified chain holds every entry exactly once
    assert errors == []
    sealed = sealed_ids()
    assert len(sealed) == len(set(sealed)) == 201
    assert set(sealed) == ids | {sealing.GENESIS_ENTRY_ID}
    assert pending_count() == 0
    stored = sorted(h for report in reports for h in report.blocks)
    assert stored == list(range(1, len(stored) + 1)), "each height was won by exactly one sealer"
    assert sum(report.entries for report in reports) == 200


def test_sealers_racing_while_entries_arrive(chain, small_blocks):
    ids: set[str] = set()
    stop = threading.Event()

    def writer() -> None:
        for i in range(80):
            ids.add(commit([Draft("test.note", "system", {"w": i})])[0]["id"])
        stop.set()

    def sealer() -> None:
        while not stop.is_set():
            seal_pending_entries(chain)
        seal_pending_entries(chain)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=sealer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seal_pending_entries(chain)
    sealed = sealed_ids()
    assert len(sealed) == len(set(sealed))
    assert set(sealed) == ids | {sealing.GENESIS_ENTRY_ID}
    assert pending_count() == 0


class Crash(Exception):
    pass


# Every write a sealer makes, in order. A crash before the first is no write at all.
WRITES = [
    (ledger_store, "put_block"),
    (ledger_store, "write_nodes"),
    (ledger_store, "write_positions"),
    (broadcast, "publish_block"),
    (ledger_store, "delete_pending"),
    (ledger_store, "advance_completed_height"),
]


@pytest.mark.parametrize("module,name", WRITES, ids=[name for _, name in WRITES])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_sealer_crashing_at_any_write_loses_and_duplicates_nothing(chain, small_blocks, monkeypatch, aws,
                                                                     module, name, when):
    from tests.conftest import drain_queue

    ids = _commit_many(40)
    real = getattr(module, name)
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second block's write, so one block already went through
            if when == "after":
                real(*args, **kwargs)
            raise Crash(f"{when} {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, crashing)
    with pytest.raises(Crash):
        seal_pending_entries(chain)
    monkeypatch.setattr(module, name, real)

    # The next run finishes the work
    seal_pending_entries(chain)
    sealed = sealed_ids()
    assert len(sealed) == len(set(sealed)) == 41
    assert set(sealed) == ids | {sealing.GENESIS_ENTRY_ID}
    assert pending_count() == 0
    # and every block reached every replica queue at least once
    for url in aws.queue_urls:
        import json

        heights = {json.loads(json.loads(r["body"])["Message"])["header"]["height"] for r in drain_queue(url)}
        assert heights == set(range(4))


def test_a_crash_halfway_through_clearing_the_queue(chain, small_blocks, monkeypatch):
    ids = _commit_many(30)
    real = ledger_store.delete_pending

    def half(keys):
        keys = list(keys)
        real(keys[: len(keys) // 2])
        raise Crash("halfway")

    monkeypatch.setattr(ledger_store, "delete_pending", half)
    with pytest.raises(Crash):
        seal_pending_entries(chain)
    monkeypatch.setattr(ledger_store, "delete_pending", real)
    seal_pending_entries(chain)
    sealed = sealed_ids()
    assert len(sealed) == len(set(sealed)) == 31 and set(sealed) >= ids
    assert pending_count() == 0


def test_a_stale_queue_item_of_a_sealed_entry_is_cleared_not_sealed_again(chain):
    from chalicelib.store.ledger_store import shard_of
    from chalicelib.store.models import EntryRecord, PendingRecord

    entry = commit([Draft("test.note", "system", {"n": 1})])[0]
    seal_pending_entries(chain)
    stored = EntryRecord.get(entry["id"])
    PendingRecord(shard=shard_of(entry["id"]), seq=stored.seq, id=entry["id"], leaf=stored.leaf).save()
    assert pending_count() == 1
    assert seal_pending_entries(chain).blocks == []
    assert pending_count() == 0
    assert sealed_ids().count(entry["id"]) == 1

