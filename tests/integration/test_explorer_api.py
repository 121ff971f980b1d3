"""The explorer's serving (GET / and its static files) and the reads it added: an order's timeline, paged proposals."""

from __future__ import annotations

import json

import pytest

from chalicelib.api.explorer import STATIC
from chalicelib.services.sealing import seal_pending_entries
from tests.actors import answer, expect


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.body
    body = json.loads(response.body)
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.body.decode()
    return body


def test_the_root_answers_the_page_under_a_strict_policy(http):
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    page = response.body.decode()
    assert '<script type="module" src="explorer/explorer.js"></script>' in page
    assert "<script>" not in page and " style=" not in page  # nothing inline: the policy would refuse it


@pytest.mark.parametrize(("name", "content_type"), [
    ("explorer.js", "text/javascript; charset=utf-8"), ("explorer.css", "text/css; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"), ("index.html", "text/html; charset=utf-8")])
def test_each_static_file_is_served_with_its_type(http, name, content_type):
    response = http.get(f"/explorer/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body.decode() == (STATIC / name).read_text(encoding="utf-8")


def test_every_module_the_page_imports_is_served(http):
    # Given every file of the folder, When each is asked for, Then each is served (no module is left out)
    names = sorted(p.name for p in STATIC.iterdir() if p.is_file())
    assert {"index.html", "explorer.js", "api.js", "trust.js", "decode.js", "format.js"} <= set(names)
    for name in names:
        assert http.get(f"/explorer/{name}").status_code == 200, name


@pytest.mark.parametrize("name", ["nothing.js", "..", ".", "...", "__init__.py", "explorer.JS"])
def test_a_name_outside_the_folder_listing_is_not_found(http, name):
    _error(http.get(f"/explorer/{name}"), 404, "not_found")


@pytest.mark.parametrize("path", ["/explorer/..%2F..%2Fapp.py", "/explorer/../app.py", "/explorer/%2e%2e/app.py",
                                  "/explorer/a/b.js"])
def test_a_traversal_never_reaches_a_file(http, path):
    response = http.get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
    body = json.loads(response.body)
    assert set(body) == {"error"} and body["error"]["code"] in ("not_found", "invalid_parameter")
    assert b"Chalice" not in response.body and b"import" not in response.body


def test_the_page_takes_no_query_parameters(http):
    _error(http.get("/?debug=1"), 400, "invalid_parameter")


def test_an_order_lists_its_entries_with_their_blocks_in_log_order(running, chain):
    # Given a whole trade
    buyer, merchant, http = running.consumers[0], running.merchant, running.http
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": merchant.node, "quantity": 2,
                                          "unit_price": 10_000, "unit_profit": 2_500, "description": "lamps"}), 201)
    order_id = order["order"]
    expect(buyer.post(f"/orders/{order_id}/payment", {"wallet": buyer.wallet}), 200)
    # When only part of it is sealed, Then only the sealed part is listed
    assert answer(http.get(f"/orders/{order_id}"))["entries"] == []
    seal_pending_entries(chain)
    assert [e["type"] for e in answer(http.get(f"/orders/{order_id}"))["entries"]] == ["order.placed", "order.paid"]
    expect(merchant.post(f"/orders/{order_id}/shipment"), 200)
    expect(buyer.post(f"/orders/{order_id}/receipt"), 200)
    seal_pending_entries(chain)
    # Then every entry about the order is listed once, in log order, where GET /entries/{id} places it
    entries = answer(http.get(f"/orders/{order_id}"))["entries"]
    assert [e["type"] for e in entries] == ["order.placed", "order.paid", "order.shipped", "coin.minted",
                                           "order.settled", "order.received"]
    for row in entries:
        found = answer(http.get(f"/entries/{row['entry']}"))
        assert (found["index"], found["height"]) == (row["index"], row["height"])
        assert found["entry"]["data"]["order"] == order_id and found["entry"]["type"] == row["type"]
    assert [e["index"] for e in entries] == sorted(e["index"] for e in entries)
    # and the rest of the answer keeps its shape
    shown = answer(http.get(f"/orders/{order_id}"))
    assert shown["status"] == "received" and "finality" in shown and shown["paid_entry"] == entries[1]["entry"]


def test_completing_a_block_again_lists_nothing_twice(running, chain):
    from chalicelib.services import timeline
    from chalicelib.services.sealing import complete_block
    from chalicelib.store import ledger as store

    buyer, merchant = running.consumers[0], running.merchant
    order = expect(buyer.post("/orders", {"wallet": buyer.wallet, "seller": merchant.node, "quantity": 1,
                                          "unit_price": 1_000, "unit_profit": 100, "description": "a lamp"}), 201)
    seal_pending_entries(chain)
    height = store.completed_height()
    complete_block(store.get_block(height), store.get_block(height - 1))
    assert [e["type"] for e in timeline.order_entries(order["order"])] == ["order.placed"]


def test_an_unknown_order_is_not_found(http):
    _error(http.get("/orders/o-0000000000000000"), 404, "not_found")


def _open_freeze(running, consumer):
    return expect(consumer.post("/proposals", {"kind": "freeze", "subject": running.merchant.wallet}), 201)


def test_proposals_page_with_a_cursor_and_keep_their_unpaged_answer(running):
    # Given three proposals
    opened = [_open_freeze(running, running.consumers[i])["proposal"] for i in range(3)]
    http = running.http
    # When they are read without paging, Then all come, oldest first, with no next page
    whole = answer(http.get("/proposals"))
    assert [p["proposal"] for p in whole["proposals"]] == opened and whole["next"] is None
    # When they are read two at a time, Then the pages join up to the same list
    first = answer(http.get("/proposals?limit=2"))
    assert [p["proposal"] for p in first["proposals"]] == opened[:2] and first["next"] == "2"
    second = answer(http.get(f"/proposals?limit=2&cursor={first['next']}"))
    assert [p["proposal"] for p in second["proposals"]] == opened[2:] and second["next"] is None
    assert answer(http.get("/proposals?status=open&limit=1&cursor=1"))["proposals"][0]["proposal"] == opened[1]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=-1", "cursor=1.5"])
def test_bad_proposal_paging_is_refused(http, query):
    _error(http.get(f"/proposals?{query}"), 400, "invalid_parameter")
