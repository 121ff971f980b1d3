"""Sub-chains as cosigners, from the log's side: registration, retirement, the cosignatures it takes or refuses,
and finality by a quorum of cosigning sub-chains (issue 9, points 1, 3 and 4)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.cosigners import subchain_id
from chalicelib.ledger.keys import raw_public
from chalicelib.ledger.note import cosignature_line, cosigners_of, parse_note, parse_vkey
from chalicelib.services import reading
from chalicelib.services.sealing import seal_pending_entries
from tests.actors import Actor, answer, expect, register_consumer
from tests.adversarial.ledger_server import flipped


def _public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(raw_public(key.public_key())).decode()


class Sub:
    """A sub-chain as the log sees it: a key, registered by a node; it cosigns what it is given."""

    def __init__(self, owner: Actor):
        self.key = Ed25519PrivateKey.generate()
        self.owner = owner
        self.id = subchain_id(raw_public(self.key.public_key()))
        self.name = ""

    def register(self) -> dict:
        body = expect(self.owner.post("/subchains", {"public_key": _public(self.key)}), 201)
        self.name = body["name"]
        return body

    def line(self, checkpoint: str | None = None, when: int | None = None) -> str:
        body = parse_note(checkpoint or reading.checkpoint()).body
        return cosignature_line(self.name, body, self.key, int(time.time()) if when is None else when)

    def cosign(self, http, checkpoint: str | None = None, when: int | None = None, size: int | None = None):
        text = checkpoint or reading.checkpoint()
        size = size if size is not None else int(parse_note(text).body.split("\n")[1])
        return http.post(f"/checkpoints/{size}/cosignatures",
                         body=json.dumps({"cosignature": self.line(text, when).rstrip("\n")}),
                         headers={"Content-Type": "application/json"})


@pytest.fixture
def subs(running, chain):
    """Three operator sub-chains of the stamp node, registered and sealed into the tree."""
    found = [Sub(running.stamp) for _ in range(3)]
    for sub in found:
        sub.register()
    seal_pending_entries(chain)
    return found


def test_registration_enters_the_ledger_and_the_listing(running, subs, chain):
    listed = answer(running.http.get("/cosigners"))["cosigners"]
    assert [c["id"] for c in listed] == sorted(s.id for s in subs)
    origin = parse_note(reading.checkpoint()).body.split("\n")[0]
    for item in listed:
        assert item["name"] == f"{origin}/subchain/{item['id']}" and item["retired"] is None
        verifier = parse_vkey(item["vkey"])
        assert verifier.key_type == 0x04 and verifier.name == item["name"]
        entry = answer(running.http.get(f"/entries/{_entry_at(running, item['registered'])}"))["entry"]
        assert entry["type"] == "subchain.registered" and entry["data"]["cosigner"]["vkey"] == item["vkey"]
        assert entry["actor"] == "stamp" and entry["auth"] is not None


def _entry_at(running, index: int) -> str:
    for height in range(reading.head()["header"]["height"] + 1):
        block = answer(running.http.get(f"/blocks/{height}"))
        first = block["header"]["log_size"] - block["header"]["count"]
        if first <= index < block["header"]["log_size"]:
            return block["entries"][index - first]["id"]
    raise AssertionError(index)


def test_a_registration_not_yet_sealed_is_not_listed_and_cannot_cosign(running, chain):
    sub = Sub(running.stamp)
    sub.register()
    assert answer(running.http.get("/cosigners")) == {"cosigners": []}
    expect(sub.cosign(running.http), 404, "cosigner_unknown")


def test_registration_refusals(running, subs):
    consumer = running.consumers[0]
    # a sub-chain's key is used for nothing else: not a node's key
    expect(consumer.post("/subchains", {"public_key": _public(consumer.key)}), 409, "key_in_use")
    # one key, one sub-chain
    expect(running.stamp.post("/subchains", {"public_key": _public(subs[0].key)}), 409, "subchain_exists")
    # a consumer runs one sub-chain at a time; the stamp node runs the operator's
    Sub(consumer).register()
    expect(consumer.post("/subchains", {"public_key": _public(Ed25519PrivateKey.generate())}), 409,
           "subchain_limit")
    for bad in ("", "AAAA", "x" * 44, base64.b64encode(b"\x01" * 31).decode() + "="):
        refused = expect(consumer.post("/subchains", {"public_key": bad}), 400)
        assert refused["error"]["field"] == "public_key"
    refused = expect(consumer.post("/subchains", {"public_key": _public(Ed25519PrivateKey.generate()), "x": 1}), 400)
    assert refused["error"]["code"] == "invalid_body"


def test_the_log_keeps_valid_cosignatures_and_serves_them_with_the_checkpoint(running, subs, chain):
    checkpoint = reading.checkpoint()
    size = int(parse_note(checkpoint).body.split("\n")[1])
    assert expect(subs[0].cosign(running.http), 201) == {"size": size, "subchain": subs[0].id,
                                                         "time": pytest.approx(time.time(), abs=5), "stored": True}
    again = expect(subs[0].cosign(running.http), 200)  # a repeat keeps the first line
    assert again["stored"] is False
    expect(subs[1].cosign(running.http), 201)
    served = running.http.get("/checkpoint")
    assert served.headers["Content-Type"].startswith("text/plain")
    text = served.body.decode() if isinstance(served.body, bytes) else served.body
    note = parse_note(text)
    assert text.startswith(checkpoint)
    vkeys = [parse_vkey(c["vkey"]) for c in answer(running.http.get("/cosigners"))["cosigners"]]
    assert set(cosigners_of(note, vkeys)) == {subs[0].name, subs[1].name}
    height = reading.head()["header"]["height"]
    assert running.http.get(f"/blocks/{height}/checkpoint").body == served.body
    # the tiles' checkpoint object carries them too (C2SP tlog-tiles readers read it from the bucket)
    from chalicelib.store import log_bucket

    assert log_bucket.get("checkpoint").body.decode() == text
    # a cosignature of an older checkpoint is kept under its size, and never moves the bucket's back
    expect(running.stamp.post("/deposits", {"wallet": running.consumers[0].wallet, "amount": 1}), 201)
    seal_pending_entries(chain)
    newest = log_bucket.get("checkpoint").body.decode()
    assert parse_note(newest).body != note.body
    expect(subs[2].cosign(running.http, checkpoint=checkpoint), 201)
    assert log_bucket.get("checkpoint").body.decode() == newest
    assert len(parse_note(reading.block_checkpoint(height)).signatures) == 4


def test_cosignatures_the_log_refuses_each_with_its_code(running, subs, chain):
    http = running.http
    checkpoint = reading.checkpoint()
    size = int(parse_note(checkpoint).body.split("\n")[1])
    # a line that does not verify: one bit of the signature flipped
    forged = flipped(subs[0].line(checkpoint), -1)
    _expect_cosig(http, size, forged, 400, "cosignature_invalid")
    # a cosignature of another checkpoint, sent under this size
    other = Sub(running.stamp)
    other.name = subs[1].name
    other.key = subs[1].key
    older = reading.block_checkpoint(0)
    _expect_cosig(http, size, subs[1].line(older), 400, "cosignature_invalid")
    # not a signature line at all, and not JSON
    _expect_cosig(http, size, "hello", 400, "invalid_body")  # not the shape of a line: the body's schema refuses it
    response = http.post(f"/checkpoints/{size}/cosignatures", body="nope", headers={"Content-Type": "application/json"})
    expect(response, 400)
    # a key no one registered
    stranger = Sub(running.stamp)
    stranger.name = subs[0].name.rsplit("/", 1)[0] + "/" + stranger.id
    _expect_cosig(http, size, stranger.line(checkpoint), 404, "cosigner_unknown")
    # a registered name with another key
    impostor = Sub(running.stamp)
    impostor.name = subs[2].name
    _expect_cosig(http, size, impostor.line(checkpoint), 404, "cosigner_unknown")
    # a size no checkpoint has
    _expect_cosig(http, size + 1, subs[0].line(checkpoint), 404, "checkpoint_unknown")
    # a tree from before the sub-chain was registered
    _expect_cosig(http, 1, subs[0].line(reading.block_checkpoint(0)), 404, "cosigner_unknown")
    # a time far ahead of the log's clock
    _expect_cosig(http, size, subs[0].line(checkpoint, when=int(time.time()) + 3600), 400, "cosignature_invalid")
    # a retired sub-chain
    expect(running.stamp.post(f"/subchains/{subs[2].id}/retirement"), 200)
    _expect_cosig(http, size, subs[2].line(checkpoint), 409, "cosigner_retired")
    assert parse_note(reading.checkpoint()).signatures[1:] == ()


def _expect_cosig(http, size: int, line: str, status: int, code: str) -> dict:
    response = http.post(f"/checkpoints/{size}/cosignatures", body=json.dumps({"cosignature": line.rstrip("\n")}),
                         headers={"Content-Type": "application/json"})
    body = expect(response, status, code)
    assert "Traceback" not in json.dumps(body)
    return body


def test_retirement_by_its_owner_only_and_once(running, subs, chain):
    consumer = running.consumers[0]
    expect(consumer.post(f"/subchains/{subs[0].id}/retirement"), 403, "not_your_subchain")
    expect(running.stamp.post("/subchains/sc-0000000000000000/retirement"), 404, "cosigner_unknown")
    expect(running.stamp.post(f"/subchains/{subs[0].id}/retirement"), 200)
    expect(running.stamp.post(f"/subchains/{subs[0].id}/retirement"), 409, "cosigner_retired")
    seal_pending_entries(chain)
    listed = {c["id"]: c for c in answer(running.http.get("/cosigners"))["cosigners"]}
    retired = listed[subs[0].id]
    assert retired["retired"] is not None and retired["retired"] > retired["registered"]
    # a consumer's retired sub-chain frees its one place
    mine = Sub(consumer)
    mine.register()
    expect(consumer.post(f"/subchains/{mine.id}/retirement"), 200)
    Sub(consumer).register()


# --- finality by a quorum of cosigning sub-chains


def _paid_order(running, chain, unit_price: int) -> str:
    buyer, merchant = running.consumers[0], running.merchant
    expect(running.stamp.post("/deposits", {"wallet": buyer.wallet, "amount": 2 * unit_price}), 201)
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": merchant.node, "quantity": 1,
                                          "unit_price": unit_price, "unit_profit": 0}), 201)["order"]
    expect(buyer.post(f"/orders/{order}/payment", {"wallet": buyer.wallet}), 200)
    seal_pending_entries(chain)
    return order


def test_an_order_that_needs_half_cannot_ship_with_one_cosignature_fewer(running, subs, chain):
    order = _paid_order(running, chain, 150_000)  # 1,500.00: half of the sub-chains, rounded up: 2 of 3
    merchant = running.merchant
    expect(subs[0].cosign(running.http), 201)
    refused = expect(merchant.post(f"/orders/{order}/shipment"), 409, "order_not_final")
    assert refused["error"]["details"]["needed"] == 2 and refused["error"]["details"]["cosigned"] == 1
    expect(subs[1].cosign(running.http), 201)
    expect(merchant.post(f"/orders/{order}/shipment"), 200)
    assert answer(running.http.get(f"/orders/{order}"))["final_by"] == sorted([subs[0].id, subs[1].id])


def test_a_cosignature_of_a_tree_without_the_payment_does_not_count(running, subs, chain):
    before = reading.checkpoint()
    order = _paid_order(running, chain, 150_000)
    for sub in subs[:2]:
        # cosigned, and kept, but only for the tree before the payment
        expect(sub.cosign(running.http, checkpoint=before), 201)
    expect(running.merchant.post(f"/orders/{order}/shipment"), 409, "order_not_final")


def test_retired_and_unregistered_cosigners_do_not_count(running, subs, chain):
    order = _paid_order(running, chain, 150_000)
    expect(subs[0].cosign(running.http), 201)
    expect(subs[1].cosign(running.http), 201)
    expect(running.stamp.post(f"/subchains/{subs[1].id}/retirement"), 200)
    # one active cosigner of two active: needs ceil(2 x 50%) = 1... but sub 1's cosignature no longer counts
    finality = answer(running.http.get(f"/orders/{order}"))["finality"]
    assert finality["cosigners"] == [subs[0].id] and finality["active"] == 2
    # an unregistered key's line is refused, so it can never count
    stranger = Sub(running.stamp)
    stranger.name = subs[0].name.rsplit("/", 1)[0] + "/" + stranger.id
    _expect_cosig(running.http, int(parse_note(reading.checkpoint()).body.split("\n")[1]),
                  stranger.line(), 404, "cosigner_unknown")


def test_a_large_order_needs_every_active_sub_chain_and_at_least_one(running, chain):
    order = _paid_order(running, chain, 1_000_000)  # from 10,000.00: every sub-chain
    refused = expect(running.merchant.post(f"/orders/{order}/shipment"), 409, "order_not_final")
    assert refused["error"]["details"]["needed"] == 1 and refused["error"]["details"]["active"] == 0


def test_a_sub_chain_that_stops_does_not_block_small_orders(running, subs, chain):
    small = _paid_order(running, chain, 1_000)  # below 1,000.00: final once paid
    expect(running.merchant.post(f"/orders/{small}/shipment"), 200)
    middle = _paid_order(running, chain, 150_000)  # two of three cosign; the third has stopped
    for sub in subs[:2]:
        expect(sub.cosign(running.http), 201)
    expect(running.merchant.post(f"/orders/{middle}/shipment"), 200)


def test_a_consumer_runs_one_sub_chain_and_it_counts_like_any_other(running, subs, chain):
    mine = Sub(register_consumer(running.http))
    mine.register()
    seal_pending_entries(chain)
    order = _paid_order(running, chain, 150_000)  # now 4 active: needs 2
    expect(mine.cosign(running.http), 201)
    expect(running.merchant.post(f"/orders/{order}/shipment"), 409, "order_not_final")
    expect(subs[2].cosign(running.http), 201)
    expect(running.merchant.post(f"/orders/{order}/shipment"), 200)


def test_a_node_that_is_not_active_registers_no_sub_chain(running):
    pending = Actor(running.http)
    identity = {"legal_name": "Late Shop", "licence_number": "L-9", "registered_ip": "192.0.2.9", "contact": "x@y"}
    pending.node = expect(pending.post("/nodes", {"role": "merchant", "jwk": pending.jwk, "identity": identity}),
                          201)["node"]
    expect(pending.post("/subchains", {"public_key": _public(Ed25519PrivateKey.generate())}), 403, "node_not_active")


def test_a_sub_chain_key_cannot_become_a_node_key(running, subs):
    borrowed = Actor(running.http, key=subs[0].key)
    expect(borrowed.post("/nodes", {"role": "consumer", "jwk": borrowed.jwk}), 409, "key_in_use")


def test_the_stamp_node_retires_a_sub_chain_that_blocks_large_orders(running, subs, chain):
    """A stranger's sub-chain that never cosigns counts while it is new; the stamp node, which curates what
    finality counts, retires it (a subchain.retired entry it signs, naming the owner)."""
    stranger = Sub(register_consumer(running.http))
    stranger.register()
    seal_pending_entries(chain)
    order = _paid_order(running, chain, 1_000_000)  # every active sub-chain
    for sub in subs:
        expect(sub.cosign(running.http), 201)
    refused = expect(running.merchant.post(f"/orders/{order}/shipment"), 409, "order_not_final")
    assert refused["error"]["details"]["needed"] == 4
    retired = expect(running.stamp.post(f"/subchains/{stranger.id}/retirement"), 200)
    seal_pending_entries(chain)
    entry = answer(running.http.get(f"/entries/{retired['entry']}"))["entry"]
    assert (entry["actor"], entry["data"]) == ("stamp", {"id": stranger.id, "node": stranger.owner.node})
    expect(running.merchant.post(f"/orders/{order}/shipment"), 200)


def test_a_sub_chain_that_has_not_cosigned_for_an_hour_leaves_the_count(running, subs, chain, monkeypatch):
    from chalicelib.services import cosigners

    stranger = Sub(register_consumer(running.http))
    stranger.register()
    seal_pending_entries(chain)
    monkeypatch.setattr(cosigners, "LIVENESS_MS", 1_500)
    time.sleep(1.6)  # every registration is now older than the window, and nothing was cosigned
    assert cosigners.active_cosigners() == []
    order = _paid_order(running, chain, 1_000_000)
    refused = expect(running.merchant.post(f"/orders/{order}/shipment"), 409, "order_not_final")
    assert refused["error"]["details"]["needed"] == 1  # never final with no sub-chain at all
    for sub in subs:  # the operator's sub-chains cosign: live again; the stranger's stopped one does not count
        expect(sub.cosign(running.http), 201)
    assert sorted(c.subchain_id for c in cosigners.active_cosigners()) == sorted(s.id for s in subs)
    expect(running.merchant.post(f"/orders/{order}/shipment"), 200)


def test_at_most_99_cosignature_lines_are_served_the_operator_s_first(running, subs, chain, monkeypatch):
    """signed-note readers may refuse more than 100 signatures (Go's note.Open does): the log serves 99 at most."""
    from chalicelib.services import cosigners

    assert cosigners.MAX_SERVED_COSIGNATURES == 99
    monkeypatch.setattr(cosigners, "MAX_SERVED_COSIGNATURES", 3)
    mine = Sub(register_consumer(running.http))
    mine.register()
    seal_pending_entries(chain)
    expect(mine.cosign(running.http), 201)  # the first to cosign, but not the operator's
    for sub in subs:
        expect(sub.cosign(running.http), 201)
    served = parse_note(reading.checkpoint())
    assert sorted(s.name for s in served.signatures[1:]) == sorted(s.name for s in subs)


def test_a_line_refused_on_its_face_costs_the_log_no_block_read(running, subs, monkeypatch):
    from chalicelib.store import ledger

    size = int(parse_note(reading.checkpoint()).body.split("\n")[1])
    ahead, early = subs[0].line(when=int(time.time()) + 3600), subs[0].line(reading.block_checkpoint(0))
    reads: list[int] = []
    real = ledger.get_block
    monkeypatch.setattr(ledger, "get_block", lambda height: reads.append(height) or real(height))
    _expect_cosig(running.http, size, ahead, 400, "cosignature_invalid")
    _expect_cosig(running.http, 1, early, 404, "cosigner_unknown")
    assert reads == []
