"""A sub-chain: verify each block against its own copy, keep it, and cosign the checkpoint it verified.

The same code runs every sub-chain: the operator's (an SQS consumer with its
own DynamoDB table, ``store.replica_store``) and a consumer's own
(``covenant subchain run``, a SQLite file, ``client.subchain``). Each gives a
``SubchainStore`` (its copy, its keys, the signed requests it has seen, its
quarantine and the last checkpoint it cosigned) and a ``LogSource`` (how it
reads blocks and checkpoints of the log and sends it cosignatures: the
public HTTP API, never the log's tables).

Deliveries may repeat, arrive out of order or be lost: a block at or below
the sub-chain's head is a duplicate (or, with another hash, a fork to
quarantine); a block beyond the next height makes it fetch the missing
blocks first. A block that fails verification is quarantined with its reason
and never applied, whatever its fields hold: a message that says it is a
block is never dead-lettered for its content.

Cosigning (C2SP tlog-cosignature v1) follows ``ledger.cosigners.cosign_refusal``:
only the checkpoint of the tree the sub-chain verified itself, signed by a
sealer key it verified, of the origin it follows, never two roots for one
size and never a smaller tree than it last cosigned. The cosignature is kept
before it is sent, and sent again until the log takes it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import BlockUnavailable, CosignatureRefused, MalformedMessage, StorageError
from ..ledger.cosigners import WitnessMemory, cosign_refusal, subchain_id, subchain_name
from ..ledger.keys import public_key_from_jwk, raw_public
from ..ledger.note import Checkpoint, Note, NoteError, cosignature_line, open_checkpoint, parse_vkey, vkey
from ..ledger.quarantine import is_height
from ..ledger.verify import BlockOutcome, ChainState, KeyBook, NonceBook, VerificationError, verify_block

try:  # Powertools on Lambda; a consumer's machine runs the sub-chain without the Lambda runtime's packages
    from ..observability import count, logger
except ImportError:  # pragma: no cover - exercised by the packaging test in a clean interpreter
    import logging

    logger = logging.getLogger("covenant.subchain")  # type: ignore[assignment]

    def count(name: str, value: float = 1) -> None:
        return None


def core_logger() -> Any:
    """The logger the core writes to (a command line quiets it while it reports on its own)."""
    return logger


BlockSource = Callable[[int], "dict[str, Any] | None"]
Clock = Callable[[], int]
MAX_CATCH_UP_BLOCKS = 50
_QUEUE = re.compile(r"-replica-(\d+)$")


@dataclass(frozen=True)
class Witnessed:
    """The last checkpoint a sub-chain cosigned: origin, size, root, the line, and whether the log took it."""

    origin: str | None = None
    size: int = 0
    root: str = ""
    line: str = ""
    submitted: bool = False

    @property
    def memory(self) -> WitnessMemory:
        return WitnessMemory(self.origin, self.size, bytes.fromhex(self.root))


class SubchainStore(KeyBook, NonceBook, Protocol):
    """A sub-chain's own storage. ``apply`` and ``record_cosigned`` are conditional on what was read."""

    label: str

    def state(self) -> ChainState: ...

    def block_hash(self, height: int) -> str | None: ...

    def header(self, height: int) -> dict[str, Any] | None: ...

    def apply(self, previous: ChainState, outcome: BlockOutcome, block: dict[str, Any], now: int) -> bool: ...

    def quarantine(self, height: Any, claimed_hash: Any, reason: str, block: Any, now: int) -> bool: ...

    def witnessed(self) -> Witnessed: ...

    def record_cosigned(self, previous: Witnessed, new: Witnessed) -> bool: ...

    def record_alarm(self, reason: str, now: int) -> None: ...


class LogSource(Protocol):
    def block(self, height: int) -> dict[str, Any] | None:
        """Block ``height`` with all its entries, or None if it is not published yet."""

    def checkpoint(self, height: int) -> str | None:
        """Block ``height``'s signed checkpoint, or None."""

    def submit(self, size: int, line: str) -> None:
        """Send a cosignature line; CosignatureRefused if the log refuses it, BlockUnavailable to retry."""


class FunctionSource:
    """A LogSource over a function that returns blocks (tests, and a log read in-process)."""

    def __init__(self, blocks: BlockSource, checkpoints: Callable[[int], str | None] | None = None,
                 submit: Callable[[int, str], None] | None = None):
        self._blocks, self._checkpoints, self._submit = blocks, checkpoints, submit

    def block(self, height: int) -> dict[str, Any] | None:
        return self._blocks(height)

    def checkpoint(self, height: int) -> str | None:
        if self._checkpoints is not None:
            return self._checkpoints(height)
        found = self._blocks(height)
        return found.get("checkpoint") if isinstance(found, dict) else None

    def submit(self, size: int, line: str) -> None:
        if self._submit is None:
            raise CosignatureRefused("this log source takes no cosignatures")
        self._submit(size, line)


@dataclass(frozen=True)
class Witness:
    """A sub-chain's own Ed25519 key (used for nothing else)."""

    key: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return raw_public(self.key.public_key())

    @property
    def id(self) -> str:
        return subchain_id(self.public)

    def name(self, origin: str) -> str:
        return subchain_name(origin, self.id)


def now_ms() -> int:
    """The sub-chain's own clock (milliseconds): its cosignatures carry its time, not the log's."""
    return time.time_ns() // 1_000_000


def replica_of_queue(queue_arn: str) -> int:
    match = _QUEUE.search(queue_arn or "")
    if not match:
        raise MalformedMessage(f"{queue_arn!r} is not a replica queue")
    return int(match.group(1))


def parse_block_message(body: str) -> dict[str, Any]:
    """The block in an SQS body, raw or wrapped in an SNS envelope.

    Only a body that is not JSON, or not an object of kind ``block``, is
    malformed; a block with odd fields is the verifier's to refuse (and the
    sub-chain's to quarantine).
    """
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get("Type") == "Notification":
            message = json.loads(message["Message"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise MalformedMessage("the message is not JSON") from exc
    if not isinstance(message, dict) or message.get("kind") != "block":
        raise MalformedMessage("the message is not a block")
    return message


def _quarantine(store: SubchainStore, height: Any, block: Any, reason: str, now: int) -> None:
    claimed = block.get("hash") if isinstance(block, dict) else None
    if store.quarantine(height, claimed, reason, block, now):
        count("QuarantinedBlocks")
    logger.warning("block quarantined", extra={"subchain": store.label,
                                               "height": height if is_height(height) else None,
                                               "reason": reason[:1000]})


def _verify_and_apply(store: SubchainStore, block: Any, now: int) -> bool:
    """True when the block is now in the sub-chain's copy; False when it was quarantined."""
    previous = store.state()
    try:
        outcome = verify_block(previous, block, store, store)
    except VerificationError as exc:
        _quarantine(store, exc.height, block, str(exc), now)
        return False
    except StorageError:
        raise  # the sub-chain's own storage failed: retry the message, do not blame the block
    except Exception as exc:  # a block no check foresaw: keep it and why, never lose it to the DLQ
        logger.exception("block could not be checked", extra={"subchain": store.label})
        _quarantine(store, previous.height + 1, block, f"the block could not be checked: "
                    f"{type(exc).__name__}: {str(exc)[:300]}", now)
        return False
    if store.apply(previous, outcome, block, now):
        count("BlocksReplicated")
        logger.info("block verified", extra={"subchain": store.label, "height": outcome.state.height})
        return True
    kept = store.block_hash(outcome.state.height)
    if kept is not None and kept != outcome.state.hash:  # a rival block claimed this height first: a fork
        _quarantine(store, outcome.state.height, block, "conflicts with the block this sub-chain keeps at that "
                    "height (a fork: not cosigned)", now)
        return False
    return True


def _as_source(log: LogSource | BlockSource) -> LogSource:
    if hasattr(log, "submit"):
        return cast(LogSource, log)
    return FunctionSource(log)


def receive_block(store: SubchainStore | int, message: dict[str, Any], log: LogSource | BlockSource,
                  witness: Witness | None = None, clock: Clock = now_ms, origin: str | None = None) -> str:
    """Handle one delivered block; returns what happened: applied, duplicate or quarantined.

    With a ``witness`` key, the sub-chain then cosigns the checkpoint of its
    head and sends the cosignature to the log.
    """
    if isinstance(store, int):
        from ..store.replica_store import ReplicaStore

        store = ReplicaStore(store)
    source = _as_source(log)
    header = message.get("header")
    height = header.get("height") if isinstance(header, dict) else None
    now = clock()
    state = store.state()
    if not is_height(height):
        _quarantine(store, height, message, "the block has no valid header height (a non-negative integer "
                    "within 2^53 - 1)", now)
        return "quarantined"
    assert isinstance(height, int)
    if height <= state.height:
        if store.block_hash(height) == message.get("hash"):
            outcome = "duplicate"
        else:
            _quarantine(store, height, message, "conflicts with the block this sub-chain verified at that height "
                        "(a fork: not cosigned)", now)
            outcome = "quarantined"
    else:
        outcome = "applied"
        fetched = 0
        while state.height + 1 < height:
            if fetched == MAX_CATCH_UP_BLOCKS:
                raise BlockUnavailable(f"sub-chain {store.label} is still catching up to {height}")
            missing = source.block(state.height + 1)
            if missing is None:
                raise BlockUnavailable(f"block {state.height + 1} is not published yet")
            fetched += 1
            if not _verify_and_apply(store, missing, now):
                outcome = "quarantined"
                break
            state = store.state()
        if outcome == "applied":
            block = message if message.get("entries") is not None else source.block(height)
            if block is None:
                raise BlockUnavailable(f"block {height} is not published yet")
            if not _verify_and_apply(store, block, now):
                outcome = "quarantined"
    count("ReplicaLag", max(0, height - store.state().height))
    if witness is not None and outcome != "quarantined":
        text = message.get("checkpoint") if store.state().height == height else None
        cosign_head(store, source, witness, checkpoint=text if isinstance(text, str) else None, clock=clock,
                    origin=origin)
    return outcome


def cosign_head(store: SubchainStore, log: LogSource, witness: Witness, checkpoint: str | None = None,
                clock: Clock = now_ms, origin: str | None = None) -> Witnessed:
    """Cosign the checkpoint of the sub-chain's verified head (if it may) and send what it has not sent yet.

    ``origin`` is the log the sub-chain means to follow (its configured or registered origin); without one, the
    origin it cosigned before, else the one the genesis checkpoint names (LEDGER.md: fixed at genesis).
    """
    state = store.state()
    memory = store.witnessed()
    if state.height >= 0 and state.log_size > memory.size:
        text = checkpoint if checkpoint is not None else log.checkpoint(state.height)
        if text is None:
            raise BlockUnavailable(f"the checkpoint of block {state.height} is not published yet")
        problem, signed = _checked_checkpoint(store, state, memory, text, log, origin)
        if problem is not None:
            count("CheckpointsRefused")
            logger.error("checkpoint not cosigned", extra={"subchain": store.label, "height": state.height,
                                                           "reason": problem[:1000]})
            store.record_alarm(f"block {state.height}: {problem}", clock())
            return memory
        assert signed is not None
        origin, body = signed
        line = cosignature_line(witness.name(origin), body, witness.key, clock() // 1000)
        new = Witnessed(origin, state.log_size, state.log_root, line, submitted=False)
        if not store.record_cosigned(memory, new):
            return store.witnessed()  # another delivery cosigned first
        memory = new
        count("CheckpointsCosigned")
    if memory.line and not memory.submitted:
        try:
            log.submit(memory.size, memory.line)
        except CosignatureRefused as exc:
            # not registered yet (or retired): the cosignature stays kept and is sent again with the next block
            logger.warning("cosignature refused by the log", extra={"subchain": store.label, "size": memory.size,
                                                                     "code": exc.code, "reason": str(exc)[:300]})
            return memory
        done = Witnessed(memory.origin, memory.size, memory.root, memory.line, submitted=True)
        if store.record_cosigned(memory, done):
            memory = done
    return memory


def _sealer_jwk(store: SubchainStore, height: int) -> dict[str, str] | None:
    """The verified key that sealed block ``height`` of the sub-chain's copy."""
    header = store.header(height)
    key = store.get(str(header.get("sealer"))) if isinstance(header, dict) else None
    return key.jwk if key is not None and key.jwk else None


def _open(text: str, origin: str, jwk: dict[str, str]) -> tuple[Checkpoint, Note]:
    """The checkpoint ``text``, signed by the sealer ``jwk`` under the key name ``origin`` (NoteError if not)."""
    return open_checkpoint(text, parse_vkey(vkey(origin, public_key_from_jwk(jwk))))


def _expected_origin(store: SubchainStore, log: LogSource, memory: Witnessed, origin: str | None) -> str | None:
    if origin or memory.origin:
        return origin or memory.origin
    if store.state().height == 0:
        return None  # the genesis checkpoint itself: checked against the genesis sealer below
    genesis = log.checkpoint(0)
    jwk = _sealer_jwk(store, 0)
    if genesis is None or jwk is None:
        return None
    named = genesis.split("\n", 1)[0]
    try:
        _open(genesis, named, jwk)
    except (NoteError, ValueError):
        return None
    return named


def _checked_checkpoint(store: SubchainStore, state: ChainState, memory: Witnessed, text: str, log: LogSource,
                        wanted: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """(why not to cosign, None) or (None, (origin, checkpoint body)) for the head's checkpoint ``text``."""
    jwk = _sealer_jwk(store, state.height)
    if jwk is None:
        return "the head block's sealer key is not known to this sub-chain", None
    origin = _expected_origin(store, log, memory, wanted) or text.split("\n", 1)[0]
    try:
        checkpoint, note = _open(text, origin, jwk)
    except (NoteError, ValueError) as exc:
        return f"the checkpoint is not signed by the head block's sealer for {origin!r}: {exc}", None
    refusal = cosign_refusal(memory.memory, checkpoint, state.log_size, bytes.fromhex(state.log_root))
    if refusal is not None:
        return refusal, None
    return None, (checkpoint.origin, note.body)

