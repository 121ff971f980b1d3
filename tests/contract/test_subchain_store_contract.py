"""One contract for a sub-chain's storage (services.replication.SubchainStore), run against both stores:
the operator's (ReplicaStore, moto DynamoDB) and a consumer's own (SqliteSubchainStore, a local file).

Then a property: any delivery order of an honest chain (repeats included), fed through the one core
(``receive_block``), ends both stores at the same head, with the same copy and the same cosigned tree.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.client.subchain_store import SqliteSubchainStore
from chalicelib.ledger.verify import ChainState, verify_block
from chalicelib.services.replication import FunctionSource, Witness, Witnessed, receive_block
from chalicelib.store.replica_store import ReplicaStore
from tests.chainmaker import ChainMaker, honest_and_fork

CLOCK = 1_800_000_000_000
MAKER = ChainMaker().with_signed_entries(blocks=4, per_block=5)  # blocks 0..5, a registered consumer signing
WITNESS = Witness(ChainMaker().signer.key)


def _clear(replica: int) -> None:
    model = ReplicaStore(replica).model
    with model.batch_write() as batch:
        for record in model.scan():
            batch.delete(record)


def _outcome(store, height: int):
    return verify_block(store.state(), MAKER.blocks[height], store, store)


def _apply(store, height: int) -> bool:
    previous = store.state()
    return store.apply(previous, _outcome(store, height), MAKER.blocks[height], CLOCK)


class SubchainStoreContract:
    @pytest.fixture
    def store(self):  # pragma: no cover - each store's class provides it
        raise NotImplementedError

    def test_an_empty_store(self, store):
        assert store.state() == ChainState.empty()
        assert store.block_hash(0) is None and store.header(0) is None
        assert store.witnessed() == Witnessed()
        assert store.entries(0, 10) == []
        assert store.get(MAKER.blocks[0]["header"]["sealer"]) is None
        assert store.used({("k" * 32, "n")}) == set()

    def test_a_verified_block_is_kept_whole_and_reads_back(self, store):
        outcome = _outcome(store, 0)
        assert store.apply(ChainState.empty(), outcome, MAKER.blocks[0], CLOCK)
        assert store.state() == outcome.state
        assert store.block_hash(0) == MAKER.blocks[0]["hash"]
        assert store.header(0) == MAKER.blocks[0]["header"]
        assert store.entries(0, 0) == MAKER.blocks[0]["entries"]
        sealer = store.get(MAKER.blocks[0]["header"]["sealer"])
        assert sealer is not None and sealer.sealer and sealer.owner == "stamp"
        for height in range(1, len(MAKER.blocks)):
            assert _apply(store, height)
        size = MAKER.blocks[-1]["header"]["log_size"]
        assert store.entries(0, size - 1) == [e for b in MAKER.blocks for e in b["entries"]]
        assert store.entries(size - 3, size + 5) == MAKER.blocks[-1]["entries"][-3:]
        assert store.state().hash == MAKER.blocks[-1]["hash"]

    def test_the_books_of_keys_and_signed_requests(self, store):
        for height in range(3):
            _apply(store, height)
        consumer = MAKER.blocks[1]["entries"][0]["auth"]["kid"]
        key = store.get(consumer)
        assert key is not None and key.registered and key.owner == MAKER.consumer_node
        assert store.get("not a kid") is None
        from chalicelib.ledger.auth import signature_nonce

        pairs = {(e["auth"]["kid"], signature_nonce(e["auth"]["base"])) for e in MAKER.blocks[2]["entries"]
                 if e["auth"]}
        assert pairs and store.used(pairs) == pairs
        unseen = {(e["auth"]["kid"], signature_nonce(e["auth"]["base"])) for e in MAKER.blocks[3]["entries"]
                  if e["auth"]}
        assert store.used(pairs | unseen) == pairs

    def test_apply_is_conditional_on_the_head_it_was_verified_against(self, store):
        outcome = _outcome(store, 0)
        assert store.apply(ChainState.empty(), outcome, MAKER.blocks[0], CLOCK)
        # a second delivery verified against the same (now stale) head changes nothing
        assert not store.apply(ChainState.empty(), outcome, MAKER.blocks[0], CLOCK)
        stale = store.state()
        outcome = verify_block(stale, MAKER.blocks[1], store, store)
        assert store.apply(stale, outcome, MAKER.blocks[1], CLOCK)
        assert not store.apply(stale, outcome, MAKER.blocks[1], CLOCK)
        assert store.state().height == 1 and store.state().hash == MAKER.blocks[1]["hash"]

    def test_two_blocks_verified_against_one_head_leave_the_winner_whole(self, store):
        """Two deliveries racing at one height (a split view shown to one sub-chain, say): both verified against
        the same head, the loser writes nothing, not even entries of its own under the winner's head."""
        honest, forked = honest_and_fork(13)
        for block in honest.blocks[:12]:
            assert store.apply(store.state(), verify_block(store.state(), block, store, store), block, CLOCK)
        head = store.state()
        mine = verify_block(head, honest.blocks[12], store, store)
        theirs = verify_block(head, forked.blocks[12], store, store)
        assert store.apply(head, mine, honest.blocks[12], CLOCK)
        assert not store.apply(head, theirs, forked.blocks[12], CLOCK)
        state = store.state()
        assert state.hash == honest.blocks[12]["hash"] and store.block_hash(12) == honest.blocks[12]["hash"]
        assert store.entries(head.log_size, state.log_size - 1) == honest.blocks[12]["entries"]

    def test_a_quarantined_block_counts_once_and_is_never_applied(self, store):
        _apply(store, 0)
        forged = {**MAKER.blocks[1], "sig": "A" * 86 + "=="}
        assert store.quarantine(1, forged["hash"], "the block signature does not verify", forged, CLOCK)
        assert not store.quarantine(1, forged["hash"], "the block signature does not verify", forged, CLOCK + 1)
        assert store.state().height == 0
        # anything a hostile sender made is kept, cut to size
        assert store.quarantine(None, "x" * 3000, "r" * 5000, {"header": "h" * 500_000}, CLOCK)
        assert store.quarantine("12", {"not": "a hash"}, "odd", [1, 2], CLOCK)
        assert store.state().height == 0
        assert _apply(store, 1)  # the genuine block still applies

    def test_the_witness_memory_is_replaced_only_over_the_one_read(self, store):
        first = Witnessed("o", 5, "ab" * 32, "— o/subchain/x AAAA\n", submitted=False)
        assert store.record_cosigned(Witnessed(), first)
        assert store.witnessed() == first
        assert not store.record_cosigned(Witnessed(), first)  # another writer got there first
        sent = Witnessed("o", 5, "ab" * 32, first.line, submitted=True)
        assert store.record_cosigned(first, sent)
        assert store.witnessed() == sent
        newer = Witnessed("o", 9, "cd" * 32, "— o/subchain/x BBBB\n")
        assert not store.record_cosigned(Witnessed("o", 4, "ab" * 32, first.line), newer)  # stale size
        assert not store.record_cosigned(Witnessed("o", 5, "ab" * 32, "another line"), newer)  # stale line
        assert store.record_cosigned(sent, newer)
        assert store.witnessed() == newer

    def test_an_alarm_leaves_the_copy_as_it_is(self, store):
        _apply(store, 0)
        store.record_alarm("block 0: the checkpoint is not signed by the head block's sealer", CLOCK)
        assert store.state().height == 0 and store.block_hash(0) == MAKER.blocks[0]["hash"]


class TestReplicaStore(SubchainStoreContract):
    @pytest.fixture
    def store(self, aws):
        return ReplicaStore(0)


class TestSqliteStore(SubchainStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        with SqliteSubchainStore(tmp_path / "subchain.sqlite3") as store:
            yield store


# --- both at once: any delivery order of an honest chain ends at the same head


def _source(sent: list):
    return FunctionSource(lambda h: MAKER.blocks[h] if h < len(MAKER.blocks) else None,
                          lambda h: MAKER.records[h].checkpoint if h < len(MAKER.records) else None,
                          lambda size, line: sent.append((size, line)))


_heights = st.lists(st.integers(0, len(MAKER.blocks) - 1), min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(MAKER.blocks))), repeats=_heights)
def test_any_delivery_order_ends_both_stores_at_the_same_head(aws, tmp_path_factory, order, repeats):
    _clear(1)
    dynamo = ReplicaStore(1)
    sqlite = SqliteSubchainStore(tmp_path_factory.mktemp("sub") / "subchain.sqlite3")
    try:
        for store in (dynamo, sqlite):
            sent: list = []
            outcomes = [receive_block(store, {**MAKER.blocks[h], "kind": "block"}, _source(sent), WITNESS,
                                      clock=lambda: CLOCK) for h in [*order, *repeats]]
            assert "quarantined" not in outcomes
            assert sent and sent[-1][0] == MAKER.blocks[-1]["header"]["log_size"]
        assert dynamo.state() == sqlite.state()
        assert sqlite.state().hash == MAKER.blocks[-1]["hash"]
        size = sqlite.state().log_size
        assert dynamo.entries(0, size - 1) == sqlite.entries(0, size - 1)
        left, right = dynamo.witnessed(), sqlite.witnessed()
        assert (left.origin, left.size, left.root, left.submitted) == (right.origin, right.size, right.root, True)
        assert right.root == sqlite.state().log_root
    finally:
        sqlite.close()
