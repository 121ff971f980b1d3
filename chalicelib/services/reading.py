"""The public read side of the ledger (LEDGER.md's table), also the replicas' block source."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ChainNotStarted, EntryPending, InvalidParameter, NotFound
from ..ledger import merkle
from ..ledger.keys import public_key_from_jwk
from ..ledger.note import vkey
from ..ledger.tiles import TileError, TileRef, parse_path
from ..store import ledger as store
from ..store.cache import LruCache
from ..store.ledger_records import Block
from .sealing import header_of, log_origin

DEFAULT_PAGE = 500
MAX_PAGE = 1000


# Stored blocks never change, so a container keeps the recent ones.
block_cache: LruCache[int, Block] = LruCache(capacity=2048)


def _block(height: int) -> Block | None:
    record = block_cache.get(height)
    if record is None:
        record = store.get_block(height)
        if record is not None:
            block_cache.put(height, record)
    return record


def _head_record() -> Block:
    height = store.completed_height()
    if height < 0:
        raise ChainNotStarted("the ledger has no genesis block yet")
    record = _block(height)
    if record is None:
        raise NotFound(f"block {height} is not stored")
    return record


def head_size() -> int:
    return int(header_of(_head_record())["log_size"])


def head() -> dict[str, Any]:
    record = _head_record()
    return {"header": header_of(record), "hash": record.hash, "sig": record.sig}


def _published_block(height: int) -> Block:
    if height > store.completed_height():
        raise NotFound(f"there is no block at height {height}", field="h")
    record = _block(height)
    if record is None:
        raise NotFound(f"there is no block at height {height}", field="h")
    return record


def _entries(ids: list[str]) -> list[dict[str, Any]]:
    records = store.entry_records(ids)
    return [json.loads(records[entry_id].body) for entry_id in ids]


def block(height: int, cursor: int = 0, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
    """Block ``height`` with one page of its entries; ``next`` is the cursor of the following page."""
    record = _published_block(height)
    if cursor >= len(record.ids):
        raise InvalidParameter(f"cursor must be below {len(record.ids)}", field="cursor")
    ids = record.ids[cursor:cursor + limit]
    answer: dict[str, Any] = {"header": header_of(record), "hash": record.hash, "sig": record.sig,
                              "entries": _entries(ids)}
    following = cursor + len(ids)
    answer["next"] = str(following) if following < len(record.ids) else None
    return answer


def full_block(height: int) -> dict[str, Any] | None:
    """Block ``height`` with every entry, or None if it is not published yet (replicas' source)."""
    try:
        record = _published_block(height)
    except NotFound:
        return None
    return {"header": header_of(record), "hash": record.hash, "sig": record.sig, "entries": _entries(record.ids)}


def entry(entry_id: str) -> dict[str, Any]:
    position = store.position_of(entry_id)
    if position is None or position.height > store.completed_height():
        if store.get_entry(entry_id) is not None:
            raise EntryPending(f"entry {entry_id} is committed but not sealed yet", field="id")
        raise NotFound(f"there is no entry {entry_id}", field="id")
    record = store.get_entry(entry_id)
    if record is None:
        raise NotFound(f"there is no entry {entry_id}", field="id")
    return {"entry": json.loads(record.body), "index": int(position.idx), "height": int(position.height)}


def _require_sealed_size(size: int, field: str) -> None:
    sealed = head_size()
    if size > sealed:
        raise NotFound(f"the log has {sealed} sealed entries; size {size} is not sealed yet", field=field)


def inclusion_proof(index: int, size: int) -> dict[str, Any]:
    if index >= size:
        raise InvalidParameter("index must be below size", field="index")
    _require_sealed_size(size, "size")
    path = merkle.inclusion_path(store.read_node, index, size)
    return {"leaf_index": index, "tree_size": size, "path": [node.hex() for node in path]}


def consistency_proof(first: int, second: int) -> dict[str, Any]:
    if first > second:
        raise InvalidParameter("first must not exceed second", field="first")
    _require_sealed_size(second, "second")
    path = merkle.consistency_path(store.read_node, first, second)
    return {"first": first, "second": second, "path": [node.hex() for node in path]}


def keys() -> dict[str, Any]:
    """Every sealer JWK, with the signed-note ``vkey`` that verifies its checkpoints (key name = origin)."""
    items = store.sealer_keys()
    if not items:
        return {"keys": []}  # before genesis: no key, and no origin yet
    origin = log_origin()
    return {"keys": [{**item["jwk"], "vkey": vkey(origin, public_key_from_jwk(item["jwk"]))} for item in items]}


def _checkpoint_of(record: Block) -> str:
    if not record.checkpoint:
        raise NotFound(f"block {record.height} was sealed before checkpoints existed", field="h")
    return record.checkpoint


def checkpoint_with_cosignatures(record: Block) -> str:
    """The block's checkpoint, its log signature line, then every cosignature line collected for its size."""
    from .cosigners import lines_of

    text = _checkpoint_of(record)
    return text + "".join(lines_of(int(header_of(record)["log_size"])))


def checkpoint() -> str:
    """The newest completed block's signed checkpoint (C2SP tlog-checkpoint), with its cosignatures."""
    return checkpoint_with_cosignatures(_head_record())


def block_checkpoint(height: int) -> str:
    return checkpoint_with_cosignatures(_published_block(height))


def tile(path: str) -> tuple[bytes, str]:
    """A tile or entry bundle of the published log, and its Cache-Control."""
    from ..store import log_bucket

    try:
        ref: TileRef = parse_path(path)
    except TileError as exc:
        raise NotFound(f"no such tile: {exc}", field="path") from exc
    # only what the newest checkpoint covers is published (a block being completed writes ahead of it)
    size = head_size()
    last = (ref.n * 256 + ref.width) << (8 * ref.level if ref.level is not None else 0)
    if last > size:
        raise NotFound(f"the tile {ref.path} is beyond the log's {size} published entries", field="path")
    found = log_bucket.get(ref.path)
    if found is None:
        raise NotFound(f"the tile {ref.path} is not stored", field="path")
    return found.body, log_bucket.FULL_TILE_CACHE if ref.full else log_bucket.PARTIAL_TILE_CACHE
