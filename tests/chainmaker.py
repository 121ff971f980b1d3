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
from chalicelib.services.sealing import GENESIS_ENTRY_ID, block_view, build_block, origin_of
from chalicelib.store.ledger_records import Block
from chalicelib.store.ledger_store import prepare


def signed_auth(key: Ed25519PrivateKey, body: dict[str, Any], path: str = "/orders",
                created: int = 1_700_000_000, nonce: str | None = None,
                params: str | None = None) -> dict[str, str]:
    """An ``auth`` member as the API stores it: an RFC 9421 signature base and its signature.

    ``params`` replaces the signature parameters after the component list (to leave out the nonce, say).
    """
    text = json.dumps(body, separators=(",", ":"))
    kid = jwk_of(key.public_key())["kid"]
    nonce = nonce or secrets.token_hex(12)
    if params is None:
        params = f'created={created};expires={created + 300};nonce="{nonce}";keyid="{kid}";alg="ed25519"'
    params = '("@method" "@target-uri" "content-digest");' + params
    base = (f'"@method": POST\n"@target-uri": https://covenant.example{path}\n'
            f'"content-digest": {content_digest(text.encode())}\n"@signature-params": {params}')
    return {"kid": kid, "base": base, "sig": sign(key, base.encode()), "body": text}


class ChainMaker:
    def __init__(self, signer: Signer | None = None, genesis_data: dict[str, Any] | None = None,
                 genesis_actor: str = "system"):
        self.signer = signer or Signer(Ed25519PrivateKey.generate())
        self.blocks: list[dict[str, Any]] = []
        self.records: list[Block] = []
        self.consumer: Ed25519PrivateKey | None = None
        self.head = None
        self.ts = 1_700_000_000_000
        self.counter = 0
        data = genesis_data if genesis_data is not None else {"node": "stamp", "role": "stamp", "jwk": self.signer.jwk}
        genesis = make_entry(GENESIS_ENTRY_ID, "node.registered", self.ts, genesis_actor, data)
        self.seal([genesis])

    def entry(self, data: dict[str, Any], auth: dict[str, str] | None = None, actor: str = "system",
              entry_type: str = "test.note") -> dict[str, Any]:
        self.counter += 1
        self.ts += 1
        return make_entry(f"e{self.counter:08d}", entry_type, self.ts, actor, data, auth)

    def seal(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        record = build_block(self.head, [e["id"] for e in entries],
                             [bytes.fromhex(prepare(e).leaf) for e in entries], self.signer, self.ts,
                             origin_of(self.records[0]) if self.records else None)
        self.head = record
        self.records.append(record)  # with each block's signed checkpoint
        block = json.loads(json.dumps(block_view(record, entries)))
        self.blocks.append(block)
        return block

    def fork(self) -> ChainMaker:
        """Another maker that continues this chain from its current head with the same sealer."""
        other = ChainMaker.__new__(ChainMaker)
        other.signer, other.head, other.ts, other.counter = self.signer, self.head, self.ts, self.counter
        other.blocks = json.loads(json.dumps(self.blocks))
        other.records = list(self.records)
        other.consumer = self.consumer
        return other

    def signed_block(self, per_block: int, tag: str = "") -> dict[str, Any]:
        """One block of system notes and requests the registered consumer signed (deposits, as docs/ENTRIES.md
        has them: made by POST /deposits, data following the body)."""
        assert self.consumer is not None
        entries = []
        for i in range(per_block):
            if i % 2:
                body = {"wallet": f"w-{self.consumer_node[2:]}", "amount": 100 * i}
                data = {**body, "block": len(self.blocks), "n": i, "memo": "ünïcødé ✓" + tag}
                entries.append(self.entry(data, signed_auth(self.consumer, body, "/deposits"), actor=self.consumer_node,
                                          entry_type="fiat.deposited"))
            else:
                data = {"block": len(self.blocks), "n": i, "amount": 100 * i, "memo": "ünïcødé ✓" + tag}
                entries.append(self.entry(data))
        return self.seal(entries)

    def register_consumer(self, key: Ed25519PrivateKey) -> dict[str, Any]:
        """The entry by which a consumer registers its own key, signed as POST /nodes makes it."""
        jwk = jwk_of(key.public_key())
        node = f"c-{jwk['kid'][:16]}"
        body = {"role": "consumer", "jwk": jwk}
        return self.entry({"node": node, **body}, signed_auth(key, body, "/nodes"), actor=node,
                          entry_type="node.registered")

    def with_signed_entries(self, blocks: int, per_block: int) -> ChainMaker:
        """Blocks mixing system entries, a registered consumer key and entries it signed."""
        consumer = Ed25519PrivateKey.generate()
        self.consumer = consumer
        self.seal([self.register_consumer(consumer)])
        for _ in range(blocks):
            self.signed_block(per_block)
        return self

    @property
    def consumer_node(self) -> str:
        assert self.consumer is not None
        return f"c-{jwk_of(self.consumer.public_key())['kid'][:16]}"


def honest_and_fork(heights: int) -> tuple[ChainMaker, ChainMaker]:
    """A chain of ``heights`` blocks of signed entries, and a fork of it by the same sealer after block 11."""
    honest = ChainMaker().with_signed_entries(blocks=10, per_block=6)  # blocks 0..11
    forked = honest.fork()
    for _ in range(heights - 12):
        honest.signed_block(6)
        forked.signed_block(6, tag=" (fork)")
    return honest, forked
