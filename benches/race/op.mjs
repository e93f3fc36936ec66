// node-oidc-provider as the race's other provider: a child process of race.mjs, configured as
// oidc-edge's default realm is (code flow with PKCE, confidential clients, back-channel logout
// with `sid`, one user whose password is checked with PBKDF2-HMAC-SHA256 at 50,000 iterations),
// with the smallest sign-in page that does that check. Not a product: the bench's baseline.
//
// Its set-up comes in RACE_OP (JSON): { clients: [{ client_id, client_secret, alg,
// backchannel_logout_uri }], user: { login, salt, hash } (base64url) }. It listens on
// 127.0.0.1 (port 0), then sends { issuer, keys } (the public keys) to its parent, and answers { cpu } (its own CPU time
// in microseconds, process.cpuUsage) to every { cpu: true } message.
import http from "node:http";
import { pbkdf2, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import Provider from "oidc-provider";
import { exportJWK, generateKeyPair } from "jose";

const ITERATIONS = 50_000;
const REDIRECT = "https://rp.example/cb";
const POST_LOGOUT = "https://rp.example/signed-out";
const SCOPE = "openid profile email";

const setup = JSON.parse(process.env.RACE_OP);
const derive = promisify(pbkdf2);

const keys = [];
for (const [alg, options] of [["RS256", { modulusLength: 2048 }], ["ES256", {}]]) {
  const { privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
  keys.push({ ...(await exportJWK(privateKey)), alg, use: "sig", kid: alg.toLowerCase() });
}

// The issuer names the port, so the server listens first.
let callback;
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interaction(req, res).catch((err) => {
      console.error("op: interaction", err);
      res.statusCode = 500;
      res.end();
    });
  } else {
    callback(req, res);
  }
});
server.keepAliveTimeout = 30_000;
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: setup.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [POST_LOGOUT],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: c.alg,
    backchannel_logout_uri: c.backchannel_logout_uri,
    backchannel_logout_session_required: true,
  })),
  jwks: { keys },
  cookies: { keys: ["race cookie key, not a secret of anything else"] },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  // A returning user is not asked again (as in oidc-edge's flows bench, where the user allowed
  // the RP once in the warm-up): the grant is made when the session has none for the client.
  loadExistingGrant: async (ctx) => {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(SCOPE);
    await grant.save();
    return grant;
  },
  // The RPs listen on 127.0.0.1, which the provider's own SSRF guard refuses; the bench's
  // oidc-edge allows them the same way (its delivery allow-list).
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
});
provider.on("server_error", (_ctx, err) => console.error("op: server_error", err));
provider.on("backchannel.error", (_ctx, err) => console.error("op: backchannel.error", err.message));

const user = {
  login: setup.user.login,
  salt: Buffer.from(setup.user.salt, "base64url"),
  hash: Buffer.from(setup.user.hash, "base64url"),
};

async function body(req) {
  let s = "";
  for await (const chunk of req) {
    s += chunk;
    if (s.length > 4096) throw new Error("body too large");
  }
  return new URLSearchParams(s);
}

// The sign-in page: GET shows the form, POST checks the password and finishes the interaction
// (node-oidc-provider then resumes the authorization request).
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === "GET") {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(`<form method="post" action="/interaction/${details.uid}">` +
      `<input name="login"><input name="password" type="password"><button>Sign in</button></form>`);
    return;
  }
  const form = await body(req);
  const password = form.get("password") ?? "";
  const derived = await derive(password, user.salt, ITERATIONS, 32, "sha256");
  const ok = form.get("login") === user.login && timingSafeEqual(derived, user.hash);
  if (!ok) {
    res.statusCode = 401;
    res.end("wrong login or password");
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: user.login } }, {
    mergeWithLastSubmission: false,
  });
}

callback = provider.callback();
process.send({ issuer, keys: keys.map(({ kty, crv, x, y, n, e, alg, kid }) => ({ kty, crv, x, y, n, e, alg, kid })) });
process.on("message", (m) => {
  if (m.cpu) {
    const { user: u, system } = process.cpuUsage();
    process.send({ cpu: u + system });
  }
});
process.on("disconnect", () => process.exit(0));
