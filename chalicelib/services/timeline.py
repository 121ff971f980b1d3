"""Each order's entries with their places in the log, for the explorer's order timeline.

Written when a block completes (``sealing.complete_block``), by key, so running
it again writes the same rows: an index of what the log already proves, read
by key, never by a scan of the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..domain.records import OrderEntry
from ..store import backend

MAX_ORDER_ENTRIES = 200  # an order's whole life is a dozen entries; the bound keeps a read's cost fixed


def order_of(entry: dict[str, Any]) -> str | None:
    """The order an entry is about: ``data.order``, or a dispute's subject."""
    data = entry.get("data") or {}
    order = data.get("order")
    if order is None and entry.get("type") == "dispute.opened":
        order = data.get("subject")
    return order if isinstance(order, str) and order else None


def index_block(height: int, first: int, entries: Sequence[dict[str, Any]]) -> None:
    """Index the entries of block ``height`` (log indices from ``first``) that are about an order."""
    rows = [OrderEntry(order_id=order, index=first + offset, height=height, entry_id=str(entry["id"]),
                       type=str(entry["type"]))
            for offset, entry in enumerate(entries) if (order := order_of(entry)) is not None]
    if rows:
        backend.state().put_all(rows)


def order_entries(order_id: str) -> list[dict[str, Any]]:
    """The order's entries in log order: id, type, log index and block height."""
    rows = backend.state().query(OrderEntry, OrderEntry(order_id, 0, 0, "", "").key.pk, limit=MAX_ORDER_ENTRIES)
    return [{"entry": r.entry_id, "type": r.type, "index": r.index, "height": r.height} for r in rows]
