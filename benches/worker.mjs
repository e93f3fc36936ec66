// What the Cloudflare Worker costs per request in workerd (Miniflare), offline: CPU time of the
// workerd process (user + system, from /proc, all its threads) and wall time per operation,
// each beside a baseline measured in the same run (a request core answers 404 without storage).
//
//   scripts/build-worker.sh bench          (builds the release worker first)
//   node benches/worker.mjs                (uses build/ as it is)
//   BENCH_ROUNDS=3 ...                     (rounds per operation; the median round is reported)
//
// Operations: discovery, JWKS, login (PBKDF2), authorize, token (ES256 and RS256 ID tokens),
// logout, one back-channel delivery through the Queue consumer (mint + POST + audit), signed
// (ES256, RS256) and encrypted (ECDH-ES + A128CBC-HS256, RSA-OAEP-256 + A256GCM), to a relying
// party on 127.0.0.1 that answers 200 at once, and a session's end at its idle deadline (real
// time: about 70 s; BENCH_EXPIRY=0 leaves it out). Each on two designs, in one run: the realms'
// Durable Objects for sessions and codes (as deployed), and everything on KV (no binding). Local KV is part of the cost measured (workerd runs it
// in-process): figures are upper bounds of the worker's own CPU time, compared with the
// Workers free plan's 10 ms CPU per invocation.
//
// Linux only (/proc). Prints a Markdown table.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

import { httpClient } from "../tests/js/http-client.mjs";
import { QUEUE, workerMiniflare } from "../tests/js/worker-miniflare.mjs";

const BASE = "http://127.0.0.1:8787";
const ADMIN_TOKEN = randomBytes(24).toString("base64url");
const REALM = "bench";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TICK_MS = 1000 / 100; // USER_HZ: 100 on Linux
const b64url = (buf) => Buffer.from(buf).toString("base64url");

// ---- CPU time of the workerd processes (descendants of this process) ------------------------

function children(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function workerdPids() {
  const out = [];
  const todo = [process.pid];
  while (todo.length) {
    const pid = todo.pop();
    for (const c of children(pid)) {
      todo.push(c);
      try {
        if (readFileSync(`/proc/${c}/comm`, "utf8").trim().startsWith("workerd")) out.push(c);
      } catch {
        // gone
      }
    }
  }
  return out;
}

/** User + system CPU of `pids`, in ms (all threads: /proc/<pid>/stat sums them). */
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  }
  return ticks * TICK_MS;
}

// ---- HTTP ----------------------------------------------------------------------------------

let mf;

const call = httpClient((url, init) => mf.dispatchFetch(url, init), BASE, ADMIN_TOKEN);

function expect(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r;
}

function startRp() {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count++;
      res.statusCode = 200;
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: server.address().port, count: () => count, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

// ---- Set-up --------------------------------------------------------------------------------

async function register(rp, meta) {
  const redirect = `https://rp-${randomBytes(6).toString("hex")}.example/cb`;
  const r = expect(
    await call("POST", `/realms/${REALM}/register`, {
      json: { redirect_uris: [redirect], backchannel_logout_uri: `http://127.0.0.1:${rp.port}/bc`, ...meta },
    }),
    201,
    "register",
  );
  return { ...r.json, redirect };
}

/** Answer the consent page with "allow" (once per client: the grant then covers later requests). */
async function allowIfAsked(res, session) {
  if (res.status !== 200 || !res.text.includes('name="decision" value="allow"')) return res;
  const form = {};
  for (const [, name, value] of res.text.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    form[name] = value.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  }
  form.decision = "allow";
  return call("POST", `/realms/${REALM}/consent`, { form, headers: { cookie: `oidc_edge_session=${session}` } });
}

function encJwk(alg) {
  const { publicKey } =
    alg === "ECDH-ES"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...publicKey.export({ format: "jwk" }), use: "enc", alg, kid: `enc-${alg}` };
}

async function login() {
  const r = expect(
    await call("POST", `/realms/${REALM}/authenticate`, { json: { username: "bench", password: "bench-password-1" } }),
    200,
    "authenticate",
  );
  return r.json.tokenId;
}

async function authorize(client, session) {
  const verifier = b64url(randomBytes(32));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: client.redirect,
    scope: "openid",
    state: "s",
    nonce: "n",
    code_challenge: b64url(createHash("sha256").update(verifier).digest()),
    code_challenge_method: "S256",
  });
  const r = expect(
    await allowIfAsked(
      await call("GET", `/realms/${REALM}/authorize?${q}`, { headers: { cookie: `oidc_edge_session=${session}` } }),
      session,
    ),
    302,
    "authorize",
  );
  return { code: new URL(r.headers.get("location")).searchParams.get("code"), verifier };
}

async function token(client, { code, verifier }) {
  expect(
    await call("POST", `/realms/${REALM}/token`, {
      form: { grant_type: "authorization_code", code, redirect_uri: client.redirect, code_verifier: verifier },
      headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}` },
    }),
    200,
    "token",
  );
}

let seq = 0;
async function deliver(worker, client, rp) {
  const id = `bench-${seq++}`;
  const before = rp.count();
  const r = await worker.queue(QUEUE, [
    {
      id,
      timestamp: new Date(),
      attempts: 1,
      body: {
        id,
        realm: REALM,
        session_id: "bench-session",
        client_id: client.client_id,
        uri: `http://127.0.0.1:${rp.port}/bc`,
        user: "bench",
        sub: "bench-sub",
        sid: "bench-sid",
        cause: "CLIENT_LOGOUT",
        tracking_id: `t-${id}`,
        attempts: 0,
        next_attempt_ms: 0,
        state: "pending",
      },
    },
  ]);
  if (r.outcome !== "ok" || rp.count() !== before + 1) throw new Error(`delivery ${id}: ${JSON.stringify(r)}`);
}

// ---- Measuring -----------------------------------------------------------------------------

/** Run `prepare(i)` untimed, then `op(prepared)` n times; CPU and wall per op (median round). */
async function measure(n, op, prepare = async () => undefined) {
  const pids = workerdPids();
  if (pids.length === 0) throw new Error("no workerd process found under this one");
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const inputs = [];
    for (let i = 0; i < n; i++) inputs.push(await prepare(i));
    const walls = [];
    const cpu0 = cpuMs(pids);
    const t0 = performance.now();
    for (const input of inputs) {
      const t = performance.now();
      await op(input);
      walls.push(performance.now() - t);
    }
    const cpu = (cpuMs(pids) - cpu0) / n;
    walls.sort((a, b) => a - b);
    rounds.push({ cpu, wall: walls[Math.floor(n / 2)], total: performance.now() - t0 });
  }
  rounds.sort((a, b) => a.cpu - b.cpu);
  return rounds[Math.floor(rounds.length / 2)];
}

/** A first-party client (no consent page) without a back-channel URI: nothing is delivered. */
async function quietClient(realm) {
  const redirect = "https://quiet.example/cb";
  const secret = b64url(randomBytes(24));
  expect(
    await call("PUT", `/admin/realms/${realm}/clients/quiet`, {
      json: { redirect_uris: [redirect], client_secret: secret, first_party: true },
      admin: true,
    }),
    201,
    "client",
  );
  return { client_id: "quiet", client_secret: secret, redirect };
}

/** Log in and sign `client` in: the session token. */
async function signedIn(client) {
  const session = await login();
  await token(client, await authorize(client, session));
  return session;
}

async function logout(session) {
  expect(
    await call("POST", `/realms/${REALM}/sessions/logout`, { headers: { "x-session-token": session } }),
    200,
    "logout",
  );
}

/** AM-SESSION-IDLE_TIMED_OUT events of realm `realm` so far. */
async function timedOut(realm) {
  const r = expect(
    await call("GET", `/admin/realms/${realm}/audit?event=AM-SESSION-IDLE_TIMED_OUT`, { admin: true }),
    200,
    "audit",
  );
  return r.json.resultCount;
}

/**
 * What ending a session at its idle deadline costs: `n` sessions of a realm with a 60 s idle
 * time, each with the quiet client signed in, then the wait (real time) until all have ended —
 * by the realm object's alarms (`strong`), or by the cron's sweep run once after the deadline
 * (KV). CPU from 3 s before the deadline until the last one ended, minus what the polling of
 * the audit log costs, per session.
 */
async function expiryCost(worker, strong, n) {
  const realm = `expiry-${strong ? "do" : "kv"}`;
  expect(
    await call("PUT", `/admin/realms/${realm}`, {
      json: { session_idle_time_secs: 60, session_max_time_secs: 3600 },
      admin: true,
    }),
    201,
    "realm",
  );
  expect(await call("PUT", `/admin/realms/${realm}/users/bench`, { json: { password: "bench-password-1" }, admin: true }), 201, "user");
  const client = await quietClient(realm);
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    const r = expect(
      await call("POST", `/realms/${realm}/authenticate`, { json: { username: "bench", password: "bench-password-1" } }),
      200,
      "authenticate",
    );
    const q = new URLSearchParams({ response_type: "code", client_id: client.client_id, redirect_uri: client.redirect, scope: "openid", state: "s", nonce: "n" });
    expect(await call("GET", `/realms/${realm}/authorize?${q}`, { headers: { cookie: `oidc_edge_session=${r.json.tokenId}` } }), 302, "authorize");
  }
  // Idle 60 s plus the 6 s touch step, from the first session's creation.
  const deadline = Math.ceil(started / 1000) * 1000 + 66_000;
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - 3000 - Date.now())));
  const pids = workerdPids();
  const poll = async () => {
    const c0 = cpuMs(pids);
    const count = await timedOut(realm);
    return { count, cpu: cpuMs(pids) - c0 };
  };
  const cpu0 = cpuMs(pids);
  let pollCpu = 0;
  let fired = false;
  for (;;) {
    if (!strong && !fired && Date.now() >= deadline + (n - 1) * 1000 + 1000) {
      const r = await worker.scheduled({ cron: "* * * * *" });
      if (r.outcome !== "ok") throw new Error(`scheduled: ${r.outcome}`);
      fired = true;
    }
    const p = await poll();
    pollCpu += p.cpu;
    if (p.count >= n) break;
    if (Date.now() > deadline + 120_000) throw new Error(`only ${p.count} of ${n} sessions ended`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { cpu: (cpuMs(pids) - cpu0 - pollCpu) / n, wall: NaN };
}

/** Every operation on one worker: with the realms' Durable Objects (`strong`) or all on KV. */
async function run(strong) {
  const rp = await startRp();
  mf = workerMiniflare({
    strong,
    bindings: {
      BASE_URL: BASE,
      ADMIN_TOKEN,
      MASTER_KEY: b64url(randomBytes(32)),
      DEMO_REALM: "false",
      DELIVERY_TIMEOUT_MS: "5000",
    },
  });
  await mf.ready;
  const worker = await mf.getWorker();

  const rows = [];
  const row = (name, n, m, note = "") => rows.push({ name, n, ...m, note });

  // The first request instantiates the wasm module: not part of any operation below.
  await call("GET", "/no/such/endpoint");
  // Realms: RSA-2048 and P-256 key generation, sealing (prime search makes RSA vary a lot).
  let realms = 0;
  const createRealm = async (name) =>
    expect(await call("PUT", `/admin/realms/${name}`, { json: { allow_private_uris: true }, admin: true }), 201, "realm");
  await createRealm(REALM);
  row("create a realm (RSA-2048 + P-256 key generation)", 5, await measure(5, () => createRealm(`extra${realms++}`)));
  expect(
    await call("PUT", `/admin/realms/${REALM}/users/bench`, { json: { password: "bench-password-1" }, admin: true }),
    201,
    "user",
  );
  const es = await register(rp, { id_token_signed_response_alg: "ES256", backchannel_logout_session_required: true });
  const rs = await register(rp, { id_token_signed_response_alg: "RS256", backchannel_logout_session_required: true });
  const esEnc = await register(rp, {
    id_token_signed_response_alg: "ES256",
    id_token_encrypted_response_alg: "ECDH-ES",
    id_token_encrypted_response_enc: "A128CBC-HS256",
    jwks: { keys: [encJwk("ECDH-ES")] },
  });
  const rsEnc = await register(rp, {
    id_token_signed_response_alg: "RS256",
    id_token_encrypted_response_alg: "RSA-OAEP-256",
    id_token_encrypted_response_enc: "A256GCM",
    jwks: { keys: [encJwk("RSA-OAEP-256")] },
  });
  const session = await login();

  // Warm-up: the first requests instantiate the wasm and fill caches.
  for (let i = 0; i < 5; i++) {
    await call("GET", "/no/such/endpoint");
    await token(rs, await authorize(rs, session));
    await deliver(worker, es, rp);
  }

  const N = 40;
  row("baseline: unknown path (404, no storage)", 200, await measure(200, () => call("GET", "/no/such/endpoint")));
  row("discovery", N, await measure(N, async () => expect(await call("GET", `/realms/${REALM}/.well-known/openid-configuration`), 200, "discovery")));
  row("jwks", N, await measure(N, async () => expect(await call("GET", `/realms/${REALM}/jwks`), 200, "jwks")));
  row("login (PBKDF2-SHA256, 50,000 iterations)", 10, await measure(10, () => login()));
  row("authorize (session cookie, PKCE)", N, await measure(N, () => authorize(es, session)));
  row("token, ES256 ID token", N, await measure(N, (g) => token(es, g), () => authorize(es, session)));
  row("token, RS256 ID token", N, await measure(N, (g) => token(rs, g), () => authorize(rs, session)));
  const quiet = await quietClient(REALM);
  row("logout (sessions/logout; one RP, no back-channel URI)", N, await measure(N, (session) => logout(session), () => signedIn(quiet)));
  for (const [name, client] of [
    ["delivery, ES256", es],
    ["delivery, RS256", rs],
    ["delivery, ES256 in ECDH-ES + A128CBC-HS256", esEnc],
    ["delivery, RS256 in RSA-OAEP-256 + A256GCM", rsEnc],
  ]) {
    row(`${name} (mint + POST + audit)`, N, await measure(N, () => deliver(worker, client, rp)));
  }

  if (process.env.BENCH_EXPIRY !== "0") {
    const n = 10;
    row(
      strong ? "expiry at the idle deadline, by the realm object's alarm" : "expiry at the idle deadline, by the cron's sweep",
      n,
      await expiryCost(worker, strong, n),
    );
  }
  await mf.dispose();
  await rp.close();
  return rows;
}

async function main() {
  const kv = await run(false);
  const strong = await run(true);
  const base = strong.find((r) => r.name.startsWith("baseline"));
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : "");
  console.log(`\nworkerd CPU and wall time per operation (median of ${ROUNDS} rounds; CPU = workerd user+system / n)`);
  console.log("Durable Objects: sessions, codes, refresh tokens and revocations in the realm's object; KV: all on KV (no REALM_STATE binding)\n");
  console.log("| operation | n | CPU ms, DO | × baseline | wall ms, DO | CPU ms, KV | wall ms, KV | over 10 ms CPU (DO)? |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const [i, r] of strong.entries()) {
    const k = kv[i]?.name === r.name ? kv[i] : kv.find((x) => x.name.replace(/by the.*/, "") === r.name.replace(/by the.*/, ""));
    const ratio = r === base ? "1.00" : (r.cpu / base.cpu).toFixed(1);
    console.log(
      `| ${r.name.replace(/, by the realm object's alarm/, " (DO: alarm; KV: cron sweep)")} | ${r.n} | ${f(r.cpu)} | ${ratio} | ${f(r.wall)} | ${f(k?.cpu)} | ${f(k?.wall)} | ${r.cpu > 10 ? "**yes**" : "no"} |`,
    );
  }
}

await main();
