// The built Cloudflare Worker (build/, from scripts/build-worker.sh) as Miniflare runs it: the
// bindings of wrangler.toml (KV OIDC_KV, the logout Queue with its consumer and dead-letter
// queue, vars and secrets), offline. Shared by worker-smoke.mjs and worker-host.mjs.
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
export function workerMiniflare({ bindings, host, port, verbose = false, stdio, onOutput }) {
  return new Miniflare({
    ...(port !== undefined ? { host, port } : {}),
    modulesRoot: build,
    modules: [
      { type: "ESModule", path: path.join(build, "worker/shim.mjs") },
      { type: "ESModule", path: path.join(build, "index.js") },
      { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
    ],
    // As wrangler.toml.
    compatibilityDate: "2026-04-26",
    kvNamespaces: ["OIDC_KV"],
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
