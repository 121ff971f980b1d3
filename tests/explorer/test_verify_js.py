"""The explorer's verify.js, run in Debian's Chromium (headless, Playwright): the checks the page makes.

RFC 8785 against the public vectors and against Python's ``rfc8785`` on random
values; RFC 9162 inclusion and consistency against the public vectors; and a
real chain made here with the project's own Python (blocks, inclusion proofs,
a checkpoint with two cosignatures), which verifies, while each hostile change
fails with a reason naming the fault; and the in-process app's own answers,
read as the explorer reads them, verify. WebCrypto exists only in a secure
context, so the module is served from a loopback HTTP server.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.ledger import format as fmt
from chalicelib.ledger import merkle, note
from chalicelib.ledger.canonical import MAX_SAFE_INTEGER, canonical
from chalicelib.ledger.keys import jwk_of, raw_public, sign
from tests.explorer.test_explorer_browser import CHROMIUM, _require_chromium

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "chalicelib" / "explorer" / "static"
VECTORS = ROOT.parent / "shared" / "vectors"
HARNESS = b"""<!doctype html><meta charset="utf-8"><title>verify.js</title>
<script type="module">import * as v from "./verify.js"; window.v = v; window.ready = true;</script>"""
ORIGIN = "example.test/covenant"


class _Static(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/harness.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(HARNESS)
            return
        super().do_GET()

    def guess_type(self, path: str | Any) -> str:
        return "text/javascript" if str(path).endswith(".js") else super().guess_type(path)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Static, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            tab = browser.new_page()
            tab.goto(f"http://127.0.0.1:{server.server_address[1]}/harness.html")
            tab.wait_for_function("() => window.ready === true")
            yield tab
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def run(page: Any, body: str, arg: Any = None) -> Any:
    """``body`` is an async function's body over ``v`` (the module) and ``arg``."""
    return page.evaluate(f"async (arg) => {{ const v = window.v; {body} }}", arg)


# --- RFC 8785


def test_rfc8785_vectors_give_the_exact_bytes(page):
    inputs = sorted((VECTORS / "rfc8785" / "input").glob("*.json"))
    assert len(inputs) == 6
    cases = {p.name: p.read_text(encoding="utf-8") for p in inputs}
    got = run(page, "const out = {}; for (const [n, t] of Object.entries(arg)) out[n] = v.canonicalize(JSON.parse(t));"
                    " return out;", cases)
    for name in cases:
        want = (VECTORS / "rfc8785" / "output" / name).read_bytes()
        assert got[name].encode("utf-8") == want, name


def test_canonicalize_refuses_what_json_cannot_hold(page):
    refused = run(page, """const out = [];
      for (const bad of [NaN, Infinity, -Infinity, undefined, () => 1, "\\ud800", {a: [1, {b: "\\udfff"}]}]) {
        try { v.canonicalize(bad); out.push(false); } catch (e) { out.push(e instanceof TypeError); }
      }
      return out;""")
    assert refused == [True] * 7


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_json, min_size=10, max_size=10))
def test_canonicalize_agrees_with_pythons_rfc8785(page, values):
    """Ten values per browser call: the page parses Python's JSON text and gives the same canonical bytes."""
    texts = [json.dumps(value, ensure_ascii=False) for value in values]
    got = run(page, "return arg.map((t) => v.canonicalize(JSON.parse(t)));", texts)
    assert [g.encode("utf-8") for g in got] == [rfc8785.dumps(value) for value in values]


# --- RFC 9162


def _b64s(values: list[str] | None) -> list[str]:
    return [base64.b64decode(v).hex() for v in values or []]


def _vectors(kind: str) -> list[dict[str, Any]]:
    cases = []
    for path in sorted((VECTORS / "rfc9162" / kind).rglob("*.json")):
        case = json.loads(path.read_text())
        case["name"] = f"{path.parent.name}/{path.stem}"
        cases.append(case)
    return cases


def test_rfc9162_inclusion_vectors(page):
    cases = [{"name": c["name"], "want": not c["wantErr"], "index": c["leafIdx"], "size": c["treeSize"],
              "leaf": base64.b64decode(c["leafHash"] or "").hex(), "root": base64.b64decode(c["root"] or "").hex(),
              "path": _b64s(c["proof"])} for c in _vectors("inclusion")]
    assert len(cases) > 40 and any(c["want"] for c in cases) and any(not c["want"] for c in cases)
    got = run(page, """const out = {};
      for (const c of arg) {
        out[c.name] = await v.verifyInclusionHash(v.fromHex(c.leaf), c.index, c.size, c.path.map(v.fromHex),
          v.fromHex(c.root));
      }
      return out;""", cases)
    for case in cases:
        assert got[case["name"]]["ok"] is case["want"], (case["name"], got[case["name"]])
        assert got[case["name"]]["reason"]


def test_rfc9162_consistency_vectors(page):
    cases = [{"name": c["name"], "want": not c["wantErr"], "first": c["size1"], "second": c["size2"],
              "root1": base64.b64decode(c["root1"] or "").hex(), "root2": base64.b64decode(c["root2"] or "").hex(),
              "path": _b64s(c["proof"])} for c in _vectors("consistency")]
    assert len(cases) > 80
    got = run(page, """const out = {};
      for (const c of arg) {
        out[c.name] = await v.verifyConsistencyHashes(c.first, c.second, c.path.map(v.fromHex),
          v.fromHex(c.root1), v.fromHex(c.root2));
      }
      return out;""", cases)
    for case in cases:
        assert got[case["name"]]["ok"] is case["want"], (case["name"], got[case["name"]])


# --- a real chain, made by the project's Python


class Chain:
    """Three blocks of real entries, sealed by one key, with their proofs and a cosigned checkpoint."""

    def __init__(self) -> None:
        self.sealer = Ed25519PrivateKey.generate()
        self.jwk = {**jwk_of(self.sealer.public_key()),
                    "vkey": note.vkey(ORIGIN, self.sealer.public_key())}
        self.entries: list[dict[str, Any]] = []
        self.blocks: list[dict[str, Any]] = []
        prev = "0" * 64
        for height, count in enumerate((1, 3, 4)):
            for i in range(count):
                n = len(self.entries)
                self.entries.append(fmt.make_entry(f"e-{n}", "fiat.deposited", 1_700_000_000_000 + n, "system",
                                                   {"wallet": f"w-{i}", "amount": 100 * n + 1, "note": "naïve ☃"}))
            leaves = [merkle.leaf_hash(canonical(e)) for e in self.entries]
            header = fmt.make_header(height, prev, len(leaves), merkle.root_of(leaves), count,
                                     1_700_000_000_000 + height, self.jwk["kid"])
            prev = fmt.block_hash(header)
            self.blocks.append({"header": header, "hash": prev, "sig": sign(self.sealer, fmt.header_bytes(header)),
                                "entries": self.entries[len(leaves) - count:], "next": None})
        self.cosigners = []
        self.witness_keys = []
        for i in range(2):
            key = Ed25519PrivateKey.generate()
            name = f"{ORIGIN}/subchain/sc-{i:016x}"
            self.witness_keys.append((name, key))
            self.cosigners.append({"id": f"sc-{i:016x}", "name": name, "node": "stamp", "registered": 1,
                                   "retired": None, "cosigned_size": 8,
                                   "vkey": note.vkey(name, key.public_key(), note.COSIGNATURE_V1)})
        head = self.blocks[-1]["header"]
        body = note.checkpoint_body(ORIGIN, head["log_size"], bytes.fromhex(head["log_root"]))
        self.checkpoint = note.sign_checkpoint(ORIGIN, head["log_size"], bytes.fromhex(head["log_root"]), self.sealer)
        self.checkpoint += "".join(note.cosignature_line(name, body, key, 1_700_000_100 + i)
                                   for i, (name, key) in enumerate(self.witness_keys))

    def proof(self, index: int, size: int) -> dict[str, Any]:
        leaves = [merkle.leaf_hash(canonical(e)) for e in self.entries[:size]]
        path = merkle.inclusion_path(merkle.memory_reader(leaves), index, size)
        return {"leaf_index": index, "tree_size": size, "path": [p.hex() for p in path]}

    def proofs(self) -> list[dict[str, Any]]:
        """Every entry with its block's root and its inclusion proof at that block's size."""
        out = []
        for block in self.blocks:
            size = block["header"]["log_size"]
            for offset, entry in enumerate(block["entries"]):
                index = size - block["header"]["count"] + offset
                out.append({"entry": entry, "proof": self.proof(index, size), "root": block["header"]["log_root"]})
        return out


@pytest.fixture(scope="module")
def made() -> Chain:
    return Chain()


VERIFY_CHAIN = """const out = [];
  for (let h = 0; h < arg.blocks.length; h += 1) {
    out.push(await v.verifyBlock(arg.blocks[h], {keys: arg.keys, previous: h ? arg.blocks[h - 1] : null}));
  }
  return out;"""


def test_a_real_chain_verifies_block_by_block(page, made):
    got = run(page, VERIFY_CHAIN, {"blocks": made.blocks, "keys": [made.jwk]})
    assert [r["ok"] for r in got] == [True, True, True], got
    assert "genesis" in got[0]["reason"] and "prev is block 1's hash" in got[2]["reason"]
    hashes = run(page, "return Promise.all(arg.map((b) => v.blockHash(b.header)));", made.blocks)
    assert hashes == [b["hash"] for b in made.blocks]


def test_every_entry_of_a_real_chain_is_included(page, made):
    got = run(page, "return Promise.all(arg.map((c) => v.verifyInclusion(c.entry, c.proof, c.root)));", made.proofs())
    assert len(got) == 8 and all(r["ok"] for r in got), got
    leaf = run(page, "return v.hex(await v.leafHash(arg));", made.entries[5])
    assert leaf == merkle.leaf_hash(canonical(made.entries[5])).hex()


def test_a_cosigned_checkpoint_verifies(page, made):
    got = run(page, "return v.verifyCheckpoint(arg.text, arg.opts);",
              {"text": made.checkpoint, "opts": {"origin": ORIGIN, "sealerKeys": [made.jwk],
                                                  "cosigners": made.cosigners}})
    assert got["ok"] is True, got
    assert (got["origin"], got["size"], got["root"]) == (ORIGIN, 8, made.blocks[-1]["header"]["log_root"])
    assert got["cosigned"] == 2 and "2 sub-chain cosignatures verify" in got["reason"]
    assert [(s["kind"], s["ok"]) for s in got["signatures"]] == [("sealer", True), ("cosigner", True),
                                                                 ("cosigner", True)]
    assert [s.get("time") for s in got["signatures"][1:]] == [1_700_000_100, 1_700_000_101]


def _flip(text: str, at: int) -> str:
    """``text`` with the character at ``at`` replaced by another of the same class (still parses)."""
    c = text[at]
    other = ("1" if c == "0" else "0") if c.isdigit() else ("b" if c == "a" else "a")
    return text[:at] + other + text[at + 1:]


def _with(block: dict[str, Any], **header: Any) -> dict[str, Any]:
    return {**block, "header": {**block["header"], **header}}


def test_hostile_blocks_fail_naming_the_fault(page, made):
    b0, b1, b2 = made.blocks
    other = Ed25519PrivateKey.generate()
    stranger = jwk_of(other.public_key())
    resigned = _with(b2, sealer=stranger["kid"])
    resigned = {**resigned, "hash": fmt.block_hash(resigned["header"]),
                "sig": sign(other, fmt.header_bytes(resigned["header"]))}
    bad_kid = {**made.jwk, "kid": stranger["kid"]}
    forged = {**resigned, "sig": sign(made.sealer, fmt.header_bytes(resigned["header"]))}
    cases = {
        "root": ({**_with(b2, log_root=_flip(b2["header"]["log_root"], 7))}, [made.jwk], b1, "served hash"),
        "root, rehashed": (_rehash(_with(b2, log_root=_flip(b2["header"]["log_root"], 7))), [made.jwk], b1,
                           "does not verify"),
        "prev": (_rehash(_with(b2, prev=_flip(b2["header"]["prev"], 0))), [made.jwk], b1, "does not verify"),
        "ts": (_rehash(_with(b1, ts=b1["header"]["ts"] + 1)), [made.jwk], b0, "does not verify"),
        "sig": ({**b1, "sig": base64.b64encode(b"\x01" * 64).decode()}, [made.jwk], b0, "does not verify"),
        "bad base64": ({**b1, "sig": "not base64!"}, [made.jwk], b0, "not base64"),
        "unknown key": (resigned, [made.jwk], b1, "is not a listed sealer key"),
        "wrong kid in a JWK": (forged, [bad_kid], b1, "but its key's id is"),
        "chain broken": (b2, [made.jwk], b0, "is not block 1"),
        "missing field": ({**b1, "header": {k: v for k, v in b1["header"].items() if k != "count"}}, [made.jwk], b0,
                          "header.count"),
        "not a block": ("block", [made.jwk], None, "not an object"),
    }
    args = [{"name": n, "block": blk, "keys": keys, "previous": prev} for n, (blk, keys, prev, _) in cases.items()]
    got = run(page, """const out = {};
      for (const c of arg) out[c.name] = await v.verifyBlock(c.block, {keys: c.keys, previous: c.previous});
      return out;""", args)
    for name, (_, _, _, words) in cases.items():
        assert got[name]["ok"] is False, (name, got[name])
        assert words in got[name]["reason"], (name, got[name])


def _rehash(block: dict[str, Any]) -> dict[str, Any]:
    """A changed header served with its own hash: only the signature can catch it."""
    return {**block, "hash": fmt.block_hash(block["header"])}


def test_a_changed_entry_fails_its_inclusion_proof_naming_it(page, made):
    case = made.proofs()[5]
    entry = {**case["entry"], "data": {**case["entry"]["data"], "amount": case["entry"]["data"]["amount"] + 1}}
    short = {**case["proof"], "path": case["proof"]["path"][:-1]}
    moved = {**case["proof"], "leaf_index": case["proof"]["leaf_index"] + 1}
    bad_hash = {**case["proof"], "path": ["zz" * 32, *case["proof"]["path"][1:]]}
    cases = [(entry, case["proof"], case["root"], "not the signed root"),
             (case["entry"], short, case["root"], "shorter than the tree"),
             (case["entry"], moved, case["root"], "not the signed root"),
             (case["entry"], bad_hash, case["root"], "path[0] is not a 32-byte hex hash"),
             (case["entry"], {**case["proof"], "path": None}, case["root"], "not a list"),
             (case["entry"], case["proof"], "00" * 31, "not 64 lowercase hex"),
             (case["entry"], {**case["proof"], "leaf_index": 9, "tree_size": 8}, case["root"], "not below tree size")]
    got = run(page, "return Promise.all(arg.map(([e, p, r]) => v.verifyInclusion(e, p, r)));",
              [[e, p, r] for e, p, r, _ in cases])
    for (_, _, _, words), result in zip(cases, got, strict=True):
        assert result["ok"] is False and words in result["reason"], result
        assert f"entry {case['entry']['id']}" in result["reason"]


def test_hostile_checkpoints_fail_naming_the_fault(page, made):
    text = made.checkpoint
    body, _, lines = text.partition("\n\n")
    log_line, first, second = lines.rstrip("\n").split("\n")
    head = made.blocks[-1]["header"]
    other_body = note.checkpoint_body(ORIGIN, 7, merkle.root_of([merkle.leaf_hash(canonical(e))
                                                                 for e in made.entries[:7]]))
    name, key = made.witness_keys[0]
    stray = note.cosignature_line(name, other_body, key, 1_700_000_200).rstrip("\n")
    stranger = Ed25519PrivateKey.generate()
    cases = {
        "size changed": (text.replace(f"\n{head['log_size']}\n", "\n9\n", 1), "the log's signature"),
        "root changed": (_flip(text, len(ORIGIN) + 4), "the log's signature"),
        "cosignature over another checkpoint": (f"{body}\n\n{log_line}\n{stray}\n{second}\n",
                                                "sc-0000000000000000's cosignature does not verify"),
        "cosignature byte": (f"{body}\n\n{log_line}\n{first[:-6]}AAAA{first[-2:]}\n{second}\n",
                             "cosignature does not verify"),
        "truncated": (text[: len(body) + 1], "no signature block"),
        "no newline at the end": (text.rstrip("\n"), "no signature block"),
        "bad base64": (f"{body}\n\n— {ORIGIN} !!!\n", "not base64"),
        "malformed line": (f"{body}\n\n{log_line}\nnot a signature line\n", "malformed"),
        "origin": (text, "is not another.test/log"),
        "only a stranger signs": (note.sign_checkpoint(ORIGIN, head["log_size"], bytes.fromhex(head["log_root"]),
                                                       stranger), "no valid signature by a listed sealer key"),
        "size not a number": (text.replace(f"\n{head['log_size']}\n", "\n08\n", 1), "is not a whole number"),
    }
    args = [{"name": n, "text": t, "origin": "another.test/log" if n == "origin" else ORIGIN}
            for n, (t, _) in cases.items()]
    got = run(page, """const out = {};
      for (const c of arg.cases) out[c.name] = await v.verifyCheckpoint(c.text,
        {origin: c.origin, sealerKeys: arg.keys, cosigners: arg.cosigners});
      return out;""", {"cases": args, "keys": [made.jwk], "cosigners": made.cosigners})
    for name, (_, words) in cases.items():
        assert got[name]["ok"] is False, (name, got[name])
        assert words in got[name]["reason"], (name, got[name])


def test_a_cosignature_by_an_unlisted_or_late_sub_chain_does_not_count(page, made):
    """Lines of keys nobody listed are reported and ignored; a sub-chain registered after the tree does not count."""
    late = [{**made.cosigners[0], "registered": 8}, made.cosigners[1]]
    got = run(page, """return [
      await v.verifyCheckpoint(arg.text, {origin: arg.origin, sealerKeys: arg.keys, cosigners: arg.one}),
      await v.verifyCheckpoint(arg.text, {origin: arg.origin, sealerKeys: arg.keys, cosigners: arg.late})];""",
              {"text": made.checkpoint, "origin": ORIGIN, "keys": [made.jwk], "one": made.cosigners[1:],
               "late": late})
    unlisted, registered_late = got
    assert unlisted["ok"] is True and unlisted["cosigned"] == 1
    assert [s["kind"] for s in unlisted["signatures"]] == ["sealer", "unknown", "cosigner"]
    assert registered_late["ok"] is True and registered_late["cosigned"] == 1
    assert "does not count" in registered_late["signatures"][1]["reason"]


def test_a_repeated_signature_line_counts_once(page, made):
    """As in signed-note, only a key's first line is checked: a cosigner repeated is one cosigner, not two."""
    body, _, lines = made.checkpoint.partition("\n\n")
    log_line, first, second = lines.rstrip("\n").split("\n")
    bad_first = f"{first[:-6]}AAAA{first[-2:]}"
    texts = {"repeated": f"{body}\n\n{log_line}\n{first}\n{first}\n{second}\n",
             "a bad repeat after a good line": f"{body}\n\n{log_line}\n{first}\n{bad_first}\n",
             "a good repeat after a bad line": f"{body}\n\n{log_line}\n{bad_first}\n{first}\n{second}\n",
             "an unknown line twice": f"{body}\n\n{log_line}\n\u2014 x.test/w AAAAAAAA\n\u2014 x.test/w AAAAAAAA\n"}
    got = run(page, """const out = {};
      for (const [n, t] of Object.entries(arg.texts)) out[n] = await v.verifyCheckpoint(t,
        {origin: arg.origin, sealerKeys: arg.keys, cosigners: arg.cosigners});
      return out;""", {"texts": texts, "origin": ORIGIN, "keys": [made.jwk], "cosigners": made.cosigners})
    repeated = got["repeated"]
    assert repeated["ok"] is True and repeated["cosigned"] == 2 and repeated["repeated"] == 1, repeated
    assert "1 repeated signature line ignored" in repeated["reason"]
    assert [s["kind"] for s in repeated["signatures"]] == ["sealer", "cosigner", "cosigner"]
    dropped, first_bad = got["a bad repeat after a good line"], got["a good repeat after a bad line"]
    assert dropped["ok"] is True and dropped["cosigned"] == 1
    assert first_bad["ok"] is False and "sc-0000000000000000's cosignature does not verify" in first_bad["reason"]
    unknown = got["an unknown line twice"]
    assert unknown["ok"] is True and unknown["repeated"] == 1
    assert [s["kind"] for s in unknown["signatures"]] == ["sealer", "unknown"]


def test_a_vkey_is_checked_against_its_key_id(page, made):
    good = made.cosigners[0]["vkey"]
    name, key_id, blob = good.split("+", 2)
    got = run(page, "return Promise.all(arg.map((k) => v.parseVkey(k)));",
              [good, f"{name}+{'0' * 8}+{blob}", f"{name}+{key_id}", f"{name}+{key_id}+{blob[:-4]}", "", 7])
    assert got[0]["name"] == name and got[0]["keyId"] == key_id and got[0]["type"] == 4
    assert "wrong key id" in got[1]["problem"] and "malformed" in got[2]["problem"]
    assert all("problem" in g for g in got[3:])
    assert raw_public(made.sealer.public_key())  # the sealer's key id in the checkpoint is its origin's


# --- the app's own answers, as the explorer fetches them


def _served(http: Any) -> dict[str, Any]:
    """What the explorer reads from the API (chalice's test client over the in-process app): keys, every block
    with all its entries, each entry's inclusion proof at its block's size, consistency between blocks, the
    checkpoint with its cosignatures and the cosigners."""
    from tests.actors import answer

    blocks = []
    for height in range(answer(http.get("/chain/head"))["header"]["height"] + 1):
        block = answer(http.get(f"/blocks/{height}"))
        while block["next"] is not None:
            page = answer(http.get(f"/blocks/{height}?cursor={block['next']}"))
            block = {**page, "entries": block["entries"] + page["entries"]}
        blocks.append(block)
    proofs, consistency = [], []
    for before, block in zip([None, *blocks], blocks, strict=False):
        size, count = block["header"]["log_size"], block["header"]["count"]
        for offset, entry in enumerate(block["entries"]):
            proof = answer(http.get(f"/proofs/inclusion?index={size - count + offset}&size={size}"))
            proofs.append({"entry": entry, "proof": proof, "root": block["header"]["log_root"]})
        if before is not None:
            first = before["header"]["log_size"]
            consistency.append({"proof": answer(http.get(f"/proofs/consistency?first={first}&second={size}")),
                                "first": before["header"]["log_root"], "second": block["header"]["log_root"]})
    checkpoint = http.get("/checkpoint").body
    return {"keys": answer(http.get("/keys"))["keys"], "blocks": blocks, "proofs": proofs,
            "consistency": consistency, "cosigners": answer(http.get("/cosigners"))["cosigners"],
            "checkpoint": checkpoint.decode() if isinstance(checkpoint, bytes) else checkpoint}


def test_the_apps_own_answers_verify_in_the_page(page, running, chain):
    """A running program with two registered sub-chains that cosigned: every block, proof and signature the app
    serves verifies in the page, against the origin the server derives."""
    from chalicelib.services.sealing import log_origin, seal_pending_entries
    from tests.actors import expect
    from tests.integration.test_cosigners import Sub

    seal_pending_entries(chain)  # the program's start in a block of its own, the sub-chains in the next
    subs = [Sub(running.stamp) for _ in range(2)]
    for sub in subs:
        sub.register()
    seal_pending_entries(chain)
    for sub in subs:
        expect(sub.cosign(running.http), 201)
    served = _served(running.http)
    assert len(served["blocks"]) > 2 and len(served["proofs"]) > 10
    got = run(page, """
      const blocks = [];
      for (let h = 0; h < arg.blocks.length; h += 1) {
        blocks.push(await v.verifyBlock(arg.blocks[h], {keys: arg.keys, previous: h ? arg.blocks[h - 1] : null}));
      }
      const proofs = await Promise.all(arg.proofs.map((c) => v.verifyInclusion(c.entry, c.proof, c.root)));
      const consistency = await Promise.all(arg.consistency.map((c) =>
        v.verifyConsistency(c.proof, c.first, c.second)));
      const checkpoint = await v.verifyCheckpoint(arg.checkpoint,
        {origin: arg.origin, sealerKeys: arg.keys, cosigners: arg.cosigners});
      const last = arg.proofs[arg.proofs.length - 1];
      const changed = await v.verifyInclusion({...last.entry, ts: last.entry.ts + 1}, last.proof, last.root);
      return {blocks, proofs, consistency, checkpoint, changed};""", {**served, "origin": log_origin()})
    assert all(r["ok"] for r in got["blocks"]), got["blocks"]
    assert all(r["ok"] for r in got["proofs"]), got["proofs"]
    assert len(got["consistency"]) == len(served["blocks"]) - 1 and all(r["ok"] for r in got["consistency"])
    checkpoint, head = got["checkpoint"], served["blocks"][-1]["header"]
    assert checkpoint["ok"] is True and checkpoint["cosigned"] == 2, checkpoint
    assert (checkpoint["size"], checkpoint["root"]) == (head["log_size"], head["log_root"])
    assert sorted(s["id"] for s in checkpoint["signatures"] if s["kind"] == "cosigner") == sorted(s.id for s in subs)
    last = served["proofs"][-1]["entry"]["id"]
    assert got["changed"]["ok"] is False and f"entry {last}: the path leads to root" in got["changed"]["reason"]



HOSTILE = "[undefined, null, 0, -1, 2 ** 60, NaN, '', 'x', '\\n\\n', [], [null], {}, {header: null}, {path: 7}, true]"


def test_no_check_throws_on_hostile_values(page, made):
    """Every check, given junk in place of any one argument of a call that verifies, answers ok:false with a
    reason: it never throws or rejects."""
    good = made.proofs()[3]
    leaves = [merkle.leaf_hash(canonical(e)) for e in made.entries]
    consistency = {"first": 3, "second": 6,
                   "path": [p.hex() for p in merkle.consistency_path(merkle.memory_reader(leaves), 3, 6)]}
    got = run(page, f"""const hostile = {HOSTILE};
      const calls = {{
        verifyBlock: [arg.block, {{keys: arg.keys, previous: arg.previous}}],
        verifyInclusion: [arg.entry, arg.proof, arg.root],
        verifyConsistency: [arg.consistency, arg.root3, arg.root6],
        verifyCheckpoint: [arg.checkpoint, {{origin: arg.origin, sealerKeys: arg.keys, cosigners: arg.cosigners}}],
        verifyInclusionHash: [await v.leafHash(arg.entry), arg.proof.leaf_index, arg.proof.tree_size,
          arg.proof.path.map(v.fromHex), v.fromHex(arg.root)],
        verifyConsistencyHashes: [3, 6, arg.consistency.path.map(v.fromHex), v.fromHex(arg.root3),
          v.fromHex(arg.root6)],
      }};
      const out = [];
      for (const [name, args] of Object.entries(calls)) {{
        const baseline = await v[name](...args);
        if (!baseline.ok) out.push({{name, baseline}});
        for (let at = 0; at < args.length; at += 1) {{
          for (const bad of hostile) {{
            const given = args.slice();
            given[at] = bad;
            let answer;
            try {{ answer = await v[name](...given); }} catch (e) {{ answer = {{threw: String(e)}}; }}
            const fine = answer && answer.ok === false && typeof answer.reason === "string" && answer.reason !== "";
            if (!fine) out.push({{name, at, bad: String(bad), answer}});
          }}
        }}
      }}
      return out;""", {"block": made.blocks[1], "keys": [made.jwk], "previous": made.blocks[0], "entry": good["entry"],
                        "proof": good["proof"], "root": good["root"], "checkpoint": made.checkpoint, "origin": ORIGIN,
                        "cosigners": made.cosigners, "consistency": consistency,
                        "root3": merkle.root_of(leaves[:3]).hex(), "root6": merkle.root_of(leaves[:6]).hex()})
    assert got == [], json.dumps(got)
