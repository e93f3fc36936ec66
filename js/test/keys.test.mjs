// generateKey and publicJwks: every algorithm, the members jose expects, thumbprint kids; RSA
// keys from WebCrypto, of the size asked for.
import assert from "node:assert/strict";
import { createPublicKey, createPrivateKey, sign, verify } from "node:crypto";
import { describe, test } from "node:test";

import * as jose from "jose";

import { oidc, rejection, spySubtle, thrown } from "./helpers.mjs";

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
      const key = await oidc.generateKey(alg);
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

  test("two keys differ", async () => {
    assert.notEqual((await oidc.generateKey("ES256")).d, (await oidc.generateKey("ES256")).d);
    assert.notEqual((await oidc.generateKey("RS256")).n, (await oidc.generateKey("RS256")).n);
  });

  test("refuses what it cannot make, as a rejected promise", async () => {
    for (const alg of ["HS256", "none", "EdDSA", "ES384", "RSA1_5", "dir", ""]) {
      const e = await rejection(oidc.generateKey(alg));
      assert.ok(e instanceof Error);
      assert.equal(e.code, "unsupported_algorithm", alg);
    }
    for (const modulusLength of [1024, 2047, 4097, 8192]) {
      const e = await rejection(oidc.generateKey("RS256", { modulusLength }));
      assert.equal(e.code, "invalid_key", String(modulusLength));
      assert.match(e.message, /2048 to 4096 bits/);
    }
    assert.equal((await rejection(oidc.generateKey("ES256", { modulusLength: 2048 }))).code, "invalid_argument");
    assert.equal((await rejection(oidc.generateKey("ES256", { bits: 2048 }))).code, "invalid_argument");
    assert.equal((await rejection(oidc.generateKey("RS256", { modulusLength: "big" }))).code, "invalid_argument");
  });
});

describe("generateKey: RSA keys through WebCrypto", () => {
  /** Sign with `key` through node:crypto and jose, and verify each with the other's public half. */
  async function signsAndVerifies(key) {
    const data = Buffer.from("interchangeable");
    const sig = sign("sha256", data, createPrivateKey({ key, format: "jwk" }));
    const pub = oidc.publicJwks(key).keys[0];
    assert.ok(verify("sha256", data, createPublicKey({ key: pub, format: "jwk" }), sig));
    const jws = await new jose.CompactSign(data).setProtectedHeader({ alg: key.alg }).sign(await jose.importJWK(key, key.alg));
    const { payload } = await jose.compactVerify(jws, await jose.importJWK(pub, key.alg));
    assert.deepEqual(Buffer.from(payload), data);
  }

  for (const [alg, modulusLength] of [
    ["RS256", undefined],
    ["PS256", 3072],
    ["RS256", 4096],
    ["RSA-OAEP-256", 3072],
  ]) {
    const bits = modulusLength ?? 2048;
    test(`${alg}, ${bits} bits: WebCrypto's key, of that size, that signs and verifies`, async () => {
      let key;
      const calls = await spySubtle("generateKey", async () => {
        key = await oidc.generateKey(alg, modulusLength === undefined ? undefined : { modulusLength });
      });
      assert.equal(calls.length, 1, "one WebCrypto generateKey");
      assert.equal(calls[0].modulusLength, bits);
      assert.deepEqual([...calls[0].publicExponent], [1, 0, 1]);
      assert.equal(Buffer.from(key.n, "base64url").length * 8, bits);
      assert.ok(Buffer.from(key.n, "base64url")[0] & 0x80, "the top bit set");
      assert.equal(key.e, "AQAB");
      assert.equal(key.alg, alg);
      assert.equal(key.kid, await jose.calculateJwkThumbprint(key, "sha256"));
      assert.equal(key.key_ops, undefined, "no WebCrypto metadata");
      assert.equal(key.ext, undefined, "no WebCrypto metadata");
      const node = createPrivateKey({ key, format: "jwk" });
      assert.equal(node.asymmetricKeyDetails.modulusLength, bits);
      if (alg === "RSA-OAEP-256") {
        const token = await new jose.CompactEncrypt(Buffer.from("to the RP"))
          .setProtectedHeader({ alg, enc: "A128GCM" })
          .encrypt(await jose.importJWK(oidc.publicJwks(key).keys[0], alg));
        const { plaintext } = await jose.compactDecrypt(token, await jose.importJWK(key, alg));
        assert.equal(Buffer.from(plaintext).toString(), "to the RP");
      } else {
        await signsAndVerifies(key);
      }
    });
  }

  test("where WebCrypto refuses, the package's own code makes the key", async () => {
    let key;
    const calls = await spySubtle(
      "generateKey",
      async () => {
        key = await oidc.generateKey("RS256");
      },
      { refuse: true },
    );
    assert.equal(calls.length, 1, "WebCrypto was asked first");
    assert.equal(Buffer.from(key.n, "base64url").length, 256);
    for (const m of PRIVATE_MEMBERS) assert.equal(typeof key[m], "string", m);
    await signsAndVerifies(key);
  });

  test("EC keys and refused sizes never reach WebCrypto", async () => {
    const calls = await spySubtle("generateKey", async () => {
      await oidc.generateKey("ES256");
      await oidc.generateKey("ECDH-ES");
      await rejection(oidc.generateKey("RS256", { modulusLength: 16384 }));
    });
    assert.deepEqual(calls, []);
  });
});

const ec = await oidc.generateKey("ES256");
const enc = await oidc.generateKey("ECDH-ES+A128KW");

describe("publicJwks", () => {

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

  test("RSA: n and e only", async () => {
    const rsa = await oidc.generateKey("PS256");
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
