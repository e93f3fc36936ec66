// The built Cloudflare Worker (build/, from scripts/build-worker.sh) as Miniflare runs it: the
// bindings of wrangler.toml (the realms' Durable Objects REALM_STATE, KV OIDC_KV, the logout
// Queue with its consumer and dead-letter queue, vars and secrets), offline. Shared by worker-smoke.mjs and worker-host.mjs.
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Log, LogLevel, Miniflare } from "miniflare";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const build = path.join(root, "build");
export const QUEUE = "oidc-edge-logout";
export const DLQ = "oidc-edge-logout-dlq";

/**
 * A Miniflare running the worker with `bindings` (vars and secrets; DEAD_LETTER_QUEUE is set
 * here). `host`/`port` serve it on a real socket; `verbose` passes the worker's console output
 * (audit lines) to `stdio` (default: this process's stdout and stderr), else it is dropped;
 * `onOutput(text)`, when given, sees all of it either way.
 */
/** The worker's modules and compatibility date, as wrangler.toml. */
const workerModules = {
  modulesRoot: build,
  modules: [
    { type: "ESModule", path: path.join(build, "worker/shim.mjs") },
    { type: "ESModule", path: path.join(build, "index.js") },
    { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
  ],
  compatibilityDate: "2026-04-26",
};

/** The realms' Durable Objects, as wrangler.toml binds them. */
const REALM_STATE = { className: "RealmState", useSQLite: true };

/**
 * Two instances of the worker in one workerd (`a` and `b`, two isolates, as two locations see
 * it): one KV namespace between them, and — when `strong` — one set of realm objects, `a`'s class
 * bound by `b` too. Without `strong`, neither has the binding: everything on KV, as before the
 * Durable Objects. `mf.getWorker("a" | "b")` reaches each.
 */
export function twoWorkersMiniflare({ bindings, strong }) {
  const worker = (name, objects) => ({
    name,
    ...workerModules,
    kvNamespaces: { OIDC_KV: "oidc-kv-shared" },
    ...(strong ? { durableObjects: { REALM_STATE: objects } } : {}),
    queueProducers: { LOGOUT_QUEUE: { queueName: QUEUE } },
    bindings: { ...bindings, DEAD_LETTER_QUEUE: DLQ },
  });
  return new Miniflare({
    workers: [worker("a", REALM_STATE), worker("b", { ...REALM_STATE, scriptName: "a" })],
    cf: false,
    log: new Log(LogLevel.WARN),
  });
}

/**
 * `strong: false` leaves the realms' Durable Objects unbound: the worker then keeps everything
 * on KV, as it did before them (the bench's baseline design).
 */
export function workerMiniflare({ bindings, host, port, verbose = false, stdio, onOutput, strong = true }) {
  return new Miniflare({
    ...(port !== undefined ? { host, port } : {}),
    ...workerModules,
    // As wrangler.toml.
    kvNamespaces: ["OIDC_KV"],
    ...(strong ? { durableObjects: { REALM_STATE } } : {}),
    queueProducers: { LOGOUT_QUEUE: { queueName: QUEUE } },
    // As wrangler.toml, with the consumer's own retry delay shortened for tests.
    queueConsumers: {
      [QUEUE]: { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 5, retryDelay: 1, deadLetterQueue: DLQ },
      [DLQ]: { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 5 },
    },
    bindings: { ...bindings, DEAD_LETTER_QUEUE: DLQ },
    cf: false,
    log: new Log(verbose ? LogLevel.DEBUG : LogLevel.WARN),
    handleRuntimeStdio: (out, err) => {
      if (onOutput) {
        out.on("data", (chunk) => onOutput(String(chunk)));
        err.on("data", (chunk) => onOutput(String(chunk)));
      }
      if (verbose) {
        out.pipe(stdio?.out ?? process.stdout);
        err.pipe(stdio?.err ?? process.stderr);
      } else {
        out.resume();
        err.resume();
      }
    },
  });
}
