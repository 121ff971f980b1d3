"""The local moto patch keeps DynamoDB's transaction semantics: all or nothing."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

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


STATE = "covenant-test-state"
ROLLED_BACK = "rolled-back"


def _late_failing_transaction(writer: int, attempt: int) -> list[dict]:
    """Writes every item first (puts, updates, deletes) and fails only on its last condition."""
    tag = f"{ROLLED_BACK}-{writer}-{attempt}"
    items: list[dict] = [
        {"Update": {"TableName": STATE, "Key": {"pk": {"S": f"wallet#{i}"}, "sk": {"S": "item"}},
                    "UpdateExpression": "SET fiat = fiat + :d, tag = :t",
                    "ExpressionAttributeValues": {":d": {"N": "-1000"}, ":t": {"S": tag}}}}
        for i in range(4)
    ]
    items += [_put(PENDING, {"shard": {"N": "7"}, "seq": {"S": f"{tag}-{i}"}, "id": {"S": tag}, "leaf": {"S": "l"}})
              for i in range(20)]
    items.append({"Delete": {"TableName": TABLE, "Key": {"id": {"S": "committed"}}}})
    items.append(_put(TABLE, {"id": {"S": tag}, "body": {"S": tag}, "leaf": {"S": "l"}}))
    items.append({"ConditionCheck": {"TableName": STATE, "Key": {"pk": {"S": "missing"}, "sk": {"S": "item"}},
                                     "ConditionExpression": "attribute_exists(pk)"}})
    return items


def _committed_transaction(version: int) -> list[dict]:
    """Moves one unit between two wallets and stamps both with the same version: all or nothing."""
    return [
        {"Update": {"TableName": STATE, "Key": {"pk": {"S": "pair#a"}, "sk": {"S": "item"}},
                    "UpdateExpression": "SET v = :v, fiat = fiat - :one",
                    "ExpressionAttributeValues": {":v": {"N": str(version)}, ":one": {"N": "1"}}}},
        _put(PENDING, {"shard": {"N": "3"}, "seq": {"S": f"v{version:06d}"}, "id": {"S": f"v{version}"},
                       "leaf": {"S": "l"}}),
        {"Update": {"TableName": STATE, "Key": {"pk": {"S": "pair#b"}, "sk": {"S": "item"}},
                    "UpdateExpression": "SET v = :v, fiat = fiat + :one",
                    "ExpressionAttributeValues": {":v": {"N": str(version)}, ":one": {"N": "1"}}}},
    ]


def test_readers_never_see_a_transaction_before_it_commits(aws, monkeypatch):
    """Real DynamoDB shows no write of a transaction before it commits, and none of one that is cancelled.

    Writers run transactions that write 26 items and then fail on their last
    condition (as a debit refused for its balance does), and transactions that
    commit a transfer between two wallets; readers use every read API at once.
    No reader may see a rolled-back value, nor half of a committed transfer.
    """
    import sys

    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)
    sys.setswitchinterval(1e-5)  # switch threads often: the race shows within a second unpatched
    setup = boto3.client("dynamodb")
    for i in range(4):
        setup.put_item(TableName=STATE, Item={"pk": {"S": f"wallet#{i}"}, "sk": {"S": "item"}, "fiat": {"N": "500"},
                                              "tag": {"S": "committed"}})
    for side, fiat in (("a", 1000), ("b", 0)):
        setup.put_item(TableName=STATE, Item={"pk": {"S": f"pair#{side}"}, "sk": {"S": "item"},
                                              "fiat": {"N": str(fiat)}, "v": {"N": "0"}})
    setup.put_item(TableName=TABLE, Item={"id": {"S": "committed"}, "body": {"S": "committed"}, "leaf": {"S": "x"}})
    stop = threading.Event()
    seen: list[str] = []
    counts = {"cancelled": 0, "committed": 0, "reads": 0}
    errors: list[BaseException] = []

    def check(where: str, answer: dict) -> None:
        found = re.search(f"{ROLLED_BACK}-[0-9-]+", repr({k: v for k, v in answer.items() if k != "ResponseMetadata"}))
        if found:
            seen.append(f"{where}: {found.group()}")

    def pair(where: str, a: dict, b: dict) -> None:
        if a["v"] != b["v"] or int(a["fiat"]["N"]) + int(b["fiat"]["N"]) != 1000:
            seen.append(f"{where}: half a transfer {a} {b}")

    def guarded(target):
        def run(*args):
            try:
                target(*args)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                stop.set()
        return run

    def failing_writer(writer: int) -> None:
        client = boto3.client("dynamodb")
        attempt = 0
        while not stop.is_set():
            attempt += 1
            with pytest.raises(ClientError, match="TransactionCanceled"):
                client.transact_write_items(TransactItems=_late_failing_transaction(writer, attempt))
            counts["cancelled"] += 1

    def committing_writer() -> None:
        client = boto3.client("dynamodb")
        version = 0
        while not stop.is_set():
            version += 1
            client.transact_write_items(TransactItems=_committed_transaction(version))
            counts["committed"] += 1

    def reader(kind: int) -> None:
        client = boto3.client("dynamodb")
        wallet_keys = [{"pk": {"S": f"wallet#{i}"}, "sk": {"S": "item"}} for i in range(4)]
        pair_keys = [{"pk": {"S": f"pair#{s}"}, "sk": {"S": "item"}} for s in "ab"]
        while not stop.is_set():
            counts["reads"] += 1
            if kind == 0:
                for key in wallet_keys:
                    check("GetItem", client.get_item(TableName=STATE, Key=key, ConsistentRead=True))
                gone = client.get_item(TableName=TABLE, Key={"id": {"S": "committed"}}, ConsistentRead=True)
                if "Item" not in gone:
                    seen.append("GetItem: a rolled-back delete")
            elif kind == 1:
                got = client.batch_get_item(RequestItems={STATE: {"Keys": wallet_keys + pair_keys,
                                                                  "ConsistentRead": True}})
                check("BatchGetItem", got)
                if len(got["Responses"][STATE]) != 6:
                    seen.append(f"BatchGetItem: {len(got['Responses'][STATE])} items")
            elif kind == 2:
                got = client.query(TableName=PENDING, KeyConditionExpression="shard = :s",
                                   ExpressionAttributeValues={":s": {"N": "7"}}, ConsistentRead=True)
                check("Query", got)
                versions = client.query(TableName=PENDING, KeyConditionExpression="shard = :s",
                                        ExpressionAttributeValues={":s": {"N": "3"}}, ConsistentRead=True,
                                        ScanIndexForward=False, Limit=1)["Items"]
                if versions:
                    latest = int(versions[0]["seq"]["S"][1:])
                    stamped = client.get_item(TableName=STATE, Key=pair_keys[0], ConsistentRead=True)["Item"]
                    if int(stamped["v"]["N"]) < latest:
                        seen.append(f"Query: queue item v{latest} before its wallet write")
            elif kind == 3:
                got = client.scan(TableName=TABLE, ConsistentRead=True)
                check("Scan", got)
                if "committed" not in {i["id"]["S"] for i in got["Items"]}:
                    seen.append("Scan: a rolled-back delete")
            elif kind == 4:
                got = client.transact_get_items(TransactItems=[{"Get": {"TableName": STATE, "Key": k}}
                                                               for k in wallet_keys + pair_keys])
                check("TransactGetItems", got)
                a, b = (r["Item"] for r in got["Responses"][4:])
                pair("TransactGetItems", a, b)
            else:
                got = client.execute_statement(Statement=f'SELECT * FROM "{STATE}" WHERE pk = ? AND sk = ?',
                                               Parameters=[{"S": "wallet#0"}, {"S": "item"}], ConsistentRead=True)
                check("ExecuteStatement", got)

    threads = [threading.Thread(target=guarded(failing_writer), args=(w,)) for w in range(2)]
    threads.append(threading.Thread(target=guarded(committing_writer)))
    threads += [threading.Thread(target=guarded(reader), args=(kind,)) for kind in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not seen and not stop.is_set():
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    by_api = Counter(sighting.split(":")[0] for sighting in seen)
    assert not seen, f"{len(seen)} sightings by API {dict(by_api)}; first: {seen[:3]}"
    assert counts["cancelled"] > 10 and counts["committed"] > 10 and counts["reads"] > 60, counts
    # and every cancelled transaction left nothing behind
    assert setup.query(TableName=PENDING, KeyConditionExpression="shard = :s",
                       ExpressionAttributeValues={":s": {"N": "7"}})["Count"] == 0
    for i in range(4):
        item = setup.get_item(TableName=STATE, Key={"pk": {"S": f"wallet#{i}"}, "sk": {"S": "item"}})["Item"]
        assert (item["fiat"]["N"], item["tag"]["S"]) == ("500", "committed")


def test_a_cancelled_transaction_leaves_no_stream_records(aws):
    client = boto3.client("dynamodb")
    client.create_table(TableName="streamed", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST",
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    client.put_item(TableName="streamed", Item={"id": {"S": "kept"}, "v": {"S": "old"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[
            _put("streamed", {"id": {"S": "new"}, "v": {"S": ROLLED_BACK}}),
            {"Update": {"TableName": "streamed", "Key": {"id": {"S": "kept"}}, "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": ROLLED_BACK}}}},
            {"Put": {"TableName": "streamed", "Item": {"id": {"S": "other"}},
                     "ConditionExpression": "attribute_exists(id)"}},
        ])
    client.put_item(TableName="streamed", Item={"id": {"S": "after"}, "v": {"S": "new"}})
    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [
        ("INSERT", "kept"), ("INSERT", "after")]
    assert ROLLED_BACK not in repr(records)
