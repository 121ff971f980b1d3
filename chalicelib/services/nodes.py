"""Nodes and wallets: registration with a client-made key, merchant approval by the stamp node."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..domain.rules import identity_key
from ..errors import Conflict, Forbidden, NotFound, StorageError
from ..store.state_models import ITEM, IdentityClaim, KeyBinding, NodeRecord, ProgramRecord, WalletRecord
from .ledger import Draft, commit, new_entry_id, now_ms
from .program import require_stamp, save, update
from .signed import SignedRequest


def node_id_for(role: str, kid: str) -> str:
    return f"{role[0]}-{kid[:16]}"


def wallet_id_for(kid: str) -> str:
    return f"w-{kid[:16]}"


def get_node(node_id: str) -> NodeRecord:
    try:
        return NodeRecord.get(f"node#{node_id}", ITEM, consistent_read=True)
    except NodeRecord.DoesNotExist as exc:
        raise NotFound(f"there is no node {node_id}", field="node") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the node") from exc


def get_wallet(wallet_id: str) -> WalletRecord:
    try:
        return WalletRecord.get(f"wallet#{wallet_id}", ITEM, consistent_read=True)
    except WalletRecord.DoesNotExist as exc:
        raise NotFound(f"there is no wallet {wallet_id}", field="wallet") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the wallet") from exc


def node_view(node: NodeRecord) -> dict[str, Any]:
    return {"node": node.node_id, "role": node.role, "kid": node.kid, "status": node.status,
            "approved": bool(node.approved), "wallet": node.wallet_id,
            "identity": json.loads(node.identity) if node.identity else None}


def _wallet_writes(wallet_id: str, node_id: str, kid: str, now: int) -> Any:
    return save(WalletRecord(pk=f"wallet#{wallet_id}", sk=ITEM, wallet_id=wallet_id, node_id=node_id, kid=kid,
                             status="active", fiat=0, coin=0, ts=now), WalletRecord.pk.does_not_exist())


def register(signed: SignedRequest, role: str, jwk: dict[str, str], identity: dict[str, Any] | None,
             ) -> tuple[int, dict[str, Any]]:
    """A consumer (active at once, with its wallet) or a merchant (pending the stamp node's approval)."""
    if signed.node is not None:
        raise Conflict("this key already belongs to a node", field="jwk", code="key_already_registered")
    if jwk["kid"] != signed.kid:
        raise Forbidden("a node registers with the key that signs the request", field="jwk", code="key_mismatch")
    now = now_ms()
    node_id = node_id_for(role, signed.kid)
    wallet_id = wallet_id_for(signed.kid)
    consumer = role == "consumer"
    key = identity_key(identity["legal_name"], identity["licence_number"]) if identity else None
    node = NodeRecord(pk=f"node#{node_id}", sk=ITEM, node_id=node_id, role=role, kid=signed.kid,
                      jwk=json.dumps(jwk), status="active" if consumer else "pending",
                      identity=json.dumps(identity) if identity else None, identity_key=key, approved=consumer,
                      wallet_id=wallet_id if consumer else None, ts=now)
    data: dict[str, Any] = {"node": node_id, "role": role, "jwk": jwk}
    if identity:
        data["identity"] = identity
    drafts = [Draft("node.registered", node_id, data, signed.auth, id=new_entry_id(now))]
    writes = [save(node, NodeRecord.pk.does_not_exist()),
              save(KeyBinding(pk=f"kid#{signed.kid}", sk=ITEM, node_id=node_id), KeyBinding.pk.does_not_exist())]
    if consumer:
        drafts.append(Draft("wallet.issued", "system", {"wallet": wallet_id, "node": node_id, "kid": signed.kid}))
        writes += [_wallet_writes(wallet_id, node_id, signed.kid, now),
                   update(ProgramRecord(pk="program", sk=ITEM), [ProgramRecord.consumers.add(1)], ordered=False)]
    else:
        writes.append(save(IdentityClaim(pk=f"identity#{key}", sk=ITEM, node_id=node_id),
                           IdentityClaim.pk.does_not_exist()))
    answer = {**node_view(node), "entry": drafts[0].id}
    writes.append(signed.remember(201, answer))
    try:
        commit(drafts, writes)
    except Conflict as exc:
        raise Conflict("this key or this merchant identity is already registered",
                       code="already_registered") from exc
    return 201, answer


def approve_merchant(signed: SignedRequest, node_id: str) -> tuple[int, dict[str, Any]]:
    """The stamp node approves a pending merchant, which gets its wallet."""
    require_stamp(signed)
    node = get_node(node_id)
    if node.role != "merchant" or node.status != "pending":
        raise Conflict(f"{node_id} is not a merchant awaiting approval", code="not_pending")
    now = now_ms()
    wallet_id = wallet_id_for(node.kid)
    drafts = [Draft("merchant.approved", signed.node_id, {"node": node_id}, signed.auth, id=new_entry_id(now)),
              Draft("wallet.issued", "system", {"wallet": wallet_id, "node": node_id, "kid": node.kid})]
    answer = {"node": node_id, "status": "active", "wallet": wallet_id, "entry": drafts[0].id}
    commit(drafts, [
        update(NodeRecord(pk=f"node#{node_id}", sk=ITEM),
               [NodeRecord.status.set("active"), NodeRecord.approved.set(True), NodeRecord.wallet_id.set(wallet_id)],
               NodeRecord.status == "pending"),
        _wallet_writes(wallet_id, node_id, node.kid, now),
        signed.remember(200, answer),
    ])
    return 200, answer
