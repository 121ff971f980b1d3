"""A log served from the pure modules alone: checkpoints by ledger/note.py, tiles by ledger/tiles.py.

It answers the read API's routes that strangers' tools use (``/checkpoint``,
``/blocks/{h}/checkpoint``, ``/keys``, ``/tile/...``, ``/entries/{id}``,
``/proofs/...``, ``/chain/head``, ``/blocks/{h}``) from a chain built in memory by tests/chainmaker.py, over a
``ThreadingHTTPServer`` on a free loopback port. The interop tests check the
strangers' tools against it without the stack, and the stack against the same
tools; a difference between the two is the server's.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from chalicelib.ledger import merkle, note, tiles
from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.keys import raw_public
from tests.chainmaker import ChainMaker


@dataclass
class FakeLog:
    """Every object a log publishes after each block of ``maker``'s chain, as path -> bytes."""

    maker: ChainMaker
    origin: str = ""
    objects: dict[str, bytes] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)
    index_of: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.origin = self.origin or note.local_origin(self.maker.blocks[0]["hash"])
        key = self.maker.signer.key
        self.vkey = note.vkey(self.origin, raw_public(key.public_key()))
        size = 0
        for block in self.maker.blocks:
            for entry in block["entries"]:
                self.index_of[entry["id"]] = (len(self.entries), block["header"]["height"])
                self.entries.append(canonical(entry))
            header = block["header"]
            assert header["log_size"] == len(self.entries)
            assert merkle.root_of(self.leaves()).hex() == header["log_root"]
            self.publish(size, header["log_size"])
            size = header["log_size"]
            self.checkpoints.append(note.sign_checkpoint(self.origin, size, bytes.fromhex(header["log_root"]), key))
        self.objects["checkpoint"] = self.checkpoints[-1].encode()

    def leaves(self) -> list[bytes]:
        return [merkle.leaf_hash(e) for e in self.entries]

    def publish(self, since: int, size: int) -> None:
        read = merkle.memory_reader(self.leaves())
        for ref in tiles.tiles_of(size, since):
            first = ref.n * tiles.WIDTH
            if ref.level is None:
                body = tiles.bundle(self.entries[first:first + ref.width])
            else:
                body = b"".join(read(tiles.HEIGHT * ref.level, first + i) for i in range(ref.width))
            assert self.objects.setdefault(ref.path, body) == body
            self.objects[ref.path] = body

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of ``path``."""
        parts = path.strip("/").split("/")
        size = len(self.entries)
        read = merkle.memory_reader(self.leaves())
        if parts[0] == "tile" or path.strip("/") == "checkpoint":
            found = self.objects.get(path.strip("/"))
            kind = "text/plain; charset=utf-8" if parts[0] == "checkpoint" else "application/octet-stream"
            return (200, kind, found) if found is not None else (404, "text/plain", b"not found")
        if len(parts) == 3 and parts[0] == "blocks" and parts[2] == "checkpoint" and parts[1].isdigit() \
                and int(parts[1]) < len(self.checkpoints):
            return 200, "text/plain; charset=utf-8", self.checkpoints[int(parts[1])].encode()
        blocks = self.maker.blocks
        if parts == ["chain", "head"]:
            return self.json({k: blocks[-1][k] for k in ("header", "hash", "sig")})
        if len(parts) == 2 and parts[0] == "blocks" and parts[1].isdigit() and int(parts[1]) < len(blocks):
            return self.json(blocks[int(parts[1])])
        if parts == ["keys"]:
            jwk = {**self.maker.signer.jwk, "vkey": self.vkey}
            return self.json({"keys": [jwk]})
        if len(parts) == 2 and parts[0] == "entries" and unquote(parts[1]) in self.index_of:
            index, height = self.index_of[unquote(parts[1])]
            return self.json({"entry": json.loads(self.entries[index]), "index": index, "height": height})
        if parts == ["proofs", "inclusion"]:
            index, tree = int(query["index"][0]), int(query["size"][0])
            if not 0 <= index < tree <= size:
                return 400, "text/plain", b"bad proof request"
            path_ = merkle.inclusion_path(read, index, tree)
            return self.json({"leaf_index": index, "tree_size": tree, "path": [h.hex() for h in path_]})
        if parts == ["proofs", "consistency"]:
            first, second = int(query["first"][0]), int(query["second"][0])
            if not 0 < first <= second <= size:
                return 400, "text/plain", b"bad proof request"
            path_ = merkle.consistency_path(read, first, second)
            return self.json({"first": first, "second": second, "path": [h.hex() for h in path_]})
        return 404, "text/plain", b"not found"

    @staticmethod
    def json(value: Any) -> tuple[int, str, bytes]:
        return 200, "application/json", json.dumps(value).encode()


class Served:
    """``log`` over HTTP on 127.0.0.1 until ``close()``; ``url`` is its base URL."""

    def __init__(self, log: FakeLog):
        self.log = log
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                status, kind, body = outer.log.answer(split.path, parse_qs(split.query))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
