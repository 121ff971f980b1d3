"""What publishing uploaded content costs the program: reading it back, hashing it, and having S3 copy it.

For binary uploads of 1 MiB, 10 MiB and the largest allowed
(``COVENANT_MAX_UPLOAD_BYTES``, 100 MiB by default), and text of the largest
size (UTF-8 to its end, which must all be decoded), the client's presigned PUT, the program's verification
(one GET read to the end, SHA-256 and UTF-8 checked as it streams) and its copy
to ``items/<sha256>`` are timed on moto in-process, beside ``hashlib.sha256``
over the same bytes in memory (the baseline). On AWS the GET is bound by the
Lambda function's network instead (tens to a hundred MB/s), the copy by S3.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def bench_uploads(row: Callable[..., None], in_process_aws: Callable[[], Any], quick: bool) -> None:
    import requests

    from chalicelib.settings import get_settings
    from chalicelib.store import content

    print("\nUploads: verifying and keeping content before its item is published (moto in-process; median of 3)")
    with in_process_aws():
        largest = get_settings().max_upload_bytes
        sizes = [1 << 20, 10 << 20] if quick else [1 << 20, 10 << 20, largest]
        for size, kind in [*((size, "binary") for size in sizes), (sizes[-1], "text")]:
            data = _content(size, kind)
            start = time.perf_counter()
            sha = hashlib.sha256(data).hexdigest()
            baseline = time.perf_counter() - start
            url, headers = content.presign_upload(sha, size, "application/octet-stream", 300)
            start = time.perf_counter()
            assert requests.put(url, data=data, headers=headers, timeout=600).status_code == 200
            put = time.perf_counter() - start
            del data
            verify, keep = _verify_and_keep(sha, size)
            label = f"{size / (1 << 20):,.0f} MiB {kind}"
            row(f"{label}: presigned PUT", f"{put * 1000:,.0f} ms")
            row(f"{label}: read, SHA-256 and UTF-8 checked", f"{verify * 1000:,.0f} ms",
                f"{verify / baseline:.1f} x hashlib.sha256 in memory ({baseline * 1000:,.0f} ms)")
            row(f"{label}: copied to items/<sha256>", f"{keep * 1000:,.0f} ms")


def _content(size: int, kind: str) -> bytes:
    """Random bytes (not UTF-8 from the first bytes on), or random ASCII words (UTF-8 to the end: the worst case)."""
    data = os.urandom(size)
    if kind == "binary":
        return data
    letters = bytes(b"abcdefghijklmnopqrstuvwxyz      "[i % 32] for i in range(256))
    return data.translate(letters)


def _verify_and_keep(sha: str, size: int) -> tuple[float, float]:
    """Median seconds of the program's check of the upload, and of its copy to items/<sha256>."""
    from chalicelib.services.uploads import keep_verified, verify_upload

    checks, copies = [], []
    for _ in range(3):
        start = time.perf_counter()
        verified = verify_upload(sha, size)
        checks.append(time.perf_counter() - start)
        start = time.perf_counter()
        keep_verified(verified)
        copies.append(time.perf_counter() - start)
    return statistics.median(checks), statistics.median(copies)
