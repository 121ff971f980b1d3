"""The explorer in a real browser: Debian's Chromium, headless, driven by Playwright, against the local stack.

One stack serves every check (pytest-xdist would split tests of a module over
workers, and start a stack for each), so the checks run as subtests of one
test: after a scripted trade through the real API (the people's client), the
page loads, every mark it shows reaches "verified", navigation works forth and
back, and a screenshot of each main view is saved (to $COVENANT_ARTIFACTS,
default build/artifacts/explorer/); then, with Playwright's request
interception changing one byte of what the API serves, the page says "failed"
and names what failed.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_local_stack import Stack, _cli, _get, _until
from tests.interop.tools import missing

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SETTLED = ("() => { const main = document.getElementById('main');"
           " return main && main.getAttribute('aria-busy') === 'false'"
           " && document.querySelectorAll('.mark').length > 0"
           " && document.querySelectorAll('.mark[data-state=pending]').length === 0; }")


def _artifacts() -> Path:
    folder = Path(os.environ.get("COVENANT_ARTIFACTS") or ROOT / "build" / "artifacts" / "explorer")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        missing("Chromium", "needs Debian's Chromium at /usr/bin/chromium: apt-get install chromium (CI installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("Playwright", "needs Playwright's Python package (requirements-dev.txt)")


@dataclass
class Trade:
    api: str
    genesis: str
    alice_wallet: str
    shop_node: str
    order: str
    paid_entry: str
    paid_height: int
    proposal: str


def _script_a_trade(stack: Stack, home: Path) -> Trade:
    api = stack.api

    def cli(*args: str) -> dict[str, Any]:
        return _cli(home, api, *args)

    for person in ("alice", "bob"):
        cli("--profile", person, "keys")
        cli("--profile", person, "register", "consumer")
    cli("--profile", "shop", "keys")
    shop = cli("--profile", "shop", "register", "merchant", "--legal-name", "Brass Lamp Co", "--licence", "BL-9",
               "--ip", "203.0.113.7", "--contact", "sales@brass.example")
    cli("--profile", "stamp", "import-key", str(stack.state / "sealer-key.pem"), "--node", "stamp", "--wallet",
        "w-stamp")
    shop_wallet = cli("--profile", "stamp", "approve", shop["node"])["wallet"]
    for person in ("alice", "bob"):
        cli("--profile", person, "authorise")
    alice = json.loads((home / "alice" / "profile.json").read_text())
    cli("--profile", "stamp", "deposit", alice["wallet"], "2000.00")
    # 1,200.00: the tier that needs half of the sub-chains' cosignatures before the payment is final
    order = cli("--profile", "alice", "order", shop["node"], "--quantity", "2", "--unit-price", "600.00",
                "--unit-profit", "50.00", "--description", "two brass lamps")["order"]
    cli("--profile", "alice", "pay", order)

    def shipped() -> bool:
        import io

        from chalicelib.client.cli import main

        return main(["--api", api, "--home", str(home), "--json", "--profile", "shop", "ship", order],
                    io.StringIO(), io.StringIO()) == 0

    _until(shipped, 120, "the payment's finality (sub-chains' cosignatures)", stack.log_path)
    cli("--profile", "alice", "confirm", order)
    cli("--profile", "alice", "rate", order, "up")
    proposal = cli("--profile", "alice", "propose", "freeze", "--subject", shop_wallet)["proposal"]
    cli("--profile", "alice", "vote", proposal, "yes")
    last = cli("--profile", "bob", "vote", proposal, "no")["entry"]  # 1 yes of 3 eligible: it stays open
    paid = _get(f"{api}/orders/{order}")["paid_entry"]

    def settled() -> bool:
        # the last entry sealed, and the head's checkpoint, of the whole log, cosigned by all three sub-chains
        sealed = _get(f"{api}/entries/{last}")
        head = _get(f"{api}/chain/head")["header"]
        with urllib.request.urlopen(f"{api}/checkpoint", timeout=10) as response:
            text = response.read().decode()
        return sealed["index"] < head["log_size"] and text.split("\n")[1] == str(head["log_size"]) \
            and text.count("/subchain/") == 3

    _until(settled, 180, "the trade sealed and cosigned", stack.log_path)
    genesis = json.loads((stack.state / "genesis.json").read_text())["hash"]
    return Trade(api, genesis, alice["wallet"], shop["node"], order, paid, _get(f"{api}/entries/{paid}")["height"],
                 proposal)


@pytest.fixture(scope="module")
def trade(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trade]:
    _require_chromium()
    tmp = tmp_path_factory.mktemp("explorer")
    stack = Stack(tmp)
    try:
        yield _script_a_trade(stack, tmp / "people")
    finally:
        assert stack.stop() == 0


@pytest.fixture(scope="module")
def browser(trade: Trade) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


class Page:
    """One browser tab on the explorer, with the checks every view shares."""

    def __init__(self, browser: Any, api: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.api = api
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.api}/{route}")
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_function(SETTLED, timeout=60_000)

    def marks(self) -> list[tuple[str, str, str]]:
        return self.page.eval_on_selector_all(
            ".mark", "els => els.map(e => [e.dataset.subject, e.dataset.state, e.textContent])")

    def all_verified(self) -> list[tuple[str, str, str]]:
        marks = self.marks()
        failed = [m for m in marks if m[1] != "verified"]
        assert marks and not failed, failed
        assert all("✓ verified" in text for _, _, text in marks)
        return marks

    def heading(self) -> str:
        return str(self.page.inner_text("main h1"))

    def shot(self, name: str) -> None:
        path = _artifacts() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000

    def after(self, action: Callable[[], Any]) -> None:
        """Do ``action`` (a click, a search, going back), then wait until the view it leads to is shown and checked."""
        before = self.page.evaluate("document.body.dataset.rendered || ''")
        action()
        self.page.wait_for_function(f"() => (document.body.dataset.rendered || '') !== {json.dumps(before)}",
                                    timeout=60_000)
        self.settle()

    def click(self, selector: str) -> None:
        self.after(lambda: self.page.click(selector))

    def search(self, text: str) -> None:
        self.page.fill("#q", text)
        self.after(lambda: self.page.press("#q", "Enter"))

    def close(self) -> None:
        self.context.close()


def _raw_get(api: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """A GET sent exactly as written: no client normalises ``..`` or ``%2F`` away."""
    host, port = api.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class Alteration:
    """A request handler: the API's real answer, with the last digit of the first match of ``pattern`` bumped by
    one (one byte); answers without a match pass unchanged. ``done`` counts the answers changed."""

    def __init__(self, pattern: str):
        self.pattern = re.compile(pattern)
        self.done = 0

    def __call__(self, route: Any) -> None:
        response = route.fetch()
        body = response.text()
        found = self.pattern.search(body)
        if found is None:
            route.fulfill(response=response)
            return
        end = found.end(1)
        changed = body[:end - 1] + str((int(body[end - 1]) + 1) % 10) + body[end:]
        self.done += 1
        route.fulfill(response=response, body=changed)


def test_the_explorer_in_a_real_browser(trade: Trade, browser: Any, subtests: Any) -> None:
    api = trade.api

    with subtests.test("the API serves the page with its policy, and no traversal"):
        status, headers, body = _raw_get(api, "/")
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and b'src="explorer/explorer.js"' in body
        status, headers, _ = _raw_get(api, "/explorer/explorer.js")
        assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
        for path in ("/explorer/..", "/explorer/../app.py", "/explorer/nothing.js", "/app.py"):
            status, _, body = _raw_get(api, path)
            assert status == 404, (path, status, body)
            assert json.loads(body)["error"]["code"] == "not_found"
        # escaped dots and slashes are no file name at all: the path parameter's check refuses them (400) before
        # any file is sought (a gateway that decodes them first answers 404 as above)
        for path in ("/explorer/..%2F..%2Fapp.py", "/explorer/%2e%2e"):
            status, _, body = _raw_get(api, path)
            assert status in (400, 404) and json.loads(body)["error"]["code"] in ("invalid_parameter", "not_found")

    tab = Page(browser, api)
    try:
        with subtests.test("the home page: the head, the newest blocks, the checkpoint and its cosignatures"):
            tab.open()
            assert tab.heading() == "Covenant ledger"
            head = _get(f"{api}/chain/head")
            assert str(head["header"]["height"]) in tab.page.inner_text("#head-title ~ table")
            marks = tab.all_verified()
            subjects = [m[0] for m in marks]
            assert f"block {head['header']['height']}" in subjects and "checkpoint" in subjects
            assert sum(s.startswith("cosignature ") for s in subjects) == 3
            # the head card, then the newest blocks (ten to a page, here every block)
            assert sum(s.startswith("block ") for s in subjects) == 1 + min(10, head["header"]["height"] + 1)
            tab.shot("home")

        with subtests.test("pinning the genesis hash checks block 0 and its key"):
            tab.page.fill("#genesis-pin", trade.genesis)
            tab.after(lambda: tab.page.click("form.pin button[type=submit]"))
            assert "genesis" in [m[0] for m in tab.all_verified()]
            tab.page.fill("#genesis-pin", "0" * 64)
            tab.after(lambda: tab.page.click("form.pin button[type=submit]"))
            genesis = [m for m in tab.marks() if m[0] == "genesis"]
            assert genesis[0][1] == "failed" and "pinned genesis" in genesis[0][2]
            tab.after(lambda: tab.page.click("form.pin button:has-text('Forget')"))

        with subtests.test("navigation: head, block, entry, wallet, order, proposals, rank, search, and back"):
            tab.open()
            tab.click("#head-title ~ table a[href^='#/block/']")
            assert tab.heading() == f"Block {head['header']['height']}"
            assert len([m for m in tab.all_verified() if m[0].startswith("entry ")]) >= 1
            tab.shot("block")
            tab.click("main table.list a[href^='#/entry/']")
            assert tab.heading().startswith("Entry ")
            tab.all_verified()
            tab.shot("entry")
            # to the wallet by search, then its history's payment, then the order
            tab.search(trade.alice_wallet)
            tab.click(f"main a[href='#/wallet/{trade.alice_wallet}']")
            assert tab.heading() == f"Wallet {trade.alice_wallet}"
            text = tab.page.inner_text("main")
            assert "order.paid" in text and "coin.minted" in text
            tab.all_verified()
            tab.shot("wallet")
            tab.click(f"main a[href='#/entry/{trade.paid_entry}']")
            assert "paid" in tab.page.inner_text("main .lead") and "1,200.00 fiat" in tab.page.inner_text("main .lead")
            tab.all_verified()
            tab.click(f"main a[href='#/order/{trade.order}']")
            assert tab.heading() == f"Order {trade.order}"
            order_text = tab.page.inner_text("main")
            assert "Finality: final" in order_text and "two brass lamps" in order_text
            steps = tab.page.inner_text("ol.timeline")
            for step in ("order.placed", "order.paid", "order.shipped", "coin.minted", "order.settled",
                         "order.received", "goods.voted"):
                assert step in steps
            final_by = _get(f"{api}/orders/{trade.order}")["final_by"]
            assert final_by and all(sub in order_text for sub in final_by)
            tab.all_verified()
            tab.shot("order")
            tab.click("header nav a[href='#/proposals']")
            assert tab.heading() == "Proposals" and "1 yes · 1 no · 3 eligible" in tab.page.inner_text("main")
            tab.all_verified()
            tab.shot("proposals")
            tab.click(f"main a[href='#/proposal/{trade.proposal}']")
            assert tab.heading() == f"Proposal {trade.proposal}"
            tab.click("header nav a[href='#/rank']")
            assert tab.heading() == "Goods ranking" and trade.shop_node in tab.page.inner_text("main")
            tab.all_verified()
            tab.shot("rank")
            tab.search("goods")
            assert tab.heading() == "Search: goods" and trade.shop_node in tab.page.inner_text("main")
            tab.shot("search")
            # and back, through the history the hash routes keep
            for expected in ("Goods ranking", f"Proposal {trade.proposal}", "Proposals", f"Order {trade.order}"):
                tab.after(tab.page.go_back)
                assert tab.heading() == expected
            tab.page.reload()
            tab.settle()  # a new document: its first rendering
            assert tab.heading() == f"Order {trade.order}"  # a reload keeps the view: the URL names it
            assert not [e for e in tab.errors if "favicon" not in e], tab.errors
    finally:
        tab.close()

    paid_block = re.compile(rf"/blocks/{trade.paid_height}(\?.*)?$")

    def tampered(url: Any, pattern: str, route: str, shot: str) -> dict[str, tuple[str, str, str]]:
        """The marks of the view at ``route`` when one byte of the answers at ``url`` is changed."""
        tab = Page(browser, api)
        try:
            alteration = Alteration(pattern)
            tab.page.route(url, alteration)
            tab.open(route)
            assert alteration.done >= 1
            tab.shot(shot)
            return {m[0]: m for m in tab.marks()}
        finally:
            tab.close()

    with subtests.test("one byte of one entry in a served block: that entry and its block fail, named"):
        # the entry's time: its members are served in canonical order, so "ts" follows "id"
        marks = tampered(paid_block, rf'"id":\s*"{trade.paid_entry}",\s*"ts":\s*(\d+)', f"#/block/{trade.paid_height}",
                         "tampered-entry")
        entry, block = marks[f"entry {trade.paid_entry}"], marks[f"block {trade.paid_height}"]
        assert entry[1] == "failed" and trade.paid_entry in entry[2] and "not in block" in entry[2]
        assert block[1] == "failed" and trade.paid_entry in block[2]
        others = [m for k, m in marks.items() if k.startswith("entry ") and k != f"entry {trade.paid_entry}"]
        assert others and all(m[1] == "verified" for m in others)

    with subtests.test("one byte of a block header: the block fails, named"):
        marks = tampered(paid_block, r'"header":\s*\{[^}]*"ts":\s*(\d+)', f"#/block/{trade.paid_height}",
                         "tampered-header")
        block = marks[f"block {trade.paid_height}"]
        assert block[1] == "failed" and f"block {trade.paid_height}" in block[2]

    with subtests.test("one byte of the checkpoint: the checkpoint fails"):
        marks = tampered(f"{api}/checkpoint", r"^[^\n]*\n(\d+)\n", "", "tampered-checkpoint")
        assert marks["checkpoint"][1] == "failed" and "checkpoint" in marks["checkpoint"][2]
        blocks = [m for k, m in marks.items() if k.startswith("block ")]
        assert blocks and all(m[1] == "verified" for m in blocks)  # only what changed fails
