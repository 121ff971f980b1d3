"""Near-copy detection: MinHash over character shingles, with LSH bands to find candidates.

Text is normalised (NFKC, case-folded, punctuation dropped, whitespace
collapsed) and cut into overlapping 5-character shingles. 128 seeded hash
functions give the MinHash signature; the share of equal positions estimates
the Jaccard similarity of the shingle sets. Signatures are cut into 64 bands
of 2 rows: items sharing any band are candidates (a pair at 0.35 becomes one
with probability above 0.999), then compared in full.

Threshold 0.25, set from real examples (tests/unit/test_similarity.py, the
opening of Pride and Prejudice): a light edit scores 0.88, a close paraphrase
that keeps much of the phrasing 0.35, a loose rewording 0.06, unrelated text
0.05. Edits and close paraphrases are flagged; a rewording that shares no
phrasing is beyond any lexical method and is not.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

SHINGLE = 5
PERMUTATIONS = 128
BANDS = 64
ROWS = PERMUTATIONS // BANDS
NEAR_COPY_THRESHOLD = 0.25
_MERSENNE = (1 << 61) - 1
_SEEDS = [
    (int.from_bytes(hashlib.sha256(f"a{i}".encode()).digest()[:8], "big") % _MERSENNE | 1,
     int.from_bytes(hashlib.sha256(f"b{i}".encode()).digest()[:8], "big") % _MERSENNE)
    for i in range(PERMUTATIONS)
]
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def shingles(text: str) -> set[int]:
    clean = normalise(text)
    if len(clean) < SHINGLE:
        clean = clean.ljust(SHINGLE)
    return {int.from_bytes(hashlib.blake2b(clean[i:i + SHINGLE].encode(), digest_size=8).digest(), "big")
            for i in range(len(clean) - SHINGLE + 1)}


def signature(text: str) -> list[int]:
    values = shingles(text)
    return [min((a * v + b) % _MERSENNE for v in values) for a, b in _SEEDS]


def similarity(first: list[int], second: list[int]) -> float:
    return sum(1 for x, y in zip(first, second, strict=True) if x == y) / PERMUTATIONS


def bands(sig: list[int]) -> list[str]:
    """One key per band: items with any key in common are candidates."""
    keys = []
    for band in range(BANDS):
        rows = ",".join(map(str, sig[band * ROWS:(band + 1) * ROWS]))
        keys.append(f"{band}:" + hashlib.sha256(rows.encode()).hexdigest()[:24])
    return keys


def jaccard(first: str, second: str) -> float:
    a, b = shingles(first), shingles(second)
    return len(a & b) / len(a | b) if a | b else 1.0
