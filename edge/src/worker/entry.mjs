// The Worker's entry module: the three events workerd delivers, each handed to the handler that
// edge/src/worker exports through wasm-bindgen (`#[event(fetch)]`, `#[event(queue)]`,
// `#[event(scheduled)]`), and the realm's Durable Object class. scripts/build-worker.sh bundles it with the wasm-bindgen glue
// (`wasm-bindgen --target module`) into build/index.js; the .wasm stays a module of its own.
//
// A Rust panic aborts the wasm instance (panic = "abort"). The `worker` crate's panic hook marks
// the shared init state critical; the next event then starts a fresh instance (the glue's
// `__wbg_reset_state`, from `--experimental-reset-state-function`) instead of failing for good.
import * as wasm from "./index.js";

const state = wasm.__worker_init_state();

addEventListener("error", (e) => noteCritical(e.error));

function noteCritical(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error("Critical", e);
    state.criticalError = true;
  }
}

async function run(handler, event, env, ctx) {
  if (state.criticalError) {
    console.log("Reinitializing Wasm application");
    wasm.__wbg_reset_state();
    state.criticalError = false;
    state.instanceId++;
  }
  try {
    return await handler(event, env, ctx);
  } catch (e) {
    noteCritical(e);
    throw e;
  }
}

export default {
  fetch: (request, env, ctx) => run(wasm.fetch, request, env, ctx),
  queue: (batch, env, ctx) => run(wasm.queue, batch, env, ctx),
  scheduled: (event, env, ctx) => run(wasm.scheduled, event, env, ctx),
};

// The realm's Durable Object (edge/src/worker/objects.rs): its `fetch` runs one store operation,
// its `alarm` ends the sessions that are due. The Rust object is made again after a fresh wasm
// instance (a panic elsewhere), from the same state and env: it keeps nothing in memory.
export class RealmState {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    this.instanceId = -1;
  }

  inner() {
    if (this.instanceId !== state.instanceId || !this.object) {
      this.object = new wasm.RealmState(this.state, this.env);
      this.instanceId = state.instanceId;
    }
    return this.object;
  }

  fetch(request) {
    return run(() => this.inner().fetch(request));
  }

  alarm() {
    return run(() => this.inner().alarm());
  }
}
