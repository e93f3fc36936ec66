// Must NOT compile (types.test.mjs expects these errors): the declarations are precise, not `any`.
import { Provider, generateKey, mintLogoutToken, verifyLogoutToken, type PrivateJwk } from "oidc-edge";

generateKey("HS256"); // not an algorithm of the package
mintLogoutToken({ key: await generateKey("ES256"), issuer: "https://op" }); // no audience
verifyLogoutToken("t", { jwks: { keys: [] }, issuer: "i", audience: "a", algorithms: ["none"] });
new Provider({ baseUrl: "https://id.example", masterKey: "k" }); // no store
const n: number = await mintLogoutToken({ key: await generateKey("ES256"), issuer: "i", audience: "a", sid: "s" });
const t: string = mintLogoutToken({ key: await generateKey("ES256"), issuer: "i", audience: "a", sid: "s" }); // a promise
const k: PrivateJwk = generateKey("ES256"); // a promise
void [n, t, k];
