// Formatting for people: amounts from integer minor units (never floats), times, and the DOM helper.

const MINOR = 100n; // 1 coin = 100 units; fiat likewise in cents (LEDGER.md)

// "1,234.05" from 123405 (an integer of minor units), exactly: BigInt arithmetic, no floats.
export function units(value) {
  if (value === null || value === undefined || value === "") return "?";
  let n;
  try {
    n = BigInt(value);
  } catch {
    return String(value);
  }
  const negative = n < 0n;
  if (negative) n = -n;
  const whole = (n / MINOR).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (n % MINOR).toString().padStart(2, "0");
  return `${negative ? "−" : ""}${whole}.${cents}`;
}

export const fiat = (value) => `${units(value)} fiat`;
// Coins are pegged one to one to fiat (rules: "peg"), so their fiat worth is the same number of units.
export const coins = (value) => `${units(value)} coin${BigInt(value ?? 0) === MINOR ? "" : "s"} (${units(value)} fiat at the peg)`;
export const asset = (name, value) => (name === "coin" ? `${units(value)} coins` : `${units(value)} fiat`);

export function bps(value) {
  if (typeof value !== "number") return String(value);
  return `${units(value)} %`; // basis points: 2000 bps is 20.00 %
}

const UNITS = [["year", 31_536_000_000], ["day", 86_400_000], ["hour", 3_600_000], ["minute", 60_000], ["second", 1000]];

export function relative(ms, now = Date.now()) {
  const delta = now - ms;
  const future = delta < 0;
  const abs = Math.abs(delta);
  if (abs < 5000) return "just now";
  for (const [name, size] of UNITS) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      const text = `${n} ${name}${n === 1 ? "" : "s"}`;
      return future ? `in ${text}` : `${text} ago`;
    }
  }
  return "just now";
}

export const exact = (ms) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

// Build DOM nodes; text is always set as text (entries carry what people typed), never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A time as "3 minutes ago", its exact UTC time in the element itself (and its tooltip).
export function when(ms) {
  if (typeof ms !== "number") return h("span", { text: "?" });
  return h("time", { datetime: new Date(ms).toISOString(), title: exact(ms), class: "when" },
    relative(ms), h("span", { class: "exact" }, ` (${exact(ms)})`));
}

export function short(id, keep = 12) {
  const text = String(id);
  return text.length > keep + 3 ? `${text.slice(0, keep)}…` : text;
}
