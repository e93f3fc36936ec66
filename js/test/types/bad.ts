// Must NOT compile (types.test.mjs expects these errors): the declarations are precise, not `any`.
import { Provider, generateKey, mintLogoutToken, verifyLogoutToken } from "oidc-edge";

generateKey("HS256"); // not an algorithm of the package
mintLogoutToken({ key: generateKey("ES256"), issuer: "https://op" }); // no audience
verifyLogoutToken("t", { jwks: { keys: [] }, issuer: "i", audience: "a", algorithms: ["none"] });
new Provider({ baseUrl: "https://id.example", masterKey: "k" }); // no store
const n: number = mintLogoutToken({ key: generateKey("ES256"), issuer: "i", audience: "a", sid: "s" });
void n;
