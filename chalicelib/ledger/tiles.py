"""C2SP tlog-tiles v1.0.0: tile paths, entry bundles and which tiles a tree of some size has. Pure.

A hash tile at level L holds up to 256 consecutive hashes of tree level 8·L
(level 0: the leaf hashes); tile N of a level covers hashes N·256 … N·256+255.
An entry bundle N holds entries N·256 … N·256+255, each as a big-endian
uint16 length and the entry's bytes (here: its JCS). A tile or bundle with
fewer than 256 items is partial, ``.p/<W>`` with W its width.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

WIDTH = 256
HEIGHT = 8  # tree levels per tile level
HASH_SIZE = 32
MAX_BUNDLE_ENTRY = 0xFFFF
MAX_LEVEL = 63


class TileError(ValueError):
    """A tile path, tile or entry bundle is malformed."""


def encode_index(n: int) -> str:
    """A tile index as zero-padded 3-digit path elements, all but the last starting with 'x'."""
    if n < 0:
        raise TileError("a tile index is not negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


@dataclass(frozen=True)
class TileRef:
    """A hash tile (``level`` 0…63) or an entry bundle (``level`` None), index ``n``, ``width`` 1…256."""

    level: int | None
    n: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    @property
    def path(self) -> str:
        head = "tile/entries" if self.level is None else f"tile/{self.level}"
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_index(self.n)}{tail}"


def parse_path(path: str) -> TileRef:
    """The tile a path names (``tile/...`` with or without a leading slash); TileError if none."""
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError("a tile path is tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    level_text, rest = parts[1], parts[2:]
    if level_text == "entries":
        level: int | None = None
    elif level_text.isascii() and level_text.isdigit() and str(int(level_text)) == level_text \
            and int(level_text) <= MAX_LEVEL:
        level = int(level_text)
    else:
        raise TileError("a tile level is a decimal integer 0 to 63, or 'entries'")
    width = WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width_text = rest[-1]
        if not (width_text.isascii() and width_text.isdigit() and str(int(width_text)) == width_text
                and 1 <= int(width_text) < WIDTH):
            raise TileError("a partial tile's width is a decimal integer 1 to 255")
        width = int(width_text)
        rest = [*rest[:-2], rest[-2][:-2]]
    if not rest or len(rest) > 7:
        raise TileError("a tile index has 1 to 7 path elements")
    digits = []
    for position, element in enumerate(rest):
        last = position == len(rest) - 1
        group = element if last else element[1:]
        if (not last and not element.startswith("x")) or len(group) != 3 or not group.isascii() \
                or not group.isdigit():
            raise TileError("a tile index is 3-digit path elements, all but the last starting with 'x'")
        digits.append(group)
    n = int("".join(digits))
    ref = TileRef(level, n, width)
    if ref.path != path.strip("/"):
        raise TileError("a tile index has no superfluous leading zero elements")
    return ref


def level_size(size: int, level: int) -> int:
    """How many complete hashes tree level ``HEIGHT * level`` has in a tree of ``size`` leaves."""
    return size >> (HEIGHT * level)


def tiles_of(size: int, since: int = 0) -> Iterator[TileRef]:
    """Every hash tile and bundle that a tree of ``size`` has and a tree of ``since`` lacks.

    These are the objects to write when the log grows from ``since`` to
    ``size`` leaves: each new full tile, and the partial tile at the right edge
    of each level if it grew.
    """
    for level in range(MAX_LEVEL + 1):
        count, before = level_size(size, level), level_size(since, level)
        if count == 0:
            break
        yield from _grown(level, count, before)
    yield from _grown(None, size, since)


def _grown(level: int | None, count: int, before: int) -> Iterator[TileRef]:
    if count <= before:
        return
    for n in range(before // WIDTH, (count - 1) // WIDTH + 1):
        width = min(WIDTH, count - n * WIDTH)
        yield TileRef(level, n, width)


def bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_BUNDLE_ENTRY:
            raise TileError(f"an entry of {len(entry)} bytes does not fit a bundle (at most 65,535)")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def unbundle(data: bytes) -> list[bytes]:
    """The entries of a bundle, in order; TileError if the lengths do not add up."""
    entries, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise TileError("an entry bundle ends inside a length prefix")
        length = int.from_bytes(data[offset:offset + 2], "big")
        offset += 2
        if offset + length > len(data):
            raise TileError("an entry bundle ends inside an entry")
        entries.append(data[offset:offset + length])
        offset += length
    if len(entries) > WIDTH:
        raise TileError("an entry bundle holds at most 256 entries")
    return entries


def hashes(data: bytes) -> list[bytes]:
    """The hashes of a hash tile; TileError unless it is a whole number of 1 to 256 hashes."""
    if not data or len(data) % HASH_SIZE or len(data) > WIDTH * HASH_SIZE:
        raise TileError("a hash tile is 1 to 256 hashes of 32 bytes")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
