"""One contract for the state port, run against both stores: the in-memory twin and DynamoDB (moto).

What the services rely on (store/port.py): all-or-nothing commits with
conditions, an error on a duplicate entry or a conflicting change, ordered
updates, reads by key, partition and index, never a scan. A differential
property test then runs random change lists on both stores at once and
demands the same outcome and the same state.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.records import (
    GOODS_INDEX,
    Goods,
    History,
    Key,
    Node,
    Order,
    Totals,
    Wallet,
    nodes_index,
    open_orders_index,
)
from chalicelib.errors import Conflict, DuplicateEntry, InvalidParameter
from chalicelib.ledger.format import make_entry
from chalicelib.store import backend
from chalicelib.store import ledger as ledger_storage
from chalicelib.store.ledger_records import Block, MissingNode, prepare
from chalicelib.store.memory import MemoryStore
from chalicelib.store.port import Absent, Check, Delete, Eq, Exists, Ge, In, Ne, Put, Update

_ids = itertools.count()


def _entry(ts: int | None = None, entry_id: str | None = None):
    """An entry to commit; by default each one later than the one before, as commits are."""
    n = next(_ids)
    return prepare(make_entry(entry_id or f"e-{n}", "test.note", ts or 1_700_000_000_000 + n, "system", {}))


def _wallet(wallet_id: str = "w1", fiat: int = 100, status: str = "active", node: str = "n1") -> Wallet:
    return Wallet(wallet_id=wallet_id, node_id=node, kid="k" * 32, status=status, ts=1, fiat=fiat)


def _node(node_id: str, role: str = "consumer", status: str = "active", ts: int = 1) -> Node:
    return Node(node_id=node_id, role=role, kid="k" * 32, jwk="{}", status=status, ts=ts)


def _order(order_id: str, seller: str = "m1", status: str = "placed") -> Order:
    return Order(order_id=order_id, buyer="c1", buyer_wallet="w1", seller=seller, seller_wallet="w2", quantity=1,
                 unit_price=10, unit_profit=1, amount=10, status=status, ts=1)


class StoreContract:
    """Every test here runs once per store."""

    @pytest.fixture
    def store(self):  # pragma: no cover - each store's class provides it
        raise NotImplementedError

    # --- records by key

    def test_a_put_record_reads_back_and_a_missing_one_is_none(self, store):
        store.apply([Put(_wallet())])
        assert store.get(Wallet, Wallet.key_of("w1")) == _wallet()
        assert store.get(Wallet, Wallet.key_of("nobody")) is None

    def test_put_if_absent_refuses_a_taken_key_and_writes_nothing(self, store):
        store.apply([Put(_wallet(fiat=1))])
        with pytest.raises(Conflict):
            store.apply([Put(_wallet(fiat=2))])
        assert store.get(Wallet, Wallet.key_of("w1")).fiat == 1
        store.apply([Put(_wallet(fiat=3), if_absent=False)])
        assert store.get(Wallet, Wallet.key_of("w1")).fiat == 3

    def test_get_many_returns_what_exists(self, store):
        store.apply([Put(_wallet("a")), Put(_wallet("b"))])
        found = store.get_many(Wallet, [Wallet.key_of("a"), Wallet.key_of("b"), Wallet.key_of("c")])
        assert sorted(w.wallet_id for w in found.values()) == ["a", "b"]

    # --- commits

    def test_a_commit_writes_entries_and_changes_together(self, store):
        entry = _entry()
        store.commit([entry], [Put(_wallet())])
        assert store.get(Wallet, Wallet.key_of("w1")) is not None
        assert ledger_storage.get_entry(entry.id).body == entry.body
        assert [p.id for p in ledger_storage.oldest_pending(10)] == [entry.id]

    def test_a_failed_condition_writes_nothing_at_all(self, store):
        store.apply([Put(_wallet(fiat=5))])
        entry = _entry()
        with pytest.raises(Conflict):
            store.commit([entry], [Put(_wallet("w2")), Update(Wallet, Wallet.key_of("w1"), add={"fiat": -10},
                                                              when=(Ge("fiat", 10),))])
        assert store.get(Wallet, Wallet.key_of("w2")) is None
        assert store.get(Wallet, Wallet.key_of("w1")).fiat == 5
        assert ledger_storage.get_entry(entry.id) is None and ledger_storage.oldest_pending(10) == []

    def test_a_reused_entry_id_is_a_duplicate_and_writes_nothing(self, store):
        store.commit([_entry(entry_id="same")], [])
        with pytest.raises(DuplicateEntry) as caught:
            store.commit([_entry(entry_id="same")], [Put(_wallet())])
        assert (caught.value.code, caught.value.retryable) == ("duplicate_entry", False)
        assert store.get(Wallet, Wallet.key_of("w1")) is None

    def test_one_commit_changes_each_item_once(self, store):
        with pytest.raises(InvalidParameter):
            store.commit([_entry()], [Put(_wallet()), Update(Wallet, Wallet.key_of("w1"), add={"fiat": 1})])
        assert store.get(Wallet, Wallet.key_of("w1")) is None

    def test_a_check_that_fails_fails_the_commit(self, store):
        store.apply([Put(_wallet(status="frozen"))])
        with pytest.raises(Conflict):
            store.commit([_entry()], [Check(Wallet, Wallet.key_of("w1"), (Eq("status", "active"),)),
                                      Put(_wallet("w2"))])
        assert store.get(Wallet, Wallet.key_of("w2")) is None
        store.commit([_entry()], [Check(Wallet, Wallet.key_of("w1"), (Eq("status", "frozen"),)), Put(_wallet("w2"))])
        assert store.get(Wallet, Wallet.key_of("w2")) is not None

    # --- updates

    def test_an_update_of_a_missing_item_creates_it_and_add_counts_from_zero(self, store):
        store.commit([_entry()], [Update(Totals, Totals.key_of(), add={"reserve": 7}, ordered=False)])
        assert store.get(Totals, Totals.key_of()).reserve == 7
        store.commit([_entry()], [Update(Totals, Totals.key_of(), add={"reserve": -2, "fees": 1}, ordered=False)])
        totals = store.get(Totals, Totals.key_of())
        assert (totals.reserve, totals.fees) == (5, 1)

    def test_set_set_default_remove_and_set_none(self, store):
        store.apply([Put(Goods(product="p", seller="s", title="first", first_vote=1))])
        store.commit([_entry()], [Update(Goods, Goods.key_of("p"), set_default={"title": "second"})])
        assert store.get(Goods, Goods.key_of("p")).title == "first"
        store.apply([Put(_order("o1"))])
        store.commit([_entry()], [Update(Order, Order.key_of("o1"), set={"paid_entry": "e1", "product": None})])
        order = store.get(Order, Order.key_of("o1"))
        assert (order.paid_entry, order.product) == ("e1", None)
        store.commit([_entry()], [Update(Order, Order.key_of("o1"), remove=("paid_entry",))])
        assert store.get(Order, Order.key_of("o1")).paid_entry is None

    @pytest.mark.parametrize("condition,holds", [
        (Exists(), True), (Absent(), False), (Eq("status", "active"), True), (Eq("status", "frozen"), False),
        (Ne("status", "frozen"), True), (Ne("status", "active"), False), (Ge("fiat", 100), True),
        (Ge("fiat", 101), False), (In("status", ("active", "frozen")), True), (In("status", ("black",)), False),
        # a comparison with a missing field is false, as in DynamoDB
        (Eq("missing_field_of_nothing", 1), False), (Ne("missing_field_of_nothing", 1), False),
    ])
    def test_conditions(self, store, condition, holds):
        store.apply([Put(_wallet(fiat=100))])
        name = getattr(condition, "field", None)
        if name == "missing_field_of_nothing":
            condition = type(condition)("paid_entry", 1)  # a field of Order, absent on this order
            store.apply([Put(_order("o1"))])
            change = Update(Order, Order.key_of("o1"), set={"escrow": 1}, when=(condition,))
        else:
            change = Update(Wallet, Wallet.key_of("w1"), add={"coin": 1}, when=(condition,))
        if holds:
            store.commit([_entry()], [change])
        else:
            with pytest.raises(Conflict):
                store.commit([_entry()], [change])

    def test_ordered_updates_refuse_a_commit_older_than_the_last_one(self, store):
        store.commit([_entry(ts=2_000)], [Put(_wallet())])
        store.commit([_entry(ts=3_000)], [Update(Wallet, Wallet.key_of("w1"), add={"fiat": 1})])
        with pytest.raises(Conflict):
            store.commit([_entry(ts=2_500)], [Update(Wallet, Wallet.key_of("w1"), add={"fiat": 1})])
        # counters whose order is moot are not ordered
        store.commit([_entry(ts=2_500)], [Update(Wallet, Wallet.key_of("w1"), add={"coin": 1}, ordered=False)])
        assert store.get(Wallet, Wallet.key_of("w1")).fiat == 101

    def test_a_conditional_delete(self, store):
        store.apply([Put(_wallet())])
        with pytest.raises(Conflict):
            store.apply([Delete(Wallet, Wallet.key_of("w1"), when=(Eq("status", "frozen"),))])
        store.apply([Delete(Wallet, Wallet.key_of("w1"), when=(Eq("status", "active"),))])
        assert store.get(Wallet, Wallet.key_of("w1")) is None

    # --- partitions and the index

    def test_a_partition_reads_in_sort_key_order_from_a_cursor(self, store):
        rows = [History(wallet_id="w1", ts=ts, entry_id=f"e{ts}", type="t", asset="fiat", delta=ts) for ts in (3, 1, 2)]
        store.put_all(rows)
        store.put_all([History(wallet_id="w2", ts=9, entry_id="x", type="t", asset="fiat", delta=9)])
        found = store.query(History, "history#w1")
        assert [r.ts for r in found] == [1, 2, 3]
        assert [r.ts for r in store.query(History, "history#w1", after=found[0].key.sk, limit=1)] == [2]

    def test_the_index_lists_by_key_and_follows_status_changes(self, store):
        store.apply([Put(_node("c1", ts=2)), Put(_node("c2", ts=1)), Put(_node("m1", role="merchant"))])
        assert [n.node_id for n in store.index(Node, nodes_index("consumer", "active"))] == ["c2", "c1"]
        store.commit([_entry()], [Update.of(_node("c2", ts=1), set={"status": "revoked"})])
        assert [n.node_id for n in store.index(Node, nodes_index("consumer", "active"))] == ["c1"]
        assert [n.node_id for n in store.index(Node, nodes_index("consumer", "revoked"))] == ["c2"]

    def test_an_item_leaves_the_index_when_it_has_no_index_key(self, store):
        store.apply([Put(_order("o1")), Put(_order("o2"))])
        assert [o.order_id for o in store.index(Order, open_orders_index("m1"))] == ["o1", "o2"]
        store.commit([_entry()], [Update.of(_order("o1"), set={"status": "shipped"})])
        assert [o.order_id for o in store.index(Order, open_orders_index("m1"))] == ["o2"]

    def test_the_index_pages_from_a_cursor(self, store):
        goods = [Goods(product=f"p{i}", seller="s", title="", first_vote=i, up=i) for i in range(5)]
        store.apply([Put(g) for g in goods])
        first = store.index(Goods, GOODS_INDEX, limit=2)
        assert [g.product for g in first] == ["p4", "p3"]
        rest = store.index(Goods, GOODS_INDEX, after=first[-1].index_key().sk)
        assert [g.product for g in rest] == ["p2", "p1", "p0"]

    def test_nonces_are_claimed_once(self, store):
        assert store.claim_nonce("k", "n1", "idem-1", 10**10) is None
        assert store.claim_nonce("k", "n1", "idem-2", 10**10) == "idem-1"
        assert store.claim_nonce("k2", "n1", "idem-2", 10**10) is None

    # --- the ledger's storage

    def test_the_queue_is_oldest_first_across_shards(self, store):
        entries = [_entry(ts=1_000 + i) for i in range(40)]
        for entry in reversed(entries):
            store.commit([entry], [])
        assert [p.id for p in ledger_storage.oldest_pending(25)] == [e.id for e in entries[:25]]
        ledger_storage.delete_pending([(p.shard, p.seq) for p in ledger_storage.oldest_pending(10)])
        assert ledger_storage.oldest_pending(1)[0].id == entries[10].id

    def test_a_height_is_stored_once(self, store):
        block = Block(height=0, header="{}", hash="h", sig="s", ids=["a"], frontier=[])
        assert ledger_storage.put_block(block) is True
        assert ledger_storage.put_block(Block(0, "{}", "other", "s", ["b"], [])) is False
        assert ledger_storage.get_block(0).hash == "h" and ledger_storage.get_block(1) is None

    def test_the_head_only_moves_forward(self, store):
        assert ledger_storage.completed_height() == -1
        ledger_storage.advance_completed_height(3)
        ledger_storage.advance_completed_height(2)
        assert ledger_storage.completed_height() == 3

    def test_positions_and_nodes(self, store):
        ledger_storage.write_positions(4, 10, ["a", "b"])
        assert ledger_storage.position_of("b").idx == 11 and ledger_storage.position_of("b").height == 4
        assert ledger_storage.sealed_ids(["a", "z"]) == {"a"}
        nodes = [(0, i, bytes([i]) * 32) for i in range(3)]
        ledger_storage.write_nodes(nodes)
        assert ledger_storage.read_node(0, 2) == bytes([2]) * 32
        with pytest.raises(MissingNode):
            ledger_storage.read_node(0, 3)

    def test_sealer_keys_merge_by_key_id(self, store):
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": "x", "kid": "a" * 32}
        ledger_storage.record_sealer_keys([{"jwk": jwk, "added": 0, "revoked": None}])
        ledger_storage.record_sealer_keys([{"jwk": jwk, "added": 0, "revoked": 9}])
        assert ledger_storage.sealer_keys() == [{"jwk": jwk, "added": 0, "revoked": 9}]


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self):
        store = MemoryStore()
        backend.use(store)
        yield store
        backend.use(None)


@pytest.mark.dynamodb
class TestDynamoStore(StoreContract):
    @pytest.fixture
    def store(self, aws):
        return backend.state()


# --- both at once: random change lists, the same outcome and the same state

_WALLETS = ["a", "b", "c"]
_condition = st.one_of(
    st.builds(Eq, st.just("status"), st.sampled_from(["active", "frozen"])),
    st.builds(Ge, st.just("fiat"), st.integers(0, 30)),
    st.builds(Ne, st.just("status"), st.sampled_from(["active", "frozen"])),
    st.just(Exists()), st.just(Absent()),
)
_change = st.one_of(
    st.builds(lambda w, fiat, status: Put(_wallet(w, fiat=fiat, status=status), if_absent=True),
              st.sampled_from(_WALLETS), st.integers(0, 30), st.sampled_from(["active", "frozen"])),
    st.builds(lambda w, fiat, status: Put(_wallet(w, fiat=fiat, status=status), if_absent=False),
              st.sampled_from(_WALLETS), st.integers(0, 30), st.sampled_from(["active", "frozen"])),
    st.builds(lambda w, delta, when: Update(Wallet, Wallet.key_of(w), add={"fiat": delta}, when=tuple(when)),
              st.sampled_from(_WALLETS), st.integers(-20, 20), st.lists(_condition, max_size=2)),
    st.builds(lambda w, status, when: Update(Wallet, Wallet.key_of(w), set={"status": status}, when=tuple(when)),
              st.sampled_from(_WALLETS), st.sampled_from(["active", "frozen"]), st.lists(_condition, max_size=2)),
    st.builds(lambda w, when: Check(Wallet, Wallet.key_of(w), tuple(when)),
              st.sampled_from(_WALLETS), st.lists(_condition, min_size=1, max_size=2)),
    st.builds(lambda w, when: Delete(Wallet, Wallet.key_of(w), tuple(when)),
              st.sampled_from(_WALLETS), st.lists(_condition, max_size=1)),
)


def _distinct(changes):
    seen, kept = set(), []
    for change in changes:
        key = change.record.key if isinstance(change, Put) else change.key
        if key not in seen:
            seen.add(key)
            kept.append(change)
    return kept


def _outcome(store, changes, ts):
    try:
        store.commit([_entry(ts=ts)], changes)
        return "ok"
    except Conflict:
        return "conflict"


@pytest.mark.dynamodb
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_change, min_size=1, max_size=4).map(_distinct), min_size=1, max_size=6))
def test_both_stores_agree_on_every_commit(aws, commits):
    dynamo = backend.state()
    memory = MemoryStore()
    for step, changes in enumerate(commits):
        ts = 1_800_000_000_000 + step
        assert _outcome(memory, changes, ts) == _outcome(dynamo, changes, ts), changes
    keys = [Key(f"wallet#{w}") for w in _WALLETS]
    assert memory.get_many(Wallet, keys) == dynamo.get_many(Wallet, keys)
    for key in keys:  # leave nothing behind for the next example
        dynamo.apply([Delete(Wallet, key)])
