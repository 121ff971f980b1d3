// STAND-IN, written on the explorer branch against the agreed interface (canonicalize, sha256, hex, leafHash,
// blockHash, verifyBlock, verifyInclusion, verifyCheckpoint) while the verifyjs branch's module was not yet
// there: on merge, take the verifyjs branch's verify.js whole, in place of this file.
const enc = new TextEncoder();

export function canonicalize(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(",")}}`;
}
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text) => new Uint8Array(text.match(/../g).map((x) => parseInt(x, 16)));
const b64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const b64url = (text) => b64(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
};
export async function leafHash(entry) {
  return sha256(cat(new Uint8Array([0]), enc.encode(canonicalize(entry))));
}
export async function blockHash(header) {
  return hex(await sha256(enc.encode(canonicalize(header))));
}
async function ed(pub, sig, msg) {
  try {
    const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
  } catch {
    return false;
  }
}
export async function verifyBlock(block, { keys, previous }) {
  const { header } = block;
  const key = keys.find((k) => k.kid === header.sealer);
  if (!key) return { ok: false, reason: `sealer key ${header.sealer} is not listed` };
  if (!(await ed(b64url(key.x), b64(block.sig), enc.encode(canonicalize(header))))) {
    return { ok: false, reason: "the sealer signature does not verify" };
  }
  if (header.height === 0) {
    return header.prev === "0".repeat(64) ? { ok: true, reason: "genesis" } : { ok: false, reason: "genesis prev is not zeros" };
  }
  if (previous !== undefined && previous !== null) {
    const prevHash = typeof previous === "string" ? previous : await blockHash(previous.header);
    if (prevHash !== header.prev) return { ok: false, reason: `prev does not match block ${header.height - 1}` };
  }
  return { ok: true, reason: "signature verifies" };
}
export async function verifyInclusion(entry, proof, root) {
  let fn = proof.leaf_index;
  let sn = proof.tree_size - 1;
  if (fn > sn) return { ok: false, reason: "index beyond size" };
  let r = await leafHash(entry);
  for (const p of proof.path.map(unhex)) {
    if (sn === 0) return { ok: false, reason: "proof too long" };
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(cat(new Uint8Array([1]), p, r));
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      r = await sha256(cat(new Uint8Array([1]), r, p));
    }
    fn >>= 1; sn >>= 1;
  }
  if (sn !== 0) return { ok: false, reason: "proof too short" };
  return hex(r) === root ? { ok: true, reason: "included" } : { ok: false, reason: "the root does not match: the entry's leaf differs" };
}
function parseVkey(vkey) {
  const i = vkey.indexOf("+");
  const j = vkey.indexOf("+", i + 1);
  const [name, id, key] = [vkey.slice(0, i), vkey.slice(i + 1, j), vkey.slice(j + 1)];
  const raw = b64(key);
  return { name, id, type: raw[0], pub: raw.slice(1) };
}
export async function verifyCheckpoint(text, { origin, sealerKeys, cosigners }) {
  const split = text.indexOf("\n\n");
  if (split < 0) return { ok: false, reason: "no signature block", signatures: [] };
  const body = text.slice(0, split + 1);
  const [o, size, root] = body.split("\n");
  const out = { origin: o, size: Number(size), root: hex(b64(root)), signatures: [] };
  if (o !== origin) return { ...out, ok: false, reason: `origin ${o} is not ${origin}` };
  const lines = text.slice(split + 2).split("\n").filter(Boolean);
  let logOk = false;
  for (const line of lines) {
    const m = line.match(/^— (\S+) (\S+)$/);
    if (!m) return { ...out, ok: false, reason: "a malformed signature line" };
    const [, name, sigb64] = m;
    const raw = b64(sigb64);
    const keyId = hex(raw.slice(0, 4));
    const sealer = sealerKeys.map((k) => k.vkey && parseVkey(k.vkey)).find((v) => v && v.name === name && v.id === keyId);
    const cos = cosigners.map((c) => ({ ...parseVkey(c.vkey), c })).find((v) => v.name === name && v.id === keyId);
    if (sealer) {
      const ok = await ed(sealer.pub, raw.slice(4), enc.encode(body));
      out.signatures.push({ name, keyId, kind: "log", ok, reason: ok ? "log signature verifies" : "log signature does not verify" });
      logOk = logOk || ok;
    } else if (cos) {
      const t = new DataView(raw.buffer, 4, 8).getBigUint64(0);
      const msg = enc.encode(`cosignature/v1\ntime ${t}\n${body}`);
      const ok = await ed(cos.pub, raw.slice(12), msg);
      out.signatures.push({ name, keyId, kind: "cosignature", ok, reason: ok ? "cosignature verifies" : "cosignature does not verify", time: Number(t) });
    } else {
      out.signatures.push({ name, keyId, kind: "unknown", ok: false, reason: "no known key" });
    }
  }
  if (!logOk) return { ...out, ok: false, reason: "the log signature does not verify" };
  const bad = out.signatures.find((s) => !s.ok);
  if (bad) return { ...out, ok: false, reason: `${bad.name}: ${bad.reason}` };
  return { ...out, ok: true, reason: "verified" };
}
