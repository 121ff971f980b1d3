// The Covenant ledger explorer: hash routes, one view each, every shown block, entry and checkpoint checked.

import { ApiError, getJson, limited, q } from "./api.js";
import { link, nodeLink, orderLink, proposalLink, ruleOf, sentence, signedBy, walletLink } from "./decode.js";
import { asset, coins, fiat, h, short, units, when } from "./format.js";
import {
  blockHead, checkBlock, checkEntry, checkGenesis, checkedEntry, cosigners, headCheckpoint,
  markFor, pinGenesis, pinnedGenesis, refresh,
} from "./trust.js";

const BLOCKS_PAGE = 10;
const KINDS = { sealer: "log signature (the sealer)", cosigner: "cosignature (a sub-chain)", unknown: "a line no listed key signs" };
const ENTRIES_PAGE = 50;
const LIST_PAGE = 20;
const PARALLEL = 6;

const main = () => document.getElementById("main");
let generation = 0;

// --- small pieces

function copyable(value, label) {
  const text = String(value);
  const button = h("button", { type: "button", class: "copy", "aria-label": `Copy ${label ?? text}`, title: "Copy" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  return h("span", { class: "copyable" }, h("code", { text }), button);
}

function facts(rows, caption) {
  return h("table", { class: "facts" }, caption ? h("caption", { text: caption }) : null,
    h("tbody", {}, rows.filter(Boolean).map(([name, value]) => h("tr", {}, h("th", { scope: "row", text: name }), h("td", {}, value)))));
}

function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty", text: empty });
  return h("table", { class: "list" }, h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c })))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

// Paging links; APIs with opaque cursors only go forward, so their "previous" is the first page.
function pager(label, previous, next, words = ["← Previous page", "Next page →"]) {
  if (!previous && !next) return null;
  return h("nav", { class: "pager", "aria-label": label },
    previous ? h("a", { href: previous, rel: "prev" }, words[0]) : null,
    next ? h("a", { href: next, rel: "next" }, words[1]) : null);
}

const route = (path, params) => {
  const query = new URLSearchParams(Object.entries(params || {}).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const text = query.toString();
  return `#/${path}${text ? `?${text}` : ""}`;
};

function problem(error) {
  const message = error instanceof ApiError ? `${error.message} (${error.code}${error.status ? `, HTTP ${error.status}` : ""})`
    : String(error?.message ?? error);
  return h("p", { class: "problem", role: "alert" }, message);
}

function view(title, ...children) {
  document.title = `${title} · Covenant explorer`;
  return [h("h1", { text: title }), ...children];
}

// A block's verdict including every entry shown of it: the header alone, then the first entry that failed.
async function blockVerdict(block, entryVerdicts) {
  const header = await checkBlock(block);
  if (!header.ok) return header;
  const verdicts = await Promise.all(entryVerdicts);
  const failed = verdicts.find((v) => !v.ok);
  if (failed) return { ok: false, reason: `block ${block.header.height}: ${failed.reason}` };
  return { ok: true, reason: `${header.reason}; ${verdicts.length} entr${verdicts.length === 1 ? "y" : "ies"} shown, each in its signed root` };
}

// --- the checkpoint, in the site header on every view and in full on the home view

function chainStatus() {
  const slot = document.getElementById("chain-status");
  slot.replaceChildren(markFor("checkpoint", headCheckpoint().then((c) => c.verdict)));
}

function checkpointPanel(checkpoint) {
  const { verdict } = checkpoint;
  const rows = verdict.signatures.map((s) => [
    h("code", { text: s.name }), KINDS[s.kind] ?? s.kind,
    s.time ? when(Number(s.time) * 1000) : "—",
    s.kind === "unknown" ? `not checked: ${s.reason}`
      : markFor(`${s.kind === "sealer" ? "signature" : "cosignature"} ${s.name}`, Promise.resolve({ ok: s.ok, reason: s.reason })),
  ]);
  return h("section", { class: "card", "aria-labelledby": "checkpoint-title" },
    h("h2", { id: "checkpoint-title" }, "Signed checkpoint ", markFor("checkpoint", Promise.resolve(verdict))),
    facts([["Origin", verdict.origin ? h("code", { text: verdict.origin }) : "?"],
      ["Log size", verdict.size !== undefined ? String(verdict.size) : "?"],
      ["Root", verdict.root ? copyable(typeof verdict.root === "string" ? verdict.root : String(verdict.root), "root") : "?"]]),
    table("Signatures on the checkpoint: who vouches for this size of the log", ["Signer", "Kind", "Time", "Check"], rows,
      "No signature could be read."),
    h("details", {}, h("summary", {}, "The checkpoint as served"), h("pre", { text: checkpoint.text })));
}

// --- views

async function home(_, params) {
  const head = await getJson("chain/head");
  const top = head.header.height;
  const before = params.get("before") !== null ? Math.min(Number(params.get("before")), top) : top;
  if (!Number.isInteger(before) || before < 0) throw new ApiError(400, "invalid_parameter", "before must be a height");
  const heights = [];
  for (let x = before; x >= 0 && heights.length < BLOCKS_PAGE; x--) heights.push(x);
  const blocks = await limited(heights, PARALLEL, (x) => blockHead(x));
  const rows = blocks.map((b) => [link("block", b.header.height, String(b.header.height)), when(b.header.ts),
    String(b.header.count), String(b.header.log_size), h("code", { title: b.hash, text: short(b.hash, 16) }),
    markFor(`block ${b.header.height}`, checkBlock(b))]);
  const checkpoint = headCheckpoint();
  const panel = h("div", {}, h("p", { class: "loading", text: "Checking the checkpoint…" }));
  checkpoint.then((c) => panel.replaceChildren(checkpointPanel(c)), (e) => panel.replaceChildren(problem(e)));
  const older = before - BLOCKS_PAGE >= 0 ? route("", { before: before - BLOCKS_PAGE }) : null;
  const newer = before < top ? route("", { before: before + BLOCKS_PAGE >= top ? null : before + BLOCKS_PAGE }) : null;
  return view("Covenant ledger",
    h("section", { class: "card", "aria-labelledby": "head-title" },
      h("h2", { id: "head-title" }, "Head of the chain ", markFor(`block ${top}`, checkBlock(head))),
      facts([["Height", link("block", top, String(top))], ["Hash", copyable(head.hash, "head hash")],
        ["Entries in the log", String(head.header.log_size)], ["Sealed", when(head.header.ts)],
        ["Sealer key", h("code", { text: head.header.sealer })]])),
    panel,
    trustPanel(),
    h("section", { "aria-labelledby": "blocks-title" }, h("h2", { id: "blocks-title", text: "Newest blocks" }),
      table("Blocks, newest first; each header's signature and its link to the block before it are checked",
        ["Height", "Sealed", "Entries", "Log size", "Hash", "Check"], rows),
      pager("Blocks", newer, older, ["← Newer blocks", "Older blocks →"])));
}

function trustPanel() {
  const pinned = pinnedGenesis();
  const input = h("input", { id: "genesis-pin", name: "genesis", size: 66, pattern: "[0-9a-fA-F]{64}", value: pinned ?? "",
    placeholder: "64 hex characters", "aria-describedby": "genesis-help" });
  const form = h("form", { class: "pin" }, h("label", { for: "genesis-pin", text: "Genesis hash to pin " }), input,
    h("button", { type: "submit" }, "Pin"), pinned ? h("button", { type: "button", onclick: () => { pinGenesis(null); render(); } }, "Forget") : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(value)) {
      input.setCustomValidity("a genesis hash is 64 hex characters");
      input.reportValidity();
      return;
    }
    pinGenesis(value);
    render();
  });
  return h("section", { class: "card", "aria-labelledby": "trust-title" },
    h("h2", { id: "trust-title" }, "What this page trusts ", pinned ? markFor("genesis", checkGenesis()) : null),
    h("p", { id: "genesis-help" }, pinned
      ? "Block 0 must hash to the pinned genesis, and the key that sealed it must be the one its genesis entry registers. "
      : "No genesis hash is pinned: the sealer keys and sub-chain keys are trusted as this API serves them. Pin the genesis hash you got from the operator (make run writes it to .state/genesis.json) to check block 0 and its key. ",
    "Everything shown is checked in this browser: block signatures, hash links, inclusion proofs, checkpoint signatures."),
    form);
}

async function blockView([height], params) {
  const cursor = Number(params.get("cursor") || 0);
  const answer = await getJson(`blocks/${q(height)}?limit=${ENTRIES_PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
  const { header } = answer;
  const first = header.log_size - header.count + cursor;
  const entryMarks = answer.entries.map((entry, i) => checkEntry(entry, first + i, header.height, answer));
  const rows = answer.entries.map((entry, i) => [String(first + i), link("entry", entry.id), h("code", { text: entry.type }),
    sentence(entry), when(entry.ts), markFor(`entry ${entry.id}`, entryMarks[i])]);
  const h0 = header.height;
  const previousPage = cursor > 0 ? route(`block/${h0}`, { cursor: Math.max(0, cursor - ENTRIES_PAGE) || null }) : null;
  const nextPage = answer.next ? route(`block/${h0}`, { cursor: answer.next }) : null;
  return view(`Block ${h0}`,
    h("nav", { class: "siblings", "aria-label": "Neighbouring blocks" },
      h0 > 0 ? h("a", { href: `#/block/${h0 - 1}`, rel: "prev" }, `← Block ${h0 - 1}`) : null,
      h("a", { href: `#/block/${h0 + 1}`, rel: "next" }, `Block ${h0 + 1} →`)),
    h("section", { class: "card", "aria-labelledby": "block-title" },
      h("h2", { id: "block-title" }, "Header ", markFor(`block ${h0}`, blockVerdict(answer, entryMarks))),
      facts([["Height", String(h0)], ["Hash", copyable(answer.hash, "block hash")],
        ["Previous", h0 > 0 ? h("span", {}, link("block", h0 - 1, `block ${h0 - 1}`), " ", copyable(header.prev, "previous hash")) : "none: genesis"],
        ["Sealed", when(header.ts)], ["Entries", `${header.count} (log indices ${header.log_size - header.count} to ${header.log_size - 1})`],
        ["Log size", String(header.log_size)], ["Log root", copyable(header.log_root, "log root")],
        ["Sealer key", h("code", { text: header.sealer })], ["Signature", h("code", { class: "wrap", text: answer.sig })]])),
    h("section", { "aria-labelledby": "entries-title" },
      h("h2", { id: "entries-title", text: `Entries ${cursor + 1} to ${cursor + answer.entries.length} of ${header.count}` }),
      table("Entries in log order, each checked by its inclusion proof against this block's signed root",
        ["Index", "Entry", "Type", "What happened", "When", "Check"], rows),
      pager("Entries of this block", previousPage, nextPage)));
}

async function entryView([id]) {
  const found = await checkedEntry(id);
  const { entry, index, height } = found;
  const header = (await blockHead(height)).header;
  const proof = await getJson(`proofs/inclusion?index=${index}&size=${header.log_size}`);
  const data = entry.data || {};
  return view(`Entry ${short(id, 24)}`,
    h("section", { class: "card", "aria-labelledby": "entry-title" },
      h("h2", { id: "entry-title" }, h("code", { text: entry.type }), " ", markFor(`entry ${entry.id}`, Promise.resolve(found.verdict))),
      h("p", { class: "lead" }, sentence(entry)),
      facts([["Id", copyable(entry.id, "entry id")], ["Actor", nodeLink(entry.actor)], ["Time", when(entry.ts)],
        ["Block", link("block", height, `block ${height}`)], ["Log index", String(index)],
        ["Authority", signedBy(entry)],
        data.wallet ? ["Wallet", walletLink(data.wallet)] : null, data.order ? ["Order", orderLink(data.order)] : null,
        data.proposal ? ["Proposal", proposalLink(data.proposal)] : null]),
      ruleOf(entry)),
    h("section", { class: "card", "aria-labelledby": "proof-title" },
      h("h2", { id: "proof-title", text: "Inclusion proof (RFC 9162)" }),
      facts([["Leaf index", String(proof.leaf_index)], ["Tree size", `${proof.tree_size} (block ${height}'s log size)`],
        ["Signed root", copyable(header.log_root, "log root")]]),
      h("ol", { class: "path", "aria-label": "Proof path, leaf to root" }, proof.path.map((node) => h("li", {}, h("code", { text: node }))))),
    h("details", { class: "card" }, h("summary", {}, "The entry as served (JSON)"), h("pre", { text: JSON.stringify(entry, null, 2) })));
}

// Entries named by id (history, timeline): each read with GET /entries/{id} and checked.
function checkedRows(ids) {
  return ids.map((id) => ({ id, promise: limitedEntry(id) }));
}

const slots = [];
let running = 0;
function limitedEntry(id) {
  return new Promise((resolve, reject) => {
    const start = () => {
      running++;
      checkedEntry(id).then(resolve, reject).finally(() => {
        running--;
        if (slots.length) slots.shift()();
      });
    };
    if (running < PARALLEL) start();
    else slots.push(start);
  });
}

async function walletView([id], params) {
  const cursor = params.get("cursor");
  const [wallet, history] = await Promise.all([getJson(`wallets/${q(id)}`),
    getJson(`wallets/${q(id)}/history?limit=${LIST_PAGE}${cursor ? `&cursor=${q(cursor)}` : ""}`)]);
  const rows = checkedRows(history.history.map((r) => r.entry));
  const lines = history.history.map((r, i) => [when(r.ts), h("code", { text: r.type }),
    h("span", { class: Number(r.delta) < 0 ? "debit" : "credit" }, r.asset ? asset(r.asset, r.delta) : "—"),
    link("entry", r.entry), markFor(`entry ${r.entry}`, rows[i].promise.then((f) => f.verdict))]);
  return view(`Wallet ${id}`,
    h("section", { class: "card" }, facts([["Wallet", copyable(wallet.wallet, "wallet id")], ["Owner", nodeLink(wallet.node)],
      ["Status", wallet.status], ["Fiat", fiat(wallet.balances.fiat)], ["Coins", coins(wallet.balances.coin)]], "Balances now")),
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title", text: "History" }),
      table("Every movement of this wallet, oldest first; each entry checked against its block's signed root",
        ["When", "Type", "Change", "Entry", "Check"], lines, "No movements yet."),
      pager("History", cursor ? route(`wallet/${id}`) : null, history.next ? route(`wallet/${id}`, { cursor: history.next }) : null)));
}

async function nodeView([id]) {
  const node = await getJson(`nodes/${q(id)}`);
  const identity = node.identity || {};
  return view(`Node ${id}`, h("section", { class: "card" }, facts([["Node", copyable(node.node, "node id")], ["Role", node.role],
    ["Status", node.status], ["Approved", node.approved ? "yes" : "no"], ["Key id", h("code", { text: node.kid || "?" })],
    node.wallet ? ["Wallet", walletLink(node.wallet)] : null,
    identity.legal_name ? ["Legal name", identity.legal_name] : null,
    identity.licence_number ? ["Licence", identity.licence_number] : null,
    identity.contact ? ["Contact", identity.contact] : null])),
  h("p", {}, "A node's record is the program's state; what it did is in the ledger, as entries of its wallet and orders."));
}

async function orderView([id]) {
  const [order, listed, checkpoint] = await Promise.all([getJson(`orders/${q(id)}`), cosigners(), headCheckpoint()]);
  const fin = order.finality || {};
  const rows = checkedRows((order.entries || []).map((e) => e.entry));
  const timeline = (order.entries || []).map((e, i) => h("li", {},
    h("span", { class: "step" }, h("code", { text: e.type }), " in ", link("block", e.height, `block ${e.height}`), `, index ${e.index} `),
    markFor(`entry ${e.entry}`, rows[i].promise.then((f) => f.verdict)),
    h("div", { class: "step-words" }, rowSentence(rows[i].promise, e.entry))));
  const byName = new Map(checkpoint.verdict.signatures.map((s) => [s.name, s]));
  const finalBy = new Set(order.final_by || []);
  const covering = new Set(fin.cosigners || []);
  const cosignRows = listed.map((c) => {
    const signature = byName.get(c.name);
    const size = checkpoint.verdict.size;
    return [h("code", { text: c.id }), nodeLink(c.node), String(c.cosigned_size ?? "?"),
      fin.index !== undefined ? ((c.cosigned_size ?? 0) > fin.index ? "yes" : "no") : "—",
      finalBy.has(c.id) ? "yes" : covering.has(c.id) ? "covers it now" : "no",
      signature ? markFor(`cosignature ${c.name}`, Promise.resolve({ ok: signature.ok, reason: signature.ok
        ? `cosigned the checkpoint of ${size} entries` : signature.reason || "cosignature does not verify" }))
        : h("span", { class: "muted", text: "no cosignature on the current checkpoint" })];
  });
  return view(`Order ${id}`,
    h("section", { class: "card" }, facts([["Order", copyable(order.order, "order id")], ["Status", order.status],
      ["Buyer", h("span", {}, nodeLink(order.buyer), " · ", walletLink(order.buyer_wallet))],
      ["Seller", h("span", {}, nodeLink(order.seller), " · ", walletLink(order.seller_wallet))],
      ["Goods", `${order.quantity} × ${order.product ?? "goods"} at ${fiat(order.unit_price)} (declared profit ${fiat(order.unit_profit)} each)`],
      ["Amount", fiat(order.amount)], ["In escrow", fiat(order.escrow)], ["Rebate", coins(order.rebate)]], "The order now")),
    h("section", { class: "card", "aria-labelledby": "finality-title" },
      h("h2", { id: "finality-title", text: `Finality: ${fin.final ? "final" : "not final yet"}` }),
      h("p", {}, fin.needed === null || fin.needed === undefined ? "Not paid yet."
        : `The payment is final once ${fin.needed} of ${fin.active ?? "?"} active sub-chains have cosigned a checkpoint holding it `
          + `(its share: ${units(fin.share_bps ?? 0)} % of them, rounded up); ${fin.cosigned} have.`,
      fin.index !== undefined ? [" The payment is entry index ", String(fin.index), " in ", link("block", fin.height, `block ${fin.height}`), "."] : ""),
      table("Sub-chains: whose cosignatures made the payment final", ["Sub-chain", "Run by", "Cosigned size", "Holds the payment",
        "Made it final", "Its cosignature on the current checkpoint"], cosignRows, "No sub-chains are registered.")),
    h("section", { "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title", text: "Timeline" }),
      timeline.length ? h("ol", { class: "timeline" }, timeline) : h("p", { class: "empty", text: "No sealed entries yet." })));
}

function rowSentence(promise, id) {
  const slot = h("span", { class: "muted", text: `entry ${id}` });
  promise.then((found) => slot.replaceChildren(sentence(found.entry), " ", when(found.entry.ts), " ", link("entry", id, "details")),
    (error) => slot.replaceChildren(problem(error)));
  return slot;
}

async function proposalsView(_, params) {
  const cursor = params.get("cursor");
  const status = params.get("status");
  const answer = await getJson(`proposals?limit=${LIST_PAGE}${cursor ? `&cursor=${q(cursor)}` : ""}${status ? `&status=${q(status)}` : ""}`);
  const rows = answer.proposals.map((p) => [proposalLink(p.proposal), p.kind, p.subject ? h("code", { text: p.subject }) : "—", p.status,
    tally(p), when(p.deadline)]);
  const filters = h("nav", { class: "filters", "aria-label": "Proposal status" }, ["", "open", "passed", "rejected"].map((s) =>
    h("a", { href: route("proposals", { status: s }), "aria-current": (status ?? "") === s ? "page" : null }, s || "all")));
  return view("Proposals", filters,
    table("Proposals, oldest first, with their tallies", ["Proposal", "Kind", "Subject", "Status", "Tally", "Deadline"], rows, "No proposals yet."),
    pager("Proposals", cursor ? route("proposals", { status, cursor: Math.max(0, Number(cursor) - LIST_PAGE) || null }) : null,
      answer.next ? route("proposals", { status, cursor: answer.next }) : null));
}

function tally(p) {
  const eligible = Math.max(1, p.eligible || 0);
  return h("span", { class: "tally" }, `${p.yes} yes · ${p.no} no · ${p.eligible} eligible`,
    h("meter", { min: 0, max: eligible, value: p.yes, "aria-label": `${p.yes} yes of ${p.eligible} eligible` }));
}

async function proposalView([id]) {
  const p = await getJson(`proposals/${q(id)}`);
  return view(`Proposal ${id}`, h("section", { class: "card" }, facts([["Proposal", copyable(p.proposal, "proposal id")],
    ["Kind", p.kind], ["Subject", p.subject ? h("code", { text: p.subject }) : "—"], ["Proposer", nodeLink(p.proposer)],
    ["Status", p.status], ["Tally", tally(p)], ["Opened", when(p.opened_at)], ["Deadline", when(p.deadline)],
    ["Needs the stamp node's approval", p.needs_approval ? (p.approved ? "yes, approved" : "yes, not yet") : "no"],
    ["Parameters", h("code", { text: JSON.stringify(p.params) })],
    p.outcome ? ["Outcome", h("code", { text: JSON.stringify(p.outcome) })] : null])),
  p.kind === "dispute" && p.subject ? h("p", {}, "About ", orderLink(p.subject)) : null,
  h("p", {}, h("a", { href: "#/proposals" }, "← All proposals")));
}

async function rankView(_, params) {
  const cursor = params.get("cursor");
  const answer = await getJson(`rank?limit=${LIST_PAGE}${cursor ? `&cursor=${q(cursor)}` : ""}`);
  const rows = answer.goods.map((g) => [String(g.rank), g.title || g.product, nodeLink(g.seller), String(g.up), String(g.down),
    String(g.score), when(g.first_vote)]);
  return view("Goods ranking", table("Goods by the buyers' votes", ["Rank", "Goods", "Seller", "Up", "Down", "Score", "First vote"], rows,
    "No goods have been voted on yet."),
  pager("Ranking", cursor ? "#/rank" : null, answer.next ? route("rank", { cursor: answer.next }) : null));
}

// Ids by their shape: a height, an entry, a wallet, an order, a proposal or dispute, a node.
function idLinks(text) {
  const found = [];
  if (/^\d{1,15}$/.test(text)) found.push(h("a", { href: `#/block/${text}` }, `Block ${text}`));
  if (/^(\d{13}-[0-9a-f]{16}|genesis-[\w-]+|authz-.+)$/.test(text)) found.push(link("entry", text, `Entry ${text}`));
  if (/^w-/.test(text)) found.push(link("wallet", text, `Wallet ${text}`));
  if (/^o-/.test(text)) found.push(link("order", text, `Order ${text}`));
  if (/^[pd]-/.test(text)) found.push(link("proposal", text, `Proposal ${text}`));
  if (/^(c-|m-|stamp$)/.test(text)) found.push(link("node", text, `Node ${text}`));
  return found;
}

async function searchView(_, params) {
  const text = (params.get("q") || "").trim();
  const cursor = params.get("cursor");
  document.getElementById("q").value = text;
  if (!text) return view("Search", h("p", {}, "Search goods and items by words, or go to a block height, entry, wallet, order, proposal or node id."));
  const links = idLinks(text);
  let results = null;
  try {
    results = await getJson(`search?q=${q(text)}&limit=${LIST_PAGE}${cursor ? `&cursor=${q(cursor)}` : ""}`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 400) throw error;
  }
  const rows = (results?.results || []).map((r) => [r.kind, r.title, r.kind === "goods" ? h("code", { text: r.id }) : h("code", { text: r.id }),
    `${r.up} up · ${r.down} down`, r.label, when(r.since)]);
  return view(`Search: ${text}`,
    links.length ? h("section", {}, h("h2", { text: "Go to" }), h("ul", {}, links.map((a) => h("li", {}, a)))) : null,
    h("section", {}, h("h2", { text: "Goods and items" }),
      table("Matches, best voted first", ["Kind", "Title", "Id", "Votes", "Label", "Since"], rows, "Nothing matches these words."),
      pager("Search results", cursor ? route("search", { q: text, cursor: Math.max(0, Number(cursor) - LIST_PAGE) || null }) : null,
        results?.next ? route("search", { q: text, cursor: results.next }) : null)));
}

const ROUTES = [
  [/^$/, home], [/^block\/(\d+)$/, blockView], [/^entry\/([^/]+)$/, entryView], [/^wallet\/([^/]+)$/, walletView],
  [/^node\/([^/]+)$/, nodeView], [/^order\/([^/]+)$/, orderView], [/^proposals$/, proposalsView],
  [/^proposal\/([^/]+)$/, proposalView], [/^rank$/, rankView], [/^search$/, searchView],
];

async function render() {
  const mine = ++generation;
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?", 2);
  const params = new URLSearchParams(query);
  const target = main();
  target.setAttribute("aria-busy", "true");
  target.replaceChildren(h("p", { class: "loading", text: "Loading…" }));
  for (const a of document.querySelectorAll("header nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${path}`);
  }
  refresh();
  chainStatus();
  let content;
  const matched = ROUTES.find(([pattern]) => pattern.test(path));
  try {
    if (!matched) throw new ApiError(404, "not_found", `there is no page ${path}`);
    const args = path.match(matched[0]).slice(1).map(decodeURIComponent);
    content = await matched[1](args, params);
  } catch (error) {
    content = view("Not shown", problem(error));
  }
  if (mine !== generation) return;
  target.replaceChildren(...content.filter(Boolean));
  target.setAttribute("aria-busy", "false");
  document.body.dataset.rendered = String(mine); // which rendering is shown: tests wait on it
  target.focus({ preventScroll: true });
}

function start() {
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = document.getElementById("q").value.trim();
    if (text) window.location.hash = route("search", { q: text });
  });
  window.addEventListener("hashchange", render);
  render();
}

start();
