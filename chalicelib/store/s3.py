"""The one S3 client of a container (the items bucket and the log bucket), made on first use."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    # SigV4 always: only it signs the headers a presigned PUT is bound to (x-amz-checksum-sha256, content-length),
    # and the items bucket's policy refuses any other signature.
    return boto3.client("s3", config=Config(signature_version="s3v4"))
