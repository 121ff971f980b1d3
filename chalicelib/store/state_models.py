"""The program's state: one table, one item kind per ``pk`` prefix, ``sk`` ``item`` unless said.

Balances are integers of minor units. Every change to these items commits in
the same transaction as the ledger entry that describes it.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException

from ..errors import StorageError
from .models import SharedClientModel, _meta

ITEM = "item"


def exists(model: type[StateItem], pk: str, sk: str = ITEM) -> bool:
    """Whether a state item is stored (a strongly consistent read)."""
    try:
        model.get(pk, sk, consistent_read=True)
    except model.DoesNotExist:
        return False
    except PynamoDBException as exc:
        raise StorageError(f"could not read {pk}") from exc
    return True


class StateItem(SharedClientModel):
    Meta = _meta("state")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=ITEM)
    # The commit key of the last ordered change: the ledger lists changes to an item in the order they applied.
    last_seq = UnicodeAttribute(null=True)


class ProgramRecord(StateItem):
    """``program``: lifecycle status, its reason, the rules in force, consumer and authorisation counts."""

    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    halted_from = UnicodeAttribute(null=True)  # the status a constitutional halt restores
    rules = UnicodeAttribute()
    consumers = NumberAttribute(default=0)
    authorisations = NumberAttribute(default=0)
    subchain_version = UnicodeAttribute(null=True)


class NodeRecord(StateItem):
    """``node#<id>``"""

    node_id = UnicodeAttribute()
    role = UnicodeAttribute()
    kid = UnicodeAttribute()
    jwk = UnicodeAttribute()
    status = UnicodeAttribute()
    identity = UnicodeAttribute(null=True)
    identity_key = UnicodeAttribute(null=True)
    approved = BooleanAttribute(default=False)
    wallet_id = UnicodeAttribute(null=True)
    ts = NumberAttribute()


class KeyBinding(StateItem):
    """``kid#<kid>``: the node a key belongs to (a key serves one node only)."""

    node_id = UnicodeAttribute()


class IdentityClaim(StateItem):
    """``identity#<key>``: the merchant holding a legal identity."""

    node_id = UnicodeAttribute()


class WalletRecord(StateItem):
    """``wallet#<id>``: balances per asset, in minor units."""

    wallet_id = UnicodeAttribute()
    node_id = UnicodeAttribute()
    kid = UnicodeAttribute()
    status = UnicodeAttribute()
    fiat = NumberAttribute(default=0)
    coin = NumberAttribute(default=0)
    ts = NumberAttribute()


class OrderRecord(StateItem):
    """``order#<id>``"""

    order_id = UnicodeAttribute()
    buyer = UnicodeAttribute()
    buyer_wallet = UnicodeAttribute()
    seller = UnicodeAttribute()
    seller_wallet = UnicodeAttribute()
    quantity = NumberAttribute()
    unit_price = NumberAttribute()
    unit_profit = NumberAttribute()
    amount = NumberAttribute()
    status = UnicodeAttribute()
    escrow = NumberAttribute(default=0)
    rebate = NumberAttribute(default=0)
    endorsements_needed = NumberAttribute(default=0)
    paid_entry = UnicodeAttribute(null=True)
    product = UnicodeAttribute(null=True)
    ts = NumberAttribute()


class ItemRecord(StateItem):
    """``item#<id>``: a published work or data item, its originator stamp, label and votes."""

    item_id = UnicodeAttribute()
    publisher = UnicodeAttribute()
    publisher_wallet = UnicodeAttribute()
    title = UnicodeAttribute()
    excerpt = UnicodeAttribute()
    words = UnicodeAttribute(null=True)
    sha256 = UnicodeAttribute()
    size = NumberAttribute()
    price = NumberAttribute()
    stake = NumberAttribute(default=0)
    commercial = BooleanAttribute()
    reason = UnicodeAttribute()
    originator = BooleanAttribute()
    copy_of = UnicodeAttribute(null=True)
    near_copy_of = UnicodeAttribute(null=True)
    similarity = UnicodeAttribute(null=True)
    minhash = UnicodeAttribute()
    up = NumberAttribute(default=0)
    down = NumberAttribute(default=0)
    ts = NumberAttribute()


class ContentClaim(StateItem):
    """``sha#<sha256>``: the first item published with this exact content (its originator)."""

    item_id = UnicodeAttribute()


class BandRecord(StateItem):
    """``band#<key>`` / ``<item>``: the near-copy index (one item per MinHash band)."""


class ItemPurchase(StateItem):
    """``purchase#<item>`` / ``<node>``"""

    ts = NumberAttribute()


class ItemVote(StateItem):
    """``ivote#<item>`` / ``<node>``"""

    rating = UnicodeAttribute()


class ProductVoteRecord(StateItem):
    """``pvote#<order>``: the buyer's one vote on the goods of an order."""

    product = UnicodeAttribute()
    rating = UnicodeAttribute()
    ts = NumberAttribute()


class GoodsRecord(StateItem):
    """``goods#<product>``: a product's votes, for the ranking (money never enters it)."""

    product = UnicodeAttribute()
    seller = UnicodeAttribute()
    title = UnicodeAttribute()
    up = NumberAttribute(default=0)
    down = NumberAttribute(default=0)
    first_vote = NumberAttribute(null=True)


class AuthorisationRecord(StateItem):
    """``authz#<node>``: a consumer's authorisation of the program (once per node)."""

    node_id = UnicodeAttribute()
    ts = NumberAttribute()


class TotalsRecord(StateItem):
    """``totals``: coins minted and retired, the rebate reserve and fees, for the conservation checks."""

    coins_minted = NumberAttribute(default=0)
    coins_retired = NumberAttribute(default=0)
    reserve = NumberAttribute(default=0)
    fees = NumberAttribute(default=0)


class HistoryRecord(StateItem):
    """``history#<wallet>`` / ``<ts>#<entry id>``: what touched a wallet, newest last."""

    entry_id = UnicodeAttribute()
    type = UnicodeAttribute()
    asset = UnicodeAttribute(null=True)
    delta = NumberAttribute(default=0)


class IdempotencyRecord(StateItem):
    """``idem#<kid>#<Idempotency-Key>``: the first answer to a signed request, kept a day."""

    request_hash = UnicodeAttribute()
    status = NumberAttribute()
    body = UnicodeAttribute()
    expires_at = NumberAttribute()


class ProposalRecord(StateItem):
    """``proposal#<id>``: a majority vote, its snapshot size, running tally and outcome."""

    proposal_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    subject = UnicodeAttribute(null=True)
    params = UnicodeAttribute()
    proposer = UnicodeAttribute()
    status = UnicodeAttribute()  # open, passed, rejected
    needs_approval = BooleanAttribute(default=False)
    approved = BooleanAttribute(default=False)
    opened_height = NumberAttribute()
    deadline_height = NumberAttribute()
    eligible = NumberAttribute()
    yes = NumberAttribute(default=0)
    no = NumberAttribute(default=0)
    outcome = UnicodeAttribute(null=True)
    ts = NumberAttribute()


class EligibleVoter(StateItem):
    """``eligible#<proposal>`` / ``<node>``: the snapshot taken when the proposal opened."""


class VoteRecord(StateItem):
    """``vote#<proposal>`` / ``<node>``: one vote per node."""

    choice = UnicodeAttribute()
    ts = NumberAttribute()


class DisputeLock(StateItem):
    """``dispute#<order>``: an order is disputed once."""


class ReportRecord(StateItem):
    """``report#<proposal>``: the signed report to the authorities a passed proposal produced."""

    body = UnicodeAttribute()


class NonceRecord(SharedClientModel):
    """A signature nonce seen, kept past its signature's expiry (TTL)."""

    Meta = _meta("nonces")
    pk = UnicodeAttribute(hash_key=True)
    idempotency_key = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()


STATE_MODELS = (
    StateItem, ProgramRecord, NodeRecord, KeyBinding, IdentityClaim, WalletRecord, OrderRecord, AuthorisationRecord,
    TotalsRecord, HistoryRecord, ProductVoteRecord, GoodsRecord, IdempotencyRecord, ProposalRecord, EligibleVoter,
    VoteRecord, ReportRecord, DisputeLock, ItemRecord, ContentClaim, BandRecord, ItemPurchase, ItemVote,
    NonceRecord,
)
