#!/usr/bin/env bash
# The whole test suite, set-up included, as a newcomer and CI run it: ./scripts/test.sh
#
# Set-up is pinned and stays inside the repository's ignored folders:
#   - the wasm32-unknown-unknown target (rustup), for the no_std build of core and the worker;
#   - node_modules from package-lock.json (`npm ci`, one workspace for the repository, js/ and
#     tests/js/): wrangler, miniflare, binaryen and esbuild for the Cloudflare Worker, jose and
#     typescript for the npm package's tests, jose and openid-client for interop tests;
#   - .tools/bin/wasm-bindgen (wasm-bindgen-cli at the Cargo.lock version), for the Worker and
#     the npm package.
#
# Steps: format; then two lanes side by side, each a chain of cargo builds with its own target
# directory so neither waits for the other's lock: the native lane lints and builds every crate
# and target in one pass (clippy-driver as the compiler of the workspace's crates, so the lint
# pass is the build) and runs the cargo test suite; the wasm lane builds wasm-bindgen-cli beside
# the no_std core build, then builds (and lints) the worker and checks it (`wrangler deploy
# --dry-run`, a Miniflare smoke test), then the npm package with Node's test runner. Once the
# native tests have run and the worker is ready, the end-to-end suites run again against the
# worker in workerd (OIDC_EDGE_TARGET=worker), beside the npm package's build and tests.
# Optional resources make tests print a SKIPPED notice; CI sets OIDC_EDGE_REQUIRE_VECTORS=1 and
# OIDC_EDGE_REQUIRE_INTEROP=1 so that a missing one fails instead.
# Every step prints its time as it ends (the wasm lane's log follows the native lane's), and a
# table of them all closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."

times=$(mktemp)
log=$(mktemp)
wasm_log=$(mktemp)
worker_ready=$(mktemp -u)
wasm_pid=""
# On the way out (a failed step), stop a wasm lane still running and the commands it started.
cleanup() {
  if [ -n "$wasm_pid" ]; then
    pkill -TERM -P "$wasm_pid" 2>/dev/null || true
    kill "$wasm_pid" 2>/dev/null || true
  fi
  rm -f "$log" "$times" "$wasm_log" "$worker_ready"
}
trap cleanup EXIT
run_started=$(date +%s)
step_name=""
step_started=0

# End the step under way (printing its time) and start the next one, named $*.
step() {
  finish_step
  step_name="$*"
  step_started=$(date +%s)
  printf '\n==> %s\n' "$*"
}
finish_step() {
  if [ -n "$step_name" ]; then
    local took=$(($(date +%s) - step_started))
    printf '<== %s: %d s\n' "$step_name" "$took"
    printf '%s\t%s\n' "$took" "$step_name" >>"$times"
    step_name=""
  fi
}

# `cargo clippy -- -D warnings` is cargo check with clippy-driver as the workspace's compiler;
# with cargo build or test instead of check, the same lints run on the way to the binaries.
lint_while_building() {
  RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver)
  export RUSTC_WORKSPACE_WRAPPER
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

step "set-up: the wasm32 target and npm packages (one workspace, pinned by package-lock.json)"
scripts/setup.sh wasm32 npm

step "format"
cargo fmt --all --check
finish_step

# The wasm lane, in the background. Once the worker is built and checked it writes
# $worker_ready, so the workerd suites start while the npm package is built and tested.
wasm_lane() {
  lint_while_building
  export CARGO_TARGET_DIR=target/wasm-lane
  step "wasm lane: no_std core for wasm32 (linted), and wasm-bindgen-cli built beside it"
  scripts/setup.sh wasm-bindgen >target/setup-wasm-bindgen.log 2>&1 &
  local tools=$!
  cargo build -p oidc-edge-core --no-default-features --target wasm32-unknown-unknown --locked
  if ! wait "$tools"; then
    cat target/setup-wasm-bindgen.log
    return 1
  fi
  tail -n 1 target/setup-wasm-bindgen.log

  step "wasm lane: the Cloudflare Worker (linted): build offline, wrangler deploy --dry-run, Miniflare smoke test"
  scripts/build-worker.sh dry-run smoke
  finish_step
  touch "$worker_ready"

  step "wasm lane: the npm package oidc-edge (edge/src/js, linted): build for Node and the web, Node's test runner"
  scripts/build-js.sh test
  finish_step
}
mkdir -p target
(wasm_lane) >"$wasm_log" 2>&1 &
wasm_pid=$!

# Chromium for the demo page's browser test, beside the builds (apt-get, about 45 s).
scripts/setup.sh browser >target/setup-browser.log 2>&1 &
browser_pid=$!

# The native lane, in the foreground.
lint_while_building
step "native lane: lint and build every crate and target (clippy -D warnings)"
cargo test --workspace --all-targets --locked --no-run
if ! wait "$browser_pid"; then
  echo "setting up Chromium failed:" >&2
  cat target/setup-browser.log >&2
  exit 1
fi
tail -n 1 target/setup-browser.log

step "native lane: tests"
cargo test --workspace --locked 2>&1 | tee -a "$log"
finish_step

# The workerd suites need the worker: wait for it (or for the wasm lane to fail).
while [ ! -e "$worker_ready" ] && kill -0 "$wasm_pid" 2>/dev/null; do
  sleep 1
done
if [ -e "$worker_ready" ]; then
  step "the end-to-end suites against the worker in workerd (OIDC_EDGE_TARGET=worker)"
  # One Miniflare (a workerd process) per test, as one native server per test above; the tests
  # mostly wait on HTTP, so four run at once even on two cores.
  OIDC_EDGE_TARGET=worker cargo test -p oidc-edge-tests --locked \
    --test scenarios --test backchannel --test server_smoke --test openid_client_interop \
    --test bad_input --test lifecycle --test demo --test observability --test rp_check --test console \
    -- --test-threads="${OIDC_EDGE_WORKER_TEST_THREADS:-4}" 2>&1 | tee -a "$log"
  finish_step
fi

printf '\n==> the wasm lane (its log, as it ran beside the native lane)\n'
wasm_ok=0
wait "$wasm_pid" || wasm_ok=$?
wasm_pid=""
cat "$wasm_log" | tee -a "$log"
if [ "$wasm_ok" != 0 ]; then
  echo "the wasm lane failed (exit $wasm_ok)" >&2
  exit "$wasm_ok"
fi

printf '\nstep times (s; the two lanes ran side by side):\n'
awk -F '\t' '{ printf "%6d  %s\n", $1, $2 }' "$times"
printf '%6d  total\n' "$(($(date +%s) - run_started))"

# One closing line for the whole run: cargo prints one line per test binary (doc-tests last),
# node's test runner `# pass n`, `# fail n`, `# skipped n`.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     /^# pass / { p += $3 } /^# fail / { f += $3 } /^# skipped / { s += $3 }
     END { printf "\nsummary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
