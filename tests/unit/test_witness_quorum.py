"""The witness quorum rule (chalicelib/verifier/checkpoints.py), pure: who cosigned, and whether it is enough."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger import note
from chalicelib.ledger.cosigners import cosigner_of
from chalicelib.ledger.keys import raw_public
from chalicelib.verifier.checkpoints import MAX_FUTURE_SECONDS, cosigned_by, distinct_witnesses, quorum_problem

ORIGIN = "ledger.example/covenant"
LOG = Ed25519PrivateKey.generate()
TEXT = note.sign_checkpoint(ORIGIN, 7, bytes(range(32)), LOG)
BODY = note.parse_note(TEXT).body
NOW = 1_800_000_000


def witness(name: str | None = None, key: Ed25519PrivateKey | None = None) -> tuple[Ed25519PrivateKey, note.Verifier]:
    key = key or Ed25519PrivateKey.generate()
    name = name or cosigner_of(ORIGIN, raw_public(key.public_key()))["name"]
    return key, note.parse_vkey(note.vkey(name, key.public_key(), note.COSIGNATURE_V1))


(KA, A), (KB, B), (KC, C) = witness(), witness(), witness()


def signed(*lines: str) -> note.Note:
    return note.parse_note(TEXT + "".join(lines))


def line(key: Ed25519PrivateKey, verifier: note.Verifier, when: int = NOW) -> str:
    return note.cosignature_line(verifier.name, BODY, key, when)


def test_a_quorum_of_distinct_witnesses():
    cosigned = signed(line(KA, A), line(KC, C, NOW - 5))
    assert quorum_problem(cosigned, [A, B, C], 2, NOW) is None
    assert cosigned_by(cosigned, [A, B, C], NOW) == [(A, NOW), (C, NOW - 5)]
    assert quorum_problem(cosigned, [A, B, C], 3, NOW) == (
        f"cosigned by 2 of the 3 witnesses given ({A.name}+{A.key_id.hex()}, {C.name}+{C.key_id.hex()}), below the "
        "quorum of 3")
    assert quorum_problem(signed(line(KA, A)), [], 0, NOW) is None
    assert quorum_problem(signed(line(KA, A)), [A], 2, NOW) == "a quorum of 2 of 1 distinct witnesses can never be met"


def test_one_witness_counts_once():
    _, also_a = witness("other.example/w", KA)
    assert distinct_witnesses([A, A, also_a, B]) == [A, B]
    cosigned = signed(line(KA, A), line(KA, A, NOW - 1), line(KA, also_a))
    assert cosigned_by(cosigned, [A, also_a, B], NOW) == [(A, NOW)]
    assert quorum_problem(cosigned, [A, also_a, B], 2, NOW) is not None


def test_a_bad_line_of_a_trusted_witness_is_a_problem_not_a_missing_cosignature():
    other_body = note.checkpoint_body(ORIGIN, 8, bytes(32))
    pasted = note.cosignature_line(B.name, other_body, KB, NOW)
    problem = quorum_problem(signed(line(KA, A), pasted), [A, B], 1, NOW)
    assert problem == (f"the cosignature by {B.name}+{B.key_id.hex()}, a trusted witness, does not verify (forged, or "
                       "a cosignature of another checkpoint)")
    assert quorum_problem(signed(line(KA, A), pasted), [A], 1, NOW) is None  # B not trusted: its line is ignored


def test_the_future_bound():
    assert quorum_problem(signed(line(KA, A, NOW + MAX_FUTURE_SECONDS)), [A], 1, NOW) is None
    problem = quorum_problem(signed(line(KA, A, NOW + MAX_FUTURE_SECONDS + 1)), [A], 1, NOW)
    assert problem is not None and problem.endswith(f", {MAX_FUTURE_SECONDS + 1} s ahead of this clock (at most 600 s "
                                                    "allowed)")


def test_a_log_key_is_no_witness():
    log = note.parse_vkey(note.vkey(ORIGIN, LOG.public_key()))
    assert quorum_problem(signed(), [log], 1, NOW) == (f"the witness key {ORIGIN}+{log.key_id.hex()} is not a "
                                                       "cosignature/v1 (type 0x04) key")
