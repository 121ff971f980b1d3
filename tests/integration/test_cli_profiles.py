"""The people's CLI over real HTTP (the app behind a loopback server): what a profile learns and remembers.

A merchant's wallet learned after approval; ids typed as `last` and `@NAME`
so that no id is copied by hand; a profile tied to the genesis of its chain,
stopped on another chain with what to do, and moved with `--new-chain`
without losing a key; `whoami` from the server.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chalicelib.client.cli import main
from chalicelib.ledger.keys import private_key_to_pem
from tests.integration.test_consumer_subchain import Served


class People:
    def __init__(self, served: Served, home: Path, stamp_pem: Path):
        self.served, self.home, self.stamp_pem = served, home, stamp_pem

    def run(self, profile: str, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--api", self.served.url, "--home", str(self.home), "--profile", profile, *args], out, err)
        return code, out.getvalue(), err.getvalue()

    def ok(self, profile: str, *args: str) -> dict[str, Any]:
        code, out, err = self.run(profile, "--json", *args)
        assert code == 0, err
        return json.loads(out)

    def refused(self, profile: str, *args: str) -> str:
        code, out, err = self.run(profile, *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, out, err)
        return err

    def facts(self, profile: str) -> dict[str, Any]:
        return json.loads((self.home / profile / "profile.json").read_text())

    def write_facts(self, profile: str, facts: dict[str, Any]) -> None:
        (self.home / profile / "profile.json").write_text(json.dumps(facts))

    def consumer(self, name: str) -> dict[str, Any]:
        self.ok(name, "keys")
        return self.ok(name, "register", "consumer")

    def merchant(self, name: str, licence: str) -> tuple[int, str, str]:
        self.ok(name, "keys")
        return self.run(name, "register", "merchant", "--legal-name", f"{name} Ltd", "--licence", licence, "--ip",
                        "203.0.113.9", "--contact", f"hello@{name}.example")

    def posts(self) -> list[str]:
        return [r for r in self.served.requests if r.startswith("POST ")]


@pytest.fixture
def people(running, chain, tmp_path) -> Any:
    served = Served(running.http, chain)
    stamp_pem = tmp_path / "sealer-key.pem"
    stamp_pem.write_bytes(private_key_to_pem(chain.key))
    group = People(served, tmp_path / "people", stamp_pem)
    group.ok("stamp", "import-key", str(stamp_pem), "--node", "stamp", "--wallet", "w-stamp")
    yield group
    served.stop()


def _genesis(served: Served) -> str:
    from urllib.request import urlopen

    with urlopen(f"{served.url}/blocks/0?limit=1", timeout=10) as answer:
        return str(json.loads(answer.read())["hash"])


def test_a_merchant_profile_learns_its_wallet_after_approval(people):
    # Given a merchant that registered: it is told where its wallet comes from
    code, out, err = people.merchant("shop", "LS-77")
    assert code == 0, err
    node = people.facts("shop")["node"]
    assert f"{node} is pending: its wallet comes with the stamp node's approval (`covenant --profile STAMP " \
        "approve @shop`)" in out
    assert "wallet" not in people.facts("shop")
    # and a command that needs the wallet says why there is none yet
    assert "has no wallet yet (it is pending): a merchant's wallet comes with the stamp node's approval" in \
        people.refused("shop", "balance")
    # When the stamp node approves it, named by its local profile
    approved = people.ok("stamp", "approve", "@shop")
    # Then its next command learns the wallet from the server, once, and remembers it
    people.served.requests.clear()
    code, out, err = people.run("shop", "balance")
    assert code == 0 and out == f"wallet {approved['wallet']} (active): 0.00 fiat, 0.00 coins\n", err
    assert f"GET /nodes/{node}" in people.served.requests
    assert people.facts("shop")["wallet"] == approved["wallet"]
    people.served.requests.clear()
    assert people.run("shop", "balance")[0] == 0
    assert f"GET /nodes/{node}" not in people.served.requests
    # And whoami shows it all, from the profile and from the server
    code, out, _ = people.run("shop", "whoami")
    lines = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert code == 0 and lines["node"] == f"{node} (merchant)" and lines["wallet"] == approved["wallet"]
    assert lines["chain"] == f"genesis {_genesis(people.served)}, registered through {people.served.url}"
    assert lines["server"] == f"{people.served.url}: node active; wallet active: 0.00 fiat, 0.00 coins"


def test_a_trade_and_a_vote_with_no_id_copied_by_hand(people):
    # Given two consumers and an approved merchant, named by their profiles
    people.consumer("alice")
    people.consumer("bob")
    assert people.merchant("shop", "LS-78")[0] == 0
    people.ok("stamp", "approve", "@shop")
    deposit = people.ok("stamp", "deposit", "@alice", "500.00")
    assert deposit["wallet"] == people.facts("alice")["wallet"] and deposit["amount"] == 50_000
    # When alice orders, and each later step names the order as `last` or `@alice`
    order = people.ok("alice", "order", "@shop", "--quantity", "2", "--unit-price", "25.00", "--unit-profit", "5.00")
    assert order["seller"] == people.facts("shop")["node"]
    assert people.ok("alice", "pay", "last")["order"] == order["order"]
    shipped = people.ok("shop", "ship", "@alice")
    assert (shipped["order"], shipped["status"]) == (order["order"], "shipped")
    assert people.ok("alice", "confirm", "last")["status"] == "received"
    assert people.ok("shop", "show-order", "last")["order"] == order["order"]  # shop named it: its last too
    code, out, _ = people.run("alice", "balance")
    assert code == 0 and out.endswith(": 450.00 fiat, 2.00 coins\n")
    code, out, _ = people.run("alice", "balance", "--wallet", "@shop")
    assert code == 0 and out == f"wallet {people.facts('shop')['wallet']} (active): 48.00 fiat, 0.00 coins\n"
    # And a proposal opened by alice is voted on by bob as @alice, then by alice as `last`
    proposal = people.ok("alice", "propose", "freeze", "--subject", "@shop")
    assert proposal["subject"] == people.facts("shop")["wallet"]
    assert people.ok("bob", "vote", "@alice", "no")["proposal"] == proposal["proposal"]
    assert people.ok("alice", "vote", "last", "yes")["proposal"] == proposal["proposal"]
    assert people.facts("bob")["last"]["proposal"] == proposal["proposal"]
    # And alice's whoami lists what `last` names
    me = people.ok("alice", "whoami")
    assert me["last"] == {"order": order["order"], "node": order["seller"], "proposal": proposal["proposal"],
                          "wallet": proposal["subject"]}
    assert me["server"]["balances"] == {"fiat": 45_000, "coin": 200}


def test_an_item_bought_from_another_profile_and_rated_as_last(people, tmp_path):
    people.consumer("alice")
    people.consumer("carol")
    people.ok("stamp", "deposit", "@alice", "10.00")
    people.ok("alice", "exchange", "--to", "coin", "5.00")
    essay = tmp_path / "essay.txt"
    essay.write_text("On lamps: a short essay about light, oil and wicks.")
    item = people.ok("carol", "publish", "--title", "On lamps", "--file", str(essay), "--price", "1.00")
    bought = people.ok("alice", "buy-item", "@carol")
    assert bought["item"] == item["item"] == people.facts("carol")["last"]["item"]
    assert people.ok("alice", "rate-item", "last", "up")["item"] == item["item"]


def test_a_profile_of_another_chain_is_stopped_and_says_what_to_do(people):
    # Given alice registered on this chain (its genesis remembered), then told it was another's
    people.consumer("alice")
    facts = people.facts("alice")
    assert facts["genesis"] == _genesis(people.served) and facts["api"] == people.served.url
    people.write_facts("alice", {**facts, "genesis": "b" * 64})
    people.served.requests.clear()
    # When any command uses the profile, it stops before sending anything, and says what to do
    for args in (("balance",), ("pay", "o-1"), ("authorise",), ("order", "m-1", "--quantity", "1", "--unit-price",
                                                                 "1", "--unit-profit", "0"),
                 ("register", "consumer"), ("subchain", "run", "--once")):
        err = people.refused("alice", *args)
        assert "profile alice belongs to another chain: it registered on the chain whose genesis is " \
            f"{'b' * 16}…, but {people.served.url} serves the chain whose genesis is " \
            f"{_genesis(people.served)[:16]}…" in err, args
        assert "`covenant --profile alice register consumer --new-chain` keeps the old chain's facts" in err
    assert people.posts() == [] and not [r for r in people.served.requests if "/wallets/" in r]
    # And the public reads that do not use the profile still work
    assert people.run("alice", "program")[0] == 0
    # And whoami shows its facts, and the same words for the server
    code, out, _ = people.run("alice", "whoami")
    assert code == 0 and "belongs to another chain" in out.splitlines()[-1]


def test_register_new_chain_keeps_the_old_facts_and_the_key(people):
    # Given carol's key, registered on an old chain only (a previous `make run`), with its sub-chain copy
    people.ok("carol", "keys")
    key = (people.home / "carol" / "key.pem").read_bytes()
    kid = people.facts("carol")["kid"]
    old = {"kid": kid, "node": f"c-{kid[:16]}", "wallet": f"w-{kid[:16]}", "role": "consumer",
           "genesis": "c" * 64, "api": people.served.url, "last": {"order": "o-old"}}
    people.write_facts("carol", old)
    (people.home / "carol" / "subchain.sqlite3").write_bytes(b"the old chain's copy")
    assert "register consumer --new-chain" in people.refused("carol", "register", "consumer")
    # When she registers again with --new-chain
    answer = people.ok("carol", "register", "consumer", "--new-chain")
    # Then the old chain's facts and copy are kept, the key is the same, and the profile is this chain's
    kept = Path(answer["kept_old_chain_in"])
    assert kept.parent == people.home / "carol" / "chains" and kept.name.startswith("c" * 16 + "-")
    assert json.loads((kept / "profile.json").read_text()) == old
    assert (kept / "subchain.sqlite3").read_bytes() == b"the old chain's copy"
    assert (people.home / "carol" / "key.pem").read_bytes() == key and not (kept / "key.pem").exists()
    facts = people.facts("carol")
    assert facts["genesis"] == _genesis(people.served) and facts["node"] == answer["node"] and "last" not in facts
    assert people.run("carol", "balance")[0] == 0
    # And --new-chain on a profile of this chain changes nothing
    assert people.run("carol", "register", "consumer", "--new-chain")[0] == 1  # the key is registered already
    assert [p.name for p in (people.home / "carol" / "chains").iterdir()] == [kept.name]


def test_a_profile_made_before_genesis_was_remembered(people):
    # Given alice's profile as earlier versions wrote it (no genesis), her node on this chain
    people.consumer("alice")
    facts = people.facts("alice")
    people.write_facts("alice", {k: v for k, v in facts.items() if k not in ("genesis", "api", "role")})
    # When she uses it, the genesis is remembered
    assert people.run("alice", "balance")[0] == 0
    assert people.facts("alice")["genesis"] == _genesis(people.served)
    # Given one whose node this chain does not know: the same clear message
    people.ok("dave", "keys")
    people.write_facts("dave", {**people.facts("dave"), "node": "c-0000000000000000", "wallet": "w-0"})
    err = people.refused("dave", "balance")
    assert f"its node c-0000000000000000 is unknown on the chain {people.served.url} serves" in err
    assert "register consumer --new-chain" in err


def test_import_key_new_chain_moves_the_old_stamp_key_aside(people, tmp_path):
    # Given a stamp profile holding the key of an old chain's stamp node
    old_pem = tmp_path / "old.pem"
    old_pem.write_bytes(private_key_to_pem(Ed25519PrivateKey.generate()))
    people.ok("old-stamp", "import-key", str(old_pem), "--node", "stamp", "--wallet", "w-stamp")
    old_key = (people.home / "old-stamp" / "key.pem").read_bytes()
    # When it is used on this chain: its node is another key's here
    err = people.refused("old-stamp", "tally")
    assert "its node stamp is another key's on the chain" in err and "import-key PEM --new-chain" in err
    # and importing this chain's key over it is refused: a key is never overwritten
    err = people.refused("old-stamp", "import-key", str(people.stamp_pem), "--node", "stamp", "--wallet", "w-stamp")
    assert "already has another key" in err and "add --new-chain" in err
    assert (people.home / "old-stamp" / "key.pem").read_bytes() == old_key
    # Then with --new-chain the old key and facts are kept aside and the new key works
    answer = people.ok("old-stamp", "import-key", str(people.stamp_pem), "--node", "stamp", "--wallet", "w-stamp",
                       "--new-chain")
    kept = Path(answer["kept_old_chain_in"])
    assert (kept / "key.pem").read_bytes() == old_key and json.loads((kept / "profile.json").read_text())["node"]
    assert people.run("old-stamp", "tally")[0] == 0
    # And importing the same key again only updates the facts
    assert people.run("old-stamp", "import-key", str(people.stamp_pem), "--node", "stamp")[0] == 0
    # And a key of this chain is never replaced, even with --new-chain
    err = people.refused("stamp", "import-key", str(old_pem), "--node", "stamp", "--new-chain")
    assert "is this chain's" in err and "never replaced" in err
