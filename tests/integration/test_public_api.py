"""The public read API through Chalice's test client: answers, paging, and every error shape."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from app import app
from chalicelib.ledger import merkle
from chalicelib.ledger.format import entry_leaf
from chalicelib.services.ledger import Draft, commit
from chalicelib.services.sealing import seal_pending_entries

# The ledger's and the program's DynamoDB storage itself is under test here.
pytestmark = pytest.mark.dynamodb


@pytest.fixture
def http(chain):
    with Client(app, stage_name="test") as client:
        yield client.http


def _json(response) -> dict:
    return json.loads(response.body)


def _error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.body
    body = _json(response)
    assert body["error"]["code"] == code and body["error"]["message"]
    if field is not None:
        assert body["error"]["field"] == field
    assert "Traceback" not in response.body.decode()


def test_head_is_the_newest_block(http, chain):
    commit([Draft("test.note", "system", {"n": 1})])
    seal_pending_entries(chain)
    body = _json(http.get("/chain/head"))
    assert set(body) == {"header", "hash", "sig"} and body["header"]["height"] == 1


def test_block_pages_entries_with_a_cursor(http, chain):
    for i in range(7):
        commit([Draft("test.note", "system", {"n": i})])
    seal_pending_entries(chain)
    first = _json(http.get("/blocks/1?limit=3"))
    assert [e["data"]["n"] for e in first["entries"]] == sorted(e["data"]["n"] for e in first["entries"])
    seen = list(first["entries"])
    cursor = first["next"]
    while cursor:
        page = _json(http.get(f"/blocks/1?limit=3&cursor={cursor}"))
        seen += page["entries"]
        cursor = page["next"]
    assert len(seen) == 7 and len({e["id"] for e in seen}) == 7
    response = http.get("/blocks/1")
    assert response.headers["Cache-Control"].startswith("public")
    assert _json(response)["next"] is None


def test_entry_answers_index_and_height_and_proves_inclusion(http, chain):
    entry = commit([Draft("test.note", "system", {"n": 1})])[0]
    seal_pending_entries(chain)
    found = _json(http.get(f"/entries/{entry['id']}"))
    assert found == {"entry": entry, "index": 1, "height": 1}
    head = _json(http.get("/chain/head"))["header"]
    proof = _json(http.get(f"/proofs/inclusion?index=1&size={head['log_size']}"))
    merkle.verify_inclusion(1, head["log_size"], entry_leaf(entry), [bytes.fromhex(p) for p in proof["path"]],
                            bytes.fromhex(head["log_root"]))
    consistency = _json(http.get(f"/proofs/consistency?first=1&second={head['log_size']}"))
    assert consistency["first"] == 1 and consistency["second"] == head["log_size"]


def test_keys_lists_the_sealer_key(http, chain):
    from chalicelib.ledger.keys import public_key_from_jwk
    from chalicelib.ledger.note import local_origin, vkey

    origin = local_origin(_json(http.get("/blocks/0"))["hash"])
    assert _json(http.get("/keys")) == {"keys": [{**chain.jwk, "vkey": vkey(origin, public_key_from_jwk(chain.jwk))}]}


def test_cosigners_lists_none_before_any_registration(http):
    assert _json(http.get("/cosigners")) == {"cosigners": []}


@pytest.mark.parametrize("path,status,code,field", [
    ("/blocks/7", 404, "not_found", "h"),
    ("/blocks/abc", 400, "invalid_parameter", "h"),
    ("/blocks/-1", 400, "invalid_parameter", "h"),
    ("/blocks/99999999999999999999", 400, "invalid_parameter", "h"),
    ("/blocks/0?cursor=x", 400, "invalid_parameter", "cursor"),
    ("/blocks/0?cursor=5", 400, "invalid_parameter", "cursor"),
    ("/blocks/0?limit=0", 400, "invalid_parameter", "limit"),
    ("/blocks/0?limit=5000", 400, "invalid_parameter", "limit"),
    ("/blocks/0?colour=red", 400, "invalid_parameter", "colour"),
    ("/entries/no-such-entry", 404, "not_found", "id"),
    ("/proofs/inclusion?index=0", 400, "invalid_parameter", "size"),
    ("/proofs/inclusion?index=a&size=1", 400, "invalid_parameter", "index"),
    ("/proofs/inclusion?index=1&size=1", 400, "invalid_parameter", "index"),
    ("/proofs/inclusion?index=0&size=0", 400, "invalid_parameter", "size"),
    ("/proofs/inclusion?index=0&size=50", 404, "not_found", "size"),
    ("/proofs/consistency?first=2&second=1", 400, "invalid_parameter", "first"),
    ("/proofs/consistency?first=0&second=1", 400, "invalid_parameter", "first"),
    ("/proofs/consistency?first=1&second=9", 404, "not_found", "second"),
    ("/proofs/consistency?first=1&second=1.5", 400, "invalid_parameter", "second"),
    ("/chain/head?x=1", 400, "invalid_parameter", "x"),
])
def test_bad_requests_answer_json_errors(http, path, status, code, field):
    _error(http.get(path), status, code, field)


def test_a_committed_but_unsealed_entry_is_pending(http):
    entry = commit([Draft("test.note", "system", {"n": 1})])[0]
    _error(http.get(f"/entries/{entry['id']}"), 404, "entry_pending", "id")


def test_repeated_parameters_are_refused(http):
    _error(http.get("/proofs/inclusion?index=0&index=1&size=1"), 400, "invalid_parameter", "index")


def test_an_unexpected_failure_answers_500_without_a_trace(http, monkeypatch):
    from chalicelib.services import reading

    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(reading, "keys", broken)
    response = http.get("/keys")
    _error(response, 500, "internal_error")
    assert "secret internals" not in response.body.decode()


def test_before_genesis_the_head_is_unavailable(aws):
    with Client(app, stage_name="test") as client:
        _error(client.http.get("/chain/head"), 503, "chain_not_started")
