// Smoke test of the built Cloudflare Worker (build/worker, from scripts/build-worker.sh) in
// Miniflare, offline: the bindings of wrangler.toml (KV OIDC_KV, Queue LOGOUT_QUEUE with its
// consumer and dead-letter queue, secrets, vars), then the provider over HTTP and the logout
// Queue end to end, with a relying party on 127.0.0.1 receiving the logout tokens.
//
//   node tests/js/worker-smoke.mjs        (miniflare comes from the repository's node_modules)
//   SMOKE_VERBOSE=1 ...                   (also print the worker's console output)
//
// Runs under node's test runner: one line per check and a closing pass/fail count.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { after, before, test } from "node:test";

import { httpClient } from "./http-client.mjs";
import { DLQ, QUEUE, workerMiniflare } from "./worker-miniflare.mjs";

const BASE = "http://127.0.0.1:8787";
const ADMIN_TOKEN = randomBytes(24).toString("base64url");
const b64url = (buf) => Buffer.from(buf).toString("base64url");
const decodeJwtPart = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

let mf;
let output = ""; // the worker's console output
let rp; // the relying party: { port, received: [{ path, body }], close }

/**
 * A relying party on 127.0.0.1: /bc-ok answers 200, /bc-down 503, /bc-slow never answers (until
 * the test ends); every request is recorded.
 */
function startRp() {
  const received = [];
  const stalled = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ path: req.url, body, contentType: req.headers["content-type"] });
      if (req.url === "/bc-slow") {
        stalled.push(res);
        return;
      }
      res.statusCode = req.url === "/bc-down" ? 503 : 200;
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        received,
        close: () => {
          for (const res of stalled) res.destroy();
          return new Promise((r) => server.close(r));
        },
      }),
    ),
  );
}

async function until(what, predicate, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const call = httpClient((url, init) => mf.dispatchFetch(url, init), BASE, ADMIN_TOKEN);

/** When `res` is the consent page, answer it with "allow" as the browser would. */
async function allowIfAsked(res, cookie) {
  if (res.status !== 200 || !res.text.includes('name="decision" value="allow"')) return res;
  const form = new URLSearchParams();
  for (const [, name, value] of res.text.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    form.append(name, value.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&"));
  }
  form.append("decision", "allow");
  return call("POST", "/realms/demo/consent", { form: Object.fromEntries(form), headers: { cookie } });
}

/** Register an RP in realm demo whose back-channel logout URI is `bcPath` on the test RP. */
async function registerRp(bcPath, port = rp.port) {
  const redirectUri = `http://127.0.0.1:${rp.port}/cb`;
  const r = await call("POST", "/realms/demo/register", {
    json: {
      redirect_uris: [redirectUri],
      backchannel_logout_uri: `http://127.0.0.1:${port}${bcPath}`,
      backchannel_logout_session_required: true,
    },
  });
  assert.equal(r.status, 201, r.text);
  return { ...r.json, redirectUri };
}

/** Sign in as demo, run the code flow for `client`, and return the session cookie and ID token. */
async function signInThrough(client) {
  const auth = await call("POST", "/realms/demo/authenticate", {
    json: { username: "demo", password: "changeit" },
  });
  assert.equal(auth.status, 200, auth.text);
  const cookie = auth.headers.get("set-cookie").split(";")[0];
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const q = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: client.redirectUri,
    scope: "openid",
    state: "st",
    nonce: "nn",
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  let authz = await call("GET", `/realms/demo/authorize?${q}`, { headers: { cookie } });
  authz = await allowIfAsked(authz, cookie);
  assert.equal(authz.status, 302, authz.text);
  const code = new URL(authz.headers.get("location")).searchParams.get("code");
  assert.ok(code, authz.headers.get("location"));
  const tok = await call("POST", "/realms/demo/token", {
    form: {
      grant_type: "authorization_code",
      code,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
    },
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
    },
  });
  assert.equal(tok.status, 200, tok.text);
  return { cookie, idToken: tok.json.id_token };
}

before(async () => {
  rp = await startRp();
  const verbose = !!process.env.SMOKE_VERBOSE;
  mf = workerMiniflare({
    bindings: {
      BASE_URL: BASE,
      ADMIN_TOKEN,
      MASTER_KEY: b64url(randomBytes(32)),
      DEMO_REALM: "true",
      DELIVERY_TIMEOUT_MS: "1500",
      // One retry, so the dead-letter path runs within a few seconds.
      DELIVERY_RETRY_MAX: "1",
      DELIVERY_RETRY_BASE_MS: "1000",
    },
    verbose: !!process.env.SMOKE_VERBOSE,
    onOutput: (text) => (output += text),
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  await rp?.close();
});

test("discovery of realm demo (seeded by DEMO_REALM) names its issuer", async () => {
  const r = await call("GET", "/realms/demo/.well-known/openid-configuration");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.issuer, `${BASE}/realms/demo`);
  assert.equal(r.json.backchannel_logout_supported, true);
  assert.equal(r.json.backchannel_logout_session_supported, true);
  assert.equal(r.json.end_session_endpoint, `${BASE}/realms/demo/end_session`);
  const jwks = await call("GET", "/realms/demo/jwks");
  assert.equal(jwks.status, 200, jwks.text);
  assert.ok(jwks.json.keys.length >= 2);
});

test("the admin API wants the ADMIN_TOKEN secret, and PUT creates a realm", async () => {
  assert.equal((await call("PUT", "/admin/realms/acme", { json: {} })).status, 401);
  const put = await call("PUT", "/admin/realms/acme", {
    json: { session_idle_time_secs: 900, id_token_signing_alg: "ES256" },
    admin: true,
  });
  assert.ok([200, 201].includes(put.status), put.text);
  const get = await call("GET", "/admin/realms/acme", { admin: true });
  assert.equal(get.status, 200, get.text);
  const disco = await call("GET", "/realms/acme/.well-known/openid-configuration");
  assert.equal(disco.status, 200);
  assert.equal(disco.json.issuer, `${BASE}/realms/acme`);
});

test("unknown realms and endpoints answer in the OAuth error shape", async () => {
  const r = await call("GET", "/realms/nope/.well-known/openid-configuration");
  assert.equal(r.status, 404);
  assert.equal(r.json.error, "not_found");
});

test("dynamic registration answers 201 with the metadata", async () => {
  const client = await registerRp("/bc-ok");
  assert.ok(client.client_id);
  assert.ok(client.client_secret);
  assert.equal(client.backchannel_logout_uri, `http://127.0.0.1:${rp.port}/bc-ok`);
  assert.equal(client.backchannel_logout_session_required, true);
});

test("logout: the Queue carries a logout token to the RP", async () => {
  const client = await registerRp("/bc-ok");
  const { cookie, idToken } = await signInThrough(client);
  const before = rp.received.length;
  const out = await call("POST", "/realms/demo/sessions/logout", { headers: { cookie } });
  assert.equal(out.status, 200, out.text);
  const got = await until("the logout token", () =>
    rp.received.slice(before).find((m) => m.path === "/bc-ok"),
  );
  assert.equal(got.contentType, "application/x-www-form-urlencoded");
  const token = new URLSearchParams(got.body).get("logout_token");
  const [h, c] = token.split(".");
  const header = decodeJwtPart(h);
  const claims = decodeJwtPart(c);
  const id = decodeJwtPart(idToken.split(".")[1]);
  assert.equal(header.typ, "logout+jwt");
  assert.equal(claims.iss, `${BASE}/realms/demo`);
  assert.equal(claims.aud, client.client_id);
  assert.equal(claims.sub, id.sub);
  assert.equal(claims.sid, id.sid);
  assert.deepEqual(claims.events, { "http://schemas.openid.net/event/backchannel-logout": {} });
  assert.equal(claims.nonce, undefined);
  // The attempt is audited in AM's words.
  const audit = await until("the audit event", async () => {
    const a = await call("GET", "/admin/realms/demo/audit?event=AM-BACK-CHANNEL-LOGOUT", { admin: true });
    const events = a.json?.result ?? [];
    return events.find((e) => e.operation?.includes("/bc-ok, which responded with HTTP code 200"));
  });
  assert.equal(audit.eventName, "AM-BACK-CHANNEL-LOGOUT");
});

test("logout: a failing RP is retried, then dead-lettered where the admin API lists it", async () => {
  const client = await registerRp("/bc-down");
  const { cookie } = await signInThrough(client);
  const before = rp.received.length;
  const out = await call("POST", "/realms/demo/sessions/logout", { headers: { cookie } });
  assert.equal(out.status, 200, out.text);
  const dead = await until("the dead letter", async () => {
    const r = await call("GET", "/admin/realms/demo/deliveries?state=dead", { admin: true });
    return (r.json?.result ?? []).find((d) => d.client_id === client.client_id);
  });
  assert.equal(dead.state, "dead");
  assert.equal(dead.attempts, 2);
  assert.match(dead.last_outcome, /responded with HTTP code 503/);
  const attempts = rp.received.slice(before).filter((m) => m.path === "/bc-down");
  assert.equal(attempts.length, 2);
});

/** Log out through `client` and wait for the audit event of its first delivery attempt. */
async function firstAttemptAudit(client) {
  const { cookie } = await signInThrough(client);
  const out = await call("POST", "/realms/demo/sessions/logout", { headers: { cookie } });
  assert.equal(out.status, 200, out.text);
  return until("the audit event", async () => {
    const a = await call("GET", "/admin/realms/demo/audit?event=AM-BACK-CHANNEL-LOGOUT", { admin: true });
    return (a.json?.result ?? []).find((e) => e.operation?.includes(client.backchannel_logout_uri));
  });
}

test("logout: an RP that does not answer times out (AbortController)", async () => {
  const client = await registerRp("/bc-slow");
  const started = Date.now();
  const event = await firstAttemptAudit(client);
  assert.match(event.operation, /did not respond within 1500 ms \(timeout\)/);
  assert.ok(Date.now() - started >= 1500);
});

test("logout: a closed port is a failure to send, in words", async () => {
  const closed = await new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  const client = await registerRp("/bc", closed);
  const event = await firstAttemptAudit(client);
  assert.match(event.operation, /^Failed to send logout request to http:\/\/127\.0\.0\.1:\d+\/bc: no answer: /);
});

test("the dead-letter queue's consumer records what reaches it", async () => {
  const worker = await mf.getWorker();
  const delivery = {
    id: "dlq-smoke-1",
    realm: "demo",
    session_id: "s1",
    client_id: "c1",
    uri: "https://rp.example/bc",
    user: "demo",
    sub: "sub1",
    cause: "CLIENT_LOGOUT",
    tracking_id: "t1",
    attempts: 3,
    next_attempt_ms: 0,
    state: "pending",
  };
  const r = await worker.queue(DLQ, [{ id: "m1", timestamp: new Date(), body: delivery, attempts: 1 }]);
  assert.equal(r.outcome, "ok");
  assert.deepEqual(r.explicitAcks, ["m1"]);
  const listed = await call("GET", "/admin/realms/demo/deliveries?state=dead", { admin: true });
  const d = listed.json.result.find((x) => x.id === "dlq-smoke-1");
  assert.equal(d?.state, "dead");
});

test("a message that is not a delivery is acked, not retried forever", async () => {
  const worker = await mf.getWorker();
  const r = await worker.queue(QUEUE, [{ id: "m2", timestamp: new Date(), body: "garbage", attempts: 1 }]);
  assert.equal(r.outcome, "ok");
  assert.deepEqual(r.explicitAcks, ["m2"]);
});

test("the cron trigger runs the expiry sweep", async () => {
  const worker = await mf.getWorker();
  const r = await worker.scheduled({ cron: "* * * * *" });
  assert.equal(r.outcome, "ok");
});

test("WebCrypto did the signing, the password hashing and the RSA key generation", async () => {
  // The worker logs a line whenever WebCrypto refuses and core's own code steps in; the demo
  // realm's RSA key, the logins and the RS256 tokens above all went through it.
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(output.includes("demo realm provisioned"), "the worker's output is captured");
  assert.deepEqual(output.split("\n").filter((l) => l.includes("WebCrypto")), []);
});
