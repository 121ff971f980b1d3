"""Strangers' transparency-log tools, unmodified, read the log as LEDGER.md publishes it.

- tlog-scales (PyPI): ``Checkpoint.verify`` accepts every served checkpoint with
  the served vkey and rejects every changed byte that changes what it reads;
  its ``tlog-tiles`` command fetches leaves and proofs from the tiles, equal to
  the JSON API's; its tiles reader recomputes every root and proof.
- Go's golang.org/x/mod sumdb/note and sumdb/tlog (Debian's source, built
  offline): go/tlogcheck opens the checkpoint, checks inclusion and
  consistency proofs, and authenticates the hash tiles; it fails on a changed
  checkpoint, a wrong key, and a lie signed with the log's own key.

Each check reads two logs of the same shape (conftest.py): one built by the
pure modules (ledger/note.py, ledger/tiles.py), a test per check, and the real
local stack, started once for one end-to-end test that runs every check as a
subtest (pytest-xdist's xdist_group does not hold tests together under pytest
9, so one test is how one stack serves them all).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tlog_scales.backend import HttpBackend
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey
from tlog_scales.tiles import leaf_hash
from tlog_scales.tlog import Checkpoint, ConsistencyProof, InclusionProof

from chalicelib.ledger import note
from chalicelib.ledger.canonical import canonical
from chalicelib.ledger.keys import public_key_from_jwk, raw_public
from tests.interop.conftest import Log
from tests.interop.tools import run_tlogcheck, tlog_tiles

B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# tlog-scales 0.0.3 reads a checkpoint with str.splitlines(), splits a signature line with str.split(),
# decodes base64 without validation and verifies its own re-serialisation of the body. So a few
# one-byte changes leave what it reads, and so the signed bytes, exactly as they were:
LINE_BREAKS = b"\r\x0b\x0c\x1c\x1d\x1e"  # one-byte line boundaries of str.splitlines() other than \n
SPLIT_ONLY = b"\t\x1f"  # one-byte separators of str.split() that do not break a line


def _tlog_scales_accepts(text: bytes, vkey: str) -> bool:
    try:
        Checkpoint.from_text(text.decode("utf-8")).verify(Vkey.from_string(vkey))  # as its reader decodes
    except Exception:  # any refusal: not UTF-8, a parse error, no matching key, a bad signature
        return False
    return True


@dataclass(frozen=True)
class Layout:
    """Where the bytes of a served checkpoint are that tlog-scales reads leniently."""

    text: bytes
    end: int  # the body and the log's signature line are text[:end]: every byte of them must count
    breaks: tuple[int, ...]  # the ends of the origin and size lines, and the blank line
    root_end: int  # the end of the root line: "\r" there would join it with the blank line's "\n"
    sig_end: int  # the end of the log's signature line
    last: bool  # nothing follows the log's signature line
    spaces: tuple[int, int]  # the two spaces of the log's signature line
    pad_bits: dict[int, int]  # last data character of the root and of the signature -> its unused bits

    @classmethod
    def of(cls, text: bytes) -> Layout:
        origin, size, root, blank, line = text.split(b"\n")[:5]
        assert blank == b"" and line.startswith(note.DASH.encode() + b" ")
        origin_end = len(origin)
        size_end = origin_end + 1 + len(size)
        root_end = size_end + 1 + len(root)
        sig_start = root_end + 2
        sig_end = sig_start + len(line)
        dash, name, blob = line.split(b" ")
        first_space = sig_start + len(dash)
        blob_end = sig_end
        pad_bits = {
            root_end - 1 - root.count(b"="): 2 * root.count(b"="),
            blob_end - 1 - blob.count(b"="): 2 * blob.count(b"="),
        }
        return cls(text, sig_end + 1, (origin_end, size_end, root_end + 1), root_end, sig_end,
                   sig_end + 1 == len(text), (first_space, first_space + 1 + len(name)), pad_bits)

    def reads_the_same(self, pos: int, new: int) -> bool:
        """Whether tlog-scales reads the checkpoint with byte ``pos`` set to ``new`` as the very same one."""
        old = self.text[pos]
        if new == old:
            return True
        if pos in self.breaks:
            return new in LINE_BREAKS
        if pos == self.root_end:
            return new in LINE_BREAKS and new != ord("\r")
        if pos == self.sig_end:
            # the last line: anything ASCII after the final base64 padding is dropped, ignored or split off
            return new < 0x80 if self.last else new in LINE_BREAKS
        if pos in self.spaces:
            return new in SPLIT_ONLY
        if pos in self.pad_bits:
            bits = self.pad_bits[pos]
            return new in B64 and B64.index(new) >> bits == B64.index(old) >> bits
        return False

    def changed(self, pos: int, new: int) -> bytes:
        return self.text[:pos] + bytes([new]) + self.text[pos + 1:]


@dataclass
class Reading:
    """What the checks share about one log: read once, over HTTP."""

    log: Log
    build_go: Callable[[], Path]  # builds (or finds) the Go checker, or skips where there is no Go
    tmp: Path
    checkpoints: list[tuple[str, bytes, dict]] = field(default_factory=list)  # (where, text, block header)
    vkeys: dict[str, str] = field(default_factory=dict)  # kid -> served vkey
    origin: str = ""

    def __post_init__(self) -> None:
        log = self.log
        head = log.head()
        served = [(f"blocks/{h}/checkpoint", log.get(f"blocks/{h}/checkpoint"), log.json(f"blocks/{h}")["header"])
                  for h in range(head["height"] + 1)]
        newest = log.get("checkpoint")
        [header] = [h for _, text, h in served if text == newest]
        self.checkpoints = [("checkpoint", newest, header), *served]
        self.vkeys = {k["kid"]: k["vkey"] for k in log.json("keys")["keys"]}
        self.origin = note.local_origin(log.json("blocks/0")["hash"])

    @property
    def tlogcheck(self) -> Path:
        return self.build_go()

    @property
    def newest(self) -> tuple[str, bytes, dict]:
        return self.checkpoints[0]


def _indexes(size: int, wanted: tuple[int, ...] = (0, 1, 255, 256, 257, 511, 512)) -> list[int]:
    """Tile edges and the tree's ends."""
    return sorted({i for i in (*wanted, size // 2, size - 2, size - 1) if 0 <= i < size})


# --- a. tlog-scales' Checkpoint.verify

def check_tlog_scales_verifies_every_served_checkpoint_with_the_served_vkey(r: Reading) -> None:
    keys = {k["kid"]: k for k in r.log.json("keys")["keys"]}
    sizes = set()
    for where, text, header in r.checkpoints:
        jwk = keys[header["sealer"]]
        # the served vkey is the one a stranger derives from the JWK and the origin
        public = raw_public(public_key_from_jwk({k: v for k, v in jwk.items() if k != "vkey"}))
        assert jwk["vkey"] == Vkey(r.origin, None, 1, public).serialize() == note.vkey(r.origin, public), where
        checkpoint = Checkpoint.from_text(text.decode("utf-8"))
        checkpoint.verify(Vkey.from_string(jwk["vkey"]))
        assert (checkpoint.origin, checkpoint.size, checkpoint.root_hash.hex()) == (
            r.origin, header["log_size"], header["log_root"]), where
        assert checkpoint.serialize().encode() == text, f"{where}: not as tlog-scales writes it"
        sizes.add(checkpoint.size)
    assert len(r.checkpoints) == r.log.head()["height"] + 2 == len(sizes) + 1
    assert max(sizes) > 512


def check_tlog_scales_rejects_every_bit_flip_of_every_served_checkpoint(r: Reading) -> None:
    for where, text, header in r.checkpoints:
        vkey, layout = r.vkeys[header["sealer"]], Layout.of(text)
        assert _tlog_scales_accepts(text, vkey)
        accepted = []
        for pos in range(layout.end):
            for bit in range(8):
                new = text[pos] ^ (1 << bit)
                if _tlog_scales_accepts(layout.changed(pos, new), vkey):
                    accepted.append((pos, new))
                    continue
                assert not layout.reads_the_same(pos, new), f"{where}: byte {pos} -> {new:#04x} was refused"
        # what it accepted it reads exactly as the original: a one-bit change of a base64 padding bit,
        # or of a line end into another line boundary ("\n" ^ 1 is "\v")
        assert accepted
        for pos, new in accepted:
            assert layout.reads_the_same(pos, new), f"{where}: byte {pos} -> {new:#04x} was accepted"
        # and our own verifier refuses every one of them
        verifier = note.parse_vkey(vkey)
        for pos in range(layout.end):
            for bit in range(8):
                with pytest.raises(note.NoteError):
                    note.open_checkpoint(layout.changed(pos, text[pos] ^ (1 << bit)), verifier)


def check_every_change_tlog_scales_cannot_see_reads_as_the_same_checkpoint(r: Reading) -> None:
    """The exceptions above are exactly these: the same origin, size, root and signature bytes."""
    _, text, header = r.newest
    vkey, layout = r.vkeys[header["sealer"]], Layout.of(text)
    original = Checkpoint.from_text(text.decode())
    invisible = [(pos, new) for pos in range(layout.end) for new in range(256)
                 if new != text[pos] and layout.reads_the_same(pos, new)]
    # the log's line is the last one (>100 such changes: its tail is read leniently) unless sub-chains' cosignature
    # lines follow it, as on the local stack, whose three operator sub-chains cosign every checkpoint
    assert len(invisible) > (100 if layout.last else 30)
    for pos, new in invisible:
        changed = layout.changed(pos, new)
        assert Checkpoint.from_text(changed.decode()) == original, (pos, new)
        assert _tlog_scales_accepts(changed, vkey), (pos, new)


def check_tlog_scales_rejects_any_other_changed_byte(r: Reading) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(data=st.data())
    def any_byte(data: st.DataObject) -> None:
        where, text, header = data.draw(st.sampled_from(r.checkpoints), label="checkpoint")
        layout = Layout.of(text)
        pos = data.draw(st.integers(0, layout.end - 1), label="position")
        new = data.draw(st.integers(0, 255).filter(lambda b: b != text[pos]), label="byte")
        assert _tlog_scales_accepts(layout.changed(pos, new), r.vkeys[header["sealer"]]) == \
            layout.reads_the_same(pos, new), (where, pos, new)

    any_byte()


# --- b. tlog-scales' tlog-tiles command and its tiles reader

def check_tlog_tiles_fetches_leaves_and_proofs_equal_to_the_api(r: Reading) -> None:
    log, (_, text, _) = r.log, r.newest
    checkpoint = Checkpoint.from_text(text.decode())
    size = checkpoint.size
    for index in [*_indexes(size, (0, 255, 256, 512))[:-1], -1]:  # each run about 0.2 s
        got = tlog_tiles("get-leaf", "-c", log.url, str(index))  # -c: checks inclusion in the checkpoint
        assert got.returncode == 0, got.stderr.decode()
        leaf, index = got.stdout, index % size
        found = log.json(f"entries/{json.loads(leaf)['id']}")
        assert found["index"] == index and canonical(found["entry"]) == leaf, index

        proof = tlog_tiles("gen-proof", log.url, str(index))
        assert proof.returncode == 0, proof.stderr.decode()
        head, served = proof.stdout.decode().split("\n\n", 1)
        kind, position, *hashes = head.split("\n")
        assert (kind, position) == ("c2sp.org/tlog-proof@v1", f"index {index}")
        assert served.encode() == text  # the checkpoint it proved against, as it re-wrote it
        api = log.json(f"proofs/inclusion?index={index}&size={size}")
        assert [base64.b64decode(h) for h in hashes] == [bytes.fromhex(h) for h in api["path"]], index
        InclusionProof(index, size, [base64.b64decode(h) for h in hashes]).check(leaf_hash(leaf),
                                                                                  checkpoint.root_hash)
    got = tlog_tiles("get-leaf", "-c", log.url, str(size + 300))  # a leaf the tree does not have
    assert got.returncode != 0 and got.stdout == b""


def check_tlog_scales_reads_every_entry_root_and_proof_from_the_tiles(r: Reading) -> None:
    log = r.log
    reader = TilesReader(HttpBackend(log.url))
    newest = reader.get_checkpoint()
    newest.verify(Vkey.from_string(log.vkey()))
    assert reader.calculate_root_hash() == newest.root_hash
    # every entry of every block is in the bundles, as its JCS
    index = 0
    for height in range(log.head()["height"] + 1):
        block = log.json(f"blocks/{height}")
        entries = list(block["entries"])
        while block.get("next"):
            block = log.json(f"blocks/{height}?cursor={block['next']}")
            entries += block["entries"]
        for entry in entries:
            assert reader.get_entry(index) == canonical(entry), index
            index += 1
    assert index == newest.size
    # every older checkpoint: its root from the tiles, and the consistency proofs agree
    for where, text, _ in r.checkpoints[1:]:
        old = Checkpoint.from_text(text.decode())
        assert reader.mth(0, old.size) == old.root_hash, where
        proof = reader.get_consistency_proof(old.size, newest.size)
        api = log.json(f"proofs/consistency?first={old.size}&second={newest.size}")
        assert proof.node_hashes == [bytes.fromhex(h) for h in api["path"]], where
        ConsistencyProof(old.size, newest.size, proof.node_hashes).check(old.root_hash, newest.root_hash)
    for i in _indexes(newest.size):
        api = log.json(f"proofs/inclusion?index={i}&size={newest.size}")
        assert reader.get_inclusion_proof(i, newest.size).node_hashes == [bytes.fromhex(h) for h in api["path"]]


# --- c. Go's golang.org/x/mod/sumdb/note and sumdb/tlog

def check_go_checks_the_checkpoint_proofs_and_tiles(r: Reading) -> None:
    _, _, head = r.newest
    size, vkey = head["log_size"], r.vkeys[head["sealer"]]
    indexes = ",".join(str(i) for i in _indexes(size))
    for old in (head["height"] // 2, 0, head["height"] - 1):  # the first run proves leaves at every tile edge
        args = ("-old", str(old), "-index", indexes) if old == head["height"] // 2 else ("-old", str(old))
        result = run_tlogcheck(r.tlogcheck, r.log.url, vkey, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.endswith("OK\n")
        assert f"checkpoint {r.origin} size {size} " in result.stdout
        assert f"inclusion: record {size - 1} of {size} verified" in result.stdout
        assert "consistency: tree " in result.stdout
    # an older block's checkpoint as the newer one
    result = run_tlogcheck(r.tlogcheck, r.log.url, vkey, "-checkpoint", "3", "-old", "2")
    assert result.returncode == 0, result.stdout + result.stderr


def check_go_fails_on_a_changed_checkpoint_a_wrong_key_and_a_signed_lie(r: Reading) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    log, (_, text, head) = r.log, r.newest
    vkey = r.vkeys[head["sealer"]]
    checkpoint = note.parse_checkpoint(note.parse_note(text).body)

    def fails(*args: str, vkey: str = vkey) -> str:
        result = run_tlogcheck(r.tlogcheck, log.url, vkey, *args)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "OK" not in result.stdout
        return result.stderr

    def saved(name: str, data: bytes) -> str:
        (r.tmp / name).write_bytes(data)
        return str(r.tmp / name)

    # a changed byte of the body, or of the signature
    root_line = text.index(b"\n", text.index(b"\n") + 1) + 1
    flipped = text[:root_line] + bytes([text[root_line] ^ 0x01]) + text[root_line + 1:]
    assert "note.Open: invalid signature for key" in fails("-checkpoint", saved("body.txt", flipped))
    log_line = text.index(b"\n\n") + 2  # the log's signature line (sub-chains' cosignature lines may follow it)
    signature = text.rindex(b" ", log_line, text.index(b"\n", log_line)) + 10  # a byte of the Ed25519 signature
    flipped = text[:signature] + (b"B" if text[signature:signature + 1] == b"A" else b"A") + text[signature + 1:]
    assert "note.Open: invalid signature for key" in fails("-checkpoint", saved("sig.txt", flipped))
    # a key that did not sign it: another key under the origin's name, or the right key under another name
    other = note.vkey(checkpoint.origin, Ed25519PrivateKey.generate().public_key())
    assert "note.Open: note has no verifiable signatures" in fails(vkey=other)
    renamed = note.vkey("example.com/other-log", log.sealer.public_key())
    assert "note.Open: note has no verifiable signatures" in fails(vkey=renamed)
    # the log's own key signing a tree the log does not have: the tiles and the proofs give it away
    lie = note.sign_checkpoint(checkpoint.origin, checkpoint.size, bytes(32), log.sealer)
    lied = fails("-checkpoint", saved("lie.txt", lie.encode()))
    assert "tree hash from the tiles: downloaded inconsistent tile" in lied
    old = note.parse_checkpoint(note.parse_note(log.get("blocks/2/checkpoint")).body)
    forked = note.sign_checkpoint(old.origin, old.size, bytes(reversed(old.root)), log.sealer)
    assert "tlog.CheckTree" in fails("-old", saved("forked.txt", forked.encode()))
    # a checkpoint with an extension line (LEDGER.md's have none) is refused even when validly signed
    body = note.checkpoint_body(checkpoint.origin, checkpoint.size, checkpoint.root) + "extension\n"
    extended = f"{body}\n{note.signature_line(checkpoint.origin, body, log.sealer)}"
    assert "extension lines" in fails("-checkpoint", saved("extended.txt", extended.encode()))


CHECKS: list[Callable[[Reading], None]] = [
    check_tlog_scales_verifies_every_served_checkpoint_with_the_served_vkey,
    check_tlog_scales_rejects_every_bit_flip_of_every_served_checkpoint,
    check_every_change_tlog_scales_cannot_see_reads_as_the_same_checkpoint,
    check_tlog_scales_rejects_any_other_changed_byte,
    check_tlog_tiles_fetches_leaves_and_proofs_equal_to_the_api,
    check_tlog_scales_reads_every_entry_root_and_proof_from_the_tiles,
    check_go_checks_the_checkpoint_proofs_and_tiles,
    check_go_fails_on_a_changed_checkpoint_a_wrong_key_and_a_signed_lie,
]


def _name(check: Callable[[Reading], None]) -> str:
    return check.__name__.removeprefix("check_")


@pytest.fixture(scope="module")
def pure_reading(pure_log: Log, tmp_path_factory: pytest.TempPathFactory) -> Reading:
    return Reading(pure_log, lambda: Path(), tmp_path_factory.mktemp("pure"))


@pytest.mark.parametrize("check", CHECKS, ids=_name)
def test_strangers_tools_read_the_log_the_pure_modules_make(pure_reading: Reading, check, request) -> None:
    pure_reading.build_go = lambda: request.getfixturevalue("tlogcheck")  # only the Go checks need Go
    check(pure_reading)


@pytest.mark.e2e
def test_strangers_tools_read_the_local_stack(stack_log: Log, tmp_path: Path, subtests, request) -> None:
    reading = Reading(stack_log, lambda: request.getfixturevalue("tlogcheck"), tmp_path)
    for check in CHECKS:
        with subtests.test(_name(check)):
            check(reading)
