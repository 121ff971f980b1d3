"""The ultimate covenant's majority votes: every rule and its edges."""

from __future__ import annotations

import pytest

from chalicelib.domain.records import Node, Wallet
from chalicelib.services.sealing import seal_pending_entries
from tests import state
from tests.actors import answer, expect, register_consumer


@pytest.fixture
def assembly(running):
    """Five active consumers (three from `running`, two more) and the stamp node: six eligible voters."""
    running.consumers += [register_consumer(running.http) for _ in range(2)]
    return running


def _open(actor, kind, subject=None, params=None, deadline=30):
    body = {"kind": kind, "deadline_minutes": deadline, **({"subject": subject} if subject else {}),
            **({"params": params} if params else {})}
    return expect(actor.post("/proposals", body), 201)


def _vote(actor, proposal, choice="yes"):
    return actor.post(f"/proposals/{proposal}/votes", {"choice": choice})


def _tally(assembly):
    return expect(assembly.stamp.post("/tallies"), 200)


def test_eligible_is_a_snapshot_of_active_consumers_plus_the_stamp(assembly):
    proposal = _open(assembly.consumers[0], "halt")
    assert proposal["eligible"] == 6
    late = register_consumer(assembly.http)
    expect(_vote(late, proposal["proposal"]), 403, "not_eligible")


def test_exactly_51_percent_of_the_eligible_passes_and_just_under_does_not(assembly):
    # 6 eligible: 3 yes is 50%, short; 4 yes is 66.7% (the smallest count >= 51%)
    proposal = _open(assembly.consumers[0], "halt")["proposal"]
    for voter in assembly.consumers[:3]:
        expect(_vote(voter, proposal), 201)
    expect(_vote(assembly.consumers[3], proposal, "no"), 201)
    assert _tally(assembly)["closed"] == []
    expect(_vote(assembly.stamp, proposal), 201)  # the stamp node's single vote
    closed = _tally(assembly)["closed"]
    assert closed == [{"proposal": proposal, "result": "passed", "enacted": {"status": "halted"}}]
    assert answer(assembly.http.get("/program"))["status"] == "halted"


def test_51_of_100_is_counted_against_the_eligible_not_the_votes_cast(assembly):
    from chalicelib.domain.governance import decide

    assert decide(51, 100, 5_100, False, False, now=5, deadline=10) == "passed"
    assert decide(50, 100, 5_100, False, False, now=5, deadline=10) is None
    assert decide(50, 100, 5_100, False, False, now=11, deadline=10) == "rejected"
    assert decide(3, 3, 5_100, True, False, now=5, deadline=10) is None  # unapproved
    # 2 yes, 0 no of 6 eligible: every vote cast says yes, still far from 51%
    proposal = _open(assembly.consumers[0], "halt", deadline=1)["proposal"]
    expect(_vote(assembly.consumers[0], proposal), 201)
    expect(_vote(assembly.consumers[1], proposal), 201)
    assert _tally(assembly)["closed"] == []


def test_a_proposal_is_rejected_at_its_deadline_and_late_votes_are_refused(assembly, chain, program_clock):
    proposal = _open(assembly.consumers[0], "halt", deadline=1)["proposal"]
    expect(_vote(assembly.consumers[0], proposal), 201)
    program_clock.advance(61_000)  # the deadline, one minute after the opening, goes by
    expect(_vote(assembly.consumers[1], proposal), 409, "voting_closed")
    closed = _tally(assembly)["closed"]
    assert closed[0]["result"] == "rejected"
    assert answer(assembly.http.get(f"/proposals/{proposal}"))["status"] == "rejected"


def test_one_vote_per_node(assembly):
    proposal = _open(assembly.consumers[0], "halt")["proposal"]
    expect(_vote(assembly.consumers[1], proposal), 201)
    expect(_vote(assembly.consumers[1], proposal, "no"), 409, "already_voted")
    assert answer(assembly.http.get(f"/proposals/{proposal}"))["yes"] == 1


@pytest.mark.parametrize("status", ["frozen", "black", "revoked"])
def test_frozen_black_or_revoked_nodes_cannot_vote(assembly, status):
    proposal = _open(assembly.consumers[0], "halt")["proposal"]
    voter = assembly.consumers[1]
    state.change(state.get(Node, Node.key_of(voter.node)), status=status)
    code = "key_revoked" if status == "revoked" else "voter_not_active"
    expect(_vote(voter, proposal), 403, code)


def test_a_halted_system_still_votes_to_restart_it_and_nothing_else(assembly):
    halt = _open(assembly.consumers[0], "halt")["proposal"]
    for voter in [*assembly.consumers[:3], assembly.stamp]:
        expect(_vote(voter, halt), 201)
    _tally(assembly)
    expect(assembly.consumers[0].post("/proposals", {"kind": "halt"}), 409, "program_not_running")
    buyer = assembly.consumers[0]
    expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": assembly.merchant.node, "quantity": 1,
                                  "unit_price": 100, "unit_profit": 0}), 409, "program_not_running")
    restart = _open(assembly.consumers[1], "restart")["proposal"]
    for voter in [*assembly.consumers[:3], assembly.stamp]:
        expect(_vote(voter, restart), 201)
    assert _tally(assembly)["closed"][0]["enacted"] == {"status": "running"}
    assert answer(assembly.http.get("/program"))["status"] == "running"


def test_freeze_and_unfreeze_a_merchants_legal_wallet(assembly):
    wallet = assembly.merchant.wallet
    freeze = _open(assembly.consumers[0], "freeze", subject=wallet)["proposal"]
    for voter in assembly.consumers[:4]:
        expect(_vote(voter, freeze), 201)
    _tally(assembly)
    assert answer(assembly.http.get(f"/wallets/{wallet}"))["status"] == "frozen"
    unfreeze = _open(assembly.consumers[0], "unfreeze", subject=wallet)["proposal"]
    for voter in assembly.consumers[:4]:
        expect(_vote(voter, unfreeze), 201)
    _tally(assembly)
    assert answer(assembly.http.get(f"/wallets/{wallet}"))["status"] == "active"


def test_a_black_wallet_cannot_be_the_subject_of_an_unfreeze(assembly):
    wallet = assembly.merchant.wallet
    state.change(state.get(Wallet, Wallet.key_of(wallet)), status="black")
    expect(assembly.consumers[0].post("/proposals", {"kind": "unfreeze", "subject": wallet}), 409, "black_wallet")


def test_only_a_merchants_legal_wallet_is_frozen(assembly):
    expect(assembly.consumers[0].post("/proposals", {"kind": "freeze", "subject": assembly.consumers[1].wallet}),
           409, "not_a_legal_wallet")


def test_a_rule_change_needs_the_stamp_nodes_approval(assembly):
    change = _open(assembly.consumers[0], "rules", params={"rebate_bps": 3_000})["proposal"]
    for voter in assembly.consumers:
        expect(_vote(voter, change), 201)
    assert _tally(assembly)["closed"] == []  # 5 of 6 say yes, but no approval yet
    expect(assembly.consumers[0].post(f"/proposals/{change}/approval"), 403, "stamp_only")
    expect(assembly.stamp.post(f"/proposals/{change}/approval"), 200)
    assert _tally(assembly)["closed"][0]["result"] == "passed"
    assert answer(assembly.http.get("/program"))["rules"]["rebate_bps"] == 3_000


def test_an_upgrade_needs_approval_and_records_the_version(assembly):
    upgrade = _open(assembly.consumers[0], "upgrade", params={"version": "2.1.0", "digest": "ab" * 32})["proposal"]
    for voter in assembly.consumers[:4]:
        expect(_vote(voter, upgrade), 201)
    expect(assembly.stamp.post(f"/proposals/{upgrade}/approval"), 200)
    assert _tally(assembly)["closed"][0]["enacted"] == {"version": "2.1.0"}


def test_a_halt_needs_no_approval(assembly):
    halt = _open(assembly.consumers[0], "halt")["proposal"]
    expect(assembly.stamp.post(f"/proposals/{halt}/approval"), 409, "approval_not_needed")


def test_a_report_to_the_authorities_is_signed_with_inclusion_proofs(assembly, chain):
    from chalicelib.ledger import merkle
    from chalicelib.ledger.canonical import canonical
    from chalicelib.ledger.format import entry_leaf
    from chalicelib.ledger.keys import public_key_from_jwk, signature_valid

    buyer = assembly.consumers[0]
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": assembly.merchant.node, "quantity": 1,
                                          "unit_price": 100, "unit_profit": 0}), 201)
    seal_pending_entries(chain)
    report = _open(buyer, "report", params={"evidence": [order["entry"]], "summary": "suspicious order"})
    for voter in assembly.consumers[:4]:
        expect(_vote(voter, report["proposal"]), 201)
    _tally(assembly)
    filed = answer(assembly.http.get(f"/reports/{report['proposal']}"))
    body = filed["report"]
    assert signature_valid(public_key_from_jwk(chain.jwk), filed["sig"], canonical(body))
    head = body["head"]["header"]
    evidence = body["evidence"][0]
    merkle.verify_inclusion(evidence["index"], head["log_size"], entry_leaf(evidence["entry"]),
                            [bytes.fromhex(p) for p in evidence["proof"]["path"]], bytes.fromhex(head["log_root"]))
    expect(buyer.post("/proposals", {"kind": "report", "params": {"evidence": ["no-such-entry"]}}), 400)


@pytest.mark.parametrize("body,field", [
    ({"kind": "coup"}, "kind"),
    ({"kind": "freeze"}, "body"),
    ({"kind": "halt", "subject": "w-1"}, "body"),
    ({"kind": "halt", "params": {"x": 1}}, "body"),
    ({"kind": "rules", "params": {"start_quorum_bps": 4_000}}, "body"),
    ({"kind": "rules", "params": {}}, "body"),
    ({"kind": "upgrade", "params": {"version": "bad version!"}}, "body"),
    ({"kind": "halt", "deadline_minutes": 0}, "deadline_minutes"),
    ({"kind": "halt", "deadline_minutes": 30 * 24 * 60 + 1}, "deadline_minutes"),
])
def test_bad_proposals_answer_400_with_the_field(assembly, body, field):
    error = expect(assembly.consumers[0].post("/proposals", body), 400, "invalid_body")["error"]
    assert error["field"] == field
    if body.get("params"):
        assert "params." in error["message"] or "takes no params" in error["message"]


def test_the_tallies_a_replica_recomputes_from_the_ledger_equal_the_programs(assembly, chain):
    from chalicelib.domain.governance import tally_from_entries
    from tests.integration.chain_checks import verified_chain

    first = _open(assembly.consumers[0], "halt")["proposal"]
    second = _open(assembly.consumers[1], "freeze", subject=assembly.merchant.wallet)["proposal"]
    for i, voter in enumerate([*assembly.consumers, assembly.stamp]):
        expect(_vote(voter, first, "yes" if i % 2 else "no"), 201)
        expect(_vote(voter, second, "yes" if i < 4 else "no"), 201)
    _tally(assembly)
    seal_pending_entries(chain)
    recomputed = tally_from_entries(e for block in verified_chain() for e in block["entries"])
    for proposal in (first, second):
        view = answer(assembly.http.get(f"/proposals/{proposal}"))
        mine = recomputed[proposal]
        assert (mine.yes, mine.no, mine.eligible) == (view["yes"], view["no"], view["eligible"])
        assert mine.result == view["status"] or view["status"] == "open"


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(votes=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["yes", "no"])), max_size=10),
       approve=st.booleans())
def test_property_replayed_tallies_equal_the_programs(assembly, chain, votes, approve):
    from chalicelib.domain.governance import tally_from_entries
    from tests.integration.chain_checks import verified_chain

    voters = [*assembly.consumers, assembly.stamp]
    proposal = _open(voters[0], "upgrade", params={"version": "9.9.9"})["proposal"]
    for who, choice in votes:
        response = _vote(voters[who], proposal, choice)
        assert response.status_code in (201, 409)  # a second vote by the same node is refused
    if approve:
        expect(assembly.stamp.post(f"/proposals/{proposal}/approval"), 200)
    _tally(assembly)
    seal_pending_entries(chain)
    recomputed = tally_from_entries(e for block in verified_chain() for e in block["entries"])[proposal]
    program_view = answer(assembly.http.get(f"/proposals/{proposal}"))
    assert (recomputed.yes, recomputed.no, recomputed.eligible) == (
        program_view["yes"], program_view["no"], program_view["eligible"])
    assert recomputed.approved == program_view["approved"]
    assert (recomputed.result or "open") == program_view["status"]
    distinct = {who for who, _ in votes}
    assert recomputed.yes + recomputed.no == len(distinct)


def test_the_stamp_node_cannot_approve_after_the_deadline(assembly, chain, program_clock):
    change = _open(assembly.consumers[0], "rules", params={"rebate_bps": 9_000}, deadline=1)["proposal"]
    for voter in assembly.consumers[:4]:
        expect(_vote(voter, change), 201)
    program_clock.advance(61_000)
    expect(assembly.stamp.post(f"/proposals/{change}/approval"), 409, "approval_not_open")
    assert _tally(assembly)["closed"][0]["result"] == "rejected"
    assert answer(assembly.http.get("/program"))["rules"]["rebate_bps"] == 2_000


def test_a_report_too_large_closes_unenacted_and_never_blocks_the_tally(assembly, chain, monkeypatch):
    from chalicelib.services import governance

    buyer = assembly.consumers[0]
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": assembly.merchant.node, "quantity": 1,
                                          "unit_price": 100, "unit_profit": 0}), 201)
    seal_pending_entries(chain)
    monkeypatch.setattr(governance, "MAX_REPORT_BYTES", 100)
    report = _open(buyer, "report", params={"evidence": [order["entry"]]})["proposal"]
    halt = _open(buyer, "halt")["proposal"]
    for voter in assembly.consumers[:4]:
        expect(_vote(voter, report), 201)
        expect(_vote(voter, halt), 201)
    closed = {c["proposal"]: c for c in _tally(assembly)["closed"]}
    assert "too large" in closed[report]["not_enacted"] and closed[halt]["enacted"] == {"status": "halted"}
    expect(buyer.post("/proposals", {"kind": "report", "params": {"evidence": ["e-1", "e-1"]}}), 400, "invalid_body")


def test_a_flood_of_entries_does_not_move_a_deadline(assembly, chain, monkeypatch):
    """Heights were a clock anyone could push: 300 throw-away registrations sealed into many blocks."""
    from chalicelib.settings import reset_settings

    proposal = _open(assembly.consumers[0], "halt", deadline=10)
    for _ in range(300):
        register_consumer(assembly.http)
    monkeypatch.setenv("COVENANT_MAX_BLOCK_ENTRIES", "5")
    reset_settings()
    sealed = seal_pending_entries(chain)
    assert len(sealed.blocks) >= 20  # far more blocks than the old 1-block deadline of a test
    # the vote still counts, and the proposal is still open: nothing but time closes it
    expect(_vote(assembly.consumers[1], proposal["proposal"]), 201)
    assert _tally(assembly)["closed"] == []
    view = answer(assembly.http.get(f"/proposals/{proposal['proposal']}"))
    assert view["status"] == "open" and view["deadline"] == proposal["deadline"]
    assert view["deadline"] == view["opened_at"] + 10 * 60_000


def test_a_replayed_ledger_rechecks_every_deadline(assembly, chain, program_clock):
    from chalicelib.domain.governance import tally_from_entries
    from tests.integration.chain_checks import verified_chain

    proposal = _open(assembly.consumers[0], "halt", deadline=1)["proposal"]
    expect(_vote(assembly.consumers[0], proposal), 201)
    program_clock.advance(61_000)
    expect(_vote(assembly.consumers[1], proposal), 409, "voting_closed")
    assert _tally(assembly)["closed"][0]["result"] == "rejected"
    seal_pending_entries(chain)
    entries = [e for block in verified_chain() for e in block["entries"]]
    view = tally_from_entries(entries)[proposal]
    assert (view.yes, view.result) == (1, "rejected")
    closing = next(e for e in entries if e["type"] == "proposal.closed" and e["data"]["proposal"] == proposal)
    assert closing["ts"] > view.deadline
    # a ledger that showed a vote after the deadline would be refused by the replay
    late = {"id": "late", "type": "proposal.voted", "actor": "c-x", "ts": view.deadline + 1,
            "data": {"proposal": proposal, "choice": "yes"}}
    opened = next(e for e in entries if e["type"] == "proposal.opened" and e["data"]["proposal"] == proposal)
    with pytest.raises(ValueError, match="after the deadline"):
        tally_from_entries([opened, late])
