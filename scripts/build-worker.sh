#!/usr/bin/env bash
# Build the Cloudflare Worker (edge/src/worker) offline with pinned tools, then optionally run it.
#
#   scripts/build-worker.sh [--debug] [--no-opt] [--no-build] [COMMAND...]
#
#   (no command)  build build/index.js (+ build/index_bg.wasm, build/worker/shim.mjs)
#   dry-run       ... then `wrangler deploy --dry-run --outdir build/dry-run` (validates wrangler.toml)
#   smoke         ... then the Miniflare smoke test, tests/js/worker-smoke.mjs, and the concurrent
#                 redemption through two instances, tests/js/worker-two-isolates.mjs
#   bench         ... then the edge cost bench, benches/worker.mjs (workerd CPU per request)
#   dev           ... then `wrangler dev` on http://127.0.0.1:8787 with local KV and Queue state
#                 under .wrangler/state (creates .dev.vars with fresh secrets if missing); last
#   Commands run in the order given: CI runs `scripts/build-worker.sh dry-run smoke`.
#   --debug       unoptimised wasm (cargo dev profile); implies --no-opt
#   --no-opt      skip wasm-opt
#   --no-build    use the build/ that is there (set-up still checked)
#
# The build: cargo builds the crate to wasm32; wasm-bindgen (`--target module`) writes the JS
# glue; esbuild bundles it with the entry module edge/src/worker/entry.mjs (fetch, queue and
# scheduled bound to the wasm exports) into build/index.js; wasm-opt optimises build/index_bg.wasm.
# Tools, all pinned and installed under ignored folders of the repository by scripts/setup.sh
# when missing, never downloaded by the build itself:
#   .tools/bin/wasm-bindgen   wasm-bindgen-cli at the Cargo.lock version of wasm-bindgen
#   node_modules/             wrangler, miniflare, binaryen (wasm-opt), esbuild: package-lock.json
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

profile=release
opt=1
build=1
cmds=()
for arg in "$@"; do
  case "$arg" in
    --debug) profile=debug; opt=0 ;;
    --no-opt) opt=0 ;;
    --no-build) build=0 ;;
    dev | dry-run | smoke | bench) cmds+=("$arg") ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

# wrangler: no telemetry, no request to Cloudflare for `request.cf` (a 7 s stall offline), and
# its config files inside the repository (git-ignored), not in the user's home.
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="$root/.xdg"

step "set-up: the wasm32 target, npm packages, wasm-bindgen-cli (scripts/setup.sh)"
scripts/setup.sh wasm32 npm wasm-bindgen

if [ "$build" = 1 ]; then
  step "build: cargo ($profile), wasm-bindgen, esbuild$([ "$opt" = 1 ] && echo ', wasm-opt' || echo ', no wasm-opt')"
  started=$(date +%s)
  cargo_profile=()
  [ "$profile" = release ] && cargo_profile=(--release)
  cargo build -p oidc-edge --lib "${cargo_profile[@]}" --target wasm32-unknown-unknown --locked
  wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$profile/oidc_edge.wasm"
  # Staged in build/.stage, then moved into place: a failed build leaves the last good one.
  stage=build/.stage
  rm -rf "$stage"
  mkdir -p "$stage/worker"
  # --target module: the glue imports the .wasm as a compiled module (what workerd gives a
  # `CompiledWasm` module); the reset-state function and abort handler let the entry module
  # start a fresh instance after a panic.
  .tools/bin/wasm-bindgen --target module --out-dir "$stage" --out-name index --no-typescript \
    --experimental-reset-state-function --force-enable-abort-handler "$wasm"
  if [ "$opt" = 1 ]; then
    # -O with only the wasm features workerd supports (no encodings newer than the runtime);
    # the names section is kept for readable stack traces.
    node_modules/.bin/wasm-opt -O --enable-mutable-globals --enable-sign-ext \
      --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue \
      --enable-reference-types --enable-exception-handling --debuginfo \
      "$stage/index_bg.wasm" -o "$stage/index_bg.wasm"
  fi
  cp edge/src/worker/entry.mjs "$stage/entry.mjs"
  # One ES module for the glue, its snippets and the entry; the .wasm and the runtime's own
  # modules stay imports. esbuild keeps the source-phase `import source` of the .wasm, which
  # workerd knows as a plain import of a compiled module.
  (cd "$stage" && "$root/node_modules/.bin/esbuild" --bundle --format=esm --minify \
    --external:./index_bg.wasm '--external:cloudflare:*' --log-level=warning \
    entry.mjs --outfile=bundle.js)
  sed -i 's/import source /import /g' "$stage/bundle.js"
  mkdir -p build/worker
  mv "$stage/bundle.js" build/index.js
  mv "$stage/index_bg.wasm" build/index_bg.wasm
  # wrangler.toml's `main`: the bundle, re-exported.
  printf '%s\n' "export * from '../index.js';" "export { default } from '../index.js';" \
    >build/worker/shim.mjs
  rm -rf "$stage"
  wasm=build/index_bg.wasm
  raw=$(wc -c <"$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "built in $(($(date +%s) - started)) s: $wasm $((raw / 1024)) KiB ($raw bytes), gzip -9 $((gz / 1024)) KiB ($gz bytes)"
fi
if [ ! -f build/worker/shim.mjs ] || [ ! -f build/index.js ] || [ ! -f build/index_bg.wasm ]; then
  echo "no worker build in build/ (run without --no-build)" >&2
  exit 1
fi

for cmd in "${cmds[@]}"; do
  case "$cmd" in
    dry-run)
      step "wrangler deploy --dry-run"
      npx --no-install wrangler deploy --dry-run --outdir build/dry-run
      ;;
    smoke)
      step "smoke test (Miniflare)"
      node tests/js/worker-smoke.mjs
      step "one code redeemed at once through two worker instances sharing the realms' objects"
      node tests/js/worker-two-isolates.mjs
      ;;
    bench)
      step "edge cost bench (Miniflare): workerd CPU and wall time per request"
      node benches/worker.mjs
      ;;
    dev)
      if [ ! -f .dev.vars ]; then
        token=$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')
        key=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
        sed -e "s|^ADMIN_TOKEN=.*|ADMIN_TOKEN=$token|" -e "s|^MASTER_KEY=.*|MASTER_KEY=$key|" \
          .dev.vars.example >.dev.vars
        chmod 600 .dev.vars
        echo "created .dev.vars with a new admin token and master key (kept for later runs)"
        if [ -d .wrangler/state ]; then
          echo "warning: .wrangler/state holds keys sealed with an earlier MASTER_KEY;" \
            "remove .wrangler/state to start afresh" >&2
        fi
      fi
      step "wrangler dev on http://127.0.0.1:8787 (state in .wrangler/state; Ctrl-C stops)"
      echo "admin token: $(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars)"
      echo "cron: curl 'http://127.0.0.1:8787/__scheduled?cron=*+*+*+*+*'"
      exec npx --no-install wrangler dev --ip 127.0.0.1 --port 8787 \
        --persist-to .wrangler/state --test-scheduled
      ;;
  esac
done
