#!/usr/bin/env bash
# The whole test suite, set-up included, as a newcomer and CI run it: ./scripts/test.sh
#
# Set-up is pinned and stays inside the repository's ignored folders:
#   - the wasm32-unknown-unknown target (rustup), for the no_std build of core;
#   - tests/js/node_modules from tests/js/package-lock.json (`npm ci`), for interop with the
#     `jose` and `openid-client` packages.
# Optional resources make tests print a SKIPPED notice; CI sets OIDC_EDGE_REQUIRE_VECTORS=1 and
# OIDC_EDGE_REQUIRE_INTEROP=1 so that a missing one fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "set-up: rust target wasm32-unknown-unknown"
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-unknown-unknown >/dev/null
else
  echo "rustup not found: assuming the wasm32-unknown-unknown target is installed"
fi

step "set-up: npm packages for interop tests (tests/js, pinned by package-lock.json)"
if command -v npm >/dev/null 2>&1; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: interop tests will be skipped (or fail under OIDC_EDGE_REQUIRE_INTEROP=1)"
fi

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std core for wasm32"
cargo build -p oidc-edge-core --no-default-features --target wasm32-unknown-unknown --locked

step "the Workers binding compiles for wasm32 (edge/src/worker)"
cargo build -p oidc-edge --target wasm32-unknown-unknown --locked

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary, doc-tests last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\nsummary: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
