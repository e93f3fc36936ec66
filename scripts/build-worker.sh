#!/usr/bin/env bash
# Build the Cloudflare Worker (edge/src/worker) offline with pinned tools, then optionally run it.
#
#   scripts/build-worker.sh [--debug] [--no-opt] [--no-build] [COMMAND...]
#
#   (no command)  build build/worker/shim.mjs (+ build/index.js, build/index_bg.wasm)
#   dry-run       ... then `wrangler deploy --dry-run --outdir build/dry-run` (validates wrangler.toml)
#   smoke         ... then the Miniflare smoke test, tests/js/worker-smoke.mjs
#   bench         ... then the edge cost bench, edge/benches/worker.mjs (workerd CPU per request)
#   dev           ... then `wrangler dev` on http://127.0.0.1:8787 with local KV and Queue state
#                 under .wrangler/state (creates .dev.vars with fresh secrets if missing); last
#   Commands run in the order given: CI runs `scripts/build-worker.sh dry-run smoke`.
#   --debug       unoptimised wasm (worker-build --dev); implies --no-opt
#   --no-opt      skip wasm-opt
#   --no-build    use the build/ that is there (set-up still checked)
#
# Tools, all pinned and installed under ignored folders of the repository, never downloaded by
# the build itself (worker-build would otherwise fetch wasm-bindgen, wasm-opt and esbuild):
#   .tools/bin/wasm-bindgen   wasm-bindgen-cli at the Cargo.lock version of wasm-bindgen
#   .tools/bin/worker-build   worker-build at the Cargo.lock version of the `worker` crate
#   node_modules/             wrangler, miniflare, binaryen (wasm-opt), esbuild: package-lock.json
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

profile=--release
opt=1
build=1
cmds=()
for arg in "$@"; do
  case "$arg" in
    --debug) profile=--dev; opt=0 ;;
    --no-opt) opt=0 ;;
    --no-build) build=0 ;;
    dev | dry-run | smoke | bench) cmds+=("$arg") ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

# wrangler: no telemetry, no request to Cloudflare for `request.cf` (a 7 s stall offline), and
# its config files inside the repository (git-ignored), not in the user's home.
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="$root/.xdg"

lock_version() { # the version of crate $1 in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

tool_version() { # the version a tool prints for --version, or nothing
  "$1" --version 2>/dev/null | awk '{ print $NF; exit }' || true
}

step "set-up: rust target wasm32-unknown-unknown"
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-unknown-unknown >/dev/null
fi

step "set-up: npm packages (wrangler, miniflare, binaryen; pinned by package-lock.json)"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "node_modules is up to date"
fi

step "set-up: wasm-bindgen-cli and worker-build under .tools"
wbg_version=$(lock_version wasm-bindgen)
wb_version=$(lock_version worker)
if [ -z "$wbg_version" ] || [ -z "$wb_version" ]; then
  echo "Cargo.lock has no wasm-bindgen or worker entry" >&2
  exit 1
fi
if [ "$(tool_version .tools/bin/wasm-bindgen)" != "$wbg_version" ]; then
  # Not --locked: the registry lacks one locked transitive version of wasm-bindgen-cli.
  cargo install wasm-bindgen-cli --version "$wbg_version" --root .tools --force
fi
if [ "$(tool_version .tools/bin/worker-build)" != "$wb_version" ]; then
  cargo install worker-build --version "$wb_version" --locked --root .tools --force
fi
echo "wasm-bindgen $wbg_version, worker-build $wb_version"

if [ "$build" = 1 ]; then
  step "build: worker-build $profile$([ "$opt" = 1 ] || echo ' --no-opt')"
  export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
  export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
  export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
  opt_flag=()
  [ "$opt" = 1 ] || opt_flag=(--no-opt)
  started=$(date +%s)
  .tools/bin/worker-build "$profile" "${opt_flag[@]}" --out-dir "$root/build" edge
  wasm=build/index_bg.wasm
  raw=$(wc -c <"$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "built in $(($(date +%s) - started)) s: $wasm $((raw / 1024)) KiB ($raw bytes), gzip -9 $((gz / 1024)) KiB ($gz bytes)"
fi
if [ ! -f build/worker/shim.mjs ] || [ ! -f build/index_bg.wasm ]; then
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
      ;;
    bench)
      step "edge cost bench (Miniflare): workerd CPU and wall time per request"
      node edge/benches/worker.mjs
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
