// The TypeScript declarations of both builds: present, declaring every export, and precise
// enough that `tsc` accepts the README's usage (types/usage.ts) and refuses misuse
// (types/bad.ts), with typescript from the root node_modules (pinned by package-lock.json).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";

import { oidc, pkgDir, root } from "./helpers.mjs";

const FUNCTIONS = ["generateKey", "publicJwks", "mintLogoutToken", "verifyLogoutToken"];
const PROVIDER_METHODS = ["handle", "sweep", "seedDemo", "runDeliveries", "idle", "issuer"];
const TYPES = [
  "Jwk",
  "PrivateJwk",
  "Jwks",
  "MintLogoutTokenOptions",
  "VerifyLogoutTokenOptions",
  "LogoutTokenClaims",
  "LogoutTokenErrorCode",
  "OidcEdgeError",
  "ProviderOptions",
  "ProviderStore",
  "DeliveryRequest",
  "Deliverer",
  "DeliveryOptions",
  "DeliveryReport",
  "WaitUntil",
];
const tsc = path.join(root, "node_modules/.bin/tsc");

function runTsc(project) {
  const r = spawnSync(tsc, ["-p", path.join(root, "js/test/types", project)], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("TypeScript declarations", () => {
  for (const flavour of ["node", "web"]) {
    test(`${flavour}/oidc_edge.d.ts declares every export`, () => {
      const file = path.join(pkgDir, flavour, "oidc_edge.d.ts");
      assert.ok(existsSync(file), file);
      const dts = readFileSync(file, "utf8");
      for (const f of FUNCTIONS) assert.match(dts, new RegExp(`export function ${f}\\(`), f);
      assert.match(dts, /export class Provider \{/);
      const provider = dts.slice(dts.indexOf("export class Provider {"));
      assert.match(provider, /constructor\(options: ProviderOptions\)/);
      for (const m of PROVIDER_METHODS) assert.match(provider, new RegExp(`\\n\\s+${m}\\(`), m);
      for (const t of TYPES) assert.match(dts, new RegExp(`export (interface|type) ${t}\\b`), t);
      // The functions are typed with those, not `any`.
      assert.match(dts, /export function verifyLogoutToken\(token: string, options: VerifyLogoutTokenOptions\): LogoutTokenClaims;/);
      assert.match(dts, /handle\(request: Request, ctx\?: WaitUntil\): Promise<Response>;/);
      if (flavour === "web") assert.match(dts, /export default function __wbg_init/);
    });
  }

  test("the runtime exports are the declared ones", () => {
    assert.deepEqual(
      Object.keys(oidc).filter((k) => k !== "default" && k !== "module.exports").sort(),
      [...FUNCTIONS, "Provider"].sort(),
    );
  });

  test("the package resolves by name: exports for Node, the web build, its .wasm", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "oidc-edge-"));
    try {
      mkdirSync(path.join(dir, "node_modules"));
      symlinkSync(pkgDir, path.join(dir, "node_modules/oidc-edge"), "dir");
      writeFileSync(
        path.join(dir, "probe.mjs"),
        `import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { verifyLogoutToken, Provider } from "oidc-edge";
import init, { generateKey } from "oidc-edge/web";
const require = createRequire(import.meta.url);
const cjs = require("oidc-edge");
await init({ module_or_path: readFileSync(require.resolve("oidc-edge/web/oidc_edge_bg.wasm")) });
const pkg = require("oidc-edge/package.json");
console.log(JSON.stringify([typeof verifyLogoutToken, typeof Provider, (await generateKey("ES256")).kty, typeof cjs.mintLogoutToken, pkg.name, pkg.devDependencies]));
`,
      );
      const r = spawnSync(process.execPath, [path.join(dir, "probe.mjs")], { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), ["function", "function", "EC", "function", "oidc-edge", null]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("tsc accepts the documented usage (types/usage.ts)", { skip: !existsSync(tsc) && "typescript is not installed" }, () => {
    const r = runTsc("tsconfig.json");
    assert.equal(r.status, 0, r.out);
  });

  test("tsc refuses misuse (types/bad.ts), line by line", { skip: !existsSync(tsc) && "typescript is not installed" }, () => {
    const r = runTsc("tsconfig.bad.json");
    assert.notEqual(r.status, 0);
    const lines = [...r.out.matchAll(/bad\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(lines, ["4:TS2345", "5:TS2345", "6:TS2322", "7:TS2345", "8:TS2322", "9:TS2322", "10:TS2739"], r.out);
    assert.doesNotMatch(r.out, /oidc_edge\.d\.ts/, "the declarations themselves compile");
  });
});
