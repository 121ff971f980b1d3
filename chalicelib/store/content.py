"""Content too large for an entry, in the items bucket (S3), by its SHA-256.

Two prefixes, two owners. ``uploads/<sha256>`` is written by clients, through
presigned PUTs this module signs, and is never trusted. ``items/<sha256>`` is
written only by the program, only with bytes it verified, and never replaced
(``If-None-Match: *``): downloads read there. The bucket is versioned
(infra/render.py), so the program copies exactly the upload version it hashed,
whatever a client puts at the same key meanwhile. Uploads expire after a day.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import Conflict, StorageError
from ..observability import logger
from ..settings import get_settings
from .s3 import s3_client

UPLOADS, ITEMS = "uploads/", "items/"
CHUNK = 1 << 20


def bucket() -> str:
    return get_settings().table("items")


def checksum(sha256: str) -> str:
    """The ``x-amz-checksum-sha256`` value of a hex SHA-256: the 32 bytes in standard base64."""
    return base64.b64encode(bytes.fromhex(sha256)).decode("ascii")


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def presign_upload(sha256: str, size: int, content_type: str, seconds: int) -> tuple[str, dict[str, str]]:
    """A URL to PUT ``size`` bytes hashing to ``sha256`` at ``uploads/<sha256>``, and the headers it must carry.

    A presigned PUT rather than a presigned POST: SigV4 signs ``Content-Length`` and ``x-amz-checksum-sha256``
    into the URL, so S3 takes exactly ``size`` bytes and refuses (``BadDigest``) any whose SHA-256 is not the one
    asked for. A POST policy bounds the size only to a range and binds no hash of the whole object. Either way
    the program verifies the object itself before publishing it (moto enforces none of this).
    """
    headers = {"Content-Length": str(size), "Content-Type": content_type, "x-amz-checksum-sha256": checksum(sha256)}
    try:
        url = s3_client().generate_presigned_url("put_object", ExpiresIn=seconds, HttpMethod="PUT", Params={
            "Bucket": bucket(), "Key": UPLOADS + sha256, "ContentLength": size, "ContentType": content_type,
            "ChecksumSHA256": headers["x-amz-checksum-sha256"]})
    except _errors() as exc:
        raise StorageError("could not sign an upload URL") from exc
    return str(url), headers


@dataclass
class Upload:
    """One version of an uploaded object, open for reading."""

    size: int
    version: str
    body: Any

    def chunks(self, limit: int) -> Iterator[bytes]:
        """The object's bytes, never more than ``limit`` + 1 of them, whatever the object holds."""
        read = 0
        try:
            for chunk in self.body.iter_chunks(CHUNK):
                read += len(chunk)
                yield chunk
                if read > limit:
                    return
        except _errors() as exc:
            raise StorageError("could not read the upload") from exc
        finally:
            self.body.close()

    def close(self) -> None:
        self.body.close()


def open_upload(sha256: str) -> Upload | None:
    """The current version of ``uploads/<sha256>``, its body not read yet; None when there is none."""
    try:
        found = s3_client().get_object(Bucket=bucket(), Key=UPLOADS + sha256)
    except _errors() as exc:
        if _code(exc) in ("NoSuchKey", "404"):
            return None
        logger.warning("could not read an upload", extra={"sha256": sha256, "code": _code(exc)})
        raise StorageError("could not read the upload") from exc
    version = found.get("VersionId")
    if not version or version == "null":
        found["Body"].close()
        # Without versions, the bytes copied could be other than the bytes hashed: refuse rather than guess.
        raise StorageError("the items bucket must keep versions (infra/render.py turns them on)")
    return Upload(size=int(found["ContentLength"]), version=str(version), body=found["Body"])


def keep(sha256: str, version: str) -> None:
    """Copy the verified version of ``uploads/<sha256>`` to ``items/<sha256>``, unless it is there already.

    ``items/<sha256>`` only ever receives bytes verified to hash to ``sha256``, so one already there is the
    same content: S3 refuses the copy (412) and that is success. S3 computes the copy's SHA-256 as it writes.
    """
    try:
        copied = s3_client().copy_object(
            Bucket=bucket(), Key=ITEMS + sha256, IfNoneMatch="*", ChecksumAlgorithm="SHA256",
            CopySource={"Bucket": bucket(), "Key": UPLOADS + sha256, "VersionId": version})
    except _errors() as exc:
        _kept_already(exc, sha256)
        return
    computed = copied.get("CopyObjectResult", {}).get("ChecksumSHA256")
    if computed and computed != checksum(sha256):
        logger.error("S3 copied other bytes than those verified", extra={"sha256": sha256, "version": version})
        raise StorageError("the stored copy does not hash to the verified SHA-256")


def put_text(sha256: str, content: bytes) -> None:
    """Store a text item's bytes (sent in its request) at ``items/<sha256>``, unless they are there already."""
    try:
        s3_client().put_object(Bucket=bucket(), Key=ITEMS + sha256, Body=content, ContentType="text/plain",
                               ChecksumSHA256=checksum(sha256), IfNoneMatch="*")
    except _errors() as exc:
        _kept_already(exc, sha256)


def _kept_already(exc: Exception, sha256: str) -> None:
    code = _code(exc)
    if code == "PreconditionFailed":
        return  # items/<sha256> exists: the same verified content
    if code == "ConditionalRequestConflict":  # another request is storing the same content right now
        raise Conflict("the same content is being stored by another request; publish again", code="conflict") \
            from exc
    logger.warning("could not store an item's content", extra={"sha256": sha256, "code": code})
    raise StorageError("could not store the item's content") from exc


def presign_download(sha256: str, seconds: int) -> str:
    try:
        return str(s3_client().generate_presigned_url("get_object", ExpiresIn=seconds,
                                                      Params={"Bucket": bucket(), "Key": ITEMS + sha256}))
    except _errors() as exc:
        raise StorageError("could not sign a download URL") from exc
