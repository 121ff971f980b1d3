"""Majority votes (the ultimate covenant): proposals, votes, the stamp node's approval, the tally.

Opening a proposal snapshots the eligible voters (active consumer nodes, read
from the index, plus the stamp node) into items written before the proposal
commits; a vote commits only if its node is in that snapshot, has not voted,
and the proposal is open (one transaction), and only with a timestamp at or
before the deadline. The scheduled tally closes each open proposal (read from
the index) that has reached the quorum, enacting it in the same transaction,
or whose deadline went by. A halted system still opens and takes votes to
restart it, and nothing else (``domain.lifecycle``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from typing import Any

from ..domain import postings as p
from ..domain.governance import DEFAULT_DURATION_MINUTES, NEEDS_APPROVAL, deadline_of, decide, eligible_digest
from ..domain.lifecycle import HALTED, RUNNING
from ..domain.records import (
    DisputeLock,
    EligibleVoter,
    Key,
    Node,
    Order,
    Program,
    Proposal,
    RefundsDue,
    Report,
    Vote,
    Wallet,
    nodes_index,
    open_orders_index,
    proposals_index,
)
from ..domain.rules import ProgramRules
from ..errors import Conflict, CovenantError, Forbidden, InvalidParameter, NotFound, StorageError
from ..ledger.canonical import canonical
from ..observability import logger
from ..store import backend, ledger
from ..store.port import Change, Check, Delete, Eq, Exists, Put, Update
from . import reading
from .ledger import Draft, commit, new_entry_id, now_ms
from .money import merged, value_changes
from .nodes import get_node, get_wallet
from .program import STAMP_NODE, allowed, program, require_stamp, rules
from .sealer_key import Signer
from .signed import SignedRequest
from .trading import cancel_changes, get_order

MAX_REPORT_BYTES = 300_000  # a report is one DynamoDB item (400 KB at most)
STATUSES = ("open", "passed", "rejected")
INDEX_SETTLE_MS = 60_000


def get_proposal(proposal_id: str) -> Proposal:
    found = backend.state().get(Proposal, Proposal.key_of(proposal_id))
    if found is None:
        raise NotFound(f"there is no proposal {proposal_id}", field="proposal")
    return found


def proposal_view(p: Proposal) -> dict[str, Any]:
    return {"proposal": p.proposal_id, "kind": p.kind, "subject": p.subject, "params": json.loads(p.params),
            "proposer": p.proposer, "status": p.status, "needs_approval": bool(p.needs_approval),
            "approved": bool(p.approved), "opened_at": p.opened_at, "deadline": p.deadline,
            "eligible": p.eligible, "yes": p.yes, "no": p.no,
            "outcome": json.loads(p.outcome) if p.outcome else None}


def proposals_with(status: str) -> list[Proposal]:
    """The proposals in one status, oldest first, read from the index."""
    return backend.state().index(Proposal, proposals_index(status))


def list_proposals(status: str | None = None, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
    """Oldest first; with ``limit``, one page from ``offset``, and ``next`` the offset of the following page."""
    found = [proposal_view(p) for s in ([status] if status else STATUSES) for p in proposals_with(s)]
    ordered = sorted(found, key=lambda p: (p["opened_at"], p["proposal"]))
    end = len(ordered) if limit is None else offset + limit
    return {"proposals": ordered[offset:end], "next": str(end) if end < len(ordered) else None}


def _voter(signed: SignedRequest) -> Node:
    node = signed.node
    if node is None or node.role not in ("consumer", "stamp"):
        raise Forbidden("only consumer nodes and the stamp node vote", code="not_a_voter")
    if node.status != "active":
        raise Forbidden(f"node {node.node_id} is {node.status}", code="voter_not_active")
    return node


def _check_subject(current: Program, kind: str, subject: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a proposal's subject and parameters against the state now."""
    if kind == "halt" and current.status != RUNNING:
        raise Conflict("only a running system can be halted", code="proposal_not_applicable")
    if kind in ("freeze", "unfreeze"):
        if not subject:
            raise InvalidParameter("a freeze or unfreeze names the wallet", field="subject")
        wallet = get_wallet(subject)
        if wallet.status == "black":
            raise Conflict("a black wallet is frozen for good: no vote unfreezes it", field="subject",
                           code="black_wallet")
        owner = get_node(wallet.node_id)
        if owner.role != "merchant" or owner.wallet_id != subject:
            raise Conflict(f"{subject} is not a merchant's legal wallet", field="subject", code="not_a_legal_wallet")
        wanted = "active" if kind == "freeze" else "frozen"
        if wallet.status != wanted:
            raise Conflict(f"wallet {subject} is {wallet.status}", field="subject", code="proposal_not_applicable")
    if kind == "report":
        for entry_id in params["evidence"]:
            if ledger.position_of(entry_id) is None:
                raise InvalidParameter(f"evidence {entry_id} is not a sealed entry", field="params.evidence")
    if kind == "rules":
        ProgramRules.from_json({**json.loads(current.rules), **params})
    return params


def _snapshot(proposal_id: str, excluded: tuple[str, ...] = (), stamp: bool = True) -> list[str]:
    """The eligible voters now: active consumer nodes (from the index), and the stamp node."""
    nodes = [n.node_id for n in backend.state().index(Node, nodes_index("consumer", "active"))]
    voters = sorted({*nodes, *([STAMP_NODE] if stamp else [])} - set(excluded))
    backend.state().put_all([EligibleVoter(proposal_id=proposal_id, node_id=node_id) for node_id in voters])
    return voters


def open_proposal(signed: SignedRequest, kind: str, subject: str | None, params: dict[str, Any],
                  deadline_minutes: int = DEFAULT_DURATION_MINUTES) -> tuple[int, dict[str, Any]]:
    proposer = _voter(signed)
    current, guard = allowed("propose", kind)
    params = _check_subject(current, kind, subject, params)
    return _open(signed, proposer, guard, kind, subject, params, deadline_minutes, "proposal.opened", "p-")


def open_dispute(signed: SignedRequest, order_id: str, ground: str, remedy: str, statement: str,
                 deadline_minutes: int = DEFAULT_DURATION_MINUTES) -> tuple[int, dict[str, Any]]:
    """The buyer contests an order's goods or rebate; consumer nodes not party to the order decide (S7)."""
    buyer = _voter(signed)
    order = get_order(order_id)
    if order.buyer != buyer.node_id:
        raise Forbidden("only the buyer of an order disputes it", code="not_the_buyer")
    if order.status not in ("shipped", "received"):
        raise Conflict("only shipped or received orders are disputed", code="order_state")
    _, guard = allowed("dispute")
    params = {"ground": ground, "remedy": remedy, "statement": statement, "buyer": order.buyer,
              "seller": order.seller}
    return _open(signed, buyer, guard, "dispute", order_id, params, deadline_minutes, "dispute.opened", "d-",
                 excluded=(order.buyer, order.seller), stamp=False, lock=Put(DisputeLock(order_id=order_id)))


def _open(signed: SignedRequest, proposer: Node, guard: Change, kind: str, subject: str | None,
          params: dict[str, Any], minutes: int, entry_type: str, prefix: str, excluded: tuple[str, ...] = (),
          stamp: bool = True, lock: Change | None = None) -> tuple[int, dict[str, Any]]:
    proposal_id = prefix + secrets.token_hex(8)
    voters = _snapshot(proposal_id, excluded, stamp)  # idempotent items, written before the proposal exists
    opened_at = now_ms()
    deadline = deadline_of(opened_at, minutes)
    record = Proposal(proposal_id=proposal_id, kind=kind, subject=subject, params=json.dumps(params),
                      proposer=proposer.node_id, status="open", needs_approval=kind in NEEDS_APPROVAL,
                      opened_at=opened_at, deadline=deadline, eligible=len(voters))
    entry_id = new_entry_id(opened_at)
    answer = {**proposal_view(record), "entry": entry_id}
    data = {"proposal": proposal_id, "kind": kind, "subject": subject, "params": params, "opened_at": opened_at,
            "deadline": deadline, "rule": "deadline = opened_at + minutes * 60000", "minutes": minutes,
            "eligible": len(voters), "eligible_digest": eligible_digest(voters),
            "needs_approval": kind in NEEDS_APPROVAL}
    changes = [guard, Put(record), signed.remember(201, answer), *([lock] if lock else [])]
    try:
        # the entry's timestamp is the opening time the deadline counts from
        commit([Draft(entry_type, proposer.node_id, data, signed.auth, id=entry_id)], changes,
               clock=lambda: opened_at)
    except Conflict as exc:
        if lock is not None and backend.state().get(DisputeLock, DisputeLock(order_id=str(subject)).key):
            raise Conflict("this order already has a dispute", code="already_disputed") from exc
        raise
    return 201, answer


def _before(deadline: int, what: str) -> Any:
    """A commit clock that refuses every time past ``deadline``: an entry is never timestamped after it."""
    def clock() -> int:
        now = now_ms()
        if now > deadline:
            raise Conflict(f"{what} closed at its deadline", code="voting_closed")
        return now

    return clock


def vote(signed: SignedRequest, proposal_id: str, choice: str) -> tuple[int, dict[str, Any]]:
    voter = _voter(signed)
    proposal = get_proposal(proposal_id)
    _, guard = allowed("vote", proposal.kind)
    if proposal.kind == "dispute" and voter.node_id in (json.loads(proposal.params)["buyer"],
                                                         json.loads(proposal.params)["seller"]):
        raise Forbidden("a party to the order does not vote on its dispute", code="party_to_dispute")
    if proposal.status != "open" or now_ms() > proposal.deadline:
        raise Conflict(f"voting on {proposal_id} is closed", code="voting_closed")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"proposal": proposal_id, "choice": choice, "entry": entry_id}
    try:
        commit([Draft("proposal.voted", voter.node_id, {"proposal": proposal_id, "choice": choice}, signed.auth,
                      id=entry_id)], [
            guard,
            Check(EligibleVoter, EligibleVoter(proposal_id=proposal_id, node_id=voter.node_id).key, (Exists(),)),
            Put(Vote(proposal_id=proposal_id, node_id=voter.node_id, choice=choice, ts=ts)),
            Update(Proposal, proposal.key, add={choice: 1}, when=(Eq("status", "open"),)),
            signed.remember(201, answer),
        ], clock=_before(proposal.deadline, f"voting on {proposal_id}"))
    except Conflict as exc:
        raise _why_vote_failed(proposal_id, voter.node_id, exc) from exc
    return 201, answer


def _why_vote_failed(proposal_id: str, node_id: str, exc: Conflict) -> CovenantError:
    store = backend.state()
    if exc.code == "voting_closed":
        return exc
    if store.get(Vote, Key(f"vote#{proposal_id}", node_id)) is not None:
        return Conflict("this node has already voted on this proposal", code="already_voted")
    if store.get(EligibleVoter, EligibleVoter(proposal_id=proposal_id, node_id=node_id).key) is None:
        return Forbidden("this node was not an eligible voter when the proposal opened", code="not_eligible")
    if get_proposal(proposal_id).status != "open":
        return Conflict(f"voting on {proposal_id} is closed", code="voting_closed")
    return exc  # the program's status moved, or a race: nothing was written


def approve(signed: SignedRequest, proposal_id: str) -> tuple[int, dict[str, Any]]:
    """The stamp node's approval, needed by upgrades and rule changes."""
    stamp = require_stamp(signed)
    _, guard = allowed("approve_proposal")
    proposal = get_proposal(proposal_id)
    if not proposal.needs_approval:
        raise Conflict(f"a {proposal.kind} proposal needs no approval", code="approval_not_needed")
    if proposal.status != "open" or now_ms() > proposal.deadline:
        raise Conflict(f"{proposal_id} is past its deadline", code="approval_not_open")
    entry_id = new_entry_id(now_ms())
    answer = {"proposal": proposal_id, "approved": True, "entry": entry_id}
    try:
        commit([Draft("proposal.approved", stamp.node_id, {"proposal": proposal_id}, signed.auth, id=entry_id)], [
            guard,
            Update(Proposal, proposal.key, set={"approved": True}, when=(Eq("status", "open"), Eq("approved", False))),
            signed.remember(200, answer),
        ], clock=_before(proposal.deadline, f"approval of {proposal_id}"))
    except Conflict as exc:
        if exc.code == "voting_closed":
            raise Conflict(f"{proposal_id} is past its deadline", code="approval_not_open") from exc
        current = get_proposal(proposal_id)
        if current.status != "open" or current.approved:
            raise Conflict(f"{proposal_id} is closed or already approved", code="approval_not_open") from exc
        raise
    return 200, answer


# --- the tally


Enactment = tuple[list[Draft], list[Change], dict[str, Any]]


def _enactment(proposal: Proposal, signer: Signer | None, now: int) -> Enactment:
    params = json.loads(proposal.params)
    rule = {"proposal": proposal.proposal_id, "rule": "majority_of_eligible"}
    key = Program.key_of()
    if proposal.kind == "halt":
        return ([Draft("program.halted", "system", {**rule})],
                [Update(Program, key, set={"status": HALTED, "reason": proposal.proposal_id},
                        when=(Eq("status", RUNNING),))], {"status": HALTED})
    if proposal.kind == "restart":
        return ([Draft("program.restarted", "system", {**rule})],
                [Update(Program, key, set={"status": RUNNING}, remove=("reason",), when=(Eq("status", HALTED),))],
                {"status": RUNNING})
    if proposal.kind in ("freeze", "unfreeze"):
        before, after = ("active", "frozen") if proposal.kind == "freeze" else ("frozen", "active")
        entry_type = "wallet.frozen" if proposal.kind == "freeze" else "wallet.unfrozen"
        return ([Draft(entry_type, "system", {**rule, "wallet": proposal.subject})],
                [Update(Wallet, Wallet.key_of(str(proposal.subject)), set={"status": after},
                        when=(Eq("status", before),))], {"wallet": proposal.subject, "status": after})
    if proposal.kind == "upgrade":
        return ([Draft("subchain.upgraded", "system", {**rule, **params})],
                [Update(Program, key, set={"subchain_version": params["version"]})], {"version": params["version"]})
    if proposal.kind == "rules":
        current = program()
        old_rules = json.loads(current.rules)
        new_rules = ProgramRules.from_json({**old_rules, **params}).to_json()
        return ([Draft("rules.changed", "system", {**rule, "before": old_rules, "after": new_rules})],
                [Update(Program, key, set={"rules": json.dumps(new_rules)}, when=(Eq("rules", current.rules),))],
                {"rules": new_rules})
    if proposal.kind == "dispute":
        return _remedy(proposal, params)
    report = build_report(proposal, params, signer, now)
    report_hash = hashlib.sha256(canonical(report)).hexdigest()
    return ([Draft("report.filed", "system", {**rule, "report_hash": report_hash, "evidence": params["evidence"]})],
            [Put(Report(proposal_id=proposal.proposal_id, body=json.dumps(report)), if_absent=False)],
            {"report": proposal.proposal_id, "report_hash": report_hash})


def _remedy(proposal: Proposal, params: dict[str, Any]) -> Enactment:
    """What an upheld dispute does, as the buyer asked: re-issue the rebate, or revoke the seller."""
    order = get_order(str(proposal.subject))
    rule = {"proposal": proposal.proposal_id, "order": order.order_id, "rule": "dispute_majority_of_eligible"}
    now = now_ms()
    if params["remedy"] == "reissue_rebate":
        mint = p.reissued_rebate(proposal.proposal_id, order.order_id, order.buyer_wallet, order.seller_wallet,
                                 order.quantity, order.unit_price, order.unit_profit, rules())
        amount = mint.data["amount"]
        if get_wallet(order.seller_wallet).fiat < amount:
            raise Conflict(f"the seller's wallet cannot fund the re-issued rebate of {amount}",
                           code="seller_cannot_fund")
        upheld, mint_id = new_entry_id(now), new_entry_id(now)
        return ([Draft("dispute.upheld", "system", {**rule, "remedy": "reissue_rebate"}, id=upheld),
                 Draft(mint.type, "system", mint.data, id=mint_id)],
                value_changes([(mint_id, mint)], now), {"reissued_rebate": amount})
    seller = get_node(order.seller)
    changes: list[Change] = [
        Update.of(seller, set={"status": "revoked"}, when=(Eq("status", seller.status),)),
        # every tally refunds the revoked seller's open orders until none is left
        Put(RefundsDue(seller=seller.node_id, ts=now), if_absent=False),
    ]
    if seller.wallet_id:
        changes.append(Update(Wallet, Wallet.key_of(seller.wallet_id), set={"status": "revoked"}))
    return ([Draft("dispute.upheld", "system", {**rule, "remedy": "revoke_seller"}),
             Draft("node.revoked", "system", {**rule, "node": seller.node_id, "revoke_kid": seller.kid,
                                               "wallets": [seller.wallet_id] if seller.wallet_id else []})],
            changes, {"revoked": seller.node_id})


def refund_orders_of_revoked_sellers(limit: int = 50) -> list[str]:
    """A revoked seller's open orders go back to their buyers (run by every tally, so none is missed).

    Revoking a seller leaves a ``refunds`` marker; each run reads the markers,
    then each seller's open orders from the index, and clears a marker once none is left.
    """
    store = backend.state()
    refunded: list[str] = []
    for due in store.query(RefundsDue, "refunds"):
        open_orders = store.index(Order, open_orders_index(due.seller), limit=limit)
        for listed in open_orders:
            order = store.get(Order, listed.key)
            if order is None or order.status not in ("placed", "paid"):
                continue
            ts = now_ms()
            entry_id = new_entry_id(ts)
            draft, changes = cancel_changes(order, entry_id, ts, rule="seller_revoked")
            try:
                commit([draft], merged(changes))
            except Conflict:
                continue
            refunded.append(order.order_id)
        # the index trails the table by a moment: clear a marker only once that moment has surely passed
        if not open_orders and now_ms() - due.ts > INDEX_SETTLE_MS:
            with contextlib.suppress(Conflict):  # revoked again meanwhile: the next run looks again
                store.apply([Delete(RefundsDue, due.key, when=(Eq("ts", due.ts),))])
    return refunded


def build_report(proposal: Proposal, params: dict[str, Any], signer: Signer | None, now: int) -> dict[str, Any]:
    """The evidence entries with their inclusion proofs against the head, signed by the stamp node."""
    if signer is None:
        raise StorageError("a report needs the stamp node's key")
    head = reading.head()
    size = head["header"]["log_size"]
    evidence = []
    for entry_id in params["evidence"]:
        found = reading.entry(entry_id)
        evidence.append({**found, "proof": reading.inclusion_proof(found["index"], size)})
    body = {"v": 1, "proposal": proposal.proposal_id, "summary": params.get("summary", ""), "filed_at": now,
            "tally": {"yes": proposal.yes, "no": proposal.no, "eligible": proposal.eligible},
            "head": head, "evidence": evidence, "signer": signer.kid}
    if len(canonical(body)) > MAX_REPORT_BYTES:
        raise StorageError(f"the evidence is too large for one report ({MAX_REPORT_BYTES} bytes at most)")
    return {"report": body, "sig": signer.sign(canonical(body))}


def _close(proposal: Proposal, result: str, quorum_bps: int, signer: Signer | None, now: int) -> dict[str, Any]:
    closed = {"proposal": proposal.proposal_id, "result": result, "yes": proposal.yes, "no": proposal.no,
              "eligible": proposal.eligible, "quorum_bps": quorum_bps, "rule": "majority_of_eligible",
              "deadline": proposal.deadline}
    drafts: list[Draft] = []
    changes: list[Change] = []
    outcome: dict[str, Any] = {"result": result}
    if result == "passed":
        try:
            drafts, changes, effect = _enactment(proposal, signer, now)
            outcome["enacted"] = effect
        except CovenantError as exc:
            outcome["not_enacted"] = exc.message
            outcome["reason"] = exc.code
    if proposal.kind == "dispute" and result == "rejected":
        drafts = [Draft("dispute.dismissed", "system", {"proposal": proposal.proposal_id, "order": proposal.subject,
                                                         "rule": "dispute_majority_of_eligible"})]

    def guard(final: dict[str, Any]) -> Change:
        return Update.of(proposal, set={"status": result, "outcome": json.dumps(final)},
                         when=(Eq("status", "open"), Eq("yes", proposal.yes), Eq("no", proposal.no)))

    # a rejection is timestamped after the deadline; a pass may close at any time
    clock = _after(proposal.deadline) if result == "rejected" else None
    try:
        commit([Draft("proposal.closed", "system", {**closed, "outcome": outcome}), *drafts],
               merged([guard(outcome), *changes]), clock=clock)
    except Conflict:
        if not changes:
            raise
        # the enactment no longer applies (its subject changed): close without it
        outcome = {"result": result, "not_enacted": "the subject changed before the tally"}
        commit([Draft("proposal.closed", "system", {**closed, "outcome": outcome})], [guard(outcome)], clock=clock)
    return {"proposal": proposal.proposal_id, **outcome}


def _after(deadline: int) -> Any:
    def clock() -> int:
        return max(now_ms(), deadline + 1)

    return clock


def tally(signer: Signer | None = None) -> dict[str, Any]:
    """Close every open proposal that passed or whose deadline went by; enact the passed ones.

    While the system is halted only restart proposals are closed: the rest wait for the restart.
    """
    current = program()
    quorum = rules(current).start_quorum_bps
    now = now_ms()
    closed: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for listed in proposals_with("open"):
        if current.status == HALTED and listed.kind != "restart":
            continue
        proposal = get_proposal(listed.proposal_id)
        result = decide(proposal.yes, proposal.eligible, quorum, proposal.needs_approval, proposal.approved, now,
                        proposal.deadline)
        if result is None or proposal.status != "open":
            continue
        try:
            closed.append(_close(proposal, result, quorum, signer, now))
        except Conflict:
            continue  # a vote or another tally moved it; the next run sees the new state
        except CovenantError as exc:  # one proposal's trouble never holds up the others
            logger.warning("tally could not close a proposal", extra={"proposal": proposal.proposal_id,
                                                                        "error": exc.message})
            failed.append({"proposal": proposal.proposal_id, "error": exc.message})
    refunded = refund_orders_of_revoked_sellers() if program().status == RUNNING else []
    return {"now": now, "closed": closed, "failed": failed, "refunded": refunded}


def requested_tally(signed: SignedRequest) -> tuple[int, dict[str, Any]]:
    """The stamp node runs the tally now (it also runs every minute)."""
    stamp = require_stamp(signed)
    _, guard = allowed("tally")
    result = tally(load_signer_for_reports())
    commit([Draft("tally.requested", stamp.node_id, {"closed": [c["proposal"] for c in result["closed"]]},
                  signed.auth)], [guard, signed.remember(200, result)])
    return 200, result


def load_signer_for_reports() -> Signer | None:
    """Reports are signed with the stamp node's key; without it a report proposal stays unenacted."""
    from .sealer_key import load_signer

    try:
        return load_signer()
    except CovenantError:
        return None


def report(proposal_id: str) -> dict[str, Any]:
    found = backend.state().get(Report, Report.key_of(proposal_id))
    if found is None:
        raise NotFound(f"no report was filed by {proposal_id}", field="proposal")
    return dict(json.loads(found.body))
