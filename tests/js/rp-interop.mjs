// A real relying-party library against oidc-edge: openid-client (the exact version pinned in
// package.json) does discovery, dynamic registration, the authorization code flow with PKCE
// and the ID token validation (signature through the JWKS, iss, aud, nonce, exp, iat), reads
// userinfo, then introspects and revokes the access token; the client registered for refresh
// tokens refreshes, and sees a replayed refresh token refused. This script plays the browser in
// between with fetch and manual redirects:
// the login form, its CSRF cookie, the 303 back to the authorization endpoint, the 302 to the
// callback. The browser keeps its session cookie, so the second RP signs in on the same session.
//
// Usage: node tests/js/rp-interop.mjs <issuer> [username] [password]
// Prints one JSON object {flows: [...]} on success; on failure, the error on stderr, exit 1.

import * as client from 'openid-client'

const [issuerArg, username = 'demo', password = 'changeit'] = process.argv.slice(2)
if (!issuerArg) {
  console.error('usage: node rp-interop.mjs <issuer> [username] [password]')
  process.exit(2)
}
const issuer = new URL(issuerArg)
// Plain http is for this local test only: openid-client refuses it unless told.
const execute = [client.allowInsecureRequests]

/** A browser: a cookie jar and manual redirects. */
class Browser {
  cookies = new Map()

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers)
    if (this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const expired = attrs.some((a) => a.trim().toLowerCase() === 'max-age=0')
      if (expired) this.cookies.delete(name)
      else this.cookies.set(name, pair.slice(eq + 1).trim())
    }
    return res
  }
}

function expectStatus(res, status, what) {
  if (res.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${res.status} (${res.headers.get('location') ?? ''})`)
  }
}

function htmlUnescape(s) {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
}

/** The login form's action and hidden fields. */
function parseLoginForm(html) {
  const action = /<form[^>]*\saction="([^"]*)"/.exec(html)
  if (!action) throw new Error('no login form in the page')
  const fields = new URLSearchParams()
  for (const [tag] of html.matchAll(/<input[^>]*>/g)) {
    if (!/\stype="hidden"/.test(tag)) continue
    const name = /\sname="([^"]*)"/.exec(tag)
    const value = /\svalue="([^"]*)"/.exec(tag)
    fields.append(htmlUnescape(name[1]), htmlUnescape(value ? value[1] : ''))
  }
  return { action: htmlUnescape(action[1]), fields }
}

/**
 * Follow an authorization URL as a browser does, signing in through the form when there is no
 * session yet. Returns the callback URL (with code, state and iss) and whether the form showed.
 */
async function authorizeInBrowser(browser, authorizationUrl, redirectUri) {
  let res = await browser.fetch(authorizationUrl)
  let loginForm = false
  let page = res.status === 200 ? await res.text() : ''
  if (res.status === 200 && page.includes('type="password"')) {
    loginForm = true
    const form = parseLoginForm(page)
    if (!form.fields.get('csrf')) throw new Error('the login form has no csrf field')
    if (!browser.cookies.has('oidc_edge_csrf')) throw new Error('no CSRF cookie with the form')
    form.fields.set('username', username)
    form.fields.set('password', password)
    res = await browser.fetch(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.fields.toString(),
    })
    expectStatus(res, 303, 'login')
    if (!browser.cookies.has('oidc_edge_session')) throw new Error('no session cookie after login')
    res = await browser.fetch(new URL(res.headers.get('location'), form.action))
    page = res.status === 200 ? await res.text() : ''
  }
  let consentPage = false
  if (res.status === 200) {
    // A dynamically registered client is a third party: the user is asked, and allows.
    const html = page
    if (!html.includes('name="decision" value="allow"')) throw new Error(`expected the consent page: ${html}`)
    consentPage = true
    const form = parseLoginForm(html)
    form.fields.set('decision', 'allow')
    res = await browser.fetch(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.fields.toString(),
    })
  }
  expectStatus(res, 302, 'authorization')
  const callback = res.headers.get('location')
  if (!callback.startsWith(redirectUri)) throw new Error(`redirected to ${callback}`)
  return { callback, loginForm, consentPage }
}

function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'))
}

/** A fresh authorization request with PKCE (S256), state and nonce. */
async function authorizationRequest(config, redirectUri) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier()
  const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier)
  const expectedState = client.randomState()
  const expectedNonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
  })
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce } }
}

/** Register a client, then sign in with it: the whole RP side of the code flow. */
async function flow(browser, metadata, clientAuth) {
  // Dynamic registration (after discovery, which openid-client does first).
  const registered = await client.dynamicClientRegistration(issuer, metadata, clientAuth, { execute })
  const registration = registered.clientMetadata()
  // An RP that stored its registration starts again from discovery with it.
  const config = await client.discovery(issuer, registration.client_id, registration, clientAuth, { execute })
  const server = config.serverMetadata()

  const redirectUri = metadata.redirect_uris[0]
  const request = await authorizationRequest(config, redirectUri)
  const { callback, loginForm, consentPage } = await authorizeInBrowser(browser, request.url, redirectUri)

  // openid-client checks state and iss in the response, redeems the code with the verifier,
  // and validates the ID token (JWKS signature with the registered alg, iss, aud, nonce, exp).
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), request.checks)
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  // Introspection (RFC 7662) and revocation (RFC 7009) at the endpoints discovery names, with
  // the client's own authentication.
  const introspection = await client.tokenIntrospection(config, tokens.access_token)
  await client.tokenRevocation(config, tokens.access_token)
  const afterRevocation = await client.tokenIntrospection(config, tokens.access_token)
  // A client registered for refresh tokens refreshes (the library validates the new ID
  // token), introspects the new refresh token, and sees a replay of the spent one refused and
  // the whole family revoked with it.
  let refresh = null
  if (tokens.refresh_token) {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
    const rotatedIntrospection = await client.tokenIntrospection(config, refreshed.refresh_token)
    const refusal = async (token) => {
      try {
        await client.refreshTokenGrant(config, token)
        return null
      } catch (err) {
        return err?.error ?? err?.code ?? String(err)
      }
    }
    const replay = await refusal(tokens.refresh_token)
    const afterReplay = await refusal(refreshed.refresh_token)
    refresh = {
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      claims: refreshed.claims(),
      introspection: {
        active: rotatedIntrospection.active,
        token_type: rotatedIntrospection.token_type,
        client_id: rotatedIntrospection.client_id,
      },
      replay_rejected_with: replay,
      family_revoked_with: afterReplay,
    }
  }

  // The library's checks are not vacuous against this provider: an ID token for another
  // nonce is refused, after the provider issued it.
  const again = await authorizationRequest(config, redirectUri)
  const second = await authorizeInBrowser(browser, again.url, redirectUri)
  let wrongNonce = null
  try {
    await client.authorizationCodeGrant(config, new URL(second.callback), {
      ...again.checks,
      expectedNonce: client.randomNonce(),
    })
  } catch (err) {
    wrongNonce = err?.code ?? err?.name ?? String(err)
  }

  return {
    discovered_issuer: server.issuer,
    client_id: registration.client_id,
    registration: {
      token_endpoint_auth_method: registration.token_endpoint_auth_method,
      id_token_signed_response_alg: registration.id_token_signed_response_alg,
      client_secret_expires_at: registration.client_secret_expires_at,
      backchannel_logout_uri: registration.backchannel_logout_uri,
      backchannel_logout_session_required: registration.backchannel_logout_session_required,
      has_registration_access_token: typeof registration.registration_access_token === 'string',
    },
    login_form: loginForm,
    consent_page: consentPage,
    token_type: tokens.token_type,
    id_token_alg: jwtHeader(tokens.id_token).alg,
    claims,
    userinfo,
    introspection: {
      active: introspection.active,
      client_id: introspection.client_id,
      sub: introspection.sub,
      token_type: introspection.token_type,
    },
    active_after_revocation: afterRevocation.active,
    refresh,
    wrong_nonce_rejected_with: wrongNonce,
  }
}

async function main() {
  const browser = new Browser()
  const port = 40000 + Math.floor(Math.random() * 20000)
  const base = `http://127.0.0.1:${port}`
  const flows = []
  // RP one: the defaults (RS256 ID tokens, client_secret_basic), back-channel logout with sid.
  flows.push(
    await flow(
      browser,
      {
        client_name: 'openid-client RP one',
        redirect_uris: [`${base}/one/cb`],
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        backchannel_logout_uri: `${base}/one/backchannel`,
        backchannel_logout_session_required: true,
      },
      client.ClientSecretBasic(),
    ),
  )
  // RP two: ES256 ID tokens and the secret in the body, on the same browser session.
  flows.push(
    await flow(
      browser,
      {
        client_name: 'openid-client RP two',
        redirect_uris: [`${base}/two/cb`],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: 'ES256',
        backchannel_logout_uri: `${base}/two/backchannel`,
        backchannel_logout_session_required: true,
      },
      client.ClientSecretPost(),
    ),
  )
  process.stdout.write(JSON.stringify({ flows }) + '\n')
}

main().catch((err) => {
  const detail = { name: err?.name, message: err?.message, code: err?.code, error: err?.error, cause: err?.cause }
  console.error('rp-interop failed:', JSON.stringify(detail, null, 2))
  console.error(err?.stack)
  process.exit(1)
})
