// verifyLogoutToken refuses every token Back-Channel Logout 1.0 §2.6 says to refuse, each with
// its stable `code`; the last test checks that every code of the declarations was seen here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

import * as jose from "jose";

import { LOGOUT_EVENT, oidc, pkgDir, thrown } from "./helpers.mjs";

const ISS = "https://op.example/realms/r";
const AUD = "rp-1";
const es = await oidc.generateKey("ES256");
const other = await oidc.generateKey("ES256");
const rs = await oidc.generateKey("RS256");
const rpKey = await oidc.generateKey("ECDH-ES+A128KW");
const jwks = oidc.publicJwks([es, rs]);
const options = { jwks, issuer: ISS, audience: AUD };
const now = () => Math.floor(Date.now() / 1000);

const seen = new Set();

/** verifyLogoutToken(token, options) must throw an Error with `code`. */
function rejects(token, code, extra = {}) {
  const e = thrown(() => oidc.verifyLogoutToken(token, { ...options, ...extra }));
  assert.ok(e instanceof Error, `an Error, not ${e}`);
  assert.equal(e.code, code, e.message);
  assert.ok(e.message.length > 0);
  seen.add(code);
  return e;
}

const mint = (extra = {}) =>
  oidc.mintLogoutToken({ key: es, issuer: ISS, audience: AUD, subject: "u", sid: "s", ...extra });

/** A token signed by jose with `claims` as given (the caller decides what is wrong). */
async function joseToken(claims, { typ = "logout+jwt", alg = "ES256", key = es } = {}) {
  const h = { alg, kid: key.kid };
  if (typ) h.typ = typ;
  const secret = alg.startsWith("HS") ? new TextEncoder().encode("a".repeat(32)) : await jose.importJWK(key, alg);
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(h).sign(secret);
}

/** Claims of a valid logout token, to spoil one member at a time. */
const good = () => ({
  iss: ISS,
  aud: AUD,
  iat: now(),
  exp: now() + 120,
  jti: crypto.randomUUID(),
  sub: "u",
  events: { [LOGOUT_EVENT]: {} },
});

describe("§2.6 failures", () => {
  test("a valid token passes (the baseline for what follows)", async () => {
    assert.equal(oidc.verifyLogoutToken(await mint(), options).sub, "u");
    assert.equal(oidc.verifyLogoutToken(await joseToken(good()), options).sub, "u");
  });

  test("malformed: not a compact JWS/JWE", async () => {
    for (const t of ["", "abc", "a.b", "a.b.c.d", "!!!.e30.sig", "a.b.c.d.e.f"]) rejects(t, "malformed");
    // A signed payload that is not a JSON object.
    const list = await new jose.CompactSign(new TextEncoder().encode("[1,2]"))
      .setProtectedHeader({ alg: "ES256", typ: "logout+jwt" })
      .sign(await jose.importJWK(es, "ES256"));
    rejects(list, "malformed");
  });

  test("step 1: encrypted when no key was given, plain when one was", async () => {
    const jwe = await mint({ encryptTo: oidc.publicJwks(rpKey).keys[0] });
    rejects(jwe, "encryption_mismatch");
    rejects(await mint(), "encryption_mismatch", { decryptWith: rpKey });
  });

  test("step 1: decryption fails (wrong key, spoilt tag), opaquely", async () => {
    const jwe = await mint({ encryptTo: oidc.publicJwks(rpKey).keys[0], enc: "A256GCM" });
    const wrong = await oidc.generateKey("ECDH-ES+A128KW");
    rejects(jwe, "decryption_failed", { decryptWith: wrong });
    const parts = jwe.split(".");
    const tag = Buffer.from(parts[4], "base64url");
    tag[0] ^= 1;
    parts[4] = tag.toString("base64url");
    const e = rejects(parts.join("."), "decryption_failed", { decryptWith: rpKey });
    assert.equal(e.message, "the logout token could not be decrypted");
  });

  test("step 2: an algorithm not configured, or not supported", async () => {
    rejects(await mint(), "unsupported_algorithm", { algorithms: ["RS256", "PS256"] });
    rejects(await joseToken(good(), { alg: "HS256" }), "unsupported_algorithm");
    const none = `${Buffer.from('{"alg":"none","typ":"logout+jwt"}').toString("base64url")}.${Buffer.from(JSON.stringify(good())).toString("base64url")}.`;
    rejects(none, "unsupported_algorithm");
  });

  test("step 2: no key fits; the signature does not verify", async () => {
    rejects(await mint(), "no_matching_key", { jwks: oidc.publicJwks([other, rs]) });
    const [h, p, s] = (await mint()).split(".");
    const sig = Buffer.from(s, "base64url");
    sig[10] ^= 0x40;
    rejects(`${h}.${p}.${sig.toString("base64url")}`, "invalid_signature");
    // A payload swapped under a valid signature.
    const [, p2] = (await mint({ subject: "someone-else" })).split(".");
    rejects(`${h}.${p2}.${s}`, "invalid_signature");
  });

  test("explicit typing: an ID token (typ JWT) is not a logout token", async () => {
    rejects(await joseToken(good(), { typ: "JWT" }), "wrong_typ");
    rejects(await joseToken(good(), { typ: "at+jwt" }), "wrong_typ");
    // typ is optional in §2.4; application/logout+jwt is the same type.
    assert.equal(oidc.verifyLogoutToken(await joseToken(good(), { typ: null }), options).sub, "u");
    assert.equal(oidc.verifyLogoutToken(await joseToken(good(), { typ: "application/logout+jwt" }), options).sub, "u");
  });

  test("step 3: iss, aud, exp, iat", async () => {
    rejects(await mint(), "invalid_issuer", { issuer: "https://op.example/realms/other" });
    rejects(await mint({ issuer: "https://evil.example" }), "invalid_issuer");
    rejects(await mint(), "invalid_audience", { audience: "rp-2" });
    rejects(await joseToken({ ...good(), aud: ["rp-2", "rp-3"] }), "invalid_audience");
    // Expired beyond the leeway (60 s by default), and within it.
    rejects(await mint({ now: now() - 300 }), "expired");
    assert.ok(oidc.verifyLogoutToken(await mint({ now: now() - 150 }), options));
    rejects(await mint({ now: now() - 150 }), "expired", { leewaySecs: 0 });
    rejects(await mint(), "expired", { now: now() + 3600 });
    rejects(await mint({ now: now() + 300 }), "issued_in_future");
  });

  test("step 3: a required claim missing or of the wrong type", async () => {
    for (const spoil of [
      (c) => delete c.exp,
      (c) => delete c.iat,
      (c) => delete c.jti,
      (c) => delete c.iss,
      (c) => delete c.aud,
      (c) => (c.exp = "later"),
      (c) => (c.jti = 7),
      (c) => (c.sub = 42),
      (c) => (c.sid = ["s"]),
    ]) {
      const claims = good();
      spoil(claims);
      rejects(await joseToken(claims), "invalid_claim");
    }
  });

  test("step 4: neither sub nor sid", async () => {
    const claims = good();
    delete claims.sub;
    rejects(await joseToken(claims), "missing_sub_and_sid");
  });

  test("step 5: events without the back-channel logout member, or not an object", async () => {
    for (const events of [undefined, {}, { "http://schemas.openid.net/event/other": {} }, { [LOGOUT_EVENT]: "yes" }, [LOGOUT_EVENT]]) {
      const claims = { ...good(), events };
      if (events === undefined) delete claims.events;
      rejects(await joseToken(claims), "missing_events");
    }
  });

  test("step 6: a nonce", async () => {
    rejects(await joseToken({ ...good(), nonce: "n-0S6_WzA2Mj" }), "nonce_present");
  });

  test("step 7: a jti seen before; seenJti is asked last, once, with the jti", async () => {
    const token = await mint();
    const asked = [];
    const jtis = new Set();
    const seenJti = (jti) => {
      asked.push(jti);
      if (jtis.has(jti)) return true;
      jtis.add(jti);
      return false;
    };
    const claims = oidc.verifyLogoutToken(token, { ...options, seenJti });
    assert.deepEqual(asked, [claims.jti]);
    rejects(token, "replayed", { seenJti });
    assert.deepEqual(asked, [claims.jti, claims.jti]);
    // Not asked about a token that fails before step 7.
    rejects(token, "invalid_audience", { seenJti, audience: "rp-2" });
    assert.equal(asked.length, 2);
    // Its exception comes through as it was thrown.
    const boom = new Error("the replay store is down");
    const fresh = await mint();
    assert.equal(thrown(() => oidc.verifyLogoutToken(fresh, { ...options, seenJti: () => { throw boom; } })), boom);
    assert.equal(thrown(() => oidc.verifyLogoutToken(fresh, { ...options, seenJti: "no" })).code, "invalid_argument");
  });

  test("options are checked: private keys in jwks, a public decryptWith, unknown options", async () => {
    const token = await mint();
    assert.equal(thrown(() => oidc.verifyLogoutToken(token, { ...options, jwks: [es] })).code, "invalid_key");
    assert.equal(
      thrown(() => oidc.verifyLogoutToken(token, { ...options, decryptWith: oidc.publicJwks(rpKey).keys[0] })).code,
      "invalid_key",
    );
    assert.equal(thrown(() => oidc.verifyLogoutToken(token, { ...options, algorithm: ["ES256"] })).code, "invalid_argument");
    assert.equal(thrown(() => oidc.verifyLogoutToken(token, { ...options, algorithms: [] })).code, "invalid_argument");
    assert.equal(thrown(() => oidc.verifyLogoutToken(token, { jwks, issuer: ISS })).code, "invalid_argument");
  });
});

test("every code the declarations promise was produced above", () => {
  const dts = readFileSync(path.join(pkgDir, "node/oidc_edge.d.ts"), "utf8");
  const block = dts.match(/export type LogoutTokenErrorCode =([^;]+);/)[1];
  const declared = [...block.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]).sort();
  assert.equal(declared.length, 16);
  assert.deepEqual([...seen].sort(), declared);
});
