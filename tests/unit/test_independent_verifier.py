"""A verifier written from LEDGER.md alone, by someone who had not read this code, accepts our chain.

tests/independent/ledger_spec_verifier.py was written blind to chalicelib/: it
is the "independent verifier" LEDGER.md promises. It must accept what we seal
and reject any change; the end-to-end test runs it on a real export too.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.canonical import canonical
from tests.chainmaker import ChainMaker
from tests.independent.ledger_spec_verifier import SpecViolation, verify_chain

MAKER = ChainMaker().with_signed_entries(blocks=3, per_block=6)
CHAIN = MAKER.blocks
SEALERS = [MAKER.signer.kid]


def test_it_accepts_our_chain():
    verify_chain(copy.deepcopy(CHAIN), CHAIN[0]["hash"], sealer_kids=SEALERS)


@given(st.data())
def test_it_rejects_any_flipped_byte_we_seal(data):
    chain = copy.deepcopy(CHAIN)
    height = data.draw(st.integers(0, len(chain) - 1))
    index = data.draw(st.integers(-1, len(chain[height]["entries"]) - 1))
    target = chain[height]["header"] if index < 0 else chain[height]["entries"][index]
    raw = bytearray(canonical(target))
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    try:
        changed = json.loads(raw.decode("utf-8"))
    except ValueError:
        return
    if index < 0:
        chain[height]["header"] = changed
    else:
        chain[height]["entries"][index] = changed
    with pytest.raises(SpecViolation):
        verify_chain(chain, sealer_kids=SEALERS)
