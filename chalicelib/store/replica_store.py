"""A replica's own table: its verified copy of the chain, its keys, the signed requests seen, its quarantine."""

from __future__ import annotations

import json
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError, PynamoDBException, UpdateError

from ..errors import StorageError
from ..ledger.format import is_key_id
from ..ledger.quarantine import (
    MAX_HEADER_CHARS,
    MAX_REASON_CHARS,
    MAX_SHOWN_HASH_CHARS,
    bounded_json,
    cut,
    is_height,
    quarantine_key,
)
from ..ledger.verify import BlockOutcome, ChainState, KeyRecord, SignedRequest, nonce_digest
from .models import ReplicaRecord, replica_model

if TYPE_CHECKING:
    from ..services.replication import Witnessed

STATE_KEY = "state"
WITNESS_KEY = "witness"
def _condition_failed(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


class ReplicaStore:
    """Reads and writes of one replica; key records are cached for the life of the object."""

    def __init__(self, replica: int):
        self.replica = replica
        self.label = str(replica)
        self._head: ChainState | None = None
        self.model = replica_model(replica)
        self._keys: dict[str, KeyRecord | None] = {}

    def _get(self, pk: str) -> ReplicaRecord | None:
        try:
            return self.model.get(pk, consistent_read=True)
        except self.model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StorageError(f"replica {self.replica} could not read {pk}") from exc

    def state_record(self) -> ReplicaRecord | None:
        return self._get(STATE_KEY)

    def state(self) -> ChainState:
        record = self.state_record()
        if record is None or record.height is None:
            self._head = ChainState.empty()
            return self._head
        self._head = ChainState(
            height=int(record.height),
            hash=str(record.hash),
            log_size=int(record.log_size or 0),
            frontier=tuple(bytes.fromhex(x) for x in record.frontier or []),
            stamp_node=record.owner if record.owner is not None else self._genesis_owner(),
        )
        return self._head

    def _applied(self) -> ChainState:
        """The head the books are read at: the last one read (each delivery reads it first), else now.

        A block's entries, keys and nonces are written before the conditional
        write of its head, so a crash (or a lost race) between them leaves rows
        of a block that is not applied: the books ignore rows from beyond the
        head, so that the block's redelivery verifies as it did the first time.
        """
        return self._head if self._head is not None else self.state()

    # Tables written before owners were kept (no ``owner`` attribute) are read
    # from the entries this replica stored: the registering entry names the owner.

    def _registrant(self, index: int) -> str:
        found = self.entries(index, index)
        entry = found[0] if found else None
        data = entry.get("data") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(data, dict):
            return ""
        owner = data["node"] if "node" in data else entry.get("actor")
        return owner if isinstance(owner, str) else ""

    def _genesis_owner(self) -> str | None:
        """The stamp node: the owner of the key that sealed block 0."""
        genesis = self._get(f"b#{0:012d}")
        if genesis is None or not genesis.header:
            return None
        kid = str(json.loads(genesis.header).get("sealer"))
        record = self._get(f"k#{kid}") if is_key_id(kid) else None  # not get(): the books read the head
        if record is None or not record.jwk or record.jwk == "{}":
            return None
        owner = record.owner if record.owner is not None else self._registrant(int(record.added or 0))
        return owner or None

    def block_hash(self, height: int) -> str | None:
        record = self._get(f"b#{height:012d}")
        return record.hash if record is not None else None

    # KeyBook
    def get(self, kid: str) -> KeyRecord | None:
        if not is_key_id(kid):
            return None
        if kid not in self._keys:
            record = self._get(f"k#{kid}")
            size = self._applied().log_size
            if record is not None and int(record.added or 0) >= size and record.jwk and record.jwk != "{}":
                record = None  # registered by a block not applied yet
            elif record is not None and record.revoked is not None and int(record.revoked) >= size:
                record.revoked = None  # revoked by a block not applied yet
            self._keys[kid] = None if record is None else KeyRecord(
                jwk=json.loads(record.jwk or "{}"),
                added=int(record.added or 0),
                revoked=None if record.revoked is None else int(record.revoked),
                sealer=bool(record.sealer),
                owner=record.owner if record.owner is not None else (
                    self._registrant(int(record.added or 0)) if record.jwk and record.jwk != "{}" else ""),
            )
        return self._keys[kid]

    # NonceBook
    def used(self, pairs: Collection[SignedRequest]) -> AbstractSet[SignedRequest]:
        by_key = {f"n#{nonce_digest(pair)}": pair for pair in pairs}
        try:
            height = self._applied().height
            found = {record.pk for record in self.model.batch_get(list(by_key), consistent_read=True)
                     if record.height is None or int(record.height) <= height}
        except PynamoDBException as exc:
            raise StorageError(f"replica {self.replica} could not read the signed requests it has seen") from exc
        return {by_key[key] for key in found if key in by_key}

    def apply(self, previous: ChainState, outcome: BlockOutcome, block: dict[str, Any], now: int) -> bool:
        """Store a verified block; False when another delivery (of it, or of another block at its height)
        got there first.

        The block's height is claimed first, by a conditional put of its header
        that only the same block may repeat: a rival at that height, verified
        against the same head, writes nothing (its entries, keys and nonces
        would otherwise land under the winner's head, since a batch write has no
        condition). A crash after the claim leaves the height to the same block,
        whose redelivery finishes the work.
        """
        state = outcome.state
        first = state.log_size - len(block["entries"])
        claim = self.model(pk=f"b#{state.height:012d}", height=state.height, hash=state.hash,
                           header=json.dumps(block["header"], separators=(",", ":")), sig=block["sig"])
        try:
            claim.save(condition=self.model.pk.does_not_exist() | (self.model.hash == state.hash))
        except PutError as exc:
            if _condition_failed(exc):
                return False
            raise StorageError(f"replica {self.replica} could not claim height {state.height}") from exc
        try:
            with self.model.batch_write() as batch:
                for offset, entry in enumerate(block["entries"]):
                    batch.save(self.model(pk=f"e#{first + offset:012d}",
                                          body=json.dumps(entry, separators=(",", ":"), ensure_ascii=False)))
                for kid, key in outcome.keys.items():
                    batch.save(self.model(pk=f"k#{kid}", jwk=json.dumps(key.jwk), added=key.added,
                                          revoked=key.revoked, sealer=key.sealer, owner=key.owner or None))
                for pair in outcome.nonces:
                    batch.save(self.model(pk=f"n#{nonce_digest(pair)}", height=state.height, ts=now))
        except PynamoDBException as exc:
            raise StorageError(f"replica {self.replica} could not store block {state.height}") from exc
        head = self.model(pk=STATE_KEY, height=state.height, hash=state.hash, log_size=state.log_size,
                          frontier=[node.hex() for node in state.frontier], status="in_sync", ts=now,
                          owner=state.stamp_node)
        condition = ((self.model.pk.does_not_exist() | self.model.height.does_not_exist()) if previous.height < 0
                     else self.model.height == previous.height)
        try:
            head.save(condition=condition)
        except PutError as exc:
            if _condition_failed(exc):
                return False
            raise StorageError(f"replica {self.replica} could not advance its head") from exc
        self._keys.update(outcome.keys)
        self._head = outcome.state
        return True

    def quarantine(self, height: Any, claimed_hash: Any, reason: str, block: Any, now: int) -> bool:
        """Keep a refused block with its reason; True only the first time it is refused.

        Whatever the block holds (a hash of 3,000 characters, a huge or odd
        header, no height at all), what is stored is cut to fit, so that
        quarantining itself never fails on the block's sizes.
        """
        reason = cut(str(reason), MAX_REASON_CHARS)
        header = block.get("header") if isinstance(block, dict) else block
        item = self.model(pk=quarantine_key(height, claimed_hash), height=height if is_height(height) else None,
                          hash=cut(claimed_hash if isinstance(claimed_hash, str) else bounded_json(claimed_hash, 1000),
                                    MAX_SHOWN_HASH_CHARS),
                          reason=reason, header=bounded_json(header, MAX_HEADER_CHARS), ts=now)
        where = f"height {height}" if is_height(height) else "a block without a valid height"
        try:
            item.save(condition=self.model.pk.does_not_exist())
            first = True
        except PutError as exc:
            if not _condition_failed(exc):
                raise StorageError(f"replica {self.replica} could not quarantine {where}") from exc
            first = False
        try:
            self.model(pk=STATE_KEY).update(
                actions=[self.model.status.set("quarantined"),
                         self.model.reason.set(cut(f"{where}: {reason}", MAX_REASON_CHARS + 100)),
                         self.model.ts.set(now)])
        except UpdateError as exc:
            raise StorageError(f"replica {self.replica} could not record its status") from exc
        return first

    def header(self, height: int) -> dict[str, Any] | None:
        record = self._get(f"b#{height:012d}")
        return json.loads(record.header) if record is not None and record.header else None

    def witnessed(self) -> Witnessed:
        from ..services.replication import Witnessed

        record = self._get(WITNESS_KEY)
        if record is None or record.log_size is None:
            return Witnessed()
        return Witnessed(origin=record.owner, size=int(record.log_size), root=str(record.hash or ""),
                         line=str(record.body or ""), submitted=bool(record.sealer))

    def record_cosigned(self, previous: Witnessed, new: Witnessed) -> bool:
        """Keep the sub-chain's newest cosignature, only over the one it read (never two for one size)."""
        item = self.model(pk=WITNESS_KEY, log_size=new.size, hash=new.root, owner=new.origin, body=new.line,
                          sealer=new.submitted)
        condition = (self.model.pk.does_not_exist() if previous.origin is None else
                     (self.model.log_size == previous.size) & (self.model.body == previous.line))
        try:
            item.save(condition=condition)
        except PutError as exc:
            if _condition_failed(exc):
                return False
            raise StorageError(f"replica {self.replica} could not keep its cosignature") from exc
        return True

    def record_alarm(self, reason: str, now: int) -> None:
        try:
            self.model(pk=STATE_KEY).update(actions=[self.model.status.set("checkpoint_refused"),
                                                     self.model.reason.set(cut(reason, MAX_REASON_CHARS)),
                                                     self.model.ts.set(now)])
        except UpdateError as exc:
            raise StorageError(f"replica {self.replica} could not record its status") from exc

    def entries(self, first: int, last: int) -> list[dict[str, Any]]:
        """The replica's copy of entries ``first`` to ``last`` inclusive, in order."""
        keys = [f"e#{index:012d}" for index in range(first, last + 1)]
        try:
            found = {r.pk: r for r in self.model.batch_get(keys, consistent_read=True)}
        except PynamoDBException as exc:
            raise StorageError(f"replica {self.replica} could not read entries") from exc
        return [json.loads(found[k].body or "null") for k in keys if k in found]
