"""The management program's lifecycle: awaiting authorisation -> running <-> halted.

The program starts when at least 51% (a rule) of the registered consumer nodes
have signed an authorisation. Every transition is an entry naming the rule and
the counts that made it. What each state allows is one table,
``domain.lifecycle``; ``allowed`` checks a request against it and gives the
condition its commit carries.
"""

from __future__ import annotations

import json
from typing import Any

from ..domain.lifecycle import AWAITING, HALTED, RUNNING, allowed_states, refusal
from ..domain.records import Authorisation, Counts, KeyBinding, Node, Program, Totals, Wallet
from ..domain.rules import ProgramRules, quorum_reached
from ..errors import ChainNotStarted, Conflict, Forbidden
from ..store import backend
from ..store.port import Change, Check, Eq, In, Put, Update
from .ledger import Draft, commit, now_ms
from .sealer_key import Signer
from .sealing import STAMP_WALLET
from .signed import SignedRequest

__all__ = ["AWAITING", "HALTED", "RUNNING", "STAMP_NODE", "allowed", "program", "require_stamp", "rules"]

STAMP_NODE = "stamp"


def program() -> Program:
    found = backend.state().get(Program, Program.key_of())
    if found is None:
        raise ChainNotStarted("the program has no genesis yet")
    return found


def counts() -> Counts:
    return backend.state().get(Counts, Counts.key_of()) or Counts()


def rules(record: Program | None = None) -> ProgramRules:
    return ProgramRules.from_json(json.loads((record or program()).rules))


def allowed(action: str, kind: str | None = None) -> tuple[Program, Check]:
    """The program, if it allows ``action`` now (409 ``program_not_running`` if not), and the condition
    that makes the commit fail should the program leave those states before it lands."""
    current = program()
    why = refusal(action, current.status, kind)
    if why is not None:
        raise Conflict(why, code="program_not_running", details={"status": current.status})
    return current, Check(Program, Program.key_of(), (In("status", tuple(sorted(allowed_states(action, kind)))),))


def require_stamp(signed: SignedRequest) -> Node:
    node = signed.node
    # The one genuine stamp node is genesis's: a second node with the role is an impostor.
    if node is None or node.node_id != STAMP_NODE or node.role != "stamp" or node.status != "active":
        raise Forbidden("only the stamp node may do this", code="stamp_only")
    return node


def genesis_changes(signer: Signer, now: int) -> list[Put]:
    """The program's starting state, committed with the genesis entry: the stamp node and its wallet."""
    return [
        Put(Program(status=AWAITING, rules=json.dumps(ProgramRules().to_json()))),
        Put(Counts()),
        Put(Node(node_id=STAMP_NODE, role="stamp", kid=signer.kid, jwk=json.dumps(signer.jwk), status="active",
                 approved=True, wallet_id=STAMP_WALLET, ts=now), if_absent=False),
        Put(KeyBinding(kid=signer.kid, node_id=STAMP_NODE), if_absent=False),
        Put(Wallet(wallet_id=STAMP_WALLET, node_id=STAMP_NODE, kid=signer.kid, status="active", ts=now),
            if_absent=False),
        Put(Totals()),
    ]


def authorise(signed: SignedRequest) -> tuple[int, dict[str, Any]]:
    """A consumer node signs its authorisation of the program, once."""
    node = signed.node
    if node is None or node.role != "consumer" or node.status != "active":
        raise Forbidden("only active consumer nodes authorise the program", code="consumers_only")
    if program().status == RUNNING:
        raise Conflict("the program is already running", code="program_already_started")
    _, guard = allowed("authorise")
    entry_id = f"authz-{node.node_id}"
    answer = {"node": node.node_id, "entry": entry_id}
    changes: list[Change] = [
        guard,
        Put(Authorisation(node_id=node.node_id, ts=now_ms())),
        Update(Counts, Counts.key_of(), add={"authorisations": 1}, ordered=False),
        signed.remember(201, answer),
    ]
    try:
        commit([Draft("program.authorised", node.node_id, {"node": node.node_id}, signed.auth, id=entry_id)],
               changes)
    except Conflict as exc:
        if backend.state().get(Authorisation, Authorisation(node_id=node.node_id, ts=0).key) is not None:
            raise Conflict("this node has already authorised the program",
                           code="already_authorised") from exc
        raise
    start_if_authorised()
    return 201, answer


def start_if_authorised() -> bool:
    """Start the program when the authorisations reach the quorum; safe to call at any time."""
    current, tally = program(), counts()
    quorum = rules(current).start_quorum_bps
    if current.status != AWAITING or not quorum_reached(tally.authorisations, tally.consumers, quorum):
        return False
    inputs = {"authorisations": tally.authorisations, "consumers": tally.consumers, "quorum_bps": quorum}
    try:
        commit([Draft("program.started", "system", {"rule": "start_quorum", "inputs": inputs})], [
            Update(Program, Program.key_of(), set={"status": RUNNING}, when=(Eq("status", AWAITING),)),
            Check(Counts, Counts.key_of(), (Eq("authorisations", tally.authorisations),
                                             Eq("consumers", tally.consumers))),
        ])
    except Conflict:
        return False  # another request moved it first
    return True


def status() -> dict[str, Any]:
    current, tally = program(), counts()
    return {"status": current.status, "reason": current.reason, "consumers": tally.consumers,
            "authorisations": tally.authorisations, "rules": json.loads(current.rules)}

