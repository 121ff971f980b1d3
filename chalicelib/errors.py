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
