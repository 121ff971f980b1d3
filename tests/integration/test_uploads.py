"""Content larger than an entry: asked for, PUT to a presigned S3 URL, verified by the program, then published.

moto intercepts the presigned PUT (``requests`` under ``mock_aws``) but checks
neither its signature, nor its expiry, nor its ``x-amz-checksum-sha256``, nor
its length (tests/integration/test_uploads.py proves each): whatever bytes a
client PUTs are stored. So these tests are a hostile client on real S3 with
none of S3's checks, and the program's own verification is what refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from tests.actors import answer, expect
from tests.unit.test_similarity import EDITED, ORIGINAL

BUCKET = "covenant-test-items"
# Larger than any entry (65,535 bytes of JCS), and not UTF-8
BINARY = b"\x89PNG\r\n\x1a\n" + os.urandom(200_000)


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _ask(actor, content: bytes, **extra):
    return actor.post("/uploads", {"sha256": _sha(content), "size": len(content), **extra})


def _put(upload: dict, content: bytes) -> requests.Response:
    return requests.put(upload["url"], data=content, headers=upload["headers"], timeout=30)


def _upload(actor, content: bytes) -> dict:
    upload = expect(_ask(actor, content), 201)
    assert _put(upload, content).status_code == 200
    return upload


def _publish(actor, sha: str, size: int, title: str = "Data", price: int = 0, stake: int = 0):
    return actor.post("/items", {"wallet": actor.wallet, "title": title, "sha256": sha, "size": size,
                                 "price": price, "stake": stake})


def _stored(key: str) -> bytes | None:
    try:
        return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except boto3.client("s3").exceptions.NoSuchKey:
        return None


def _written():
    """What the ledger and the state hold, leaving out the answers requests keep (every signed request's)."""
    from chalicelib.store import backend

    store = backend.state()  # the memory store
    with store.lock:
        return set(store.entries), {k for k in store.items if not k.pk.startswith("idem#")}


def test_an_upload_is_asked_for_put_verified_published_and_bought_byte_for_byte(readers, chain):
    from chalicelib.services.sealing import seal_pending_entries

    author, reader = readers.consumers[0], readers.consumers[1]
    before = _written()
    # Given an upload asked for: a presigned PUT bound to the content's length and SHA-256
    upload = expect(_ask(author, BINARY, content_type="image/png"), 201)
    assert (upload["method"], upload["size"], upload["sha256"]) == ("PUT", len(BINARY), _sha(BINARY))
    assert upload["headers"] == {"Content-Length": str(len(BINARY)), "Content-Type": "image/png",
                                 "x-amz-checksum-sha256": upload["headers"]["x-amz-checksum-sha256"]}
    query = parse_qs(urlsplit(upload["url"]).query)
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host;x-amz-checksum-sha256"]
    assert query["X-Amz-Expires"] == ["300"] and urlsplit(upload["url"]).path.endswith(f"/uploads/{_sha(BINARY)}")
    assert _written() == before  # asking enters nothing in the ledger and changes no state
    # When the content is PUT and the item published by its SHA-256 and size
    assert _put(upload, BINARY).status_code == 200
    item = expect(_publish(author, _sha(BINARY), len(BINARY), title="Lamp photo", price=300), 201)
    # Then the item is binary content, its publisher the originator, with nothing to compare or excerpt
    assert (item["sha256"], item["size"], item["content"]) == (_sha(BINARY), len(BINARY), "binary")
    assert item["originator"] is True and item["near_copy_of"] is None
    # and its entry commits to the SHA-256 and size, far below an entry's limit
    seal_pending_entries(chain)
    found = answer(readers.http.get(f"/entries/{item['entry']}"))["entry"]
    assert (found["data"]["sha256"], found["data"]["size"], found["data"]["content"]) == (
        _sha(BINARY), len(BINARY), "binary")
    assert json.loads(found["auth"]["body"])["sha256"] == _sha(BINARY)
    from chalicelib.ledger.canonical import canonical
    assert len(canonical(found)) < 65_535 < len(BINARY)
    # and a buyer downloads exactly the verified bytes
    bought = expect(reader.post(f"/items/{item['item']}/purchase", {"wallet": reader.wallet}), 201)
    downloaded = requests.get(bought["download"], timeout=30)
    assert downloaded.content == BINARY and downloaded.headers["Content-Type"] == "image/png"
    assert _stored(f"items/{_sha(BINARY)}") == BINARY


def test_uploaded_text_is_compared_for_near_copies_and_indexed_like_text_sent_in_the_request(readers):
    author, other, third = readers.consumers
    original = expect(author.post("/items", {"wallet": author.wallet, "title": "Chapter one", "text": ORIGINAL,
                                             "price": 0}), 201)
    # a long work: the edited chapter, then more than an entry could hold
    edited = (EDITED + "\n\n" + "The lamplighter walked the quay at dusk. " * 2_000).encode()
    assert len(edited) > 65_535
    _upload(other, edited)
    near = expect(_publish(other, _sha(edited), len(edited), title="Chapter 1"), 201)
    assert near["content"] == "text" and near["originator"] is True
    assert near["near_copy_of"] == original["item"] and near["similarity"] > 0.5
    # the exact text, uploaded rather than sent, is an exact copy: the first publisher stays the originator
    _upload(third, ORIGINAL.encode())
    copy = expect(_publish(third, _sha(ORIGINAL.encode()), len(ORIGINAL.encode()), title="Mine"), 201)
    assert copy["originator"] is False and copy["copy_of"] == original["item"]
    assert [r["id"] for r in answer(readers.http.get("/search?q=lamplighter"))["results"]] == [near["item"]]


def test_the_first_committed_publisher_of_uploaded_content_is_its_originator_and_others_may_reuse_it(readers):
    author, copier = readers.consumers[0], readers.consumers[1]
    _upload(author, BINARY)
    first = expect(_publish(author, _sha(BINARY), len(BINARY)), 201)
    # content-addressed: another node publishes the same upload without uploading it again, as a copy
    again = expect(_publish(copier, _sha(BINARY), len(BINARY)), 201)
    assert first["originator"] is True and (again["originator"], again["copy_of"]) == (False, first["item"])


def test_an_item_whose_upload_is_missing_is_refused_and_nothing_is_written(readers):
    author = readers.consumers[0]
    before = _written()
    error = expect(_publish(author, _sha(BINARY), len(BINARY)), 409, "upload_missing")["error"]
    assert error["field"] == "sha256"
    # asked for but never PUT: still missing
    expect(_ask(author, BINARY), 201)
    expect(_publish(author, _sha(BINARY), len(BINARY)), 409, "upload_missing")
    assert _written() == before and _stored(f"items/{_sha(BINARY)}") is None


def test_an_upload_of_other_bytes_is_refused_and_nothing_is_written(readers):
    author = readers.consumers[0]
    evil = os.urandom(len(BINARY))
    upload = expect(_ask(author, BINARY), 201)
    # S3 would refuse these bytes (BadDigest); moto stores them, so the program's own check is what refuses
    assert _put(upload, evil).status_code == 200
    before = _written()
    error = expect(_publish(author, _sha(BINARY), len(BINARY)), 409, "upload_mismatch")["error"]
    assert error["field"] == "sha256"
    assert _written() == before and _stored(f"items/{_sha(BINARY)}") is None


@pytest.mark.parametrize("declared", [len(BINARY) - 1, len(BINARY) + 1, 1])
def test_a_size_other_than_the_uploads_is_refused(readers, declared):
    author = readers.consumers[0]
    _upload(author, BINARY)
    before = _written()
    error = expect(_publish(author, _sha(BINARY), declared), 409, "upload_mismatch")["error"]
    assert error["field"] == "size"
    assert _written() == before


def test_an_upload_longer_than_asked_is_refused(readers):
    author = readers.consumers[0]
    upload = expect(_ask(author, BINARY), 201)
    assert _put(upload, BINARY + b"tail").status_code == 200  # S3 would refuse the signed Content-Length
    expect(_publish(author, _sha(BINARY), len(BINARY)), 409, "upload_mismatch")


def test_a_declared_size_above_the_largest_upload_is_refused_when_asking_and_when_publishing(readers):
    from chalicelib.settings import MAX_UPLOAD_BYTES

    author = readers.consumers[0]
    too_large = {"sha256": _sha(b"x"), "size": MAX_UPLOAD_BYTES + 1}
    error = expect(author.post("/uploads", too_large), 400, "invalid_body")["error"]
    assert error["field"] == "size" and str(MAX_UPLOAD_BYTES) in error["message"]
    expect(author.post("/uploads", {**too_large, "size": MAX_UPLOAD_BYTES}), 201)
    error = expect(_publish(author, _sha(b"x"), MAX_UPLOAD_BYTES + 1), 400, "invalid_body")["error"]
    assert error["field"] == "size"


def test_the_largest_upload_is_a_setting(readers, monkeypatch):
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("COVENANT_MAX_UPLOAD_BYTES", str(len(BINARY)))
    reset_settings()
    author = readers.consumers[0]
    expect(author.post("/uploads", {"sha256": _sha(b"x"), "size": len(BINARY) + 1}), 400, "invalid_body")
    _upload(author, BINARY)
    expect(_publish(author, _sha(BINARY), len(BINARY)), 201)


@pytest.mark.parametrize("body,field", [
    ({"sha256": "AB" * 32, "size": 10}, "sha256"),
    ({"sha256": "ab" * 31, "size": 10}, "sha256"),
    ({"sha256": "ab" * 32, "size": 0}, "size"),
    ({"sha256": "ab" * 32, "size": "10"}, "size"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "text/html; charset=utf-8"}, "content_type"),
    ({"sha256": "ab" * 32}, "size"),
])
def test_an_ask_names_a_sha256_and_a_size(readers, body, field):
    error = expect(readers.consumers[0].post("/uploads", body), 400, "invalid_body")["error"]
    assert error["field"] == field


@pytest.mark.parametrize("content", [
    {"text": "words", "sha256": "ab" * 32, "size": 10},
    {},
    {"sha256": "ab" * 32},
    {"size": 10},
    {"text": "words", "size": 10},
])
def test_an_item_is_text_or_an_upload_exactly(readers, content):
    author = readers.consumers[0]
    error = expect(author.post("/items", {"wallet": author.wallet, "title": "T", "price": 0, **content}), 400,
                   "invalid_body")["error"]
    assert "text, or the sha256 and size of an upload" in error["message"]


def test_an_upload_replaced_after_it_was_verified_does_not_change_what_is_published(readers, monkeypatch):
    """A hostile client PUTs other bytes between the program's check and its copy: the verified version is kept."""
    from chalicelib.store import content

    author, reader = readers.consumers[0], readers.consumers[1]
    _upload(author, BINARY)
    real_keep = content.keep

    def replaced_first(sha256: str, version: str) -> None:
        boto3.client("s3").put_object(Bucket=BUCKET, Key=f"uploads/{sha256}", Body=b"evil")
        real_keep(sha256, version)

    monkeypatch.setattr(content, "keep", replaced_first)
    item = expect(_publish(author, _sha(BINARY), len(BINARY), price=1), 201)
    assert _stored(f"uploads/{_sha(BINARY)}") == b"evil"
    bought = expect(reader.post(f"/items/{item['item']}/purchase", {"wallet": reader.wallet}), 201)
    assert requests.get(bought["download"], timeout=30).content == BINARY
    # and the replaced upload is refused from then on, while the published bytes stay as they were
    monkeypatch.setattr(content, "keep", real_keep)
    expect(_publish(reader, _sha(BINARY), len(BINARY)), 409, "upload_mismatch")
    assert _stored(f"items/{_sha(BINARY)}") == BINARY


def test_asking_again_with_the_same_idempotency_key_answers_the_same_url(readers):
    author = readers.consumers[0]
    body = {"sha256": _sha(BINARY), "size": len(BINARY)}
    first = author.post("/uploads", body, idempotency_key="ask-1")
    again = author.post("/uploads", body, idempotency_key="ask-1")
    assert answer(first) == answer(again) and again.headers["Idempotent-Replayed"] == "true"


def test_only_trading_nodes_ask_for_uploads(readers):
    stamp = readers.stamp
    expect(stamp.post("/uploads", {"sha256": _sha(BINARY), "size": len(BINARY)}), 403, "not_a_trader")


def test_what_moto_enforces_on_a_presigned_put(aws):
    """moto checks none of what S3 checks on a presigned PUT; the program must not rely on it (LOCAL-AWS.md)."""
    import time

    from chalicelib.store import content

    good = b"the content asked for"
    url, headers = content.presign_upload(_sha(good), len(good), "text/plain", 1)
    time.sleep(1.5)
    # expired, with bytes of another hash and length: S3 answers 403 and 400 BadDigest; moto stores them
    assert requests.put(url, data=b"other bytes, longer", headers=headers, timeout=30).status_code == 200
    assert requests.put(url + "0", data=b"x", headers=headers, timeout=30).status_code == 200  # a broken signature
    assert _stored(f"uploads/{_sha(good)}") == b"x"


@pytest.mark.dynamodb
def test_an_uploaded_item_is_kept_in_dynamodb_like_any_other(readers):
    author = readers.consumers[0]
    _upload(author, BINARY)
    item = expect(_publish(author, _sha(BINARY), len(BINARY), title="Lamp photo"), 201)
    shown = answer(readers.http.get(f"/items/{item['item']}"))
    assert (shown["sha256"], shown["size"], shown["content"], shown["originator"]) == (
        _sha(BINARY), len(BINARY), "binary", True)
    expect(_publish(author, "cd" * 32, 10), 409, "upload_missing")
