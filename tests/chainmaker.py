"""Chains built in memory with the production block builder, for pure tests and benchmarks."""

from __future__ import annotations

import json
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.auth import content_digest
from chalicelib.ledger.format import make_entry
from chalicelib.ledger.keys import jwk_of, sign
from chalicelib.services.sealer_key import Signer
from chalicelib.services.sealing import GENESIS_ENTRY_ID, block_view, build_block
from chalicelib.store.ledger_store import prepare


def signed_auth(key: Ed25519PrivateKey, body: dict[str, Any], path: str = "/orders",
                created: int = 1_700_000_000) -> dict[str, str]:
    """An ``auth`` member as the API stores it: an RFC 9421 signature base and its signature."""
    text = json.dumps(body, separators=(",", ":"))
    kid = jwk_of(key.public_key())["kid"]
    nonce = secrets.token_hex(12)
    params = (f'("@method" "@target-uri" "content-digest");created={created};expires={created + 300};'
              f'nonce="{nonce}";keyid="{kid}";alg="ed25519"')
    base = (f'"@method": POST\n"@target-uri": https://covenant.example{path}\n'
            f'"content-digest": {content_digest(text.encode())}\n"@signature-params": {params}')
    return {"kid": kid, "base": base, "sig": sign(key, base.encode()), "body": text}


class ChainMaker:
    def __init__(self, signer: Signer | None = None):
        self.signer = signer or Signer(Ed25519PrivateKey.generate())
        self.blocks: list[dict[str, Any]] = []
        self.head = None
        self.ts = 1_700_000_000_000
        self.counter = 0
        genesis = make_entry(GENESIS_ENTRY_ID, "node.registered", self.ts, "system",
                             {"node": "stamp", "role": "stamp", "jwk": self.signer.jwk})
        self.seal([genesis])

    def entry(self, data: dict[str, Any], auth: dict[str, str] | None = None, actor: str = "system",
              entry_type: str = "test.note") -> dict[str, Any]:
        self.counter += 1
        self.ts += 1
        return make_entry(f"e{self.counter:08d}", entry_type, self.ts, actor, data, auth)

    def seal(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        record = build_block(self.head, [e["id"] for e in entries],
                             [bytes.fromhex(prepare(e).leaf) for e in entries], self.signer, self.ts)
        self.head = record
        block = json.loads(json.dumps(block_view(record, entries)))
        self.blocks.append(block)
        return block

    def with_signed_entries(self, blocks: int, per_block: int) -> ChainMaker:
        """Blocks mixing system entries, a registered consumer key and entries it signed."""
        consumer = Ed25519PrivateKey.generate()
        jwk = jwk_of(consumer.public_key())
        registration = {"node": "c1", "role": "consumer", "jwk": jwk}
        self.seal([self.entry(registration, signed_auth(consumer, registration, "/nodes"), actor="c1",
                              entry_type="node.registered")])
        for b in range(blocks):
            entries = []
            for i in range(per_block):
                data = {"block": b, "n": i, "amount": 100 * i, "memo": "ünïcødé ✓"}
                auth = signed_auth(consumer, data) if i % 2 else None
                entries.append(self.entry(data, auth, actor="c1" if auth else "system"))
            self.seal(entries)
        return self
