"""The legality sweep: the constitution, enforced with no vote, on a schedule or when the stamp node asks.

Each finding and each action is an entry that names the rule and its inputs.
A halt for impostors happens at once; the impostors are revoked; then the
system restores itself to the state it was in, with the one genuine stamp node.
"""

from __future__ import annotations

from typing import Any

from ..domain.legality import Findings, NodeView, WalletView, find_violations
from ..domain.lifecycle import HALTED
from ..domain.records import LIVE, Node, Program, RefundsDue, Wallet, nodes_index, wallets_index
from ..errors import Conflict
from ..store import backend
from ..store.port import Eq, Ne, Put, Update
from .ledger import Draft, commit, now_ms
from .program import STAMP_NODE, allowed, program, require_stamp, start_if_authorised
from .signed import SignedRequest

CONSTITUTION = "constitution"
WALLETS_PER_COMMIT = 90


def snapshot() -> tuple[list[NodeView], list[WalletView]]:
    """What the constitution looks at, read from the index: every live stamp node and merchant, and the
    merchants' wallets. It costs what it returns, whatever else the state holds."""
    store = backend.state()
    nodes = [n for role in ("stamp", "merchant") for n in store.index(Node, nodes_index(role, LIVE))]
    wallets = [w for n in nodes if n.role == "merchant" for w in store.index(Wallet, wallets_index(n.node_id))]
    return ([NodeView(n.node_id, n.role, n.status, n.ts, n.identity_key) for n in nodes],
            [WalletView(w.wallet_id, w.node_id, w.status, w.ts) for w in wallets])


def _revoke_node(node_id: str, rule: str, inputs: dict[str, Any], wallets: list[WalletView]) -> bool:
    """Revoke a node and its wallets; False if it already was (another sweep got there first)."""
    node = backend.state().get(Node, Node.key_of(node_id))
    if node is None or node.status == "revoked":
        return False
    owned = [w.wallet_id for w in wallets if w.node_id == node_id]
    first, overflow = owned[:WALLETS_PER_COMMIT], owned[WALLETS_PER_COMMIT:]
    for start in range(0, len(overflow), WALLETS_PER_COMMIT):  # an impostor may hold very many wallets
        batch = overflow[start:start + WALLETS_PER_COMMIT]
        commit([Draft("wallets.revoked", "system", {"node": node_id, "wallets": batch, "rule": rule})],
               [Update(Wallet, Wallet.key_of(w), set={"status": "revoked"}) for w in batch])
    try:
        commit([Draft("node.revoked", "system", {"node": node_id, "wallets": owned, "revoke_kid": node.kid,
                                                  "rule": rule, "inputs": inputs})],
               [Update.of(node, set={"status": "revoked"}, when=(Ne("status", "revoked"),)),
                # a revoked seller's open orders are refunded by the tally
                Put(RefundsDue(seller=node_id, ts=now_ms()), if_absent=False),
                *[Update(Wallet, Wallet.key_of(w), set={"status": "revoked"}) for w in first]])
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
               [Update(Program, Program.key_of(), set={"status": HALTED, "reason": CONSTITUTION,
                                                       "halted_from": current.status},
                       when=(Eq("status", current.status),))])
    except Conflict:
        return False
    return True


def _restore() -> bool:
    """End a constitutional halt: back to the status it interrupted."""
    current = program()
    if current.status != HALTED or current.reason != CONSTITUTION:
        return False
    restored = current.halted_from or HALTED
    try:
        commit([Draft("system.restored", "system", {"rule": CONSTITUTION, "status": restored,
                                                     "genuine_stamp": STAMP_NODE})],
               [Update(Program, Program.key_of(), set={"status": restored}, remove=("halted_from", "reason"),
                       when=(Eq("status", HALTED), Eq("reason", CONSTITUTION)))])
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
                       [Update(Wallet, Wallet.key_of(wallet_id), set={"status": "black"},
                               when=(Ne("status", "black"),))])
            except Conflict:
                continue
            actions.append("wallet.blackened")
    return actions


def requested_sweep(signed: SignedRequest) -> tuple[int, dict[str, Any]]:
    """The stamp node asks for a sweep now; the request and what it did are an entry, its answer kept."""
    stamp = require_stamp(signed)
    _, guard = allowed("sweep")
    report = sweep()
    commit([Draft("legality.swept", stamp.node_id, {"actions": report["actions"], "status": report["status"]},
                  signed.auth)], [guard, signed.remember(200, report)])
    return 200, report


def sweep() -> dict[str, Any]:
    nodes, wallets = snapshot()
    findings = find_violations(nodes, wallets, STAMP_NODE)
    actions = enforce(findings, wallets)
    started = start_if_authorised()
    return {"nodes": len(nodes), "wallets": len(wallets), "impostor_stamps": findings.impostor_stamps,
            "duplicate_merchants": findings.duplicate_merchants, "black_wallets": findings.black_wallets,
            "actions": actions, "program_started": started, "status": program().status}
