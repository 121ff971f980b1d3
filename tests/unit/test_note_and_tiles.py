"""The pure C2SP formats: signed-note checkpoints and vkeys (ledger/note.py), tiles and bundles (ledger/tiles.py)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.keys import raw_public
from chalicelib.ledger.note import (
    COSIGNATURE_V1,
    NoteError,
    key_id,
    local_origin,
    open_checkpoint,
    origin_problem,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    sign_checkpoint,
    verify_note,
    vkey,
)
from chalicelib.ledger.tiles import (
    WIDTH,
    TileError,
    TileRef,
    bundle,
    encode_index,
    hashes,
    parse_path,
    tiles_of,
    unbundle,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ORIGIN = "covenant.example.com/ledger"


def test_key_id_and_vkey_follow_signed_note():
    raw = raw_public(KEY.public_key())
    expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    assert key_id(ORIGIN, 1, raw) == expected
    encoded = base64.b64encode(b"\x01" + raw).decode()
    assert vkey(ORIGIN, KEY.public_key()) == f"{ORIGIN}+{expected.hex()}+{encoded}"
    parsed = parse_vkey(vkey(ORIGIN, KEY.public_key()))
    assert (parsed.name, parsed.key_id, parsed.public) == (ORIGIN, expected, raw)


def test_a_checkpoint_is_three_lines_and_one_signature_line():
    text = sign_checkpoint(ORIGIN, 12, bytes(range(32)), KEY)
    body, _, signature = text.partition("\n\n")
    assert body + "\n" == f"{ORIGIN}\n12\n{base64.b64encode(bytes(range(32))).decode()}\n"
    assert signature.startswith(f"\u2014 {ORIGIN} ") and signature.endswith("\n") and signature.count("\n") == 1
    blob = base64.b64decode(signature.split(" ")[2])
    assert blob[:4] == key_id(ORIGIN, 1, raw_public(KEY.public_key())) and len(blob) == 68
    checkpoint, _ = open_checkpoint(text, parse_vkey(vkey(ORIGIN, KEY.public_key())))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 12, bytes(range(32)))


def test_other_signature_lines_are_ignored_but_the_log_signature_is_required():
    text = sign_checkpoint(ORIGIN, 1, bytes(32), KEY)
    other = Ed25519PrivateKey.generate()
    cosigned = text + sign_checkpoint("witness.example", 1, bytes(32), other).split("\n\n")[1]
    open_checkpoint(cosigned, parse_vkey(vkey(ORIGIN, KEY.public_key())))
    with pytest.raises(NoteError, match="no signature by"):
        verify_note(text, parse_vkey(vkey(ORIGIN, other.public_key())))


@pytest.mark.parametrize("text", [
    "", "no newline", f"{ORIGIN}\n1\n{'A' * 44}\n",  # no signature block
    f"{ORIGIN}\n1\n{'A' * 43}=\n\n\u2014 {ORIGIN} AAAA\n",  # a signature too short
    f"{ORIGIN}\r\n1\n{'A' * 43}=\n\n\u2014 {ORIGIN} AAAAAAAA\n",
    f"{ORIGIN}\n1\n{'A' * 43}=\n\n- {ORIGIN} AAAAAAAA\n",  # a hyphen, not the em dash
])
def test_malformed_notes_are_refused(text):
    with pytest.raises(NoteError):
        verify_note(text, parse_vkey(vkey(ORIGIN, KEY.public_key())))


@pytest.mark.parametrize("body", [
    f"{ORIGIN}\n01\n{base64.b64encode(bytes(32)).decode()}\n",  # leading zero
    f"{ORIGIN}\n-1\n{base64.b64encode(bytes(32)).decode()}\n",
    f"{ORIGIN}\n1\n{base64.b64encode(bytes(31)).decode()}\n",
    f"{ORIGIN}\n1\n{base64.urlsafe_b64encode(bytes([255] * 32)).decode()}\n",  # base64url
    f"{ORIGIN}\n1\n{base64.b64encode(bytes(32)).decode()}\nextension\n",  # LEDGER.md: no extension lines
    f"\n1\n{base64.b64encode(bytes(32)).decode()}\n",
])
def test_malformed_checkpoint_bodies_are_refused(body):
    with pytest.raises(NoteError):
        parse_checkpoint(body)


def test_a_checkpoint_whose_origin_is_not_the_key_name_is_refused():
    text = sign_checkpoint("other.example/log", 1, bytes(32), KEY)
    wrong_name = text.replace("\u2014 other.example/log", f"\u2014 {ORIGIN}")
    with pytest.raises(NoteError):
        open_checkpoint(wrong_name, parse_vkey(vkey(ORIGIN, KEY.public_key())))


@pytest.mark.parametrize("bad", [
    "", "name+1234", f"{ORIGIN}+ABCDEF12+" + base64.b64encode(b"\x01" + bytes(32)).decode(),  # upper-case hex
    f"{ORIGIN}+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode(),  # key ID does not match
    f"{ORIGIN}+00000000+" + base64.b64encode(b"\x02" + bytes(32)).decode(),
    f"{ORIGIN}+00000000+" + base64.b64encode(b"\x01" + bytes(31)).decode(),
])
def test_malformed_vkeys_are_refused(bad):
    with pytest.raises(NoteError):
        parse_vkey(bad)


def test_a_cosignature_vkey_cannot_verify_a_log_signature():
    raw = raw_public(KEY.public_key())
    cosigner = parse_vkey(vkey(ORIGIN, raw, COSIGNATURE_V1))
    with pytest.raises(NoteError, match="Ed25519"):
        verify_note(sign_checkpoint(ORIGIN, 1, bytes(32), KEY), cosigner)


def test_origins():
    assert local_origin("ab" * 32) == "localhost/covenant/" + "ab" * 8
    assert origin_problem(ORIGIN) is None and origin_problem("localhost:8000/a/b") is None
    for bad in ("", "https://x.example", "a b", "a+b", "/x", "x/", "x" * 256):
        assert origin_problem(bad) is not None


def test_a_changed_byte_never_verifies_as_another_checkpoint():
    text = sign_checkpoint(ORIGIN, 7, bytes(range(32)), KEY).encode()
    verifier = parse_vkey(vkey(ORIGIN, KEY.public_key()))
    for position in range(len(text)):
        changed = bytearray(text)
        changed[position] ^= 0x20
        try:
            checkpoint, _ = open_checkpoint(bytes(changed), verifier)
        except NoteError:
            continue
        assert (checkpoint.size, checkpoint.root) == (7, bytes(range(32)))


# --- tiles

@pytest.mark.parametrize("n,path", [(0, "000"), (5, "005"), (999, "999"), (1000, "x001/000"),
                                    (1234067, "x001/x234/067")])
def test_tile_indices_are_three_digit_groups(n, path):
    assert encode_index(n) == path  # C2SP tlog-tiles' own example: 1234067 is x001/x234/067


@given(st.one_of(st.none(), st.integers(0, 63)), st.integers(0, 10**12 - 1), st.integers(1, WIDTH))
def test_tile_paths_round_trip(level, n, width):
    ref = TileRef(level, n, width)
    assert parse_path(ref.path) == ref
    assert parse_path("/" + ref.path) == ref


@pytest.mark.parametrize("path", [
    "tile/0/5", "tile/0/0005", "tile/0/x000/005", "tile/0/x1/005", "tile/0/001/005", "tile/64/000",
    "tile/01/000", "tile/-1/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/07", "tile/0/000.p",
    "tile/0", "tiles/0/000", "tile/entries/000.p/", "tile/x/000", "tile/0/abc",
])
def test_malformed_tile_paths_are_refused(path):
    with pytest.raises(TileError):
        parse_path(path)


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_tiles_of_a_growth_are_exactly_the_tiles_that_changed(a, b):
    since, size = min(a, b), max(a, b)

    def final(n: int) -> set[TileRef]:
        return {ref for ref in tiles_of(n)}

    grown = list(tiles_of(size, since))
    assert len(grown) == len(set(grown))
    # every tile of the grown tree is either written now or was complete before (and so unchanged)
    before = final(since)
    for ref in final(size):
        assert ref in grown or ref in before
    # nothing written now existed before, and partial tiles are only at each level's right edge
    assert not set(grown) & before
    for ref in grown:
        count = size >> (8 * ref.level) if ref.level is not None else size
        assert ref.n * WIDTH + ref.width <= count
        assert ref.full or ref.n * WIDTH + ref.width == count


def test_bundles_round_trip_and_refuse_bad_lengths():
    entries = [b"", b"a", b"x" * 65535]
    data = bundle(entries)
    assert data[:2] == b"\x00\x00" and unbundle(data) == entries
    with pytest.raises(TileError):
        bundle([b"x" * 65536])
    for broken in (data[:-1], data + b"\x00", b"\x00\x05abc"):
        with pytest.raises(TileError):
            unbundle(broken)
    with pytest.raises(TileError):
        unbundle(bundle([b"e"] * 257))


def test_hash_tiles_are_whole_hashes():
    assert hashes(bytes(64)) == [bytes(32), bytes(32)]
    for bad in (b"", bytes(33), bytes(32 * 257)):
        with pytest.raises(TileError):
            hashes(bad)


def test_parse_note_of_bytes_checks_utf8():
    with pytest.raises(NoteError):
        parse_note(b"\xff\n\n")
