"""The answers of every route, as pydantic models: what ``GET /openapi.json`` documents for each 2xx.

Imported only to build the document (and by the tests that hold every answer
the suite sees to it): the read path never loads pydantic for these. Each
model forbids members it does not name, so an answer that grows a member the
document does not have fails the suite's contract check (tests/contract_check.py).
Open-ended members (an entry's ``data``, a proposal's ``params``, an enactment)
are objects whose shape docs/ENTRIES.md gives per type.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Hash = Field(pattern="^[0-9a-f]{64}$", description="SHA-256, 64 lowercase hex")
Units = Field(ge=0, description="integer minor units (1 coin = 100 units; fiat in cents)")
Ms = Field(ge=0, description="milliseconds since the Unix epoch, UTC")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """An object whose members depend on its kind (documented per type in docs/ENTRIES.md)."""

    model_config = ConfigDict(extra="allow")


# --- the ledger (LEDGER.md)


class Auth(Answer):
    kid: str
    base: str = Field(description="the RFC 9421 signature base, byte for byte as signed")
    sig: str = Field(description="Ed25519 signature, standard base64")
    body: str = Field(description="the request body as received")


class Entry(Answer):
    v: Literal[1]
    id: str
    type: str = Field(description="the entry type (docs/ENTRIES.md)")
    ts: int = Ms
    actor: str
    data: dict[str, Any]
    auth: Auth | None


class Header(Answer):
    v: Literal[1]
    height: int = Field(ge=0)
    prev: str = Hash
    log_size: int = Field(ge=0)
    log_root: str = Hash
    count: int = Field(ge=0)
    ts: int = Ms
    sealer: str = Field(description="the sealer's key id")


class Head(Answer):
    header: Header
    hash: str = Hash
    sig: str = Field(description="Ed25519 signature of JCS(header) by the sealer key, standard base64")


class Block(Head):
    entries: list[Entry]
    next: str | None = Field(description="the cursor of the next page of this block's entries, or null")


class EntryAt(Answer):
    entry: Entry
    index: int = Field(ge=0, description="the entry's log index")
    height: int = Field(ge=0, description="the height of the block holding it")


class InclusionProof(Answer):
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    path: list[str]


class ConsistencyProof(Answer):
    first: int = Field(ge=1)
    second: int = Field(ge=1)
    path: list[str]


class SealerKey(Answer):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    vkey: str = Field(description="the C2SP signed-note verifier key of this sealer key under the log's origin")


class Keys(Answer):
    keys: list[SealerKey]


class Cosigner(Answer):
    id: str
    name: str
    vkey: str
    registered: int = Field(ge=0, description="the log index of its subchain.registered entry")
    retired: int | None = Field(description="the log index of its subchain.retired entry, or null")
    node: str = Field(description="the node that registered it")
    cosigned_size: int = Field(ge=0, description="the largest tree size it has cosigned here")


class Cosigners(Answer):
    cosigners: list[Cosigner]


class CosignatureKept(Answer):
    size: int = Field(ge=1)
    subchain: str
    time: int = Field(ge=0, description="the cosignature's time, POSIX seconds")
    stored: bool = Field(description="false when this line was already kept (200)")


# --- nodes, wallets, money


class Identity(Answer):
    legal_name: str
    licence_number: str
    registered_ip: str
    contact: str


class Node(Answer):
    node: str
    role: Literal["consumer", "merchant", "stamp"]
    kid: str
    status: str
    approved: bool
    wallet: str | None
    identity: Identity | None = None


class NodeRegistered(Node):
    entry: str


class Approved(Answer):
    node: str
    status: str
    wallet: str
    entry: str


class Authorised(Answer):
    node: str
    entry: str


class Balances(Answer):
    fiat: int
    coin: int


class Wallet(Answer):
    wallet: str
    node: str
    status: str
    balances: Balances


class Posting(Answer):
    entry: str
    type: str
    asset: Literal["fiat", "coin"]
    delta: int = Field(description="signed integer minor units: what the entry added to (or took from) the wallet")
    ts: int = Ms


class History(Answer):
    wallet: str
    history: list[Posting]
    next: str | None


class Moved(Answer):
    wallet: str
    asset: Literal["fiat"]
    amount: int = Units
    entry: str


class Exchanged(Answer):
    wallet: str
    direction: Literal["coin_to_fiat", "fiat_to_coin"]
    coins: int = Units
    fee: int | None = Field(default=None, ge=0, description="the fee in fiat minor units (coin to fiat only)")
    fiat: int = Units
    entry: str


class Tier(Answer):
    min_amount: int = Units
    ratio_bps: int = Field(ge=0, le=10_000)


class Rules(Answer):
    rebate_bps: int
    exchange_fee_bps: int
    start_quorum_bps: int
    vote_reward: int
    stake_reward: int
    tiers: list[Tier]


class Program(Answer):
    status: str
    reason: str | None
    consumers: int
    authorisations: int
    rules: Rules


class Sweep(Answer):
    nodes: int
    wallets: int
    impostor_stamps: list[str]
    duplicate_merchants: dict[str, Any]
    black_wallets: dict[str, Any]
    actions: list[str]
    program_started: bool
    status: str


# --- orders


class Finality(Answer):
    final: bool = Field(description="whether enough sub-chains cosigned a checkpoint holding the payment")
    share_bps: int = Field(description="the share of active sub-chains the amount's tier asks for, in basis points")
    needed: int | None = Field(description="how many cosigning sub-chains make it final; null before payment")
    active: int | None = Field(default=None, description="the active sub-chains (once paid)")
    cosigned: int = Field(description="how many active sub-chains cosigned a checkpoint holding the payment")
    cosigners: list[str] = Field(description="those sub-chains' ids")
    sealed: bool | None = Field(default=None, description="whether the payment entry is sealed yet (once paid)")
    index: int | None = Field(default=None, description="the payment entry's log index, once sealed")
    height: int | None = Field(default=None, description="the height of the block holding it, once sealed")


class TimelineEntry(Answer):
    entry: str
    type: str
    index: int = Field(ge=0)
    height: int = Field(ge=0)


class OrderFields(Answer):
    order: str
    status: str
    buyer: str
    seller: str
    buyer_wallet: str
    seller_wallet: str
    quantity: int
    unit_price: int = Units
    unit_profit: int = Units
    amount: int = Units
    escrow: int = Units
    rebate: int = Units
    endorsements_needed: int
    paid_entry: str | None
    product: str
    final_by: list[str] = Field(description="the sub-chains whose cosignatures made the payment final")


class OrderPlaced(OrderFields):
    entry: str


class Order(OrderFields):
    finality: Finality
    entries: list[TimelineEntry] = Field(description="the order's entries in log order")


class Paid(Answer):
    order: str
    status: str
    escrow: int = Units
    entry: str
    endorsements_needed: int


class Shipped(Answer):
    order: str
    status: str
    rebate: int = Units
    seller_proceeds: int = Units
    entry: str


class OrderMoved(Answer):
    order: str
    status: str
    entry: str
    refunded: int | None = None


class GoodsVoted(Answer):
    order: str
    product: str
    rating: Literal["up", "down"]
    reward: int = Units
    entry: str


# --- governance


class Proposal(Answer):
    proposal: str
    kind: str
    subject: str | None
    params: dict[str, Any]
    proposer: str
    status: Literal["open", "passed", "rejected"]
    needs_approval: bool
    approved: bool
    opened_at: int = Ms
    deadline: int = Ms
    eligible: int
    yes: int
    no: int
    outcome: dict[str, Any] | None


class ProposalOpened(Proposal):
    entry: str


class Proposals(Answer):
    proposals: list[Proposal]
    next: str | None


class Voted(Answer):
    proposal: str
    choice: Literal["yes", "no"]
    entry: str


class ProposalApproved(Answer):
    proposal: str
    approved: bool
    entry: str


class Tally(Answer):
    now: int = Ms
    closed: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    refunded: list[str]


class Report(Answer):
    report: dict[str, Any] = Field(description="the signed report: proposal, tally, head, evidence with proofs")
    sig: str


# --- goods, items, search


class RankedGoods(Answer):
    product: str
    seller: str
    title: str
    up: int
    down: int
    first_vote: int = Ms
    rank: int = Field(ge=1)
    score: int


class Rank(Answer):
    goods: list[RankedGoods]
    next: str | None


class Item(Answer):
    item: str
    title: str
    publisher: str
    sha256: str = Hash
    size: int = Field(ge=0)
    content: Literal["text", "binary"]
    price: int = Units
    stake: int = Units
    label: str | None
    commercial: bool
    reason: str
    originator: bool
    copy_of: str | None
    near_copy_of: str | None
    similarity: float | None
    up: int
    down: int


class ItemPublished(Item):
    entry: str


class ItemBought(Answer):
    item: str
    price: int = Units
    entry: str
    sha256: str = Hash
    download: str = Field(description="a presigned S3 GET of the item's bytes")


class ItemVoted(Answer):
    item: str
    rating: Literal["up", "down"]
    paid_from_stake: int = Units
    entry: str


class Found(Answer):
    kind: Literal["item", "goods"]
    id: str
    title: str
    up: int
    down: int
    since: int = Ms
    label: str
    reason: str
    vote_to_earn: bool


class Search(Answer):
    query: str
    results: list[Found]
    next: str | None


class Upload(Answer):
    sha256: str = Hash
    size: int = Field(ge=0)
    content_type: str
    method: Literal["PUT"]
    url: str = Field(description="a presigned S3 PUT that takes exactly these bytes")
    headers: dict[str, str] = Field(description="the headers the PUT must carry, as signed")
    expires_in: int = Field(ge=0, description="seconds the URL stays valid")
    expires_at: int = Ms


# --- sub-chains


class SubchainRegistered(Answer):
    subchain: str
    name: str
    vkey: str
    node: str
    status: str
    entry: str


class SubchainRetired(Answer):
    subchain: str
    status: str
    entry: str


class Document(Open):
    """An OpenAPI 3.1 document."""
