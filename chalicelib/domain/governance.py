"""Majority votes of the ultimate covenant (pure): who may vote, when a proposal passes.

A proposal passes when yes-votes reach the quorum (51%) of the *eligible*,
not of the votes cast, before its deadline (a block height). The eligible are
the active consumer nodes when it opens, plus the stamp node's single vote.
Upgrades and rule changes also need the stamp node's approval.
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


def decide(yes: int, eligible: int, quorum_bps: int, needs_approval: bool, approved: bool,
           height: int, deadline: int) -> str | None:
    """``passed``, ``rejected`` (the deadline went by) or None (still open)."""
    if quorum_reached(yes, eligible, quorum_bps) and (approved or not needs_approval):
        return "passed"
    if height > deadline:
        return "rejected"
    return None


@dataclass
class TallyView:
    eligible: int
    yes: int = 0
    no: int = 0
    voters: set[str] = field(default_factory=set)
    approved: bool = False
    result: str | None = None
    closed_with: dict[str, Any] | None = None


def tally_from_entries(entries: Iterable[dict[str, Any]]) -> dict[str, TallyView]:
    """Recompute every proposal's tally from ledger entries, as a replica would."""
    tallies: dict[str, TallyView] = {}
    for entry in entries:
        data = entry["data"]
        kind = entry["type"]
        if kind in ("proposal.opened", "dispute.opened"):
            tallies[data["proposal"]] = TallyView(eligible=data["eligible"])
        elif kind == "proposal.voted":
            view = tallies[data["proposal"]]
            if entry["actor"] in view.voters or view.result is not None:
                raise ValueError(f"{entry['id']}: a second vote, or a vote after the close")
            view.voters.add(entry["actor"])
            if data["choice"] == "yes":
                view.yes += 1
            else:
                view.no += 1
        elif kind == "proposal.approved":
            tallies[data["proposal"]].approved = True
        elif kind == "proposal.closed":
            view = tallies[data["proposal"]]
            view.result = data["result"]
            view.closed_with = data
    return tallies
