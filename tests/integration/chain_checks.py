"""Whole-chain checks shared by integration tests."""

from __future__ import annotations

import boto3

from chalicelib.domain.entry_types import entry_problem
from chalicelib.ledger.verify import ChainState, MemoryKeyBook, verify_block
from chalicelib.services import reading


def verified_chain(documented: bool = True) -> list[dict]:
    """Every published block, each verified as LEDGER.md says (and each entry as docs/ENTRIES.md says,
    unless a test wrote entries of its own); returns them."""
    state, keys, seen = ChainState.empty(), MemoryKeyBook(), set()
    blocks = []
    for height in range(reading.head()["header"]["height"] + 1):
        block = reading.full_block(height)
        assert block is not None, f"block {height} is missing"
        outcome = verify_block(state, block, keys, seen)
        keys.update(outcome.keys)
        state = outcome.state
        for entry in block["entries"]:  # and every entry is as docs/ENTRIES.md says
            if documented and entry["type"] != "test.note":
                assert entry_problem(entry) is None, (entry_problem(entry), entry)
        blocks.append(block)
    return blocks


def sealed_ids() -> list[str]:
    return [e["id"] for block in verified_chain() for e in block["entries"]]


def pending_count() -> int:
    return boto3.client("dynamodb").scan(TableName="covenant-test-pending", Select="COUNT")["Count"]
