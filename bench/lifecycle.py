"""Order lifecycles: throughput on the local stack, and what one costs in DynamoDB requests and WCU."""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _metered(counts: dict[str, float]):
    """Meter moto's DynamoDB writes as DynamoDB bills them.

    Each item written costs ceil(size / 1 KB) write units (the larger of its
    sizes before and after, for updates and deletes); inside a transaction,
    twice that.
    """
    from moto.dynamodb.models import DynamoDBBackend

    from devstack import moto_patch

    originals = {name: getattr(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")}

    def size_of(backend: Any, table_name: str, key: dict[str, Any]) -> int:
        table = backend.get_table(table_name)
        hash_value, range_value = backend.get_keys_value(table, key)
        item = table.get_item(hash_value, range_value)
        return int(item.size()) if item is not None else 0

    def metered(name: str):
        original = originals[name]

        def call(self: Any, table_name: str, first: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            table = self.get_table(table_name)
            key = first if name != "put_item" else {
                k: first[k] for k in (table.hash_key_attr, table.range_key_attr) if k}
            before = size_of(self, table_name, key)
            result = original(self, table_name, first, *args, **kwargs)
            after = size_of(self, table_name, key)
            transactional = moto_patch._undo_log() is not None
            counts["wcu"] += math.ceil(max(before, after, 1) / 1024) * (2 if transactional else 1)
            return result

        return call

    for name in originals:
        setattr(DynamoDBBackend, name, metered(name))
    return lambda: [setattr(DynamoDBBackend, n, f) for n, f in originals.items()]


def cost_per_lifecycle(row, in_process_aws, lifecycles: int = 20) -> None:
    from chalice.test import Client

    from app import app
    from chalicelib.store.models import dynamodb_client
    from tests.actors import Actor, expect

    with in_process_aws(), Client(app, stage_name="test") as client:
        from chalicelib.services.sealer_key import load_signer

        http = client.http
        stamp = Actor(http, key=load_signer().key, node="stamp", wallet="w-stamp")
        buyer, seller = Actor(http), Actor(http)
        for actor in (buyer, seller):
            body = expect(actor.post("/nodes", {"role": "consumer", "jwk": actor.jwk}), 201)
            actor.node, actor.wallet = body["node"], body["wallet"]
        for actor in (buyer, seller):
            expect(actor.post("/program/authorisations"), 201)
        expect(stamp.post("/deposits", {"wallet": buyer.wallet, "amount": 10**9}), 201)
        counts = {"requests": 0, "wcu": 0.0}
        dynamodb_client().meta.events.register("before-call.dynamodb",
                                               lambda **_: counts.__setitem__("requests", counts["requests"] + 1))
        restore = _metered(counts)
        try:
            for _ in range(lifecycles):
                order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": 3,
                                                      "unit_price": 2_500, "unit_profit": 600}), 201)
                expect(buyer.post(f"/orders/{order['order']}/payment", {"wallet": buyer.wallet}), 200)
                expect(seller.post(f"/orders/{order['order']}/shipment"), 200)
                expect(buyer.post(f"/orders/{order['order']}/receipt"), 200)
        finally:
            restore()
        row("DynamoDB requests per order lifecycle", f"{counts['requests'] / lifecycles:.1f}",
            "order, pay, ship (rebate minted), confirm: 4 signed requests")
        row("write capacity units per order lifecycle", f"{counts['wcu'] / lifecycles:.1f} WCU",
            "DynamoDB billing: ceil(KB) per item, x2 in transactions; sealing not included")


def lifecycles_on_the_local_stack(row, quick: bool) -> None:
    import urllib.request

    from chalicelib.client.cli import Api, Profile
    from tests.actors import Actor
    from tests.e2e.test_local_stack import Stack

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            api = Api(stack.api)
            profile = Profile(Path(tmp), "bench")

            def post(actor: Actor, path: str, body: dict[str, Any]) -> dict[str, Any]:
                status, answer = api.post(profile, path, body, key=actor.key)
                if status >= 400:
                    raise RuntimeError(f"{path}: {answer}")
                return answer

            from chalicelib.ledger.keys import private_key_from_pem

            stamp = Actor(None, key=private_key_from_pem((stack.state / "sealer-key.pem").read_bytes()))
            buyers, seller = [Actor(None) for _ in range(4)], Actor(None)
            for actor in (*buyers, seller):
                answer = post(actor, "/nodes", {"role": "consumer", "jwk": actor.jwk})
                actor.node, actor.wallet = answer["node"], answer["wallet"]
            for actor in (*buyers, seller):
                with urllib.request.urlopen(f"{stack.api}/program") as response:
                    if json.loads(response.read())["status"] == "running":
                        break
                post(actor, "/program/authorisations", {})
            for buyer in buyers:
                post(stamp, "/deposits", {"wallet": buyer.wallet, "amount": 10**9})

            def lifecycle(buyer: Actor) -> None:
                order = post(buyer, "/orders", {"wallet": buyer.wallet, "seller": seller.node, "quantity": 3,
                                                "unit_price": 2_500, "unit_profit": 600})
                post(buyer, f"/orders/{order['order']}/payment", {"wallet": buyer.wallet})
                post(seller, f"/orders/{order['order']}/shipment", {})
                post(buyer, f"/orders/{order['order']}/receipt", {})

            n = 10 if quick else 40
            start = time.perf_counter()
            for _ in range(n):
                lifecycle(buyers[0])
            single = n / (time.perf_counter() - start)
            start = time.perf_counter()
            threads = [threading.Thread(target=lambda b=b: [lifecycle(b) for _ in range(n // 4)]) for b in buyers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            parallel = n / (time.perf_counter() - start)
            row("order lifecycles per second, 1 client", f"{single:,.1f}/s",
                f"{single * 4:,.0f} signed requests/s through chalice local")
            row("order lifecycles per second, 4 clients", f"{parallel:,.1f}/s",
                "while the runner seals and replicates on the same 2 cores")
        finally:
            stack.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)
