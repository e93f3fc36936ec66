// Shared by the tests: the built package (node and web flavours), an in-memory store, and small
// HTTP helpers. The package is the one scripts/build-js.sh writes to build/js.
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const pkgDir = path.join(root, "build/js");

/** The Node flavour (CommonJS, loads its .wasm synchronously). */
export const oidc = await import(path.join(pkgDir, "node/oidc_edge.js"));

/** The web flavour (an ES module), initialised from the .wasm bytes. */
export async function loadWeb() {
  const web = await import(path.join(pkgDir, "web/oidc_edge.js"));
  await web.default({ module_or_path: readFileSync(path.join(pkgDir, "web/oidc_edge_bg.wasm")) });
  return web;
}

export const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

/** Run `f` and return what it threw (failing when it did not throw). */
export function thrown(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an exception");
}

/** Await `promise` and return the error it rejected with (failing when it resolved). */
export async function rejection(promise) {
  assert.ok(promise instanceof Promise, "a promise, not a value or a synchronous throw");
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/**
 * Spy on `crypto.subtle[method]` (WebCrypto, which the package calls through the global
 * `crypto`) while `f` runs: each call's first argument (the algorithm) is recorded, and the
 * call goes through unless `refuse` is set, when it rejects as a runtime that cannot do it
 * would. Resolves to the recorded algorithms.
 */
export async function spySubtle(method, f, { refuse = false } = {}) {
  const subtle = globalThis.crypto.subtle;
  const calls = [];
  const original = subtle[method];
  subtle[method] = function (...args) {
    calls.push(args[0]);
    return refuse ? Promise.reject(new DOMException(`${method} refused by the test`, "NotSupportedError")) : original.apply(this, args);
  };
  try {
    await f();
  } finally {
    delete subtle[method];
  }
  assert.equal(subtle[method], original);
  return calls;
}

/** The JSON of a compact token's first segment (the protected header). */
export const header = (token) => JSON.parse(Buffer.from(token.split(".")[0], "base64url"));
/** The JSON of a JWS's payload. */
export const payload = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url"));

/**
 * The provider's store over a Map, as the declarations describe it: bytes in, bytes out, keys
 * listed in order with a cursor, expiry honoured on read.
 */
export class MapStore {
  constructor() {
    this.map = new Map(); // key -> { value: Uint8Array, expires: ms | undefined }
    this.starts = []; // the `start` hints list was given, in order
  }

  async get(key) {
    const e = this.map.get(key);
    if (!e) return null;
    if (e.expires !== undefined && e.expires <= Date.now()) {
      this.map.delete(key);
      return null;
    }
    return e.value;
  }

  async put(key, value, ttlSecs) {
    if (!(value instanceof Uint8Array)) throw new TypeError("value must be bytes");
    const expires = ttlSecs === undefined ? undefined : Date.now() + ttlSecs * 1000;
    this.map.set(key, { value, expires });
  }

  async delete(key) {
    this.map.delete(key);
  }

  async list(prefix, cursor, limit, start) {
    if (start !== undefined) this.starts.push(start);
    const keys = [...this.map.keys()]
      .filter((k) => k.startsWith(prefix) && (cursor === undefined || k > cursor) && (start === undefined || k >= start))
      .sort();
    const page = keys.slice(0, limit);
    return { keys: page, cursor: page.length < keys.length ? page[page.length - 1] : null };
  }

  /** Compare-and-swap: nothing awaits between the comparison and the write. */
  async swap(key, expected, value, ttlSecs) {
    this.swaps = (this.swaps ?? 0) + 1;
    const e = this.map.get(key);
    const current = e && (e.expires === undefined || e.expires > Date.now()) ? e.value : null;
    const same =
      current === null || expected === null ? current === expected : Buffer.compare(Buffer.from(current), Buffer.from(expected)) === 0;
    if (!same) return false;
    if (value === null) this.map.delete(key);
    else this.map.set(key, { value, expires: ttlSecs === undefined ? undefined : Date.now() + ttlSecs * 1000 });
    return true;
  }

  /** Keys under `prefix`, for assertions. */
  keys(prefix) {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** The JSON document at `key`. */
  json(key) {
    return JSON.parse(Buffer.from(this.map.get(key).value).toString("utf8"));
  }
}

/** Listen on 127.0.0.1 on a free port; resolves to the server and its base URL. */
export async function listen(handler) {
  const server = http.createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** The whole body of an incoming request. */
export async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Serve `provider` over node:http: Node's request to a Fetch Request, its Response back. */
export function serve(provider) {
  return listen(async (req, res) => {
    try {
      const body = await readBody(req);
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
      }
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers,
        body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
      });
      const response = await provider.handle(request);
      const out = {};
      response.headers.forEach((value, name) => {
        if (name !== "set-cookie") out[name] = value;
      });
      const cookies = response.headers.getSetCookie();
      if (cookies.length) out["set-cookie"] = cookies;
      res.writeHead(response.status, out);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(e?.stack ?? e));
    }
  });
}

/** Resolves after `ms` milliseconds. */
export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `predicate` every 20 ms until it returns something truthy; fail after `ms`. */
export async function until(what, predicate, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}
