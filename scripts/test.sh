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
# Steps: format, lint, the no_std core build, the worker built offline and checked
# (`wrangler deploy --dry-run`, a Miniflare smoke test), the npm package built and tested with
# Node's test runner, the whole cargo test suite natively, then the end-to-end suites again
# against the worker in workerd (OIDC_EDGE_TARGET=worker).
# Optional resources make tests print a SKIPPED notice; CI sets OIDC_EDGE_REQUIRE_VECTORS=1 and
# OIDC_EDGE_REQUIRE_INTEROP=1 so that a missing one fails instead.
# Every step prints its time as it ends, and a table of them all closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."

times=$(mktemp)
log=$(mktemp)
trap 'rm -f "$log" "$times"' EXIT
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

step "set-up: rust target wasm32-unknown-unknown"
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-unknown-unknown >/dev/null
else
  echo "rustup not found: assuming the wasm32-unknown-unknown target is installed"
fi

step "set-up: npm packages (one workspace, pinned by package-lock.json)"
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
else
  echo "npm not found: interop tests will be skipped (or fail under OIDC_EDGE_REQUIRE_INTEROP=1)"
fi

step "format"
cargo fmt --all --check

step "lint (host: every crate and target)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "lint (wasm32: the worker and js features)"
# The wasm32-only code: the Workers host (edge/src/worker) and the npm package (edge/src/js).
# Both features in one pass: they compile side by side, and each is linted with the other's code.
cargo clippy -p oidc-edge --target wasm32-unknown-unknown --features js --locked -- -D warnings

step "no_std core for wasm32"
cargo build -p oidc-edge-core --no-default-features --target wasm32-unknown-unknown --locked

step "the Cloudflare Worker: build offline, wrangler deploy --dry-run, Miniflare smoke test"
scripts/build-worker.sh dry-run smoke 2>&1 | tee -a "$log"

step "the npm package oidc-edge (edge/src/js): build for Node and the web, Node's test runner"
scripts/build-js.sh test 2>&1 | tee -a "$log"

step "tests (native)"
cargo test --workspace --locked 2>&1 | tee -a "$log"

step "the end-to-end suites against the worker in workerd (OIDC_EDGE_TARGET=worker)"
# One Miniflare (a workerd process) per test, as one native server per test above; the tests
# mostly wait on HTTP, so four run at once even on two cores.
OIDC_EDGE_TARGET=worker cargo test -p oidc-edge-tests --locked \
  --test scenarios --test backchannel --test server_smoke --test openid_client_interop \
  --test bad_input \
  -- --test-threads="${OIDC_EDGE_WORKER_TEST_THREADS:-4}" 2>&1 | tee -a "$log"
finish_step

printf '\nstep times (s):\n'
awk -F '\t' '{ printf "%6d  %s\n", $1, $2 }' "$times"
printf '%6d  total\n' "$(($(date +%s) - run_started))"

# One closing line for the whole run: cargo prints one line per test binary (doc-tests last),
# node's test runner `# pass n`, `# fail n`, `# skipped n`.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     /^# pass / { p += $3 } /^# fail / { f += $3 } /^# skipped / { s += $3 }
     END { printf "\nsummary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
