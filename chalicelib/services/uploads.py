"""Uploads: content larger than an entry goes to S3 by a presigned PUT; the program verifies it before publishing.

A node asks for an upload (``POST /uploads``) naming the content's SHA-256 and
size; the answer is a presigned URL, valid a few minutes, that lets S3 take
exactly those bytes at ``uploads/<sha256>``. Asking writes nothing to the
ledger: a URL changes no state anyone shares (the request keeps its answer, as
every signed request does). Then ``POST /items`` names the same SHA-256 and
size; before its entry is committed the program reads the upload (bounded by
the size), hashes it, and refuses content that is missing (``upload_missing``)
or is not what the request names (``upload_mismatch``). The entry commits the
SHA-256 the program verified, and the very version of the object it hashed is
what buyers download.
"""

from __future__ import annotations

import codecs
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from ..errors import UploadMismatch, UploadMissing
from ..store import backend, content
from .program import allowed
from .signed import SignedRequest
from .trading import trader

# The URL's life: the PUT must start within it (S3 checks the time when a request begins). Signed with the
# function's temporary credentials, a URL also dies with them, if they expire first: the client asks again.
UPLOAD_SECONDS = 300
DEFAULT_CONTENT_TYPE = "application/octet-stream"
SAMPLE_BYTES = 48_000  # what the near-copy check, the excerpt and the search read of uploaded text (= a text item)


@dataclass(frozen=True)
class Verified:
    """Uploaded content whose SHA-256 and size the program computed itself."""

    sha256: str
    size: int
    version: str  # the S3 version hashed: the one copied to items/<sha256>
    text: str | None  # the first SAMPLE_BYTES decoded, when the whole content is UTF-8; None for binary content


def request_upload(signed: SignedRequest, sha256: str, size: int,
                   content_type: str | None) -> tuple[int, dict[str, Any]]:
    """A presigned PUT for ``size`` bytes hashing to ``sha256``; nothing enters the ledger."""
    _, guard = allowed("upload")
    trader(signed)
    kind = content_type or DEFAULT_CONTENT_TYPE
    url, headers = content.presign_upload(sha256, size, kind, UPLOAD_SECONDS)
    answer = {"sha256": sha256, "size": size, "content_type": kind, "method": "PUT", "url": url,
              "headers": headers, "expires_in": UPLOAD_SECONDS, "expires_at": int(time.time() * 1000) +
              UPLOAD_SECONDS * 1000}
    backend.state().apply([guard, signed.remember(201, answer)])
    return 201, answer


def verify_upload(sha256: str, size: int) -> Verified:
    """Read ``uploads/<sha256>`` (at most ``size`` + 1 bytes) and check its size and SHA-256 are those named."""
    upload = content.open_upload(sha256)
    if upload is None:
        raise UploadMissing(f"no upload of {sha256}: ask POST /uploads, PUT the content, then publish",
                            field="sha256")
    if upload.size != size:
        upload.close()
        raise UploadMismatch(f"the upload holds {upload.size} bytes, not {size}", field="size")
    digest = hashlib.sha256()
    decoder: Any = codecs.getincrementaldecoder("utf-8")()
    sample = bytearray()
    read = 0
    for chunk in upload.chunks(size):
        read += len(chunk)
        digest.update(chunk)
        if len(sample) < SAMPLE_BYTES:
            sample += chunk[:SAMPLE_BYTES - len(sample)]
        if decoder is not None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                decoder = None  # binary content: no near-copy check, no excerpt
    if read != size:
        raise UploadMismatch(f"the upload holds other than {size} bytes", field="size")
    if digest.hexdigest() != sha256:
        raise UploadMismatch("the upload's SHA-256 is not the one named: upload the content again", field="sha256")
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            decoder = None  # ends inside a character
    # the whole is UTF-8, so only a character cut at the sample's end can fail to decode
    text = bytes(sample).decode("utf-8", "ignore") if decoder is not None else None
    return Verified(sha256=sha256, size=size, version=upload.version, text=text)


def keep_verified(verified: Verified) -> None:
    """The verified bytes, at the immutable key downloads read."""
    content.keep(verified.sha256, verified.version)
