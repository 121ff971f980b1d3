"""Whole-chain checks shared by integration tests."""

from __future__ import annotations

import boto3

from chalicelib.ledger.entry_schemas import data_problem
from chalicelib.ledger.verify import ChainState, MemoryKeyBook, MemoryNonceBook, verify_block
from chalicelib.services import reading


def verified_chain() -> list[dict]:
    """Every published block, each verified as LEDGER.md and docs/ENTRIES.md say; returns them."""
    state, keys, nonces, seen = ChainState.empty(), MemoryKeyBook(), MemoryNonceBook(), set()
    blocks = []
    for height in range(reading.head()["header"]["height"] + 1):
        block = reading.full_block(height)
        assert block is not None, f"block {height} is missing"
        outcome = verify_block(state, block, keys, nonces, seen)
        for entry in block["entries"]:  # and each entry's data follows its type's schema (docs/ENTRIES.md)
            problem = data_problem(entry["type"], entry["data"])
            assert problem is None, f"entry {entry['id']} ({entry['type']}): {problem}"
        keys.update(outcome.keys)
        nonces.remember(outcome.nonces)
        state = outcome.state
        blocks.append(block)
    return blocks


def sealed_ids() -> list[str]:
    return [e["id"] for block in verified_chain() for e in block["entries"]]


def pending_count() -> int:
    return boto3.client("dynamodb").scan(TableName="covenant-test-pending", Select="COUNT")["Count"]
