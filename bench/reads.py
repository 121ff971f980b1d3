"""What the program's list reads cost as the state table grows: by key and index, against one scan.

The state table holds every wallet's history and every request's kept answer,
so it grows with use. Ranking, search, the proposal list, the tally and the
legality sweep once scanned it; they now read keys and the ``gsi1`` index.
For 10,000 and 100,000 state items (mostly history and idempotency rows, as in
use), each read's DynamoDB requests, items read and median time are printed
beside one full scan of the same table (what each of them used to cost, at
least), measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

CONSUMERS, MERCHANTS, GOODS, ITEMS, PROPOSALS = 60, 6, 40, 30, 12


def _populate(size: int) -> None:
    from chalicelib.domain.records import (
        Goods,
        History,
        Idempotency,
        Item,
        Node,
        Proposal,
        Wallet,
    )
    from chalicelib.services.search import index_words
    from chalicelib.store import backend

    store = backend.state()
    records: list[Any] = []
    for i in range(CONSUMERS):
        records += [Node(node_id=f"c-{i:04d}", role="consumer", kid=f"{i:032x}", jwk="{}", status="active", ts=i,
                         wallet_id=f"w-c{i:04d}"),
                    Wallet(wallet_id=f"w-c{i:04d}", node_id=f"c-{i:04d}", kid=f"{i:032x}", status="active", ts=i)]
    for i in range(MERCHANTS):
        records += [Node(node_id=f"m-{i:04d}", role="merchant", kid=f"{i + 999:032x}", jwk="{}", status="active",
                         ts=i, identity_key=f"{i:064x}", wallet_id=f"w-m{i:04d}"),
                    Wallet(wallet_id=f"w-m{i:04d}", node_id=f"m-{i:04d}", kid=f"{i + 999:032x}", status="active",
                           ts=i)]
    records += [Goods(product=f"m-0000/goods-{i}", seller="m-0000", title=f"goods {i}", first_vote=i, up=i % 7,
                      down=i % 3) for i in range(GOODS)]
    records += [Item(item_id=f"i-{i:04d}", publisher="c-0000", publisher_wallet="w-c0000", title=f"essay {i}",
                     excerpt="", sha256=f"{i:064x}", size=10, price=0, commercial=False, reason="free",
                     originator=True, minhash="[]", ts=i, up=i % 5) for i in range(ITEMS)]
    records += [Proposal(proposal_id=f"p-{i:04d}", kind="upgrade", params="{}", proposer="c-0000",
                         status="open" if i % 2 else "rejected", opened_at=i, deadline=2**52, eligible=CONSUMERS + 1)
                for i in range(PROPOSALS)]
    store.put_all(records)
    for i in range(ITEMS):
        index_words(f"item#i-{i:04d}", f"essay {i} on lamps" if i % 10 == 0 else f"essay {i} on oil")
    filler = max(0, size - len(records) - 4 * ITEMS)
    batch: list[Any] = []
    for n in range(filler):  # what use leaves behind: history rows and kept answers
        if n % 2:
            batch.append(History(wallet_id=f"w-c{n % CONSUMERS:04d}", ts=1_700_000_000_000 + n, entry_id=f"e-{n}",
                                 type="fiat.deposited", asset="fiat", delta=1))
        else:
            batch.append(Idempotency(kid=f"{n % CONSUMERS:032x}", idempotency_key=f"k-{n}", request_hash="h",
                                     status=201, body="{}", expires_at=2**31))
        if len(batch) == 1000:
            store.put_all(batch)
            batch = []
    store.put_all(batch)


def _meter() -> tuple[dict[str, int], Callable[[], None]]:
    """Counts DynamoDB requests and the items they read, via botocore events."""
    from chalicelib.store.models import dynamodb_client

    counts = {"requests": 0, "items": 0}

    def after(parsed: dict[str, Any] | None = None, **_: Any) -> None:
        counts["requests"] += 1
        parsed = parsed or {}
        counts["items"] += int(parsed.get("ScannedCount", parsed.get("Count", 0)) or 0)
        counts["items"] += 1 if parsed.get("Item") else 0
        counts["items"] += sum(len(v) for v in (parsed.get("Responses") or {}).values()
                               if isinstance(v, list))

    client = dynamodb_client()
    client.meta.events.register("after-call.dynamodb", after)

    def reset() -> None:
        counts.update(requests=0, items=0)

    return counts, reset


def _measure(action: Callable[[], object], counts: dict[str, int], reset: Callable[[], None],
             repeats: int) -> tuple[float, int, int]:
    samples = []
    for _ in range(repeats):
        reset()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), counts["requests"], counts["items"]


def bench_reads(row: Callable[..., None], in_process_aws: Callable[[], Any], quick: bool) -> None:
    from chalicelib.services import goods, governance, legality, search
    from chalicelib.store.dynamo import StateItem

    print("\nList reads by key and index, as the state table grows (in-process moto; medians)")
    for size in (10_000,) if quick else (10_000, 100_000):
        with in_process_aws():
            started = time.perf_counter()
            _populate(size)
            total = StateItem.count()
            print(f"  {total:,} state items (filled in {time.perf_counter() - started:.0f} s)")
            counts, reset = _meter()
            repeats = 3 if size > 10_000 else 5
            scan_time, scan_requests, scan_items = _measure(lambda: list(StateItem.scan()), counts, reset, 1)
            row("  one scan of the state table (the old cost)", f"{scan_time * 1000:,.0f} ms",
                f"{scan_requests} requests, {scan_items:,} items read")
            reads: dict[str, Callable[[], object]] = {
                "ranking, first page of 20": lambda: goods.ranking(None, 20),
                "search, one word": lambda: search.search("lamps", 0, 20),
                "proposal list, open": lambda: governance.list_proposals("open"),
                "tally (nothing to close)": lambda: governance.tally(None),
                "legality sweep (nothing illegal)": legality.snapshot,
            }
            for name, action in reads.items():
                seconds, requests, items = _measure(action, counts, reset, repeats)
                row(f"  {name}", f"{seconds * 1000:,.1f} ms",
                    f"{requests} requests, {items} items read; {scan_time / max(seconds, 1e-9):,.0f} x faster "
                    "than the scan")


if __name__ == "__main__":  # pragma: no cover - run through `python -m bench --only reads`
    print(json.dumps({"see": "python -m bench --only reads"}))
