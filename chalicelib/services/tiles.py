"""Publishing the log as C2SP tlog-tiles: what completing a block writes to the log bucket.

For the entries a block adds, every hash tile and entry bundle the tree now
has and did not have before: each new full tile once, and the partial tile at
each level's right edge at the new width. Hash tiles come from the Merkle
nodes the completion stored (tree level 8·L is tile level L); an entry bundle
holds each entry's stored JCS bytes. The entries of a bundle that came in
earlier blocks are read from the bundle's previous partial object, checked
against the stored leaf hashes, or, failing that, from the blocks themselves.
Last, the bucket's checkpoint moves forward to the block's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..errors import StorageError
from ..ledger import merkle
from ..ledger.tiles import HEIGHT, WIDTH, TileError, TileRef, bundle, tiles_of, unbundle
from ..observability import logger
from ..store import ledger as store
from ..store import log_bucket
from ..store.ledger_records import Block


def hash_tile(ref: TileRef) -> bytes:
    """A hash tile's bytes from the stored Merkle nodes."""
    assert ref.level is not None
    first = ref.n * WIDTH
    return b"".join(store.read_node(HEIGHT * ref.level, first + i) for i in range(ref.width))


def _earlier_entries(start: int, first: int, height: int) -> list[bytes]:
    """The JCS bytes of entries ``start`` … ``first - 1``, all sealed in blocks below ``height``."""
    previous = log_bucket.get(TileRef(None, start // WIDTH, first - start).path)
    if previous is not None:
        try:
            items = unbundle(previous.body)
        except TileError:
            items = []
        if len(items) == first - start and all(
                merkle.leaf_hash(item) == store.read_node(0, start + i) for i, item in enumerate(items)):
            return items
        logger.warning("a partial entry bundle disagrees with the log; read from the blocks",
                       extra={"start": start, "width": first - start})
    ids: list[str] = []
    below = height - 1
    while len(ids) < first - start:
        block = store.get_block(below)
        if block is None:
            raise StorageError(f"block {below} is not stored")
        header = json.loads(block.header)
        low = header["log_size"] - header["count"]
        ids[:0] = block.ids[max(0, start - low):]
        below -= 1
    ids = ids[len(ids) - (first - start):]
    records = store.entry_records(ids)
    return [records[entry_id].body.encode("utf-8") for entry_id in ids]


def publish_block(record: Block, entries: Sequence[bytes]) -> int:
    """Write the tiles, bundles and checkpoint that block ``record`` adds; returns the objects written.

    ``entries``: the JCS bytes of the block's entries, in log order. Safe to run
    again: an object already written is checked, never replaced.
    """
    header = json.loads(record.header)
    size, first = int(header["log_size"]), int(header["log_size"]) - int(header["count"])
    base = first - first % WIDTH  # the first bundle this block touches starts here
    combined: list[bytes] | None = None  # entries base … size-1, read only if a bundle is written
    written = 0
    for ref in tiles_of(size, first):
        if ref.level is None:
            if combined is None:
                earlier = _earlier_entries(base, first, int(record.height)) if base < first else []
                combined = [*earlier, *entries]
            start = ref.n * WIDTH - base
            body = bundle(combined[start:start + ref.width])
        else:
            body = hash_tile(ref)
        cache = log_bucket.FULL_TILE_CACHE if ref.full else log_bucket.PARTIAL_TILE_CACHE
        written += log_bucket.put_once(ref.path, body, cache)
    if record.checkpoint:
        written += log_bucket.advance_checkpoint(record.checkpoint, size)
    return written
