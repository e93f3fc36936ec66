// What the npm package's standalone functions cost in Node: wall time per logout token of
// `mintLogoutToken` (RS256, PS256, ES256, one key each, minted one after another) and per key of
// `generateKey("RS256")` (2048 bits), against a package build.
//
//   scripts/build-js.sh && node benches/js_mint.mjs          (build/js)
//   node benches/js_mint.mjs path/to/build/js                 (another build of the package)
//   BENCH_RUNS=9 BENCH_TOKENS=50 BENCH_KEYS=9 ...              (the defaults)
//
// Each token figure is the median over BENCH_RUNS runs of BENCH_TOKENS tokens (after a few
// unmeasured tokens, so that the wasm is compiled and a key imported); the key figure is the
// median of BENCH_KEYS generations. Whether the functions return values or promises, the
// bench awaits them. Prints a Markdown table.
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const dir = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, "..", "build", "js"));
const oidc = require(path.join(dir, "node", "oidc_edge.js"));

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 50);
const KEYS = Number(process.env.BENCH_KEYS ?? 9);
const WARM_UP = 3;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const fmt = (ms) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

async function mintFigure(alg) {
  const key = await oidc.generateKey(alg);
  const mint = () =>
    oidc.mintLogoutToken({ key, issuer: "https://op.example", audience: "rp", subject: "u" });
  for (let i = 0; i < WARM_UP; i++) await mint();
  const perToken = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let i = 0; i < TOKENS; i++) await mint();
    perToken.push((performance.now() - start) / TOKENS);
  }
  return perToken;
}

async function keyFigure() {
  await oidc.generateKey("RS256");
  const perKey = [];
  for (let r = 0; r < KEYS; r++) {
    const start = performance.now();
    const key = await oidc.generateKey("RS256");
    perKey.push(performance.now() - start);
    if (Buffer.from(key.n, "base64url").length !== 256) throw new Error("not a 2048-bit key");
  }
  return perKey;
}

const rows = [];
for (const alg of ["RS256", "PS256", "ES256"]) {
  const xs = await mintFigure(alg);
  rows.push([`mintLogoutToken ${alg}`, median(xs), Math.min(...xs), Math.max(...xs), `${RUNS} x ${TOKENS} tokens`]);
}
const ks = await keyFigure();
rows.push(['generateKey("RS256")', median(ks), Math.min(...ks), Math.max(...ks), `${KEYS} keys`]);

console.log(`package: ${dir}; node ${process.version}`);
console.log("");
console.log("| operation | median ms | min ms | max ms | runs |");
console.log("| --- | ---: | ---: | ---: | --- |");
for (const [name, med, min, max, runs] of rows) {
  console.log(`| ${name} | ${fmt(med)} | ${fmt(min)} | ${fmt(max)} | ${runs} |`);
}
