// Compiled by types.test.mjs with `tsc --noEmit` against the built declarations: every export
// used as the README shows, so a declaration that drifts from the API breaks the build.
import {
  Provider,
  generateKey,
  mintLogoutToken,
  publicJwks,
  verifyLogoutToken,
  type DeliveryReport,
  type DeliveryRequest,
  type Jwks,
  type LogoutTokenClaims,
  type OidcEdgeError,
  type PrivateJwk,
  type ProviderStore,
} from "oidc-edge";
import initWeb, { verifyLogoutToken as verifyOnTheWeb } from "oidc-edge/web";

const key: PrivateJwk = await generateKey("ES256");
const rpKey: PrivateJwk = await generateKey("RSA-OAEP-256", { modulusLength: 3072 });
const jwks: Jwks = publicJwks([key]);
const token: string = await mintLogoutToken({
  key,
  issuer: "https://op.example/realms/r",
  audience: "rp",
  subject: "u",
  cause: "CLIENT_LOGOUT",
  expiresIn: 60,
  encryptTo: publicJwks(rpKey).keys[0],
  enc: "A256GCM",
});
const seen = new Set<string>();
try {
  const claims: LogoutTokenClaims = verifyLogoutToken(token, {
    jwks,
    issuer: "https://op.example/realms/r",
    audience: "rp",
    decryptWith: rpKey,
    algorithms: ["ES256"],
    seenJti: (jti) => seen.has(jti),
  });
  const sub: string | undefined = claims.sub;
  const exp: number = claims.exp;
  void [sub, exp];
} catch (e) {
  const code: string = (e as OidcEdgeError).code;
  void code;
}

const map = new Map<string, Uint8Array>();
const store: ProviderStore = {
  get: (k) => map.get(k) ?? null,
  put: (k, v) => void map.set(k, v),
  delete: (k) => void map.delete(k),
  list: (prefix, cursor, limit) => ({
    keys: [...map.keys()].filter((k) => k.startsWith(prefix) && (!cursor || k > cursor)).sort().slice(0, limit),
  }),
};
const provider = new Provider({
  baseUrl: "https://id.example",
  adminToken: "0123456789abcdef0123",
  masterKey: new Uint8Array(32),
  store,
  deliver: (request: DeliveryRequest) => fetch(request.uri, request),
  delivery: { timeoutMs: 3000, auto: true },
  log: null,
});
async function serve(request: Request): Promise<Response> {
  const response: Response = await provider.handle(request, { waitUntil: (p) => void p });
  const ended: number = await provider.sweep();
  const created: boolean = await provider.seedDemo();
  const report: DeliveryReport = await provider.runDeliveries();
  const next: number | null = report.nextDueMs;
  await provider.idle();
  void [ended, created, next, provider.issuer("demo")];
  return response;
}
void serve;

async function web(bytes: Uint8Array) {
  await initWeb({ module_or_path: bytes });
  return verifyOnTheWeb;
}
void web;
