"""Checkpoints and tiles (LEDGER.md "Checkpoints, cosignatures and tiles"), written at block completion.

Every block's signed checkpoint agrees with its header; the log's origin is
fixed at genesis; the tiles and entry bundles in the log bucket (moto S3)
rebuild every root and every entry; a full tile is never rewritten; a crash
between any two completion writes is finished by the next run.
"""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from chalicelib.errors import OriginChanged, StorageError
from chalicelib.ledger import merkle
from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.keys import public_key_from_jwk
from chalicelib.ledger.note import local_origin, open_checkpoint, parse_vkey, vkey
from chalicelib.ledger.tiles import WIDTH, TileRef, hashes, unbundle
from chalicelib.services import reading, sealing
from chalicelib.services.ledger import Draft, commit
from chalicelib.services.sealing import seal_pending_entries
from chalicelib.settings import SettingsError, get_settings, reset_settings
from chalicelib.store import log_bucket
from devstack.bootstrap import reset_process_state, start_chain


def _notes(count: int, tag: str = "") -> None:
    for start in range(0, count, 40):
        commit([Draft("test.note", "system", {"n": i, "tag": tag}) for i in range(start, min(count, start + 40))])


def _grow(signer, sizes: list[int]) -> None:
    """Seal one block of each size."""
    for size in sizes:
        _notes(size)
        assert seal_pending_entries(signer).entries == size


def _object(key: str) -> dict:
    return boto3.client("s3").get_object(Bucket=get_settings().log_bucket, Key=key)


def _keys() -> set[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=get_settings().log_bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _vkey() -> str:
    return str(reading.keys()["keys"][0]["vkey"])


def _tree_from_tiles(size: int) -> tuple[list[bytes], list[bytes]]:
    """The leaf hashes and entries of the first ``size`` entries, read from tiles and bundles alone."""
    leaves: list[bytes] = []
    entries: list[bytes] = []
    for n in range((size + WIDTH - 1) // WIDTH):
        width = min(WIDTH, size - n * WIDTH)
        leaves += hashes(_object(TileRef(0, n, width).path)["Body"].read())
        entries += unbundle(_object(TileRef(None, n, width).path)["Body"].read())
    return leaves, entries


def test_every_block_has_a_checkpoint_that_agrees_with_its_header(chain):
    _grow(chain, [3, 1, 300, 7])
    origin = local_origin(reading.block(0)["hash"])
    verifier = parse_vkey(_vkey())
    assert verifier.name == origin
    for height in range(5):
        header = reading.block(height)["header"]
        checkpoint, note = open_checkpoint(reading.block_checkpoint(height), verifier)
        assert (checkpoint.origin, checkpoint.size, checkpoint.root.hex()) == (
            origin, header["log_size"], header["log_root"])
        assert len(note.signatures) == 1
    assert reading.checkpoint() == reading.block_checkpoint(4)


def test_a_checkpoint_is_refused_after_any_changed_byte(chain):
    _grow(chain, [2])
    text = reading.checkpoint().encode()
    verifier = parse_vkey(_vkey())
    from chalicelib.ledger.note import NoteError

    for position in range(len(text)):
        changed = bytearray(text)
        changed[position] ^= 0x01
        try:
            checkpoint, _ = open_checkpoint(bytes(changed), verifier)
        except NoteError:
            continue
        # a flip the encoding ignores (a base64 padding bit) must leave the very same checkpoint
        assert (checkpoint.size, checkpoint.root) == (3, bytes.fromhex(reading.head()["header"]["log_root"]))


def test_tiles_and_bundles_rebuild_every_root_and_entry(chain):
    _grow(chain, [5, 251, 1, 256, 300, 2])
    for height in range(7):
        header = reading.block(height)["header"]
        leaves, entries = _tree_from_tiles(header["log_size"])
        assert merkle.root_of(leaves).hex() == header["log_root"]
        assert [merkle.leaf_hash(e) for e in entries] == leaves
    # the bundles hold exactly the served entries' JCS, in index order
    size = reading.head()["header"]["log_size"]
    _, entries = _tree_from_tiles(size)
    served = [entry for h in range(7) for entry in reading.full_block(h)["entries"]]
    assert entries == [canonical(entry) for entry in served]
    # a level-1 tile: the hashes of whole 256-leaf subtrees
    level1 = hashes(_object(TileRef(1, 0, size // WIDTH).path)["Body"].read())
    leaves, _ = _tree_from_tiles(size)
    assert level1 == [merkle.root_of(leaves[i * WIDTH:(i + 1) * WIDTH]) for i in range(size // WIDTH)]


def test_full_tiles_are_immutable_and_partial_ones_short_lived(chain):
    _grow(chain, [300])
    full, partial = _object("tile/0/000"), _object("tile/0/001.p/45")
    assert full["CacheControl"] == "public, max-age=31536000, immutable"
    assert partial["CacheControl"] == "public, max-age=60"
    assert _object("tile/entries/000")["CacheControl"] == "public, max-age=31536000, immutable"
    assert _object("checkpoint")["CacheControl"] == "no-cache"
    assert _object("checkpoint")["Body"].read().decode() == reading.checkpoint()


def test_no_tile_or_bundle_is_ever_written_twice(chain, monkeypatch):
    client = log_bucket.s3_client()
    written: list[str] = []
    real = client.put_object

    def recording(**kwargs):
        answer = real(**kwargs)
        written.append(kwargs["Key"])
        return answer

    monkeypatch.setattr(client, "put_object", recording)
    _grow(chain, [100, 200, 1, 255, 300])
    tiles = [key for key in written if key != "checkpoint"]
    assert len(tiles) == len(set(tiles)), "a tile object was written twice"
    before = {key: _object(key)["ETag"] for key in _keys()}
    # completing every block again (a crash-recovery run) writes no tile and changes none
    written.clear()
    for height in range(1, 6):
        sealing.complete_block(sealing.store.get_block(height), sealing.store.get_block(height - 1))
    assert written == []
    assert {key: _object(key)["ETag"] for key in _keys()} == before


def test_a_tile_that_disagrees_is_never_replaced(chain):
    _grow(chain, [256])
    with pytest.raises(StorageError, match="never rewritten"):
        log_bucket.put_once("tile/0/000", b"\x00" * 32 * 256, log_bucket.FULL_TILE_CACHE)
    leaves, _ = _tree_from_tiles(257)
    assert merkle.root_of(leaves).hex() == reading.head()["header"]["log_root"]


def test_the_bucket_checkpoint_never_moves_back(chain):
    _grow(chain, [4, 4])
    newest = reading.checkpoint()
    assert log_bucket.advance_checkpoint(reading.block_checkpoint(1), 5) is False
    assert _object("checkpoint")["Body"].read().decode() == newest


@pytest.mark.parametrize("step", ["put_once", "advance_checkpoint", "publish_block"])
def test_a_crash_between_completion_writes_is_finished_by_the_next_run(chain, monkeypatch, step):
    _notes(260)
    target = log_bucket if step != "publish_block" else sealing.tiles
    real = getattr(target, step)
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == (2 if step == "put_once" else 1):
            raise StorageError("injected crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, step, crashing)
    with pytest.raises(StorageError, match="injected"):
        seal_pending_entries(chain)
    assert sealing.store.completed_height() == 0  # stored, not completed
    monkeypatch.setattr(target, step, real)
    report = seal_pending_entries(chain)
    assert report.completed == [1]
    header = reading.head()["header"]
    leaves, _ = _tree_from_tiles(header["log_size"])
    assert merkle.root_of(leaves).hex() == header["log_root"]
    assert _object("checkpoint")["Body"].read().decode() == reading.checkpoint()


def _restart() -> None:
    """A new container: settings read again, nothing cached (the in-memory state stays)."""
    from chalicelib.services import ledger

    reset_settings()
    sealing.forget_origin()
    ledger._started = False


def test_a_configured_origin_is_the_log_key_name(aws, monkeypatch):
    monkeypatch.setenv("COVENANT_ORIGIN", "covenant.example.com/ledger")
    reset_process_state()
    start_chain()
    jwk = reading.keys()["keys"][0]
    assert jwk["vkey"] == vkey("covenant.example.com/ledger", public_key_from_jwk(
        {k: jwk[k] for k in ("kty", "crv", "x", "kid")}))
    assert reading.checkpoint().startswith("covenant.example.com/ledger\n1\n")


@pytest.mark.parametrize("changed", ["other.example.com/ledger", ""])
def test_changing_the_origin_of_a_running_log_is_refused(aws, monkeypatch, changed):
    monkeypatch.setenv("COVENANT_ORIGIN", "covenant.example.com/ledger")
    reset_process_state()
    start_chain()
    if changed:
        monkeypatch.setenv("COVENANT_ORIGIN", changed)
    else:
        monkeypatch.delenv("COVENANT_ORIGIN")
    _restart()
    from chalicelib.services.sealer_key import load_signer

    with pytest.raises(OriginChanged, match=r"covenant\.example\.com/ledger"):
        seal_pending_entries(load_signer())
    with pytest.raises(OriginChanged):
        start_chain()
    with pytest.raises(OriginChanged):
        commit([Draft("test.note", "system", {"n": 1})])
    from chalice.test import Client

    from app import app
    from tests.actors import Actor, expect

    with Client(app, stage_name="test") as client:
        actor = Actor(client.http)
        expect(actor.post("/nodes", {"role": "consumer", "jwk": actor.jwk}), 503, "origin_changed")


def test_a_malformed_origin_is_a_settings_error(monkeypatch):
    for bad in ("https://covenant.example.com", "has space", "a+b", "/leading"):
        monkeypatch.setenv("COVENANT_ORIGIN", bad)
        reset_settings()
        with pytest.raises(SettingsError, match="COVENANT_ORIGIN"):
            get_settings()
    reset_settings()


def test_the_root_is_standard_base64(chain):
    header = reading.head()["header"]
    assert reading.checkpoint().split("\n")[2] == base64.b64encode(bytes.fromhex(header["log_root"])).decode()


@pytest.mark.dynamodb
def test_tiles_from_dynamodb_nodes_rebuild_the_roots(chain):
    _grow(chain, [200, 100])
    for height in range(3):
        header = reading.block(height)["header"]
        leaves, _ = _tree_from_tiles(header["log_size"])
        assert merkle.root_of(leaves).hex() == header["log_root"]
    assert sealing.store.get_block(2).checkpoint == reading.checkpoint()  # the checkpoint is stored with its block


def test_the_api_serves_checkpoints_and_tiles(http, chain):
    _grow(chain, [260])
    answer = http.get("/checkpoint")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.body.decode() == reading.checkpoint()
    assert http.get("/blocks/0/checkpoint").body.decode() == reading.block_checkpoint(0)
    binary = {"Accept": "application/octet-stream"}
    full = http.get("/tile/0/000", headers=binary)
    assert full.status_code == 200 and full.body == _object("tile/0/000")["Body"].read()
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full.headers["Content-Type"] == "application/octet-stream"
    partial = http.get("/tile/entries/001.p/5", headers=binary)
    assert partial.status_code == 200 and partial.headers["Cache-Control"] == "public, max-age=60"
    assert len(unbundle(partial.body)) == 5


@pytest.mark.parametrize("path,status,code,field", [
    ("/blocks/9/checkpoint", 404, "not_found", "h"),
    ("/blocks/x/checkpoint", 400, "invalid_parameter", "h"),
    ("/tile/0/001", 404, "not_found", "path"),  # beyond the published log
    ("/tile/0/000.p/9", 404, "not_found", "path"),  # wider than the log
    ("/tile/0/0", 404, "not_found", "path"),  # not three digits
    ("/tile/0/x000/000", 404, "not_found", "path"),  # a superfluous leading element
    ("/tile/64/000", 404, "not_found", "path"),
    ("/tile/00/000", 404, "not_found", "path"),
    ("/tile/0/000.p/256", 404, "not_found", "path"),
    ("/tile/0/000.p/0", 404, "not_found", "path"),
    ("/tile/entries/000.p/3?x=1", 400, "invalid_parameter", "x"),
    ("/checkpoint?x=1", 400, "invalid_parameter", "x"),
])
def test_bad_checkpoint_and_tile_requests(http, chain, path, status, code, field):
    _notes(2)
    seal_pending_entries(chain)
    answer = http.get(path, headers={"Accept": "*/*"})
    body = json.loads(answer.body)
    assert answer.status_code == status, body
    assert body["error"]["code"] == code and body["error"].get("field") == field


def test_a_tile_request_must_accept_binary(http, chain):
    answer = http.get("/tile/0/000.p/1")
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"]["field"] == "Accept"
    assert http.get("/tile/0/000.p/1", headers={"Accept": "*/*"}).status_code == 200
