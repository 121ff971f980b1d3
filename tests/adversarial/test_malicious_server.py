"""covenant-verify against a server that lies: one attack switched on per test.

A small HTTP server (tests/adversarial/ledger_server.py) serves a recorded
chain of 30 blocks with signed entries, built by the production block builder,
through LEDGER.md's public read API. Each test runs the real entry point
(``main([...])`` in process; two through the console script in a subprocess
with a hard timeout) and asserts the exit code and the message:
0 verified, 1 the ledger is wrong, 2 it cannot be read.
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger.format import block_hash, header_bytes
from chalicelib.services.sealer_key import Signer
from chalicelib.verifier.cli import main
from chalicelib.verifier.state import StateLock, lock_path, state_path
from tests.adversarial.ledger_server import LedgerServer, Raw, RecordedLedger, endless
from tests.chainmaker import ChainMaker, honest_and_fork

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "covenant-verify"
HEIGHTS = 30


def _chains():
    honest, forked = honest_and_fork(HEIGHTS)
    attacker = ChainMaker()  # the same entries, re-sealed from a genesis of the attacker's key
    for block in honest.blocks[1:]:
        attacker.seal(copy.deepcopy(block["entries"]))
    return honest.blocks, forked.blocks, attacker.blocks, Signer(Ed25519PrivateKey.generate())


CHAIN, FORK, RESIGNED, STRANGER = _chains()
assert len(CHAIN) == len(FORK) == len(RESIGNED) == HEIGHTS
assert CHAIN[11] == FORK[11] and CHAIN[12] != FORK[12]


@pytest.fixture
def server():
    running = LedgerServer(RecordedLedger(CHAIN)).start()
    yield running
    running.stop()


@pytest.fixture
def verify(server, tmp_path):
    """Run covenant-verify in process against the server; returns (exit code, stdout, stderr)."""

    def run(*args: str, api: str | None = None, timeout: float = 10) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = [*args]
        if argv[0] in ("chain", "inclusion", "consistency", "export", "state", "forget"):
            argv += ["--api", api or server.url]
        if argv[0] not in ("state", "forget"):
            argv += ["--timeout", str(timeout)]
        if argv[0] != "export":
            argv += ["--state-dir", str(tmp_path / "state")]
        code = main(argv, out, err)
        return code, out.getvalue(), err.getvalue()

    return run


def _last(text: str) -> str:
    """The result line (a first run prints its TOFU line before it)."""
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _blocks_attack(change):
    """An attack on /blocks/{h} answers: ``change(height, answer)`` returns what is sent."""

    def attack(path, params, answer):
        if path.startswith("/blocks/") and isinstance(answer, dict) and "header" in answer:
            return change(int(path.rsplit("/", 1)[1]), copy.deepcopy(answer))
        return answer

    return attack


def _entry_in(height: int, offset: int = 1) -> dict:
    return CHAIN[height]["entries"][offset]


# --- a good chain, state and trust on first use

def test_a_good_chain_verifies_and_its_genesis_is_pinned_on_first_use(verify):
    code, out, _ = verify("chain")
    assert code == 0, out
    assert "TOFU: first use of " in out and f"pinned its genesis {CHAIN[0]['hash']}" in out
    assert f"OK: {HEIGHTS} blocks and {CHAIN[-1]['header']['log_size']} entries verified" in out
    assert f"genesis {CHAIN[0]['hash']} (pinned); head {CHAIN[-1]['hash']}" in out
    code, out, _ = verify("chain")
    assert code == 0 and "TOFU" not in out
    code, out, _ = verify("state")
    assert code == 0 and f"genesis {CHAIN[0]['hash']} pinned; no origin pinned; verified up to height " \
                         f"{HEIGHTS - 1}" in out


def test_the_state_lives_in_the_xdg_config_directory_by_default(server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert main(["chain", "--api", server.url, "--timeout", "10"], io.StringIO(), io.StringIO()) == 0
    assert list((tmp_path / "xdg" / "covenant" / "verify").glob("*.sqlite3")) == [
        state_path(tmp_path / "xdg" / "covenant" / "verify", server.url)]


def test_state_in_the_old_xdg_state_directory_is_moved_with_its_pin(server, tmp_path, monkeypatch):
    old, new = tmp_path / "state-home" / "covenant-verify", tmp_path / "config-home" / "covenant" / "verify"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    assert main(["chain", "--api", server.url, "--state-dir", str(old)], io.StringIO(), io.StringIO()) == 0
    server.ledger = RecordedLedger(RESIGNED)
    out = io.StringIO()
    assert main(["chain", "--api", server.url], out, io.StringIO()) == 1
    assert out.getvalue().startswith(f"MOVED: the pins and verified state of {server.url} from "
                                     f"{state_path(old, server.url)} to {state_path(new, server.url)}")
    assert "FAILED: different genesis" in out.getvalue() and not list(old.glob("*.sqlite3"))


def test_a_progress_bar_on_request(verify):
    code, _, err = verify("chain", "--progress")
    assert code == 0 and f"{HEIGHTS}/{HEIGHTS} blocks" in err


def test_genesis_given_on_first_use_is_pinned_and_checked(verify):
    code, out, _ = verify("chain", "--genesis", "ab" * 32)
    assert code == 1 and f"FAILED: different genesis: --genesis {'ab' * 32}, but the API's genesis is " \
                         f"{CHAIN[0]['hash']}" in out
    code, out, _ = verify("state")
    assert "nothing is pinned" in out
    code, out, _ = verify("chain", "--genesis", CHAIN[0]["hash"].upper())
    assert code == 0 and "PINNED: genesis" in out and "TOFU" not in out


def test_a_genesis_option_that_differs_from_the_pin_is_refused(verify):
    assert verify("chain")[0] == 0
    code, out, _ = verify("chain", "--genesis", RESIGNED[0]["hash"])
    assert code == 1 and _last(out).startswith("FAILED: different genesis: --genesis")
    assert "covenant-verify forget --api" in out


def test_forget_drops_the_pin_so_that_a_new_chain_can_be_trusted(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(RESIGNED)
    assert verify("chain")[0] == 1
    code, out, _ = verify("forget")
    assert code == 0 and f"forgot {server.url}: pinned genesis {CHAIN[0]['hash']}" in out
    code, out, _ = verify("chain")
    assert code == 0 and f"pinned its genesis {RESIGNED[0]['hash']}" in out


def test_every_run_of_chain_reads_every_block_so_an_old_changed_byte_is_found(verify, server):
    assert verify("chain")[0] == 0
    first = CHAIN[5]["header"]["log_size"] - CHAIN[5]["header"]["count"]

    def change(height, answer):
        if height == 5:
            answer["entries"][4]["data"]["amount"] += 1
        return answer

    server.attack = _blocks_attack(change)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(f"FAILED at height 5, entry index {first + 4} "
                                               f"(id {CHAIN[5]['entries'][4]['id']})")
    server.attack = None
    code, out, _ = verify("state")
    assert f"verified up to height {HEIGHTS - 1}" in out


# --- two histories: fork, rollback, a re-signed chain

def test_a_fork_after_height_11_between_two_runs_is_refused(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(FORK)
    code, out, _ = verify("chain")
    assert code == 1
    assert _last(out).startswith(f"FAILED: fork after height 11: the API's block 12 is {FORK[12]['hash']}, "
                                 f"but block 12 verified before is {CHAIN[12]['hash']}")
    server.ledger = RecordedLedger(CHAIN)
    assert verify("chain")[0] == 0  # the state still holds the honest head


def test_a_fork_is_refused_by_inclusion_and_consistency_too(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(FORK)
    code, out, _ = verify("inclusion", "--entry", FORK[20]["entries"][1]["id"])
    assert code == 1 and _last(out).startswith("FAILED: fork after height 11")
    code, out, _ = verify("consistency", "--from", "3", "--to", "20")
    assert code == 1 and _last(out).startswith("FAILED: fork after height 11")


def test_a_fork_the_first_run_saw_only_in_part_is_found_by_the_next(verify, server):
    server.ledger = RecordedLedger(CHAIN[:20])
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(FORK)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED: fork after height 11")


def test_a_rollback_from_30_blocks_to_21_is_refused(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(CHAIN[:21])
    code, out, _ = verify("chain")
    assert code == 1
    assert _last(out).startswith(f"FAILED: rollback: the API's chain ends at height 20 (21 blocks, head "
                                 f"{CHAIN[20]['hash']}), but 30 blocks, up to height 29 ({CHAIN[29]['hash']}), "
                                 "were verified before")
    assert verify("inclusion", "--entry", _entry_in(5)["id"])[1].startswith("FAILED: rollback")


def test_a_shorter_fork_is_named_a_fork(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(FORK[:21])
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED: fork after height 11")
    assert "the API's chain is shorter (it ends at height 20, the verified one at 29)" in out


def test_a_chain_re_signed_by_an_attacker_is_refused_without_genesis(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(RESIGNED)
    code, out, _ = verify("chain")
    assert code == 1
    assert _last(out).startswith(f"FAILED: different genesis: the API's genesis is {RESIGNED[0]['hash']}, "
                                 f"but the pinned genesis is {CHAIN[0]['hash']}")


def _stranger_sealed(blocks: list[dict]) -> list[dict]:
    """The same entries after height 11, sealed by a key that is no sealer key of the chain."""
    forged = copy.deepcopy(blocks[:12])
    for block in blocks[12:]:
        header = dict(block["header"], ts=block["header"]["ts"] + 1, sealer=STRANGER.kid, prev=forged[-1]["hash"])
        forged.append({"header": header, "hash": block_hash(header), "sig": STRANGER.sign(header_bytes(header)),
                       "entries": block["entries"]})
    return forged


def test_blocks_after_height_11_sealed_by_a_stranger_are_a_fork(verify, server):
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(_stranger_sealed(CHAIN), keys=RecordedLedger(CHAIN).keys)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED: fork after height 11")


def test_a_server_that_keeps_the_head_but_changes_history_is_caught_at_the_change(verify, server):
    assert verify("chain")[0] == 0
    forged = _stranger_sealed(CHAIN)
    server.attack = _blocks_attack(lambda h, answer: {**forged[h], "next": None} if h == 12 else answer)
    code, out, _ = verify("chain")
    assert code == 1
    assert _last(out).startswith(f"FAILED: fork after height 11: the API's block 12 is {forged[12]['hash']}")
    assert "and it does not verify: height 12: sealer names no sealer key" in out


# --- inclusion and consistency answer from the verified state

def test_inclusion_is_proven_against_the_verified_head(verify):
    entry = _entry_in(17, 3)
    code, out, _ = verify("inclusion", "--entry", entry["id"])
    assert code == 0, out
    assert "TOFU" in out  # the first use verified the chain first
    index = CHAIN[17]["header"]["log_size"] - CHAIN[17]["header"]["count"] + 3
    assert (f"OK: entry {entry['id']} is leaf {index} of the verified log of {CHAIN[-1]['header']['log_size']} "
            f"entries (head at height 29, {CHAIN[-1]['hash']}); it was sealed in block 17") in out


def test_a_forged_entry_is_not_included(verify, server):
    assert verify("chain")[0] == 0
    entry = _entry_in(9, 2)

    def forge(path, params, answer):
        if path.startswith("/entries/"):
            answer["entry"]["data"]["amount"] += 1
        return answer

    server.attack = forge
    code, out, _ = verify("inclusion", "--entry", entry["id"])
    assert code == 1 and "FAILED at height 9, entry index" in out and "is not leaf" in out


def test_a_forged_entry_with_a_forged_head_and_keys_is_not_included(verify, server):
    assert verify("chain")[0] == 0
    forged = copy.deepcopy(CHAIN)
    forged[9]["entries"][2]["data"]["amount"] += 1
    attacker = ChainMaker()
    for block in forged[1:]:
        attacker.seal(copy.deepcopy(block["entries"]))
    server.ledger = RecordedLedger(attacker.blocks)  # its /keys: the attacker's key, its proofs: its tree
    code, out, _ = verify("inclusion", "--entry", forged[9]["entries"][2]["id"])
    assert code == 1 and _last(out).startswith("FAILED: different genesis")


def test_a_wrong_block_height_for_an_entry_is_not_printed_as_fact(verify, server):
    assert verify("chain")[0] == 0
    entry = _entry_in(9, 2)

    def lie(path, params, answer):
        if path.startswith("/entries/"):
            answer["height"] = 12
        return answer

    server.attack = lie
    code, out, _ = verify("inclusion", "--entry", entry["id"])
    assert code == 1 and "the API places this entry in block 12, but leaf" in out and "lies in verified block 9" in out


def test_consistency_uses_the_verified_sizes_and_roots_not_the_servers_headers(verify, server):
    assert verify("chain")[0] == 0
    swap = {3: 9, 9: 3}
    server.attack = _blocks_attack(lambda h, answer: server.ledger.answer(f"/blocks/{swap.get(h, h)}", {}, 1000)[1])
    code, out, _ = verify("consistency", "--from", "3", "--to", "9")
    assert code == 0, out
    m, n = CHAIN[3]["header"]["log_size"], CHAIN[9]["header"]["log_size"]
    assert f"the verified log at height 3 ({m} entries) is a prefix of the log at height 9 ({n} entries)" in out


def test_a_consistency_proof_for_other_sizes_is_refused(verify, server):
    assert verify("chain")[0] == 0

    def other(path, params, answer):
        if path == "/proofs/consistency":
            answer = server.ledger.answer(path, {"first": "3", "second": params["second"]}, 1000)[1]
            answer["first"] = int(params["first"])
        return answer

    server.attack = other
    code, out, _ = verify("consistency", "--from", "5", "--to", "20")
    assert code == 1
    assert _last(out).startswith("FAILED at height 20: the API's consistency proof from height 5 does not lead to "
                                 "the verified roots")


def test_consistency_beyond_the_verified_head_cannot_be_answered(verify):
    code, _, err = verify("consistency", "--from", "3", "--to", "40")
    assert code == 2 and "beyond the verified head (height 29)" in err


def test_a_state_behind_the_head_is_brought_up_to_date_before_answering(verify, server):
    server.ledger = RecordedLedger(CHAIN[:21])
    assert verify("chain")[0] == 0
    server.ledger = RecordedLedger(CHAIN)
    server.requests.clear()
    entry = _entry_in(28, 1)
    code, out, _ = verify("inclusion", "--entry", entry["id"])
    assert code == 0 and "it was sealed in block 28" in out
    fetched = {int(p.split("?")[0].split("/")[2]) for p in server.requests
               if p.startswith("/blocks/") and not p.endswith("/checkpoint")}
    assert fetched == set(range(20, HEIGHTS))  # the remembered head, then only the new blocks


def test_new_blocks_are_verified_before_an_answer(verify, server):
    server.ledger = RecordedLedger(CHAIN[:21])
    assert verify("chain")[0] == 0
    broken = copy.deepcopy(CHAIN)
    broken[25]["entries"][3]["auth"]["body"] = broken[25]["entries"][3]["auth"]["body"].replace("300", "301")
    server.ledger = RecordedLedger(broken, keys=RecordedLedger(CHAIN).keys)
    code, out, _ = verify("inclusion", "--entry", _entry_in(5)["id"])
    assert code == 1 and _last(out).startswith("FAILED at height 25, entry index") and "content-digest" in out


# --- /keys and the head

def test_forged_keys_are_refused(verify, server):
    intruder = ChainMaker().signer.jwk
    server.attack = lambda path, params, answer: {"keys": [*answer["keys"], intruder]} if path == "/keys" else answer
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 29: /keys does not list exactly the sealer keys")


def test_keys_may_carry_their_checkpoint_vkey(verify, server):
    import base64
    import hashlib

    from chalicelib.ledger.keys import public_key_from_jwk, raw_public

    def with_vkey(jwk, origin="ledger.example/covenant"):
        raw = raw_public(public_key_from_jwk(jwk))
        key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4].hex()
        encoded = base64.b64encode(b"\x01" + raw).decode()
        return {**jwk, "vkey": f"{origin}+{key_id}+{encoded}"}

    server.attack = lambda p, q, a: {"keys": [with_vkey(k) for k in a["keys"]]} if p == "/keys" else a
    code, out, err = verify("chain")
    assert code == 0, out + err
    plus = ChainMaker(Signer(Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32))).blocks
    assert "+" in with_vkey(plus[0]["entries"][0]["data"]["jwk"])["vkey"].split("+", 2)[2]  # a "+" in the key
    server.ledger = RecordedLedger(plus)
    assert verify("forget")[0] == 0
    code, out, err = verify("chain")
    assert code == 0, out + err
    server.attack = lambda p, q, a: {"keys": [dict(k, vkey="o+00000000+AAAA") for k in a["keys"]]} \
        if p == "/keys" else a
    code, out, _ = verify("chain")
    assert code == 1 and "/keys:" in out


def test_a_head_that_is_not_the_block_served_is_refused(verify, server):
    server.attack = lambda p, q, a: dict(a, hash="0" * 64) if p == "/chain/head" else a
    code, out, _ = verify("chain")
    assert code == 1 and "the head the API announces is not the block it serves" in out


# --- bytes flipped, blocks and entries dropped, reordered, duplicated

@pytest.mark.parametrize("seed", range(12))
def test_a_flipped_byte_in_a_served_block_is_never_accepted(verify, server, seed):
    chooser = random.Random(seed)
    height = chooser.randrange(HEIGHTS)
    original = json.dumps({k: v for k, v in server.ledger.answer(f"/blocks/{height}", {}, 1000)[1].items()
                           if k != "next"}, separators=(",", ":")).encode()
    while True:
        position, bit = chooser.randrange(len(original)), chooser.randrange(8)
        flipped = bytearray(original)
        flipped[position] ^= 1 << bit
        try:
            if json.loads(flipped.decode()) == json.loads(original):
                continue  # the same JSON value: nothing to detect
        except (UnicodeDecodeError, ValueError):
            pass
        break

    def flip(path, params, answer):
        return Raw(bytes(flipped)) if path == f"/blocks/{height}" else answer

    server.attack = flip
    code, out, err = verify("chain")
    assert code in (1, 2)
    assert _last(out).startswith("FAILED") if code == 1 else "cannot read the ledger" in err


@pytest.mark.parametrize(("name", "mapping", "expected"), [
    ("dropped", {5: 6, 6: 7}, "FAILED at height 5: header height is 6, expected 5"),
    ("reordered", {5: 6, 6: 5}, "FAILED at height 5: header height is 6, expected 5"),
    ("duplicated", {6: 5}, "FAILED at height 6: header height is 5, expected 6"),
])
def test_dropped_reordered_and_duplicated_blocks(verify, server, name, mapping, expected):
    server.attack = _blocks_attack(
        lambda h, answer: server.ledger.answer(f"/blocks/{mapping.get(h, h)}", {}, 1000)[1])
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith(expected), name


def _entries(change):
    def apply(height, answer):
        if height == 9:
            answer["entries"] = change(answer["entries"])
        return answer
    return _blocks_attack(apply)


def test_a_dropped_entry(verify, server):
    server.attack = _entries(lambda e: e[:3] + e[4:])
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 9: header count is 6 but the block has 5 entries")


def test_reordered_entries_are_blamed_on_the_height_only(verify, server):
    server.attack = _entries(lambda e: [e[0], e[2], e[1], *e[3:]])
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 9: log_root does not match")
    assert "the API's proofs cannot show which entry changed" in out and "entry index" not in out


def test_a_duplicated_entry(verify, server):
    server.attack = _entries(lambda e: [e[0], e[1], e[1], *e[3:]])
    code, out, _ = verify("chain")
    first = CHAIN[9]["header"]["log_size"] - 6
    assert code == 1 and _last(out).startswith(f"FAILED at height 9, entry index {first + 2}")
    assert "entry id is not unique" in out


def test_an_entry_added_beyond_the_count(verify, server):
    server.attack = _entries(lambda e: [*e, e[-1]])
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 9: header count is 6 but the block has 7 entries")


# --- blame: only from what the verifier proved itself

def _changed_entry_attack(server, bad_proof_for: int | None):
    first = CHAIN[8]["header"]["log_size"] - CHAIN[8]["header"]["count"]

    def attack(path, params, answer):
        if path == "/blocks/8":
            answer = copy.deepcopy(answer)
            answer["entries"][2]["data"]["amount"] += 1
        if path == "/proofs/inclusion" and bad_proof_for is not None and int(params["index"]) == first + bad_proof_for:
            answer = dict(answer, path=["00" * 32 for _ in answer["path"]])
        return answer

    server.attack = attack
    return first


def test_the_changed_entry_is_named_when_every_other_is_proven(verify, server):
    first = _changed_entry_attack(server, None)
    code, out, _ = verify("chain")
    entry = CHAIN[8]["entries"][2]
    assert code == 1
    assert _last(out).startswith(f"FAILED at height 8, entry index {first + 2} (id {entry['id']}): the entry does "
                                 "not match the signed log_root")


def test_a_bad_proof_cannot_make_the_verifier_blame_an_innocent_entry(verify, server):
    _changed_entry_attack(server, bad_proof_for=0)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 8: log_root does not match")
    assert "entry index" not in out and "cannot show which entry changed" in out


def test_a_header_with_a_bad_signature_is_blamed_as_such_not_through_proofs(verify, server):
    def forge(height, answer):
        if height == 8:
            answer["header"]["log_root"] = "ab" * 32
            answer["hash"] = block_hash(answer["header"])
            answer["entries"][2]["data"]["amount"] += 1
        return answer

    server.attack = _blocks_attack(forge)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 8: the block signature does not verify")
    assert not any(p.startswith("/proofs/") for p in server.requests)


# --- bounded reads: exit 2, never a hang, never a traceback

def test_a_looping_cursor(verify, server):
    server.page_cap = 4
    server.attack = lambda path, params, answer: dict(answer, next=params["cursor"]) \
        if path.startswith("/blocks/") and "cursor" in params else answer
    code, _, err = verify("chain")
    assert code == 2 and "the paging cursor '4' repeats (the pages loop)" in err


def test_a_cursor_that_adds_nothing(verify, server):
    server.page_cap = 4
    server.attack = lambda path, params, answer: dict(answer, entries=[], next="8") \
        if path.startswith("/blocks/") and "cursor" in params else answer
    code, _, err = verify("chain")
    assert code == 2 and "adds no entries (the cursor does not advance)" in err


def test_short_pages_do_not_add_up_to_the_count(verify, server):
    server.page_cap = 4
    server.attack = _blocks_attack(lambda h, answer: dict(answer, next=None) if h == 7 else answer)
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 7: header count is 6 but the block has 4 entries")


def test_pages_that_disagree_on_the_header(verify, server):
    server.page_cap = 4
    server.attack = lambda path, params, answer: dict(answer, sig=CHAIN[6]["sig"]) \
        if path == "/blocks/7" and "cursor" in params else answer
    code, _, err = verify("chain")
    assert code == 2 and "block 7: its pages disagree" in err


def test_no_page_is_read_once_the_entries_exceed_the_count(verify, server):
    server.page_cap = 4
    pages = iter(range(5, 10**6))

    def endless_pages(path, params, answer):
        if path == "/blocks/7" and "cursor" in params:
            return dict(answer, entries=CHAIN[7]["entries"][:4], next=str(next(pages)))
        return answer

    server.attack = endless_pages
    code, out, _ = verify("chain")
    assert code == 1 and _last(out).startswith("FAILED at height 7: header count is 6 but the block has 8 entries")
    assert sum(1 for p in server.requests if p.startswith("/blocks/7?")) == 2


def test_paged_blocks_verify(verify, server):
    server.page_cap = 4
    assert verify("chain")[0] == 0


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_server_that_drips_bytes_is_cut_off(verify, server, where):
    def drip(path, params, answer):
        if path == "/chain/head":
            return Raw(json.dumps(answer).encode(), drip=0.5, drip_headers=where == "headers")
        return answer

    server.attack = drip
    code, _, err = verify("chain", timeout=2)
    assert code == 2 and "no complete answer within 2 s" in err


def test_a_huge_body_is_cut_off(verify, server):
    server.attack = lambda p, q, a: Raw(endless()) if p == "/blocks/3" else a
    code, _, err = verify("chain", "--max-bytes", "1000000")
    assert code == 2 and "exceeds the cap of 1,000,000 bytes" in err


def test_a_huge_declared_length_is_refused_at_once(verify, server):
    server.attack = lambda p, q, a: Raw(b"{}", headers={"Content-Length": str(10**12)}) if p == "/keys" else a
    code, _, err = verify("chain")
    assert code == 2 and "more than the cap" in err


def test_deeply_nested_json_is_unreadable_not_a_crash(verify, server):
    server.attack = lambda p, q, a: Raw(b"[" * 200_000 + b"]" * 200_000) if p == "/chain/head" else a
    code, _, err = verify("chain")
    assert code == 2 and "nested too deeply" in err and "Traceback" not in err

    def deep_entry(height, answer):
        if height == 4:
            value: list = []
            for _ in range(500):
                value = [value]
            answer["entries"][0]["data"]["deep"] = value
        return answer

    server.attack = _blocks_attack(deep_entry)
    code, _, err = verify("chain")
    assert code == 2 and "nested more than 128 levels" in err


def test_json_constants_non_utf8_and_non_objects_are_unreadable(verify, server):
    server.attack = lambda p, q, a: Raw(b'{"keys": NaN}') if p == "/keys" else a
    assert verify("chain")[0] == 2
    server.attack = lambda p, q, a: Raw(b'{"keys": ["\xff"]}') if p == "/keys" else a
    code, _, err = verify("chain")
    assert code == 2 and "is not UTF-8" in err
    server.attack = lambda p, q, a: [a] if p == "/chain/head" else a
    code, _, err = verify("chain")
    assert code == 2 and "did not answer a JSON object" in err


def test_server_errors_and_a_closed_port_are_unreadable(verify, server):
    server.attack = lambda p, q, a: Raw(b'{"error":{"code":"internal_error","message":"boom"}}', status=500) \
        if p == "/blocks/7" else a
    code, _, err = verify("chain")
    assert code == 2 and "GET /blocks/7 failed after 3 attempts" in err and "internal_error: boom" in err
    server.stop()
    code, _, err = verify("chain")
    assert code == 2 and "cannot read the ledger" in err


def test_a_malformed_head_is_unreadable(verify, server):
    server.attack = lambda p, q, a: dict(a, header={"height": "x"}) if p == "/chain/head" else a
    code, _, err = verify("chain")
    assert code == 2 and "not a block header" in err


def test_export_is_bounded_too(verify, server, tmp_path):
    out_file = tmp_path / "dump.jsonl"
    assert verify("export", "--out", str(out_file))[0] == 0
    assert len(out_file.read_text().splitlines()) == HEIGHTS
    assert main(["chain", "--file", str(out_file)], io.StringIO(), io.StringIO()) == 0
    server.attack = lambda p, q, a: Raw(json.dumps(a).encode(), drip=0.5) if p == "/blocks/2" else a
    code, _, err = verify("export", "--out", str(out_file), timeout=2)
    assert code == 2 and "no complete answer within 2 s" in err


def test_another_run_holding_the_state_is_reported(verify, server, tmp_path):
    with StateLock(lock_path(state_path(tmp_path / "state", server.url))):
        code, _, err = verify("chain")
    assert code == 2 and "another covenant-verify run" in err


# --- the console script, in a subprocess with a hard timeout: no hang

def _script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_process_ends_after_failed_while_prefetching_blocks_hang(server, tmp_path, jobs):
    def attack(path, params, answer):
        if path == "/blocks/3":
            answer = copy.deepcopy(answer)
            answer["entries"][0]["data"]["amount"] = 1
        elif path.startswith("/blocks/") and int(path.rsplit("/", 1)[1]) > 3:
            server.hang()
        return answer

    server.attack = attack
    result = _script("chain", "--api", server.url, "--state-dir", str(tmp_path), "--no-progress", "--jobs", jobs)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _last(result.stdout).startswith("FAILED at height 3")


def test_the_console_script_cuts_off_a_dripping_server(server, tmp_path):
    server.attack = lambda p, q, a: Raw(json.dumps(a).encode(), drip=1.0) if p.startswith("/blocks/") else a
    result = _script("chain", "--api", server.url, "--state-dir", str(tmp_path), "--timeout", "2.5")
    assert result.returncode == 2 and "no complete answer within 2.5 s" in result.stderr
    assert "Traceback" not in result.stderr
