"""covenant: use a Covenant ledger from the command line.

Keys are made on this machine and never leave it; every request is signed
here (RFC 9421, Ed25519). A profile is a folder holding one key and the node
and wallet it registered: $COVENANT_HOME/<profile> (default ~/.covenant).
Amounts are typed as decimals (12.50) and sent as integers of minor units.

    covenant --profile alice keys
    covenant --profile alice register consumer
    covenant --profile shop register merchant --legal-name "Acme Ltd" --licence L-1 \\
        --ip 203.0.113.7 --contact ops@acme.example
    covenant --profile stamp import-key .state/sealer-key.pem --node stamp --wallet w-stamp
    covenant --profile stamp approve m-...
    covenant --profile alice authorise
    covenant --profile stamp deposit w-... 500.00
    covenant --profile alice order m-... --quantity 2 --unit-price 25.00 --unit-profit 5.00
    covenant --profile alice pay o-...      covenant --profile shop ship o-...
    covenant --profile alice confirm o-...  covenant --profile alice cancel o-...
    covenant --profile alice balance        covenant --profile alice history
    covenant --profile alice exchange --to fiat 1.00
    covenant --profile alice propose freeze --subject w-...    covenant --profile bob vote p-... yes
    covenant proposals [--status open]                        covenant --profile stamp tally
    covenant --profile alice rate o-... up                    covenant rank
    covenant --profile alice dispute o-... --ground quality --remedy reissue_rebate --statement "broken"
    covenant --profile alice publish --title "Essay" --file essay.txt [--price 1.00] [--stake 0.50] [--upload]
    covenant search lamp                                      covenant --profile bob buy-item i-...
    covenant --profile alice subchain run [--once]            covenant --profile alice subchain status
    covenant --profile alice subchain verify                  covenant --profile alice subchain retire
    covenant --profile alice pay o-... --via-subchain         (its own sub-chain confirms what the log recorded)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..ledger import httpsig
from ..ledger.keys import KeyFormatError, jwk_of, private_key_from_pem, private_key_to_pem

OK, REFUSED, FAILED, UNCONFIRMED = 0, 1, 2, 3
TEXT_BYTES = 48_000  # the most text an item's request carries; larger or binary files are uploaded


class CliError(Exception):
    pass


class Unconfirmed(Exception):
    """The consumer's own sub-chain does not confirm what the log answered."""


def minor_units(text: str, allow_zero: bool = False) -> int:
    """``12.5`` -> 1250 exactly; more than two decimals or a negative amount is an error."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise CliError(f"{text!r} is not an amount") from exc
    cents = value * 100
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero) or cents != cents.to_integral_value():
        raise CliError(f"{text!r} must be a positive amount with at most two decimals")
    return int(cents)


def shown(units: int) -> str:
    sign = "-" if units < 0 else ""
    return f"{sign}{abs(units) // 100}.{abs(units) % 100:02d}"


class Profile:
    def __init__(self, home: Path, name: str):
        self.folder = home / name
        self.name = name

    @property
    def key_path(self) -> Path:
        return self.folder / "key.pem"

    def key(self) -> Ed25519PrivateKey:
        try:
            return private_key_from_pem(self.key_path.read_bytes())
        except FileNotFoundError as exc:
            raise CliError(f"profile {self.name} has no key: run `covenant --profile {self.name} keys`") from exc
        except KeyFormatError as exc:
            raise CliError(f"{self.key_path}: {exc}") from exc

    def save_key(self, key: Ed25519PrivateKey) -> None:
        if self.key_path.exists():
            raise CliError(f"profile {self.name} already has a key; it is never overwritten")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.key_path.write_bytes(private_key_to_pem(key))
        self.key_path.chmod(0o600)

    def facts(self) -> dict[str, Any]:
        path = self.folder / "profile.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def remember(self, **facts: Any) -> None:
        merged = {**self.facts(), **{k: v for k, v in facts.items() if v is not None}}
        (self.folder / "profile.json").write_text(json.dumps(merged, indent=2) + "\n")

    def wallet(self) -> str:
        wallet = self.facts().get("wallet")
        if not wallet:
            raise CliError(f"profile {self.name} has no wallet yet (register, or wait for approval)")
        return str(wallet)


class Api:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def _send(self, request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read())
            except ValueError:
                return exc.code, {"error": {"code": "http_error", "message": str(exc)}}
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot reach {self.base}: {exc}") from exc

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._send(urllib.request.Request(self.base + path))

    def upload(self, asked: dict[str, Any], path: Path) -> None:
        """PUT a file to the presigned URL ``POST /uploads`` answered, with exactly the headers it signed."""
        with path.open("rb") as body:
            request = urllib.request.Request(asked["url"], data=body, headers=asked["headers"],
                                             method=asked["method"])
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                raise CliError(f"the upload was refused ({exc.code}): {exc.read()[:300]!r}") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise CliError(f"cannot upload to the bucket: {exc}") from exc

    def post(self, profile: Profile | None, path: str, body: dict[str, Any], key: Ed25519PrivateKey | None = None,
             idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
        status, answer, _ = self.post_signed(profile, path, body, key, idempotency_key)
        return status, answer

    def post_signed(self, profile: Profile | None, path: str, body: dict[str, Any],
                    key: Ed25519PrivateKey | None = None, idempotency_key: str | None = None
                    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """POST a signed request; also returns what it signed, as the ledger keeps it in the entry's ``auth``."""
        if key is None:
            if profile is None:
                raise CliError("a signed request needs a key")
            key = profile.key()
        raw = json.dumps(body, separators=(",", ":")).encode()
        url = self.base + path
        kid = jwk_of(key.public_key())["kid"]
        headers = httpsig.sign_request(key, kid, "POST", url, raw, idempotency_key or uuid.uuid4().hex,
                                       int(time.time()))
        parsed = httpsig.parse(headers["Signature-Input"], headers["Signature"])
        base = httpsig.signature_base(parsed, httpsig.RequestFacts("POST", url, {
            name.lower(): value for name, value in headers.items()}, raw))
        sent = {"kid": kid, "base": base, "sig": base64.b64encode(parsed.signature).decode("ascii"),
                "body": raw.decode("utf-8")}
        headers["Content-Type"] = "application/json"
        status, answer = self._send(urllib.request.Request(url, data=raw, headers=headers, method="POST"))
        return status, answer, sent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covenant", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--api", default=os.environ.get("COVENANT_API", "http://127.0.0.1:8000"))
    parser.add_argument("--home", default=os.environ.get("COVENANT_HOME", str(Path.home() / ".covenant")))
    parser.add_argument("--profile", default=os.environ.get("COVENANT_PROFILE", "default"))
    parser.add_argument("--json", action="store_true", help="print the API's answers as JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("keys", help="make this profile's Ed25519 key")
    imported = commands.add_parser("import-key", help="use an existing PEM key (the stamp node's, say)")
    imported.add_argument("pem")
    imported.add_argument("--node")
    imported.add_argument("--wallet")
    register = commands.add_parser("register", help="register this profile's key as a node")
    register.add_argument("role", choices=["consumer", "merchant"])
    register.add_argument("--legal-name")
    register.add_argument("--licence")
    register.add_argument("--ip")
    register.add_argument("--contact")
    for name, text in (("approve", "approve a merchant (stamp node)"), ("pay", "pay an order into escrow"),
                       ("ship", "ship an order (seller)"), ("confirm", "confirm receipt (buyer)"),
                       ("cancel", "cancel before shipment"), ("show-order", "an order's state")):
        command = commands.add_parser(name, help=text)
        command.add_argument("target")
        if name == "pay":
            _via_subchain(command)
    commands.add_parser("authorise", help="authorise the program (consumers)")
    for name in ("deposit", "withdraw"):
        bridge = commands.add_parser(name, help=f"{name} fiat (stamp node)")
        bridge.add_argument("wallet")
        bridge.add_argument("amount")
    order = commands.add_parser("order", help="order goods from a seller")
    order.add_argument("seller")
    order.add_argument("--quantity", type=int, required=True)
    order.add_argument("--unit-price", required=True)
    order.add_argument("--unit-profit", required=True)
    order.add_argument("--description", default="")
    _via_subchain(order)
    for name in ("balance", "history"):
        commands.add_parser(name).add_argument("--wallet")
    exchange = commands.add_parser("exchange", help="coins to fiat or fiat to coins")
    exchange.add_argument("--to", choices=["fiat", "coin"], required=True)
    exchange.add_argument("amount")
    commands.add_parser("program", help="the program's status and rules")
    propose = commands.add_parser("propose", help="open a proposal for a majority vote")
    propose.add_argument("kind", choices=["halt", "restart", "freeze", "unfreeze", "report", "upgrade", "rules"])
    propose.add_argument("--subject", help="the wallet a freeze or unfreeze names")
    propose.add_argument("--params", default="{}", help="JSON: report evidence, upgrade version, rule changes")
    propose.add_argument("--deadline", type=int, default=24 * 60, help="minutes from now (default a day)")
    vote = commands.add_parser("vote", help="vote on a proposal or a dispute")
    vote.add_argument("proposal")
    vote.add_argument("choice", choices=["yes", "no"])
    commands.add_parser("approve-proposal", help="the stamp node approves an upgrade or rule change").add_argument(
        "proposal")
    commands.add_parser("proposals", help="list proposals").add_argument("--status",
                                                                         choices=["open", "passed", "rejected"])
    commands.add_parser("tally", help="close due proposals now (stamp node)")
    rate = commands.add_parser("rate", help="vote on the goods of a received order")
    rate.add_argument("order")
    rate.add_argument("rating", choices=["up", "down"])
    commands.add_parser("rank", help="goods ranked by votes")
    dispute = commands.add_parser("dispute", help="contest an order's goods or rebate (buyer)")
    dispute.add_argument("order")
    dispute.add_argument("--ground", choices=["quality", "rebate"], required=True)
    dispute.add_argument("--remedy", choices=["reissue_rebate", "revoke_seller"], required=True)
    dispute.add_argument("--statement", required=True)
    dispute.add_argument("--deadline", type=int, default=24 * 60, help="minutes from now (default a day)")
    publish = commands.add_parser("publish", help="publish a work or data item")
    publish.add_argument("--title", required=True)
    publish.add_argument("--file", required=True, help="UTF-8 text up to 48,000 bytes is sent in the request; "
                                                      "anything else is uploaded")
    publish.add_argument("--upload", action="store_true", help="upload the file even when it is short text")
    publish.add_argument("--price", default="0", help="in coins")
    publish.add_argument("--stake", default="0", help="coins staked for vote to earn")
    commands.add_parser("search", help="search goods and items").add_argument("words", nargs="+")
    commands.add_parser("buy-item", help="buy an item with coins").add_argument("item")
    rate_item = commands.add_parser("rate-item", help="vote on an item you bought")
    rate_item.add_argument("item")
    rate_item.add_argument("rating", choices=["up", "down"])
    commands.add_parser("sweep", help="run the legality sweep now (stamp node)")
    subchain = commands.add_parser("subchain", help="your own sub-chain: verify, keep and cosign the log")
    actions = subchain.add_subparsers(dest="action", required=True)
    for name, text in (("run", "register the sub-chain's key, then follow the log: verify, keep, cosign"),
                       ("status", "height, root, last cosigned checkpoint, lag and quarantine"),
                       ("verify", "re-verify the local copy offline, from genesis"),
                       ("retire", "retire the sub-chain (its cosignatures count no more)")):
        action = actions.add_parser(name, help=text)
        # also accepted after the action: covenant subchain run --profile alice --api URL
        action.add_argument("--profile", default=argparse.SUPPRESS)
        action.add_argument("--api", default=argparse.SUPPRESS)
        action.add_argument("--home", default=argparse.SUPPRESS)
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        if name == "run":
            action.add_argument("--interval", type=float, default=5.0, help="seconds between polls (default 5)")
            action.add_argument("--once", action="store_true", help="catch up once, cosign, and exit")
    return parser


def _via_subchain(command: argparse.ArgumentParser) -> None:
    command.add_argument("--via-subchain", action="store_true",
                         help="check in your own sub-chain's verified copy that the log recorded exactly this "
                              "signed request (exit 3 if not)")
    command.add_argument("--wait", type=float, default=180.0,
                         help="seconds to wait for the entry to be sealed and verified (default 180)")


def _run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    profile = Profile(Path(args.home), args.profile)
    api = Api(args.api)
    command = args.command
    if command == "keys":
        key = Ed25519PrivateKey.generate()
        profile.save_key(key)
        kid = jwk_of(key.public_key())["kid"]
        profile.remember(kid=kid)
        return 0, {"profile": args.profile, "kid": kid, "key": str(profile.key_path)}
    if command == "import-key":
        key = private_key_from_pem(Path(args.pem).read_bytes())
        profile.save_key(key)
        profile.remember(kid=jwk_of(key.public_key())["kid"], node=args.node, wallet=args.wallet)
        return 0, {"profile": args.profile, "kid": jwk_of(key.public_key())["kid"]}
    if command == "register":
        key = profile.key()
        body: dict[str, Any] = {"role": args.role, "jwk": jwk_of(key.public_key())}
        if args.role == "merchant":
            if not all((args.legal_name, args.licence, args.ip, args.contact)):
                raise CliError("a merchant registers with --legal-name, --licence, --ip and --contact")
            body["identity"] = {"legal_name": args.legal_name, "licence_number": args.licence,
                                "registered_ip": args.ip, "contact": args.contact}
        status, answer = api.post(profile, "/nodes", body, key)
        if status == 201:
            profile.remember(node=answer["node"], wallet=answer.get("wallet"))
        return status, answer
    if command == "approve":
        return api.post(profile, f"/nodes/{args.target}/approval", {})
    if command == "authorise":
        return api.post(profile, "/program/authorisations", {})
    if command in ("deposit", "withdraw"):
        path = "/deposits" if command == "deposit" else "/withdrawals"
        return api.post(profile, path, {"wallet": args.wallet, "amount": minor_units(args.amount)})
    if command == "order":
        order = {"wallet": profile.wallet(), "seller": args.seller, "quantity": args.quantity,
                 "unit_price": minor_units(args.unit_price),
                 "unit_profit": minor_units(args.unit_profit, allow_zero=True), "description": args.description}
        if args.via_subchain:
            from .via_subchain import order_via_subchain

            return order_via_subchain(api, profile, args, order)
        return api.post(profile, "/orders", order)
    if command == "pay":
        if args.via_subchain:
            from .via_subchain import pay_via_subchain

            return pay_via_subchain(api, profile, args)
        return api.post(profile, f"/orders/{args.target}/payment", {"wallet": profile.wallet()})
    if command in ("ship", "confirm", "cancel"):
        path = {"ship": "shipment", "confirm": "receipt", "cancel": "cancellation"}[command]
        return api.post(profile, f"/orders/{args.target}/{path}", {})
    if command == "show-order":
        return api.get(f"/orders/{args.target}")
    if command == "balance":
        return api.get(f"/wallets/{args.wallet or profile.wallet()}")
    if command == "history":
        return api.get(f"/wallets/{args.wallet or profile.wallet()}/history")
    if command == "exchange":
        direction = "coin_to_fiat" if args.to == "fiat" else "fiat_to_coin"
        return api.post(profile, "/exchanges", {"wallet": profile.wallet(), "direction": direction,
                                                "amount": minor_units(args.amount)})
    if command == "program":
        return api.get("/program")
    if command == "propose":
        try:
            params = json.loads(args.params)
        except ValueError as exc:
            raise CliError("--params must be JSON") from exc
        body = {"kind": args.kind, "params": params, "deadline_minutes": args.deadline}
        if args.subject:
            body["subject"] = args.subject
        return api.post(profile, "/proposals", body)
    if command == "vote":
        return api.post(profile, f"/proposals/{args.proposal}/votes", {"choice": args.choice})
    if command == "approve-proposal":
        return api.post(profile, f"/proposals/{args.proposal}/approval", {})
    if command == "proposals":
        return api.get("/proposals" + (f"?status={args.status}" if args.status else ""))
    if command == "tally":
        return api.post(profile, "/tallies", {})
    if command == "rate":
        return api.post(profile, f"/orders/{args.order}/vote", {"rating": args.rating})
    if command == "rank":
        return api.get("/rank")
    if command == "dispute":
        return api.post(profile, f"/orders/{args.order}/disputes", {
            "ground": args.ground, "remedy": args.remedy, "statement": args.statement,
            "deadline_minutes": args.deadline})
    if command == "publish":
        return _publish(api, profile, args)
    if command == "search":
        from urllib.parse import urlencode

        return api.get("/search?" + urlencode({"q": " ".join(args.words)}))
    if command == "buy-item":
        return api.post(profile, f"/items/{args.item}/purchase", {"wallet": profile.wallet()})
    if command == "rate-item":
        return api.post(profile, f"/items/{args.item}/vote", {"rating": args.rating})
    return api.post(profile, "/sweeps", {})


def _short_text(path: Path) -> str | None:
    if path.stat().st_size > TEXT_BYTES:
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


def _publish(api: Api, profile: Profile, args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Short text in the request; anything else asked for, PUT to S3, then published by its SHA-256 and size."""
    path = Path(args.file)
    item = {"wallet": profile.wallet(), "title": args.title, "price": minor_units(args.price, allow_zero=True),
            "stake": minor_units(args.stake, allow_zero=True)}
    text = None if args.upload else _short_text(path)
    if text is not None:
        return api.post(profile, "/items", {**item, "text": text})
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as content:
        for chunk in iter(lambda: content.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    ask: dict[str, Any] = {"sha256": digest.hexdigest(), "size": size}
    kind = mimetypes.guess_type(path.name)[0]
    if kind:
        ask["content_type"] = kind
    status, asked = api.post(profile, "/uploads", ask)
    if status != 201:
        return status, asked
    api.upload(asked, path)
    return api.post(profile, "/items", {**item, "sha256": ask["sha256"], "size": size})


def _summary(command: str, answer: dict[str, Any]) -> str:
    if command == "balance":
        balances = answer["balances"]
        return (f"wallet {answer['wallet']} ({answer['status']}): {shown(balances['fiat'])} fiat, "
                f"{shown(balances['coin'])} coins")
    if command == "history":
        return "\n".join(f"{item['type']:<16} {item['asset'] or '':<5} {shown(item['delta']):>12}  {item['entry']}"
                         for item in answer["history"]) or "no history yet"
    return json.dumps(answer, indent=2, ensure_ascii=False)


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    if args.command == "subchain":
        from .subchain_cli import subchain_command

        return subchain_command(args, Profile(Path(args.home), args.profile), Api(args.api), out, err)
    try:
        status, answer = _run(args)
    except (CliError, OSError, KeyFormatError) as exc:
        err.write(f"covenant: {exc}\n")
        return FAILED
    except Unconfirmed as exc:
        err.write(f"covenant: NOT CONFIRMED by your sub-chain: {exc}\n")
        return UNCONFIRMED
    if status >= 400:
        error = answer.get("error", {})
        err.write(f"covenant: refused ({status} {error.get('code')}): {error.get('message')}\n")
        return REFUSED
    out.write((json.dumps(answer, indent=2, ensure_ascii=False) if args.json else _summary(args.command, answer))
              + "\n")
    return OK


if __name__ == "__main__":
    raise SystemExit(main())
