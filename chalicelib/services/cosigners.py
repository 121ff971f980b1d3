"""Sub-chains as cosigners: registration, retirement, the listing, and the cosignatures the log collects.

A sub-chain enters the ledger by a ``subchain.registered`` entry, made by a
request its owner node signs, naming the sub-chain's public key. The stamp
node registers the operator's sub-chains; any other node runs at most one
(so that a node cannot outvote others by registering many). A cosignature is
a C2SP tlog-cosignature v1 line, sent without an RFC 9421 signature because
it is self-authenticating: the log checks it against the registered key and
the checkpoint of that size, and keeps the first line of each sub-chain for
each size. A cosignature of a tree vouches for every smaller tree it
contains (the sub-chain never cosigns an inconsistent one), so each
cosigner's largest cosigned size is all that finality needs to read.
"""

from __future__ import annotations

import time
from typing import Any

from ..domain.records import COSIGNERS, Cosignature, Cosigner, KeyBinding, SubchainSlot, cosignatures_pk
from ..errors import Conflict, CovenantError, Forbidden, InvalidParameter, NotFound
from ..ledger.cosigners import SUBCHAIN_ID, cosigner_of, public_key_bytes
from ..ledger.keys import kid_of
from ..ledger.note import NoteError, parse_note, parse_signature_line, parse_vkey, verify_cosignature
from ..store import backend, ledger
from ..store.ledger_records import Block
from ..store.port import Delete, Eq, Put, Update
from .ledger import Draft, commit, new_entry_id, now_ms
from .program import STAMP_NODE, allowed
from .sealing import header_of
from .signed import SignedRequest

# A cosignature may be stamped this far ahead of the log's clock (skew: well inside the 600 s a reader allows
# ahead of its own clock), and no more than MAX_CLOCK_SKEW_SECONDS before its block was sealed.
MAX_AHEAD_SECONDS = 60
MAX_CLOCK_SKEW_SECONDS = 600
MAX_COSIGNATURE_LINE = 400


class CosignerRefused(CovenantError):
    status = 400
    code = "cosignature_invalid"


def _refused(message: str) -> CosignerRefused:
    return CosignerRefused(message, field="cosignature")


def get_cosigner(subchain_id: str) -> Cosigner:
    found = backend.state().get(Cosigner, Cosigner.key_of(subchain_id)) if SUBCHAIN_ID.match(subchain_id) else None
    if found is None:
        raise NotFound(f"there is no sub-chain {subchain_id}", field="subchain_id", code="cosigner_unknown")
    return found


def all_cosigners() -> list[Cosigner]:
    return backend.state().query(Cosigner, COSIGNERS)


# A sub-chain that has neither cosigned nor been registered for this long counts as stopped: it leaves the
# denominator of finality until it cosigns again, so that one that never runs cannot block orders for good.
LIVENESS_MS = 60 * 60 * 1000


def active_cosigners(now: int | None = None) -> list[Cosigner]:
    """The sub-chains finality counts: not retired, owned by an active node, and live (they cosigned, or were
    registered, within ``LIVENESS_MS``)."""
    from ..domain.records import Node

    now = now_ms() if now is None else now
    candidates = [c for c in all_cosigners() if c.status == "active"
                  and max(c.cosigned_time * 1000, c.ts) >= now - LIVENESS_MS]
    owners = backend.state().get_many(Node, [Node.key_of(n) for n in {c.node_id for c in candidates}])
    active = {node.node_id for node in owners.values() if node.status == "active"}
    return [c for c in candidates if c.node_id in active]


def register(signed: SignedRequest, public_key: str) -> tuple[int, dict[str, Any]]:
    """``POST /subchains``: the signer's node registers a sub-chain by its public key."""
    from .sealing import log_origin

    _, guard = allowed("subchain")
    node = signed.node
    if node is None or node.status != "active":
        raise Forbidden("only an active node registers a sub-chain", code="node_not_active")
    try:
        public = public_key_bytes(public_key)
    except NoteError as exc:
        raise InvalidParameter(str(exc), field="public_key") from exc
    kid = kid_of(public)
    if backend.state().get(KeyBinding, KeyBinding.key_of(kid)) is not None:
        raise Conflict("this key is a node's key; a sub-chain's key is used for nothing else", field="public_key",
                       code="key_in_use")
    cosigner = cosigner_of(log_origin(), public)
    if backend.state().get(Cosigner, Cosigner.key_of(cosigner["id"])) is not None:
        raise Conflict(f"the sub-chain {cosigner['id']} is already registered", field="public_key",
                       code="subchain_exists")
    _one_per_node(node.node_id)
    ts = now_ms()
    entry_id = new_entry_id(ts)
    record = Cosigner(subchain_id=cosigner["id"], name=cosigner["name"], vkey=cosigner["vkey"], node_id=node.node_id,
                      registered_entry=entry_id, ts=ts)
    answer = {"subchain": record.subchain_id, "name": record.name, "vkey": record.vkey, "node": node.node_id,
              "status": "active", "entry": entry_id}
    changes: list[Any] = [guard, Put(record), signed.remember(201, answer)]
    if node.node_id != STAMP_NODE:
        changes.append(Put(SubchainSlot(node_id=node.node_id, subchain_id=record.subchain_id)))
    try:
        commit([Draft("subchain.registered", node.node_id, {"cosigner": cosigner, "node": node.node_id}, signed.auth,
                      id=entry_id)], changes)
    except Conflict as exc:
        if backend.state().get(Cosigner, Cosigner.key_of(cosigner["id"])) is not None:
            raise Conflict(f"the sub-chain {cosigner['id']} is already registered", field="public_key",
                           code="subchain_exists") from exc
        _one_per_node(node.node_id)
        raise
    return 201, answer


def _one_per_node(node_id: str) -> None:
    if node_id != STAMP_NODE and backend.state().get(SubchainSlot, SubchainSlot.key_of(node_id)) is not None:
        raise Conflict("this node already runs a sub-chain; retire it first", code="subchain_limit")


def retire(signed: SignedRequest, subchain_id: str) -> tuple[int, dict[str, Any]]:
    """``POST /subchains/{id}/retirement``: its owner, or the stamp node (which curates the sub-chains finality
    counts), retires a sub-chain; its cosignatures count no more."""
    _, guard = allowed("subchain")
    cosigner = get_cosigner(subchain_id)
    if signed.node_id not in (cosigner.node_id, STAMP_NODE):
        raise Forbidden(f"the sub-chain {subchain_id} is not the signer's", field="subchain_id",
                        code="not_your_subchain")
    if cosigner.status != "active":
        raise Conflict(f"the sub-chain {subchain_id} is already retired", field="subchain_id",
                       code="cosigner_retired")
    entry_id = new_entry_id(now_ms())
    answer = {"subchain": subchain_id, "status": "retired", "entry": entry_id}
    changes: list[Any] = [guard, Update.of(cosigner, set={"status": "retired", "retired_entry": entry_id},
                                           when=(Eq("status", "active"),)), signed.remember(200, answer)]
    if cosigner.node_id != STAMP_NODE:
        changes.append(Delete(SubchainSlot, SubchainSlot.key_of(cosigner.node_id)))
    try:
        commit([Draft("subchain.retired", str(signed.node_id), {"id": subchain_id, "node": cosigner.node_id},
                      signed.auth, id=entry_id)], changes)
    except Conflict as exc:
        if get_cosigner(subchain_id).status != "active":
            raise Conflict(f"the sub-chain {subchain_id} is already retired", field="subchain_id",
                           code="cosigner_retired") from exc
        raise
    return 200, answer


# --- the public listing (LEDGER.md): only what the log's entries show


def _index_of(entry_id: str | None) -> int | None:
    position = ledger.position_of(entry_id) if entry_id else None
    return int(position.idx) if position is not None else None


def listing() -> dict[str, Any]:
    """``GET /cosigners``: every sub-chain whose registration is in the published log (the newest completed
    block's tree), with the entry indices that registered and retired it (``retired`` null until then)."""
    top = ledger.completed_height()
    head = ledger.get_block(top) if top >= 0 else None
    published = _size_of(head) if head is not None else 0

    def within(entry_id: str | None) -> int | None:
        index = _index_of(entry_id)
        return index if index is not None and index < published else None

    answer = []
    for cosigner in all_cosigners():
        registered = within(cosigner.registered_entry)
        if registered is None:
            continue  # not yet in any published tree: it can cosign nothing yet
        answer.append({"id": cosigner.subchain_id, "name": cosigner.name, "vkey": cosigner.vkey,
                       "registered": registered, "retired": within(cosigner.retired_entry),
                       "node": cosigner.node_id, "cosigned_size": cosigner.cosigned_size})
    return {"cosigners": answer}


# --- cosignatures


def block_of_size(size: int) -> Block | None:
    """The completed block whose checkpoint has ``size`` entries: the head (most cosign it), else a binary
    search by height, since sizes grow with heights."""
    top = ledger.completed_height()
    low, high = 0, top
    probe = top  # the newest first
    while low <= high:
        block = ledger.get_block(probe)
        if block is None:
            return None
        found = _size_of(block)
        if found == size:
            return block
        if found < size:
            low = probe + 1
        else:
            high = probe - 1
        probe = (low + high) // 2
    return None


def _size_of(block: Block) -> int:
    return int(header_of(block)["log_size"])


# signed-note readers may refuse a note of more than 100 signatures (Go's note.Open does): the log's own and 99
MAX_SERVED_COSIGNATURES = 99


def lines_of(size: int) -> list[str]:
    """The cosignature lines served with the checkpoint of ``size`` entries: at most 99, the operator's
    sub-chains first, then the earliest; in sub-chain id order."""
    found = backend.state().query(Cosignature, cosignatures_pk(size))
    chosen = sorted(found, key=lambda c: (not c.operator, c.time, c.subchain_id))[:MAX_SERVED_COSIGNATURES]
    return [c.line for c in sorted(chosen, key=lambda c: c.subchain_id)]


def submit(size: int, text: str, clock: Any = time.time) -> tuple[int, dict[str, Any]]:
    """``POST /checkpoints/{size}/cosignatures``: verify one cosignature line and keep it."""
    if len(text) > MAX_COSIGNATURE_LINE:
        raise _refused(f"a cosignature line is at most {MAX_COSIGNATURE_LINE} characters")
    try:
        signature = parse_signature_line(text)
    except NoteError as exc:
        raise _refused(f"not a signature line: {exc}") from exc
    sub_id = signature.name.rpartition("/subchain/")[2]
    try:
        cosigner = get_cosigner(sub_id)
    except NotFound as exc:
        raise NotFound(f"{signature.name} is not a registered sub-chain", field="cosignature",
                       code="cosigner_unknown") from exc
    verifier = parse_vkey(cosigner.vkey)
    if signature.name != verifier.name or signature.key_id != verifier.key_id:
        raise NotFound(f"{signature.name} with key ID {signature.key_id.hex()} is not a registered sub-chain key",
                       field="cosignature", code="cosigner_unknown")
    if cosigner.status != "active":
        raise Conflict(f"the sub-chain {sub_id} is retired; its cosignatures count no more", field="cosignature",
                       code="cosigner_retired")
    # what needs no read first: the line's shape and time (the block search and the signature come after)
    if len(signature.blob) != 8 + 64:
        raise _refused("a cosignature holds an 8-byte time and a 64-byte Ed25519 signature")
    if int.from_bytes(signature.blob[:8], "big") > int(clock()) + MAX_AHEAD_SECONDS:
        raise _refused("the cosignature's time is ahead of the log's clock by more than a minute")
    registered = _index_of(cosigner.registered_entry)
    if registered is None or registered >= size:
        raise NotFound(f"the sub-chain {sub_id} is not registered within the tree of {size} entries",
                       field="cosignature", code="cosigner_unknown")
    block = block_of_size(size)
    if block is None or not block.checkpoint:
        raise NotFound(f"no checkpoint has {size} entries", field="size", code="checkpoint_unknown")
    body = parse_note(block.checkpoint).body
    try:
        when = verify_cosignature(body, signature, verifier)
    except NoteError as exc:
        raise _refused(f"the cosignature does not verify on the checkpoint of {size} entries: {exc}") from exc
    sealed_at = int(header_of(block)["ts"]) // 1000
    if not sealed_at - MAX_CLOCK_SKEW_SECONDS <= when <= int(clock()) + MAX_AHEAD_SECONDS:
        raise _refused(f"the cosignature's time {when} is before the block was sealed or ahead of the log's clock")
    line = signature.line
    stored = True
    try:
        backend.state().apply([Put(Cosignature(size=size, subchain_id=sub_id, line=line, time=when,
                                               operator=cosigner.node_id == STAMP_NODE))])
    except Conflict:
        stored = False  # the sub-chain's first cosignature of this size is kept; this one is a repeat
    _raise_cosigned(cosigner, size, when)
    if stored:
        _publish_cosigned(block, size)
    return (201 if stored else 200), {"size": size, "subchain": sub_id, "time": when, "stored": stored}


def _publish_cosigned(block: Block, size: int) -> None:
    """The tiles' ``checkpoint`` object carries the newest checkpoint's cosignatures too (C2SP tlog-tiles readers
    read it there); a failure here loses nothing: the line is stored, and the next cosignature writes it."""
    from ..store import log_bucket
    from .reading import checkpoint_with_cosignatures

    if ledger.completed_height() != block.height:
        return
    try:
        log_bucket.advance_checkpoint(checkpoint_with_cosignatures(block), size)
    except CovenantError:
        from ..observability import logger

        logger.warning("the log bucket's checkpoint lacks a cosignature for now", extra={"size": size})


def _raise_cosigned(cosigner: Cosigner, size: int, when: int) -> None:
    """Move the sub-chain's largest cosigned size up to ``size`` (never down), against concurrent submissions."""
    current = cosigner
    for _ in range(5):
        if current.cosigned_size >= size:
            return
        try:
            backend.state().apply([Update(Cosigner, current.key, set={"cosigned_size": size, "cosigned_time": when},
                                          when=(Eq("cosigned_size", current.cosigned_size),), ordered=False)])
            return
        except Conflict:
            current = get_cosigner(cosigner.subchain_id)
