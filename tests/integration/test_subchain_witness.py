"""The witness rule every sub-chain applies (issue 9, point 3), on an operator sub-chain's own table.

A sub-chain cosigns only the checkpoint of the tree it verified itself, signed
by a sealer key it verified, never a fork (quarantined, counted, alarmed),
never another root for a size it cosigned; it keeps its cosignature before
sending it and sends it again until the log takes it.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.errors import BlockUnavailable, CosignatureRefused
from chalicelib.ledger.note import COSIGNATURE_V1, cosigners_of, parse_note, parse_vkey, sign_checkpoint, vkey
from chalicelib.ledger.verify import ChainState, verify_block
from chalicelib.services.replication import FunctionSource, Witness, receive_block
from chalicelib.store.replica_store import ReplicaStore
from tests.chainmaker import ChainMaker, honest_and_fork

CLOCK = 1_800_000_000_000  # ms: the sub-chain's clock, after every test chain's blocks


class Log:
    """A log as a sub-chain sees it: blocks and checkpoints by height, and the cosignatures it was sent."""

    def __init__(self, maker: ChainMaker, refuse: bool = False, down: bool = False):
        self.maker = maker
        self.checkpoints: dict[int, str] = {}  # checkpoints the log lies about; the rest are the maker's
        self.sent: list[tuple[int, str]] = []
        self.refuse, self.down = refuse, down

    def block(self, height: int):
        return self.maker.blocks[height] if height < len(self.maker.blocks) else None

    def checkpoint(self, height: int):
        if height in self.checkpoints:
            return self.checkpoints[height]
        return self.maker.records[height].checkpoint if height < len(self.maker.records) else None

    def submit(self, size: int, line: str) -> None:
        if self.down:
            raise BlockUnavailable("the log is down")
        if self.refuse:
            raise CosignatureRefused("not registered", code="cosigner_unknown")
        self.sent.append((size, line))


@pytest.fixture
def witness():
    return Witness(Ed25519PrivateKey.generate())


def _deliver(log: Log, witness: Witness, heights, replica: int = 0) -> list[str]:
    return [receive_block(ReplicaStore(replica), {**log.maker.blocks[h], "kind": "block"}, log, witness,
                          clock=lambda: CLOCK) for h in heights]


def _witness_vkey(witness: Witness, maker: ChainMaker) -> str:
    origin = parse_note(maker.records[0].checkpoint).body.split("\n")[0]
    return vkey(witness.name(origin), witness.public, COSIGNATURE_V1)


def test_a_sub_chain_cosigns_each_tree_it_verified_and_the_lines_verify(aws, witness):
    maker = ChainMaker().with_signed_entries(blocks=3, per_block=4)
    log = Log(maker)
    assert _deliver(log, witness, range(len(maker.blocks))) == ["applied"] * len(maker.blocks)
    assert [size for size, _ in log.sent] == [json_size(r.checkpoint) for r in maker.records]
    verifier = parse_vkey(_witness_vkey(witness, maker))
    for (_size, line), record in zip(log.sent, maker.records, strict=True):
        note = parse_note(record.checkpoint + line)
        assert cosigners_of(note, [verifier]) == {verifier.name: CLOCK // 1000}
    kept = ReplicaStore(0).witnessed()
    assert (kept.size, kept.submitted) == (log.sent[-1][0], True)


def json_size(checkpoint: str) -> int:
    return int(parse_note(checkpoint).body.split("\n")[1])


def test_a_fork_is_quarantined_counted_and_never_cosigned(aws, witness):
    honest, forked = honest_and_fork(14)
    log = Log(honest)
    _deliver(log, witness, range(14))
    sent = list(log.sent)
    kept = ReplicaStore(0).witnessed()
    # the other branch's blocks 12 and 13, signed by the same sealer, arrive later
    other = Log(forked)
    assert _deliver(other, witness, [12, 13]) == ["quarantined", "quarantined"]
    assert other.sent == [] and ReplicaStore(0).witnessed() == kept and log.sent == sent
    status = ReplicaStore(0).state_record()
    assert status.status == "quarantined" and "fork" in status.reason
    # and the honest chain goes on being cosigned
    honest.signed_block(6)
    _deliver(log, witness, [14])
    assert log.sent[-1][0] == json_size(honest.records[14].checkpoint)


def test_a_checkpoint_that_is_not_the_verified_tree_is_not_cosigned(aws, witness):
    maker = ChainMaker().with_signed_entries(blocks=2, per_block=3)
    log = Log(maker)
    _deliver(log, witness, range(len(maker.blocks)))
    head = maker.records[-1]
    origin = parse_note(head.checkpoint).body.split("\n")[0]
    size = json_size(head.checkpoint)
    # the sealer's own key signs a checkpoint of the head's size with another root: a split view of the tree
    maker.signed_block(2)
    lying = sign_checkpoint(origin, json_size(maker.records[-1].checkpoint), b"\x07" * 32, maker.signer.key)
    lied = len(maker.blocks) - 1
    log.checkpoints[lied] = lying
    before = list(log.sent)
    assert _deliver(log, witness, [lied]) == ["applied"]
    assert log.sent == before and ReplicaStore(0).witnessed().size == size
    status = ReplicaStore(0).state_record()
    assert status.status == "checkpoint_refused" and "not the tree this sub-chain verified" in status.reason


def test_a_checkpoint_not_signed_by_the_sealer_is_not_cosigned(aws, witness):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=3)
    log = Log(maker)
    record = maker.records[-1]
    body = parse_note(record.checkpoint).body
    origin, size, root = body.split("\n")[:3]
    log.checkpoints[len(maker.records) - 1] = sign_checkpoint(origin, int(size), base64.b64decode(root),
                                                              Ed25519PrivateKey.generate())
    _deliver(log, witness, range(len(maker.blocks)))
    assert [s for s, _ in log.sent] == [json_size(r.checkpoint) for r in maker.records[:-1]]
    assert "not signed by the head block's sealer" in ReplicaStore(0).state_record().reason


def test_a_cosignature_is_kept_before_it_is_sent_and_sent_again_until_the_log_takes_it(aws, witness):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=3)
    log = Log(maker, down=True)
    with pytest.raises(BlockUnavailable):  # the SQS message is retried
        _deliver(log, witness, [0])
    kept = ReplicaStore(0).witnessed()
    assert kept.size == json_size(maker.records[0].checkpoint) and not kept.submitted and kept.line
    log.down = False
    assert _deliver(log, witness, [0]) == ["duplicate"]  # the redelivery sends the very line it kept
    assert log.sent == [(kept.size, kept.line)] and ReplicaStore(0).witnessed().submitted


def test_a_refused_cosignature_is_kept_and_does_not_fail_the_message(aws, witness):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=3)
    log = Log(maker, refuse=True)
    assert _deliver(log, witness, range(len(maker.blocks))) == ["applied"] * len(maker.blocks)
    assert not ReplicaStore(0).witnessed().submitted
    with pytest.raises(CosignatureRefused) as caught:
        FunctionSource(lambda h: None).submit(1, "line")  # a source that takes no cosignatures
    assert caught.value.code == "cosignature_refused"


def test_without_a_key_a_sub_chain_verifies_and_keeps_but_cosigns_nothing(aws):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=3)
    log = Log(maker)
    assert [receive_block(ReplicaStore(1), {**b, "kind": "block"}, log) for b in maker.blocks] == ["applied"] * 3
    assert log.sent == [] and ReplicaStore(1).witnessed().size == 0


def test_a_sub_chain_cosigns_only_under_the_origin_it_follows(aws, witness):
    maker = ChainMaker().with_signed_entries(blocks=1, per_block=3)
    log = Log(maker)
    # told the log's origin (COVENANT_ORIGIN, or a consumer's registered name): another one is never cosigned
    assert [receive_block(ReplicaStore(0), {**b, "kind": "block"}, log, witness, clock=lambda: CLOCK,
                          origin="covenant.example/ledger") for b in maker.blocks] == ["applied"] * 3
    assert log.sent == [] and "not signed by the head block's sealer for 'covenant.example/ledger'" in \
        ReplicaStore(0).state_record().reason
    # untold, it takes the origin the genesis checkpoint names, and holds every later checkpoint to it
    other = Log(maker)
    _, size, root = parse_note(maker.records[-1].checkpoint).body.split("\n")[:3]
    other.checkpoints[len(maker.records) - 1] = sign_checkpoint("elsewhere.example/log", int(size),
                                                                base64.b64decode(root), maker.signer.key)
    assert [receive_block(ReplicaStore(1), {**b, "kind": "block"}, other, witness, clock=lambda: CLOCK)
            for b in maker.blocks] == ["applied"] * 3
    assert [s for s, _ in other.sent] == [json_size(r.checkpoint) for r in maker.records[:-1]]
    assert "for 'localhost/covenant/" in ReplicaStore(1).state_record().reason


def test_a_rival_block_at_a_height_another_block_claimed_is_quarantined_as_a_fork(aws, witness):
    honest, forked = honest_and_fork(13)
    log = Log(honest)
    _deliver(log, witness, range(12))
    store = ReplicaStore(0)
    head = store.state()
    # the genuine block 12 claimed its height, and its head write lost a race (a crash, or a stale head)
    outcome = verify_block(head, honest.blocks[12], store, store)
    stale = ChainState(head.height - 1, head.hash, head.log_size, head.frontier, head.stamp_node)
    assert not store.apply(stale, outcome, honest.blocks[12], CLOCK)
    assert store.block_hash(12) == honest.blocks[12]["hash"] and store.state().height == 11
    # the other branch's block 12 verifies against the head, but may not take the claimed height
    assert _deliver(Log(forked), witness, [12]) == ["quarantined"]
    assert "fork" in ReplicaStore(0).state_record().reason
    assert _deliver(log, witness, [12]) == ["applied"]  # the genuine one finishes
