"""Request bodies, one pydantic model each: strict types, no unknown fields, integer minor units."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ..ledger.canonical import MAX_SAFE_INTEGER

Amount = Annotated[int, Field(strict=True, gt=0, le=MAX_SAFE_INTEGER)]
# An item's text travels in its request, and so in the ledger entry's auth: an entry holds at most
# 65,535 bytes of canonical JSON (LEDGER.md), with room left for the rest of the request and for escapes.
# Larger content, and binary content, is uploaded (POST /uploads) and named by its SHA-256.
MAX_ITEM_BYTES = 48_000
DEADLINE_MINUTES = Annotated[int, Field(strict=True, ge=1, le=30 * 24 * 60)]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Jwk(Body):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
    kid: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class MerchantIdentity(Body):
    legal_name: Text
    licence_number: Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
    registered_ip: str
    contact: Text

    @field_validator("registered_ip")
    @classmethod
    def an_ip_address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise ValueError("must be an IPv4 or IPv6 address") from exc


class RegisterNode(Body):
    role: Literal["consumer", "merchant"]
    jwk: Jwk
    identity: MerchantIdentity | None = None

    @model_validator(mode="after")
    def merchants_have_identity(self) -> RegisterNode:
        if (self.role == "merchant") != (self.identity is not None):
            raise ValueError("merchants register with an identity; consumers without one")
        return self


class Empty(Body):
    pass


class WalletAmount(Body):
    wallet: Id
    amount: Amount


class PlaceOrder(Body):
    wallet: Id
    seller: Id
    quantity: Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
    unit_price: Amount
    unit_profit: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INTEGER)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    product: Id | None = None

    @model_validator(mode="after")
    def sane_amounts(self) -> PlaceOrder:
        if self.unit_profit > self.unit_price:
            raise ValueError("unit_profit cannot exceed unit_price")
        if self.quantity * self.unit_price > MAX_SAFE_INTEGER:
            raise ValueError("quantity x unit_price is too large")
        return self


class Payment(Body):
    wallet: Id


class TierChange(Body):
    min_amount: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INTEGER)]
    ratio_bps: Annotated[int, Field(strict=True, ge=0, le=10_000)]


class RulesChange(Body):
    rebate_bps: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None
    exchange_fee_bps: Annotated[int, Field(strict=True, ge=0, le=5_000)] | None = None
    # The constitution's 51% cannot be voted away; a larger share may be required.
    start_quorum_bps: Annotated[int, Field(strict=True, ge=5_100, le=10_000)] | None = None
    vote_reward: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] | None = None
    stake_reward: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] | None = None
    tiers: Annotated[list[TierChange], Field(min_length=1, max_length=10)] | None = None


class ReportParams(Body):
    evidence: Annotated[list[Id], Field(min_length=1, max_length=50)]
    summary: Annotated[str, StringConstraints(max_length=2_000)] = ""

    @field_validator("evidence")
    @classmethod
    def each_entry_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each evidence entry is named once")
        return value


class UpgradeParams(Body):
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._+-]{1,64}$")]
    digest: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class OpenProposal(Body):
    kind: Literal["halt", "restart", "freeze", "unfreeze", "report", "upgrade", "rules"]
    subject: Id | None = None
    params: dict[str, object] = Field(default_factory=dict)
    deadline_minutes: DEADLINE_MINUTES = 24 * 60

    @model_validator(mode="after")
    def params_fit_the_kind(self) -> OpenProposal:
        shapes: dict[str, type[Body]] = {"report": ReportParams, "upgrade": UpgradeParams, "rules": RulesChange}
        shape = shapes.get(self.kind)
        if shape is None:
            if self.params:
                raise ValueError(f"a {self.kind} proposal takes no params")
        else:
            try:
                validated = shape.model_validate(self.params, strict=False)
            except ValidationError as exc:
                error = exc.errors()[0]
                place = ".".join(str(part) for part in ("params", *error["loc"]))
                raise ValueError(f"{place}: {error['msg']}") from None
            self.params = validated.model_dump(exclude_none=True)
            if self.kind == "rules" and not self.params:
                raise ValueError("a rules proposal changes at least one rule")
        if (self.kind in ("freeze", "unfreeze")) != (self.subject is not None):
            raise ValueError("freeze and unfreeze name a wallet as subject; other kinds take none")
        return self


class OpenDispute(Body):
    ground: Literal["quality", "rebate"]
    remedy: Literal["reissue_rebate", "revoke_seller"]
    statement: Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
    deadline_minutes: DEADLINE_MINUTES = 24 * 60


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# a MIME type, as S3 keeps it with the object and serves it on download
ContentType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/"
                                                      r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$")]


def _upload_size(value: int) -> int:
    from ..settings import get_settings

    largest = get_settings().max_upload_bytes
    if value > largest:
        raise ValueError(f"an upload is at most {largest} bytes (COVENANT_MAX_UPLOAD_BYTES)")
    return value


UploadSize = Annotated[int, Field(strict=True, ge=1), AfterValidator(_upload_size)]


class RequestUpload(Body):
    """Ask for a presigned URL to upload content larger than an entry, named by its SHA-256 and size."""

    sha256: Sha256
    size: UploadSize
    content_type: ContentType | None = None


class PublishItem(Body):
    """An item's content is either ``text`` sent here or an upload named by ``sha256`` and ``size``, not both."""

    title: Text
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ITEM_BYTES)] | None = None
    sha256: Sha256 | None = None
    size: UploadSize | None = None
    price: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INTEGER)]
    stake: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INTEGER)] = 0
    wallet: Id

    @field_validator("text")
    @classmethod
    def at_most_48_kb(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode("utf-8")) > MAX_ITEM_BYTES:
            raise ValueError(f"the text is at most {MAX_ITEM_BYTES} bytes of UTF-8; upload larger content "
                             "(POST /uploads) and name its sha256 and size")
        return value

    @model_validator(mode="after")
    def text_or_upload(self) -> PublishItem:
        upload = (self.sha256 is not None, self.size is not None)
        if self.text is not None and any(upload):
            raise ValueError("give text, or the sha256 and size of an upload, not both")
        if self.text is None and not all(upload):
            raise ValueError("give text, or the sha256 and size of an upload (POST /uploads)")
        return self


class ItemVote(Body):
    rating: Literal["up", "down"]


class GoodsVote(Body):
    rating: Literal["up", "down"]


class CastVote(Body):
    choice: Literal["yes", "no"]


class Exchange(Body):
    wallet: Id
    direction: Literal["coin_to_fiat", "fiat_to_coin"]
    amount: Amount


class RegisterSubchain(Body):
    """The sub-chain's raw Ed25519 public key: standard base64 with padding, or base64url without."""

    public_key: Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43})$")]


class SubmitCosignature(Body):
    """One C2SP tlog-cosignature v1 line: ``— <name> <base64(key ID || time || signature)>``."""

    # key name (no space, no "+"), then key ID (4) || time (8) || signature (64) = 76 bytes: 104 characters of
    # canonical base64 (the character before "==" carries 2 bits: A, Q, g or w)
    cosignature: Annotated[str, StringConstraints(
        max_length=400, pattern="^\u2014 [^\\s+]+ [A-Za-z0-9+/]{101}[AQgw]==(\n)?$")]
