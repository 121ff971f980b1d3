"""The management program's lifecycle: awaiting authorisation -> running <-> halted.

The program starts when at least 51% (a rule) of the registered consumer nodes
have signed an authorisation. Every transition is an entry naming the rule and
the counts that made it.
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.transactions import TransactWrite

from ..domain.rules import ProgramRules, quorum_reached
from ..errors import ChainNotStarted, Conflict, Forbidden, StorageError
from ..store import ledger_store
from ..store.ledger_store import StateWrite
from ..store.state_models import (
    ITEM,
    AuthorisationRecord,
    KeyBinding,
    NodeRecord,
    ProgramRecord,
    TotalsRecord,
    WalletRecord,
)
from .ledger import Draft, commit, now_ms
from .sealer_key import Signer
from .sealing import STAMP_WALLET
from .signed import SignedRequest

AWAITING, RUNNING, HALTED = "awaiting_authorisation", "running", "halted"
STAMP_NODE = "stamp"


def program() -> ProgramRecord:
    try:
        return ProgramRecord.get("program", ITEM, consistent_read=True)
    except ProgramRecord.DoesNotExist as exc:
        raise ChainNotStarted("the program has no genesis yet") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the program") from exc


def rules(record: ProgramRecord | None = None) -> ProgramRules:
    return ProgramRules.from_json(json.loads((record or program()).rules))


def require_running() -> ProgramRecord:
    record = program()
    if record.status != RUNNING:
        raise Conflict(f"the program is {record.status}, not running", code="program_not_running")
    return record


def require_stamp(signed: SignedRequest) -> NodeRecord:
    node = signed.node
    # The one genuine stamp node is genesis's: a second node with the role is an impostor.
    if node is None or node.node_id != STAMP_NODE or node.role != "stamp" or node.status != "active":
        raise Forbidden("only the stamp node may do this", code="stamp_only")
    return node


def save(record: Any, condition: Any = None) -> StateWrite:
    def write(tx: TransactWrite) -> None:
        tx.save(record, condition=condition)

    return write


def in_log_order(model: Any, actions: list[Any], condition: Any = None) -> tuple[list[Any], Any]:
    """Order this item's change after its previous one in the log (see ``ledger_store.commit_key``)."""
    key = ledger_store.commit_key()
    ordered = model.last_seq.does_not_exist() | (model.last_seq < key)
    return [*actions, model.last_seq.set(key)], ordered if condition is None else condition & ordered


def update(record: Any, actions: list[Any], condition: Any = None, ordered: bool = True) -> StateWrite:
    """An update in the entry's transaction; ``ordered=False`` for pure counters, whose order is moot."""
    def write(tx: TransactWrite) -> None:
        if ordered:
            all_actions, all_conditions = in_log_order(type(record), actions, condition)
            tx.update(record, actions=all_actions, condition=all_conditions)
        else:
            tx.update(record, actions=actions, condition=condition)

    return write


def genesis_writes(signer: Signer, now: int) -> list[StateWrite]:
    """The program's starting state, committed with the genesis entry: the stamp node and its wallet."""
    jwk = json.dumps(signer.jwk)
    return [
        save(ProgramRecord(pk="program", sk=ITEM, status=AWAITING, rules=json.dumps(ProgramRules().to_json()),
                           consumers=0, authorisations=0), ProgramRecord.pk.does_not_exist()),
        save(NodeRecord(pk=f"node#{STAMP_NODE}", sk=ITEM, node_id=STAMP_NODE, role="stamp", kid=signer.kid, jwk=jwk,
                        status="active", approved=True, wallet_id=STAMP_WALLET, ts=now)),
        save(KeyBinding(pk=f"kid#{signer.kid}", sk=ITEM, node_id=STAMP_NODE)),
        save(WalletRecord(pk=f"wallet#{STAMP_WALLET}", sk=ITEM, wallet_id=STAMP_WALLET, node_id=STAMP_NODE,
                          kid=signer.kid, status="active", fiat=0, coin=0, ts=now)),
        save(TotalsRecord(pk="totals", sk=ITEM, coins_minted=0, coins_retired=0, reserve=0, fees=0)),
    ]


def authorise(signed: SignedRequest) -> tuple[int, dict[str, Any]]:
    """A consumer node signs its authorisation of the program, once."""
    node = signed.node
    if node is None or node.role != "consumer" or node.status != "active":
        raise Forbidden("only active consumer nodes authorise the program", code="consumers_only")
    current = program()
    if current.status != AWAITING:
        raise Conflict(f"the program is already {current.status}", code="program_already_started")
    entry_id = f"authz-{node.node_id}"
    answer = {"node": node.node_id, "entry": entry_id}
    writes = [
        save(AuthorisationRecord(pk=f"authz#{node.node_id}", sk=ITEM, node_id=node.node_id, ts=now_ms()),
             AuthorisationRecord.pk.does_not_exist()),
        update(ProgramRecord(pk="program", sk=ITEM), [ProgramRecord.authorisations.add(1)], ordered=False),
        signed.remember(201, answer),
    ]
    try:
        commit([Draft("program.authorised", node.node_id, {"node": node.node_id}, signed.auth, id=entry_id)], writes)
    except Conflict as exc:
        raise Conflict("this node has already authorised the program", code="already_authorised") from exc
    start_if_authorised()
    return 201, answer


def start_if_authorised() -> bool:
    """Start the program when the authorisations reach the quorum; safe to call at any time."""
    current = program()
    quorum = ProgramRules.from_json(json.loads(current.rules)).start_quorum_bps
    if current.status != AWAITING or not quorum_reached(int(current.authorisations), int(current.consumers), quorum):
        return False
    inputs = {"authorisations": int(current.authorisations), "consumers": int(current.consumers),
              "quorum_bps": quorum}
    try:
        commit([Draft("program.started", "system", {"rule": "start_quorum", "inputs": inputs})], [
            update(ProgramRecord(pk="program", sk=ITEM), [ProgramRecord.status.set(RUNNING)],
                   (ProgramRecord.status == AWAITING) & (ProgramRecord.authorisations == current.authorisations)
                   & (ProgramRecord.consumers == current.consumers)),
        ])
    except Conflict:
        return False  # another request moved it first
    return True


def status() -> dict[str, Any]:
    current = program()
    return {"status": current.status, "reason": current.reason, "consumers": int(current.consumers),
            "authorisations": int(current.authorisations), "rules": json.loads(current.rules)}
