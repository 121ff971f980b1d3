"""covenant-verify's pins, checkpoints and entry bundles, against a server that lies (one attack per test).

The server (tests/adversarial/ledger_server.py) serves recorded chains with
LEDGER.md's additions: signed checkpoints under an origin, ``vkey`` members in
``/keys`` and C2SP entry bundles. Every refusal is asserted with its exit code
(1 the ledger is wrong, 2 it cannot be read) and its one-line message.
"""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger import note, tiles
from chalicelib.ledger.canonical import canonical
from chalicelib.verifier.cli import main
from tests.adversarial.ledger_server import OCTETS, TEXT, LedgerServer, Raw, RecordedLedger, cosigned, endless
from tests.chainmaker import ChainMaker, honest_and_fork

HEIGHTS = 30


def _chains():
    honest, forked = honest_and_fork(HEIGHTS)
    other = ChainMaker().with_signed_entries(blocks=3, per_block=2)
    big = ChainMaker().with_signed_entries(blocks=5, per_block=120)  # 602 entries: bundles of 256, 256 and 90
    return honest, forked, other, big


HONEST, FORKED, OTHER, BIG = _chains()
CHAIN, FORK = HONEST.blocks, FORKED.blocks
KEY = HONEST.signer.key
ORIGIN = note.local_origin(CHAIN[0]["hash"])
VKEY = note.vkey(ORIGIN, KEY.public_key())
SIZE = CHAIN[-1]["header"]["log_size"]


def ledger(blocks=None, maker: ChainMaker = HONEST, **options) -> RecordedLedger:
    options.setdefault("tiles", True)
    return RecordedLedger(blocks if blocks is not None else maker.blocks, signers=[maker.signer.key], **options)


@pytest.fixture
def server():
    running = LedgerServer(ledger()).start()
    yield running
    running.stop()


@pytest.fixture
def verify(server, tmp_path):
    """Run covenant-verify in process against the server; returns (exit code, stdout, stderr)."""

    def run(*args: str, timeout: float = 10) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = [*args, "--api", server.url, "--state-dir", str(tmp_path / "state")]
        if args[0] not in ("state", "forget"):
            argv += ["--timeout", str(timeout)]
        code = main(argv, out, err)
        return code, out.getvalue(), err.getvalue()

    return run


def _last(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _root(blocks, height: int) -> str:
    return blocks[height]["header"]["log_root"]


def _size(blocks, height: int) -> int:
    return blocks[height]["header"]["log_size"]


def _on(path: str, change):
    """An attack that changes the answer to ``path`` only."""
    return lambda p, q, a: change(a) if p == path else a


def _text(body: str) -> Raw:
    return Raw(body.encode(), headers=TEXT)


# --- pins: genesis and origin on first use, then refused if they change

def test_first_use_pins_the_genesis_and_the_origin_and_checks_the_heads_checkpoint(verify):
    code, out, _ = verify("chain")
    assert code == 0, out
    assert f"pinned its genesis {CHAIN[0]['hash']}" in out
    assert f"TOFU: pinned the origin {ORIGIN} for " in out
    result = _last(out)
    assert result.startswith(f"OK: {HEIGHTS} blocks and {SIZE} entries verified (")
    assert "entry bundles); " in result and f"; origin {ORIGIN} (pinned); " in result
    assert f"the head's checkpoint verifies with the vkey of /keys ({ORIGIN}+" in result
    code, out, _ = verify("chain")
    assert code == 0 and "TOFU" not in out
    code, out, _ = verify("state")
    assert f"genesis {CHAIN[0]['hash']} pinned; origin {ORIGIN} pinned; verified up to height {HEIGHTS - 1}" in out
    assert f"last checkpoint verified: {SIZE} entries, root {_root(CHAIN, -1)}" in out


def test_another_origin_for_the_same_chain_is_refused(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = ledger(origin="ledger.example/covenant")
    code, out, _ = verify("chain")
    assert code == 1
    assert _last(out) == (f"FAILED: different origin: the API's origin is ledger.example/covenant, but the pinned "
                          f"origin is {ORIGIN}; if the operator really started a new log, run "
                          f"`covenant-verify forget --api {server.url}`")
    code, out, _ = verify("state")
    assert f"origin {ORIGIN} pinned" in out


def test_another_genesis_with_its_own_origin_is_refused(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = ledger(maker=OTHER)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(f"FAILED: different genesis: the API's genesis is "
                                               f"{OTHER.blocks[0]['hash']}, but the pinned genesis is "
                                               f"{CHAIN[0]['hash']}")


def test_an_origin_pinned_by_the_checkpoint_command_is_held_against_the_chain(verify, server):
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger(origin="ledger.example/covenant")
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED: different origin: the API's origin is ledger.example/covenant"
                                               f", but the pinned origin is {ORIGIN}")


def test_an_explicit_origin_must_match_the_server(verify):
    code, out, _ = verify("chain", "--origin", "ledger.example/covenant")
    assert code == 1
    assert _last(out) == (f"FAILED: different origin: --origin ledger.example/covenant, but the API's origin (its "
                          f"checkpoints' key name) is {ORIGIN}")
    code, out, _ = verify("state")
    assert "nothing is pinned" in out  # a run the API contradicts keeps nothing it served
    code, out, _ = verify("chain", "--origin", ORIGIN)
    assert code == 0 and f"PINNED: origin {ORIGIN} for " in out and "as --origin gave it" in out


def test_an_explicit_origin_must_match_the_pin(verify, server):
    assert verify("chain")[0] == 0
    for command in (("chain",), ("checkpoint", "--vkey", VKEY), ("inclusion", "--entry", CHAIN[5]["entries"][0]["id"])):
        code, out, _ = verify(*command, "--origin", "ledger.example/covenant")
        assert code == 1, command
        assert _last(out) == (f"FAILED: different origin: --origin ledger.example/covenant is not the origin pinned "
                              f"for {server.url}, {ORIGIN}; if the operator really started a new log, run "
                              f"`covenant-verify forget --api {server.url}` first")


def test_an_explicit_genesis_must_match_the_pin_and_the_server(verify, server):
    code, out, _ = verify("chain", "--genesis", OTHER.blocks[0]["hash"])
    assert code == 1 and _last(out) == (f"FAILED: different genesis: --genesis {OTHER.blocks[0]['hash']}, but the "
                                        f"API's genesis is {CHAIN[0]['hash']}")
    assert verify("chain", "--genesis", CHAIN[0]["hash"])[0] == 0
    code, out, _ = verify("chain", "--genesis", OTHER.blocks[0]["hash"])
    assert code == 1 and _last(out).startswith(f"FAILED: different genesis: --genesis {OTHER.blocks[0]['hash']} is "
                                               f"not the genesis pinned for {server.url}, {CHAIN[0]['hash']}")


def test_a_local_origin_must_be_the_one_of_its_genesis(verify, server):
    server.ledger = ledger(origin="localhost/covenant/0123456789abcdef")
    code, out, _ = verify("chain")
    assert code == 1 and _last(out) == (
        f"FAILED: different origin: the API's origin localhost/covenant/0123456789abcdef is a local stack's, but the "
        f"local stack of genesis {CHAIN[0]['hash']} has the origin {ORIGIN}")


def test_forget_drops_the_origin_too(verify, server):
    assert verify("chain")[0] == 0
    code, out, _ = verify("forget")
    assert code == 0 and f"pinned genesis {CHAIN[0]['hash']}, origin {ORIGIN}" in out
    server.ledger = ledger(origin="ledger.example/covenant")
    code, out, _ = verify("chain")
    assert code == 0 and "TOFU: pinned the origin ledger.example/covenant" in out


def test_origin_and_tiles_need_an_api(tmp_path):
    dump = tmp_path / "chain.jsonl"
    dump.write_text("".join(json.dumps(b) + "\n" for b in CHAIN))
    with pytest.raises(SystemExit) as exited:
        main(["chain", "--file", str(dump), "--origin", ORIGIN], io.StringIO(), io.StringIO())
    assert exited.value.code == 2


# --- covenant-verify checkpoint

def test_the_checkpoint_command_pins_the_origin_and_follows_the_log(verify, server):
    server.ledger = ledger(CHAIN[:20])
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 0, out
    assert f"TOFU: pinned the origin {ORIGIN} for {server.url}" in out
    key_id = note.parse_vkey(VKEY).key_id.hex()
    assert _last(out) == (f"OK: checkpoint of {_size(CHAIN, 19)} entries (root {_root(CHAIN, 19)}) signed by "
                          f"{ORIGIN}+{key_id}; the first checkpoint verified for {server.url}")
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 0 and _last(out).endswith("; the same tree as the checkpoint verified before")
    server.ledger = ledger()
    server.requests.clear()
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 0 and _last(out) == (f"OK: checkpoint of {SIZE} entries (root {_root(CHAIN, -1)}) signed by "
                                        f"{ORIGIN}+{key_id}; consistent with the checkpoint of {_size(CHAIN, 19)} "
                                        "entries verified before")
    assert f"/proofs/consistency?first={_size(CHAIN, 19)}&second={SIZE}" in server.requests
    assert not any(p.startswith(("/blocks", "/tile")) for p in server.requests)  # the checkpoint alone is cheap


def test_a_rollback_between_two_runs_is_refused(verify, server):
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger(CHAIN[:21])
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1
    assert _last(out) == (f"FAILED: rollback: the API's checkpoint is of {_size(CHAIN, 20)} entries (root "
                          f"{_root(CHAIN, 20)}), but the checkpoint of {SIZE} entries (root {_root(CHAIN, -1)}) "
                          "verified before")


def test_a_fork_at_the_same_size_is_refused(verify, server):
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger(maker=FORKED)
    assert _size(FORK, -1) == SIZE
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1
    assert _last(out) == (f"FAILED: fork at size {SIZE}: the API's checkpoint of {SIZE} entries has root "
                          f"{_root(FORK, -1)}, but the checkpoint of {SIZE} entries verified before has root "
                          f"{_root(CHAIN, -1)}")


def test_a_larger_tree_that_is_not_consistent_is_a_fork(verify, server):
    server.ledger = ledger(CHAIN[:20])
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger(maker=FORKED)  # its proofs are honest, for its own tree
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1
    assert _last(out).startswith(f"FAILED: fork: the API's checkpoint of {SIZE} entries (root {_root(FORK, -1)}) is "
                                 f"not consistent with the checkpoint of {_size(CHAIN, 19)} entries (root "
                                 f"{_root(CHAIN, 19)}) verified before: ")


def test_a_consistency_proof_for_other_sizes_cannot_be_read(verify, server):
    server.ledger = ledger(CHAIN[:20])
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger()
    server.attack = _on("/proofs/consistency", lambda a: dict(a, first=a["first"] - 1))
    code, _, err = verify("checkpoint", "--vkey", VKEY)
    assert code == 2 and "GET /proofs/consistency answered a proof for other sizes" in err


def test_runs_that_each_look_fine_alone_are_caught_together(verify, server):
    # the checkpoint command sees the honest log, then chain a fork of the same size that verifies on its own
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger(maker=FORKED)
    code, out, _ = verify("chain")
    assert code == 1
    assert _last(out) == (f"FAILED: fork: the checkpoint of {SIZE} entries verified before has root "
                          f"{_root(CHAIN, -1)}, but the API's block of {SIZE} entries has root {_root(FORK, -1)}")
    code, out, _ = verify("state")
    assert "no genesis pinned" in out  # nothing of the fork was kept


def test_a_chain_verified_before_is_held_against_a_later_checkpoint(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = ledger(maker=FORKED)
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1 and _last(out).startswith(f"FAILED: fork at size {SIZE}: the API's checkpoint of {SIZE} entries")
    server.ledger = ledger(CHAIN[:25])
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1 and _last(out).startswith(f"FAILED: rollback: the API's checkpoint is of {_size(CHAIN, 24)} "
                                               "entries")


def test_a_bad_checkpoint_signature_is_refused(verify, server):
    def forge(answer):
        text = answer.body.decode()
        body, _, line = text.rpartition("\n\n")
        name, blob = line.split(" ")[1:]
        raw = bytearray(base64.b64decode(blob))
        raw[10] ^= 1
        return _text(f"{body}\n\n{note.DASH} {name} {base64.b64encode(bytes(raw)).decode()}\n")

    server.attack = _on("/checkpoint", forge)
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1 and _last(out) == f"FAILED: bad checkpoint: /checkpoint: the signature by {ORIGIN} does not verify"


def test_a_checkpoint_with_another_root_under_the_log_signature_is_refused(verify, server):
    forged = note.checkpoint_body(ORIGIN, SIZE, b"\x07" * 32)
    signature = note.sign_checkpoint(ORIGIN, SIZE, bytes.fromhex(_root(CHAIN, -1)), KEY).split("\n\n")[1]
    server.attack = _on("/checkpoint", lambda a: _text(f"{forged}\n{signature}"))
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1 and _last(out) == f"FAILED: bad checkpoint: /checkpoint: the signature by {ORIGIN} does not verify"


def test_a_checkpoint_without_a_signature_by_the_vkey_is_refused(verify, server):
    stranger = Ed25519PrivateKey.generate()
    text = note.sign_checkpoint(ORIGIN, SIZE, bytes.fromhex(_root(CHAIN, -1)), stranger)
    server.attack = _on("/checkpoint", lambda a: _text(text))
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    own, other = note.parse_vkey(VKEY), note.parse_vkey(note.vkey(ORIGIN, stranger.public_key()))
    assert code == 1 and _last(out) == (f"FAILED: bad checkpoint: /checkpoint has no signature by {ORIGIN}+"
                                        f"{own.key_id.hex()} (it is signed by {ORIGIN}+{other.key_id.hex()})")


def test_cosignatures_and_other_signature_lines_are_accepted(verify, server):
    server.attack = _on("/checkpoint", lambda a: _text(cosigned(cosigned(a.body.decode()), "witness.example/w2")))
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 0, out
    code, out, _ = verify("chain")
    assert code == 0, out


@pytest.mark.parametrize(("served", "expected"), [
    ("not a note", "GET /checkpoint is not a signed note: a note's lines end in a single \\n"),
    (f"{ORIGIN}\n1\nAAAA\n", "GET /checkpoint is not a signed note: a note has a blank line before its signatures"),
    (f"{ORIGIN}\n1\n\n{note.DASH} {ORIGIN} !!!\n", "GET /checkpoint is not a signed note: a signature is base64"),
], ids=["text", "no-blank-line", "not-base64"])
def test_a_checkpoint_that_is_not_a_signed_note_cannot_be_read(verify, server, served, expected):
    server.attack = _on("/checkpoint", lambda a: _text(served))
    code, _, err = verify("checkpoint", "--vkey", VKEY)
    assert code == 2 and expected in err


@pytest.mark.parametrize(("body", "expected"), [
    (f"{ORIGIN}\n{SIZE}\nroot\nextension\n", "a checkpoint body is exactly three lines: origin, size, root"),
    (f"{ORIGIN}\n0{SIZE}\n" + base64.b64encode(b"\0" * 32).decode() + "\n",
     "a checkpoint's size is a decimal integer without leading zeros"),
    (f"{ORIGIN}\n{SIZE}\nnot base64\n", "a checkpoint's root is standard base64"),
    (f"ledger.example/x\n{SIZE}\n" + base64.b64encode(b"\0" * 32).decode() + "\n",
     f"the checkpoint's origin 'ledger.example/x' is not the key's name '{ORIGIN}'"),
], ids=["four-lines", "leading-zero", "root", "origin"])
def test_a_malformed_checkpoint_signed_by_the_log_is_a_bad_ledger(verify, server, body, expected):
    signature = note.signature_line(ORIGIN, body, KEY)
    server.attack = _on("/checkpoint", lambda a: _text(f"{body}\n{signature}"))
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 1 and _last(out) == f"FAILED: bad checkpoint: /checkpoint: {expected}"


def test_a_vkey_of_another_origin_than_the_pin_is_refused(verify, server):
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    other = note.vkey("ledger.example/covenant", KEY.public_key())
    code, out, _ = verify("checkpoint", "--vkey", other)
    assert code == 1 and _last(out) == (f"FAILED: different origin: --vkey is a key of the origin "
                                        f"ledger.example/covenant, but the origin pinned for {server.url} is "
                                        f"{ORIGIN}")


def test_a_server_without_checkpoints(verify, server):
    server.ledger = RecordedLedger(CHAIN)
    code, _, err = verify("checkpoint", "--vkey", VKEY)
    assert code == 2 and "GET /checkpoint answered 404: the API serves no checkpoints" in err
    code, out, _ = verify("chain")
    assert code == 0 and _last(out).endswith("; no origin served; no checkpoints served")


@pytest.mark.parametrize("vkey", ["nonsense", "a+b+c", note.vkey(ORIGIN, KEY.public_key(), note.COSIGNATURE_V1),
                                  note.vkey("has space", KEY.public_key())],
                         ids=["nonsense", "parts", "cosigner", "space"])
def test_a_bad_vkey_is_a_usage_error(verify, vkey):
    with pytest.raises(SystemExit) as exited:
        verify("checkpoint", "--vkey", vkey)
    assert exited.value.code == 2


# --- chain holds the served checkpoints to the verified headers

def test_a_head_checkpoint_that_disagrees_with_the_header_is_refused(verify, server):
    other = note.sign_checkpoint(ORIGIN, _size(CHAIN, 20), bytes.fromhex(_root(CHAIN, 20)), KEY)
    server.attack = _on(f"/blocks/{HEIGHTS - 1}/checkpoint", lambda a: _text(other))
    code, out, _ = verify("chain")
    assert code == 1 and _last(out) == (
        f"FAILED: bad checkpoint: /blocks/{HEIGHTS - 1}/checkpoint is of {_size(CHAIN, 20)} entries with root "
        f"{_root(CHAIN, 20)}, but the verified block {HEIGHTS - 1} has {SIZE} entries and root {_root(CHAIN, -1)}")


def test_a_newest_checkpoint_that_is_no_verified_block_is_refused(verify, server):
    forged = note.sign_checkpoint(ORIGIN, SIZE - 1, b"\x01" * 32, KEY)
    server.attack = _on("/checkpoint", lambda a: _text(forged))
    code, out, _ = verify("chain")
    assert code == 1 and _last(out) == (f"FAILED: bad checkpoint: /checkpoint is of {SIZE - 1} entries with root "
                                        f"{'01' * 32}, but no verified block has that size")


def test_a_checkpoint_signed_by_another_key_fails_chain(verify, server):
    stranger = Ed25519PrivateKey.generate()
    forged = note.sign_checkpoint(ORIGIN, SIZE, bytes.fromhex(_root(CHAIN, -1)), stranger)
    server.attack = _on(f"/blocks/{HEIGHTS - 1}/checkpoint", lambda a: _text(forged))
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(f"FAILED: bad checkpoint: /blocks/{HEIGHTS - 1}/checkpoint has no "
                                               f"signature by {ORIGIN}+")


def test_keys_without_a_vkey_while_checkpoints_are_served(verify, server):
    server.attack = _on("/keys", lambda a: {"keys": [{k: v for k, v in key.items() if k != "vkey"}
                                                     for key in a["keys"]]})
    code, out, _ = verify("chain")
    assert code == 1 and _last(out) == (f"FAILED: bad checkpoint: /keys gives no vkey for the sealer key "
                                        f"{CHAIN[-1]['header']['sealer']} of block {HEIGHTS - 1}, so its checkpoint "
                                        "cannot be checked")


def test_a_head_without_its_checkpoint_while_the_newest_is_served(verify, server):
    server.attack = lambda p, q, a: Raw(b'{"error":{"code":"not_found","message":"no"}}', status=404) \
        if p.endswith("/checkpoint") and p != "/checkpoint" else a
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED: missing checkpoint: the API serves /checkpoint but no "
                                               f"checkpoint of its head, block {HEIGHTS - 1}")


def _head_at(height: int):
    """An attack: /chain/head announces block ``height`` (a head read before newer blocks were sealed)."""
    return lambda p, q, a: {k: CHAIN[height][k] for k in ("header", "hash", "sig")} if p == "/chain/head" else a


def test_a_newest_checkpoint_sealed_during_the_run_must_be_consistent(verify, server):
    server.attack = _head_at(19)
    code, out, _ = verify("chain")
    assert code == 0, out
    assert _last(out).endswith(f"; /checkpoint, of {SIZE} entries sealed since the head was read, is consistent "
                               f"with the verified head of {_size(CHAIN, 19)} entries verified before")
    code, out, _ = verify("state")
    assert f"last checkpoint verified: {SIZE} entries" in out


def test_a_newest_checkpoint_of_a_fork_sealed_during_the_run_is_refused(verify, server):
    fork_checkpoint = note.sign_checkpoint(ORIGIN, SIZE, bytes.fromhex(_root(FORK, -1)), KEY)
    head = _head_at(19)
    server.attack = lambda p, q, a: _text(fork_checkpoint) if p == "/checkpoint" else head(p, q, a)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(f"FAILED: fork: /checkpoint of {SIZE} entries (root {_root(FORK, -1)})"
                                               f" is not consistent with the verified head of {_size(CHAIN, 19)} "
                                               f"entries (root {_root(CHAIN, 19)}) verified before")


def test_a_rollback_below_a_checkpoint_verified_before_is_refused(verify, server):
    assert verify("checkpoint", "--vkey", VKEY)[0] == 0
    server.ledger = ledger(CHAIN[:20])
    code, out, _ = verify("chain")
    assert code == 1 and _last(out) == (
        f"FAILED: rollback: the API's chain holds {_size(CHAIN, 19)} entries (head at height 19, {CHAIN[19]['hash']}), "
        f"but a checkpoint of {SIZE} entries (root {_root(CHAIN, -1)}) was verified before")


def test_inclusion_brings_the_checkpoint_up_to_date(verify, server):
    server.ledger = ledger(CHAIN[:20])
    assert verify("chain")[0] == 0
    server.ledger = ledger()
    entry = CHAIN[25]["entries"][1]
    code, out, _ = verify("inclusion", "--entry", entry["id"])
    assert code == 0, out
    code, out, _ = verify("state")
    assert f"last checkpoint verified: {SIZE} entries" in out


# --- entry bundles

@pytest.fixture
def big(server):
    server.ledger = ledger(maker=BIG)
    return BIG.blocks


def test_chain_reads_entry_bundles_when_the_server_has_them(verify, server, big):
    code, out, _ = verify("chain")
    assert code == 0, out
    assert "entry bundles); " in _last(out) and "602 entries verified" in _last(out)
    bundles = sorted(p for p in server.requests if p.startswith("/tile/"))
    assert bundles == ["/tile/entries/000", "/tile/entries/001", "/tile/entries/002.p/90"]
    assert all(p.endswith("?limit=1") or p.endswith("/checkpoint") for p in server.requests if p.startswith("/blocks/"))


def test_no_tiles_reads_the_json_pages(verify, server, big):
    code, out, _ = verify("chain", "--no-tiles")
    assert code == 0 and "JSON pages); " in _last(out)
    assert not any(p.startswith("/tile/") for p in server.requests)


def test_tiles_forced_on_a_server_without_them_cannot_read(verify, server):
    server.ledger = ledger(tiles=False)
    code, out, err = verify("chain", "--tiles")
    assert code == 2 and "the API serves no entry bundles (GET /tile/entries/000.p/" in err
    code, out, _ = verify("chain")
    assert code == 0 and "JSON pages); " in _last(out)


def test_a_state_behind_reads_only_the_new_bundles(verify, server):
    server.ledger = ledger(BIG.blocks[:5])  # 362 entries: bundle 0 is verified
    assert verify("chain")[0] == 0
    server.ledger = ledger(maker=BIG)
    server.requests.clear()
    code, out, _ = verify("inclusion", "--entry", BIG.blocks[6]["entries"][3]["id"])
    assert code == 0, out
    assert sorted(p for p in server.requests if p.startswith("/tile/")) == ["/tile/entries/001",
                                                                            "/tile/entries/002.p/90"]


def _bundle_attack(server, change):
    """An attack on entry bundles: ``change(ref, entries)`` returns the bytes of the entries served."""

    def attack(path, params, answer):
        if path.startswith("/tile/entries/") and isinstance(answer, Raw):
            ref = tiles.parse_path(path)
            entries = tiles.unbundle(answer.body)
            return Raw(change(ref, entries), headers=OCTETS)
        return answer

    server.attack = attack


def _index_of(blocks, height: int, offset: int) -> int:
    return blocks[height]["header"]["log_size"] - blocks[height]["header"]["count"] + offset


def test_a_wrong_entry_in_a_bundle_is_named(verify, server, big):
    index = _index_of(big, 4, 30)  # in bundle 1
    entry = copy.deepcopy(big[4]["entries"][30])
    assert entry["auth"] is None
    entry["data"]["amount"] += 1

    def change(ref, entries):
        if ref.n == 1:
            entries[index - 256] = canonical(entry)
        return tiles.bundle(entries)

    _bundle_attack(server, change)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(f"FAILED at height 4, entry index {index} (id {entry['id']}): the entry "
                                               "does not match the signed log_root")


def test_a_bundle_entry_in_another_serialisation_is_refused(verify, server, big):
    index = _index_of(big, 3, 7)
    entry = big[3]["entries"][7]

    def change(ref, entries):
        if ref.n == index // 256:
            entries[index % 256] = json.dumps(entry, indent=1).encode()
        return tiles.bundle(entries)

    _bundle_attack(server, change)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out) == (f"FAILED at height 3, entry index {index} (id {entry['id']}): the entry "
                                        "bundle does not hold this entry's JCS (RFC 8785) bytes, but another "
                                        "serialisation of it")


def test_bundle_bytes_that_are_not_json_are_named(verify, server, big):
    index = _index_of(big, 2, 5)

    def change(ref, entries):
        if ref.n == index // 256:
            entries[index % 256] = b"\xff not json"
        return tiles.bundle(entries)

    _bundle_attack(server, change)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(f"FAILED at height 2, entry index {index}: the entry bundle's bytes "
                                               "for this entry are not a JSON entry (an entry of an entry bundle is "
                                               "not UTF-8)")


@pytest.mark.parametrize(("change", "expected"), [
    (lambda ref, e: tiles.bundle(e)[:-5], "an entry bundle ends inside an entry"),
    (lambda ref, e: tiles.bundle(e) + b"\x00", "an entry bundle ends inside a length prefix"),
    (lambda ref, e: tiles.bundle(e[:-1]), "the bundle holds 255 entries, not 256"),
    (lambda ref, e: tiles.bundle([*e, e[0]]), "an entry bundle holds at most 256 entries"),
], ids=["truncated", "dangling-prefix", "short", "overfull"])
def test_a_truncated_or_overfull_bundle_cannot_be_read(verify, server, big, change, expected):
    _bundle_attack(server, lambda ref, entries: change(ref, entries) if ref.n == 1 else tiles.bundle(entries))
    code, _, err = verify("chain")
    assert code == 2 and f"GET /tile/entries/001: {expected}" in err


def test_an_oversized_bundle_is_cut_off(verify, server, big):
    server.attack = lambda p, q, a: Raw(endless(), headers=OCTETS) if p == "/tile/entries/001" else a
    code, _, err = verify("chain")
    assert code == 2 and "GET /tile/entries/001: the answer exceeds the cap of 16,777,472 bytes" in err
    server.attack = lambda p, q, a: Raw(b"", headers={**OCTETS, "Content-Length": str(17_000_000)}) \
        if p == "/tile/entries/001" else a
    code, _, err = verify("chain")
    assert code == 2 and "GET /tile/entries/001: the answer is 17,000,000 bytes, more than the cap of 16,777,472" in err


def test_a_partial_bundle_gone_is_read_from_the_full_one_or_the_json_pages(verify, server, big):
    gone = Raw(b'{"error":{"code":"not_found","message":"gone"}}', status=404)
    server.attack = lambda p, q, a: gone if p == "/tile/entries/002.p/90" else a
    code, out, _ = verify("chain")
    assert code == 0 and "entry bundles); " in _last(out)
    assert "/tile/entries/002" in server.requests  # the full bundle, then the JSON pages of the last blocks
    assert any(p.startswith(f"/blocks/{len(big) - 1}?limit=1000") for p in server.requests)


def test_a_header_that_claims_more_entries_than_the_log_holds(verify, server, big):
    def attack(path, params, answer):
        if path == "/blocks/3" and isinstance(answer, dict):
            answer = dict(answer, header=dict(answer["header"], count=10**6))
        return answer

    server.attack = attack
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 3: block hash is not SHA-256(JCS(header))")
    assert sum(1 for p in server.requests if p.startswith("/tile/")) <= 3


def test_a_revoked_sealer_key_vouches_for_no_tree_beyond_the_head(verify, server):
    """Review of issue 8: a key revoked in the verified chain must not sign a newer /checkpoint that is believed."""
    from chalicelib.ledger.keys import jwk_of
    from chalicelib.services.sealer_key import Signer

    maker = ChainMaker()
    old = maker.signer.key
    new = Signer(Ed25519PrivateKey.generate())
    maker.seal([maker.entry({"node": "stamp", "jwk": new.jwk})])  # a second sealer key, registered by the system
    maker.signer = new
    maker.seal([maker.entry({"revoke_kid": jwk_of(old.public_key())["kid"]})])
    maker.seal([maker.entry({"n": 1})])
    blocks = maker.blocks
    server.ledger = RecordedLedger(blocks, signers=[old, new.key], tiles=True)
    origin = note.local_origin(blocks[0]["hash"])
    newest = note.sign_checkpoint(origin, _size(blocks, -1), bytes.fromhex(_root(blocks, -1)), old)
    server.attack = lambda p, q, a: (
        {k: blocks[-2][k] for k in ("header", "hash", "sig")} if p == "/chain/head"
        else _text(newest) if p == "/checkpoint" else a)
    code, out, _ = verify("chain")
    assert code == 1, out
    assert "signed by a sealer key revoked at entry" in _last(out)
