#!/usr/bin/env bash
# Build the npm package `oidc-edge` (edge/src/js, wasm-bindgen) offline with pinned tools, then
# optionally test it.
#
#   scripts/build-js.sh [--debug] [--no-opt] [--no-build] [test]
#
#   (no command)  build build/js: package.json, README.md, node/ (wasm-bindgen --target nodejs,
#                 CommonJS) and web/ (--target web, an ES module with an init function), each
#                 with its .wasm and .d.ts
#   test          ... then the Node tests, js/test/*.test.mjs (node --test): keys, logout
#                 tokens and every §2.6 failure, interop with `jose` both ways, the TypeScript
#                 declarations (tsc), and the Provider over node:http with a relying party
#   --debug       unoptimised wasm (cargo dev profile); implies --no-opt
#   --no-opt      skip wasm-opt
#   --no-build    use the build/js that is there (set-up still checked)
#
# Tools, all pinned and installed under ignored folders of the repository by scripts/setup.sh
# when missing:
#   .tools/bin/wasm-bindgen   wasm-bindgen-cli at the Cargo.lock version of wasm-bindgen (shared
#                             with scripts/build-worker.sh)
#   node_modules/             binaryen (wasm-opt), jose and typescript: the root package-lock.json
#                             (one npm workspace, js/ among its members)
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
    test) cmds+=("$arg") ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

size() { # "<KiB> KiB (<bytes> bytes), gzip -9 <KiB> KiB (<bytes> bytes)" of file $1
  local raw gz
  raw=$(wc -c <"$1")
  gz=$(gzip -9 -c "$1" | wc -c)
  echo "$((raw / 1024)) KiB ($raw bytes), gzip -9 $((gz / 1024)) KiB ($gz bytes)"
}

step "set-up: the wasm32 target, npm packages, wasm-bindgen-cli (scripts/setup.sh)"
scripts/setup.sh wasm32 npm wasm-bindgen

out=build/js
if [ "$build" = 1 ]; then
  step "build: cargo ($profile, --no-default-features --features js), wasm-bindgen$([ "$opt" = 1 ] || echo ', no wasm-opt')"
  started=$(date +%s)
  cargo_profile=()
  [ "$profile" = release ] && cargo_profile=(--release)
  cargo build -p oidc-edge --lib "${cargo_profile[@]}" --target wasm32-unknown-unknown \
    --no-default-features --features js --locked
  wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$profile/oidc_edge.wasm"
  rm -rf "$out"
  for target in nodejs web; do
    .tools/bin/wasm-bindgen --target "$target" --out-dir "$out/${target%js}" --out-name oidc_edge "$wasm"
  done
  if [ "$opt" = 1 ]; then
    # -O3: the crypto is what costs (an RS256 signature is tens of ms in wasm), and -Os or -Oz
    # save under 1%. Both flavours share one .wasm (only the JS glue differs): optimised once.
    node_modules/.bin/wasm-opt -O3 "$out/node/oidc_edge_bg.wasm" -o "$out/node/oidc_edge_bg.opt.wasm"
    if cmp -s "$out/node/oidc_edge_bg.wasm" "$out/web/oidc_edge_bg.wasm"; then
      cp "$out/node/oidc_edge_bg.opt.wasm" "$out/web/oidc_edge_bg.wasm"
    else
      node_modules/.bin/wasm-opt -O3 "$out/web/oidc_edge_bg.wasm" -o "$out/web/oidc_edge_bg.wasm"
    fi
    mv "$out/node/oidc_edge_bg.opt.wasm" "$out/node/oidc_edge_bg.wasm"
  fi
  # node/ is CommonJS and web/ an ES module, whatever the package around them says.
  echo '{ "type": "commonjs" }' >"$out/node/package.json"
  echo '{ "type": "module" }' >"$out/web/package.json"
  # The package's metadata without what only building it needs.
  node -e '
    const fs = require("fs");
    const pkg = JSON.parse(fs.readFileSync("js/package.json", "utf8"));
    delete pkg.scripts;
    delete pkg.devDependencies;
    fs.writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
  ' "$out/package.json"
  cp js/README.md "$out/README.md"
  echo "built in $(($(date +%s) - started)) s:"
  for f in "$out"/node/oidc_edge_bg.wasm "$out"/web/oidc_edge_bg.wasm; do
    echo "  $f $(size "$f")"
  done
  for f in "$out"/node/oidc_edge.js "$out"/web/oidc_edge.js; do
    echo "  $f $(size "$f")"
  done
fi
for f in package.json node/oidc_edge.js node/oidc_edge.d.ts node/oidc_edge_bg.wasm \
  web/oidc_edge.js web/oidc_edge.d.ts web/oidc_edge_bg.wasm; do
  if [ ! -f "$out/$f" ]; then
    echo "no package build in $out: $f is missing (run without --no-build)" >&2
    exit 1
  fi
done

for cmd in "${cmds[@]}"; do
  case "$cmd" in
    test)
      step "Node tests (js/test)"
      node --test --test-concurrency=1 js/test/*.test.mjs
      ;;
  esac
done
