#!/usr/bin/env node
// jose-tool: a small CLI over the independent `jose` library (panva/jose, version pinned in
// package.json), so that Rust tests can check oidc-edge's JOSE output against another
// implementation, and feed it tokens that implementation made.
//
//   node tests/js/jose-tool.mjs <command> < request.json > result.json
//
// The request is one JSON object on stdin; the result is one JSON object on stdout and the exit
// status is 0. On failure the tool prints {"error": "<message>", "code": "<jose error code>"}
// (`code` only when jose gave one, e.g. "ERR_JWT_EXPIRED") and exits 1.
//
// Commands (JWKs are plain JSON Web Key objects, as RFC 7517 writes them):
//
//   verify  {token, jwks, algorithms?: [..], decryptKey?: privateJwk,
//            keyManagementAlgorithms?: [..], contentEncryptionAlgorithms?: [..], typ?}
//           -> {protectedHeader, payload, jweHeader?}
//           Verifies a signed JWT against the public JWK Set `jwks` (createLocalJWKSet) with
//           jwtVerify, which also checks exp/nbf against the real clock; `typ`, when given, must
//           match the JWS header. With `decryptKey` the token is a nested JWT: compactDecrypt
//           it first, then verify the inner JWS; `jweHeader` is the JWE protected header.
//           `payload` is the parsed claims object.
//   sign    {claims, privateJwk, alg, typ?, kid?} -> {token}
//           Signs `claims` exactly as given (SignJWT, no claim is added or checked).
//   encrypt {plaintext, publicJwk, alg, enc, cty?, apu?, apv?} -> {token}
//           Compact JWE of the UTF-8 string `plaintext` (CompactEncrypt). `apu`/`apv`
//           (base64url) are the ECDH-ES party info jose then puts in the header and its KDF.
//   decrypt {token, privateJwk} -> {plaintext, protectedHeader}
//           compactDecrypt; `plaintext` is decoded as UTF-8.
//   keygen  {alg, crv?} -> {privateJwk, publicJwk}
//           generateKeyPair(alg, {crv, extractable: true}), both halves exported with
//           exportJWK (no kid, alg or use is added).
//   thumbprint {jwk} -> {thumbprint}
//           The RFC 7638 SHA-256 thumbprint (calculateJwkThumbprint), base64url.
//   batch   [{cmd, req}, ...] -> [result, ...]
//           Runs the requests in order in this one process (node starts in ~50 ms; a test
//           that needs dozens of operations should not pay that dozens of times). Each result
//           is what the command alone would print: its result object, or {"error", "code"?}.
//           The batch itself exits 0 unless its own request is malformed.

import {
  CompactEncrypt,
  SignJWT,
  base64url,
  calculateJwkThumbprint,
  compactDecrypt,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
} from 'jose'

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function need(req, name, type) {
  const v = req?.[name]
  const ok = type === 'array' ? Array.isArray(v) : typeof v === type && v !== null
  if (!ok) throw new TypeError(`request member "${name}" must be ${type === 'array' ? 'an array' : `a ${type}`}`)
  return v
}

// Optional members must be absent or of the right type; a typo'd value must not pass silently.
function maybe(req, name, type) {
  return req?.[name] === undefined ? undefined : need(req, name, type)
}

const commands = {
  async verify(req) {
    const token = need(req, 'token', 'string')
    const jwks = createLocalJWKSet(need(req, 'jwks', 'object'))
    const decryptKey = maybe(req, 'decryptKey', 'object')
    let jws = token
    let jweHeader
    if (decryptKey !== undefined) {
      const { plaintext, protectedHeader } = await compactDecrypt(token, decryptKey, {
        keyManagementAlgorithms: maybe(req, 'keyManagementAlgorithms', 'array'),
        contentEncryptionAlgorithms: maybe(req, 'contentEncryptionAlgorithms', 'array'),
      })
      jws = fromUtf8.decode(plaintext)
      jweHeader = protectedHeader
    }
    const { payload, protectedHeader } = await jwtVerify(jws, jwks, {
      algorithms: maybe(req, 'algorithms', 'array'),
      typ: maybe(req, 'typ', 'string'),
    })
    return jweHeader === undefined ? { protectedHeader, payload } : { protectedHeader, payload, jweHeader }
  },

  async sign(req) {
    const header = { alg: need(req, 'alg', 'string') }
    const typ = maybe(req, 'typ', 'string')
    const kid = maybe(req, 'kid', 'string')
    if (typ !== undefined) header.typ = typ
    if (kid !== undefined) header.kid = kid
    const token = await new SignJWT(need(req, 'claims', 'object'))
      .setProtectedHeader(header)
      .sign(need(req, 'privateJwk', 'object'))
    return { token }
  },

  async encrypt(req) {
    const header = { alg: need(req, 'alg', 'string'), enc: need(req, 'enc', 'string') }
    const cty = maybe(req, 'cty', 'string')
    if (cty !== undefined) header.cty = cty
    const jwe = new CompactEncrypt(utf8.encode(need(req, 'plaintext', 'string'))).setProtectedHeader(header)
    const apu = maybe(req, 'apu', 'string')
    const apv = maybe(req, 'apv', 'string')
    if (apu !== undefined || apv !== undefined) {
      jwe.setKeyManagementParameters({
        apu: apu === undefined ? undefined : base64url.decode(apu),
        apv: apv === undefined ? undefined : base64url.decode(apv),
      })
    }
    const token = await jwe.encrypt(need(req, 'publicJwk', 'object'))
    return { token }
  },

  async decrypt(req) {
    const { plaintext, protectedHeader } = await compactDecrypt(
      need(req, 'token', 'string'),
      need(req, 'privateJwk', 'object'),
    )
    return { plaintext: fromUtf8.decode(plaintext), protectedHeader }
  },

  async keygen(req) {
    const crv = maybe(req, 'crv', 'string')
    const { privateKey, publicKey } = await generateKeyPair(need(req, 'alg', 'string'), {
      crv,
      extractable: true,
    })
    return { privateJwk: await exportJWK(privateKey), publicJwk: await exportJWK(publicKey) }
  },

  async thumbprint(req) {
    return { thumbprint: await calculateJwkThumbprint(need(req, 'jwk', 'object'), 'sha256') }
  },
}

function failure(err) {
  const out = { error: err instanceof Error ? err.message : String(err) }
  if (typeof err?.code === 'string') out.code = err.code
  return out
}

async function run(cmd, req) {
  if (!Object.hasOwn(commands, cmd)) throw new TypeError(`unknown command ${JSON.stringify(cmd)}`)
  return commands[cmd](req)
}

async function batch(reqs) {
  if (!Array.isArray(reqs)) throw new TypeError('batch expects a JSON array of {cmd, req}')
  const out = []
  for (const item of reqs) {
    try {
      out.push(await run(item?.cmd, item?.req))
    } catch (err) {
      out.push(failure(err))
    }
  }
  return out
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function main() {
  const cmd = process.argv[2]
  const req = JSON.parse(await readStdin())
  return cmd === 'batch' ? batch(req) : run(cmd, req)
}

try {
  process.stdout.write(JSON.stringify(await main()) + '\n')
} catch (err) {
  process.stdout.write(JSON.stringify(failure(err)) + '\n')
  process.exitCode = 1
}
