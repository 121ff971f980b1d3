"""The log's S3 bucket: C2SP tlog-tiles objects and the newest checkpoint.

Tiles and bundles are written once, with ``If-None-Match: *``: S3 itself
refuses to replace an object, so no tile is ever rewritten, whoever writes.
A second writer of the same tile (a completion run again after a crash) finds
it and checks that it holds the same bytes. The ``checkpoint`` object only
ever moves forward: it is replaced only by a larger tree, with ``If-Match`` on
the ETag it read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import StorageError
from ..observability import logger
from ..settings import get_settings
from .s3 import s3_client

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=60"
CHECKPOINT_CACHE = "no-cache"
TILE_TYPE = "application/octet-stream"
CHECKPOINT_TYPE = "text/plain; charset=utf-8"
CHECKPOINT_KEY = "checkpoint"
CHECKPOINT_ATTEMPTS = 10


def bucket() -> str:
    return get_settings().log_bucket


@dataclass(frozen=True)
class LogObject:
    body: bytes
    cache_control: str
    content_type: str
    etag: str


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def get(key: str) -> LogObject | None:
    """An object of the log bucket, or None if there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = s3_client().get_object(Bucket=bucket(), Key=key)
        body = answer["Body"].read()
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise StorageError("could not read the log bucket") from exc
    except BotoCoreError as exc:
        raise StorageError("could not read the log bucket") from exc
    return LogObject(body, str(answer.get("CacheControl", "")), str(answer.get("ContentType", "")),
                     str(answer.get("ETag", "")))


def put_once(key: str, body: bytes, cache_control: str) -> bool:
    """Write an immutable object; False if it was already there (with these very bytes)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3_client().put_object(Bucket=bucket(), Key=key, Body=body, ContentType=TILE_TYPE,
                               CacheControl=cache_control, IfNoneMatch="*")
        return True
    except ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise StorageError(f"could not write {key} to the log bucket") from exc
    except BotoCoreError as exc:
        raise StorageError(f"could not write {key} to the log bucket") from exc
    existing = get(key)
    if existing is None or existing.body != body:
        logger.error("a stored tile disagrees with the log", extra={"key": key})
        raise StorageError(f"the log bucket's {key} disagrees with the log; it is never rewritten")
    return False


def advance_checkpoint(text: str, size: int) -> bool:
    """Make ``text`` (a checkpoint of ``size`` entries) the bucket's checkpoint unless a larger one is there, or
    the same one with every signature line ``text`` has (cosignatures are only ever added to a checkpoint)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..ledger.note import NoteError, parse_checkpoint, parse_note

    for _ in range(CHECKPOINT_ATTEMPTS):
        current = get(CHECKPOINT_KEY)
        condition: dict[str, str] = {"IfNoneMatch": "*"}
        if current is not None:
            try:
                kept = parse_note(current.body)
                stored = parse_checkpoint(kept.body).size
                new = parse_note(text)
                more = new.body == kept.body and set(kept.signatures) < set(new.signatures)
            except NoteError:
                stored, more = -1, True  # unreadable: replace it
            if stored > size or (stored == size and not more):
                return False
            condition = {"IfMatch": current.etag}
        try:
            s3_client().put_object(Bucket=bucket(), Key=CHECKPOINT_KEY, Body=text.encode("utf-8"),
                                   ContentType=CHECKPOINT_TYPE, CacheControl=CHECKPOINT_CACHE, **condition)
            return True
        except ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict", "NoSuchKey"):
                raise StorageError("could not write the log bucket's checkpoint") from exc
        except BotoCoreError as exc:
            raise StorageError("could not write the log bucket's checkpoint") from exc
    raise StorageError("could not write the log bucket's checkpoint: too much contention")
