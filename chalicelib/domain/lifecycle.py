"""What the program allows in each of its states: the one table every signed request is checked against.

States: ``awaiting_authorisation`` (until 51% of consumer nodes authorise it),
``running``, ``halted`` (by a vote, or by the constitution until the sweep
restores it).

A halted system is halted: it accepts proposals to restart it and votes on
them, and nothing else a node asks. The constitution's own machinery keeps
working, because it only enforces the constitution or counts votes: the
legality sweep (scheduled, or asked for by the stamp node) and the tally
(scheduled, or asked for), which while halted closes only restart proposals.
Every commit of an action carries a condition on the program's status, so an
action that races a halt either commits before it or is refused.
"""

from __future__ import annotations

AWAITING, RUNNING, HALTED = "awaiting_authorisation", "running", "halted"
STATES = (AWAITING, RUNNING, HALTED)
_ALWAYS = frozenset(STATES)
_RUNNING = frozenset({RUNNING})

# action -> the states in which a node may ask for it
ALLOWED: dict[str, frozenset[str]] = {
    "register": frozenset({AWAITING, RUNNING}),
    "approve_merchant": frozenset({AWAITING, RUNNING}),
    "authorise": frozenset({AWAITING}),
    "deposit": frozenset({AWAITING, RUNNING}),
    "withdraw": frozenset({AWAITING, RUNNING}),
    "order": _RUNNING,
    "pay": _RUNNING,
    "ship": _RUNNING,
    "receipt": _RUNNING,
    "cancel": _RUNNING,
    "exchange": _RUNNING,
    "propose": _RUNNING,
    "propose:restart": frozenset({HALTED}),
    "vote": _RUNNING,
    "vote:restart": frozenset({HALTED}),
    "approve_proposal": _RUNNING,
    "dispute": _RUNNING,
    "goods_vote": _RUNNING,
    "upload": _RUNNING,
    "publish": _RUNNING,
    "buy_item": _RUNNING,
    "item_vote": _RUNNING,
    "subchain": frozenset({AWAITING, RUNNING}),
    "sweep": _ALWAYS,
    "tally": _ALWAYS,
}


def action_for(action: str, kind: str | None = None) -> str:
    """Proposals and votes are allowed by the proposal's kind: a restart is its own action."""
    return f"{action}:{kind}" if kind is not None and f"{action}:{kind}" in ALLOWED else action


def allowed_states(action: str, kind: str | None = None) -> frozenset[str]:
    return ALLOWED[action_for(action, kind)]


def refusal(action: str, status: str, kind: str | None = None) -> str | None:
    """Why ``action`` is refused in ``status``, or None when it is allowed."""
    if status in allowed_states(action, kind):
        return None
    if status == HALTED:
        return "the system is halted: it accepts proposals to restart it and votes on them, and nothing else"
    if status == AWAITING:
        return "the program has not started: it runs once 51% of consumer nodes authorise it"
    return f"the program is {status}"
