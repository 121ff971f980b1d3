"""Sub-chains as cosigners (LEDGER.md "Cosigners"), pure: their names, their entries, and the witness rule.

A sub-chain's key is an Ed25519 key used for nothing else. Its id is derived
from the key (``sc-`` and the first 16 hex characters of SHA-256 of the raw
public key), so one key is one sub-chain and a client can name it before it
is registered; its key name is ``<origin>/subchain/<id>`` and its vkey has the
cosignature/v1 type byte 0x04.

``WitnessMemory`` is what a sub-chain keeps so that it never cosigns two
views: the last checkpoint it cosigned. ``cosign_refusal`` is the rule every
sub-chain (the operator's and a consumer's) applies before it cosigns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .note import COSIGNATURE_V1, Checkpoint, NoteError, parse_vkey, vkey

SUBCHAIN_ID = re.compile(r"^sc-[0-9a-f]{16}$")


def subchain_id(public: bytes) -> str:
    return "sc-" + hashlib.sha256(public).hexdigest()[:16]


def subchain_name(origin: str, sub_id: str) -> str:
    return f"{origin}/subchain/{sub_id}"


def public_key_bytes(text: Any) -> bytes:
    """A raw 32-byte Ed25519 public key from standard base64 (with padding) or base64url (without)."""
    if not isinstance(text, str) or not 43 <= len(text) <= 44:
        raise NoteError("a public key is 32 bytes in base64")
    try:
        raw = base64.b64decode(text, validate=True) if len(text) == 44 else \
            base64.urlsafe_b64decode(text + "=")
    except (ValueError, binascii.Error) as exc:
        raise NoteError("a public key is 32 bytes in base64") from exc
    if len(raw) != 32:
        raise NoteError("a public key is 32 bytes in base64")
    return raw


def cosigner_of(origin: str, public: bytes) -> dict[str, str]:
    """``data.cosigner`` of a ``subchain.registered`` entry: ``{"id","name","vkey"}``."""
    sub_id = subchain_id(public)
    name = subchain_name(origin, sub_id)
    return {"id": sub_id, "name": name, "vkey": vkey(name, public, COSIGNATURE_V1)}


def registration_problem(data: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """Why a ``subchain.registered`` entry's ``data.cosigner`` does not follow from the body's ``public_key``."""
    cosigner = data.get("cosigner")
    if not isinstance(cosigner, dict) or set(cosigner) != {"id", "name", "vkey"}:
        return "data.cosigner is {id, name, vkey}"
    try:
        public = public_key_bytes(body.get("public_key"))
        verifier = parse_vkey(str(cosigner.get("vkey")))
    except NoteError as exc:
        return f"data.cosigner: {exc}"
    sub_id = subchain_id(public)
    if cosigner.get("id") != sub_id:
        return "data.cosigner.id is not the id of the registered public key"
    if verifier.key_type != COSIGNATURE_V1 or verifier.public != public or verifier.name != cosigner.get("name"):
        return "data.cosigner.vkey is not the cosignature/v1 vkey of the registered key under data.cosigner.name"
    if not str(cosigner.get("name")).endswith(f"/subchain/{sub_id}"):
        return "data.cosigner.name is not <origin>/subchain/<id>"
    return None


# --- the witness rule


@dataclass(frozen=True)
class WitnessMemory:
    """The last checkpoint a sub-chain cosigned (origin, size, root), or nothing yet."""

    origin: str | None = None
    size: int = 0
    root: bytes = b""


def cosign_refusal(memory: WitnessMemory, checkpoint: Checkpoint, verified_size: int,
                   verified_root: bytes) -> str | None:
    """Why a sub-chain must not cosign ``checkpoint``, or None.

    It cosigns only the tree it verified itself (``verified_size`` and
    ``verified_root``, from its own frontier), of the origin it has followed,
    never smaller than what it last cosigned, and never another root for a size
    it cosigned. Its own chain only grows by verified blocks, so any tree it
    verified at or beyond its last cosigned size is consistent with it.
    """
    if memory.origin is not None and checkpoint.origin != memory.origin:
        return f"the checkpoint's origin {checkpoint.origin!r} is not {memory.origin!r}, the log this sub-chain follows"
    if checkpoint.size != verified_size or checkpoint.root != verified_root:
        return (f"the checkpoint ({checkpoint.size}, {checkpoint.root.hex()}) is not the tree this sub-chain verified "
                f"({verified_size}, {verified_root.hex()})")
    if checkpoint.size < memory.size:
        return f"this sub-chain already cosigned a larger tree ({memory.size} entries)"
    if checkpoint.size == memory.size and checkpoint.root != memory.root:
        return f"this sub-chain cosigned another root for {memory.size} entries"
    return None
