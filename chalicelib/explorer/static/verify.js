// The explorer's checks, with WebCrypto alone (SHA-256 and Ed25519): nothing the page shows is taken on trust.
//
// Written from ../shared/LEDGER.md, RFC 8785 (JSON Canonicalization Scheme), RFC 9162 section 2.1 (Merkle
// trees, inclusion and consistency proofs) and C2SP's signed-note, tlog-checkpoint and tlog-cosignature.
// Every check answers {ok, reason} and never throws, whatever it is given: a hostile server's answer is
// refused with a reason that names what is wrong, not an exception.

const encoder = new TextEncoder();
const ZEROS = "0".repeat(64);
const EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** @typedef {{ok: boolean, reason: string}} Check */

const pass = (reason) => ({ ok: true, reason });
const fail = (reason) => ({ ok: false, reason });

/** UTF-8 bytes of a string. @param {string} text @returns {Uint8Array} */
export function utf8(text) {
  return encoder.encode(text);
}

/**
 * RFC 8785 canonical JSON of a value parsed from JSON: object members sorted by their names' UTF-16 code
 * units, numbers in ECMAScript's shortest form, strings escaped as JSON.stringify does (the RFC adopts it).
 * Throws on what JSON cannot hold (NaN, Infinity, undefined, functions, lone surrogates).
 * @param {*} value @returns {string}
 */
export function canonicalize(value) {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON form`);
    return JSON.stringify(value); // ECMAScript Number::toString, -0 as 0: RFC 8785 section 3.2.2.3
  }
  if (typeof value === "string") {
    if (!value.isWellFormed()) throw new TypeError("a string holds a lone surrogate");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  if (typeof value === "object") {
    const names = Object.keys(value).sort(); // default sort: UTF-16 code units, RFC 8785 section 3.2.3
    return `{${names.map((name) => `${canonicalize(name)}:${canonicalize(value[name])}`).join(",")}}`;
  }
  throw new TypeError(`a ${typeof value} has no JSON form`);
}

/** SHA-256. @param {Uint8Array} bytes @returns {Promise<Uint8Array>} */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** Lowercase hex. @param {Uint8Array} bytes @returns {string} */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes of lowercase or uppercase hex; throws on anything else. @param {string} text @returns {Uint8Array} */
export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new TypeError("not hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard base64 with padding (RFC 4648 section 4); throws on anything else. @returns {Uint8Array} */
export function base64Decode(text) {
  if (typeof text !== "string" || !BASE64.test(text)) throw new TypeError("not base64");
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** base64url without padding (RFC 4648 section 5, as JWKs write it); throws on anything else. */
export function base64UrlDecode(text) {
  if (typeof text !== "string" || !BASE64URL.test(text) || text.length % 4 === 1) throw new TypeError("not base64url");
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return base64Decode(padded);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const isCount = (value) => Number.isSafeInteger(value) && value >= 0;

/** The leaf hash of a log entry: SHA-256(0x00 || JCS(entry)) (LEDGER.md). @returns {Promise<Uint8Array>} */
export async function leafHash(entry) {
  return sha256(concat(new Uint8Array([0]), utf8(canonicalize(entry))));
}

/** A block's hash: SHA-256(JCS(header)), as hex. @returns {Promise<string>} */
export async function blockHash(header) {
  return hex(await sha256(utf8(canonicalize(header))));
}

async function ed25519(publicKey, signature, message) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

/**
 * The raw Ed25519 key of a JWK, once its kid is checked to be the first 32 hex of SHA-256 of the key.
 * @returns {Promise<{key: Uint8Array} | {problem: string}>}
 */
export async function jwkKey(jwk) {
  if (!isObject(jwk) || jwk.kty !== "OKP" || jwk.crv !== "Ed25519") return { problem: "is not an Ed25519 OKP JWK" };
  let key;
  try {
    key = base64UrlDecode(jwk.x);
  } catch {
    return { problem: "has an x that is not base64url" };
  }
  if (key.length !== 32) return { problem: `has an x of ${key.length} bytes, not 32` };
  const kid = hex(await sha256(key)).slice(0, 32);
  if (jwk.kid !== kid) return { problem: `names kid ${jwk.kid}, but its key's id is ${kid}` };
  return { key };
}

const HEADER_COUNTS = ["v", "height", "log_size", "count", "ts"];

function headerProblem(header) {
  if (!isObject(header)) return "the header is not an object";
  for (const name of HEADER_COUNTS) {
    if (!isCount(header[name])) return `header.${name} is not a whole number`;
  }
  if (header.v !== 1) return `header.v is ${header.v}, not 1`;
  for (const name of ["prev", "log_root"]) {
    if (typeof header[name] !== "string" || !HEX64.test(header[name])) return `header.${name} is not 64 lowercase hex`;
  }
  if (typeof header.sealer !== "string") return "header.sealer is not a key id";
  if (header.count > header.log_size) return "header.count exceeds header.log_size";
  if (header.height === 0 && header.prev !== ZEROS) return "block 0's prev is not 64 zeros";
  if (header.height === 0 && header.count < 1) return "block 0 holds no entry";
  return null;
}

/**
 * A block as GET /blocks/{h} serves it: its hash is its header's, its signature is the sealer key's (a key of
 * `keys`, GET /keys's JWKs), and, given `previous` (the block before it, or that block's hash), its prev is
 * that hash. @returns {Promise<Check>}
 */
export async function verifyBlock(block, options = {}) {
  try {
    const { keys, previous } = isObject(options) ? options : {};
    if (!isObject(block)) return fail("the block is not an object");
    const { header } = block;
    const problem = headerProblem(header);
    if (problem) return fail(problem);
    const where = `block ${header.height}`;
    const hash = await blockHash(header);
    if (block.hash !== hash) return fail(`${where}: the served hash is not its header's hash ${hash}`);
    const jwk = (Array.isArray(keys) ? keys : []).find((k) => isObject(k) && k.kid === header.sealer);
    if (!jwk) return fail(`${where}: its sealer ${header.sealer} is not a listed sealer key`);
    const found = await jwkKey(jwk);
    if (found.problem) return fail(`${where}: sealer key ${header.sealer} ${found.problem}`);
    let signature;
    try {
      signature = base64Decode(block.sig);
    } catch {
      return fail(`${where}: its signature is not base64`);
    }
    if (!(await ed25519(found.key, signature, utf8(canonicalize(header))))) {
      return fail(`${where}: the sealer signature by key ${header.sealer} does not verify`);
    }
    if (previous !== undefined && previous !== null && header.height > 0) {
      const prevHash = typeof previous === "string" ? previous : await blockHash(previous.header);
      if (typeof previous !== "string" && previous.header?.height !== header.height - 1) {
        return fail(`${where}: the block given as previous is not block ${header.height - 1}`);
      }
      if (header.prev !== prevHash) return fail(`${where}: its prev is not the hash of block ${header.height - 1}`);
    }
    return pass(`${where}: hash and sealer signature by key ${header.sealer} verify${
      header.height === 0 ? "; genesis" : previous ? `; prev is block ${header.height - 1}'s hash` : ""}`);
  } catch (error) {
    return fail(`the block could not be checked: ${error.message}`);
  }
}

function hashes(path) {
  if (!Array.isArray(path)) throw new TypeError("the proof's path is not a list");
  return path.map((node, i) => {
    let bytes;
    try {
      bytes = typeof node === "string" && HEX64.test(node.toLowerCase()) ? fromHex(node) : null;
    } catch {
      bytes = null;
    }
    if (!bytes) throw new TypeError(`the proof's path[${i}] is not a 32-byte hex hash`);
    return bytes;
  });
}

const node = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

/**
 * RFC 9162 section 2.1.3.2: does `path` prove the leaf hash at `index` in the tree of `size` leaves whose
 * root is `root`? Hashes are bytes. @returns {Promise<Check>}
 */
export async function verifyInclusionHash(leaf, index, size, path, root) {
  try {
    if (!isCount(index) || !isCount(size) || size > MAX_SAFE) return fail("the proof's index or size is not a whole number");
    if (index >= size) return fail(`index ${index} is not below tree size ${size}`);
    if (!Array.isArray(path)) return fail("the proof's path is not a list");
    if (leaf.length !== 32 || root.length !== 32) return fail("a hash is not 32 bytes");
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of path) {
      if (p.length !== 32) return fail("a proof hash is not 32 bytes");
      if (sn === 0) return fail("the proof is longer than the tree is deep");
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) return fail("the proof is shorter than the tree is deep");
    return hex(r) === hex(root) ? pass(`included at index ${index} of ${size}`)
      : fail(`the path leads to root ${hex(r)}, not the signed root ${hex(root)}`);
  } catch (error) {
    return fail(`the proof could not be checked: ${error.message}`);
  }
}

/**
 * An entry's inclusion proof (GET /proofs/inclusion: {leaf_index, tree_size, path}) against a hex root (the
 * log_root of a block whose log_size is tree_size). @returns {Promise<Check>}
 */
export async function verifyInclusion(entry, proof, root) {
  const name = isObject(entry) && typeof entry.id === "string" ? `entry ${entry.id}` : "the entry";
  try {
    if (!isObject(proof)) return fail(`${name}: the proof is not an object`);
    if (typeof root !== "string" || !HEX64.test(root)) return fail(`${name}: the root is not 64 lowercase hex`);
    const checked = await verifyInclusionHash(await leafHash(entry), proof.leaf_index, proof.tree_size,
      hashes(proof.path), fromHex(root));
    return checked.ok ? pass(`${name} ${checked.reason}`) : fail(`${name}: ${checked.reason}`);
  } catch (error) {
    return fail(`${name}: ${error.message}`);
  }
}

/**
 * RFC 9162 section 2.1.4.2: does `path` prove the tree of `second` leaves (root `secondRoot`) extends the tree
 * of `first` leaves (root `firstRoot`)? Hashes are bytes. @returns {Promise<Check>}
 */
export async function verifyConsistencyHashes(first, second, path, firstRoot, secondRoot) {
  try {
    if (!isCount(first) || !isCount(second)) return fail("a size is not a whole number");
    if (first > second) return fail(`size ${first} is larger than size ${second}`);
    if (!Array.isArray(path)) return fail("the proof's path is not a list");
    if (first === second) { // RFC 9162 2.1.4.2: the same tree, whatever its roots are written as
      if (path.length !== 0 || hex(firstRoot) !== hex(secondRoot)) return fail("equal sizes need an empty proof and equal roots");
      if (first === 0 && hex(firstRoot) !== EMPTY_ROOT) return fail("the empty tree has a fixed root, SHA-256 of nothing");
      return pass("the same tree");
    }
    if (first === 0) return fail("a consistency proof from the empty tree proves nothing");
    if (firstRoot.length !== 32 || secondRoot.length !== 32) return fail("a root is not 32 bytes");
    if (path.some((p) => p.length !== 32)) return fail("a proof hash is not 32 bytes");
    let proof = path;
    if ((first & (first - 1)) === 0) proof = [firstRoot, ...path]; // first is a power of two
    if (proof.length === 0) return fail("the proof is empty");
    let fn = first - 1;
    let sn = second - 1;
    while (fn % 2 === 1) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    let fr = proof[0];
    let sr = proof[0];
    for (const c of proof.slice(1)) {
      if (sn === 0) return fail("the proof is longer than the tree is deep");
      if (fn % 2 === 1 || fn === sn) {
        fr = await node(c, fr);
        sr = await node(c, sr);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        sr = await node(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) return fail("the proof is shorter than the tree is deep");
    if (hex(fr) !== hex(firstRoot)) return fail(`the proof does not lead to the first root of size ${first}`);
    if (hex(sr) !== hex(secondRoot)) return fail(`the proof does not lead to the second root of size ${second}`);
    return pass(`size ${second} extends size ${first}`);
  } catch (error) {
    return fail(`the proof could not be checked: ${error.message}`);
  }
}

/** A consistency proof as GET /proofs/consistency serves it, between two hex roots. @returns {Promise<Check>} */
export async function verifyConsistency(proof, firstRoot, secondRoot) {
  try {
    if (!isObject(proof)) return fail("the proof is not an object");
    if (![firstRoot, secondRoot].every((r) => typeof r === "string" && HEX64.test(r))) {
      return fail("a root is not 64 lowercase hex");
    }
    return await verifyConsistencyHashes(proof.first, proof.second, hashes(proof.path), fromHex(firstRoot),
      fromHex(secondRoot));
  } catch (error) {
    return fail(error.message);
  }
}

// --- signed notes (C2SP signed-note), checkpoints (C2SP tlog-checkpoint), cosignatures (C2SP tlog-cosignature)

const ED25519 = 0x01;
const COSIGNATURE_V1 = 0x04;
const KEY_NAME = /^[\x21-\x2a\x2c-\x7e]+$/; // printable ASCII without space and "+": signed-note key names

/** A note key's 4-byte id: SHA-256(name || 0x0A || type || public key)[:4], as hex. */
export async function noteKeyId(name, type, publicKey) {
  return hex((await sha256(concat(utf8(name), new Uint8Array([0x0a, type]), publicKey))).slice(0, 4));
}

/**
 * A vkey ("<name>+<hex key id>+<base64 of type byte || public key>"), checked: its id is its key's.
 * @returns {Promise<{name: string, keyId: string, type: number, key: Uint8Array} | {problem: string}>}
 */
export async function parseVkey(vkey) {
  if (typeof vkey !== "string") return { problem: "the vkey is not text" };
  const match = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey); // the base64 part may hold "+" itself
  const parts = match ? match.slice(1) : [];
  if (!match || !KEY_NAME.test(parts[0])) {
    return { problem: `the vkey ${vkey.slice(0, 80)} is malformed` };
  }
  let raw;
  try {
    raw = base64Decode(parts[2]);
  } catch {
    return { problem: `the vkey of ${parts[0]} is not base64` };
  }
  if (raw.length !== 33) return { problem: `the vkey of ${parts[0]} holds ${raw.length} bytes, not 33` };
  const [type, key] = [raw[0], raw.slice(1)];
  if (await noteKeyId(parts[0], type, key) !== parts[1]) return { problem: `the vkey of ${parts[0]} names a wrong key id` };
  return { name: parts[0], keyId: parts[1], type, key };
}

/**
 * Splits a signed note into its text (ending in a newline) and its signature lines, or says what is wrong.
 * @returns {{body: string, lines: {name: string, bytes: Uint8Array, line: string}[]} | {problem: string}}
 */
export function parseNote(text) {
  if (typeof text !== "string") return { problem: "the note is not text" };
  const split = text.lastIndexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) return { problem: "the note has no signature block" };
  const body = text.slice(0, split + 1);
  const lines = [];
  for (const line of text.slice(split + 2, -1).split("\n")) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match) return { problem: `a signature line is malformed: ${JSON.stringify(line.slice(0, 80))}` };
    let bytes;
    try {
      bytes = base64Decode(match[2]);
    } catch {
      return { problem: `the signature of ${match[1]} is not base64` };
    }
    if (bytes.length < 4) return { problem: `the signature of ${match[1]} is too short` };
    lines.push({ name: match[1], bytes, line });
  }
  if (lines.length === 0) return { problem: "the note carries no signature" };
  return { body, lines };
}

/** The checkpoint a note's text holds: origin, size and root (hex), or what is wrong. */
export function parseCheckpoint(body) {
  const lines = body.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") return { problem: "the checkpoint has fewer than three lines" };
  const [origin, size, root] = lines;
  if (!origin) return { problem: "the checkpoint's origin is empty" };
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || Number(size) > MAX_SAFE) {
    return { problem: `the checkpoint's size ${JSON.stringify(size.slice(0, 40))} is not a whole number` };
  }
  let rootBytes;
  try {
    rootBytes = base64Decode(root);
  } catch {
    return { problem: "the checkpoint's root hash is not base64" };
  }
  if (rootBytes.length !== 32) return { problem: "the checkpoint's root hash is not 32 bytes" };
  return { origin, size: Number(size), root: hex(rootBytes) };
}

async function sealerVkeys(origin, sealerKeys) {
  const out = [];
  for (const jwk of Array.isArray(sealerKeys) ? sealerKeys : []) {
    const found = await jwkKey(jwk);
    if (found.key) out.push({ name: origin, keyId: await noteKeyId(origin, ED25519, found.key), key: found.key, kid: jwk.kid });
  }
  return out;
}

async function cosignerVkeys(cosigners) {
  const out = [];
  for (const cosigner of Array.isArray(cosigners) ? cosigners : []) {
    const parsed = await parseVkey(isObject(cosigner) ? cosigner.vkey : null);
    if (parsed.key && parsed.type === COSIGNATURE_V1) {
      out.push({ ...parsed, id: cosigner.id, registered: cosigner.registered, retired: cosigner.retired });
    }
  }
  return out;
}

/**
 * A checkpoint (GET /checkpoint) and its signatures: the log's, by a sealer key of `sealerKeys` (GET /keys)
 * under the name `origin`, and each cosignature/v1 line by a cosigner of `cosigners` (GET /cosigners). `ok`
 * when the log's signature and every cosignature of a listed cosigner verify; lines of keys nobody listed
 * are reported (kind "unknown") and ignored. `cosigned` counts the distinct cosigners whose cosignature
 * verifies and counts (registered, and not retired, within the tree); as in signed-note, only a key's first
 * line is checked, and later lines of the same key (and repeats of an unknown line) are dropped and counted in
 * `repeated`. @returns {Promise<{ok: boolean, reason: string, origin?: string, size?: number, root?: string,
 * cosigned: number, repeated: number, signatures: {name: string, keyId: string, kind: string, ok: boolean,
 * reason: string, time?: number, kid?: string, id?: string, counts?: boolean}[]}>}
 */
export async function verifyCheckpoint(text, options = {}) {
  const result = { ok: false, reason: "", cosigned: 0, repeated: 0, signatures: [] };
  try {
    const { origin, sealerKeys, cosigners } = isObject(options) ? options : {};
    const note = parseNote(text);
    if (note.problem) return { ...result, reason: note.problem };
    const checkpoint = parseCheckpoint(note.body);
    if (checkpoint.problem) return { ...result, reason: checkpoint.problem };
    Object.assign(result, checkpoint);
    if (origin !== undefined && checkpoint.origin !== origin) {
      return { ...result, reason: `the checkpoint's origin ${checkpoint.origin} is not ${origin}` };
    }
    const logKeys = await sealerVkeys(checkpoint.origin, sealerKeys);
    const cosignerKeys = await cosignerVkeys(cosigners);
    const message = utf8(note.body);
    let logSigned = false;
    const seen = new Set();
    for (const { name, bytes, line } of note.lines) {
      const keyId = hex(bytes.slice(0, 4));
      const sealer = logKeys.find((k) => k.name === name && k.keyId === keyId);
      const cosigner = cosignerKeys.find((k) => k.name === name && k.keyId === keyId);
      // signed-note: only a key's first line counts (a repeat cannot count one cosigner twice); repeated
      // identical lines of unknown keys are reported once
      const seenAs = sealer || cosigner ? `key ${name} ${keyId}` : `line ${line}`;
      if (seen.has(seenAs)) {
        result.repeated += 1;
        continue;
      }
      seen.add(seenAs);
      if (sealer) {
        const ok = bytes.length === 68 && await ed25519(sealer.key, bytes.slice(4), message);
        logSigned ||= ok;
        result.signatures.push({ name, keyId, kind: "sealer", ok, kid: sealer.kid,
          reason: ok ? `the log's signature by sealer key ${sealer.kid} verifies`
            : `the log's signature by sealer key ${sealer.kid} does not verify` });
      } else if (cosigner) {
        let ok = false;
        let time;
        if (bytes.length === 76) {
          const seconds = new DataView(bytes.buffer, bytes.byteOffset + 4, 8).getBigUint64(0);
          time = seconds <= BigInt(MAX_SAFE) ? Number(seconds) : undefined;
          const signed = concat(utf8(`cosignature/v1\ntime ${seconds}\n`), message);
          ok = await ed25519(cosigner.key, bytes.slice(12), signed);
        }
        // LEDGER.md: a cosignature counts only if its sub-chain was registered, and not retired, within the tree.
        const within = isCount(cosigner.registered) && cosigner.registered < checkpoint.size
          && !(isCount(cosigner.retired) && cosigner.retired < checkpoint.size);
        if (ok && within) result.cosigned += 1;
        result.signatures.push({ name, keyId, kind: "cosigner", ok, counts: ok && within, time, id: cosigner.id,
          reason: !ok ? `sub-chain ${cosigner.id}'s cosignature does not verify`
            : within ? `sub-chain ${cosigner.id}'s cosignature verifies`
              : `sub-chain ${cosigner.id}'s cosignature verifies but does not count: it was not registered and active within this tree` });
      } else {
        result.signatures.push({ name, keyId, kind: "unknown", ok: false, reason: "no listed key signs under this name and id" });
      }
    }
    if (!logSigned) {
      const tried = result.signatures.find((s) => s.kind === "sealer");
      return { ...result, reason: tried ? tried.reason : `no valid signature by a listed sealer key under ${checkpoint.origin}` };
    }
    const bad = result.signatures.find((s) => s.kind !== "unknown" && !s.ok);
    if (bad) return { ...result, reason: `${bad.name}: ${bad.reason}` };
    const ignored = result.repeated ? `; ${result.repeated} repeated signature line${result.repeated === 1 ? "" : "s"} ignored` : "";
    return { ...result, ok: true,
      reason: `the log's signature verifies; ${result.cosigned} sub-chain cosignature${result.cosigned === 1 ? "" : "s"} verify${ignored}` };
  } catch (error) {
    return { ...result, ok: false, reason: `the checkpoint could not be checked: ${error.message}` };
  }
}
