// The whole provider in Node: a Provider over a Map, served by node:http, with relying parties
// on 127.0.0.1. Each story: the admin API sets up a realm, a user and clients; the user logs in;
// the code flow with PKCE gives each RP an ID token; a logout ends the session; and each RP
// receives a logout token that `jose` verifies against the provider's JWKS.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";

import * as jose from "jose";

import { httpClient } from "../../tests/js/http-client.mjs";
import { LOGOUT_EVENT, MapStore, delay, header, listen, oidc, readBody, serve, thrown, until } from "./helpers.mjs";

const REALM = "bc";
const USER = "alice";
const PASSWORD = "correct horse battery staple";
const ADMIN_TOKEN = randomBytes(24).toString("base64url");
const BCL = "AM-BACK-CHANNEL-LOGOUT";
const b64url = (buf) => Buffer.from(buf).toString("base64url");

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A relying party: records every POST and answers with the next of `statuses` (then 200). */
async function startRp(statuses = []) {
  const received = [];
  const waiting = [];
  const { server, url } = await listen(async (req, res) => {
    const body = (await readBody(req)).toString("utf8");
    const got = { path: req.url, method: req.method, headers: req.headers, body };
    got.token = new URLSearchParams(body).get("logout_token");
    received.push(got);
    res.statusCode = statuses.length ? statuses.shift() : 200;
    res.end();
    for (const w of waiting.splice(0)) w();
  });
  cleanups.push(() => new Promise((r) => server.close(r)));
  return {
    uri: `${url}/backchannel_logout`,
    received,
    /** Resolves once `n` POSTs have arrived. */
    async receivedAtLeast(n) {
      await until(`${n} POSTs`, () => received.length >= n);
      return received;
    },
  };
}

/** A provider over a MapStore, served on 127.0.0.1, with a client for its HTTP surface. */
async function startOp(options = {}) {
  const store = new MapStore();
  const masterKey = randomBytes(32);
  const logs = [];
  let baseUrl = "http://127.0.0.1:1"; // replaced once the port is known
  let provider;
  const { server, url } = await serve({ handle: (req, ctx) => provider.handle(req, ctx) });
  cleanups.push(() => new Promise((r) => server.close(r)));
  baseUrl = url;
  provider = new oidc.Provider({
    baseUrl,
    adminToken: ADMIN_TOKEN,
    masterKey,
    store,
    log: (line) => logs.push(line),
    delivery: { timeoutMs: 2000, retryMax: 2, retryBaseMs: 50, ...options.delivery },
    ...(options.deliver ? { deliver: options.deliver } : {}),
  });
  const issuer = provider.issuer(REALM);

  const call = httpClient(fetch, baseUrl, ADMIN_TOKEN);

  const op = {
    provider,
    store,
    masterKey,
    logs,
    baseUrl,
    issuer,
    call,
    async createRealm(config = {}) {
      const r = await call("PUT", `/admin/realms/${REALM}`, { admin: true, json: { allow_private_uris: true, ...config } });
      assert.equal(r.status, 201, r.text);
      const u = await call("PUT", `/admin/realms/${REALM}/users/${USER}`, {
        admin: true,
        json: { password: PASSWORD, email: "alice@example.com" },
      });
      assert.equal(u.status, 201, u.text);
    },
    async jwks() {
      const r = await call("GET", `/realms/${REALM}/jwks`);
      assert.equal(r.status, 200, r.text);
      return r.json;
    },
    /** Register a client through the admin API; returns its id, secret and redirect URI. */
    async client(id, metadata) {
      const redirect = `https://${id}.example/cb`;
      const r = await call("PUT", `/admin/realms/${REALM}/clients/${id}`, {
        admin: true,
        // The operator's own clients (admin API, first_party): no consent page in the way.
        json: { redirect_uris: [redirect], first_party: true, ...metadata },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(typeof r.json.client_secret, "string");
      return { id, secret: r.json.client_secret, redirect };
    },
    /** Log the user in through the JSON endpoint: the session token (the cookie's value). */
    async login() {
      const r = await call("POST", `/realms/${REALM}/authenticate`, { json: { username: USER, password: PASSWORD } });
      assert.equal(r.status, 200, r.text);
      const cookie = r.headers.getSetCookie().find((c) => c.startsWith("oidc_edge_session="));
      assert.ok(cookie?.includes("HttpOnly"), String(cookie));
      assert.equal(cookie.split(";")[0], `oidc_edge_session=${r.json.tokenId}`);
      return r.json.tokenId;
    },
    /** The code flow with PKCE for `client` on `session`: the ID token's verified claims. */
    async signIn(client, session, alg) {
      const verifier = b64url(randomBytes(32));
      const challenge = b64url(createHash("sha256").update(verifier).digest());
      const state = b64url(randomBytes(12));
      const nonce = b64url(randomBytes(12));
      const query = new URLSearchParams({
        response_type: "code",
        client_id: client.id,
        redirect_uri: client.redirect,
        scope: "openid",
        state,
        nonce,
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      const a = await call("GET", `/realms/${REALM}/authorize?${query}`, {
        headers: { cookie: `oidc_edge_session=${session}` },
      });
      assert.equal(a.status, 302, a.text);
      const location = new URL(a.headers.get("location"));
      assert.equal(`${location.origin}${location.pathname}`, client.redirect);
      assert.equal(location.searchParams.get("state"), state);
      assert.equal(location.searchParams.get("iss"), issuer);
      const t = await call("POST", `/realms/${REALM}/token`, {
        basic: [client.id, client.secret],
        form: {
          grant_type: "authorization_code",
          code: location.searchParams.get("code"),
          redirect_uri: client.redirect,
          code_verifier: verifier,
        },
      });
      assert.equal(t.status, 200, t.text);
      assert.equal(t.json.token_type, "Bearer");
      const { payload, protectedHeader } = await jose.jwtVerify(t.json.id_token, jose.createLocalJWKSet(await op.jwks()), {
        issuer,
        audience: client.id,
        algorithms: [alg],
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(payload.nonce, nonce);
      return payload;
    },
    async logout(session) {
      const r = await call("POST", `/realms/${REALM}/sessions/logout`, {
        headers: { cookie: `oidc_edge_session=${session}` },
      });
      assert.equal(r.status, 200, r.text);
      return r.json;
    },
    async audit() {
      const r = await call("GET", `/admin/realms/${REALM}/audit?event=${BCL}`, { admin: true });
      assert.equal(r.status, 200, r.text);
      return r.json.result;
    },
    async deliveries(state) {
      const r = await call("GET", `/admin/realms/${REALM}/deliveries?state=${state}`, { admin: true });
      assert.equal(r.status, 200, r.text);
      return r.json.result;
    },
  };
  return op;
}

/** Verify a received logout token as an RP must, with jose and the provider's JWKS. */
async function joseVerifyLogout(op, token, clientId, alg) {
  const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(await op.jwks()), {
    issuer: op.issuer,
    audience: clientId,
    typ: "logout+jwt",
    algorithms: [alg],
    requiredClaims: ["iat", "exp", "jti", "events"],
  });
  assert.equal(protectedHeader.alg, alg);
  assert.deepEqual(payload.events, { [LOGOUT_EVENT]: {} });
  assert.equal(payload.nonce, undefined);
  assert.ok(payload.exp - payload.iat <= 120);
  return payload;
}

describe("Provider over node:http", () => {
  test("the story: realm, user, client; login, code flow with PKCE; logout; the RP verifies its logout token", async () => {
    const op = await startOp();
    const rp = await startRp();
    await op.createRealm();
    const discovery = await op.call("GET", `/realms/${REALM}/.well-known/openid-configuration`);
    assert.equal(discovery.json.issuer, op.issuer);
    assert.equal(discovery.json.backchannel_logout_supported, true);

    const client = await op.client("rp-one", {
      backchannel_logout_uri: rp.uri,
      backchannel_logout_session_required: true,
      id_token_signed_response_alg: "ES256",
    });
    const session = await op.login();
    const idToken = await op.signIn(client, session, "ES256");
    assert.equal(typeof idToken.sid, "string");

    const out = await op.logout(session);
    assert.equal(out.backchannel_logout_deliveries, 1);
    const [got] = await rp.receivedAtLeast(1);
    assert.equal(got.method, "POST");
    assert.equal(got.path, "/backchannel_logout");
    assert.equal(got.headers["content-type"], "application/x-www-form-urlencoded");
    assert.match(got.headers["user-agent"], /^oidc-edge\//);
    const claims = await joseVerifyLogout(op, got.token, client.id, "ES256");
    assert.equal(claims.sub, idToken.sub);
    assert.equal(claims.sid, idToken.sid);
    assert.equal(claims.cause, "CLIENT_LOGOUT");
    // The package's own verifier agrees.
    const again = oidc.verifyLogoutToken(got.token, {
      jwks: await op.jwks(),
      issuer: op.issuer,
      audience: client.id,
      algorithms: ["ES256"],
    });
    assert.equal(again.jti, claims.jti);

    await op.provider.idle();
    assert.deepEqual(op.store.keys("outbox/"), []);
    const events = await op.audit();
    assert.equal(events.length, 1);
    assert.equal(events[0].operation, `Sent logout request to ${rp.uri}, which responded with HTTP code 200.`);
    // `?since=` reaches the store as where the listing may start (audit keys sort by time).
    const since = await op.call("GET", `/admin/realms/${REALM}/audit?since=${encodeURIComponent(events[0].timestamp)}`, { admin: true });
    assert.equal(since.status, 200, since.text);
    assert.ok(since.json.result.some((e) => e._id === events[0]._id));
    const ms = String(Date.parse(events[0].timestamp)).padStart(15, "0");
    assert.ok(op.store.starts.includes(`audit/${REALM}/${ms}`), op.store.starts.join(", "));
    assert.ok(op.logs.some((l) => l.includes(BCL)), "audit events are logged as JSON lines");
    // The session is over.
    const gone = await op.call("POST", `/realms/${REALM}/sessions/logout`, { headers: { cookie: `oidc_edge_session=${session}` } });
    assert.equal(gone.status, 401);
    assert.equal(rp.received.length, 1);
  });

  test("two RPs of one session: RS256 with a retry after 503, and an encrypted token (ECDH-ES+A128KW)", async () => {
    const op = await startOp();
    const flaky = await startRp([503]);
    const secret = await startRp();
    await op.createRealm();
    const rpKey = await oidc.generateKey("ECDH-ES+A128KW");
    const a = await op.client("rp-flaky", { backchannel_logout_uri: flaky.uri, id_token_signed_response_alg: "RS256" });
    const b = await op.client("rp-secret", {
      backchannel_logout_uri: secret.uri,
      id_token_signed_response_alg: "PS256",
      id_token_encrypted_response_alg: "ECDH-ES+A128KW",
      id_token_encrypted_response_enc: "A256GCM",
      jwks: oidc.publicJwks(rpKey),
    });
    const session = await op.login();
    const idA = await op.signIn(a, session, "RS256");
    // B's ID token is encrypted too: open it, then verify it as signed.
    const verifier = b64url(randomBytes(32));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: b.id,
      redirect_uri: b.redirect,
      scope: "openid",
      nonce: "n",
      code_challenge: b64url(createHash("sha256").update(verifier).digest()),
      code_challenge_method: "S256",
    });
    const auth = await op.call("GET", `/realms/${REALM}/authorize?${query}`, { headers: { cookie: `oidc_edge_session=${session}` } });
    const code = new URL(auth.headers.get("location")).searchParams.get("code");
    const tok = await op.call("POST", `/realms/${REALM}/token`, {
      basic: [b.id, b.secret],
      form: { grant_type: "authorization_code", code, redirect_uri: b.redirect, code_verifier: verifier },
    });
    assert.equal(tok.status, 200, tok.text);
    const { plaintext } = await jose.compactDecrypt(tok.json.id_token, await jose.importJWK(rpKey, "ECDH-ES+A128KW"));
    const idB = (await jose.jwtVerify(new TextDecoder().decode(plaintext), jose.createLocalJWKSet(await op.jwks()))).payload;

    assert.equal((await op.logout(session)).backchannel_logout_deliveries, 2);

    const [first, second] = await flaky.receivedAtLeast(2);
    assert.notEqual(first.token, second.token, "minted afresh for the retry");
    const claimsA = await joseVerifyLogout(op, second.token, a.id, "RS256");
    assert.equal(claimsA.sub, idA.sub);
    assert.equal(claimsA.sid, undefined, "rp-flaky did not ask for sid");
    assert.equal(claimsA.auditTrackingId, (await joseVerifyLogout(op, first.token, a.id, "RS256")).auditTrackingId);

    const [got] = await secret.receivedAtLeast(1);
    const h = header(got.token);
    assert.deepEqual([h.alg, h.enc, h.cty, h.iss, h.aud], ["ECDH-ES+A128KW", "A256GCM", "JWT", op.issuer, b.id]);
    const inner = await jose.compactDecrypt(got.token, await jose.importJWK(rpKey, "ECDH-ES+A128KW"));
    const claimsB = await joseVerifyLogout(op, new TextDecoder().decode(inner.plaintext), b.id, "PS256");
    assert.equal(claimsB.sub, idB.sub);
    const mine = oidc.verifyLogoutToken(got.token, { jwks: await op.jwks(), issuer: op.issuer, audience: b.id, decryptWith: rpKey });
    assert.equal(mine.jti, claimsB.jti);

    await op.provider.idle();
    const ops = (await op.audit()).map((e) => e.operation).sort();
    assert.deepEqual(ops, [
      `Sent logout request to ${flaky.uri}, which responded with HTTP code 200.`,
      `Sent logout request to ${flaky.uri}, which responded with HTTP code 503.`,
      `Sent logout request to ${secret.uri}, which responded with HTTP code 200.`,
    ].sort());
    assert.deepEqual(op.store.keys("outbox/"), []);
    // RS256 and PS256 signatures, PBKDF2 and the realm's RSA key came from WebCrypto: the
    // provider logs a line whenever it has to fall back to core's own code.
    assert.deepEqual(op.logs.filter((l) => l.includes("WebCrypto")), []);
  });

  test("the host's deliverer: what it is asked, a timeout dead-lettered, and the SSRF guard's final refusal", async () => {
    const asked = [];
    let answer = () => 204;
    const op = await startOp({
      delivery: { retryMax: 0, timeoutMs: 100 },
      deliver: {
        post(request) {
          asked.push(request);
          return answer(request);
        },
      },
    });
    await op.createRealm();
    const client = await op.client("rp-host", { backchannel_logout_uri: "http://127.0.0.1:9/bc", id_token_signed_response_alg: "ES256" });

    // 1. Asked with a fetch-shaped request; its status counts.
    let session = await op.login();
    await op.signIn(client, session, "ES256");
    await op.logout(session);
    await op.provider.idle();
    assert.equal(asked.length, 1);
    const r = asked[0];
    assert.deepEqual(
      [r.method, r.uri, r.redirect, r.timeoutMs, r.allowPrivate, r.headers["content-type"]],
      ["POST", "http://127.0.0.1:9/bc", "manual", 100, true, "application/x-www-form-urlencoded"],
    );
    assert.ok(r.signal instanceof AbortSignal && !r.signal.aborted);
    const token = new URLSearchParams(r.body).get("logout_token");
    await joseVerifyLogout(op, token, client.id, "ES256");

    // 2. A deliverer that never answers: a timeout, its signal aborted; no retries left → dead.
    answer = () => new Promise(() => {});
    session = await op.login();
    await op.signIn(client, session, "ES256");
    await op.logout(session);
    await op.provider.idle();
    assert.equal(asked.length, 2);
    assert.ok(asked[1].signal.aborted);
    let events = await op.audit();
    assert.equal(events.at(-1).operation, "Sent logout request to http://127.0.0.1:9/bc, which did not respond within 100 ms (timeout).");
    assert.equal((await op.deliveries("dead")).length, 1);

    // 3. The realm stops allowing private URIs after the client registered one: refused before
    //    the deliverer is asked, once and for all (no retry, no dead letter).
    const put = await op.call("PUT", `/admin/realms/${REALM}`, { admin: true, json: { allow_private_uris: false } });
    assert.equal(put.status, 200, put.text);
    answer = () => 200;
    session = await op.login();
    await op.signIn(client, session, "ES256");
    await op.logout(session);
    await op.provider.idle();
    assert.equal(asked.length, 2, "the deliverer was not asked");
    events = await op.audit();
    assert.equal(
      events.at(-1).operation,
      "Failed to send logout request to http://127.0.0.1:9/bc: refused by the SSRF guard: 127.0.0.1 is a loopback or private address.",
    );
    assert.equal((await op.deliveries("dead")).length, 1);
    assert.deepEqual(op.store.keys("outbox/"), []);

    // 4. A deliverer that fails: its error, in a few words.
    await op.call("PUT", `/admin/realms/${REALM}`, { admin: true, json: { allow_private_uris: true } });
    answer = () => Promise.reject(new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }) }));
    session = await op.login();
    await op.signIn(client, session, "ES256");
    await op.logout(session);
    await op.provider.idle();
    events = await op.audit();
    assert.equal(
      events.at(-1).operation,
      "Failed to send logout request to http://127.0.0.1:9/bc: no answer: fetch failed: connect ECONNREFUSED 127.0.0.1:9.",
    );
  });

  test("delivery.auto false: nothing is sent until runDeliveries(); a restarted provider resumes the outbox", async () => {
    const op = await startOp({ delivery: { auto: false } });
    const rp = await startRp();
    await op.createRealm();
    const client = await op.client("rp-cron", { backchannel_logout_uri: rp.uri, id_token_signed_response_alg: "ES256" });
    let session = await op.login();
    await op.signIn(client, session, "ES256");
    await op.logout(session);
    await delay(100);
    assert.equal(rp.received.length, 0);
    assert.equal(op.store.keys("outbox/").length, 1, "durable in the store before the answer");

    assert.deepEqual(await op.provider.runDeliveries(), { attempted: 1, failed: 0, nextDueMs: null });
    assert.equal(rp.received.length, 1);
    await joseVerifyLogout(op, rp.received[0].token, client.id, "ES256");
    assert.deepEqual(await op.provider.runDeliveries(), { attempted: 0, failed: 0, nextDueMs: null });

    // Left in the outbox when the process "stops"; a new provider over the same store and
    // master key (auto delivery on) sends it once it serves anything.
    session = await op.login();
    await op.signIn(client, session, "ES256");
    await op.logout(session);
    assert.equal(op.store.keys("outbox/").length, 1);
    const restarted = new oidc.Provider({
      baseUrl: op.baseUrl,
      adminToken: ADMIN_TOKEN,
      masterKey: op.masterKey,
      store: op.store,
      log: null,
    });
    const r = await restarted.handle(new Request(`${op.issuer}/jwks`));
    assert.equal(r.status, 200);
    await restarted.idle();
    assert.equal(rp.received.length, 2);
    await joseVerifyLogout(op, rp.received[1].token, client.id, "ES256");
    assert.deepEqual(op.store.keys("outbox/"), []);
  });

  test("the store's swap: one code redeemed by ten requests at once succeeds once", async () => {
    const op = await startOp();
    await op.createRealm();
    const c = await op.client("racer", {});
    const session = await op.login();
    const query = new URLSearchParams({ response_type: "code", client_id: c.id, redirect_uri: c.redirect, scope: "openid", nonce: "n" });
    const auth = await op.call("GET", `/realms/${REALM}/authorize?${query}`, { headers: { cookie: `oidc_edge_session=${session}` } });
    assert.equal(auth.status, 302, auth.text);
    const code = new URL(auth.headers.get("location")).searchParams.get("code");
    const swapsBefore = op.store.swaps ?? 0;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        op.call("POST", `/realms/${REALM}/token`, {
          basic: [c.id, c.secret],
          form: { grant_type: "authorization_code", code, redirect_uri: c.redirect },
        }),
      ),
    );
    assert.deepEqual(
      answers.map((r) => r.status).sort(),
      [200, 400, 400, 400, 400, 400, 400, 400, 400, 400],
      answers.map((r) => r.text).join("\n"),
    );
    assert.ok(op.store.swaps > swapsBefore, "the provider used the store's own swap");
  });

  test("seedDemo, sweep, and errors of the embedding's own making", async () => {
    const op = await startOp();
    assert.equal(await op.provider.seedDemo(), true);
    assert.equal(await op.provider.seedDemo(), false);
    const d = await op.call("GET", "/realms/demo/.well-known/openid-configuration");
    assert.equal(d.json.issuer, `${op.baseUrl}/realms/demo`);
    const login = await op.call("POST", "/realms/demo/authenticate", { json: { username: "demo", password: "changeit" } });
    assert.equal(login.status, 200);
    assert.equal(await op.provider.sweep(), 0);
    assert.equal((await op.call("GET", "/admin/realms/demo")).status, 401, "admin API needs the token");
    assert.equal((await op.call("GET", "/nowhere")).status, 404);

    const store = new MapStore();
    const base = { baseUrl: "https://id.example", masterKey: randomBytes(32), store };
    const code = (o) => thrown(() => new oidc.Provider(o)).code;
    assert.equal(code({ ...base, baseUrl: "ftp://id.example" }), "invalid_config");
    assert.equal(code({ ...base, masterKey: randomBytes(16) }), "invalid_config");
    assert.equal(code({ ...base, masterKey: "not base64!" }), "invalid_config");
    assert.equal(code({ ...base, adminToken: "short" }), "invalid_config");
    assert.equal(code({ ...base, store: { get() {} } }), "invalid_config");
    assert.equal(code({ ...base, deliver: {} }), "invalid_config");
    assert.equal(code({ ...base, delivery: { timeoutMs: 0 } }), "invalid_config");
    assert.equal(code({ ...base, delivery: { retries: 3 } }), "invalid_config");
    assert.equal(code({ ...base, log: "yes" }), "invalid_config");
    // A base64url master key and no admin token are fine; the admin API is then closed.
    const p = new oidc.Provider({ ...base, masterKey: b64url(randomBytes(32)), log: false });
    const r = await p.handle(new Request("https://id.example/admin/realms/x", { headers: { authorization: "Bearer anything-at-all-here" } }));
    assert.equal(r.status, 401);
    // A body over 64 KiB is not read whole: 413, from a stream as from a buffer.
    const big = new Uint8Array(200 * 1024);
    assert.equal((await p.handle(new Request("https://id.example/realms/x/token", { method: "POST", body: big }))).status, 413);
    const stream = new ReadableStream({
      pull(c) {
        c.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const streamed = new Request("https://id.example/realms/x/token", { method: "POST", body: stream, duplex: "half" });
    assert.equal((await p.handle(streamed)).status, 413, "an endless body is cut off");

    // A failing store: a 500 in the OAuth shape, the reason in the log only.
    const logs = [];
    const broken = new oidc.Provider({
      ...base,
      log: (l) => logs.push(l),
      store: {
        get: async () => {
          throw new Error("disk on fire");
        },
        put: async () => {},
        delete: async () => {},
        list: async () => ({ keys: [] }),
      },
    });
    const res = await broken.handle(new Request("https://id.example/realms/r/jwks"));
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: "server_error", error_description: "internal error" });
    assert.ok(logs.some((l) => l.includes("disk on fire")), logs.join("\n"));
    await assert.rejects(broken.seedDemo(), (e) => e.code === "store" && /disk on fire/.test(e.message));

    // ctx.waitUntil receives the background work.
    const waited = [];
    const op2 = await startOp();
    const rp = await startRp();
    await op2.createRealm();
    const client = await op2.client("rp-wait", { backchannel_logout_uri: rp.uri, id_token_signed_response_alg: "ES256" });
    const session = await op2.login();
    await op2.signIn(client, session, "ES256");
    const resp = await op2.provider.handle(
      new Request(`${op2.issuer}/sessions/logout`, { method: "POST", headers: { cookie: `oidc_edge_session=${session}` } }),
      { waitUntil: (p) => waited.push(p) },
    );
    assert.equal(resp.status, 200);
    assert.equal(waited.length, 1);
    await waited[0];
    assert.equal(rp.received.length, 1);
  });
});
