#!/usr/bin/env bash
# The pinned tools the wasm builds and the tests need, installed inside the repository's ignored
# folders when missing or of another version; nothing is downloaded by a build itself.
#
#   scripts/setup.sh [wasm32] [npm] [wasm-bindgen]...
#
#   wasm32        the wasm32-unknown-unknown target (rustup)
#   npm           node_modules from package-lock.json (`npm ci`, one workspace: js/, tests/js/):
#                 wrangler, miniflare, binaryen (wasm-opt), esbuild, jose, typescript,
#                 openid-client; skipped while node_modules matches the lock file
#   browser       Chromium for the demo page's browser test (Debian's `chromium` package, by
#                 apt-get, as root; puppeteer-core, pinned in package-lock.json, drives it);
#                 skipped when a `chromium` is on PATH
#   wasm-bindgen  .tools/bin/wasm-bindgen: wasm-bindgen-cli at the Cargo.lock version of
#                 wasm-bindgen, built unoptimised (it only rewrites one module per build, in
#                 about a second, and builds in half the time an optimised build takes)
set -euo pipefail
cd "$(dirname "$0")/.."

lock_version() { # the version of crate $1 in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

tool_version() { # the version a tool prints for --version, or nothing
  "$1" --version 2>/dev/null | awk '{ print $NF; exit }' || true
}

for what in "$@"; do
  case "$what" in
    wasm32)
      if command -v rustup >/dev/null 2>&1; then
        rustup target add wasm32-unknown-unknown >/dev/null
      else
        echo "rustup not found: assuming the wasm32-unknown-unknown target is installed"
      fi
      ;;
    npm)
      if ! command -v npm >/dev/null 2>&1; then
        echo "npm not found: interop tests will be skipped (or fail under OIDC_EDGE_REQUIRE_INTEROP=1)"
      elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
      else
        echo "node_modules is up to date"
      fi
      ;;
    browser)
      if command -v chromium >/dev/null 2>&1; then
        chromium --version 2>/dev/null || true
      elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        # Debian's security updates replace the package's versions: the one tested with is
        # asked for first, and the current one taken (and named) when it is gone.
        apt-get update -qq
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          chromium=156.0.8078.114-1~deb12u1 >/dev/null; then
          echo "chromium 156.0.8078.114-1~deb12u1 is not available: installing the current one"
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
        fi
        chromium --version
      else
        echo "no chromium, and no apt-get as root: the browser test will be skipped (or fail under OIDC_EDGE_REQUIRE_INTEROP=1)"
      fi
      ;;
    wasm-bindgen)
      version=$(lock_version wasm-bindgen)
      if [ -z "$version" ]; then
        echo "Cargo.lock has no wasm-bindgen entry" >&2
        exit 1
      fi
      if [ "$(tool_version .tools/bin/wasm-bindgen)" != "$version" ]; then
        # Not --locked: the registry lacks one locked transitive version of wasm-bindgen-cli.
        # Its own target directory under target/, so it builds beside a workspace build; without
        # a lint wrapper a caller may have set for the workspace's crates (scripts/test.sh).
        env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo install wasm-bindgen-cli --version "$version" --root .tools --force \
          --bin wasm-bindgen --debug --config 'profile.dev.debug=false' \
          --target-dir target/tools
      fi
      echo "wasm-bindgen $version"
      ;;
    *)
      echo "unknown tool: $what (see the head of $0)" >&2
      exit 2
      ;;
  esac
done
