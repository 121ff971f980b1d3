"""Every error the program reports, with its stable code and HTTP status.

Services raise these; the HTTP layer maps them to JSON in one place
(``chalicelib.api.routing``). Codes are part of the public API: never rename one.
"""

from __future__ import annotations

from typing import Any


class CovenantError(Exception):
    status = 500
    code = "internal_error"
    # A retryable refusal says "nothing was written, try again": it is never kept as a request's first answer.
    retryable = False

    def __init__(self, message: str, field: str | None = None, code: str | None = None,
                 details: Any = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        self.details = details
        if retryable is not None:
            self.retryable = retryable
        elif self.status >= 500:
            self.retryable = True

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidParameter(CovenantError):
    status = 400
    code = "invalid_parameter"


class NotFound(CovenantError):
    status = 404
    code = "not_found"


class EntryPending(CovenantError):
    status = 404
    code = "entry_pending"


class Conflict(CovenantError):
    """A request that meets the state it cannot change; plain ``conflict`` (a race) is worth retrying."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, field: str | None = None, code: str | None = None,
                 details: Any = None, retryable: bool | None = None):
        super().__init__(message, field, code, details,
                         retryable if retryable is not None else (code or self.code) == "conflict")


class DuplicateEntry(Conflict):
    code = "duplicate_entry"


class UploadMissing(Conflict):
    """``POST /items`` names content (``sha256``) that no presigned upload put in the bucket (yet)."""

    code = "upload_missing"


class UploadMismatch(Conflict):
    """The uploaded object is not the content the request names: another size, or bytes of another SHA-256."""

    code = "upload_mismatch"


class EntryTooLarge(CovenantError):
    """An entry would exceed LEDGER.md's 65,535 bytes of canonical JSON."""

    status = 413
    code = "entry_too_large"


class Unauthenticated(CovenantError):
    """The request's signature is missing or does not verify (each refusal has its own code)."""

    status = 401
    code = "unauthenticated"


class Forbidden(CovenantError):
    """The signer may not do this (another node's wallet, a revoked key, a stamp-only action)."""

    status = 403
    code = "forbidden"


class ValidationFailed(InvalidParameter):
    """A request body that does not fit its model; ``details`` lists each field's problem."""

    code = "invalid_body"


class MethodNotAllowed(CovenantError):
    """The path exists, not with this method; the answer carries an ``Allow`` header."""

    status = 405
    code = "method_not_allowed"


class UnsupportedMediaType(CovenantError):
    """A request body that is not ``application/json`` (or has no ``Content-Type``)."""

    status = 415
    code = "unsupported_media_type"


class RequestTooLarge(CovenantError):
    status = 413
    code = "request_too_large"


class TooManyRequests(CovenantError):
    status = 429
    code = "too_many_requests"


class RequestRefused(CovenantError):
    """Any other 4xx the platform (Chalice, API Gateway) answers by itself; the status is kept."""

    status = 400
    code = "request_refused"


class Timeout(CovenantError):
    """The platform gave up waiting for the answer: a signed request may or may not have acted."""

    status = 504
    code = "timeout"


class ChainNotStarted(CovenantError):
    status = 503
    code = "chain_not_started"


class StorageError(CovenantError):
    status = 503
    code = "storage_unavailable"


class MalformedMessage(CovenantError):
    """A replica queue message that is not a block; it fails alone and is retried, then dead-lettered."""

    status = 400
    code = "malformed_block_message"


class BlockUnavailable(CovenantError):
    """A block a replica needs is not published yet; the message is retried later."""

    status = 503
    code = "block_unavailable"


class SealerKeyError(CovenantError):
    status = 500
    code = "sealer_key_unavailable"


class OriginChanged(CovenantError):
    """COVENANT_ORIGIN disagrees with the origin the log was given at genesis, which never changes."""

    status = 503
    code = "origin_changed"
    retryable = False


class CosignatureRefused(CovenantError):
    """The log refused a sub-chain's cosignature for good (unknown or retired sub-chain, invalid line)."""

    status = 409
    code = "cosignature_refused"


# Every code an answer can carry, with the statuses it comes with and what it means: the OpenAPI document lists,
# per route, the codes of this table that the route declares (a unit test keeps the table complete).
CODES: dict[str, tuple[tuple[int, ...], str]] = {
    # every route, the platform's and the gateway's own answers
    "invalid_parameter": ((400,), "a path or query parameter is malformed or out of range"),
    "request_refused": ((400,), "the gateway refused the request"),
    "method_not_allowed": ((405,), "the path does not take this method"),
    "unsupported_media_type": ((415,), "Content-Type is not application/json"),
    "request_too_large": ((413,), "the request is larger than the gateway takes"),
    "too_many_requests": ((429,), "throttled: retry later"),
    "internal_error": ((500,), "an internal error; a signed request may be retried with its Idempotency-Key"),
    "storage_unavailable": ((503,), "storage did not answer; nothing was written, retry"),
    "timeout": ((504,), "no answer in time; retry a signed request with the same Idempotency-Key"),
    "not_found": ((404,), "no such route, or no such object"),
    "unauthenticated": ((401,), "the request is not authenticated"),
    "forbidden": ((403,), "the request is forbidden"),
    "conflict": ((409,), "a concurrent change won: retry"),
    # signed requests (RFC 9421, idempotency)
    "invalid_body": ((400,), "the body does not follow the route's schema"),
    "signature_missing": ((401,), "Signature and Signature-Input are required"),
    "signature_malformed": ((401,), "the signature headers are malformed"),
    "signature_incomplete": ((401,), "the signature does not cover what it must"),
    "signature_expired": ((401,), "the signature has expired"),
    "clock_skew": ((401,), "created is too far from the server's clock"),
    "digest_mismatch": ((401,), "the body does not match its Content-Digest"),
    "unsupported_algorithm": ((401,), "alg must be ed25519"),
    "nonce_reused": ((401,), "this signature's nonce was already used"),
    "bad_signature": ((401,), "the signature does not verify"),
    "unknown_key": ((401, 403), "no node holds this key (401), or the key is not registered yet (403)"),
    "key_revoked": ((403,), "the key's node is revoked"),
    "idempotency_key_reused": ((409,), "this Idempotency-Key was used for another request"),
    "request_in_progress": ((409,), "the same request is still being processed; retry for its answer"),
    "entry_too_large": ((413,), "the entry would exceed 65,535 bytes of JCS"),
    "program_not_running": ((409,), "the program is halted or not started"),
    "chain_not_started": ((503,), "there is no genesis block yet"),
    "origin_changed": ((503,), "the log's origin is not the one its genesis fixed"),
    "sealer_key_unavailable": ((500,), "the sealer key cannot be read"),
    # nodes and wallets
    "already_registered": ((409,), "this node is registered already"),
    "key_already_registered": ((409,), "this key is registered already"),
    "key_in_use": ((409,), "this key is a node's or a sub-chain's already"),
    "key_mismatch": ((403,), "the body's key is not the signing key"),
    "not_pending": ((409,), "the merchant is not awaiting approval"),
    "stamp_only": ((403,), "only the stamp node may do this"),
    "consumers_only": ((403,), "only consumers may do this"),
    "already_authorised": ((409,), "this consumer authorised the program already"),
    "program_already_started": ((409,), "the program has started already"),
    "not_your_wallet": ((403,), "the wallet is not the signer's"),
    "wallet_not_active": ((409,), "the wallet is frozen, black or closed"),
    "insufficient_funds": ((409,), "the wallet's balance is too small"),
    "not_a_trader": ((403,), "only active consumers and merchants trade"),
    # orders and goods
    "self_trade": ((409,), "buyer and seller are the same"),
    "seller_not_active": ((409,), "the seller is not active"),
    "not_the_buyer": ((403,), "only the order's buyer may do this"),
    "not_the_seller": ((403,), "only the order's seller may do this"),
    "not_a_party": ((403,), "only the order's buyer or seller may do this"),
    "order_state": ((409,), "the order is not in a state that allows this"),
    "order_not_final": ((409,), "the payment lacks the sub-chain cosignatures its amount needs"),
    "already_voted": ((409,), "this voter voted already"),
    "already_disputed": ((409,), "the order is disputed already"),
    "already_bought": ((409,), "the buyer has this item already"),
    "not_a_buyer": ((403,), "only a buyer of the item may vote on it"),
    "upload_missing": ((409,), "no upload of this content is in the bucket"),
    "upload_mismatch": ((409,), "the uploaded bytes are not the content named"),
    # governance
    "not_a_voter": ((403,), "only consumers vote and propose"),
    "not_eligible": ((403,), "this voter was not eligible when the proposal opened"),
    "voter_not_active": ((403,), "the voter's node is not active"),
    "party_to_dispute": ((403,), "a party to the dispute does not vote on it"),
    "voting_closed": ((409,), "the proposal is closed"),
    "black_wallet": ((409,), "the wallet is black"),
    "not_a_legal_wallet": ((409,), "the subject is not a legal wallet"),
    "proposal_not_applicable": ((409,), "the proposal cannot apply to its subject"),
    "approval_not_needed": ((409,), "the proposal needs no approval"),
    "approval_not_open": ((409,), "the proposal is not open for approval"),
    "seller_cannot_fund": ((409,), "the seller cannot fund the remedy"),
    # the log and sub-chains
    "entry_pending": ((404,), "the entry is committed but not sealed yet"),
    "duplicate_entry": ((409,), "an entry with this id exists"),
    "subchain_exists": ((409,), "this sub-chain is registered already"),
    "subchain_limit": ((409,), "the node has an active sub-chain already"),
    "node_not_active": ((403,), "the node is not active"),
    "not_your_subchain": ((403,), "the sub-chain is not the signer's"),
    "cosigner_unknown": ((404,), "no sub-chain has this id or key name"),
    "cosigner_retired": ((409,), "the sub-chain is retired"),
    "cosignature_invalid": ((400,), "the cosignature line is malformed or does not verify"),
    "checkpoint_unknown": ((404,), "the log has no checkpoint of this size"),
    "cosignature_refused": ((409,), "the log refused a sub-chain's cosignature (internal)"),
    "malformed_block_message": ((400,), "a block message is malformed (internal)"),
    "block_unavailable": ((503,), "a block could not be read (internal)"),
}
