"""covenant-verify checkpoint with a witness quorum, against a server whose checkpoints carry cosignatures.

The server (tests/adversarial/ledger_server.py) serves recorded chains whose
checkpoints carry C2SP tlog-cosignature v1 lines by witnesses this module
makes (named as LEDGER.md names sub-chains). The reader trusts some of them
(``--witness-vkey``, ``--witness-vkeys-file``) and asks for ``--quorum K``.
Every refusal is asserted with its exit code (1 the ledger is wrong, 2 it
cannot be read or the command is wrong) and its one-line message.
"""

from __future__ import annotations

import base64
import io
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.ledger import note
from chalicelib.ledger.cosigners import cosigner_of
from chalicelib.ledger.keys import raw_public
from chalicelib.verifier import checkpoints
from chalicelib.verifier.cli import main
from tests.adversarial.ledger_server import TEXT, LedgerServer, Raw, RecordedLedger, Witness, flipped
from tests.chainmaker import honest_and_fork

HEIGHTS = 16
HONEST, FORKED = honest_and_fork(HEIGHTS)
CHAIN, FORK = HONEST.blocks, FORKED.blocks
KEY = HONEST.signer.key
ORIGIN = note.local_origin(CHAIN[0]["hash"])
VKEY = note.vkey(ORIGIN, KEY.public_key())
SIZE = CHAIN[-1]["header"]["log_size"]
A, B, C = (Witness.new(ORIGIN) for _ in range(3))
STRANGER = Witness.new(ORIGIN)  # cosigns, but nobody here trusts it


def ledger(blocks=None) -> RecordedLedger:
    return RecordedLedger(blocks if blocks is not None else CHAIN, signers=[KEY], tiles=True)


def described(witness: Witness) -> str:
    return checkpoints.describe(note.parse_vkey(witness.vkey))


def trusting(*witnesses: Witness) -> list[str]:
    return [arg for w in witnesses for arg in ("--witness-vkey", w.vkey)]


@pytest.fixture
def server():
    running = LedgerServer(ledger()).start()
    yield running
    running.stop()


@pytest.fixture
def verify(server, tmp_path):
    """Run covenant-verify in process against the server; returns (exit code, stdout, stderr)."""

    def run(*args: str, state: str = "state") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = [*args, "--api", server.url]
        if args[0] != "state":
            argv += ["--timeout", "10"]
        if args[0] != "cosigners":
            argv += ["--state-dir", str(tmp_path / state)]
        code = main(argv, out, err)
        return code, out.getvalue(), err.getvalue()

    return run


def _last(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _serve(server, text: str) -> None:
    server.attack = lambda path, params, answer: Raw(text.encode(), headers=TEXT) if path == "/checkpoint" else answer


def _checkpoint(server, height: int = -1) -> str:
    text = server.ledger.checkpoints[height]
    assert text is not None
    return text


# --- the quorum

def test_a_quorum_of_trusted_witnesses_accepts_the_checkpoint(verify, server):
    server.ledger.cosign(A, C)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "2")
    assert code == 0, out
    assert _last(out) == (f"OK: checkpoint of {SIZE} entries (root {CHAIN[-1]['header']['log_root']}) signed by "
                          f"{checkpoints.describe(note.parse_vkey(VKEY))}; cosigned by 2 of the 3 witnesses given "
                          f"({described(A)}, {described(C)}), quorum 2; the first checkpoint verified for "
                          f"{server.url}")
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "0")
    assert code == 0 and "cosigned by 2 of the 3 witnesses given" in _last(out) and ", quorum 0; " in _last(out)


def test_one_cosignature_fewer_than_the_quorum_is_refused_and_not_remembered(verify, server):
    server.ledger.cosign(B)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "2")
    assert code == 1 and _last(out) == (f"FAILED: no quorum: /checkpoint is cosigned by 1 of the 3 witnesses given "
                                        f"({described(B)}), but --quorum is 2")
    code, out, _ = verify("state")
    assert "no checkpoint verified" in out and "no origin pinned" in out
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, C), "--quorum", "1")
    assert code == 1 and _last(out) == ("FAILED: no quorum: /checkpoint is cosigned by 0 of the 2 witnesses given, "
                                        "but --quorum is 1")


def test_without_witnesses_cosignatures_are_not_required(verify, server):
    code, out, _ = verify("checkpoint", "--vkey", VKEY)
    assert code == 0 and "cosigned" not in out


# --- lines that do not verify, by trusted and by other keys

@pytest.mark.parametrize("byte", [4, 11, 40], ids=["time", "signature", "signature-end"])
def test_a_forged_cosignature_of_a_trusted_witness_is_refused_even_with_a_quorum(verify, server, byte):
    text = _checkpoint(server) + A.line(_checkpoint(server)) + B.line(_checkpoint(server))
    forged = text + flipped(C.line(text), byte)
    _serve(server, forged)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "2")
    assert code == 1 and _last(out) == (f"FAILED: bad cosignature: /checkpoint: the cosignature by {described(C)}, a "
                                        "trusted witness, does not verify (forged, or a cosignature of another "
                                        "checkpoint)")


def test_a_truncated_cosignature_of_a_trusted_witness_is_refused(verify, server):
    line = A.line(_checkpoint(server))
    dash, name, blob = line.rstrip("\n").split(" ")
    short = f"{dash} {name} {base64.b64encode(base64.b64decode(blob)[:-1]).decode()}\n"
    _serve(server, _checkpoint(server) + short)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A), "--quorum", "1")
    assert code == 1 and _last(out) == (f"FAILED: bad cosignature: /checkpoint: the cosignature line by "
                                        f"{described(A)}, a trusted witness, is not an 8-byte time and a 64-byte "
                                        "Ed25519 signature")


def test_a_cosignature_of_another_checkpoint_pasted_under_this_one_is_refused(verify, server):
    older = _checkpoint(server, 10)
    server.ledger.cosign(A)
    _serve(server, _checkpoint(server) + B.line(older))
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "2")
    assert code == 1 and _last(out) == (f"FAILED: bad cosignature: /checkpoint: the cosignature by {described(B)}, a "
                                        "trusted witness, does not verify (forged, or a cosignature of another "
                                        "checkpoint)")
    fork = ledger(FORK)  # the same size, another root: the cosignature of the other branch's checkpoint
    assert fork.checkpoints[-1] != _checkpoint(server)
    _serve(server, _checkpoint(server) + B.line(fork.checkpoints[-1] or ""))
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "1")
    assert code == 1 and "FAILED: bad cosignature: " in _last(out)


def test_lines_of_untrusted_keys_are_ignored_and_never_counted(verify, server):
    text = _checkpoint(server) + A.line(_checkpoint(server)) + STRANGER.line(_checkpoint(server))
    text += flipped(Witness.new(ORIGIN).line(text), 20)  # a forged line by another key: not ours to judge
    text += f"{note.DASH} {A.name} " + base64.b64encode(b"\x00\x01\x02\x03" + bytes(72)).decode() + "\n"  # A's name,
    _serve(server, text)  # another key ID: another key's line
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "1")
    assert code == 0 and f"cosigned by 1 of the 2 witnesses given ({described(A)}), quorum 1; " in _last(out)
    assert STRANGER.name not in out
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "2")
    assert code == 1 and "FAILED: no quorum: /checkpoint is cosigned by 1 of the 2 witnesses given" in _last(out)


# --- one witness counts once

def test_a_witness_given_twice_counts_once(verify, server, tmp_path):
    server.ledger.cosign(A)
    listed = tmp_path / "witnesses"
    listed.write_text(f"# A again\n{A.vkey}\n")
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, A, B), "--witness-vkeys-file", str(listed),
                          "--quorum", "2")
    assert code == 1 and _last(out) == (f"FAILED: no quorum: /checkpoint is cosigned by 1 of the 2 witnesses given "
                                        f"({described(A)}), but --quorum is 2")
    with pytest.raises(SystemExit) as exited:
        verify("checkpoint", "--vkey", VKEY, *trusting(A, A), "--quorum", "2")
    assert exited.value.code == 2


def test_two_lines_of_one_witness_count_once(verify, server):
    server.ledger.cosign(A, when=int(time.time()) - 60).cosign(A)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "2")
    assert code == 1 and "cosigned by 1 of the 2 witnesses given" in _last(out)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "1")
    assert code == 0, out


def test_one_key_under_two_names_counts_once(verify, server):
    key = Ed25519PrivateKey.generate()
    first = Witness.new(ORIGIN, key)
    listed = cosigner_of("witness.example", raw_public(key.public_key()))
    second = Witness(key, listed["name"], listed["id"], listed["vkey"])
    server.ledger.cosign(first, second)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(first, second, B), "--quorum", "2")
    assert code == 1 and _last(out) == (f"FAILED: no quorum: /checkpoint is cosigned by 1 of the 2 witnesses given "
                                        f"({described(first)}), but --quorum is 2")


# --- time

def test_a_cosignature_dated_in_the_future_is_refused(verify, server):
    now = int(time.time())
    server.ledger.cosign(A).cosign(B, when=now + 3600)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "1")
    assert code == 1
    assert _last(out).startswith(f"FAILED: bad cosignature: /checkpoint: the cosignature by {described(B)}, a trusted "
                                 f"witness, is dated {now + 3600} (")
    assert _last(out).endswith(" s ahead of this clock (at most 600 s allowed)")


def test_a_cosignature_a_few_minutes_ahead_and_an_old_one_are_accepted(verify, server):
    server.ledger.cosign(A, when=int(time.time()) + 300).cosign(B, when=1)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B), "--quorum", "2")
    assert code == 0, out


# --- the split view, in small: one log key, two branches of the same size, only one gathers the quorum

def test_only_the_branch_with_a_quorum_is_accepted(verify, server):
    server.ledger.cosign(A, B)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "2", state="one")
    assert code == 0, out
    server.ledger = ledger(FORK).cosign(C)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "2", state="two")
    assert code == 1 and _last(out) == (f"FAILED: no quorum: /checkpoint is cosigned by 1 of the 3 witnesses given "
                                        f"({described(C)}), but --quorum is 2")
    server.ledger.cosign(A)  # a witness that cosigns both branches is caught by whoever saw the other
    code, out, _ = verify("checkpoint", "--vkey", VKEY, *trusting(A, B, C), "--quorum", "2", state="one")
    assert code == 1 and _last(out).startswith(f"FAILED: fork at size {SIZE}: ")


# --- the command line

@pytest.mark.parametrize(("args", "expected"), [
    (["--witness-vkey", "a+b+c"], "argument --witness-vkey: "),
    (["--witness-vkey", VKEY, "--quorum", "1"], "a witness's vkey has the cosignature/v1 type byte 0x04"),
    (["--witness-vkey", A.vkey], "--quorum is required with witnesses (1 given)"),
    (["--witness-vkey", A.vkey, "--quorum", "2"], "--quorum 2 is more than the 1 distinct witness keys given"),
    (["--quorum", "1"], "--quorum 1 is more than the 0 distinct witness keys given"),
    (["--witness-vkey", A.vkey, "--quorum", "-1"], "a quorum is 0 or more"),
], ids=["bad-vkey", "log-vkey", "no-quorum", "quorum-too-high", "quorum-alone", "negative"])
def test_witness_options_are_checked_before_anything_is_read(verify, server, capsys, args, expected):
    with pytest.raises(SystemExit) as exited:
        verify("checkpoint", "--vkey", VKEY, *args)
    assert exited.value.code == 2 and expected in capsys.readouterr().err
    assert server.requests == []


def test_a_witness_file_with_a_bad_line_is_named(verify, server, capsys, tmp_path):
    listed = tmp_path / "witnesses"
    listed.write_text(f"# trusted\n\n{A.vkey}\n  {B.vkey}  \nnot a vkey\n")
    with pytest.raises(SystemExit) as exited:
        verify("checkpoint", "--vkey", VKEY, "--witness-vkeys-file", str(listed), "--quorum", "1")
    assert exited.value.code == 2
    assert f"--witness-vkeys-file {listed}, line 5: a vkey is <name>+<key ID hex>+<base64 key>" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        verify("checkpoint", "--vkey", VKEY, "--witness-vkeys-file", str(tmp_path / "missing"), "--quorum", "0")
    assert "--witness-vkeys-file" in capsys.readouterr().err


# --- covenant-verify cosigners

def test_cosigners_prints_a_witness_file_and_a_warning(verify, server, tmp_path):
    server.ledger.cosigners = [A.listed(3), B.listed(5, retired=9), C.listed(7)]
    code, out, err = verify("cosigners")
    assert code == 0, err
    assert out == (f"# {A.id}: registered at entry 3\n{A.vkey}\n"
                   f"# {B.id}: registered at entry 5, retired at entry 9\n# {B.vkey}\n"
                   f"# {C.id}: registered at entry 7\n{C.vkey}\n")
    assert "trusting them is trusting the log" in err
    listed = tmp_path / "witnesses"
    listed.write_text(out)
    server.ledger.cosign(A, B, C)
    code, out, _ = verify("checkpoint", "--vkey", VKEY, "--witness-vkeys-file", str(listed), "--quorum", "2")
    assert code == 0 and f"cosigned by 2 of the 2 witnesses given ({described(A)}, {described(C)})" in _last(out)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: dict(c, vkey=B.vkey), "the vkey is not the cosignature/v1 key named <origin>/subchain/<id>"),
    (lambda c: dict(c, vkey=VKEY), "the vkey is not the cosignature/v1 key named"),
    (lambda c: dict(c, registered=-1), "registered is an entry index"),
    (lambda c: dict(c, id="sc-x"), "id, name and vkey are strings"),
    (lambda c: [c], "not a JSON object"),
], ids=["other-key", "log-key", "index", "id", "not-object"])
def test_a_bad_cosigner_listing_cannot_be_read(verify, server, change, expected):
    server.ledger.cosigners = [change(A.listed())]
    code, out, err = verify("cosigners")
    assert code == 2 and out == "" and f"GET /cosigners: cosigner 0: {expected}" in err


def test_cosigners_of_a_log_without_them_cannot_be_read(verify, server):
    code, out, err = verify("cosigners")
    assert code == 2 and out == "" and "cannot read the ledger" in err
