"""Property: checkpoints, tiles and block headers agree at every size, on random chains.

In-process (moto's S3, the in-memory store): blocks of random sizes, many
crossing 256-entry tile boundaries, are sealed by the sealer itself, which
writes the C2SP tiles, bundles and checkpoint to the log bucket at each block's
completion. Then every block's ``log_root``, its served checkpoint (verified by
tlog-scales with the served vkey) and the root tlog-scales' tiles reader
recomputes from the bucket's tiles are one and the same, for every block's size;
from the newest tiles every prefix of the log has the root RFC 9162 gives its
entries; the bundles hold every entry's JCS; and the bucket holds exactly the
objects C2SP tlog-tiles names for those sizes, as served by the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey
from tlog_scales.tlog import Checkpoint

from chalicelib.ledger import merkle, note, tiles
from chalicelib.ledger.canonical import canonical

BUCKET = "covenant-test-log"


class BucketBackend:
    """tlog-scales' backend protocol over the log bucket: what the sealer wrote, byte for byte."""

    def __init__(self) -> None:
        import boto3

        self.s3 = boto3.client("s3")

    def get(self, *path: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=BUCKET, Key="/".join(path))["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def keys(self) -> set[str]:
        found: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            found.update(item["Key"] for item in page.get("Contents", []))
        return found


@contextmanager
def fresh_chain(folder: Path) -> Iterator[object]:
    """A new in-process stack and genesis for one example (conftest's ``aws`` and ``chain``, per example)."""
    from moto import mock_aws

    from devstack import moto_patch
    from devstack.bootstrap import create_resources_directly, reset_process_state, start_chain, write_new_key

    moto_patch.apply()
    key = folder / "sealer.pem"
    key.unlink(missing_ok=True)
    write_new_key(key)
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("COVENANT_SEALER_KEY", f"file:{key}")
        env.setenv("COVENANT_STORE", "memory")
        reset_process_state()
        stack = create_resources_directly("covenant-test", 1)
        env.setenv("COVENANT_BLOCKS_TOPIC_ARN", stack.topic_arn)
        reset_process_state()
        start_chain()
        from chalicelib.services.sealer_key import load_signer

        try:
            yield load_signer()
        finally:
            reset_process_state()


def _served(client, path: str) -> tuple[int, bytes]:
    answer = client.http.get(f"/{path}", headers={"Accept": "*/*"})
    return answer.status_code, answer.body


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=st.lists(st.one_of(st.integers(1, 12), st.integers(200, 320), st.sampled_from([255, 256, 257, 511])),
                       min_size=1, max_size=5))
def test_checkpoint_tile_and_header_roots_agree_at_every_size(tmp_path_factory, counts):
    from chalice.test import Client

    from app import app
    from chalicelib.services.ledger import Draft, commit
    from chalicelib.services.sealing import seal_pending_entries

    with fresh_chain(tmp_path_factory.mktemp("chain")) as signer, Client(app, stage_name="test") as client:
        for block, count in enumerate(counts):
            for start in range(0, count, 50):
                commit([Draft("test.note", "system", {"block": block, "n": n})
                        for n in range(start, min(count, start + 50))])
            assert seal_pending_entries(signer).entries == count  # one block each: at most 1,000 entries

        head = json.loads(client.http.get("/chain/head").body)["header"]
        origin = note.local_origin(json.loads(client.http.get("/blocks/0").body)["hash"])
        vkeys = {k["kid"]: Vkey.from_string(k["vkey"]) for k in json.loads(client.http.get("/keys").body)["keys"]}
        entries: list[bytes] = []
        backend = BucketBackend()
        expected = {"checkpoint"}
        previous = 0
        for height in range(head["height"] + 1):
            block = json.loads(client.http.get(f"/blocks/{height}?limit=1000").body)
            assert block.get("next") is None
            entries += [canonical(entry) for entry in block["entries"]]
            header = block["header"]
            size, root = header["log_size"], bytes.fromhex(header["log_root"])
            assert size == len(entries) and root == merkle.root_of([merkle.leaf_hash(e) for e in entries])

            status, text = _served(client, f"blocks/{height}/checkpoint")
            assert status == 200
            checkpoint = Checkpoint.from_text(text.decode())
            checkpoint.verify(vkeys[header["sealer"]])
            assert (checkpoint.origin, checkpoint.size, checkpoint.root_hash) == (origin, size, root)

            reader = TilesReader(backend)  # the tiles as the tree of this block's size has them
            reader.set_size(size)
            assert reader.calculate_root_hash() == root, f"tiles at block {height}, size {size}"
            expected |= {ref.path for ref in tiles.tiles_of(size, previous)}
            previous = size

        # the bucket holds exactly C2SP's objects for these sizes, and its checkpoint is the newest block's
        assert backend.keys() == expected
        assert backend.get("checkpoint") == _served(client, "checkpoint")[1] == _served(
            client, f"blocks/{head['height']}/checkpoint")[1]
        # from the newest tiles, every prefix of the log has the root RFC 9162 gives its entries
        reader = TilesReader(backend)
        reader.set_size(len(entries))
        frontier: list[bytes] = []
        for size, entry in enumerate(entries):
            assert reader.get_entry(size) == entry, size
            frontier, _ = merkle.append_leaf(frontier, size, merkle.leaf_hash(entry))
            assert reader.mth(0, size + 1) == merkle.frontier_root(frontier), size + 1
        # and the API serves each object as written
        for path in sorted(expected - {"checkpoint"}):
            assert _served(client, path) == (200, backend.get(path)), path
