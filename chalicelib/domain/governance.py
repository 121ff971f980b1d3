"""Majority votes of the ultimate covenant (pure): who may vote, when a proposal passes.

A proposal passes when yes-votes reach the quorum (51%) of the *eligible*,
not of the votes cast, before its deadline. The eligible are the active
consumer nodes when it opens, plus the stamp node's single vote. Upgrades and
rule changes also need the stamp node's approval.

A deadline is a time, in milliseconds since the epoch, fixed when the proposal
opens (``opened_at`` + its duration), and compared with entry timestamps: a
vote counts only if its entry is timestamped at or before the deadline, and a
proposal is rejected only by an entry timestamped after it. Timestamps come
from the program's clock and are sealed under the sealer's signature in blocks
whose timestamps never go backwards, so writing many entries (which makes
many blocks) moves no deadline. Block heights are pushed by anyone who
writes; they were never a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .rules import quorum_reached

KINDS = ("halt", "restart", "freeze", "unfreeze", "report", "upgrade", "rules")
NEEDS_APPROVAL = frozenset({"upgrade", "rules"})


def eligible_digest(node_ids: Iterable[str]) -> str:
    """A commitment to the eligible set, so anyone replaying the ledger can check its own snapshot."""
    return hashlib.sha256("\n".join(sorted(node_ids)).encode("utf-8")).hexdigest()


DEFAULT_DURATION_MINUTES = 24 * 60


def deadline_of(opened_at: int, minutes: int) -> int:
    return opened_at + minutes * 60_000


def decide(yes: int, eligible: int, quorum_bps: int, needs_approval: bool, approved: bool,
           now: int, deadline: int) -> str | None:
    """``passed``, ``rejected`` (the deadline went by, ``now`` and ``deadline`` in ms) or None (still open)."""
    if quorum_reached(yes, eligible, quorum_bps) and (approved or not needs_approval):
        return "passed"
    if now > deadline:
        return "rejected"
    return None


@dataclass
class TallyView:
    eligible: int
    deadline: int
    yes: int = 0
    no: int = 0
    voters: set[str] = field(default_factory=set)
    approved: bool = False
    result: str | None = None
    closed_with: dict[str, Any] | None = None


def tally_from_entries(entries: Iterable[dict[str, Any]]) -> dict[str, TallyView]:
    """Recompute every proposal's tally from ledger entries, as a replica would; a vote after the deadline
    or the close, a second vote, or a rejection before the deadline raises ValueError."""
    tallies: dict[str, TallyView] = {}
    for entry in entries:
        data = entry["data"]
        kind = entry["type"]
        if kind in ("proposal.opened", "dispute.opened"):
            tallies[data["proposal"]] = TallyView(eligible=data["eligible"], deadline=data["deadline"])
        elif kind == "proposal.voted":
            view = tallies[data["proposal"]]
            if entry["actor"] in view.voters or view.result is not None:
                raise ValueError(f"{entry['id']}: a second vote, or a vote after the close")
            if entry["ts"] > view.deadline:
                raise ValueError(f"{entry['id']}: a vote timestamped after the deadline")
            view.voters.add(entry["actor"])
            if data["choice"] == "yes":
                view.yes += 1
            else:
                view.no += 1
        elif kind == "proposal.approved":
            tallies[data["proposal"]].approved = True
        elif kind == "proposal.closed":
            view = tallies[data["proposal"]]
            if data["result"] == "rejected" and entry["ts"] <= view.deadline:
                raise ValueError(f"{entry['id']}: a rejection before the deadline")
            view.result = data["result"]
            view.closed_with = data
    return tallies
