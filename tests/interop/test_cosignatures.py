"""Strangers' tools, unmodified, check the cosignatures our code makes and the quorum our verifier counts.

- tlog-scales (PyPI, in the project's venv): ``Checkpoint.verify`` with a
  witness's vkey (type 0x04) accepts each cosignature line that
  ledger/note.py's ``cosignature_line`` made, and refuses a changed one or
  one of another checkpoint; ``VkeySet.verify`` counts the valid witnesses.
- aics-tlog 0.2.1 (PyPI, Python 3.12+, a venv of its own: tools.py):
  ``verify_checkpoint(note, log vkey, witnesses, quorum=k)`` accepts a
  checkpoint with k valid cosignatures and refuses one with fewer.

And each agrees with ``chalicelib.verifier.checkpoints`` (the rule behind
``covenant-verify checkpoint --quorum``) on who cosigned.
"""

from __future__ import annotations

import itertools
import time

import pytest
from tlog_scales.signing import Vkey
from tlog_scales.tlog import Checkpoint

from chalicelib.ledger import note
from chalicelib.verifier import checkpoints
from tests.adversarial.ledger_server import RecordedLedger, Witness, flipped
from tests.chainmaker import ChainMaker
from tests.interop.tools import aics_result, aics_verify, tlog_scales_quorum

MAKER = ChainMaker().with_signed_entries(blocks=3, per_block=4)
LEDGER = RecordedLedger(MAKER.blocks, signers=[MAKER.signer.key])
ORIGIN = LEDGER.origin
LOG_VKEY = note.vkey(ORIGIN, MAKER.signer.key.public_key())
A, B, C = (Witness.new(ORIGIN) for _ in range(3))
STRANGER = Witness.new(ORIGIN)
NOW = int(time.time())


def _checkpoint(height: int = -1) -> str:
    text = LEDGER.checkpoints[height]
    assert text is not None
    return text


def cosigned(*witnesses: Witness, height: int = -1) -> str:
    text = _checkpoint(height)
    for witness in witnesses:
        text += witness.line(text, NOW)
    return text


def _ours(text: str, witnesses: list[str]) -> int:
    verifiers = [note.parse_vkey(v) for v in witnesses]
    return len(checkpoints.cosigned_by(note.parse_note(text), verifiers, NOW))


def _tlog_scales_accepts(text: str, vkey: str) -> bool:
    try:
        Checkpoint.from_text(text).verify(Vkey.from_string(vkey))
    except Exception:  # any refusal: a parse error, no line of that key, a bad signature
        return False
    return True


# --- tlog-scales

def test_tlog_scales_verifies_each_cosignature_our_code_made():
    text = cosigned(A, B, STRANGER)
    for witness in (A, B, STRANGER):
        assert _tlog_scales_accepts(text, witness.vkey), witness.name
    assert _tlog_scales_accepts(text, LOG_VKEY)
    assert not _tlog_scales_accepts(text, C.vkey)  # no line of C


@pytest.mark.parametrize("byte", [0, 4, 11, 12, 40, 75],
                         ids=["key-id", "time", "time-end", "sig", "sig-mid", "sig-end"])
def test_tlog_scales_refuses_a_changed_cosignature_line(byte):
    line = A.line(_checkpoint(), NOW)
    assert _tlog_scales_accepts(_checkpoint() + line, A.vkey)
    assert not _tlog_scales_accepts(_checkpoint() + flipped(line, byte), A.vkey)
    problem = checkpoints.quorum_problem(note.parse_note(_checkpoint() + flipped(line, byte)),
                                         [note.parse_vkey(A.vkey)], 1, NOW)
    if byte < 4:  # another key ID: another key's line, which ours ignores as tlog-scales does
        assert problem == "cosigned by 0 of the 1 witnesses given, below the quorum of 1"
    else:
        assert problem is not None and "does not verify" in problem


def test_tlog_scales_refuses_a_cosignature_of_another_checkpoint():
    pasted = _checkpoint() + A.line(_checkpoint(2), NOW)
    assert not _tlog_scales_accepts(pasted, A.vkey)
    assert "does not verify" in str(checkpoints.quorum_problem(note.parse_note(pasted), [note.parse_vkey(A.vkey)], 1,
                                                               NOW))


def test_tlog_scales_counts_the_quorum_as_ours_does():
    trusted = [A.vkey, B.vkey, C.vkey]
    for n in range(4):
        for chosen in itertools.combinations((A, B, C, STRANGER), n):
            text = cosigned(*chosen)
            expected = len([w for w in chosen if w is not STRANGER])
            assert tlog_scales_quorum(text, trusted) == _ours(text, trusted) == expected, [w.name for w in chosen]
    doubled = cosigned(A, A, B)  # two lines of one witness count once
    assert tlog_scales_quorum(doubled, trusted) == _ours(doubled, trusted) == 2


# --- aics-tlog, Python 3.12

def test_aics_tlog_accepts_a_quorum_of_our_cosignatures_and_refuses_fewer():
    trusted = [A.vkey, B.vkey, C.vkey]
    two, one = cosigned(A, C, STRANGER), cosigned(B, STRANGER)
    ok, said = aics_verify(two, LOG_VKEY, trusted, 2)
    assert ok, said
    assert said == f"cosigned by 2: {A.name}, {C.name}"
    ok, said = aics_verify(two, LOG_VKEY, trusted, 3)
    assert not ok and said == "quorum not met: 2 valid fresh cosignatures < 3"
    ok, said = aics_verify(one, LOG_VKEY, trusted, 2)
    assert not ok and said == "quorum not met: 1 valid fresh cosignatures < 2"
    # and ours says the same
    assert checkpoints.quorum_problem(note.parse_note(two), [note.parse_vkey(v) for v in trusted], 2, NOW) is None
    assert checkpoints.quorum_problem(note.parse_note(two), [note.parse_vkey(v) for v in trusted], 3, NOW) is not None
    assert checkpoints.quorum_problem(note.parse_note(one), [note.parse_vkey(v) for v in trusted], 2, NOW) is not None


def test_aics_tlog_refuses_what_ours_refuses():
    trusted = [A.vkey, B.vkey]
    base = cosigned(A)
    forged = base + flipped(B.line(base, NOW), 40)
    ok, said = aics_verify(forged, LOG_VKEY, trusted, 1)
    assert not ok and said == f"cosignature from {B.name} failed verification"
    pasted = base + B.line(_checkpoint(2), NOW)
    ok, said = aics_verify(pasted, LOG_VKEY, trusted, 1)
    assert not ok and said == f"cosignature from {B.name} failed verification"
    other_log = note.vkey(ORIGIN, Witness.new(ORIGIN).key.public_key())
    ok, said = aics_verify(base, other_log, trusted, 1)
    assert not ok and said.startswith("no signature from log key ")


def test_aics_tlog_refuses_two_lines_of_one_trusted_witness_that_ours_counts_once():
    """AICS-1 6.2: a repeated line of a recognised key is a malformed note to aics-tlog; Go's note.Open and our
    verifier count the key once. So a log should serve one line per cosigner per checkpoint."""
    doubled = cosigned(A, A, B)
    result = aics_result(doubled, LOG_VKEY, [A.vkey, B.vkey], 1)
    assert not result["ok"] and str(result["error"]).startswith(f"duplicate signature line for {A.name} ")
    assert checkpoints.quorum_problem(note.parse_note(doubled), [note.parse_vkey(A.vkey), note.parse_vkey(B.vkey)],
                                      2, NOW) is None
