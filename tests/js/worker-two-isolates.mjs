// One authorization code redeemed at once through two instances of the worker (two isolates in
// one workerd, as two locations would): 20 concurrent token requests, ten through each. With the
// realms' Durable Objects exactly one succeeds; with everything on KV (no REALM_STATE binding),
// how many succeed is printed beside it, for the README.
//
//   node tests/js/worker-two-isolates.mjs     (needs build/ from scripts/build-worker.sh)
//
// Prints one JSON line {"strong": {"ok": n, ...}, "kv": {...}}; exits 1 unless strong.ok is 1
// in every round.
import { randomBytes } from "node:crypto";

import { httpClient } from "./http-client.mjs";
import { twoWorkersMiniflare } from "./worker-miniflare.mjs";

const BASE = "http://127.0.0.1:8787";
const ADMIN_TOKEN = randomBytes(24).toString("base64url");
const REDIRECT = "http://127.0.0.1:9/cb";
const ROUNDS = 3;

async function race(strong) {
  const mf = twoWorkersMiniflare({
    strong,
    bindings: {
      BASE_URL: BASE,
      ADMIN_TOKEN,
      MASTER_KEY: randomBytes(32).toString("base64url"),
      DEMO_REALM: "false",
      TEST_CLOCK: "false",
    },
  });
  try {
    await mf.ready;
    const [a, b] = [await mf.getWorker("a"), await mf.getWorker("b")];
    const via = (w) => httpClient((url, init) => w.fetch(url, init), BASE, ADMIN_TOKEN);
    const [callA, callB] = [via(a), via(b)];
    const must = (r, status, what) => {
      if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text}`);
      return r;
    };
    must(await callA("PUT", "/admin/realms/two", { admin: true, json: {} }), 201, "realm");
    must(await callA("PUT", "/admin/realms/two/users/u", { admin: true, json: { password: "a password" } }), 201, "user");
    const secret = randomBytes(24).toString("base64url");
    must(
      await callA("PUT", "/admin/realms/two/clients/rp", {
        admin: true,
        json: { redirect_uris: [REDIRECT], client_secret: secret, first_party: true },
      }),
      201,
      "client",
    );
    const rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const auth = must(await callA("POST", "/realms/two/authenticate", { json: { username: "u", password: "a password" } }), 200, "authenticate");
      const cookie = auth.headers.get("set-cookie").split(";")[0];
      const q = new URLSearchParams({ response_type: "code", client_id: "rp", redirect_uri: REDIRECT, scope: "openid", state: "s", nonce: "n" });
      const authz = must(await callA("GET", `/realms/two/authorize?${q}`, { headers: { cookie } }), 302, "authorize");
      const code = new URL(authz.headers.get("location")).searchParams.get("code");
      const form = { grant_type: "authorization_code", code, redirect_uri: REDIRECT };
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? callB : callA)("POST", "/realms/two/token", { form, basic: ["rp", secret] })),
      );
      const ok = answers.filter((r) => r.status === 200).length;
      const refused = answers.filter((r) => r.status === 400 && r.json?.error === "invalid_grant").length;
      rounds.push({ ok, refused, other: answers.length - ok - refused });
    }
    return rounds;
  } finally {
    await mf.dispose();
  }
}

const strong = await race(true);
const kv = await race(false);
process.stdout.write(`${JSON.stringify({ strong, kv })}\n`);
if (!strong.every((r) => r.ok === 1 && r.other === 0)) {
  process.stderr.write("with the realms' Durable Objects, exactly one redemption must succeed in each round\n");
  process.exit(1);
}
