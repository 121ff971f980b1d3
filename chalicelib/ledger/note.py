"""C2SP signed notes and checkpoints (signed-note, tlog-checkpoint v1.0.0), as LEDGER.md publishes them.

A checkpoint's note body is exactly three lines: the log's origin, the tree
size in decimal and the root hash in standard base64. The log signs it with
its sealer key under a key name equal to the origin; each signature is one
line ``— <name> <base64(key ID || signature)>`` after a blank line. Pure:
no I/O, so the sealer, the read API and the verifier share it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keys import raw_public

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"  # the em dash that starts every signature line
MAX_NOTE_BYTES = 1_000_000
_ORIGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*(:[0-9]{1,5})?(/[A-Za-z0-9._~\-]+)*$")


class NoteError(ValueError):
    """A note, checkpoint, key name or vkey is malformed, or its signature does not verify."""


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` is not a schema-less URL usable as a key name, or None."""
    if not isinstance(origin, str) or not origin:
        return "an origin is a non-empty string"
    if len(origin) > 255:
        return "an origin is at most 255 characters"
    if "://" in origin or not _ORIGIN.match(origin):
        return "an origin is a schema-less URL (host[:port][/path]) without spaces or '+'"
    return None


def local_origin(genesis_hash: str) -> str:
    """The local stack's origin, derived from its genesis block hash (LEDGER.md)."""
    return f"localhost/covenant/{genesis_hash[:16]}"


def key_id(name: str, key_type: int, public: bytes) -> bytes:
    """signed-note key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public).digest()[:4]


def vkey(name: str, public: Ed25519PublicKey | bytes, key_type: int = ED25519) -> str:
    """The verifier key string: ``<name>+<key ID hex>+<base64(type || public key)>``."""
    raw = public if isinstance(public, bytes) else raw_public(public)
    return f"{name}+{key_id(name, key_type, raw).hex()}+{base64.b64encode(bytes([key_type]) + raw).decode()}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    key_type: int
    public: bytes

    @property
    def key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public)


def parse_vkey(text: str) -> Verifier:
    """Parse a vkey and check that its key ID matches its name and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a vkey is <name>+<key ID hex>+<base64 key>")
    name, hex_id, encoded = parts
    if not name or any(c.isspace() for c in name):
        raise NoteError("a vkey's name is non-empty and has no spaces")
    try:
        wanted = bytes.fromhex(hex_id)
        blob = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteError("a vkey's key ID is hex and its key base64") from exc
    if len(wanted) != 4 or hex_id != hex_id.lower() or len(blob) != 33 or blob[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("a vkey holds a 4-byte key ID and a type byte with a 32-byte Ed25519 key")
    if key_id(name, blob[0], blob[1:]) != wanted:
        raise NoteError("the vkey's key ID does not match its name and key")
    return Verifier(name, wanted, blob[0], blob[1:])


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint: origin, size, base64 root, each ending in a newline."""
    if len(root) != 32:
        raise NoteError("a root hash is 32 bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def signature_line(name: str, body: str, key: Ed25519PrivateKey) -> str:
    """One signature line of ``body`` by ``key`` under ``name`` (with its newline)."""
    signature = key.sign(body.encode("utf-8"))
    blob = key_id(name, ED25519, raw_public(key.public_key())) + signature
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, key: Ed25519PrivateKey) -> str:
    """A whole signed checkpoint: body, blank line, the log's signature line."""
    body = checkpoint_body(origin, size, root)
    return f"{body}\n{signature_line(origin, body, key)}"


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes  # what follows the key ID
    line: str


@dataclass(frozen=True)
class Note:
    body: str
    signatures: tuple[Signature, ...]


def parse_note(text: str | bytes) -> Note:
    """Split a signed note into its body and signature lines (nothing verified yet)."""
    if isinstance(text, bytes):
        if len(text) > MAX_NOTE_BYTES:
            raise NoteError("a note is at most 1,000,000 bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note is UTF-8") from exc
    if "\r" in text or not text.endswith("\n"):
        raise NoteError("a note's lines end in a single \\n")
    body, sep, rest = text.rpartition("\n\n")
    if not sep:
        raise NoteError("a note has a blank line before its signatures")
    body += "\n"
    signatures = []
    for line in rest[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or not parts[1]:
            raise NoteError("a signature line is '— <name> <base64>'")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteError("a signature is base64") from exc
        if base64.b64encode(blob).decode() != parts[2]:
            # unused low bits of the last digit set: the same signature, but not the bytes the log wrote
            raise NoteError("a signature is canonical standard base64")
        if len(blob) < 5:
            raise NoteError("a signature holds a key ID and a signature")
        signatures.append(Signature(parts[1], blob[:4], blob[4:], line + "\n"))
    if not signatures:
        raise NoteError("a note has at least one signature")
    return Note(body, tuple(signatures))


def verify_note(text: str | bytes, verifier: Verifier) -> Note:
    """Parse a note and check that ``verifier`` (an Ed25519 note key) signed it; other lines are ignored."""
    if verifier.key_type != ED25519:
        raise NoteError("a note is verified with an Ed25519 (type 0x01) key")
    note = parse_note(text)
    mine = [s for s in note.signatures if s.name == verifier.name and s.key_id == verifier.key_id]
    if not mine:
        raise NoteError(f"the note has no signature by {verifier.name}+{verifier.key_id.hex()}")
    for signature in mine:
        try:
            verifier.key.verify(signature.blob, note.body.encode("utf-8"))
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {verifier.name} does not verify") from exc
        if len(signature.blob) != 64:
            raise NoteError("an Ed25519 note signature is 64 bytes")
    return note


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def parse_checkpoint(body: str) -> Checkpoint:
    """The origin, size and root of a checkpoint body (LEDGER.md: exactly three lines)."""
    lines = body.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise NoteError("a checkpoint body is exactly three lines: origin, size, root")
    origin, size_text, root_text = lines[:3]
    if not origin:
        raise NoteError("a checkpoint names its origin")
    if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("a checkpoint's size is a decimal integer without leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteError("a checkpoint's root is standard base64") from exc
    if len(root) != 32 or base64.b64encode(root).decode() != root_text:
        raise NoteError("a checkpoint's root is 32 bytes in standard base64 with padding")
    return Checkpoint(origin, int(size_text), root)


def open_checkpoint(text: str | bytes, verifier: Verifier) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint by the log key ``verifier`` and parse it; its origin is the key name."""
    note = verify_note(text, verifier)
    checkpoint = parse_checkpoint(note.body)
    if checkpoint.origin != verifier.name:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the key's name {verifier.name!r}")
    return checkpoint, note


# --- C2SP tlog-cosignature v1 (Ed25519): a witness's (a sub-chain's) cosignature of a checkpoint

COSIGNATURE_HEADER = "cosignature/v1"
MAX_COSIGNATURE_TIME = 2**63 - 1


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a cosignature signs: ``cosignature/v1\\ntime <T>\\n`` and then the whole checkpoint body."""
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_COSIGNATURE_TIME:
        raise NoteError("a cosignature's time is a non-negative 64-bit integer of seconds")
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{body}".encode()


def cosignature_line(name: str, body: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """One cosignature line (with its newline): ``— <name> <base64(key ID || T || signature)>``."""
    signature = key.sign(cosigned_message(body, timestamp))
    blob = key_id(name, COSIGNATURE_V1, raw_public(key.public_key())) + timestamp.to_bytes(8, "big") + signature
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


def parse_signature_line(line: str) -> Signature:
    """One signature line, alone (with or without its newline), checked as ``parse_note`` checks them."""
    text = line if line.endswith("\n") else line + "\n"
    if text.count("\n") != 1:
        raise NoteError("a signature line is one line")
    note = parse_note("x\n\n" + text)
    return note.signatures[0]


def verify_cosignature(body: str, signature: Signature, verifier: Verifier) -> int:
    """Check a cosignature line of ``body`` by the witness key ``verifier``; returns its time (seconds)."""
    if verifier.key_type != COSIGNATURE_V1:
        raise NoteError("a cosignature is verified with a cosignature/v1 (type 0x04) key")
    if signature.name != verifier.name or signature.key_id != verifier.key_id:
        raise NoteError(f"the line is not by {verifier.name}+{verifier.key_id.hex()}")
    if len(signature.blob) != 8 + 64:
        raise NoteError("a cosignature holds an 8-byte time and a 64-byte Ed25519 signature")
    timestamp = int.from_bytes(signature.blob[:8], "big")
    try:
        verifier.key.verify(signature.blob[8:], cosigned_message(body, timestamp))
    except (InvalidSignature, NoteError) as exc:
        raise NoteError(f"the cosignature by {verifier.name} does not verify") from exc
    return timestamp


def cosigners_of(note: Note, witnesses: list[Verifier]) -> dict[str, int]:
    """The witnesses (by vkey name) with a valid cosignature in ``note``, and each one's time.

    A line that names a witness but does not verify is an error: a note that
    carries a bad cosignature of a key the reader trusts is not quietly
    accepted with fewer cosigners.
    """
    found: dict[str, int] = {}
    for witness in witnesses:
        for signature in note.signatures:
            if signature.name == witness.name and signature.key_id == witness.key_id:
                found[witness.name] = verify_cosignature(note.body, signature, witness)
    return found
