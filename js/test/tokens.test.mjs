// mintLogoutToken and verifyLogoutToken: round trips for every signing algorithm and every
// encryption alg/enc pair, interop with the independent `jose` library both ways, and the
// signatures WebCrypto's (the package's own code where WebCrypto refuses).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import * as jose from "jose";

import { LOGOUT_EVENT, header, oidc, payload, rejection, spySubtle, thrown } from "./helpers.mjs";

const ISS = "https://op.example/realms/r";
const AUD = "rp-1";
const SIGNING = ["ES256", "RS256", "PS256"];
const KEY_MGMT = ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW", "RSA-OAEP-256"];
const ENCS = ["A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"];

// RSA key generation is the slow part: one key per algorithm for the whole file.
const keysFor = async (algs) => Object.fromEntries(await Promise.all(algs.map(async (alg) => [alg, await oidc.generateKey(alg)])));
const signing = await keysFor(SIGNING);
const decryption = await keysFor(KEY_MGMT);
const jwks = oidc.publicJwks(Object.values(signing));
const publicOf = (key) => oidc.publicJwks(key).keys[0];
const verifyOptions = { jwks, issuer: ISS, audience: AUD };

/** What every logout token must look like (§2.4 and DESIGN.md), whoever minted it. */
function assertLogoutClaims(claims, { sub, sid, cause } = {}) {
  assert.equal(claims.iss, ISS);
  assert.equal(claims.aud, AUD);
  assert.deepEqual(claims.events, { [LOGOUT_EVENT]: {} });
  assert.ok(Number.isInteger(claims.iat) && Number.isInteger(claims.exp));
  assert.ok(claims.exp > claims.iat && claims.exp - claims.iat <= 120);
  assert.equal(typeof claims.jti, "string");
  assert.equal(claims.nonce, undefined);
  if (sub !== undefined) assert.equal(claims.sub, sub);
  if (sid !== undefined) assert.equal(claims.sid, sid);
  if (cause !== undefined) assert.equal(claims.cause, cause);
}

describe("signed logout tokens", () => {
  for (const alg of SIGNING) {
    test(`${alg}: mint, verify, and jose agrees`, async () => {
      const token = await oidc.mintLogoutToken({
        key: signing[alg],
        issuer: ISS,
        audience: AUD,
        subject: "user-1",
        sid: "sid-1",
        cause: "SESSION_TERMINATION",
      });
      assert.deepEqual(header(token), { alg, kid: signing[alg].kid, typ: "logout+jwt" });
      const claims = oidc.verifyLogoutToken(token, { ...verifyOptions, algorithms: [alg] });
      assertLogoutClaims(claims, { sub: "user-1", sid: "sid-1", cause: "SESSION_TERMINATION" });
      assert.equal(claims.exp - claims.iat, 120);
      assert.match(claims.auditTrackingId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

      const verified = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
        issuer: ISS,
        audience: AUD,
        typ: "logout+jwt",
        algorithms: [alg],
        requiredClaims: ["iat", "exp", "jti", "events"],
      });
      assert.deepEqual(verified.payload, claims);
    });

    test(`${alg}: jose's logout token passes verifyLogoutToken`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await new jose.SignJWT({ events: { [LOGOUT_EVENT]: {} }, sid: "s-9" })
        .setProtectedHeader({ alg, kid: signing[alg].kid, typ: "logout+jwt" })
        .setIssuer(ISS)
        .setAudience([AUD, "another"])
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti("jose-jti")
        .sign(await jose.importJWK(signing[alg], alg));
      const claims = oidc.verifyLogoutToken(token, verifyOptions);
      assertLogoutClaims({ ...claims, aud: AUD }, { sid: "s-9" });
      assert.deepEqual(claims.aud, [AUD, "another"]);
      assert.equal(claims.jti, "jose-jti");
      assert.equal(claims.sub, undefined);
    });
  }

  test("defaults and options: the key's alg, sid only, lifetime, time, tracking id", async () => {
    const now = Math.floor(Date.now() / 1000) - 30;
    const token = await oidc.mintLogoutToken({
      key: signing.PS256,
      issuer: ISS,
      audience: AUD,
      sid: "only-sid",
      expiresIn: 45,
      now,
      auditTrackingId: "track-1",
    });
    assert.equal(header(token).alg, "PS256");
    const claims = oidc.verifyLogoutToken(token, verifyOptions);
    assert.deepEqual(
      { iat: claims.iat, exp: claims.exp, sub: claims.sub, cause: claims.cause, t: claims.auditTrackingId },
      { iat: now, exp: now + 45, sub: undefined, cause: undefined, t: "track-1" },
    );
    // A key without alg signs ES256 (EC) or RS256 (RSA); `alg` picks PS256 for an RSA key.
    const { alg: _a, ...bareRsa } = signing.RS256;
    assert.equal(header(await oidc.mintLogoutToken({ key: bareRsa, issuer: ISS, audience: AUD, subject: "u" })).alg, "RS256");
    assert.equal(
      header(await oidc.mintLogoutToken({ key: bareRsa, alg: "PS256", issuer: ISS, audience: AUD, subject: "u" })).alg,
      "PS256",
    );
    const { alg: _b, ...bareEc } = signing.ES256;
    assert.equal(header(await oidc.mintLogoutToken({ key: bareEc, issuer: ISS, audience: AUD, subject: "u" })).alg, "ES256");
  });

  test("every token has a fresh jti", async () => {
    const mint = async () => payload(await oidc.mintLogoutToken({ key: signing.ES256, issuer: ISS, audience: AUD, subject: "u" })).jti;
    const jtis = new Set(await Promise.all(Array.from({ length: 20 }, mint)));
    assert.equal(jtis.size, 20);
  });

  test("minting refuses what the spec or the key forbids, as a rejected promise", async () => {
    const base = { key: signing.ES256, issuer: ISS, audience: AUD, subject: "u" };
    const code = async (o) => (await rejection(oidc.mintLogoutToken(o))).code;
    assert.equal(await code({ ...base, subject: undefined }), "invalid_argument", "neither sub nor sid");
    assert.equal(await code({ ...base, expiresIn: 121 }), "invalid_argument", "exp at most 2 min after iat");
    assert.equal(await code({ ...base, expiresIn: 0 }), "invalid_argument");
    assert.equal(await code({ ...base, cause: "BORED" }), "invalid_argument");
    assert.equal(await code({ ...base, nonce: "n" }), "invalid_argument", "unknown options are refused");
    assert.equal(await code({ ...base, issuer: undefined }), "invalid_argument");
    assert.equal(await code({ ...base, key: publicOf(signing.ES256) }), "invalid_key", "a public key cannot sign");
    assert.equal(await code({ ...base, alg: "RS256" }), "invalid_key", "RS256 with an EC key");
    assert.equal(await code({ ...base, key: signing.RS256, alg: "PS256" }), "invalid_key", "the key is for RS256 only");
    assert.equal(await code({ ...base, alg: "HS256" }), "unsupported_algorithm");
    assert.equal(await code({ ...base, enc: "A256GCM" }), "invalid_argument", "enc without encryptTo");
    assert.equal(await code({ ...base, encryptTo: decryption["ECDH-ES"] }), "invalid_key", "encryptTo a private key");
    assert.equal(
      await code({ ...base, encryptTo: publicOf(decryption["ECDH-ES"]), encryptionAlg: "RSA-OAEP-256" }),
      "invalid_key",
      "RSA-OAEP-256 to an EC key",
    );
    assert.equal(await code({ ...base, encryptTo: publicOf(decryption["ECDH-ES"]), enc: "A192GCM" }), "unsupported_algorithm");
    assert.equal(await code({ ...base, key: undefined }), "invalid_argument", "no key");
    assert.equal(await code({ ...base, key: "ES256" }), "invalid_argument", "a key that is not a JWK");
    assert.equal(await code("options"), "invalid_argument", "options that are not an object");
  });
});

describe("signed through WebCrypto", () => {
  // What the package asks WebCrypto's sign for, per JWS algorithm (PSS: a salt as long as the hash).
  const SIGN_PARAMS = {
    ES256: { name: "ECDSA", hash: "SHA-256" },
    RS256: { name: "RSASSA-PKCS1-v1_5" },
    PS256: { name: "RSA-PSS", saltLength: 32 },
  };
  const RECIPIENTS = [
    ["RSA-OAEP-256", "A256GCM"],
    ["ECDH-ES+A128KW", "A128CBC-HS256"],
  ];

  /** The token verifies with verifyLogoutToken and with jose (decrypted by each first when a JWE). */
  async function verifiesEverywhere(token, alg, rpKey) {
    const claims = oidc.verifyLogoutToken(token, { ...verifyOptions, algorithms: [alg], decryptWith: rpKey });
    assertLogoutClaims(claims, { sub: "user-3" });
    let jws = token;
    if (rpKey) {
      const { plaintext } = await jose.compactDecrypt(token, await jose.importJWK(rpKey, rpKey.alg));
      jws = new TextDecoder().decode(plaintext);
    }
    assert.equal(header(jws).alg, alg);
    const verified = await jose.jwtVerify(jws, jose.createLocalJWKSet(jwks), {
      issuer: ISS,
      audience: AUD,
      typ: "logout+jwt",
      algorithms: [alg],
    });
    assert.deepEqual(verified.payload, claims);
  }

  for (const alg of SIGNING) {
    test(`${alg}: WebCrypto signs plain and encrypted tokens, which verifyLogoutToken and jose accept`, async () => {
      const tokens = [];
      const calls = await spySubtle("sign", async () => {
        tokens.push([await oidc.mintLogoutToken({ key: signing[alg], issuer: ISS, audience: AUD, subject: "user-3" })]);
        for (const [kw, enc] of RECIPIENTS) {
          const rpKey = decryption[kw];
          const options = { key: signing[alg], issuer: ISS, audience: AUD, subject: "user-3", encryptTo: publicOf(rpKey), enc };
          tokens.push([await oidc.mintLogoutToken(options), rpKey]);
        }
      });
      assert.equal(calls.length, tokens.length, "one WebCrypto signature per token");
      for (const c of calls) assert.deepEqual({ ...c }, SIGN_PARAMS[alg]);
      for (const [token, rpKey] of tokens) await verifiesEverywhere(token, alg, rpKey);
    });

    test(`${alg}: where WebCrypto refuses, the package's own code signs, and the token is as good`, async () => {
      const tokens = [];
      const calls = await spySubtle(
        "sign",
        async () => {
          tokens.push([await oidc.mintLogoutToken({ key: signing[alg], issuer: ISS, audience: AUD, subject: "user-3" })]);
          const [kw, enc] = RECIPIENTS[0];
          const rpKey = decryption[kw];
          const options = { key: signing[alg], issuer: ISS, audience: AUD, subject: "user-3", encryptTo: publicOf(rpKey), enc };
          tokens.push([await oidc.mintLogoutToken(options), rpKey]);
        },
        { refuse: true },
      );
      assert.equal(calls.length, 2, "WebCrypto was asked first");
      for (const [token, rpKey] of tokens) await verifiesEverywhere(token, alg, rpKey);
    });
  }

  test("bad input is refused before WebCrypto is asked", async () => {
    const calls = await spySubtle("sign", async () => {
      const e = await rejection(oidc.mintLogoutToken({ key: publicOf(signing.RS256), issuer: ISS, audience: AUD, subject: "u" }));
      assert.equal(e.code, "invalid_key");
      const f = await rejection(oidc.mintLogoutToken({ key: signing.PS256, issuer: ISS, audience: AUD }));
      assert.equal(f.code, "invalid_argument");
    });
    assert.deepEqual(calls, []);
  });
});

describe("encrypted logout tokens", () => {
  for (const alg of KEY_MGMT) {
    for (const enc of ENCS) {
      test(`${alg} + ${enc}: mint, verify, and jose agrees`, async () => {
        const rpKey = decryption[alg];
        const token = await oidc.mintLogoutToken({
          key: signing.ES256,
          issuer: ISS,
          audience: AUD,
          subject: "user-2",
          cause: "SESSION_IDLE_TIMEOUT",
          encryptTo: publicOf(rpKey),
          enc,
        });
        assert.equal(token.split(".").length, 5);
        const h = header(token);
        assert.deepEqual(
          { alg: h.alg, enc: h.enc, cty: h.cty, iss: h.iss, aud: h.aud, kid: h.kid },
          { alg, enc, cty: "JWT", iss: ISS, aud: AUD, kid: rpKey.kid },
        );
        const claims = oidc.verifyLogoutToken(token, { ...verifyOptions, decryptWith: rpKey, algorithms: ["ES256"] });
        assertLogoutClaims(claims, { sub: "user-2", cause: "SESSION_IDLE_TIMEOUT" });

        const { plaintext, protectedHeader } = await jose.compactDecrypt(token, await jose.importJWK(rpKey, alg));
        assert.equal(protectedHeader.cty, "JWT");
        const inner = new TextDecoder().decode(plaintext);
        const verified = await jose.jwtVerify(inner, jose.createLocalJWKSet(jwks), {
          issuer: ISS,
          audience: AUD,
          typ: "logout+jwt",
        });
        assert.deepEqual(verified.payload, claims);
      });
    }
  }

  test("the key management algorithm defaults to the RP key's alg, else by key type", async () => {
    const { alg: _, ...bareEc } = publicOf(decryption["ECDH-ES+A256KW"]);
    const mint = async (encryptTo, extra = {}) =>
      header(await oidc.mintLogoutToken({ key: signing.ES256, issuer: ISS, audience: AUD, subject: "u", encryptTo, ...extra }));
    const h = await mint(publicOf(decryption["ECDH-ES+A256KW"]));
    assert.deepEqual([h.alg, h.enc], ["ECDH-ES+A256KW", "A128CBC-HS256"]);
    assert.equal((await mint(bareEc)).alg, "ECDH-ES");
    assert.equal((await mint(bareEc, { encryptionAlg: "ECDH-ES+A128KW" })).alg, "ECDH-ES+A128KW");
    const { alg: __, ...bareRsa } = publicOf(decryption["RSA-OAEP-256"]);
    assert.equal((await mint(bareRsa)).alg, "RSA-OAEP-256");
  });

  for (const [alg, enc] of [
    ["ECDH-ES", "A256GCM"],
    ["ECDH-ES+A128KW", "A128CBC-HS256"],
    ["ECDH-ES+A256KW", "A256CBC-HS512"],
    ["RSA-OAEP-256", "A128GCM"],
  ]) {
    test(`jose's nested token (${alg} + ${enc}) passes verifyLogoutToken`, async () => {
      const now = Math.floor(Date.now() / 1000);
      const jws = await new jose.SignJWT({ events: { [LOGOUT_EVENT]: {} }, sub: "u-7" })
        .setProtectedHeader({ alg: "RS256", kid: signing.RS256.kid, typ: "logout+jwt" })
        .setIssuer(ISS)
        .setAudience(AUD)
        .setIssuedAt(now)
        .setExpirationTime(now + 120)
        .setJti(crypto.randomUUID())
        .sign(await jose.importJWK(signing.RS256, "RS256"));
      const rpKey = decryption[alg];
      const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(jws))
        .setProtectedHeader({ alg, enc, cty: "JWT", kid: rpKey.kid })
        .encrypt(await jose.importJWK(publicOf(rpKey), alg));
      const claims = oidc.verifyLogoutToken(jwe, { ...verifyOptions, decryptWith: rpKey });
      assertLogoutClaims(claims, { sub: "u-7" });
    });
  }
});

describe("the web build", () => {
  test("loads with init() and agrees with the node build", async () => {
    const { loadWeb } = await import("./helpers.mjs");
    const web = await loadWeb();
    const key = await web.generateKey("ES256");
    const token = await web.mintLogoutToken({ key, issuer: ISS, audience: AUD, subject: "w" });
    const claims = oidc.verifyLogoutToken(token, { issuer: ISS, audience: AUD, jwks: oidc.publicJwks(key) });
    assert.equal(claims.sub, "w");
    const back = await oidc.mintLogoutToken({ key, issuer: ISS, audience: AUD, sid: "n" });
    assert.equal(web.verifyLogoutToken(back, { issuer: ISS, audience: AUD, jwks: web.publicJwks(key) }).sid, "n");
    assert.equal(thrown(() => web.verifyLogoutToken(back, { issuer: ISS, audience: "x", jwks: web.publicJwks(key) })).code, "invalid_audience");
    assert.equal(typeof web.Provider, "function");
  });
});
