// What the page checks before it says "verified", with WebCrypto (verify.js), and the marks that say so.
//
// Trusted without a check: the sealer keys and the sub-chains' keys as GET /keys and GET /cosigners serve
// them, and the log's origin named in those keys; unless a genesis hash is pinned (below), then block 0
// must hash to it and the key sealing block 0 must be the one block 0's own genesis entry registers.

import { getJson, getText } from "./api.js";
import { h } from "./format.js";
import { blockHash, hex, verifyBlock, verifyCheckpoint, verifyInclusion } from "./verify.js";

const PIN = `covenant-explorer:genesis:${new URL("./", window.location.href).href}`;

const once = new Map();
function memo(key, make) {
  if (!once.has(key)) {
    const promise = make();
    once.set(key, promise);
    promise.catch(() => once.delete(key)); // a failed read is tried again next time; a verdict is kept
  }
  return once.get(key);
}

// What can change between two views: the head's checkpoint, and the keys and sub-chains listed.
export function refresh() {
  for (const key of ["checkpoint", "keys", "cosigners"]) once.delete(key);
}

export const sealerKeys = () => memo("keys", async () => (await getJson("keys")).keys);
export const cosigners = () => memo("cosigners", async () => (await getJson("cosigners")).cosigners);
// A block's header and signature (its first entry comes too: the smallest page the API gives).
export const blockHead = (height) => memo(`block:${height}`, () => getJson(`blocks/${height}?limit=1`));

const asHex = (value) => (typeof value === "string" ? value.toLowerCase() : hex(value));

function b64ToHex(text) {
  const raw = atob(text);
  return Array.from(raw, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

const rootHex = (root) => (typeof root === "string" && /^[0-9a-fA-F]{64}$/.test(root) ? root.toLowerCase()
  : typeof root === "string" ? b64ToHex(root) : asHex(root));

export const pinnedGenesis = () => window.localStorage.getItem(PIN);
export function pinGenesis(hash) {
  if (hash) window.localStorage.setItem(PIN, hash.toLowerCase());
  else window.localStorage.removeItem(PIN);
  once.delete("genesis");
}

const fail = (reason) => ({ ok: false, reason });
const pass = (reason) => ({ ok: true, reason });

// The genesis block against the pinned hash, and the key that sealed it against block 0's own genesis entry.
export function checkGenesis() {
  return memo("genesis", async () => {
    const pin = pinnedGenesis();
    if (!pin) return null;
    const genesis = await getJson("blocks/0");
    const hash = asHex(await blockHash(genesis.header));
    if (hash !== pin) return fail(`block 0 hashes to ${hash}, not the pinned genesis ${pin}`);
    const verdict = await checkBlock(genesis);
    if (!verdict.ok) return fail(`block 0: ${verdict.reason}`);
    const registered = (genesis.entries || []).find((e) => e.data?.jwk?.kid === genesis.header.sealer);
    if (!registered) return fail(`block 0 was sealed by key ${genesis.header.sealer}, which its entries do not register`);
    const proof = await checkEntry(registered, genesis.header.log_size - genesis.header.count
      + genesis.entries.indexOf(registered), 0, genesis);
    if (!proof.ok) return fail(`the genesis key's entry: ${proof.reason}`);
    const served = (await sealerKeys()).find((k) => k.kid === genesis.header.sealer);
    if (!served || served.x !== registered.data.jwk.x) return fail("GET /keys serves another key under the genesis key's id");
    return pass(`block 0 hashes to the pinned genesis; its sealer key is the one its genesis entry registers`);
  });
}

async function rawCheckBlock(block) {
  const { header } = block;
  const height = header.height;
  const hash = asHex(await blockHash(header));
  if (block.hash !== undefined && asHex(block.hash) !== hash) {
    return fail(`block ${height}: the served hash ${block.hash} is not its header's hash ${hash}`);
  }
  let previous;
  if (height > 0) previous = await blockHead(height - 1);
  const keys = await sealerKeys();
  const result = await verifyBlock(block, { keys, previous });
  if (!result.ok) return fail(`block ${height}: ${result.reason}`);
  if (height > 0 && previous && asHex(await blockHash(previous.header)) !== asHex(header.prev)) {
    return fail(`block ${height}: its prev is not the hash of block ${height - 1}'s header`);
  }
  if (height === 0 && pinnedGenesis() && hash !== pinnedGenesis()) {
    return fail(`block 0 hashes to ${hash}, not the pinned genesis`);
  }
  return pass(`block ${height}: sealer signature by key ${header.sealer} verifies; ${height > 0
    ? `prev is block ${height - 1}'s hash` : "genesis"}`);
}

// A block's header: signature by a listed sealer key, and hash chain to the block before it. Kept per block
// hash, so a block served twice alike is checked once and a changed one is checked anew.
export async function checkBlock(block) {
  const key = `verdict:${block.header?.height}:${block.sig}:${JSON.stringify(block.header)}`;
  return memo(key, () => rawCheckBlock(block).catch((error) => fail(`block ${block.header?.height}: ${error.message}`)));
}

// One entry at log index `index` in block `height` (block: the API's answer for it, when at hand): its
// inclusion proof against that block's signed log root, at the block's log size.
export async function checkEntry(entry, index, height, block) {
  try {
    const holder = block ?? (await blockHead(height));
    const { header } = holder;
    const name = `entry ${entry.id} (index ${index})`;
    if (index < header.log_size - header.count || index >= header.log_size) {
      return fail(`${name}: block ${height} holds indices ${header.log_size - header.count} to ${header.log_size - 1}`);
    }
    const proof = await getJson(`proofs/inclusion?index=${index}&size=${header.log_size}`);
    if (proof.leaf_index !== index || proof.tree_size !== header.log_size) {
      return fail(`${name}: the proof served is for index ${proof.leaf_index} of size ${proof.tree_size}`);
    }
    const included = await verifyInclusion(entry, proof, header.log_root);
    if (!included.ok) return fail(`${name} is not in block ${height}'s signed log root: ${included.reason}`);
    const sealed = await checkBlock(holder);
    if (!sealed.ok) return fail(`${name}: the block holding it failed: ${sealed.reason}`);
    return pass(`${name} is included in block ${height}'s signed root of ${header.log_size} entries`);
  } catch (error) {
    return fail(`entry ${entry?.id} (index ${index}): ${error.message}`);
  }
}

// GET /entries/{id}, checked: the entry asked for, included where the answer says.
export async function checkedEntry(id) {
  const found = await getJson(`entries/${encodeURIComponent(id)}`);
  if (found.entry?.id !== id) {
    return { ...found, verdict: fail(`entry ${id}: the API answered entry ${found.entry?.id} instead`) };
  }
  return { ...found, verdict: await checkEntry(found.entry, found.index, found.height) };
}

export function originOf(keys) {
  const vkey = keys.find((k) => k.vkey)?.vkey;
  return vkey ? vkey.slice(0, vkey.indexOf("+")) : null;
}

// The checkpoint text (GET /checkpoint, or a block's), its log signature and each cosignature; and that it
// is the checkpoint of `block` (its size and root), when given.
export async function checkCheckpoint(text, block) {
  try {
    const [keys, listed] = await Promise.all([sealerKeys(), cosigners()]);
    const result = await verifyCheckpoint(text, { origin: originOf(keys), sealerKeys: keys, cosigners: listed });
    const signatures = result.signatures || [];
    if (!result.ok) return { ...result, signatures, ok: false, reason: `checkpoint: ${result.reason}` };
    if (block) {
      const { header } = block;
      if (Number(result.size) !== header.log_size || rootHex(result.root) !== asHex(header.log_root)) {
        return { ...result, signatures, ok: false, reason: `checkpoint: size ${result.size} and its root are not block ${header.height}'s` };
      }
      const sealed = await checkBlock(block);
      if (!sealed.ok) return { ...result, signatures, ok: false, reason: `checkpoint: its block failed: ${sealed.reason}` };
    }
    return { ...result, signatures, reason: `checkpoint of ${result.size} entries: ${result.reason}` };
  } catch (error) {
    return { ok: false, reason: `checkpoint: ${error.message}`, signatures: [] };
  }
}

export async function headCheckpoint() {
  return memo("checkpoint", async () => {
    const text = await getText("checkpoint");
    const size = Number(text.split("\n")[1]);
    let head = await getJson("chain/head");
    if (head.header.log_size !== size) head = null; // a newer block came between the two reads
    return { text, head, verdict: await checkCheckpoint(text, head) };
  });
}

// A mark: "checking…", then "verified" or "failed: <reason>", always with the reason.
export function mark(subject) {
  const state = h("span", { class: "mark-state", text: "checking…" });
  const reason = h("span", { class: "mark-reason" });
  const el = h("span", { class: "mark", "data-state": "pending", "data-subject": subject, role: "status" }, state, reason);
  el.settle = (verdict) => {
    const ok = verdict && verdict.ok;
    el.dataset.state = ok ? "verified" : "failed";
    state.textContent = ok ? "✓ verified" : "✗ failed";
    reason.textContent = verdict ? `: ${verdict.reason}` : ": nothing was checked";
    el.title = verdict ? verdict.reason : "";
    return verdict;
  };
  return el;
}

export function markFor(subject, promise) {
  const el = mark(subject);
  Promise.resolve(promise).then((verdict) => el.settle(verdict), (error) => el.settle(fail(`${subject}: ${error.message}`)));
  return el;
}
