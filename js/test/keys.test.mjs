// generateKey and publicJwks: every algorithm, the members jose expects, thumbprint kids.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as jose from "jose";

import { oidc, thrown } from "./helpers.mjs";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"];

const ALGS = [
  ["ES256", "EC", "sig"],
  ["RS256", "RSA", "sig"],
  ["PS256", "RSA", "sig"],
  ["ECDH-ES", "EC", "enc"],
  ["ECDH-ES+A128KW", "EC", "enc"],
  ["ECDH-ES+A256KW", "EC", "enc"],
  ["RSA-OAEP-256", "RSA", "enc"],
];

describe("generateKey", () => {
  for (const [alg, kty, use] of ALGS) {
    test(`${alg}: a private ${kty} key for "${use}" whose kid is its RFC 7638 thumbprint`, async () => {
      const key = oidc.generateKey(alg);
      assert.equal(key.kty, kty);
      assert.equal(key.alg, alg);
      assert.equal(key.use, use);
      assert.equal(typeof key.d, "string");
      if (kty === "EC") {
        assert.equal(key.crv, "P-256");
        assert.equal(Buffer.from(key.d, "base64url").length, 32);
      } else {
        assert.equal(Buffer.from(key.n, "base64url").length, 256, "2048 bits");
        assert.equal(key.e, "AQAB");
        for (const m of PRIVATE_MEMBERS) assert.equal(typeof key[m], "string", m);
      }
      assert.equal(key.kid, await jose.calculateJwkThumbprint(key, "sha256"));
      // jose takes both halves as they are.
      await jose.importJWK(key, alg);
      await jose.importJWK(oidc.publicJwks(key).keys[0], alg);
    });
  }

  test("two keys differ", () => {
    assert.notEqual(oidc.generateKey("ES256").d, oidc.generateKey("ES256").d);
  });

  test("refuses what it cannot make", () => {
    for (const alg of ["HS256", "none", "EdDSA", "ES384", "RSA1_5", "dir", ""]) {
      const e = thrown(() => oidc.generateKey(alg));
      assert.ok(e instanceof Error);
      assert.equal(e.code, "unsupported_algorithm", alg);
    }
    assert.equal(thrown(() => oidc.generateKey("RS256", { modulusLength: 1024 })).code, "invalid_key");
    assert.equal(thrown(() => oidc.generateKey("ES256", { modulusLength: 2048 })).code, "invalid_argument");
    assert.equal(thrown(() => oidc.generateKey("ES256", { bits: 2048 })).code, "invalid_argument");
  });
});

describe("publicJwks", () => {
  const ec = oidc.generateKey("ES256");
  const enc = oidc.generateKey("ECDH-ES+A128KW");

  test("one key, an array, or a set: public members only, kid/alg/use kept", () => {
    for (const input of [[ec, enc], { keys: [ec, enc] }]) {
      const { keys } = oidc.publicJwks(input);
      assert.equal(keys.length, 2);
      for (const [k, from] of [
        [keys[0], ec],
        [keys[1], enc],
      ]) {
        for (const m of PRIVATE_MEMBERS) assert.equal(k[m], undefined, m);
        assert.deepEqual(
          { kid: k.kid, alg: k.alg, use: k.use, x: k.x, y: k.y },
          { kid: from.kid, alg: from.alg, use: from.use, x: from.x, y: from.y },
        );
      }
    }
    assert.deepEqual(oidc.publicJwks(ec), oidc.publicJwks([ec]));
    // Public keys go through unchanged.
    assert.deepEqual(oidc.publicJwks(oidc.publicJwks(ec)), oidc.publicJwks(ec));
  });

  test("RSA: n and e only", () => {
    const rsa = oidc.generateKey("PS256");
    const [k] = oidc.publicJwks(rsa).keys;
    assert.deepEqual(Object.keys(k).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
    assert.equal(k.n, rsa.n);
  });

  test("refuses what is not a key", () => {
    assert.equal(thrown(() => oidc.publicJwks("ES256")).code, "invalid_argument");
    assert.equal(thrown(() => oidc.publicJwks({ nokeys: [] })).code, "invalid_argument");
    assert.equal(thrown(() => oidc.publicJwks({ kty: "oct", k: "c2VjcmV0" })).code, "invalid_key");
    const offCurve = { ...oidc.publicJwks(ec).keys[0] };
    offCurve.y = Buffer.from(Buffer.from(offCurve.y, "base64url").map((b, i) => (i === 31 ? b ^ 1 : b))).toString("base64url");
    assert.equal(thrown(() => oidc.publicJwks(offCurve)).code, "invalid_key");
    assert.equal(thrown(() => oidc.publicJwks({ ...ec, x: enc.x })).code, "invalid_key");
  });
});
