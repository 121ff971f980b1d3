"""covenant: use a Covenant ledger from the command line.

Keys are made on this machine and never leave it; every request is signed
here (RFC 9421, Ed25519). A profile is a folder holding one key and what the
client learned (its node, wallet, chain and the ids it last used):
$COVENANT_HOME/<profile>, by default ~/.covenant/<profile>. Amounts are typed
as decimals of ASCII digits (12, 12.5, 12.50) and sent as integers of minor
units.

Where a command takes the id of an order, proposal, item, node or wallet, it
also takes `last` (the last one of that kind this profile placed, opened,
published or named) or `@NAME` (the local profile NAME's node or wallet, or
the last order, proposal or item it used):

    covenant --profile alice keys && covenant --profile alice register consumer
    covenant --profile shop keys
    covenant --profile shop register merchant --legal-name "Acme Ltd" --licence L-1 \\
        --ip 203.0.113.7 --contact ops@acme.example
    covenant --profile stamp import-key .state/sealer-key.pem --node stamp --wallet w-stamp
    covenant --profile stamp approve @shop             covenant --profile alice authorise
    covenant --profile stamp deposit @alice 500.00
    covenant --profile alice order @shop --quantity 2 --unit-price 25.00 --unit-profit 5.00
    covenant --profile alice pay last       covenant --profile shop ship @alice
    covenant --profile alice confirm last   covenant --profile alice cancel last
    covenant --profile alice balance        covenant --profile alice history
    covenant --profile alice whoami         covenant --profile alice exchange --to fiat 1.00
    covenant --profile alice propose freeze --subject @shop    covenant --profile bob vote @alice yes
    covenant proposals [--status open]                        covenant --profile stamp tally
    covenant --profile alice rate last up                     covenant rank
    covenant --profile alice dispute last --ground quality --remedy reissue_rebate --statement "broken"
    covenant --profile alice publish --title "Essay" --file essay.txt [--price 1.00] [--stake 0.50] [--upload]
    covenant search lamp                                      covenant --profile bob buy-item @alice
    covenant --profile alice subchain run [--once]            covenant --profile alice subchain status
    covenant --profile alice subchain verify                  covenant --profile alice subchain retire
    covenant --profile alice pay last --via-subchain          (its own sub-chain confirms what the log recorded)

A profile belongs to the chain it registered on (the hash of its genesis
block). After a new `make run` (a new chain), a command with that profile
stops and says so: `register ... --new-chain` (or `import-key PEM
--new-chain`) keeps the old chain's facts in the profile's chains/ folder and
registers the same key again.

Environment: COVENANT_API (--api), COVENANT_HOME (--home), COVENANT_PROFILE
(--profile), COVENANT_DEBUG=1 (show a traceback on an unexpected error).
Exit codes: 0 done; 1 refused by the API; 2 failed here (arguments, files,
the API unreachable); 3 not confirmed by your sub-chain (--via-subchain).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import mimetypes
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..ledger.keys import KeyFormatError, jwk_of, private_key_from_pem
from .base import (
    FAILED,
    OK,
    REFUSED,
    UNCONFIRMED,
    Api,
    CliError,
    Profile,
    Unconfirmed,
    Unreachable,
    checked_id,
    minor_units,
    segment,
    shown,
)
from .session import Session, role_of

__all__ = ["FAILED", "OK", "REFUSED", "UNCONFIRMED", "Api", "CliError", "Profile", "Unconfirmed", "main",
           "minor_units", "shown"]

TEXT_BYTES = 48_000  # the most text an item's request carries; larger or binary files are uploaded
DEFAULT_API = "http://127.0.0.1:8000"
DEFAULT_HOME = "~/.covenant"
DEFAULT_PROFILE = "default"
REPORT = "this is a bug in covenant: please report it with the command you ran (COVENANT_DEBUG=1 shows the traceback)"
Answer = tuple[int, dict[str, Any]]
Command = Callable[[Session, argparse.Namespace], Answer]

# what each kind of id argument takes, for its help
ID_HELP = {
    "order": "an order id (o-…), `last` (the last order this profile placed or named) or `@NAME` (the last order "
             "profile NAME placed or named)",
    "proposal": "a proposal or dispute id (p-…, d-…), `last` (the last one this profile opened or named) or `@NAME` "
                "(profile NAME's last one)",
    "item": "an item id (i-…), `last` (the last item this profile published or named) or `@NAME` (profile NAME's "
            "last item)",
    "node": "a node id (c-…, m-…), `last` (the last node this profile named) or `@NAME` (profile NAME's node)",
    "wallet": "a wallet id (w-…), `last` (the last wallet this profile named) or `@NAME` (profile NAME's wallet)",
}
AMOUNT_HELP = "digits 0-9 with at most two decimals: 12, 12.5, 12.50"


def _global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """--api, --home, --profile and --json: before the command, or (the same) after it."""
    def default(name: str, value: str) -> str:
        return os.environ.get(name, value) if top else argparse.SUPPRESS

    parser.add_argument("--api", metavar="URL", default=default("COVENANT_API", DEFAULT_API),
                        help=f"the Covenant API to use (default: $COVENANT_API if set, else {DEFAULT_API})")
    parser.add_argument("--home", metavar="DIR", default=default("COVENANT_HOME", DEFAULT_HOME),
                        help=f"the folder of profiles (default: $COVENANT_HOME if set, else {DEFAULT_HOME})")
    parser.add_argument("--profile", metavar="NAME", default=default("COVENANT_PROFILE", DEFAULT_PROFILE),
                        help="the profile (a folder in --home: one key, its node, wallet and chain) "
                             f"(default: $COVENANT_PROFILE if set, else {DEFAULT_PROFILE!r})")
    parser.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="print the API's answers as JSON")


class _Commands:
    """Adds subcommands that each document the global options too."""

    def __init__(self, parser: argparse.ArgumentParser):
        self.group = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                           help="what to do (`covenant COMMAND --help` tells more)")
        self.common = argparse.ArgumentParser(add_help=False)
        _global_options(self.common, top=False)

    def add(self, name: str, text: str, run: Command | None = None, group: Any = None) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = (group or self.group).add_parser(
            name, help=text, description=text[0].upper() + text[1:] + ".", parents=[self.common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog="Global options may come before the command or after it.")
        if run is not None:
            command.set_defaults(run=run)
        return command


def _id(command: argparse.ArgumentParser, name: str, kind: str, option: bool = False, text: str = "") -> None:
    if option:
        command.add_argument(f"--{name}", metavar=kind.upper(), help=(text + ": " if text else "") + ID_HELP[kind])
    else:
        command.add_argument(name, metavar=kind.upper(), help=ID_HELP[kind])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covenant", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    _global_options(parser, top=True)
    commands = _Commands(parser)
    commands.add("keys", "make this profile's Ed25519 key (never overwritten, never sent)", _keys)
    imported = commands.add("import-key", "use an existing PEM key (the stamp node's, say)", _import_key)
    imported.add_argument("pem", metavar="PEM", help="the PEM file of an Ed25519 private key")
    _id(imported, "node", "node", option=True, text="the node this key is registered as")
    _id(imported, "wallet", "wallet", option=True, text="that node's wallet")
    imported.add_argument("--new-chain", action="store_true",
                          help="the profile has another key, for an old chain: keep that key and its facts in the "
                               "profile's chains/ folder, and use this one")
    register = commands.add("register", "register this profile's key as a node (a merchant's wallet comes with the "
                                        "stamp node's approval)", _register)
    register.add_argument("role", choices=["consumer", "merchant"], help="consumer (active at once, with a wallet) "
                                                                         "or merchant (pending approval)")
    register.add_argument("--legal-name", help="a merchant's registered legal name")
    register.add_argument("--licence", help="a merchant's licence number")
    register.add_argument("--ip", help="a merchant's registered IP address")
    register.add_argument("--contact", help="a merchant's contact address")
    register.add_argument("--new-chain", action="store_true",
                          help="the profile belongs to an old chain (a new `make run`): keep its facts in the "
                               "profile's chains/ folder and register the same key on this one")
    commands.add("whoami", "this profile: its folder, key, node, role, wallet and chain, and from the API its "
                           "status and balance", _whoami)
    _id(commands.add("approve", "approve a merchant (stamp node)", _approve), "node", "node")
    for name, text in (("pay", "pay an order into escrow (buyer)"), ("ship", "ship an order (seller)"),
                       ("confirm", "confirm receipt (buyer)"), ("cancel", "cancel an order before shipment"),
                       ("show-order", "an order's state")):
        command = commands.add(name, text, _order_action)
        _id(command, "order", "order")
        if name == "pay":
            _via_subchain(command)
    commands.add("authorise", "authorise the program (consumers)", _authorise)
    for name, text in (("deposit", "record a fiat deposit into a wallet (stamp node)"),
                       ("withdraw", "record a fiat withdrawal from a wallet (stamp node)")):
        bridge = commands.add(name, text, _bridge)
        _id(bridge, "wallet", "wallet")
        bridge.add_argument("amount", metavar="AMOUNT", help=f"fiat: {AMOUNT_HELP}")
    order = commands.add("order", "order goods from a seller", _order)
    _id(order, "seller", "node")
    order.add_argument("--quantity", required=True, help="how many, a whole number from 1")
    order.add_argument("--unit-price", required=True, metavar="AMOUNT", help=f"fiat a unit: {AMOUNT_HELP}")
    order.add_argument("--unit-profit", required=True, metavar="AMOUNT",
                       help=f"the seller's declared profit a unit (0 or more): {AMOUNT_HELP}")
    order.add_argument("--description", default="", help="what is ordered (default: empty)")
    _via_subchain(order)
    for name, text in (("balance", "a wallet's balances"), ("history", "a wallet's movements")):
        _id(commands.add(name, text + " (default: this profile's)", _wallet_read), "wallet", "wallet", option=True)
    exchange = commands.add("exchange", "coins to fiat or fiat to coins", _exchange)
    exchange.add_argument("--to", choices=["fiat", "coin"], required=True, help="what to get")
    exchange.add_argument("amount", metavar="AMOUNT", help=f"how much to give: {AMOUNT_HELP}")
    commands.add("program", "the program's status and rules", _program)
    propose = commands.add("propose", "open a proposal for a majority vote", _propose)
    propose.add_argument("kind", choices=["halt", "restart", "freeze", "unfreeze", "report", "upgrade", "rules"],
                         help="what the proposal does")
    _id(propose, "subject", "wallet", option=True, text="the wallet a freeze or unfreeze names")
    propose.add_argument("--params", default="{}", help="JSON: report evidence, upgrade version, rule changes "
                                                        "(default: {})")
    propose.add_argument("--deadline", default="1440", metavar="MINUTES", help="minutes from now (default: 1440, "
                                                                               "a day)")
    vote = commands.add("vote", "vote on a proposal or a dispute", _vote)
    _id(vote, "proposal", "proposal")
    vote.add_argument("choice", choices=["yes", "no"], help="your vote")
    _id(commands.add("approve-proposal", "the stamp node approves an upgrade or rule change", _approve_proposal),
        "proposal", "proposal")
    commands.add("proposals", "list proposals", _proposals).add_argument(
        "--status", choices=["open", "passed", "rejected"], help="only these (default: all)")
    commands.add("tally", "close due proposals now (stamp node)", _tally)
    rate = commands.add("rate", "vote on the goods of a received order", _rate)
    _id(rate, "order", "order")
    rate.add_argument("rating", choices=["up", "down"], help="your vote")
    commands.add("rank", "goods ranked by votes", _rank)
    dispute = commands.add("dispute", "contest an order's goods or rebate (buyer)", _dispute)
    _id(dispute, "order", "order")
    dispute.add_argument("--ground", choices=["quality", "rebate"], required=True, help="what is wrong")
    dispute.add_argument("--remedy", choices=["reissue_rebate", "revoke_seller"], required=True,
                         help="what you ask for")
    dispute.add_argument("--statement", required=True, help="your account, in a sentence or two")
    dispute.add_argument("--deadline", default="1440", metavar="MINUTES", help="minutes from now (default: 1440, "
                                                                               "a day)")
    publish = commands.add("publish", "publish a work or data item", _publish)
    publish.add_argument("--title", required=True, help="the item's title")
    publish.add_argument("--file", required=True, help=f"UTF-8 text up to {TEXT_BYTES:,} bytes is sent in the "
                                                       "request; anything else is uploaded")
    publish.add_argument("--upload", action="store_true", help="upload the file even when it is short text")
    publish.add_argument("--price", default="0", metavar="AMOUNT", help=f"in coins (default: 0): {AMOUNT_HELP}")
    publish.add_argument("--stake", default="0", metavar="AMOUNT",
                         help=f"coins staked for vote to earn (default: 0): {AMOUNT_HELP}")
    commands.add("search", "search goods and items", _search).add_argument("words", nargs="+", metavar="WORD",
                                                                          help="words to find")
    _id(commands.add("buy-item", "buy an item with coins", _buy_item), "item", "item")
    rate_item = commands.add("rate-item", "vote on an item you bought", _rate_item)
    _id(rate_item, "item", "item")
    rate_item.add_argument("rating", choices=["up", "down"], help="your vote")
    commands.add("sweep", "run the legality sweep now (stamp node)", _sweep)
    subchain = commands.add("subchain", "your own sub-chain: verify, keep and cosign the log")
    actions = subchain.add_subparsers(dest="action", required=True, metavar="ACTION", help="what to do")
    for name, text in (("run", "register the sub-chain's key, then follow the log: verify, keep, cosign"),
                       ("status", "height, root, last cosigned checkpoint, lag and quarantine"),
                       ("verify", "re-verify the local copy offline, from genesis"),
                       ("retire", "retire the sub-chain (its cosignatures count no more)")):
        action = commands.add(name, text, group=actions)
        if name == "run":
            action.add_argument("--interval", type=float, default=5.0, help="seconds between polls (default: 5)")
            action.add_argument("--once", action="store_true", help="catch up once, cosign, and exit")
    return parser


def _via_subchain(command: argparse.ArgumentParser) -> None:
    command.add_argument("--via-subchain", action="store_true",
                         help="check in your own sub-chain's verified copy that the log recorded exactly this "
                              "signed request (exit 3 if not)")
    command.add_argument("--wait", type=float, default=180.0,
                         help="seconds to wait for the entry to be sealed and verified (default: 180)")


def whole_number(what: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", text) or not low <= int(text) <= high:
        raise CliError(f"{what} {text!r} must be a whole number from {low} to {high}, in the digits 0-9")
    return int(text)


def _done(s: Session, answer: Answer, **ids: str | None) -> Answer:
    """The API's answer; when it is a success, the ids it named or made are this profile's `last` ones."""
    if answer[0] < 400:
        s.used(**ids)
    return answer


def _signed(s: Session, path: str, body: dict[str, Any]) -> Answer:
    return s.api.post(s.on_this_chain(), path, body)


def _keys(s: Session, args: argparse.Namespace) -> Answer:
    key = Ed25519PrivateKey.generate()
    s.profile.save_key(key)
    kid = jwk_of(key.public_key())["kid"]
    s.profile.remember(kid=kid)
    return OK, {"profile": s.profile.name, "kid": kid, "key": str(s.profile.key_path)}


def _import_key(s: Session, args: argparse.Namespace) -> Answer:
    try:
        key = private_key_from_pem(Path(args.pem).read_bytes())
    except KeyFormatError as exc:
        raise CliError(f"{args.pem}: {exc}") from exc
    kid = jwk_of(key.public_key())["kid"]
    node = None if args.node is None else checked_id("--node", args.node)
    wallet = None if args.wallet is None else checked_id("--wallet", args.wallet)
    profile, kept = s.profile, None
    if profile.key_path.exists():
        held = jwk_of(profile.key().public_key())["kid"]
        if held != kid and not args.new_chain:
            raise CliError(f"profile {profile.name} already has another key ({held}); it is never overwritten. If "
                           f"{args.pem} is a new chain's key (a new `make run`), add --new-chain: the old key and "
                           f"its facts are kept in {profile.folder / 'chains'}")
        if held != kid:
            kept = s.leave_chain(profile, move_key=True)
            if kept is None:
                raise CliError(f"profile {profile.name}'s key {held} is this chain's (at {s.api.base}); it is never "
                               "replaced: import the new key into another --profile")
    if not profile.key_path.exists():
        profile.save_key(key)
    profile.remember(kid=kid, node=node, wallet=wallet)
    return OK, {"profile": profile.name, "kid": kid, **({"kept_old_chain_in": str(kept)} if kept else {})}


def _register(s: Session, args: argparse.Namespace) -> Answer:
    profile = s.profile
    key = profile.key()
    kept = s.leave_chain(profile, move_key=False) if args.new_chain else None
    s.on_this_chain()
    body: dict[str, Any] = {"role": args.role, "jwk": jwk_of(key.public_key())}
    if args.role == "merchant":
        if not all((args.legal_name, args.licence, args.ip, args.contact)):
            raise CliError("a merchant registers with --legal-name, --licence, --ip and --contact")
        body["identity"] = {"legal_name": args.legal_name, "licence_number": args.licence,
                            "registered_ip": args.ip, "contact": args.contact}
    status, answer = s.api.post(profile, "/nodes", body, key)
    if status == 201:
        profile.remember(node=answer["node"], wallet=answer.get("wallet"), role=args.role, genesis=s.genesis(),
                         api=s.api.base)
    if kept is not None:
        answer = {**answer, "kept_old_chain_in": str(kept)}
    return status, answer


def _approve(s: Session, args: argparse.Namespace) -> Answer:
    node = s.resolve("node", "NODE", args.node)
    return _done(s, _signed(s, f"/nodes/{segment(node)}/approval", {}), node=node)


def _authorise(s: Session, args: argparse.Namespace) -> Answer:
    return _signed(s, "/program/authorisations", {})


def _bridge(s: Session, args: argparse.Namespace) -> Answer:
    wallet = s.resolve("wallet", "WALLET", args.wallet)
    amount = minor_units(args.amount, what="AMOUNT")
    path = "/deposits" if args.command == "deposit" else "/withdrawals"
    return _done(s, _signed(s, path, {"wallet": wallet, "amount": amount}), wallet=wallet)


def _order(s: Session, args: argparse.Namespace) -> Answer:
    seller = s.resolve("node", "SELLER", args.seller)
    order = {"seller": seller, "quantity": whole_number("--quantity", args.quantity, 1, 1_000_000_000),
             "unit_price": minor_units(args.unit_price, what="--unit-price"),
             "unit_profit": minor_units(args.unit_profit, allow_zero=True, what="--unit-profit"),
             "description": args.description}
    order = {"wallet": s.wallet(), **order}
    if args.via_subchain:
        from .via_subchain import order_via_subchain

        answer = order_via_subchain(s.api, s.profile, args, order)
    else:
        answer = _signed(s, "/orders", order)
    return _done(s, answer, node=seller, order=answer[1].get("order"))


def _order_action(s: Session, args: argparse.Namespace) -> Answer:
    order = args.order = s.resolve("order", "ORDER", args.order)
    if args.command == "show-order":
        return _done(s, s.api.get(f"/orders/{segment(order)}"), order=order)
    if args.command == "pay":
        wallet = s.wallet()
        if args.via_subchain:
            from .via_subchain import pay_via_subchain

            return _done(s, pay_via_subchain(s.api, s.profile, args), order=order)
        return _done(s, _signed(s, f"/orders/{segment(order)}/payment", {"wallet": wallet}), order=order)
    path = {"ship": "shipment", "confirm": "receipt", "cancel": "cancellation"}[args.command]
    return _done(s, _signed(s, f"/orders/{segment(order)}/{path}", {}), order=order)


def _wallet_read(s: Session, args: argparse.Namespace) -> Answer:
    wallet = s.wallet() if args.wallet is None else s.resolve("wallet", "--wallet", args.wallet)
    path = f"/wallets/{segment(wallet)}" + ("/history" if args.command == "history" else "")
    return s.api.get(path)


def _exchange(s: Session, args: argparse.Namespace) -> Answer:
    amount = minor_units(args.amount, what="AMOUNT")
    direction = "coin_to_fiat" if args.to == "fiat" else "fiat_to_coin"
    return _signed(s, "/exchanges", {"wallet": s.wallet(), "direction": direction, "amount": amount})


def _program(s: Session, args: argparse.Namespace) -> Answer:
    return s.api.get("/program")


def _deadline(text: str) -> int:
    return whole_number("--deadline", text, 1, 10_000_000)


def _propose(s: Session, args: argparse.Namespace) -> Answer:
    try:
        params = json.loads(args.params)
    except ValueError as exc:
        raise CliError("--params must be JSON") from exc
    body = {"kind": args.kind, "params": params, "deadline_minutes": _deadline(args.deadline)}
    subject = None if args.subject is None else s.resolve("wallet", "--subject", args.subject)
    if subject is not None:
        body["subject"] = subject
    answer = _signed(s, "/proposals", body)
    return _done(s, answer, wallet=subject, proposal=answer[1].get("proposal"))


def _vote(s: Session, args: argparse.Namespace) -> Answer:
    proposal = s.resolve("proposal", "PROPOSAL", args.proposal)
    return _done(s, _signed(s, f"/proposals/{segment(proposal)}/votes", {"choice": args.choice}), proposal=proposal)


def _approve_proposal(s: Session, args: argparse.Namespace) -> Answer:
    proposal = s.resolve("proposal", "PROPOSAL", args.proposal)
    return _done(s, _signed(s, f"/proposals/{segment(proposal)}/approval", {}), proposal=proposal)


def _proposals(s: Session, args: argparse.Namespace) -> Answer:
    return s.api.get("/proposals" + (f"?status={args.status}" if args.status else ""))


def _tally(s: Session, args: argparse.Namespace) -> Answer:
    return _signed(s, "/tallies", {})


def _rate(s: Session, args: argparse.Namespace) -> Answer:
    order = s.resolve("order", "ORDER", args.order)
    return _done(s, _signed(s, f"/orders/{segment(order)}/vote", {"rating": args.rating}), order=order)


def _rank(s: Session, args: argparse.Namespace) -> Answer:
    return s.api.get("/rank")


def _dispute(s: Session, args: argparse.Namespace) -> Answer:
    order = s.resolve("order", "ORDER", args.order)
    answer = _signed(s, f"/orders/{segment(order)}/disputes", {
        "ground": args.ground, "remedy": args.remedy, "statement": args.statement,
        "deadline_minutes": _deadline(args.deadline)})
    return _done(s, answer, order=order, proposal=answer[1].get("proposal"))


def _search(s: Session, args: argparse.Namespace) -> Answer:
    from urllib.parse import urlencode

    return s.api.get("/search?" + urlencode({"q": " ".join(args.words)}))


def _buy_item(s: Session, args: argparse.Namespace) -> Answer:
    item = s.resolve("item", "ITEM", args.item)
    return _done(s, _signed(s, f"/items/{segment(item)}/purchase", {"wallet": s.wallet()}), item=item)


def _rate_item(s: Session, args: argparse.Namespace) -> Answer:
    item = s.resolve("item", "ITEM", args.item)
    return _done(s, _signed(s, f"/items/{segment(item)}/vote", {"rating": args.rating}), item=item)


def _sweep(s: Session, args: argparse.Namespace) -> Answer:
    return _signed(s, "/sweeps", {})


def _short_text(path: Path) -> str | None:
    if path.stat().st_size > TEXT_BYTES:
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


def _publish(s: Session, args: argparse.Namespace) -> Answer:
    """Short text in the request; anything else asked for, PUT to S3, then published by its SHA-256 and size."""
    path = Path(args.file)
    item = {"title": args.title, "price": minor_units(args.price, allow_zero=True, what="--price"),
            "stake": minor_units(args.stake, allow_zero=True, what="--stake")}
    item = {"wallet": s.wallet(), **item}
    text = None if args.upload else _short_text(path)
    if text is not None:
        answer = _signed(s, "/items", {**item, "text": text})
        return _done(s, answer, item=answer[1].get("item"))
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as content:
        for chunk in iter(lambda: content.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    ask: dict[str, Any] = {"sha256": digest.hexdigest(), "size": size}
    kind = mimetypes.guess_type(path.name)[0]
    if kind:
        ask["content_type"] = kind
    status, asked = _signed(s, "/uploads", ask)
    if status != 201:
        return status, asked
    s.api.upload(asked, path)
    answer = _signed(s, "/items", {**item, "sha256": ask["sha256"], "size": size})
    return _done(s, answer, item=answer[1].get("item"))


def _whoami(s: Session, args: argparse.Namespace) -> Answer:
    """The profile's own facts, always; then what the API says of its node and wallet, if it can be reached."""
    profile = s.profile
    if not profile.folder.is_dir():
        raise CliError(f"there is no profile {profile.name} in {s.home}: `covenant --profile {profile.name} keys` "
                       "makes one")
    server: dict[str, Any] = {"api": s.api.base}
    try:
        s.on_this_chain()
        server["genesis"] = s.genesis()
        node = profile.facts().get("node")
        if node:
            status, found = s.api.get(f"/nodes/{segment(s.node())}")
            server["node_status"] = found.get("status") if status == 200 else f"unknown ({status})"
            if status == 200 and found.get("wallet"):
                status, balance = s.api.get(f"/wallets/{segment(s.wallet())}")
                if status == 200:
                    server["wallet_status"], server["balances"] = balance.get("status"), balance.get("balances")
    except Unreachable as exc:
        server["problem"] = f"could not be reached ({exc}); the facts above are this machine's"
    except CliError as exc:
        server["problem"] = str(exc)
    facts = profile.facts()
    return OK, {"profile": profile.name, "folder": str(profile.folder),
                "kid": facts.get("kid"), "key": str(profile.key_path) if profile.key_path.exists() else None,
                "node": facts.get("node"), "role": role_of(facts) if facts.get("node") else None,
                "wallet": facts.get("wallet"), "genesis": facts.get("genesis"), "registered_through": facts.get("api"),
                "last": facts.get("last") or {}, "server": server}


def _whoami_text(me: dict[str, Any]) -> str:
    server = me["server"]
    last = ", ".join(f"{kind} {value}" for kind, value in sorted(me["last"].items())) or "none yet"
    if "problem" in server:
        said = server["problem"]
    else:
        said = f"node {server.get('node_status', '-')}"
        if "balances" in server:
            balances = server["balances"]
            said += (f"; wallet {server['wallet_status']}: {shown(balances['fiat'])} fiat, "
                     f"{shown(balances['coin'])} coins")
    rows = [("profile", f"{me['profile']} ({me['folder']})"),
            ("key", f"{me['kid'] or '-'} ({me['key'] or 'no key yet'})"),
            ("node", f"{me['node']} ({me['role']})" if me["node"] else "not registered yet"),
            ("wallet", me["wallet"] or ("none yet (a merchant's comes with approval)" if me["node"] else "-")),
            ("chain", f"genesis {me['genesis']}, registered through {me['registered_through']}"
             if me["genesis"] else "not known yet"),
            ("last", last), ("server", f"{server['api']}: {said}")]
    return "\n".join(f"{name:<8} {value}" for name, value in rows)


def _summary(command: str, answer: dict[str, Any], profile: str) -> str:
    if command == "balance":
        balances = answer["balances"]
        return (f"wallet {answer['wallet']} ({answer['status']}): {shown(balances['fiat'])} fiat, "
                f"{shown(balances['coin'])} coins")
    if command == "history":
        return "\n".join(f"{item['type']:<16} {item['asset'] or '':<5} {shown(item['delta']):>12}  {item['entry']}"
                         for item in answer["history"]) or "no history yet"
    if command == "whoami":
        return _whoami_text(answer)
    text = json.dumps(answer, indent=2, ensure_ascii=False)
    if command == "register" and not answer.get("wallet"):
        text += (f"\n{answer.get('node')} is {answer.get('status')}: its wallet comes with the stamp node's approval "
                 f"(`covenant --profile STAMP approve @{profile}`); profile {profile} learns it then, on first use")
    return text


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parse(argv: list[str] | None, out: TextIO, err: TextIO) -> argparse.Namespace | int:
    """The arguments, or the exit code of --help (0) or of a usage error (2), written to ``out`` and ``err``."""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            return _parser().parse_args(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else FAILED


def _main(argv: list[str] | None, out: TextIO, err: TextIO) -> int:
    args = _parse(argv, out, err)
    if isinstance(args, int):
        return args
    if not re.fullmatch(r"https?://[\x21-\x7e]+", args.api):
        raise CliError(f"--api {args.api!r} must be an http:// or https:// URL")
    home = Path(args.home).expanduser()
    if not args.profile or args.profile.startswith(".") or not args.profile.isprintable() or any(
            c in args.profile for c in "/\\"):
        raise CliError(f"--profile {args.profile!r} must be a plain name (a folder in {home})")
    profile, api = Profile(home, args.profile), Api(args.api)
    session = Session(api, home, profile)
    if args.command == "subchain":
        from .subchain_cli import subchain_command

        if args.action in ("run", "retire"):  # they sign with the profile's key: it must be this chain's
            session.on_this_chain()
        return subchain_command(args, profile, api, out, err)
    status, answer = args.run(session, args)
    if status >= 400:
        error = answer.get("error", {})
        err.write(f"covenant: refused ({status} {error.get('code')}): {_one_line(error.get('message'))}\n")
        return REFUSED
    text = json.dumps(answer, indent=2, ensure_ascii=False) if args.json else _summary(args.command, answer,
                                                                                        args.profile)
    out.write(text + "\n")
    return OK


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; every failure is one line on ``err`` and an exit code, never a traceback."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _main(argv, out, err)
    except CliError as exc:
        err.write(f"covenant: {_one_line(str(exc))}\n")
    except Unconfirmed as exc:
        err.write(f"covenant: NOT CONFIRMED by your sub-chain: {_one_line(str(exc))}\n")
        return UNCONFIRMED
    except OSError as exc:  # a file named on the command line, the profile's folder
        err.write(f"covenant: {_one_line(str(exc))}\n")
    except KeyboardInterrupt:
        err.write("covenant: interrupted\n")
        return 130
    except Exception as exc:  # the promise: one line and a way to report it, never a traceback
        if os.environ.get("COVENANT_DEBUG") == "1":
            traceback.print_exc(file=err)
        err.write(f"covenant: unexpected error: {type(exc).__name__}: {_one_line(str(exc))}; {REPORT}\n")
    return FAILED


if __name__ == "__main__":
    raise SystemExit(main())
