"""A split view, end to end (issue 9, point 6).

Three sub-chains, quorum two. A malicious sealer (a test double: two logs with
one origin and one sealer key) shows one history to sub-chain 1 and another
to sub-chains 2 and 3. Each sub-chain follows its log over HTTP with the one
replication core, verifies, keeps and cosigns, and sends its cosignatures to
the log that showed it the blocks. Only one of the two checkpoints ever
gathers a quorum; sub-chain 1 quarantines the other branch when it is shown
it, and cosigns nothing of it; ``covenant-verify checkpoint --quorum 2``,
aics-tlog and tlog-scales accept the quorate checkpoint and refuse the other.
"""

from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.note import COSIGNATURE_V1, parse_note, vkey
from chalicelib.services.replication import Witness, receive_block
from chalicelib.store.replica_store import ReplicaStore
from chalicelib.verifier.cli import main
from chalicelib.verifier.log_source import HttpLog
from tests.adversarial.ledger_server import LedgerServer, RecordedLedger
from tests.chainmaker import honest_and_fork
from tests.interop.tools import aics_verify, tlog_scales_quorum

HEIGHTS = 16  # blocks 0..15: both histories share blocks 0..11


@pytest.fixture
def views():
    honest, forked = honest_and_fork(HEIGHTS)
    key = honest.signer.key
    shown_to_one = LedgerServer(RecordedLedger(forked.blocks, signers=[key])).start()
    shown_to_others = LedgerServer(RecordedLedger(honest.blocks, signers=[key])).start()
    assert shown_to_one.ledger.origin == shown_to_others.ledger.origin  # one log, as far as anyone can tell
    yield shown_to_one, shown_to_others
    shown_to_one.stop()
    shown_to_others.stop()


def follow(subchain: int, server: LedgerServer, witness: Witness) -> list[str]:
    """What a sub-chain does with a log: every block in order, verified, kept, cosigned, the cosignature sent."""
    log = HttpLog(server.url)
    return [receive_block(ReplicaStore(subchain), {**log.block(height), "kind": "block"}, log, witness)
            for height in range(log.head_height() + 1)]


def _verify(server: LedgerServer, state, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["checkpoint", "--api", server.url, "--state-dir", str(state), "--timeout", "10", *args], out, err)
    return code, out.getvalue() + err.getvalue()


def test_only_one_history_gathers_a_quorum_and_every_verifier_sees_which(aws, views, tmp_path):
    shown_to_one, shown_to_others = views
    witnesses = [Witness(Ed25519PrivateKey.generate()) for _ in range(3)]
    origin = shown_to_others.ledger.origin
    witness_vkeys = [vkey(w.name(origin), w.public, COSIGNATURE_V1) for w in witnesses]
    log_vkey = shown_to_others.ledger.keys[0]["vkey"]

    assert follow(0, shown_to_one, witnesses[0]) == ["applied"] * HEIGHTS
    assert follow(1, shown_to_others, witnesses[1]) == ["applied"] * HEIGHTS
    assert follow(2, shown_to_others, witnesses[2]) == ["applied"] * HEIGHTS
    lonely, quorate = shown_to_one.ledger.checkpoints[-1], shown_to_others.ledger.checkpoints[-1]
    assert parse_note(lonely).body.split("\n")[1] == parse_note(quorate).body.split("\n")[1]  # one size, two roots
    assert parse_note(lonely).body != parse_note(quorate).body

    # sub-chain 1 is now shown the other branch: a fork of what it verified, quarantined and never cosigned
    assert follow(0, shown_to_others, witnesses[0]) == ["duplicate"] * 12 + ["quarantined"] * (HEIGHTS - 12)
    status = ReplicaStore(0).state_record()
    assert status.status == "quarantined" and "fork" in status.reason
    # and sub-chains 2 and 3 refuse the first branch likewise
    assert follow(1, shown_to_one, witnesses[1])[12:] == ["quarantined"] * (HEIGHTS - 12)
    assert shown_to_others.ledger.checkpoints[-1] == quorate and shown_to_one.ledger.checkpoints[-1] == lonely
    assert tlog_scales_quorum(quorate, witness_vkeys) == 2 and tlog_scales_quorum(lonely, witness_vkeys) == 1
    # the shared history (blocks 0..11) was cosigned by all three, on each side
    shared = [shown.ledger.checkpoints[11] for shown in views]
    assert [tlog_scales_quorum(text, witness_vkeys) for text in shared] == [1, 2]

    trust = [arg for v in witness_vkeys for arg in ("--witness-vkey", v)]
    code, said = _verify(shown_to_others, tmp_path / "a", "--vkey", log_vkey, *trust, "--quorum", "2")
    assert code == 0, said
    assert "cosigned by 2 of the 3 witnesses" in said
    code, said = _verify(shown_to_one, tmp_path / "b", "--vkey", log_vkey, *trust, "--quorum", "2")
    assert code == 1 and "no quorum" in said, said


def test_a_stranger_s_tool_checks_the_quorum_too(aws, views):
    """aics-tlog 0.2.1 (Python 3.12), unmodified: verify_checkpoint(..., quorum=2)."""
    shown_to_one, shown_to_others = views
    witnesses = [Witness(Ed25519PrivateKey.generate()) for _ in range(3)]
    origin = shown_to_others.ledger.origin
    witness_vkeys = [vkey(w.name(origin), w.public, COSIGNATURE_V1) for w in witnesses]
    follow(0, shown_to_one, witnesses[0])
    follow(1, shown_to_others, witnesses[1])
    follow(2, shown_to_others, witnesses[2])
    log_vkey = shown_to_others.ledger.keys[0]["vkey"]
    ok, why = aics_verify(shown_to_others.ledger.checkpoints[-1], log_vkey, witness_vkeys, 2)
    assert ok, why
    ok, why = aics_verify(shown_to_one.ledger.checkpoints[-1], log_vkey, witness_vkeys, 2)
    assert not ok and why
