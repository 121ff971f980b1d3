"""The constitution's checks, over a snapshot of nodes and wallets (pure).

(a) two or more stamp nodes, or two merchants with one identity, halt the
system at once: the impostors are revoked (the genuine stamp node is the one
genesis registered; among merchants sharing an identity the oldest stays) and
the system restores itself. (b) a merchant linked to two or more wallets keeps
its oldest as its legal wallet; the others become black wallets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TypeVar


@dataclass(frozen=True)
class NodeView:
    node_id: str
    role: str
    status: str
    ts: int
    identity_key: str | None = None


@dataclass(frozen=True)
class WalletView:
    wallet_id: str
    node_id: str
    status: str
    ts: int


@dataclass
class Findings:
    impostor_stamps: list[str] = field(default_factory=list)
    duplicate_merchants: dict[str, list[str]] = field(default_factory=dict)  # kept -> revoked
    black_wallets: dict[str, list[str]] = field(default_factory=dict)  # legal wallet -> blackened

    @property
    def halts(self) -> bool:
        return bool(self.impostor_stamps or self.duplicate_merchants)

    @property
    def any(self) -> bool:
        return self.halts or bool(self.black_wallets)


_Aged = TypeVar("_Aged", NodeView, WalletView)


def _oldest_first(items: list[_Aged], key: str) -> list[_Aged]:
    return sorted(items, key=lambda item: (item.ts, getattr(item, key)))


def find_violations(nodes: list[NodeView], wallets: list[WalletView], genuine_stamp: str) -> Findings:
    findings = Findings()
    live = [n for n in nodes if n.status != "revoked"]
    stamps = [n for n in live if n.role == "stamp"]
    if len(stamps) >= 2:
        findings.impostor_stamps = sorted(n.node_id for n in stamps if n.node_id != genuine_stamp)
    by_identity: dict[str, list[NodeView]] = defaultdict(list)
    for node in live:
        if node.role == "merchant" and node.identity_key:
            by_identity[node.identity_key].append(node)
    for group in by_identity.values():
        if len(group) >= 2:
            kept, *rest = _oldest_first(group, "node_id")
            findings.duplicate_merchants[kept.node_id] = [n.node_id for n in rest]
    merchants = {n.node_id for n in live if n.role == "merchant"}
    by_node: dict[str, list[WalletView]] = defaultdict(list)
    for wallet in wallets:
        if wallet.node_id in merchants and wallet.status != "black":
            by_node[wallet.node_id].append(wallet)
    for owned in by_node.values():
        if len(owned) >= 2:
            legal, *extra = _oldest_first(owned, "wallet_id")
            findings.black_wallets[legal.wallet_id] = [w.wallet_id for w in extra]
    return findings
