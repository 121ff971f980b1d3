"""Three test-and-local-only patches to moto, applied wherever moto starts.

1. moto's TransactWriteItems deep-copies a whole table once per *item* so it
   can roll back (../shared/LOCAL-AWS.md, trap 1): a 10-item transaction on a
   3,000-row table takes ~400 ms, and the ledger's tables grow without end.
   Copying each table once per transaction still grows with the table, so we
   copy nothing: while a transaction runs, every item it is about to change is
   recorded (an undo log), and a cancelled transaction puts those items back
   (and drops the stream records it added). The cost is per item touched,
   whatever the table size. Tests prove rollback.
2. moto applies a transaction's writes one by one, in place, and does not
   serialise requests: under threads, a reader saw a transaction's first
   writes before its last condition failed and the undo log took them back
   (the sealer sealed a queue item whose transaction was then cancelled), and
   a conditional put's check and write could interleave with another
   request's. Real DynamoDB shows no write of a transaction before it commits
   and none of one that is cancelled. So every DynamoDB request, reads
   included (GetItem, BatchGetItem, Query, Scan, TransactGetItems, PartiQL,
   stream records, ...), runs alone, from parsing to the serialised answer,
   under one re-entrant lock: a read happens wholly before or wholly after a
   transaction, never inside it. moto's request handling holds Python's GIL
   anyway, so little concurrency is lost (measured in the README).
3. moto's S3 is not safe under threads either: replacing an object closes the
   buffer of the one it replaces, and a GET of the same key running at that
   moment fails ("I/O operation on closed file"), where S3 replaces an object
   atomically. Two sealers completing blocks at once both read and advance the
   log's ``checkpoint`` object, so every S3 request runs alone too (its own
   lock: S3 and DynamoDB requests never wait for each other).
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_state = threading.local()
# One DynamoDB request at a time, from parsing to its serialised answer. Re-entrant:
# a request's handler calls the backend's (also locked) write methods.
_request_lock = threading.RLock()
_s3_lock = threading.RLock()
_applied = False


def _undo_log() -> list[tuple[Any, Any, Any, Any]] | None:
    return getattr(_state, "undo", None)


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend.

    Inside a transaction a "copy" of a table is the table itself; the undo log
    restores it. Every other deep copy is a real one.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if _undo_log() is not None and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _record(backend: Any, table_name: str, key: dict[str, Any]) -> None:
    undo = _undo_log()
    if undo is None:
        return
    table = backend.get_table(table_name)
    hash_value, range_value = backend.get_keys_value(table, key)
    old = table.get_item(hash_value, range_value)
    undo.append((table, hash_value, range_value, copy.deepcopy(old)))
    shard = table.stream_shard
    if shard is not None:
        _state.streams.setdefault(id(shard), (shard, len(shard.items)))


def _restore(undo: list[tuple[Any, Any, Any, Any]], streams: dict[int, tuple[Any, int]]) -> None:
    for table, hash_value, range_value, old in reversed(undo):
        if range_value is not None:
            if old is None:
                table.items[hash_value].pop(range_value, None)
                if not table.items[hash_value]:
                    del table.items[hash_value]
            else:
                table.items[hash_value][range_value] = old
        elif old is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = old
    for shard, length in streams.values():
        del shard.items[length:]


def _alone(method: Any, lock: Any = _request_lock) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return wrapper


def apply() -> None:
    """Patch moto (idempotent). Call before the first request reaches moto."""
    global _applied
    if _applied:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    models.copy = _NoTableCopy()  # type: ignore[attr-defined,assignment]
    original_transaction = DynamoDBBackend.transact_write_items
    original_put = DynamoDBBackend.put_item
    original_update = DynamoDBBackend.update_item
    original_delete = DynamoDBBackend.delete_item

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        _state.undo, _state.streams = [], {}
        try:
            return original_transaction(self, transact_items)
        except BaseException:
            _restore(_state.undo, _state.streams)
            raise
        finally:
            _state.undo, _state.streams = None, None

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if _undo_log() is not None:
            table = self.get_table(table_name)
            keys = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
            if all(name in item_attrs for name in keys):
                _record(self, table_name, {name: item_attrs[name] for name in keys})
        return original_put(self, table_name, item_attrs, *args, **kwargs)

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        _record(self, table_name, key)
        return original_update(self, table_name, key, *args, **kwargs)

    def delete_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        _record(self, table_name, key)
        return original_delete(self, table_name, key, *args, **kwargs)

    # Every request, whatever it does: reads never see a transaction in flight.
    DynamoHandler.call_action = _alone(DynamoHandler.call_action)  # type: ignore[method-assign]
    DynamoDBStreamsHandler.call_action = _alone(DynamoDBStreamsHandler.call_action)  # type: ignore[method-assign]
    # And the backend's writes, for callers that reach it without a request.
    DynamoDBBackend.transact_write_items = _alone(transact_write_items)  # type: ignore[method-assign]
    DynamoDBBackend.put_item = _alone(put_item)  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _alone(update_item)  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = _alone(delete_item)  # type: ignore[method-assign]
    from moto.s3.responses import S3Response

    for name in ("bucket_response", "key_response", "ambiguous_response"):
        setattr(S3Response, name, _alone(getattr(S3Response, name), _s3_lock))
    _applied = True
