// The built Cloudflare Worker (build/, from scripts/build-worker.sh) served by Miniflare (workerd)
// on a loopback port, for the Rust end-to-end tests when OIDC_EDGE_TARGET=worker
// (tests/src/target.rs starts one per test, as it starts one native server per test natively).
//
//   node tests/js/worker-host.mjs '<json settings>'
//
// Settings: { port, adminToken, masterKey, demo, testClock, delivery: { timeoutMs, retryMax,
// retryBaseMs } }. The worker gets the bindings of wrangler.toml: KV OIDC_KV (in memory), the
// logout Queue with its consumer and dead-letter queue, vars and secrets.
//
// Protocol, one JSON object per line: stdout first says {"ready":true,"url":...}; then each
// command read from stdin is answered with one line {"ok":true,...} or {"ok":false,"error":...}:
//   {"cmd":"scheduled"}        fire the cron trigger (core's expiry sweep) and wait for it;
//                              answers {"ended": n}, the sessions it ended (counted as the
//                              AM-SESSION-*_TIMED_OUT audit events it wrote)
//   {"cmd":"clock","ms":N}     set the worker's clock (TEST_CLOCK) to N ms since the epoch
// When stdin closes (the test dropped its handle, or died), Miniflare is disposed and the
// process exits, so no workerd is left behind.
//
// OIDC_EDGE_WORKER_VERBOSE=1 passes the worker's console output (audit lines) to stderr.
import readline from "node:readline";

import { workerMiniflare } from "./worker-miniflare.mjs";

const CLOCK_KEY = "test/clock-ms";

const settings = JSON.parse(process.argv[2] ?? "{}");
const verbose = process.env.OIDC_EDGE_WORKER_VERBOSE === "1";
const base = `http://127.0.0.1:${settings.port}`;
const delivery = settings.delivery ?? {};
const bindings = {
  BASE_URL: base,
  ADMIN_TOKEN: settings.adminToken,
  MASTER_KEY: settings.masterKey,
  DEMO_REALM: settings.demo ? "true" : "false",
  TEST_CLOCK: settings.testClock ? "true" : "false",
};
if (delivery.timeoutMs) bindings.DELIVERY_TIMEOUT_MS = String(delivery.timeoutMs);
if (delivery.retryMax !== undefined) bindings.DELIVERY_RETRY_MAX = String(delivery.retryMax);
if (delivery.retryBaseMs) bindings.DELIVERY_RETRY_BASE_MS = String(delivery.retryBaseMs);

const reply = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

const mf = workerMiniflare({
  bindings,
  host: "127.0.0.1",
  port: settings.port,
  verbose,
  stdio: { out: process.stderr, err: process.stderr },
});

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => close(0));
process.on("SIGINT", () => close(0));

/** How many sessions the sweep has ended so far, in all realms: its audit events. */
async function timedOut() {
  const kv = await mf.getKVNamespace("OIDC_KV");
  let n = 0;
  let cursor;
  do {
    const page = await kv.list({ prefix: "audit/", cursor });
    for (const { name } of page.keys) {
      const event = await kv.get(name, "json");
      if (/^AM-SESSION-(IDLE|MAX)_TIMED_OUT$/.test(event?.eventName ?? "")) n++;
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return n;
}

async function run(command) {
  switch (command.cmd) {
    case "scheduled": {
      const before = await timedOut();
      const worker = await mf.getWorker();
      const r = await worker.scheduled({ cron: "* * * * *" });
      if (r.outcome !== "ok") throw new Error(`the scheduled handler ended with ${r.outcome}`);
      return { ended: (await timedOut()) - before };
    }
    case "clock": {
      if (!Number.isSafeInteger(command.ms) || command.ms < 0) throw new Error("clock: ms must be a non-negative integer");
      const kv = await mf.getKVNamespace("OIDC_KV");
      await kv.put(CLOCK_KEY, String(command.ms));
      return {};
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}

try {
  const url = await mf.ready;
  // Commands run one at a time, in order: the tests wait for each answer.
  let chain = Promise.resolve();
  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (!line.trim()) return;
    chain = chain.then(async () => {
      try {
        reply({ ok: true, ...(await run(JSON.parse(line))) });
      } catch (e) {
        reply({ ok: false, error: String(e?.message ?? e) });
      }
    });
  });
  lines.on("close", () => chain.then(() => close(0)));
  reply({ ready: true, url: url.origin });
} catch (e) {
  process.stderr.write(`worker-host: ${e?.stack ?? e}\n`);
  reply({ ready: false, error: String(e?.message ?? e) });
  await close(1);
}
