"""A small HTTP server that answers LEDGER.md's public read API from a recorded chain, with attacks to switch on.

The honest answers come from the blocks alone (proofs from the leaves, the
sealer keys from verifying the chain), so the server is independent of the
program's storage. An attack is a function ``(path, params, answer) ->
answer``: it sees the honest answer and returns what the server sends instead,
a JSON value or a ``Raw`` response (bytes, a status, dripped or endless).

Given the sealers' private keys (``signers``), it also serves the additions of
LEDGER.md "Checkpoints, cosignatures and tiles": ``GET /checkpoint`` and
``GET /blocks/{h}/checkpoint`` (signed notes under ``origin``, by default the
local stack's, derived from the genesis hash), ``vkey`` members in ``/keys``;
with ``tiles``, the C2SP entry bundles ``GET /tile/entries/<N>[.p/<W>]``.
Those answers are ``Raw`` (text/plain, application/octet-stream). Witnesses
(``Witness``, keys a test makes, named as sub-chains are) cosign a block's
checkpoint with ``RecordedLedger.cosign``, which appends their C2SP
tlog-cosignature v1 lines as the log serves them, and ``GET /cosigners``
lists the ledger's ``cosigners`` when a test sets them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger import merkle, note, tiles
from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.cosigners import cosigner_of
from chalicelib.ledger.format import entry_leaf
from chalicelib.ledger.keys import jwk_of, public_key_from_jwk, raw_public
from chalicelib.verifier.cli import verify_blocks


@dataclass
class Raw:
    """A response as bytes: ``drip`` seconds between single bytes (headers too, with ``drip_headers``)."""

    body: bytes | Iterator[bytes] = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0
    drip_headers: bool = False


Attack = Callable[[str, dict[str, str], Any], Any]


TEXT = {"Content-Type": "text/plain; charset=utf-8"}
OCTETS = {"Content-Type": "application/octet-stream"}


def cosigned(checkpoint: str, name: str = "witness.example/w1", key: Ed25519PrivateKey | None = None,
             when: int = 1_700_000_000) -> str:
    """A checkpoint with one more signature line: a C2SP tlog-cosignature v1 by ``key`` under ``name``."""
    key = key or Ed25519PrivateKey.generate()
    body = checkpoint[:checkpoint.index("\n\n") + 1]
    return checkpoint + note.cosignature_line(name, body, key, when)


def flipped(line: str, byte: int) -> str:
    """A signature line with one bit of byte ``byte`` of its key ID, time or signature flipped."""
    dash, name, blob = line.rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[byte] ^= 1
    return f"{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"


@dataclass(frozen=True)
class Witness:
    """A cosigner's key, named as LEDGER.md names a sub-chain: ``<origin>/subchain/<id>``, vkey of type 0x04."""

    key: Ed25519PrivateKey
    name: str
    id: str
    vkey: str

    @classmethod
    def new(cls, origin: str, key: Ed25519PrivateKey | None = None) -> Witness:
        key = key or Ed25519PrivateKey.generate()
        listed = cosigner_of(origin, raw_public(key.public_key()))
        return cls(key, listed["name"], listed["id"], listed["vkey"])

    def line(self, checkpoint: str, when: int | None = None) -> str:
        """This witness's cosignature line of ``checkpoint`` (a signed note or its body), dated ``when`` or now."""
        body = checkpoint[:checkpoint.index("\n\n") + 1] if "\n\n" in checkpoint else checkpoint
        return note.cosignature_line(self.name, body, self.key, int(time.time()) if when is None else when)

    def listed(self, registered: int = 0, retired: int | None = None) -> dict[str, Any]:
        """This witness as a member of GET /cosigners."""
        return {"id": self.id, "name": self.name, "vkey": self.vkey, "registered": registered, "retired": retired}


class RecordedLedger:
    """A chain in memory and the honest answers of the public read API."""

    def __init__(self, blocks: list[dict[str, Any]], keys: list[dict[str, Any]] | None = None,
                 signers: list[Ed25519PrivateKey] | None = None, origin: str | None = None, tiles: bool = False):
        self.blocks = json.loads(json.dumps(blocks))
        self.entries: dict[str, tuple[dict[str, Any], int, int]] = {}
        self.jcs: list[bytes] = []
        leaves = []
        for block in self.blocks:
            first = block["header"]["log_size"] - block["header"]["count"]
            for offset, entry in enumerate(block["entries"]):
                self.entries[entry["id"]] = (entry, first + offset, block["header"]["height"])
                self.jcs.append(canonical(entry))
                leaves.append(entry_leaf(entry))
        self.read = merkle.memory_reader(leaves)
        self.keys = keys if keys is not None else verify_blocks(json.loads(json.dumps(blocks))).sealer_keys
        self.tiles = tiles
        self.checkpoints: list[str | None] = []
        self.cosigners: list[dict[str, Any]] | None = None  # GET /cosigners, when set
        self.origin = origin or note.local_origin(self.blocks[0]["hash"])
        if signers is not None:
            by_kid = {jwk_of(key.public_key())["kid"]: key for key in signers}
            self.keys = [dict(k, vkey=note.vkey(self.origin, public_key_from_jwk(
                {m: k[m] for m in ("kty", "crv", "x", "kid")}))) for k in self.keys]
            for block in self.blocks:
                header = block["header"]
                key = by_kid.get(header["sealer"])
                self.checkpoints.append(None if key is None else note.sign_checkpoint(
                    self.origin, header["log_size"], bytes.fromhex(header["log_root"]), key))

    def cosign(self, *witnesses: Witness, height: int = -1, when: int | None = None) -> RecordedLedger:
        """Append each witness's cosignature line to block ``height``'s checkpoint (the newest by default)."""
        text = self.checkpoints[height]
        assert text is not None, "the ledger signs no checkpoint of that block"
        for witness in witnesses:
            text += witness.line(text, when)
        self.checkpoints[height] = text
        return self

    def take_cosignature(self, size: int, line: str) -> tuple[int, Any]:
        """``POST /checkpoints/{size}/cosignatures``: keep the line under that checkpoint (once), as a log would."""
        for height, block in enumerate(self.blocks):
            text = self.checkpoints[height] if height < len(self.checkpoints) else None
            if block["header"]["log_size"] == size and text is not None:
                line = line.rstrip("\n") + "\n"
                if line not in text:
                    self.checkpoints[height] = text + line
                return 201, {"size": size, "stored": True}
        return 404, {"error": {"code": "checkpoint_unknown", "message": f"no checkpoint has {size} entries"}}

    @property
    def size(self) -> int:
        return len(self.jcs)

    def bundle(self, n: int, width: int) -> bytes:
        return tiles.bundle(self.jcs[n * tiles.WIDTH:n * tiles.WIDTH + width])

    def answer(self, path: str, params: dict[str, str], page_cap: int) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["checkpoint"] and self.checkpoints and self.checkpoints[-1] is not None:
            return 200, Raw(self.checkpoints[-1].encode(), headers=TEXT)
        if len(parts) == 3 and parts[0] == "blocks" and parts[1].isdigit() and parts[2] == "checkpoint":
            height = int(parts[1])
            if height < len(self.checkpoints) and self.checkpoints[height] is not None:
                return 200, Raw(self.checkpoints[height].encode(), headers=TEXT)
            return 404, {"error": {"code": "not_found", "message": f"no checkpoint of block {height}"}}
        if self.tiles and len(parts) >= 3 and parts[:2] == ["tile", "entries"]:
            try:
                ref = tiles.parse_path(path)
            except tiles.TileError as exc:
                return 400, {"error": {"code": "invalid_parameter", "message": str(exc)}}
            if ref.n * tiles.WIDTH + ref.width <= self.size:
                return 200, Raw(self.bundle(ref.n, ref.width), headers=OCTETS)
            return 404, {"error": {"code": "not_found", "message": f"no {ref.path}"}}
        if parts == ["chain", "head"]:
            head = self.blocks[-1]
            return 200, {"header": head["header"], "hash": head["hash"], "sig": head["sig"]}
        if len(parts) == 2 and parts[0] == "blocks" and parts[1].isdigit():
            height = int(parts[1])
            if height >= len(self.blocks):
                return 404, {"error": {"code": "not_found", "message": f"there is no block at height {height}"}}
            block = self.blocks[height]
            cursor = int(params.get("cursor", "0"))
            limit = min(int(params.get("limit", "500")), page_cap)
            page = block["entries"][cursor:cursor + limit]
            following = cursor + len(page)
            return 200, {"header": block["header"], "hash": block["hash"], "sig": block["sig"], "entries": page,
                         "next": str(following) if following < len(block["entries"]) else None}
        if len(parts) == 2 and parts[0] == "entries":
            if parts[1] not in self.entries:
                return 404, {"error": {"code": "not_found", "message": "there is no such entry"}}
            entry, index, height = self.entries[parts[1]]
            return 200, {"entry": entry, "index": index, "height": height}
        if parts == ["proofs", "inclusion"]:
            index, size = int(params["index"]), int(params["size"])
            path_nodes = merkle.inclusion_path(self.read, index, size)
            return 200, {"leaf_index": index, "tree_size": size, "path": [n.hex() for n in path_nodes]}
        if parts == ["proofs", "consistency"]:
            first, second = int(params["first"]), int(params["second"])
            path_nodes = merkle.consistency_path(self.read, first, second)
            return 200, {"first": first, "second": second, "path": [n.hex() for n in path_nodes]}
        if parts == ["keys"]:
            return 200, {"keys": self.keys}
        if parts == ["cosigners"] and self.cosigners is not None:
            return 200, {"cosigners": self.cosigners}
        return 404, {"error": {"code": "not_found", "message": "no such route"}}


class LedgerServer:
    """A threading HTTP server on a free loopback port; ``ledger`` and ``attack`` may change between runs."""

    def __init__(self, ledger: RecordedLedger, page_cap: int = 1000):
        self.ledger = ledger
        self.page_cap = page_cap
        self.attack: Attack | None = None
        self.requests: list[str] = []
        self.released = threading.Event()  # set at stop: handlers told to hang give up
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                server.requests.append(self.path)
                try:
                    status, answer = server.ledger.answer(url.path, params, server.page_cap)
                except (ValueError, KeyError, IndexError, merkle.ProofError) as exc:
                    status, answer = 400, {"error": {"code": "invalid_parameter", "message": str(exc)}}
                if server.attack is not None:
                    answer = server.attack(url.path, params, answer)
                try:
                    if isinstance(answer, Raw):
                        self._raw(answer)
                    else:
                        self._send(status, json.dumps(answer, separators=(",", ":")).encode("utf-8"))
                except OSError:
                    pass  # the client gave up: that is the point of several attacks

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                server.requests.append("POST " + self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = url.path.strip("/").split("/")
                status: int
                answer: Any
                try:
                    if len(parts) == 3 and parts[0] == "checkpoints" and parts[2] == "cosignatures":
                        status, answer = server.ledger.take_cosignature(int(parts[1]), json.loads(raw)["cosignature"])
                    else:
                        status, answer = 404, {"error": {"code": "not_found", "message": "no such route"}}
                except (ValueError, KeyError, TypeError) as exc:
                    status, answer = 400, {"error": {"code": "invalid_body", "message": str(exc)}}
                self._send(status, json.dumps(answer).encode("utf-8"))

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _raw(self, raw: Raw) -> None:
                if raw.drip_headers:
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n":
                        if server.released.wait(raw.drip):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                self.send_response(raw.status)
                for name, value in raw.headers.items():
                    self.send_header(name, value)
                if isinstance(raw.body, bytes) and "Content-Length" not in raw.headers:
                    self.send_header("Content-Length", str(len(raw.body)))
                if not isinstance(raw.body, bytes):
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.flush()
                chunks = [raw.body] if isinstance(raw.body, bytes) else raw.body
                for chunk in chunks:
                    if server.released.is_set():
                        return
                    if raw.drip:
                        for byte in chunk:
                            if server.released.wait(raw.drip):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    else:
                        self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="ledger-server", daemon=True)

    def start(self) -> LedgerServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def hang(self, seconds: float = 600) -> None:
        """Block the calling handler until the server stops (or ``seconds`` pass)."""
        self.released.wait(seconds)


def endless(chunk: bytes = b" " * 65536) -> Iterator[bytes]:
    while True:
        yield chunk
        time.sleep(0)
