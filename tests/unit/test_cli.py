"""The people's CLI before and around any request: ids, amounts, --help, one-line failures, whoami offline.

Every command here runs through ``main(argv, out, err)`` against a loopback server that records what it is
asked (and answers what the test says), so "refused before any request" is checked, not assumed.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given
from hypothesis import strategies as st

from chalicelib.client import cli
from chalicelib.client.base import AMOUNT_RULE, CliError, checked_id, minor_units, shown
from chalicelib.ledger.keys import private_key_to_pem
from tests.loopback import Loopback


class Recorder:
    """A loopback HTTP server that records each request and answers ``reply`` (status, body bytes)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.reply: tuple[int, bytes] = (500, b'{"error": {"code": "unexpected", "message": "not in this test"}}')
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append(f"{self.command} {self.path}")
                status, body = recorder.reply
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.loopback = Loopback(Handler)
        self.url = self.loopback.url

    def stop(self) -> None:
        self.loopback.stop()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A profile alice with a key and a consumer's facts, as `keys` and `register consumer` leave them."""
    folder = tmp_path / "people" / "alice"
    folder.mkdir(parents=True)
    (folder / "key.pem").write_bytes(private_key_to_pem(Ed25519PrivateKey.generate()))
    (folder / "profile.json").write_text(json.dumps({"kid": "k" * 32, "node": "c-1", "wallet": "w-1",
                                                     "role": "consumer", "genesis": "a" * 64}))
    return tmp_path / "people"


def run(home: Path, api: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["--api", api, "--home", str(home), "--profile", "alice", *args], out, err)
    return code, out.getvalue(), err.getvalue()


def one_line(err: str) -> str:
    assert err.startswith("covenant: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


# --- ids: refused before any request, in one line naming the argument ---

ELLIPSIS_IDS = [
    (("approve", "m-…"), "NODE 'm-…'"),
    (("ship", "o-…"), "ORDER 'o-…'"),
    (("pay", "o-…"), "ORDER 'o-…'"),
    (("pay", "o-…", "--via-subchain"), "ORDER 'o-…'"),
    (("confirm", "o-…"), "ORDER 'o-…'"),
    (("cancel", "o-…"), "ORDER 'o-…'"),
    (("show-order", "o-…"), "ORDER 'o-…'"),
    (("rate", "o-…", "up"), "ORDER 'o-…'"),
    (("dispute", "o-…", "--ground", "quality", "--remedy", "reissue_rebate", "--statement", "x"), "ORDER 'o-…'"),
    (("deposit", "w-…", "500.00"), "WALLET 'w-…'"),
    (("withdraw", "w-…", "1"), "WALLET 'w-…'"),
    (("order", "m-…", "--quantity", "2", "--unit-price", "25.00", "--unit-profit", "5.00"), "SELLER 'm-…'"),
    (("balance", "--wallet", "w-…"), "--wallet 'w-…'"),
    (("history", "--wallet", "w-…"), "--wallet 'w-…'"),
    (("propose", "freeze", "--subject", "w-…"), "--subject 'w-…'"),
    (("vote", "p-…", "yes"), "PROPOSAL 'p-…'"),
    (("approve-proposal", "p-…"), "PROPOSAL 'p-…'"),
    (("buy-item", "i-…"), "ITEM 'i-…'"),
    (("rate-item", "i-…", "up"), "ITEM 'i-…'"),
]


@pytest.mark.parametrize(("args", "named"), ELLIPSIS_IDS, ids=[" ".join(a[:1]) + str(i) for i, (a, _) in
                                                                   enumerate(ELLIPSIS_IDS)])
def test_an_id_pasted_from_the_readme_is_refused_before_any_request(home, recorder, args, named):
    # When a newcomer pastes the README's placeholder as the id
    code, out, err = run(home, recorder.url, *args)
    # Then: exit 2, one line naming the argument and the character, and nothing was sent
    assert code == cli.FAILED and out == ""
    assert named in one_line(err) and "'…' (U+2026 HORIZONTAL ELLIPSIS)" in err
    assert "paste the whole id from the command's output" in err
    assert recorder.requests == []


def test_import_key_checks_its_node_and_wallet_ids(home, tmp_path, recorder):
    pem = tmp_path / "stamp.pem"
    pem.write_bytes(private_key_to_pem(Ed25519PrivateKey.generate()))
    code, _, err = run(home, recorder.url, "--profile", "stamp", "import-key", str(pem), "--node", "sta mp")
    assert code == cli.FAILED and "--node 'sta mp' contains ' ' (U+0020 SPACE)" in one_line(err)
    assert not (home / "stamp" / "key.pem").exists()


@pytest.mark.parametrize(("text", "fault"), [
    ("o-١٢", "'١' (U+0661 ARABIC-INDIC DIGIT ONE)"),
    ("o-1/../../keys", "'/' (U+002F SOLIDUS)"),
    ("o-1?x=1", "'?' (U+003F QUESTION MARK)"),
    ("o-\u200b1", "(U+200B ZERO WIDTH SPACE)"),
    ("o-1\n", "a control character (U+000A)"),
    ("ｏ-1", "(U+FF4F FULLWIDTH LATIN SMALL LETTER O)"),
    ("", "is empty"),
    ("o" * 129, "is 129 characters long; an id has at most 128"),
])
def test_an_id_the_server_s_path_rule_refuses_is_named_with_its_fault(home, recorder, text, fault):
    code, _, err = run(home, recorder.url, "ship", text)
    assert code == cli.FAILED and fault in one_line(err) and err.startswith("covenant: ORDER ")
    assert recorder.requests == []


@given(st.text(max_size=140))
@example("o-1.b_c:d-E")
@example("last-1")
def test_checked_id_accepts_exactly_the_server_s_path_rule(text):
    server_rule = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # chalicelib/api/routing.py's _PATH_PARAM
    try:
        assert checked_id("ID", text) == text
        accepted = True
    except CliError as exc:
        accepted = False
        assert "\n" not in str(exc) and str(exc).startswith("ID ")
    assert accepted == bool(server_rule.match(text) and "\n" not in text)


# --- amounts ---

REFUSED_AMOUNTS = ["1e3", "+0.01", "-1", " 1", "1 ", "1_000", "١٠", "۱۰", "NaN", "nan", "Infinity", "inf", ".5",
                   "5.", "1.234", "0.001", "1,50", "1.5.0", "0x10", "", "１０", "1\n", "12.50€"]


@pytest.mark.parametrize("text", REFUSED_AMOUNTS)
def test_an_amount_that_is_not_ascii_digits_with_two_decimals_is_refused(text):
    with pytest.raises(CliError) as refused:
        minor_units(text, allow_zero=True, what="AMOUNT")
    message = str(refused.value)
    assert message.startswith("AMOUNT ") and "\n" not in message
    assert "digits 0-9 and at most two decimals" in message


@pytest.mark.parametrize(("text", "units"), [("0.01", 1), ("12", 1200), ("12.5", 1250), ("12.50", 1250),
                                             ("500.00", 50_000), ("007", 700), ("90071992547409.91", 2**53 - 1)])
def test_an_amount_is_minor_units_exactly(text, units):
    assert minor_units(text) == units


def test_zero_and_amounts_past_the_ledger_s_largest_are_refused():
    assert minor_units("0", allow_zero=True) == 0
    with pytest.raises(CliError, match="must be more than 0"):
        minor_units("0.00")
    with pytest.raises(CliError, match="larger than the ledger's largest amount"):
        minor_units("90071992547409.92")


@pytest.mark.parametrize("text", ["1e3", "+0.01", "١٠", "Infinity"])
def test_the_cli_refuses_such_an_amount_before_any_request(home, recorder, text):
    code, _, err = run(home, recorder.url, "deposit", "w-1", text)
    assert code == cli.FAILED and one_line(err).startswith(f"covenant: AMOUNT {text!r} ")
    assert recorder.requests == []


@given(st.from_regex(r"\A[0-9]{1,13}(\.[0-9]{1,2})?\Z"))
def test_an_accepted_amount_round_trips_to_minor_units_and_back(text):
    units = minor_units(text, allow_zero=True)
    assert units == int(Decimal(text) * 100)
    assert shown(units) == str(Decimal(text).quantize(Decimal("0.01")))
    assert minor_units(shown(units), allow_zero=True) == units


@given(st.text(max_size=24))
@example("١٠")
@example("1e3")
def test_random_text_is_refused_cleanly_or_is_ascii_digits(text):
    try:
        units = minor_units(text, allow_zero=True)
    except CliError as exc:
        assert "\n" not in str(exc)
        return
    assert AMOUNT_RULE.fullmatch(text) and text.isascii() and units == int(Decimal(text) * 100)


@pytest.mark.parametrize(("args", "named"), [(("--quantity", "١٠"), "--quantity '١٠'"),
                                             (("--quantity", "+2"), "--quantity '+2'"),
                                             (("--quantity", "0"), "--quantity '0'")])
def test_a_quantity_is_a_whole_number_in_ascii_digits(home, recorder, args, named):
    code, _, err = run(home, recorder.url, "order", "m-1", "--unit-price", "1", "--unit-profit", "0", *args)
    assert code == cli.FAILED and named in one_line(err) and recorder.requests == []


# --- one line for every failure ---

def test_an_unreachable_api_is_one_line(home):
    code, _, err = run(home, "http://127.0.0.1:9", "program")
    assert code == cli.FAILED and "cannot reach http://127.0.0.1:9" in one_line(err)


def test_an_answer_that_is_not_json_is_one_line(home, recorder):
    recorder.reply = (200, b"<html>a proxy's page</html>")
    code, _, err = run(home, recorder.url, "program")
    assert code == cli.FAILED and "is not a JSON object: is" in one_line(err)
    assert recorder.requests == ["GET /program"]


def test_a_refusal_is_one_line_with_its_code(home, recorder):
    recorder.reply = (404, b'{"error": {"code": "not_found", "message": "there is no\\norder o-1"}}')
    code, _, err = run(home, recorder.url, "show-order", "o-1")
    assert code == cli.REFUSED and one_line(err) == "covenant: refused (404 not_found): there is no order o-1\n"


def test_an_unexpected_error_is_one_line_with_a_hint_to_report_it(home, recorder, monkeypatch):
    def broken(session: Any, args: argparse.Namespace) -> Any:
        raise RuntimeError("boom\nwith a second line")

    monkeypatch.setattr(cli, "_program", broken)
    code, _, err = run(home, recorder.url, "program")
    assert code == cli.FAILED
    assert "unexpected error: RuntimeError: boom with a second line" in one_line(err) and "please report it" in err
    monkeypatch.setenv("COVENANT_DEBUG", "1")
    code, _, err = run(home, recorder.url, "program")
    assert code == cli.FAILED and "Traceback" in err and err.rstrip().endswith(cli.REPORT)


def test_a_usage_error_goes_to_err_and_exits_2(home):
    code, out, err = run(home, "http://127.0.0.1:9", "ship")
    assert code == 2 and out == "" and "the following arguments are required: ORDER" in err


@pytest.mark.parametrize("args", [("--api", "127.0.0.1:8000"), ("--profile", "../bob"), ("--profile", "")])
def test_a_bad_global_option_is_one_line(home, args):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["--home", str(home), *args, "program"], out, err)
    assert code == cli.FAILED and one_line(err.getvalue())


def test_a_profile_file_that_is_not_json_is_one_line(home, recorder):
    (home / "alice" / "profile.json").write_text("{not json")
    code, _, err = run(home, recorder.url, "balance")
    assert code == cli.FAILED and "profile.json is not JSON" in one_line(err)


# --- help: every command and option documented, with environment variables and defaults ---

def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, p: argparse.ArgumentParser) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}"] = sub
                    walk(f"{prefix}{name} ", sub)

    walk("", parser)
    return found


def test_every_command_is_listed_with_a_summary_in_help():
    out = io.StringIO()
    assert cli.main(["--help"], out, io.StringIO()) == 0
    text = out.getvalue()
    for name in [n for n in _commands() if " " not in n]:
        assert re.search(rf"^    {re.escape(name)}\s+\S", text, re.M) or f"    {name}\n" in text, name
    for option, env, default in (("--api URL", "$COVENANT_API", cli.DEFAULT_API),
                                 ("--home DIR", "$COVENANT_HOME", "~/.covenant"),
                                 ("--profile NAME", "$COVENANT_PROFILE", "'default'")):
        described = re.search(rf"^  {re.escape(option)}\s+(.+?)(?=^  -|\Z)", text, re.M | re.S)
        assert described and env in described.group(1) and default in " ".join(described.group(1).split())
    assert "COVENANT_DEBUG=1" in text and "Exit codes" in text and "--new-chain" in text


@pytest.mark.parametrize("command", sorted(_commands()))
def test_each_command_s_help_documents_every_argument_and_the_global_options(command):
    sub = _commands()[command]
    for action in sub._actions:
        assert action.help, f"{command}: {action.dest} has no help"
    out = io.StringIO()
    assert cli.main([*command.split(), "--help"], out, io.StringIO()) == 0
    text = " ".join(out.getvalue().split())
    for env in ("$COVENANT_API", "$COVENANT_HOME", "$COVENANT_PROFILE"):
        assert env in text, command
    assert "default: $COVENANT_HOME if set, else ~/.covenant" in text


def test_global_options_after_the_command_are_the_same_as_before(home, recorder):
    recorder.reply = (200, b'{"wallet": "w-9", "status": "active", "balances": {"fiat": 150, "coin": 0}}')
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["balance", "--wallet", "w-9", "--api", recorder.url, "--home", str(home)], out, err)
    assert code == 0, err.getvalue()
    assert out.getvalue() == "wallet w-9 (active): 1.50 fiat, 0.00 coins\n"


# --- whoami, offline ---

def test_whoami_shows_the_local_facts_when_the_server_cannot_be_reached(home):
    facts = json.loads((home / "alice" / "profile.json").read_text())
    facts["last"] = {"order": "o-7"}
    (home / "alice" / "profile.json").write_text(json.dumps(facts))
    code, out, err = run(home, "http://127.0.0.1:9", "whoami")
    assert code == cli.OK and err == ""
    lines = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert lines["profile"] == f"alice ({home / 'alice'})"
    assert lines["key"] == f"{'k' * 32} ({home / 'alice' / 'key.pem'})"
    assert lines["node"] == "c-1 (consumer)" and lines["wallet"] == "w-1" and lines["last"] == "order o-7"
    assert lines["chain"].startswith("genesis " + "a" * 64)
    assert lines["server"].startswith("http://127.0.0.1:9: could not be reached")


def test_whoami_of_a_profile_that_does_not_exist_says_how_to_make_it(home):
    code, _, err = run(home, "http://127.0.0.1:9", "--profile", "nobody", "whoami")
    assert code == cli.FAILED and "there is no profile nobody" in one_line(err) and "keys" in err


def test_last_with_nothing_remembered_and_an_unknown_profile_are_one_line(home, recorder):
    recorder.reply = (200, json.dumps({"hash": "a" * 64}).encode())
    code, _, err = run(home, recorder.url, "pay", "last")
    assert code == cli.FAILED and "ORDER last: profile alice has used no order yet" in one_line(err)
    code, _, err = run(home, recorder.url, "ship", "@nobody")
    assert code == cli.FAILED and "ORDER @nobody: there is no profile nobody in" in one_line(err)
    code, _, err = run(home, recorder.url, "ship", "@../alice")
    assert code == cli.FAILED and "after @ comes the name of a profile" in one_line(err)


def test_the_cli_runs_with_only_the_declared_dependencies(home):
    """`pip install .` gives the people's client with pyproject's dependencies only: no AWS package is needed."""
    import os
    import subprocess
    import sys

    from tests.unit.test_verifier_packaging import REFUSE_AWS, ROOT

    script = REFUSE_AWS + """
import io
from chalicelib.client.cli import main
assert main(["--help"], io.StringIO(), io.StringIO()) == 0
out, err = io.StringIO(), io.StringIO()
code = main(["--api", "http://127.0.0.1:9", "--home", sys.argv[1], "--profile", "alice", "whoami"], out, err)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from chalicelib.client.base import Api, CliError
try:  # a signed request is made (then cannot be sent)
    Api("http://127.0.0.1:9").post_signed(None, "/orders/o-1/shipment", dict(), Ed25519PrivateKey.generate())
except CliError:
    pass
print(code, out.getvalue().splitlines()[-1])
"""
    run = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("0 server   http://127.0.0.1:9: could not be reached")
