"""The consumer's SQLite sub-chain file: private, WAL, versioned, and a block written whole or not at all."""

from __future__ import annotations

import sqlite3
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.client import subchain_store
from chalicelib.client.subchain import KeyedStore
from chalicelib.client.subchain_store import SCHEMA_VERSION, SqliteSubchainStore
from chalicelib.errors import StorageError
from chalicelib.ledger.note import cosignature_line
from chalicelib.ledger.verify import ChainState, verify_block
from chalicelib.services.replication import Witness, Witnessed
from tests.chainmaker import ChainMaker

MAKER = ChainMaker().with_signed_entries(blocks=2, per_block=4)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_is_private_in_wal_mode_and_versioned(tmp_path):
    path = tmp_path / "alice" / "subchain.sqlite3"
    with SqliteSubchainStore(path) as store:
        outcome = verify_block(ChainState.empty(), MAKER.blocks[0], store, store)
        store.apply(ChainState.empty(), outcome, MAKER.blocks[0], 1)
        assert store.schema_version == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert _mode(path) == 0o600
        assert _mode(path.with_name(path.name + "-wal")) == 0o600
    with SqliteSubchainStore(path) as again:  # reopened: the copy is there
        assert again.state().height == 0


def test_a_file_of_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "subchain.sqlite3"
    SqliteSubchainStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StorageError, match="newer than this covenant"):
        SqliteSubchainStore(path)


def test_a_block_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    with SqliteSubchainStore(tmp_path / "subchain.sqlite3") as store:
        outcome = verify_block(ChainState.empty(), MAKER.blocks[0], store, store)
        store.apply(ChainState.empty(), outcome, MAKER.blocks[0], 1)
        previous = store.state()
        outcome = verify_block(previous, MAKER.blocks[1], store, store)
        broken = {**MAKER.blocks[1], "sig": None}  # the blocks row refuses a NULL signature: after entries and keys
        with pytest.raises(StorageError):
            store.apply(previous, outcome, broken, 2)
        assert store.state() == previous
        assert store.entries(1, 100) == []
        assert store.get(MAKER.blocks[1]["entries"][0]["auth"]["kid"]) is None
        assert store.apply(previous, outcome, MAKER.blocks[1], 2)
        assert store.block(1) == MAKER.blocks[1]


def test_the_quarantine_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(subchain_store, "MAX_QUARANTINED", 3)
    with SqliteSubchainStore(tmp_path / "subchain.sqlite3") as store:
        for i in range(6):
            assert store.quarantine(i, f"{i:064x}", f"reason {i}", {"header": {"height": i}}, 100 + i)
        kept = store.quarantined()
        assert kept.count == 3 and kept.height == 5 and kept.reason == "reason 5"
        assert store.status()[0] == "quarantined" and "height 5: reason 5" in store.status()[1]


def test_entries_by_id_and_type(tmp_path):
    with SqliteSubchainStore(tmp_path / "subchain.sqlite3") as store:
        state = ChainState.empty()
        for block in MAKER.blocks:
            outcome = verify_block(state, block, store, store)
            store.apply(state, outcome, block, 1)
            state = outcome.state
        entry = MAKER.blocks[2]["entries"][1]
        assert store.entry(entry["id"]) == (MAKER.blocks[2]["header"]["log_size"] - 4 + 1, 2, entry)
        assert store.entry("nope") is None
        deposits = store.entries_of_type("fiat.deposited")
        assert deposits and all(e["type"] == "fiat.deposited" for _, _, e in deposits)
        assert [e for _, _, e in store.entries_of_type("node.registered", node=MAKER.consumer_node)] == [
            MAKER.blocks[1]["entries"][0]]


def test_the_witness_memory_counts_only_for_the_key_that_signed_it(tmp_path):
    path = tmp_path / "subchain.sqlite3"
    old, new = Witness(Ed25519PrivateKey.generate()), Witness(Ed25519PrivateKey.generate())
    origin, body = "example.org/log", "example.org/log\n5\nAAAA\n"

    def memory(witness: Witness, size: int, submitted: bool) -> Witnessed:
        return Witnessed(origin, size, "ab" * 32, cosignature_line(witness.name(origin), body, witness.key, 1),
                         submitted=submitted)

    with KeyedStore(path, old.id) as store:
        assert store.record_cosigned(Witnessed(), memory(old, 5, False))
        assert store.witnessed() == memory(old, 5, False)
    with KeyedStore(path, new.id) as store:  # the old key moved aside: the new one starts with no memory
        assert store.witnessed() == Witnessed()
        assert store.record_cosigned(Witnessed(), memory(new, 5, False))  # replaces the old key's
        assert not store.record_cosigned(Witnessed(), memory(new, 6, False))  # but only once
        assert store.witnessed() == memory(new, 5, False)
    with KeyedStore(path, "") as store:  # no key at all: nothing of anyone's
        assert store.witnessed() == Witnessed()


def test_meta_facts_are_kept_and_forgotten(tmp_path):
    with SqliteSubchainStore(tmp_path / "subchain.sqlite3") as store:
        store.set_meta("refusal", "{}")
        assert store.meta("refusal") == "{}"
        store.delete_meta("refusal")
        assert store.meta("refusal") is None
        store.delete_meta("refusal")  # forgetting what is not there is no fault
