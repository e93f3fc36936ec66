// The race's baseline: node-oidc-provider (op.mjs, a child process) timed the way oidc-edge's
// `fanout` and `flows` benches time oidc-edge, so that `benches/race/run.sh` can put both in
// one table from one run.
//
//   node benches/race/race.mjs fanout   N RPs answering after 100 ms: one session signed in to
//                                       all N, then the time from the logout call (the
//                                       confirmation POST) until the N-th RP holds its token
//   node benches/race/race.mjs flows    full flows per second (sign-in form, password,
//                                       authorize, token, logout confirmed, the back-channel
//                                       token delivered to the RP) with c browsers at once
//
// RACE_N=1,100 (fanout sizes), RACE_ALG=RS256,ES256, RACE_REPEAT=5 (fanout rounds per size,
// the median reported), RACE_FLOWS=400 (flows per row), RACE_CLIENTS=1,8. The RPs and the
// browsers run in this process, the provider in its own; "OP CPU" is the provider process's CPU
// time (process.cpuUsage) over the measured span. Every logout token the RPs receive is checked
// after its round with `jose` (signature, iss, aud, typ, events, sid, no nonce); one that fails
// stops the bench.
import { fork } from "node:child_process";
import { createHash, pbkdf2Sync, randomBytes } from "node:crypto";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { createLocalJWKSet, jwtVerify } from "jose";

const REDIRECT = "https://rp.example/cb";
const POST_LOGOUT = "https://rp.example/signed-out";
const SCOPE = "openid profile email";
const RP_LATENCY_MS = 100;
const LOGIN = "race-user";
const PASSWORD = "correct horse battery staple";
const ITERATIONS = 50_000;

const list = (name, dflt) => (process.env[name] ?? dflt).split(",").map((s) => s.trim()).filter(Boolean);
const num = (name, dflt) => Number(process.env[name] ?? dflt);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const b64u = (buf) => Buffer.from(buf).toString("base64url");
const fmt = (ms) => ms.toFixed(1);

// ---- RPs ---------------------------------------------------------------------------------

/** A back-channel logout endpoint on 127.0.0.1 that records each token and answers 200. */
class Rp {
  constructor(latencyMs) {
    this.latencyMs = latencyMs;
    this.received = [];
    this.server = http.createServer((req, res) => {
      let s = "";
      req.on("data", (c) => (s += c));
      req.on("end", () => {
        this.received.push({ at: performance.now(), token: new URLSearchParams(s).get("logout_token") });
        this.onReceive?.();
        const answer = () => res.end();
        if (this.latencyMs > 0) setTimeout(answer, this.latencyMs);
        else answer();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }
  async listen() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.uri = `http://127.0.0.1:${this.server.address().port}/backchannel`;
    return this;
  }
  close() {
    this.server.closeAllConnections?.();
    this.server.close();
  }
}

// ---- the provider ------------------------------------------------------------------------

async function startOp(clients) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(PASSWORD, salt, ITERATIONS, 32, "sha256");
  const child = fork(new URL("./op.mjs", import.meta.url), [], {
    env: {
      ...process.env,
      RACE_OP: JSON.stringify({ clients, user: { login: LOGIN, salt: b64u(salt), hash: b64u(hash) } }),
    },
    // Its notices and warnings go to stderr, with the table on stdout.
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  child.stdout.pipe(process.stderr);
  const hello = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`op.mjs exited (${code})`)));
  });
  const cpu = () =>
    new Promise((resolve) => {
      child.once("message", (m) => resolve(m.cpu / 1000));
      child.send({ cpu: true });
    });
  return { issuer: hello.issuer, jwks: createLocalJWKSet({ keys: hello.keys }), cpu, stop: () => child.kill() };
}

// ---- a browser and an RP's back end ----------------------------------------------------------

/** One browser: its own cookies, redirects followed by hand. */
class Browser {
  constructor(issuer) {
    this.issuer = issuer;
    this.cookies = new Map();
  }
  async req(method, url, { form, headers = {} } = {}) {
    const target = new URL(url, this.issuer);
    const h = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (form) h["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(target, {
      method,
      headers: h,
      body: form ? new URLSearchParams(form).toString() : undefined,
      redirect: "manual",
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = !value || attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    return { status: res.status, location: res.headers.get("location"), text };
  }
  expect(r, status, what) {
    if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
    return r;
  }
  /** The code flow up to the code; signs in first when there is no session. */
  async authorize(client) {
    const verifier = b64u(randomBytes(32));
    const params = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: SCOPE,
      state: b64u(randomBytes(12)),
      nonce: b64u(randomBytes(12)),
      code_challenge: b64u(createHash("sha256").update(verifier).digest()),
      code_challenge_method: "S256",
    });
    let r = await this.req("GET", `/auth?${params}`);
    if (r.status === 303 && new URL(r.location, this.issuer).pathname.startsWith("/interaction/")) {
      const page = r.location;
      this.expect(await this.req("GET", page), 200, "sign-in form");
      r = this.expect(await this.req("POST", page, { form: { login: LOGIN, password: PASSWORD } }), 303, "sign-in");
      r = await this.req("GET", r.location);
    }
    if (r.status !== 303 || !r.location.startsWith(REDIRECT)) {
      throw new Error(`authorize: ${r.status} ${r.location} ${r.text.slice(0, 300)}`);
    }
    const code = new URL(r.location).searchParams.get("code");
    return { code, verifier };
  }
  /** The RP's back end redeems the code (client_secret_basic). */
  async token(client, { code, verifier }) {
    const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString("base64");
    const r = await fetch(new URL("/token", this.issuer), {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }).toString(),
    });
    const json = await r.json();
    if (r.status !== 200 || !json.id_token) throw new Error(`token: ${r.status} ${JSON.stringify(json)}`);
    return json;
  }
  /** RP-initiated logout, the user confirming it; resolves with the provider's answer. */
  async logoutPage(idTokenHint) {
    const q = new URLSearchParams({ post_logout_redirect_uri: POST_LOGOUT });
    if (idTokenHint) q.set("id_token_hint", idTokenHint);
    const r = this.expect(await this.req("GET", `/session/end?${q}`), 200, "logout page");
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(r.text)?.[1];
    if (!xsrf) throw new Error(`logout page without xsrf: ${r.text.slice(0, 300)}`);
    return xsrf;
  }
  async confirmLogout(xsrf) {
    const r = await this.req("POST", "/session/end/confirm", { form: { xsrf, logout: "yes" } });
    if (r.status !== 303) throw new Error(`logout: ${r.status} ${r.text.slice(0, 300)}`);
    return r;
  }
}

/** Checks a logout token as an RP must (OIDC Back-Channel Logout 1.0 §2.6). */
async function checkLogoutToken(op, client, token) {
  const { payload, protectedHeader } = await jwtVerify(token, op.jwks, {
    issuer: op.issuer,
    audience: client.client_id,
    typ: "logout+jwt",
    algorithms: [client.alg],
  });
  if (protectedHeader.alg !== client.alg) throw new Error(`alg ${protectedHeader.alg}`);
  if (!payload.events?.["http://schemas.openid.net/event/backchannel-logout"]) throw new Error("no event");
  if (!payload.sid || !payload.sub || !payload.jti || "nonce" in payload) throw new Error("claims");
}

// ---- fanout ----------------------------------------------------------------------------------

async function fanout() {
  const sizes = list("RACE_N", "1,100").map(Number);
  const algs = list("RACE_ALG", "RS256,ES256");
  const repeat = num("RACE_REPEAT", 5);
  console.log("| node-oidc-provider fan-out | N | all N hold their token | ratio to N = 1 | logout call answered | OP CPU | OP CPU per RP |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const alg of algs) {
    let base;
    for (const n of sizes) {
      const rps = await Promise.all(Array.from({ length: n }, () => new Rp(RP_LATENCY_MS).listen()));
      const clients = rps.map((rp, i) => ({
        client_id: `race-${alg.toLowerCase()}-${i}`,
        client_secret: b64u(randomBytes(24)),
        alg,
        backchannel_logout_uri: rp.uri,
      }));
      const op = await startOp(clients);
      const rounds = [];
      for (let round = 0; round < repeat + 1; round++) {
        const browser = new Browser(op.issuer);
        // One session, every client authorized in it (the first signs the user in).
        for (const client of clients) await browser.authorize(client);
        const xsrf = await browser.logoutPage();
        for (const rp of rps) rp.received = [];
        let got = 0;
        let allHeld;
        const held = new Promise((resolve) => (allHeld = resolve));
        for (const rp of rps) rp.onReceive = () => ++got === n && allHeld();
        const cpu0 = await op.cpu();
        const t0 = performance.now();
        await browser.confirmLogout(xsrf);
        const answered = performance.now() - t0;
        await held;
        const cpu = (await op.cpu()) - cpu0;
        const last = Math.max(...rps.map((rp) => rp.received[0].at)) - t0;
        for (const [i, rp] of rps.entries()) {
          if (rp.received.length !== 1) throw new Error(`RP ${i} got ${rp.received.length} tokens`);
          await checkLogoutToken(op, clients[i], rp.received[0].token);
        }
        if (round > 0) rounds.push({ last, answered, cpu }); // the first round warms up
      }
      op.stop();
      rps.forEach((rp) => rp.close());
      const last = median(rounds.map((r) => r.last));
      const answered = median(rounds.map((r) => r.answered));
      const cpu = median(rounds.map((r) => r.cpu));
      base ??= last;
      console.log(`| ${alg} | ${n} | ${fmt(last)} ms | ${(last / base).toFixed(2)} | ${fmt(answered)} ms | ${fmt(cpu)} ms | ${Math.round((cpu * 1000) / n)} µs |`);
    }
  }
}

// ---- flows -----------------------------------------------------------------------------------

async function flows() {
  const total = num("RACE_FLOWS", 400);
  const algs = list("RACE_ALG", "RS256,ES256");
  const rowsOf = list("RACE_CLIENTS", "1,8").map(Number);
  console.log("| node-oidc-provider flows | clients | flows/s | OP CPU per flow |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const alg of algs) {
    const rp = await new Rp(0).listen();
    const client = { client_id: `race-flows-${alg.toLowerCase()}`, client_secret: b64u(randomBytes(24)), alg, backchannel_logout_uri: rp.uri };
    const op = await startOp([client]);
    const flow = async () => {
      const browser = new Browser(op.issuer);
      const tokens = await browser.token(client, await browser.authorize(client));
      await browser.confirmLogout(await browser.logoutPage(tokens.id_token));
    };
    for (let i = 0; i < 8; i++) await flow(); // warm-up
    for (const c of rowsOf) {
      rp.received = [];
      let started = 0;
      const cpu0 = await op.cpu();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (started < total) {
            started++;
            await flow();
          }
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      const cpu = (await op.cpu()) - cpu0;
      if (rp.received.length !== total) throw new Error(`RP got ${rp.received.length} of ${total} tokens`);
      for (const { token } of rp.received) await checkLogoutToken(op, client, token);
      console.log(`| ${alg} | ${c} | ${(total / secs).toFixed(1)} | ${fmt(cpu / total)} ms |`);
    }
    op.stop();
    rp.close();
  }
}

const mode = process.argv[2];
if (mode === "fanout") await fanout();
else if (mode === "flows") await flows();
else {
  console.error("usage: node benches/race/race.mjs fanout|flows");
  process.exit(2);
}
process.exit(0);
