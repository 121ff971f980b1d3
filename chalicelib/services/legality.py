"""The legality sweep: the constitution, enforced with no vote, on a schedule or when the stamp node asks.

Each finding and each action is an entry that names the rule and its inputs.
A halt for impostors happens at once; the impostors are revoked; then the
system restores itself to the state it was in, with the one genuine stamp node.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..domain.legality import Findings, NodeView, WalletView, find_violations
from ..errors import Conflict, StorageError
from ..store.state_models import ITEM, NodeRecord, ProgramRecord, WalletRecord
from .ledger import Draft, commit
from .program import HALTED, STAMP_NODE, program, require_stamp, start_if_authorised, update
from .signed import SignedRequest

CONSTITUTION = "constitution"
WALLETS_PER_COMMIT = 90


def snapshot() -> tuple[list[NodeView], list[WalletView]]:
    try:
        nodes = [NodeView(n.node_id, n.role, n.status, int(n.ts), n.identity_key)
                 for n in NodeRecord.scan(NodeRecord.pk.startswith("node#"))]
        wallets = [WalletView(w.wallet_id, w.node_id, w.status, int(w.ts))
                   for w in WalletRecord.scan(WalletRecord.pk.startswith("wallet#"))]
    except PynamoDBException as exc:
        raise StorageError("could not read nodes and wallets") from exc
    return nodes, wallets


def _revoke_node(node_id: str, rule: str, inputs: dict[str, Any], wallets: list[WalletView]) -> bool:
    """Revoke a node and its wallets; False if it already was (another sweep got there first)."""
    node = NodeRecord.get(f"node#{node_id}", ITEM, consistent_read=True)
    if node.status == "revoked":
        return False
    owned = [w.wallet_id for w in wallets if w.node_id == node_id]
    first, overflow = owned[:WALLETS_PER_COMMIT], owned[WALLETS_PER_COMMIT:]
    for start in range(0, len(overflow), WALLETS_PER_COMMIT):  # an impostor may hold very many wallets
        batch = overflow[start:start + WALLETS_PER_COMMIT]
        commit([Draft("wallets.revoked", "system", {"node": node_id, "wallets": batch, "rule": rule})],
               [update(WalletRecord(pk=f"wallet#{w}", sk=ITEM), [WalletRecord.status.set("revoked")]) for w in batch])
    revoke_wallets = [update(WalletRecord(pk=f"wallet#{w}", sk=ITEM), [WalletRecord.status.set("revoked")])
                      for w in first]
    try:
        commit([Draft("node.revoked", "system", {"node": node_id, "wallets": owned, "revoke_kid": node.kid,
                                                  "rule": rule, "inputs": inputs})],
               [update(NodeRecord(pk=f"node#{node_id}", sk=ITEM), [NodeRecord.status.set("revoked")],
                       NodeRecord.status != "revoked"), *revoke_wallets])
    except Conflict:
        return False
    return True


def _halt(inputs: dict[str, Any]) -> bool:
    """Halt at once, remembering what to restore; False if a constitutional halt is already in force."""
    current = program()
    if current.status == HALTED and current.reason == CONSTITUTION:
        return False
    try:
        commit([Draft("system.halted", "system", {"rule": CONSTITUTION, "inputs": inputs})],
               [update(ProgramRecord(pk="program", sk=ITEM),
                       [ProgramRecord.status.set(HALTED), ProgramRecord.reason.set(CONSTITUTION),
                        ProgramRecord.halted_from.set(current.status)],
                       ProgramRecord.status == current.status)])
    except Conflict:
        return False
    return True


def _restore() -> bool:
    """End a constitutional halt: back to the status it interrupted."""
    current = program()
    if current.status != HALTED or current.reason != CONSTITUTION:
        return False
    restored = current.halted_from or HALTED
    actions = [ProgramRecord.status.set(restored), ProgramRecord.halted_from.remove(), ProgramRecord.reason.remove()]
    try:
        commit([Draft("system.restored", "system", {"rule": CONSTITUTION, "status": restored,
                                                     "genuine_stamp": STAMP_NODE})],
               [update(ProgramRecord(pk="program", sk=ITEM), actions,
                       (ProgramRecord.status == HALTED) & (ProgramRecord.reason == CONSTITUTION))])
    except Conflict:
        return False
    return True


def enforce(findings: Findings, wallets: list[WalletView]) -> list[str]:
    """Act on the findings; returns the entry types written, in order. Safe to repeat or interrupt."""
    actions: list[str] = []
    if findings.halts:
        inputs = {"impostor_stamps": findings.impostor_stamps, "duplicate_merchants": findings.duplicate_merchants,
                  "genuine_stamp": STAMP_NODE}
        if _halt(inputs):
            actions.append("system.halted")
        for node_id in findings.impostor_stamps:
            if _revoke_node(node_id, "constitution.single_stamp_node", {"genuine_stamp": STAMP_NODE}, wallets):
                actions.append("node.revoked")
        for kept, duplicates in findings.duplicate_merchants.items():
            for node_id in duplicates:
                if _revoke_node(node_id, "constitution.unique_merchant_identity", {"kept": kept}, wallets):
                    actions.append("node.revoked")
    if _restore():  # also finishes a sweep that stopped between its halt and its restore
        actions.append("system.restored")
    for legal, extra in findings.black_wallets.items():
        for wallet_id in extra:
            node_id = next(w.node_id for w in wallets if w.wallet_id == wallet_id)
            try:
                commit([Draft("wallet.blackened", "system", {"wallet": wallet_id, "node": node_id,
                                                             "legal_wallet": legal,
                                                             "rule": "constitution.one_legal_wallet"})],
                       [update(WalletRecord(pk=f"wallet#{wallet_id}", sk=ITEM), [WalletRecord.status.set("black")],
                               WalletRecord.status != "black")])
            except Conflict:
                continue
            actions.append("wallet.blackened")
    return actions


def requested_sweep(signed: SignedRequest) -> tuple[int, dict[str, Any]]:
    """The stamp node asks for a sweep now; the request and what it did are an entry, its answer kept."""
    stamp = require_stamp(signed)
    report = sweep()
    commit([Draft("legality.swept", stamp.node_id, {"actions": report["actions"], "status": report["status"]},
                  signed.auth)], [signed.remember(200, report)])
    return 200, report


def sweep() -> dict[str, Any]:
    nodes, wallets = snapshot()
    findings = find_violations(nodes, wallets, STAMP_NODE)
    actions = enforce(findings, wallets)
    started = start_if_authorised()
    return {"nodes": len(nodes), "wallets": len(wallets), "impostor_stamps": findings.impostor_stamps,
            "duplicate_merchants": findings.duplicate_merchants, "black_wallets": findings.black_wallets,
            "actions": actions, "program_started": started, "status": program().status}
