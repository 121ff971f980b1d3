"""Majority votes (the ultimate covenant): proposals, votes, the stamp node's approval, the tally.

Opening a proposal snapshots the eligible voters (active consumer nodes, plus
the stamp node) into items written before the proposal commits; a vote
commits only if its node is in that snapshot, has not voted, and the proposal
is open (one transaction). The scheduled tally closes each proposal that has
reached the quorum (enacting it in the same transaction) or passed its
deadline, a block height. A halted system still opens and takes votes to
restart it, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.transactions import TransactWrite

from ..domain.governance import NEEDS_APPROVAL, decide, eligible_digest
from ..domain.rules import ProgramRules
from ..errors import Conflict, CovenantError, Forbidden, InvalidParameter, NotFound, StorageError
from ..ledger.canonical import canonical
from ..observability import logger
from ..store import ledger_store
from ..store.ledger_store import StateWrite
from ..store.state_models import (
    ITEM,
    DisputeLock,
    EligibleVoter,
    NodeRecord,
    OrderRecord,
    ProgramRecord,
    ProposalRecord,
    ReportRecord,
    TotalsRecord,
    VoteRecord,
    WalletRecord,
)
from . import reading
from .ledger import Draft, commit, new_entry_id, now_ms
from .nodes import get_node, get_wallet
from .program import HALTED, RUNNING, STAMP_NODE, program, require_stamp, save, update
from .sealer_key import Signer
from .signed import SignedRequest

DEFAULT_DEADLINE_BLOCKS = 30
MAX_REPORT_BYTES = 300_000  # a report is one DynamoDB item (400 KB at most)


def get_proposal(proposal_id: str) -> ProposalRecord:
    try:
        return ProposalRecord.get(f"proposal#{proposal_id}", ITEM, consistent_read=True)
    except ProposalRecord.DoesNotExist as exc:
        raise NotFound(f"there is no proposal {proposal_id}", field="proposal") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the proposal") from exc


def proposal_view(p: ProposalRecord) -> dict[str, Any]:
    return {"proposal": p.proposal_id, "kind": p.kind, "subject": p.subject, "params": json.loads(p.params),
            "proposer": p.proposer, "status": p.status, "needs_approval": bool(p.needs_approval),
            "approved": bool(p.approved), "opened_height": int(p.opened_height),
            "deadline_height": int(p.deadline_height), "eligible": int(p.eligible), "yes": int(p.yes),
            "no": int(p.no), "outcome": json.loads(p.outcome) if p.outcome else None}


def list_proposals(status: str | None = None) -> dict[str, Any]:
    try:
        condition = ProposalRecord.pk.startswith("proposal#")
        if status:
            condition &= ProposalRecord.status == status
        found = [proposal_view(p) for p in ProposalRecord.scan(condition)]
    except PynamoDBException as exc:
        raise StorageError("could not list proposals") from exc
    return {"proposals": sorted(found, key=lambda p: (p["opened_height"], p["proposal"]))}


def _voter(signed: SignedRequest) -> NodeRecord:
    node = signed.node
    if node is None or node.role not in ("consumer", "stamp"):
        raise Forbidden("only consumer nodes and the stamp node vote", code="not_a_voter")
    if node.status != "active":
        raise Forbidden(f"node {node.node_id} is {node.status}", code="voter_not_active")
    return node


def _allowed_while(kind: str) -> None:
    status = program().status
    if status == HALTED and kind != "restart":
        raise Conflict("the system is halted: only a restart can be proposed or voted on",
                       code="program_not_running")
    if status not in (RUNNING, HALTED):
        raise Conflict(f"the program is {status}", code="program_not_running")


def _check_subject(kind: str, subject: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a proposal's subject and parameters against the state now."""
    status = program().status
    if kind == "halt" and status != RUNNING:
        raise Conflict("only a running system can be halted", code="proposal_not_applicable")
    if kind == "restart" and status != HALTED:
        raise Conflict("only a halted system can be restarted", code="proposal_not_applicable")
    if kind in ("freeze", "unfreeze"):
        if not subject:
            raise InvalidParameter("a freeze or unfreeze names the wallet", field="subject")
        wallet = get_wallet(subject)
        owner = get_node(wallet.node_id)
        if owner.role != "merchant" or owner.wallet_id != subject:
            raise Conflict(f"{subject} is not a merchant's legal wallet", field="subject", code="not_a_legal_wallet")
        if wallet.status == "black":
            raise Conflict("a black wallet is frozen for good: no vote unfreezes it", field="subject",
                           code="black_wallet")
        wanted = "active" if kind == "freeze" else "frozen"
        if wallet.status != wanted:
            raise Conflict(f"wallet {subject} is {wallet.status}", field="subject", code="proposal_not_applicable")
    if kind == "report":
        for entry_id in params["evidence"]:
            position = ledger_store.position_of(entry_id)
            if position is None:
                raise InvalidParameter(f"evidence {entry_id} is not a sealed entry", field="params.evidence")
    if kind == "rules":
        current = ProgramRules.from_json(json.loads(program().rules)).to_json()
        merged = {**current, **params}
        ProgramRules.from_json(merged)
    return params


def _snapshot(proposal_id: str, excluded: tuple[str, ...] = (), stamp: bool = True) -> list[str]:
    try:
        nodes = [n.node_id for n in NodeRecord.scan(NodeRecord.pk.startswith("node#") & (NodeRecord.status == "active")
                                                    & (NodeRecord.role == "consumer"))]
    except PynamoDBException as exc:
        raise StorageError("could not snapshot the eligible voters") from exc
    voters = sorted({*nodes, *([STAMP_NODE] if stamp else [])} - set(excluded))
    try:
        with EligibleVoter.batch_write() as batch:
            for node_id in voters:
                batch.save(EligibleVoter(pk=f"eligible#{proposal_id}", sk=node_id))
    except PynamoDBException as exc:
        raise StorageError("could not record the eligible voters") from exc
    return voters


def open_proposal(signed: SignedRequest, kind: str, subject: str | None, params: dict[str, Any],
                  deadline_blocks: int) -> tuple[int, dict[str, Any]]:
    proposer = _voter(signed)
    _allowed_while(kind)
    params = _check_subject(kind, subject, params)
    return _open(signed, proposer, kind, subject, params, deadline_blocks, "proposal.opened", "p-")


def open_dispute(signed: SignedRequest, order_id: str, ground: str, remedy: str, statement: str,
                 deadline_blocks: int) -> tuple[int, dict[str, Any]]:
    """The buyer contests an order's goods or rebate; consumer nodes not party to the order decide (S7)."""
    from .trading import get_order

    buyer = _voter(signed)
    order = get_order(order_id)
    if order.buyer != buyer.node_id:
        raise Forbidden("only the buyer of an order disputes it", code="not_the_buyer")
    if order.status not in ("shipped", "received"):
        raise Conflict("only shipped or received orders are disputed", code="order_state")
    _allowed_while("dispute")
    params = {"ground": ground, "remedy": remedy, "statement": statement, "buyer": order.buyer,
              "seller": order.seller}
    return _open(signed, buyer, "dispute", order_id, params, deadline_blocks, "dispute.opened", "d-",
                 excluded=(order.buyer, order.seller), stamp=False,
                 lock=save(DisputeLock(pk=f"dispute#{order_id}", sk=ITEM), DisputeLock.pk.does_not_exist()))


def _open(signed: SignedRequest, proposer: NodeRecord, kind: str, subject: str | None, params: dict[str, Any],
          deadline_blocks: int, entry_type: str, prefix: str, excluded: tuple[str, ...] = (), stamp: bool = True,
          lock: StateWrite | None = None) -> tuple[int, dict[str, Any]]:
    proposal_id = prefix + secrets.token_hex(8)
    height = ledger_store.completed_height()
    voters = _snapshot(proposal_id, excluded, stamp)  # idempotent items, written before the proposal exists
    ts = now_ms()
    record = ProposalRecord(pk=f"proposal#{proposal_id}", sk=ITEM, proposal_id=proposal_id, kind=kind,
                            subject=subject, params=json.dumps(params), proposer=proposer.node_id, status="open",
                            needs_approval=kind in NEEDS_APPROVAL, approved=False, opened_height=height,
                            deadline_height=height + deadline_blocks, eligible=len(voters), yes=0, no=0, ts=ts)
    entry_id = new_entry_id(ts)
    answer = {**proposal_view(record), "entry": entry_id}
    data = {"proposal": proposal_id, "kind": kind, "subject": subject, "params": params,
            "opened_height": height, "deadline_height": height + deadline_blocks, "eligible": len(voters),
            "eligible_digest": eligible_digest(voters), "needs_approval": kind in NEEDS_APPROVAL}
    writes = [save(record, ProposalRecord.pk.does_not_exist()), signed.remember(201, answer)]
    try:
        commit([Draft(entry_type, proposer.node_id, data, signed.auth, id=entry_id)],
               [*writes, *([lock] if lock else [])])
    except Conflict as exc:
        if lock is not None:
            raise Conflict("this order already has a dispute", code="already_disputed") from exc
        raise
    return 201, answer


def vote(signed: SignedRequest, proposal_id: str, choice: str) -> tuple[int, dict[str, Any]]:
    voter = _voter(signed)
    proposal = get_proposal(proposal_id)
    _allowed_while(proposal.kind)
    if proposal.kind == "dispute" and voter.node_id in (json.loads(proposal.params)["buyer"],
                                                         json.loads(proposal.params)["seller"]):
        raise Forbidden("a party to the order does not vote on its dispute", code="party_to_dispute")
    height = ledger_store.completed_height()
    if proposal.status != "open" or height > int(proposal.deadline_height):
        raise Conflict(f"voting on {proposal_id} is closed", code="voting_closed")
    ts = now_ms()
    entry_id = new_entry_id(ts)
    answer = {"proposal": proposal_id, "choice": choice, "entry": entry_id}
    counter = ProposalRecord.yes if choice == "yes" else ProposalRecord.no

    def eligible(tx: TransactWrite) -> None:
        tx.condition_check(EligibleVoter, f"eligible#{proposal_id}", voter.node_id,
                           condition=EligibleVoter.pk.exists())

    try:
        commit([Draft("proposal.voted", voter.node_id, {"proposal": proposal_id, "choice": choice}, signed.auth,
                      id=entry_id)], [
            eligible,
            save(VoteRecord(pk=f"vote#{proposal_id}", sk=voter.node_id, choice=choice, ts=ts),
                 VoteRecord.pk.does_not_exist()),
            update(ProposalRecord(pk=f"proposal#{proposal_id}", sk=ITEM), [counter.add(1)],
                   ProposalRecord.status == "open"),
            signed.remember(201, answer),
        ])
    except Conflict as exc:
        raise _why_vote_failed(proposal_id, voter.node_id) from exc
    return 201, answer


def _why_vote_failed(proposal_id: str, node_id: str) -> Conflict | Forbidden:
    try:
        VoteRecord.get(f"vote#{proposal_id}", node_id, consistent_read=True)
        return Conflict("this node has already voted on this proposal", code="already_voted")
    except VoteRecord.DoesNotExist:
        pass
    try:
        EligibleVoter.get(f"eligible#{proposal_id}", node_id, consistent_read=True)
    except EligibleVoter.DoesNotExist:
        return Forbidden("this node was not an eligible voter when the proposal opened", code="not_eligible")
    return Conflict(f"voting on {proposal_id} is closed", code="voting_closed")


def approve(signed: SignedRequest, proposal_id: str) -> tuple[int, dict[str, Any]]:
    """The stamp node's approval, needed by upgrades and rule changes."""
    stamp = require_stamp(signed)
    proposal = get_proposal(proposal_id)
    if not proposal.needs_approval:
        raise Conflict(f"a {proposal.kind} proposal needs no approval", code="approval_not_needed")
    if proposal.status != "open" or ledger_store.completed_height() > int(proposal.deadline_height):
        raise Conflict(f"{proposal_id} is past its deadline", code="approval_not_open")
    entry_id = new_entry_id(now_ms())
    answer = {"proposal": proposal_id, "approved": True, "entry": entry_id}
    try:
        commit([Draft("proposal.approved", stamp.node_id, {"proposal": proposal_id}, signed.auth, id=entry_id)], [
            update(ProposalRecord(pk=f"proposal#{proposal_id}", sk=ITEM), [ProposalRecord.approved.set(True)],
                   (ProposalRecord.status == "open") & (ProposalRecord.approved == False)),  # noqa: E712
            signed.remember(200, answer),
        ])
    except Conflict as exc:
        raise Conflict(f"{proposal_id} is closed or already approved", code="approval_not_open") from exc
    return 200, answer


# --- the tally


def _enactment(p: ProposalRecord, signer: Signer | None, now: int) -> tuple[list[Draft], list[StateWrite],
                                                                            dict[str, Any]]:
    params = json.loads(p.params)
    program_item = ProgramRecord(pk="program", sk=ITEM)
    rule = {"proposal": p.proposal_id, "rule": "majority_of_eligible"}
    if p.kind == "halt":
        return ([Draft("program.halted", "system", {**rule})],
                [update(program_item, [ProgramRecord.status.set(HALTED), ProgramRecord.reason.set(p.proposal_id)],
                        ProgramRecord.status == RUNNING)], {"status": HALTED})
    if p.kind == "restart":
        return ([Draft("program.restarted", "system", {**rule})],
                [update(program_item, [ProgramRecord.status.set(RUNNING), ProgramRecord.reason.remove()],
                        ProgramRecord.status == HALTED)], {"status": RUNNING})
    if p.kind in ("freeze", "unfreeze"):
        before, after = ("active", "frozen") if p.kind == "freeze" else ("frozen", "active")
        entry_type = "wallet.frozen" if p.kind == "freeze" else "wallet.unfrozen"
        return ([Draft(entry_type, "system", {**rule, "wallet": p.subject})],
                [update(WalletRecord(pk=f"wallet#{p.subject}", sk=ITEM), [WalletRecord.status.set(after)],
                        WalletRecord.status == before)], {"wallet": p.subject, "status": after})
    if p.kind == "upgrade":
        return ([Draft("subchain.upgraded", "system", {**rule, **params})],
                [update(program_item, [ProgramRecord.subchain_version.set(params["version"])])],
                {"version": params["version"]})
    if p.kind == "rules":
        current = program()
        old_rules = json.loads(current.rules)
        new_rules = ProgramRules.from_json({**old_rules, **params}).to_json()
        return ([Draft("rules.changed", "system", {**rule, "before": old_rules, "after": new_rules})],
                [update(program_item, [ProgramRecord.rules.set(json.dumps(new_rules))],
                        ProgramRecord.rules == current.rules)], {"rules": new_rules})
    if p.kind == "dispute":
        return _remedy(p, params)
    report = build_report(p, params, signer, now)
    report_hash = hashlib.sha256(canonical(report)).hexdigest()
    return ([Draft("report.filed", "system", {**rule, "report_hash": report_hash,
                                               "evidence": params["evidence"]})],
            [save(ReportRecord(pk=f"report#{p.proposal_id}", sk=ITEM, body=json.dumps(report)))],
            {"report": p.proposal_id, "report_hash": report_hash})


def _remedy(p: ProposalRecord, params: dict[str, Any]) -> tuple[list[Draft], list[StateWrite], dict[str, Any]]:
    """What an upheld dispute does, as the buyer asked: re-issue the rebate, or revoke the seller."""
    from ..domain.rules import rebate
    from .money import credit, debit, history
    from .trading import get_order

    order = get_order(str(p.subject))
    rule = {"proposal": p.proposal_id, "order": order.order_id, "rule": "dispute_majority_of_eligible"}
    if params["remedy"] == "reissue_rebate":
        amount = rebate(int(order.quantity), int(order.unit_price), int(order.unit_profit),
                        ProgramRules.from_json(json.loads(program().rules)))
        minted = {**rule, "wallet": order.buyer_wallet, "amount": amount, "funded_by": order.seller_wallet,
                  "inputs": {"quantity": int(order.quantity), "unit_price": int(order.unit_price),
                             "unit_profit": int(order.unit_profit)}}
        if int(get_wallet(order.seller_wallet).fiat) < amount:
            raise Conflict(f"the seller's wallet cannot fund the re-issued rebate of {amount}",
                           code="seller_cannot_fund")
        now = now_ms()
        upheld, mint = new_entry_id(now), new_entry_id(now)
        return ([Draft("dispute.upheld", "system", {**rule, "remedy": "reissue_rebate"}, id=upheld),
                 Draft("coin.minted", "system", minted, id=mint)],
                [debit(order.seller_wallet, "fiat", amount), credit(order.buyer_wallet, "coin", amount, False),
                 history(order.seller_wallet, upheld, "dispute.upheld", "fiat", -amount, now),
                 history(order.buyer_wallet, mint, "coin.minted", "coin", amount, now),
                 update(TotalsRecord(pk="totals", sk=ITEM),
                        [TotalsRecord.coins_minted.add(amount), TotalsRecord.reserve.add(amount)], ordered=False)],
                {"reissued_rebate": amount})
    seller = get_node(order.seller)
    writes = [update(NodeRecord(pk=f"node#{seller.node_id}", sk=ITEM), [NodeRecord.status.set("revoked")],
                     NodeRecord.status != "revoked")]
    if seller.wallet_id:
        writes.append(update(WalletRecord(pk=f"wallet#{seller.wallet_id}", sk=ITEM),
                             [WalletRecord.status.set("revoked")]))
    return ([Draft("dispute.upheld", "system", {**rule, "remedy": "revoke_seller"}),
             Draft("node.revoked", "system", {**rule, "node": seller.node_id, "revoke_kid": seller.kid,
                                               "wallets": [seller.wallet_id] if seller.wallet_id else []})],
            writes, {"revoked": seller.node_id})


def refund_orders_of_revoked_sellers() -> list[str]:
    """A revoked seller's open orders go back to their buyers (run by every tally, so none is missed)."""
    from .money import credit, history
    from .trading import get_order

    try:
        revoked = {n.node_id for n in NodeRecord.scan(NodeRecord.pk.startswith("node#")
                                                      & (NodeRecord.status == "revoked"))}
        open_orders = [o for o in OrderRecord.scan(OrderRecord.pk.startswith("order#")
                                                   & OrderRecord.status.is_in("placed", "paid"))
                       if o.seller in revoked]
    except PynamoDBException as exc:
        raise StorageError("could not look for orders to refund") from exc
    refunded = []
    for order in open_orders:
        order = get_order(order.order_id)
        refund, ts = int(order.escrow), now_ms()
        entry_id = new_entry_id(ts)
        writes = [update(OrderRecord(pk=f"order#{order.order_id}", sk=ITEM),
                         [OrderRecord.status.set("cancelled"), OrderRecord.escrow.set(0)],
                         OrderRecord.status == order.status)]
        if refund:
            writes += [credit(order.buyer_wallet, "fiat", refund, require_active=False),
                       history(order.buyer_wallet, entry_id, "order.cancelled", "fiat", refund, ts)]
        try:
            commit([Draft("order.cancelled", "system", {"order": order.order_id, "refunded": refund,
                                                        "rule": "seller_revoked"}, id=entry_id)], writes)
        except Conflict:
            continue
        refunded.append(order.order_id)
    return refunded


def build_report(p: ProposalRecord, params: dict[str, Any], signer: Signer | None, now: int) -> dict[str, Any]:
    """The evidence entries with their inclusion proofs against the head, signed by the stamp node."""
    if signer is None:
        raise StorageError("a report needs the stamp node's key")
    head = reading.head()
    size = head["header"]["log_size"]
    evidence = []
    for entry_id in params["evidence"]:
        found = reading.entry(entry_id)
        evidence.append({**found, "proof": reading.inclusion_proof(found["index"], size)})
    body = {"v": 1, "proposal": p.proposal_id, "summary": params.get("summary", ""), "filed_at": now,
            "tally": {"yes": int(p.yes), "no": int(p.no), "eligible": int(p.eligible)},
            "head": head, "evidence": evidence, "signer": signer.kid}
    if len(canonical(body)) > MAX_REPORT_BYTES:
        raise StorageError(f"the evidence is too large for one report ({MAX_REPORT_BYTES} bytes at most)")
    return {"report": body, "sig": signer.sign(canonical(body))}


def _close(p: ProposalRecord, result: str, quorum_bps: int, signer: Signer | None, height: int) -> dict[str, Any]:
    now = now_ms()
    closed = {"proposal": p.proposal_id, "result": result, "yes": int(p.yes), "no": int(p.no),
              "eligible": int(p.eligible), "quorum_bps": quorum_bps, "rule": "majority_of_eligible",
              "height": height}
    drafts: list[Draft] = []
    writes: list[StateWrite] = []
    outcome: dict[str, Any] = {"result": result}
    if result == "passed":
        try:
            drafts, writes, effect = _enactment(p, signer, now)
            outcome["enacted"] = effect
        except CovenantError as exc:
            outcome["not_enacted"] = exc.message
    record = ProposalRecord(pk=f"proposal#{p.proposal_id}", sk=ITEM)
    guard = update(record, [ProposalRecord.status.set(result), ProposalRecord.outcome.set(json.dumps(outcome))],
                   (ProposalRecord.status == "open") & (ProposalRecord.yes == p.yes) & (ProposalRecord.no == p.no))
    if p.kind == "dispute" and result == "rejected":
        drafts = [Draft("dispute.dismissed", "system", {"proposal": p.proposal_id, "order": p.subject,
                                                         "rule": "dispute_majority_of_eligible"})]
    try:
        commit([Draft("proposal.closed", "system", {**closed, "outcome": outcome}), *drafts], [guard, *writes])
    except Conflict:
        if not drafts:
            raise
        # the enactment no longer applies (its subject changed): close without it
        outcome = {"result": result, "not_enacted": "the subject changed before the tally"}
        guard = update(record, [ProposalRecord.status.set(result), ProposalRecord.outcome.set(json.dumps(outcome))],
                       (ProposalRecord.status == "open") & (ProposalRecord.yes == p.yes) & (ProposalRecord.no == p.no))
        commit([Draft("proposal.closed", "system", {**closed, "outcome": outcome})], [guard])
    return {"proposal": p.proposal_id, **outcome}


def tally(signer: Signer | None = None) -> dict[str, Any]:
    """Close every proposal that has passed or whose deadline went by; enact the passed ones."""
    height = ledger_store.completed_height()
    quorum = ProgramRules.from_json(json.loads(program().rules)).start_quorum_bps
    closed: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for view in list_proposals("open")["proposals"]:
        p = get_proposal(view["proposal"])
        result = decide(int(p.yes), int(p.eligible), quorum, bool(p.needs_approval), bool(p.approved), height,
                        int(p.deadline_height))
        if result is None:
            continue
        try:
            closed.append(_close(p, result, quorum, signer, height))
        except Conflict:
            continue  # a vote or another tally moved it; the next run sees the new state
        except CovenantError as exc:  # one proposal's trouble never holds up the others
            logger.warning("tally could not close a proposal", extra={"proposal": p.proposal_id,
                                                                        "error": exc.message})
            failed.append({"proposal": p.proposal_id, "error": exc.message})
    return {"height": height, "closed": closed, "failed": failed, "refunded": refund_orders_of_revoked_sellers()}


def requested_tally(signed: SignedRequest) -> tuple[int, dict[str, Any]]:
    """The stamp node runs the tally now (it also runs every minute)."""
    stamp = require_stamp(signed)
    result = tally(load_signer_for_reports())
    commit([Draft("tally.requested", stamp.node_id, {"closed": [c["proposal"] for c in result["closed"]]},
                  signed.auth)], [signed.remember(200, result)])
    return 200, result


def load_signer_for_reports() -> Signer | None:
    """Reports are signed with the stamp node's key; without it a report proposal stays unenacted."""
    from .sealer_key import load_signer

    try:
        return load_signer()
    except CovenantError:
        return None


def report(proposal_id: str) -> dict[str, Any]:
    try:
        return dict(json.loads(ReportRecord.get(f"report#{proposal_id}", ITEM, consistent_read=True).body))
    except ReportRecord.DoesNotExist as exc:
        raise NotFound(f"no report was filed by {proposal_id}", field="proposal") from exc
    except PynamoDBException as exc:
        raise StorageError("could not read the report") from exc

