"""The program's state, as plain records (pure: no AWS).

Every record is one item of the state, addressed by a key ``(pk, sk)``; the
store (``chalicelib.store.state``) keeps them in DynamoDB or in memory. A record
may also name its place in the one secondary index (``index_key``), so that
lists the program needs (active consumers, open proposals, goods by votes, a
seller's open orders, a node's wallets) are read by key, never by a scan.
Balances and counters are integers of minor units.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

ITEM = "item"


class Key(NamedTuple):
    pk: str
    sk: str = ITEM


class IndexKey(NamedTuple):
    pk: str
    sk: str


@dataclass(frozen=True)
class Record:
    """Base of every state record. ``KIND`` names it in storage; ``INDEXED`` the fields its index key reads."""

    KIND: ClassVar[str] = "record"
    INDEXED: ClassVar[frozenset[str]] = frozenset()

    @property
    def key(self) -> Key:
        raise NotImplementedError

    def index_key(self) -> IndexKey | None:
        return None

    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _desc(value: int, width: int = 16) -> str:
    """A non-negative count written so that larger values sort first."""
    return f"{10**width - 1 - max(0, min(value, 10**width - 1)):0{width}d}"


# --- the program and its counters


@dataclass(frozen=True)
class Program(Record):
    """Lifecycle status, why, the status a constitutional halt restores, the rules in force (JSON)."""

    KIND = "program"
    status: str
    rules: str
    reason: str | None = None
    halted_from: str | None = None
    subchain_version: str | None = None

    @property
    def key(self) -> Key:
        return Key("program")

    @staticmethod
    def key_of() -> Key:
        return Key("program")


@dataclass(frozen=True)
class Counts(Record):
    """Registered consumer nodes and authorisations, apart from the program item so that it stays cold."""

    KIND = "counts"
    consumers: int = 0
    authorisations: int = 0

    @property
    def key(self) -> Key:
        return Key("counts")

    @staticmethod
    def key_of() -> Key:
        return Key("counts")


@dataclass(frozen=True)
class Totals(Record):
    """What the postings moved through the system's own accounts, for the conservation checks.

    ``coins_minted`` and ``coins_retired`` are the coin issuance; ``reserve`` the fiat backing coins;
    ``fees`` the exchange fees paid; ``fiat_in`` and ``fiat_out`` what crossed the stamp node's bridge.
    """

    KIND = "totals"
    coins_minted: int = 0
    coins_retired: int = 0
    reserve: int = 0
    fees: int = 0
    fiat_in: int = 0
    fiat_out: int = 0

    @property
    def key(self) -> Key:
        return Key("totals")

    @staticmethod
    def key_of() -> Key:
        return Key("totals")


# --- nodes, keys and wallets


@dataclass(frozen=True)
class Node(Record):
    KIND = "node"
    INDEXED = frozenset({"role", "status", "ts", "identity_key", "node_id"})
    node_id: str
    role: str
    kid: str
    jwk: str
    status: str
    ts: int
    identity: str | None = None
    identity_key: str | None = None
    approved: bool = False
    wallet_id: str | None = None

    @property
    def key(self) -> Key:
        return Key(f"node#{self.node_id}")

    @staticmethod
    def key_of(node_id: str) -> Key:
        return Key(f"node#{node_id}")

    def index_key(self) -> IndexKey:
        # Merchants sort by identity, so that two holding one identity sit side by side.
        order = f"{self.identity_key or ''}#{self.ts:013d}" if self.role == "merchant" else f"{self.ts:013d}"
        return IndexKey(nodes_index(self.role, self.status), f"{order}#{self.node_id}")


def nodes_index(role: str, status: str) -> str:
    """Consumers by status (a proposal's electorate is the active ones); every other role live or revoked,
    since the constitution looks at every live stamp node and merchant at once."""
    if role != "consumer":
        status = "revoked" if status == "revoked" else LIVE
    return f"nodes#{role}#{status}"


LIVE = "live"


@dataclass(frozen=True)
class KeyBinding(Record):
    """The node a key belongs to: a key serves one node, and is registered once."""

    KIND = "kid"
    kid: str
    node_id: str

    @property
    def key(self) -> Key:
        return Key(f"kid#{self.kid}")

    @staticmethod
    def key_of(kid: str) -> Key:
        return Key(f"kid#{kid}")


@dataclass(frozen=True)
class IdentityClaim(Record):
    """The merchant holding a legal identity."""

    KIND = "identity"
    identity_key: str
    node_id: str

    @property
    def key(self) -> Key:
        return Key(f"identity#{self.identity_key}")

    @staticmethod
    def key_of(identity_key: str) -> Key:
        return Key(f"identity#{identity_key}")


@dataclass(frozen=True)
class Wallet(Record):
    KIND = "wallet"
    INDEXED = frozenset({"node_id", "ts", "wallet_id"})
    wallet_id: str
    node_id: str
    kid: str
    status: str
    ts: int
    fiat: int = 0
    coin: int = 0

    @property
    def key(self) -> Key:
        return Key(f"wallet#{self.wallet_id}")

    @staticmethod
    def key_of(wallet_id: str) -> Key:
        return Key(f"wallet#{wallet_id}")

    def index_key(self) -> IndexKey:
        return IndexKey(wallets_index(self.node_id), f"{self.ts:013d}#{self.wallet_id}")


def wallets_index(node_id: str) -> str:
    return f"wallets#{node_id}"


@dataclass(frozen=True)
class History(Record):
    """One movement of a wallet's balance (or another act that touched it), newest last."""

    KIND = "history"
    wallet_id: str
    ts: int
    entry_id: str
    type: str
    asset: str | None = None
    delta: int = 0

    @property
    def key(self) -> Key:
        return Key(f"history#{self.wallet_id}", f"{self.ts:013d}#{self.entry_id}#{self.asset or ''}")


# --- trading


@dataclass(frozen=True)
class OrderEntry(Record):
    """An entry about an order, at its place in the log: the order's timeline, indexed as blocks complete."""

    KIND = "order_entry"
    order_id: str
    index: int
    height: int
    entry_id: str
    type: str

    @property
    def key(self) -> Key:
        return Key(f"order-entries#{self.order_id}", f"{self.index:016d}")


OPEN_ORDER_STATES = ("placed", "paid")


@dataclass(frozen=True)
class Order(Record):
    KIND = "order"
    INDEXED = frozenset({"status", "seller", "order_id"})
    order_id: str
    buyer: str
    buyer_wallet: str
    seller: str
    seller_wallet: str
    quantity: int
    unit_price: int
    unit_profit: int
    amount: int
    status: str
    ts: int
    escrow: int = 0
    rebate: int = 0
    endorsements_needed: int = 0
    paid_entry: str | None = None
    product: str | None = None
    final_by: str | None = None  # the sub-chains (comma-separated ids) whose cosignatures made the payment final

    @property
    def key(self) -> Key:
        return Key(f"order#{self.order_id}")

    @staticmethod
    def key_of(order_id: str) -> Key:
        return Key(f"order#{order_id}")

    def index_key(self) -> IndexKey | None:
        """Only open orders are indexed, by seller: what a revoked seller's refunds must find."""
        if self.status not in OPEN_ORDER_STATES:
            return None
        return IndexKey(open_orders_index(self.seller), self.order_id)


def open_orders_index(seller: str) -> str:
    return f"open-orders#{seller}"


@dataclass(frozen=True)
class RefundsDue(Record):
    """A revoked seller whose open orders still go back to their buyers; the tally clears it when none remain."""

    KIND = "refunds"
    seller: str
    ts: int = 0

    @property
    def key(self) -> Key:
        return Key("refunds", self.seller)


@dataclass(frozen=True)
class Authorisation(Record):
    """A consumer's authorisation of the program (once per node)."""

    KIND = "authz"
    node_id: str
    ts: int

    @property
    def key(self) -> Key:
        return Key(f"authz#{self.node_id}")


@dataclass(frozen=True)
class ProductVote(Record):
    """The buyer's one vote on the goods of an order."""

    KIND = "pvote"
    order_id: str
    product: str
    rating: str
    ts: int

    @property
    def key(self) -> Key:
        return Key(f"pvote#{self.order_id}")

    @staticmethod
    def key_of(order_id: str) -> Key:
        return Key(f"pvote#{order_id}")


@dataclass(frozen=True)
class Goods(Record):
    """A product's votes, ranked by the index: net votes, then votes in all, then first voted on, then id."""

    KIND = "goods"
    INDEXED = frozenset({"up", "down", "first_vote", "product"})
    product: str
    seller: str
    title: str
    first_vote: int
    up: int = 0
    down: int = 0

    @property
    def key(self) -> Key:
        return Key(f"goods#{self.product}")

    @staticmethod
    def key_of(product: str) -> Key:
        return Key(f"goods#{product}")

    def index_key(self) -> IndexKey:
        net = self.up - self.down
        # net votes can be negative: shift them into a non-negative range first
        return IndexKey(GOODS_INDEX, f"{_desc(net + 10**15)}#{_desc(self.up + self.down)}#"
                                     f"{self.first_vote:013d}#{self.product}")


GOODS_INDEX = "goods"


# --- information goods


@dataclass(frozen=True)
class Item(Record):
    KIND = "item"
    item_id: str
    publisher: str
    publisher_wallet: str
    title: str
    excerpt: str
    sha256: str
    size: int
    price: int
    commercial: bool
    reason: str
    originator: bool
    minhash: str
    ts: int
    stake: int = 0
    copy_of: str | None = None
    near_copy_of: str | None = None
    similarity: str | None = None
    up: int = 0
    down: int = 0
    content: str = "text"  # "text" (UTF-8: compared for near copies, excerpted) or "binary" (uploaded, neither)

    @property
    def key(self) -> Key:
        return Key(f"item#{self.item_id}")

    @staticmethod
    def key_of(item_id: str) -> Key:
        return Key(f"item#{item_id}")


@dataclass(frozen=True)
class ContentClaim(Record):
    """The first item published with this exact content: its originator."""

    KIND = "sha"
    sha256: str
    item_id: str

    @property
    def key(self) -> Key:
        return Key(f"sha#{self.sha256}")

    @staticmethod
    def key_of(sha256: str) -> Key:
        return Key(f"sha#{sha256}")


@dataclass(frozen=True)
class Band(Record):
    """The near-copy index: one item per MinHash band and item."""

    KIND = "band"
    band: str
    item_id: str

    @property
    def key(self) -> Key:
        return Key(f"band#{self.band}", self.item_id)


@dataclass(frozen=True)
class Word(Record):
    """The search index: one item per word and item or goods that contains it."""

    KIND = "word"
    word: str
    target: str  # "item#<id>" or "goods#<product>"

    @property
    def key(self) -> Key:
        return Key(f"word#{self.word}", self.target)


@dataclass(frozen=True)
class ItemPurchase(Record):
    KIND = "purchase"
    item_id: str
    node_id: str
    ts: int

    @property
    def key(self) -> Key:
        return Key(f"purchase#{self.item_id}", self.node_id)


@dataclass(frozen=True)
class ItemVote(Record):
    KIND = "ivote"
    item_id: str
    node_id: str
    rating: str

    @property
    def key(self) -> Key:
        return Key(f"ivote#{self.item_id}", self.node_id)


# --- governance


@dataclass(frozen=True)
class Proposal(Record):
    """A majority vote: its snapshot size, running tally, deadline (ms) and outcome."""

    KIND = "proposal"
    INDEXED = frozenset({"status", "opened_at", "proposal_id"})
    proposal_id: str
    kind: str
    params: str
    proposer: str
    status: str  # open, passed, rejected
    opened_at: int
    deadline: int
    eligible: int
    subject: str | None = None
    needs_approval: bool = False
    approved: bool = False
    yes: int = 0
    no: int = 0
    outcome: str | None = None

    @property
    def key(self) -> Key:
        return Key(f"proposal#{self.proposal_id}")

    @staticmethod
    def key_of(proposal_id: str) -> Key:
        return Key(f"proposal#{proposal_id}")

    def index_key(self) -> IndexKey:
        return IndexKey(proposals_index(self.status), f"{self.opened_at:013d}#{self.proposal_id}")


def proposals_index(status: str) -> str:
    return f"proposals#{status}"


@dataclass(frozen=True)
class EligibleVoter(Record):
    """The snapshot of voters taken when a proposal opened."""

    KIND = "eligible"
    proposal_id: str
    node_id: str

    @property
    def key(self) -> Key:
        return Key(f"eligible#{self.proposal_id}", self.node_id)


@dataclass(frozen=True)
class Vote(Record):
    KIND = "vote"
    proposal_id: str
    node_id: str
    choice: str
    ts: int

    @property
    def key(self) -> Key:
        return Key(f"vote#{self.proposal_id}", self.node_id)


@dataclass(frozen=True)
class DisputeLock(Record):
    """An order is disputed once."""

    KIND = "dispute"
    order_id: str

    @property
    def key(self) -> Key:
        return Key(f"dispute#{self.order_id}")


@dataclass(frozen=True)
class Report(Record):
    """The signed report to the authorities a passed proposal produced."""

    KIND = "report"
    proposal_id: str
    body: str

    @property
    def key(self) -> Key:
        return Key(f"report#{self.proposal_id}")

    @staticmethod
    def key_of(proposal_id: str) -> Key:
        return Key(f"report#{proposal_id}")


# --- sub-chains (cosigners) and their cosignatures

COSIGNERS = "cosigners"


@dataclass(frozen=True)
class Cosigner(Record):
    """A registered sub-chain: its key name and vkey, its owner, the entries that registered and retired it, and
    the largest checkpoint it cosigned (a cosignature of a tree vouches for every smaller tree it contains)."""

    KIND = "cosigner"
    subchain_id: str
    name: str
    vkey: str
    node_id: str
    registered_entry: str
    status: str = "active"  # or "retired"
    retired_entry: str | None = None
    ts: int = 0
    cosigned_size: int = 0
    cosigned_time: int = 0

    @property
    def key(self) -> Key:
        return Key(COSIGNERS, self.subchain_id)

    @staticmethod
    def key_of(subchain_id: str) -> Key:
        return Key(COSIGNERS, subchain_id)


@dataclass(frozen=True)
class SubchainSlot(Record):
    """Taken while a node other than the stamp node has an active sub-chain: one each."""

    KIND = "subchain-of"
    node_id: str
    subchain_id: str

    @property
    def key(self) -> Key:
        return Key(f"subchain-of#{self.node_id}")

    @staticmethod
    def key_of(node_id: str) -> Key:
        return Key(f"subchain-of#{node_id}")


def cosignatures_pk(size: int) -> str:
    return f"cosig#{size:016d}"


@dataclass(frozen=True)
class Cosignature(Record):
    """One sub-chain's cosignature line of the checkpoint of ``size`` entries (C2SP tlog-cosignature v1)."""

    KIND = "cosig"
    size: int
    subchain_id: str
    line: str
    time: int
    operator: bool = False  # by one of the stamp node's own sub-chains

    @property
    def key(self) -> Key:
        return Key(cosignatures_pk(self.size), self.subchain_id)


# --- signed requests


@dataclass(frozen=True)
class Idempotency(Record):
    """The first answer to a signed request (by key id and Idempotency-Key), kept a day."""

    KIND = "idem"
    kid: str
    idempotency_key: str
    request_hash: str
    status: int
    body: str
    expires_at: int

    @property
    def key(self) -> Key:
        return Key(f"idem#{self.kid}#{self.idempotency_key}")

    @staticmethod
    def key_of(kid: str, idempotency_key: str) -> Key:
        return Key(f"idem#{kid}#{idempotency_key}")
