// Each entry type (docs/ENTRIES.md) in words a person reads: who did what, amounts, the rule that applied.

import { coins, fiat, h, short, units, bps } from "./format.js";

export const link = (route, id, label) => h("a", { href: `#/${route}/${encodeURIComponent(id)}`, class: "id" },
  label ?? short(id, 18));
export const nodeLink = (id) => (id === "system" ? h("strong", { text: "the program" }) : link("node", id));
export const walletLink = (id) => link("wallet", id);
export const orderLink = (id) => link("order", id);
export const proposalLink = (id) => link("proposal", id);
const quote = (text) => h("q", { text: String(text ?? "") });
const plain = (value) => h("code", { text: typeof value === "string" ? value : JSON.stringify(value) });

const ROLE = { consumer: "a consumer", merchant: "a merchant", stamp: "the stamp node (the platform)" };

// type -> (data, entry) -> list of nodes making a sentence, the actor already named before it
const SENTENCES = {
  "node.registered": (d, e) => [`registered ${d.node === e.actor ? "itself" : d.node} as ${ROLE[d.role] ?? d.role}`,
    d.identity ? [" (", quote(d.identity.legal_name), `, licence ${d.identity.licence_number})`] : "",
    d.jwk ? ` with key ${short(d.jwk.kid, 16)}` : "", d.wallet ? [" and wallet ", walletLink(d.wallet)] : ""],
  "wallet.issued": (d) => ["issued wallet ", walletLink(d.wallet), " to ", nodeLink(d.node)],
  "merchant.approved": (d) => ["approved merchant ", nodeLink(d.node)],
  "program.authorised": (d) => ["authorised the management program for ", nodeLink(d.node)],
  "program.started": () => ["started: enough consumers authorised it"],
  "fiat.deposited": (d) => ["recorded a deposit of ", strong(fiat(d.amount)), " into ", walletLink(d.wallet)],
  "fiat.withdrawn": (d) => ["paid out a withdrawal of ", strong(fiat(d.amount)), " from ", walletLink(d.wallet)],
  "order.placed": (d) => ["ordered ", `${d.quantity} × `, quote(d.description || d.product || "goods"), " at ",
    strong(fiat(d.unit_price)), " each (declared profit ", fiat(d.unit_profit), " each) from ", nodeLink(d.seller),
    ": order ", orderLink(d.order), ", ", strong(fiat(d.amount)), " in all"],
  "order.paid": (d) => ["paid ", strong(fiat(d.amount)), " from ", walletLink(d.wallet), " into escrow for order ",
    orderLink(d.order)],
  "order.shipped": (d) => ["shipped order ", orderLink(d.order)],
  "coin.minted": (d) => ["minted ", strong(coins(d.amount)), " to ", walletLink(d.wallet),
    d.order ? [" for order ", orderLink(d.order)] : "", d.funded_by ? [", backed by fiat of ", walletLink(d.funded_by)] : ""],
  "order.settled": (d) => ["settled order ", orderLink(d.order), ": ", strong(fiat(d.proceeds)), " to the seller's ",
    walletLink(d.seller_wallet), ", ", fiat(d.reserve), " into the reserve behind the rebate"],
  "order.received": (d) => ["confirmed receipt of order ", orderLink(d.order)],
  "order.cancelled": (d) => ["cancelled order ", orderLink(d.order), ", refunding ", strong(fiat(d.refunded)),
    " to ", walletLink(d.wallet)],
  "coin.exchanged": (d) => ["exchanged ", strong(coins(d.coins)), " from ", walletLink(d.wallet), " for ",
    strong(fiat(d.fiat)), ` (fee ${units(d.fee)} fiat to `, walletLink(d.fee_wallet), ")"],
  "coin.bought": (d) => ["bought ", strong(coins(d.coins)), " for ", strong(fiat(d.fiat)), " into ", walletLink(d.wallet)],
  "system.halted": () => ["halted the system under the constitution"],
  "node.revoked": (d) => ["revoked node ", nodeLink(d.node), ` and ${(d.wallets || []).length} wallet(s)`],
  "wallets.revoked": (d) => [`revoked ${(d.wallets || []).length} more wallet(s) of `, nodeLink(d.node)],
  "system.restored": (d) => [`restored the system to ${d.status}`],
  "wallet.blackened": (d) => ["blackened wallet ", walletLink(d.wallet), " of ", nodeLink(d.node),
    "; its legal wallet is ", walletLink(d.legal_wallet)],
  "subchain.registered": (d) => ["registered sub-chain ", plain(d.cosigner?.id), " (", plain(d.cosigner?.name), ")"],
  "subchain.retired": (d) => ["retired sub-chain ", plain(d.id), " of ", nodeLink(d.node)],
  "legality.swept": (d) => [`ran a legality sweep: ${(d.actions || []).length} action(s), status ${d.status}`],
  "proposal.opened": (d) => [`opened a ${d.kind} proposal `, proposalLink(d.proposal),
    d.subject ? [" about ", plain(d.subject)] : "", `, ${d.eligible} eligible voters, deadline in ${d.minutes} min`],
  "dispute.opened": (d) => ["opened dispute ", proposalLink(d.proposal), " about order ", orderLink(d.subject),
    d.params?.ground ? [": ", quote(d.params.ground)] : ""],
  "proposal.voted": (d) => [`voted ${d.choice === "yes" ? "yes" : "no"} on `, proposalLink(d.proposal)],
  "proposal.approved": (d) => ["approved proposal ", proposalLink(d.proposal)],
  "proposal.closed": (d) => ["closed ", proposalLink(d.proposal), `: ${d.result} with ${d.yes} yes and ${d.no} no of `,
    `${d.eligible} eligible`],
  "program.halted": (d) => ["halted the program, as ", proposalLink(d.proposal), " decided"],
  "program.restarted": (d) => ["restarted the program, as ", proposalLink(d.proposal), " decided"],
  "wallet.frozen": (d) => ["froze wallet ", walletLink(d.wallet), ", as ", proposalLink(d.proposal), " decided"],
  "wallet.unfrozen": (d) => ["unfroze wallet ", walletLink(d.wallet), ", as ", proposalLink(d.proposal), " decided"],
  "report.filed": (d) => ["filed the report of ", proposalLink(d.proposal), ` (SHA-256 ${short(d.report_hash, 16)})`],
  "subchain.upgraded": (d) => [`upgraded the sub-chains to version ${d.version}, as `, proposalLink(d.proposal), " decided"],
  "rules.changed": (d) => ["changed the rules, as ", proposalLink(d.proposal), " decided"],
  "dispute.upheld": (d) => ["upheld dispute ", proposalLink(d.proposal), " on order ", orderLink(d.order)],
  "dispute.dismissed": (d) => ["dismissed dispute ", proposalLink(d.proposal), " on order ", orderLink(d.order)],
  "tally.requested": (d) => [`ran a tally that closed ${(d.closed || []).length} proposal(s)`],
  "goods.voted": (d) => [`voted ${d.rating === "up" ? "up" : "down"} the goods `, plain(d.product), " of order ",
    orderLink(d.order)],
  "item.published": (d) => ["published ", quote(d.title), ` (${d.content}, ${d.size} bytes) at `, strong(coins(d.price)),
    d.stake ? [`, staking ${units(d.stake)} coins`] : ""],
  "item.bought": (d) => ["bought item ", plain(d.item), " for ", strong(coins(d.price)), " from ", walletLink(d.wallet)],
  "item.voted": (d) => [`voted ${d.rating} item `, plain(d.item), d.paid_from_stake ? [", earning ", coins(d.paid_from_stake)] : ""],
};

function strong(text) {
  return h("strong", { text });
}

export function actorOf(entry) {
  return nodeLink(entry.actor);
}

// The sentence for an entry: "<actor> <what happened>".
export function sentence(entry) {
  const make = SENTENCES[entry.type];
  const data = entry.data || {};
  let words;
  try {
    words = make ? make(data, entry) : [`made an entry of type ${entry.type}, which this explorer does not know`];
  } catch {
    words = [`made an entry of type ${entry.type} whose data this explorer could not read`];
  }
  return h("span", { class: "sentence" }, actorOf(entry), " ", words);
}

// The program's own decisions name the rule and what it read; show both.
export function ruleOf(entry) {
  const data = entry.data || {};
  if (!data.rule && !data.inputs && !data.formula) return null;
  const parts = [];
  if (data.rule) parts.push(h("div", {}, "Rule: ", h("code", { text: data.rule })));
  if (data.formula) parts.push(h("div", {}, "Formula: ", h("code", { text: data.formula })));
  if (data.inputs && typeof data.inputs === "object") {
    const rows = Object.entries(data.inputs).map(([name, value]) => h("tr", {},
      h("th", { scope: "row", text: name }), h("td", {}, inputValue(name, value))));
    parts.push(h("table", { class: "inputs" }, h("caption", { text: "Inputs the rule read" }), h("tbody", {}, rows)));
  }
  return h("div", { class: "rule" }, parts);
}

function inputValue(name, value) {
  if (typeof value === "number" && name.endsWith("_bps")) return `${value} bps (${bps(value)})`;
  if (typeof value === "number" && /price|profit|amount|reward|fee(?!_)/.test(name)) return `${value} (${units(value)})`;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export const signedBy = (entry) => (entry.auth ? `signed request, key ${short(entry.auth.kid, 16)}`
  : "the program's own entry (vouched for by the block signature)");
