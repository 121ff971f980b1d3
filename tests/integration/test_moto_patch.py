"""The local moto patch keeps DynamoDB's transaction semantics: all or nothing."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError

# The ledger's and the program's DynamoDB storage itself is under test here.
pytestmark = pytest.mark.dynamodb

TABLE = "covenant-test-entries"
PENDING = "covenant-test-pending"


def _put(table: str, item: dict, condition: str | None = None) -> dict:
    op = {"TableName": table, "Item": item}
    if condition:
        op["ConditionExpression"] = condition
        if "#s" in condition:
            op["ExpressionAttributeNames"] = {"#s": "shard"}
    return {"Put": op}


def _ids(client) -> set[str]:
    return {i["id"]["S"] for i in client.scan(TableName=TABLE)["Items"]}


def test_a_cancelled_transaction_changes_nothing(aws):
    client = boto3.client("dynamodb")
    client.put_item(TableName=TABLE, Item={"id": {"S": "kept"}, "body": {"S": "old"}, "leaf": {"S": "x"}})
    client.put_item(TableName=PENDING, Item={"shard": {"N": "1"}, "seq": {"S": "a"}, "id": {"S": "kept"},
                                             "leaf": {"S": "x"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[
            _put(TABLE, {"id": {"S": "new"}, "body": {"S": "n"}, "leaf": {"S": "y"}}),
            {"Update": {"TableName": TABLE, "Key": {"id": {"S": "kept"}}, "UpdateExpression": "SET body = :b",
                        "ExpressionAttributeValues": {":b": {"S": "changed"}}}},
            {"Delete": {"TableName": PENDING, "Key": {"shard": {"N": "1"}, "seq": {"S": "a"}}}},
            _put(PENDING, {"shard": {"N": "2"}, "seq": {"S": "b"}, "id": {"S": "z"}, "leaf": {"S": "z"}},
                 condition="attribute_exists(#s)"),
        ])
    assert _ids(client) == {"kept"}
    assert client.get_item(TableName=TABLE, Key={"id": {"S": "kept"}})["Item"]["body"]["S"] == "old"
    assert client.scan(TableName=PENDING)["Count"] == 1


def test_a_successful_transaction_writes_everything(aws):
    client = boto3.client("dynamodb")
    client.transact_write_items(TransactItems=[
        _put(TABLE, {"id": {"S": f"e{i}"}, "body": {"S": "b"}, "leaf": {"S": "l"}}, "attribute_not_exists(id)")
        for i in range(5)
    ])
    assert _ids(client) == {f"e{i}" for i in range(5)}


def test_a_transaction_copies_the_items_it_touches_never_the_table(aws, monkeypatch):
    from moto.dynamodb.models.table import Table

    from devstack import moto_patch

    client = boto3.client("dynamodb")
    for chunk in range(100):  # a 3,000-row table: unpatched moto copied all of it per item
        client.transact_write_items(TransactItems=[
            _put(TABLE, {"id": {"S": f"bulk{chunk}-{i}"}, "body": {"S": "b" * 200}, "leaf": {"S": "l"}})
            for i in range(30)])
    copied: list[str] = []
    real = moto_patch.copy.deepcopy

    def counting(value, memo=None):
        copied.append(type(value).__name__)
        return real(value, memo)

    monkeypatch.setattr(moto_patch.copy, "deepcopy", counting)
    client.transact_write_items(TransactItems=[
        _put(TABLE, {"id": {"S": f"new-{i}"}, "body": {"S": "b"}, "leaf": {"S": "l"}}) for i in range(10)])
    assert Table.__name__ not in copied
    assert len(copied) == 10  # one undo record per item written (None for a new item)


def test_conditional_puts_from_threads_never_both_win(aws):
    client = boto3.client("dynamodb")
    wins = []

    def claim(worker: int) -> None:
        for slot in range(30):
            try:
                item = {"id": {"S": f"slot{slot}"}, "body": {"S": str(worker)}, "leaf": {"S": "l"}}
                client.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(id)")
                wins.append(slot)
            except ClientError:
                pass

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(30))
