"""Nodes and wallets: registration with a client-made key, merchant approval by the stamp node."""

from __future__ import annotations

import json
from typing import Any

from ..domain.records import Counts, IdentityClaim, KeyBinding, Node, Wallet
from ..domain.rules import identity_key
from ..errors import Conflict, Forbidden, NotFound
from ..store import backend
from ..store.port import Eq, Put, Update
from .ledger import Draft, commit, new_entry_id, now_ms
from .program import allowed, require_stamp
from .signed import SignedRequest


def node_id_for(role: str, kid: str) -> str:
    return f"{role[0]}-{kid[:16]}"


def wallet_id_for(kid: str) -> str:
    return f"w-{kid[:16]}"


def get_node(node_id: str) -> Node:
    found = backend.state().get(Node, Node.key_of(node_id))
    if found is None:
        raise NotFound(f"there is no node {node_id}", field="node")
    return found


def get_wallet(wallet_id: str) -> Wallet:
    found = backend.state().get(Wallet, Wallet.key_of(wallet_id))
    if found is None:
        raise NotFound(f"there is no wallet {wallet_id}", field="wallet")
    return found


def node_view(node: Node) -> dict[str, Any]:
    return {"node": node.node_id, "role": node.role, "kid": node.kid, "status": node.status,
            "approved": bool(node.approved), "wallet": node.wallet_id,
            "identity": json.loads(node.identity) if node.identity else None}


def _new_wallet(wallet_id: str, node_id: str, kid: str, now: int) -> Put:
    return Put(Wallet(wallet_id=wallet_id, node_id=node_id, kid=kid, status="active", ts=now))


def _not_a_subchain_key(jwk: dict[str, str]) -> None:
    """A sub-chain's key is used for nothing else: not as a node's key either."""
    from ..domain.records import Cosigner
    from ..ledger.cosigners import subchain_id
    from ..ledger.keys import public_key_from_jwk, raw_public

    if backend.state().get(Cosigner, Cosigner.key_of(subchain_id(raw_public(public_key_from_jwk(jwk))))) is not None:
        raise Conflict("this key is a sub-chain's key; it is used for nothing else", field="jwk", code="key_in_use")


def register(signed: SignedRequest, role: str, jwk: dict[str, str], identity: dict[str, Any] | None,
             ) -> tuple[int, dict[str, Any]]:
    """A consumer (active at once, with its wallet) or a merchant (pending the stamp node's approval)."""
    if signed.node is not None:
        raise Conflict("this key already belongs to a node", field="jwk", code="key_already_registered")
    if jwk["kid"] != signed.kid:
        raise Forbidden("a node registers with the key that signs the request", field="jwk", code="key_mismatch")
    _not_a_subchain_key(jwk)
    _, guard = allowed("register")
    now = now_ms()
    node_id = node_id_for(role, signed.kid)
    wallet_id = wallet_id_for(signed.kid)
    consumer = role == "consumer"
    key = identity_key(identity["legal_name"], identity["licence_number"]) if identity else None
    node = Node(node_id=node_id, role=role, kid=signed.kid, jwk=json.dumps(jwk),
                status="active" if consumer else "pending", identity=json.dumps(identity) if identity else None,
                identity_key=key, approved=consumer, wallet_id=wallet_id if consumer else None, ts=now)
    data: dict[str, Any] = {"node": node_id, "role": role, "jwk": jwk}
    if identity:
        data["identity"] = identity
    drafts = [Draft("node.registered", node_id, data, signed.auth, id=new_entry_id(now))]
    changes: list[Any] = [guard, Put(node), Put(KeyBinding(kid=signed.kid, node_id=node_id))]
    if consumer:
        drafts.append(Draft("wallet.issued", "system", {"wallet": wallet_id, "node": node_id, "kid": signed.kid}))
        changes += [_new_wallet(wallet_id, node_id, signed.kid, now),
                    Update(Counts, Counts.key_of(), add={"consumers": 1}, ordered=False)]
    else:
        assert key is not None
        changes.append(Put(IdentityClaim(identity_key=key, node_id=node_id)))
    answer = {**node_view(node), "entry": drafts[0].id}
    changes.append(signed.remember(201, answer))
    try:
        commit(drafts, changes)
    except Conflict as exc:
        if backend.state().get(KeyBinding, KeyBinding.key_of(signed.kid)) is None and (
                key is None or backend.state().get(IdentityClaim, IdentityClaim.key_of(key)) is None):
            raise  # not a duplicate: the program changed state under the request
        raise Conflict("this key or this merchant identity is already registered",
                       code="already_registered") from exc
    return 201, answer


def approve_merchant(signed: SignedRequest, node_id: str) -> tuple[int, dict[str, Any]]:
    """The stamp node approves a pending merchant, which gets its wallet."""
    require_stamp(signed)
    _, guard = allowed("approve_merchant")
    node = get_node(node_id)
    if node.role != "merchant" or node.status != "pending":
        raise Conflict(f"{node_id} is not a merchant awaiting approval", code="not_pending")
    now = now_ms()
    wallet_id = wallet_id_for(node.kid)
    drafts = [Draft("merchant.approved", signed.node_id, {"node": node_id}, signed.auth, id=new_entry_id(now)),
              Draft("wallet.issued", "system", {"wallet": wallet_id, "node": node_id, "kid": node.kid})]
    answer = {"node": node_id, "status": "active", "wallet": wallet_id, "entry": drafts[0].id}
    try:
        commit(drafts, [
            guard,
            Update.of(node, set={"status": "active", "approved": True, "wallet_id": wallet_id},
                      when=(Eq("status", "pending"),)),
            _new_wallet(wallet_id, node_id, node.kid, now),
            signed.remember(200, answer),
        ])
    except Conflict as exc:
        if get_node(node_id).status != "pending":
            raise Conflict(f"{node_id} is no longer awaiting approval", code="not_pending") from exc
        raise
    return 200, answer
