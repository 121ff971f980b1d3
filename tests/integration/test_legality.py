"""The legality sweep against illegal states made directly in the tables (as a bug or an attack would)."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.domain.records import KeyBinding, Node, Wallet
from chalicelib.domain.rules import identity_key
from chalicelib.ledger.keys import jwk_of
from chalicelib.services.sealing import seal_pending_entries
from tests import state
from tests.actors import answer, expect
from tests.integration.chain_checks import verified_chain


def _plant_node(node_id: str, role: str, ts: int, identity: dict | None = None) -> Node:
    key = Ed25519PrivateKey.generate()
    jwk = jwk_of(key.public_key())
    node = Node(node_id=node_id, role=role, kid=jwk["kid"], jwk=json.dumps(jwk), status="active",
                identity=json.dumps(identity) if identity else None,
                identity_key=identity_key(identity["legal_name"], identity["licence_number"]) if identity else None,
                approved=True, wallet_id=f"w-{node_id}", ts=ts)
    state.plant(node)
    state.plant(KeyBinding(kid=jwk["kid"], node_id=node_id))
    _plant_wallet(f"w-{node_id}", node_id, jwk["kid"], ts)
    return node


def _plant_wallet(wallet_id: str, node_id: str, kid: str, ts: int) -> None:
    state.plant(Wallet(wallet_id=wallet_id, node_id=node_id, kid=kid, status="active", fiat=0, coin=0, ts=ts))


def _entries(chain, kind: str) -> list[dict]:
    seal_pending_entries(chain)
    return [e for block in verified_chain() for e in block["entries"] if e["type"] == kind]


def test_a_second_stamp_node_halts_the_system_is_revoked_and_the_system_restores(running, chain):
    _plant_node("stamp-2", "stamp", ts=1)
    report = expect(running.stamp.post("/sweeps"), 200)
    assert report["impostor_stamps"] == ["stamp-2"]
    assert report["actions"] == ["system.halted", "node.revoked", "system.restored"]
    assert answer(running.http.get("/program"))["status"] == "running"
    assert answer(running.http.get("/nodes/stamp-2"))["status"] == "revoked"
    assert answer(running.http.get("/nodes/stamp"))["status"] == "active"
    halted = _entries(chain, "system.halted")[0]
    assert halted["data"]["rule"] == "constitution" and halted["data"]["inputs"]["impostor_stamps"] == ["stamp-2"]
    revoked = _entries(chain, "node.revoked")[0]
    assert revoked["data"]["node"] == "stamp-2" and revoked["data"]["revoke_kid"]
    assert _entries(chain, "system.restored")[0]["data"]["status"] == "running"


def test_two_merchants_with_one_identity_keep_the_oldest(running, chain):
    identity = {"legal_name": "Twin Goods", "licence_number": "T-9", "registered_ip": "192.0.2.5", "contact": "t@t"}
    _plant_node("m-older", "merchant", ts=10, identity=identity)
    _plant_node("m-newer", "merchant", ts=20, identity={**identity, "legal_name": " twin  GOODS "})
    report = expect(running.stamp.post("/sweeps"), 200)
    assert report["duplicate_merchants"] == {"m-older": ["m-newer"]}
    assert answer(running.http.get("/nodes/m-newer"))["status"] == "revoked"
    assert answer(running.http.get("/nodes/m-older"))["status"] == "active"
    assert answer(running.http.get("/wallets/w-m-newer"))["status"] == "revoked"
    assert answer(running.http.get("/program"))["status"] == "running"


def test_a_merchant_with_two_wallets_keeps_the_oldest_as_legal(running, chain):
    merchant = running.merchant
    node = state.get(Node, Node.key_of(merchant.node))
    _plant_wallet("w-second", merchant.node, node.kid, ts=10**13)
    _plant_wallet("w-third", merchant.node, node.kid, ts=10**13 + 1)
    report = expect(running.stamp.post("/sweeps"), 200)
    assert report["black_wallets"] == {merchant.wallet: ["w-second", "w-third"]}
    assert answer(running.http.get("/wallets/w-second"))["status"] == "black"
    assert answer(running.http.get(f"/wallets/{merchant.wallet}"))["status"] == "active"
    blackened = _entries(chain, "wallet.blackened")
    assert {e["data"]["wallet"] for e in blackened} == {"w-second", "w-third"}
    assert all(e["data"]["legal_wallet"] == merchant.wallet for e in blackened)
    # a second sweep finds nothing new
    assert expect(running.stamp.post("/sweeps"), 200)["actions"] == []


def test_a_clean_ledger_sweeps_clean(running):
    report = expect(running.stamp.post("/sweeps"), 200)
    assert report["actions"] == [] and report["status"] == "running"


def test_only_the_stamp_node_asks_for_a_sweep(running):
    expect(running.consumers[0].post("/sweeps"), 403, "stamp_only")


def test_the_scheduled_sweep_runs_the_same_rules(running, chain):
    from chalice.test import Client

    from app import app

    _plant_node("stamp-3", "stamp", ts=1)
    with Client(app, stage_name="test") as client:
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
        result = client.lambda_.invoke("legality_sweep", event).payload
    assert result["impostor_stamps"] == ["stamp-3"] and "node.revoked" in result["actions"]


def test_a_revoked_node_key_is_refused(running):
    consumer = running.consumers[0]
    state.change(state.get(Node, Node.key_of(consumer.node)), status="revoked")
    expect(consumer.post("/exchanges", {"wallet": consumer.wallet, "direction": "fiat_to_coin", "amount": 1}), 403,
           "key_revoked")


def test_a_sweep_interrupted_after_its_halt_is_completed_by_the_next(running, chain, monkeypatch):
    from chalicelib.errors import StorageError
    from chalicelib.services import legality

    _plant_node("stamp-x", "stamp", ts=1)
    real = legality._revoke_node

    def broken(*args, **kwargs):
        raise StorageError("DynamoDB went away")

    monkeypatch.setattr(legality, "_revoke_node", broken)
    expect(running.stamp.post("/sweeps"), 503, "storage_unavailable")
    assert answer(running.http.get("/program"))["status"] == "halted"
    monkeypatch.setattr(legality, "_revoke_node", real)
    report = expect(running.stamp.post("/sweeps"), 200)
    assert report["actions"] == ["node.revoked", "system.restored"]
    assert answer(running.http.get("/program"))["status"] == "running"
    again = expect(running.stamp.post("/sweeps"), 200)
    assert again["actions"] == [] and len(_entries(chain, "node.revoked")) == 1


def test_an_impostor_stamp_node_has_no_stamp_powers(running):
    from tests.actors import Actor

    impostor_node = _plant_node("stamp-evil", "stamp", ts=1)
    impostor = Actor(running.http, node="stamp-evil")
    # the planted node's key is unknown to us, so plant one we hold
    state.plant(KeyBinding(kid=impostor.kid, node_id="stamp-evil"))
    state.change(impostor_node, kid=impostor.kid, jwk=json.dumps(impostor.jwk))
    assert impostor_node.role == "stamp"
    expect(impostor.post("/deposits", {"wallet": running.consumers[0].wallet, "amount": 9_000_000}), 403,
           "stamp_only")
    expect(impostor.post("/sweeps"), 403, "stamp_only")
