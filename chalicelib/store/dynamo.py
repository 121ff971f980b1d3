"""The state port on DynamoDB: one table of records (``pk``/``sk``) and one secondary index (``gsi1``).

PynamoDB models are derived from the records themselves (``domain/records.py``),
one per kind, so a record's fields are declared once. Changes become one
TransactWriteItems with the ledger's entries (``ledger_store.append``).
Shape of each call: try it, log, raise a domain error ``from`` the AWS error.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pynamodb.attributes import Attribute, BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from ..domain.records import Key, Record
from ..errors import Conflict, StorageError
from . import ledger_store
from .models import SharedClientModel, _meta, transaction_connection
from .port import (
    INDEX_PK,
    INDEX_SK,
    Absent,
    Change,
    Check,
    Condition,
    Delete,
    Eq,
    Exists,
    Ge,
    In,
    Ne,
    Put,
    Update,
    index_attributes,
    one_change_per_item,
)

R = TypeVar("R", bound=Record)


class StateIndex(GlobalSecondaryIndex["StateItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class StateItem(SharedClientModel):
    """Every item of the state table; one subclass per record kind adds that record's fields."""

    Meta = _meta("state")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # The commit key of the last ordered change (see store.port).
    last_seq = UnicodeAttribute(null=True)
    by_index = StateIndex()


class NonceItem(SharedClientModel):
    """A signature nonce seen, kept past its signature's expiry (TTL)."""

    Meta = _meta("nonces")
    pk = UnicodeAttribute(hash_key=True)
    idempotency_key = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()


def _attribute(hint: Any) -> Attribute[Any]:
    null = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        null, hint = True, options[0]
    if hint is bool:
        return BooleanAttribute(null=null)
    if hint is int:
        return NumberAttribute(null=null)
    if hint is str:
        return UnicodeAttribute(null=null)
    raise TypeError(f"no DynamoDB attribute for {hint!r}")


_models: dict[str, type[StateItem]] = {}


def model_of(kind: type[Record]) -> type[StateItem]:
    """The PynamoDB model of a record kind, built from the record's typed fields on first use."""
    model = _models.get(kind.KIND)
    if model is None:
        hints = typing.get_type_hints(kind)
        attributes = {f.name: _attribute(hints[f.name]) for f in dataclasses.fields(kind)}
        model = _models[kind.KIND] = type(f"{kind.__name__}Item", (StateItem,), attributes)
    return model


def _record(kind: type[R], item: StateItem) -> R:
    values = {}
    for f in dataclasses.fields(kind):
        value = getattr(item, f.name, None)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values[f.name] = value
    return kind(**values)


def _item(record: Record) -> StateItem:
    key = record.key
    values: dict[str, Any] = {name: value for name, value in record.fields().items() if value is not None}
    values.update(index_attributes(record))
    return model_of(type(record))(pk=key.pk, sk=key.sk, **values)


def _condition(model: type[StateItem], conditions: Sequence[Condition]) -> Any:
    result: Any = None
    part: Any
    for condition in conditions:
        if isinstance(condition, Exists):
            part = model.pk.exists()
        elif isinstance(condition, Absent):
            part = model.pk.does_not_exist()
        else:
            attribute = getattr(model, condition.field)
            if isinstance(condition, Eq):
                part = attribute == condition.value
            elif isinstance(condition, Ne):
                part = attribute.exists() & (attribute != condition.value)
            elif isinstance(condition, Ge):
                part = attribute >= condition.value
            elif isinstance(condition, In):
                part = attribute.is_in(*condition.values)
            else:  # pragma: no cover - the union is closed
                raise TypeError(condition)
        result = part if result is None else result & part
    return result


def _and(first: Any, second: Any) -> Any:
    if first is None:
        return second
    return first if second is None else first & second


def _write(change: Change) -> Callable[[TransactWrite], None]:
    """One change as a step of the ledger's transaction."""
    if isinstance(change, Put):
        model = model_of(type(change.record))
        condition = _and(model.pk.does_not_exist() if change.if_absent else None, _condition(model, change.when))
        item = _item(change.record)

        def put(tx: TransactWrite) -> None:
            # a new item starts its order here: later ordered changes come after this commit
            item.last_seq = ledger_store.current_commit_key()
            tx.save(item, condition=condition)

        return put
    if isinstance(change, Check):
        model = model_of(change.kind)
        condition = _condition(model, change.when)
        return lambda tx: tx.condition_check(model, change.key.pk, change.key.sk, condition=condition)
    if isinstance(change, Delete):
        model = model_of(change.kind)
        condition = _condition(model, change.when)
        return lambda tx: tx.delete(model(pk=change.key.pk, sk=change.key.sk), condition=condition)
    return _update(change)


def _update(change: Update) -> Callable[[TransactWrite], None]:
    model = model_of(change.kind)
    actions: list[Any] = []
    for name, value in change.set.items():
        attribute = getattr(model, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    actions += [getattr(model, name).add(value) for name, value in change.add.items()]
    actions += [getattr(model, name).set(getattr(model, name) | value) for name, value in change.set_default.items()]
    actions += [getattr(model, name).remove() for name in change.remove if name not in change.set]
    condition = _condition(model, change.when)

    def write(tx: TransactWrite) -> None:
        steps, guard = list(actions), condition
        if change.ordered:
            key = ledger_store.commit_key()
            steps.append(model.last_seq.set(key))
            guard = _and(guard, model.last_seq.does_not_exist() | (model.last_seq < key))
        tx.update(model(pk=change.key.pk, sk=change.key.sk), actions=steps, condition=guard)

    return write


class DynamoState:
    """``StateStore`` on DynamoDB."""

    def get(self, kind: type[R], key: Key) -> R | None:
        model = model_of(kind)
        try:
            return _record(kind, model.get(key.pk, key.sk, consistent_read=True))
        except model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StorageError(f"could not read {key.pk}") from exc

    def get_many(self, kind: type[R], keys: Sequence[Key]) -> dict[Key, R]:
        model = model_of(kind)
        try:
            items = model.batch_get([(k.pk, k.sk) for k in dict.fromkeys(keys)], consistent_read=True)
            return {Key(i.pk, i.sk): _record(kind, i) for i in items}
        except PynamoDBException as exc:
            raise StorageError(f"could not read {kind.KIND} items") from exc

    def query(self, kind: type[R], pk: str, after: str | None = None, limit: int | None = None) -> list[R]:
        model = model_of(kind)
        try:
            found = model.query(pk, range_key_condition=model.sk > after if after is not None else None,
                                limit=limit, consistent_read=True)
            return [_record(kind, item) for item in found]
        except PynamoDBException as exc:
            raise StorageError(f"could not read {pk}") from exc

    def index(self, kind: type[R], pk: str, after: str | None = None, limit: int | None = None) -> list[R]:
        model = model_of(kind)
        try:
            found = model.by_index.query(pk, range_key_condition=model.gsi1sk > after if after is not None else None,
                                         limit=limit)
            return [_record(kind, item) for item in found]
        except PynamoDBException as exc:
            raise StorageError(f"could not read the {pk} index") from exc

    def commit(self, entries: Sequence[Any], changes: Sequence[Change]) -> None:
        one_change_per_item(changes)
        ledger_store.append(entries, [_write(change) for change in changes])

    def apply(self, changes: Sequence[Change]) -> None:
        one_change_per_item(changes)
        writes = [_write(change) for change in changes]
        try:
            with TransactWrite(connection=transaction_connection()) as tx:
                for write in writes:
                    write(tx)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            if any(r and r.code in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons):
                raise Conflict("the state changed under this request; nothing was written") from exc
            raise StorageError("could not write the state; nothing was written") from exc

    def put_all(self, records: Sequence[Record]) -> None:
        by_kind: dict[type[Record], list[Record]] = {}
        for record in records:
            by_kind.setdefault(type(record), []).append(record)
        try:
            for kind, group in by_kind.items():
                with model_of(kind).batch_write() as batch:
                    for record in group:
                        batch.save(_item(record))
        except PynamoDBException as exc:
            raise StorageError("could not write index rows") from exc

    def claim_nonce(self, kid: str, nonce: str, idempotency_key: str, expires_at: int) -> str | None:
        item = NonceItem(pk=f"{kid}#{nonce}", idempotency_key=idempotency_key, expires_at=expires_at)
        try:
            item.save(condition=NonceItem.pk.does_not_exist())
            return None
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise StorageError("could not record the nonce") from exc
        try:
            seen = NonceItem.get(item.pk, consistent_read=True)
        except (NonceItem.DoesNotExist, PynamoDBException) as exc:
            raise StorageError("could not read the nonce") from exc
        return str(seen.idempotency_key or "")

    def release_nonce(self, kid: str, nonce: str, idempotency_key: str) -> None:
        try:
            NonceItem(pk=f"{kid}#{nonce}").delete(condition=NonceItem.idempotency_key == idempotency_key)
        except DeleteError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise StorageError("could not release the nonce") from exc


__all__ = ["INDEX_PK", "INDEX_SK", "DynamoState", "NonceItem", "StateItem", "model_of"]
