"""The legality sweep: the constitution, enforced with no vote, on a schedule or when the stamp node asks.

Each finding and each action is an entry that names the rule and its inputs.
A halt for impostors happens at once; the impostors are revoked; then the
system restores itself to the state it was in, with the one genuine stamp node.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..domain.legality import Findings, NodeView, WalletView, find_violations
from ..errors import StorageError
from ..store.state_models import ITEM, NodeRecord, ProgramRecord, WalletRecord
from .ledger import Draft, commit
from .program import HALTED, STAMP_NODE, program, start_if_authorised, update


def snapshot() -> tuple[list[NodeView], list[WalletView]]:
    try:
        nodes = [NodeView(n.node_id, n.role, n.status, int(n.ts), n.identity_key)
                 for n in NodeRecord.scan(NodeRecord.pk.startswith("node#"))]
        wallets = [WalletView(w.wallet_id, w.node_id, w.status, int(w.ts))
                   for w in WalletRecord.scan(WalletRecord.pk.startswith("wallet#"))]
    except PynamoDBException as exc:
        raise StorageError("could not read nodes and wallets") from exc
    return nodes, wallets


def _revoke_node(node_id: str, rule: str, inputs: dict[str, Any], wallets: list[WalletView]) -> None:
    node = NodeRecord.get(f"node#{node_id}", ITEM, consistent_read=True)
    owned = [w.wallet_id for w in wallets if w.node_id == node_id]
    writes = [update(NodeRecord(pk=f"node#{node_id}", sk=ITEM), [NodeRecord.status.set("revoked")])]
    writes += [update(WalletRecord(pk=f"wallet#{w}", sk=ITEM), [WalletRecord.status.set("revoked")]) for w in owned]
    commit([Draft("node.revoked", "system", {"node": node_id, "wallets": owned, "revoke_kid": node.kid,
                                              "rule": rule, "inputs": inputs})], writes)


def enforce(findings: Findings, wallets: list[WalletView]) -> list[str]:
    """Act on the findings; returns the entry types written, in order."""
    actions: list[str] = []
    if findings.halts:
        before = program()
        inputs = {"impostor_stamps": findings.impostor_stamps, "duplicate_merchants": findings.duplicate_merchants,
                  "genuine_stamp": STAMP_NODE}
        commit([Draft("system.halted", "system", {"rule": "constitution", "inputs": inputs})],
               [update(ProgramRecord(pk="program", sk=ITEM),
                       [ProgramRecord.status.set(HALTED), ProgramRecord.reason.set("constitution")])])
        actions.append("system.halted")
        for node_id in findings.impostor_stamps:
            _revoke_node(node_id, "constitution.single_stamp_node", {"genuine_stamp": STAMP_NODE}, wallets)
            actions.append("node.revoked")
        for kept, duplicates in findings.duplicate_merchants.items():
            for node_id in duplicates:
                _revoke_node(node_id, "constitution.unique_merchant_identity", {"kept": kept}, wallets)
                actions.append("node.revoked")
        restored = before.status if before.status != HALTED else HALTED
        commit([Draft("system.restored", "system", {"rule": "constitution", "status": restored,
                                                     "genuine_stamp": STAMP_NODE})],
               [update(ProgramRecord(pk="program", sk=ITEM),
                       [ProgramRecord.status.set(restored), ProgramRecord.reason.set(before.reason)
                        if before.reason else ProgramRecord.reason.remove()])])
        actions.append("system.restored")
    for legal, extra in findings.black_wallets.items():
        for wallet_id in extra:
            node_id = next(w.node_id for w in wallets if w.wallet_id == wallet_id)
            commit([Draft("wallet.blackened", "system", {"wallet": wallet_id, "node": node_id, "legal_wallet": legal,
                                                         "rule": "constitution.one_legal_wallet"})],
                   [update(WalletRecord(pk=f"wallet#{wallet_id}", sk=ITEM), [WalletRecord.status.set("black")])])
            actions.append("wallet.blackened")
    return actions


def sweep() -> dict[str, Any]:
    nodes, wallets = snapshot()
    findings = find_violations(nodes, wallets, STAMP_NODE)
    actions = enforce(findings, wallets) if findings.any else []
    started = start_if_authorised()
    return {"nodes": len(nodes), "wallets": len(wallets), "impostor_stamps": findings.impostor_stamps,
            "duplicate_merchants": findings.duplicate_merchants, "black_wallets": findings.black_wallets,
            "actions": actions, "program_started": started, "status": program().status}
