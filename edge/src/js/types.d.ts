/** A JSON Web Key (RFC 7517): EC P-256 or RSA, public or private. */
export interface Jwk {
  kty: "EC" | "RSA";
  kid?: string;
  alg?: string;
  use?: "sig" | "enc";
  key_ops?: string[];
  crv?: "P-256";
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  d?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  [member: string]: unknown;
}

/** A private key from {@link generateKey}: `kid` (its RFC 7638 thumbprint), `alg` and `use` set. */
export interface PrivateJwk extends Jwk {
  kid: string;
  alg: SigningAlg | KeyManagementAlg;
  use: "sig" | "enc";
  d: string;
}

/** A JWK Set. */
export interface Jwks {
  keys: Jwk[];
}

/** JWS algorithms: the logout token's signature. */
export type SigningAlg = "ES256" | "RS256" | "PS256";
/** JWE key management algorithms: a relying party's encryption key. */
export type KeyManagementAlg = "ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A256KW" | "RSA-OAEP-256";
/** JWE content encryption algorithms. */
export type ContentEncryption = "A128CBC-HS256" | "A256CBC-HS512" | "A128GCM" | "A256GCM";
/** Why a session ended (the `cause` claim, as ForgeRock AM sends it). */
export type LogoutCause =
  | "CLIENT_LOGOUT"
  | "SESSION_TERMINATION"
  | "SESSION_MAX_TIMEOUT"
  | "SESSION_IDLE_TIMEOUT";

/** Options of {@link generateKey}. */
export interface GenerateKeyOptions {
  /** RSA modulus size in bits, 2048 (default) to 4096. */
  modulusLength?: number;
}

/** Options of {@link mintLogoutToken}. At least one of `subject` and `sid` is required. */
export interface MintLogoutTokenOptions {
  /** The OP's private signing key (from {@link generateKey}, or any EC P-256 / RSA private JWK). */
  key: Jwk;
  /** `iss`: the OP's issuer. */
  issuer: string;
  /** `aud`: the relying party's client id. */
  audience: string;
  /** `sub`, as in the ID tokens the RP received. */
  subject?: string;
  /** `sid`, for RPs that registered `backchannel_logout_session_required`. */
  sid?: string;
  /** The `cause` claim; left out when not given. */
  cause?: LogoutCause;
  /** `exp - iat` in seconds: 1 to 120 (default 120). */
  expiresIn?: number;
  /** The signature algorithm; default: the key's `alg`, else ES256 (EC) or RS256 (RSA). */
  alg?: SigningAlg;
  /** `iat` in seconds since the epoch; default: now. */
  now?: number;
  /** AM's `auditTrackingId` claim; default: a fresh UUID. */
  auditTrackingId?: string;
  /** The RP's public encryption key: the signed token is then nested in a JWE (`cty: "JWT"`). */
  encryptTo?: Jwk;
  /** Key management algorithm; default: `encryptTo.alg`, else ECDH-ES (EC) or RSA-OAEP-256 (RSA). */
  encryptionAlg?: KeyManagementAlg;
  /** Content encryption; default A128CBC-HS256. */
  enc?: ContentEncryption;
}

/** Options of {@link verifyLogoutToken}: what the relying party knows. */
export interface VerifyLogoutTokenOptions {
  /** The OP's public keys (a JWK Set, an array of JWKs, or one JWK). */
  jwks: Jwks | Jwk[] | Jwk;
  /** The OP's issuer. */
  issuer: string;
  /** This RP's client id. */
  audience: string;
  /** The RP's private key when it registered ID-token encryption: the token must then be a JWE. */
  decryptWith?: Jwk;
  /** The current time in seconds since the epoch; default: now. */
  now?: number;
  /** Clock skew tolerated on `exp` and `iat`, in seconds; default 60. */
  leewaySecs?: number;
  /** Signature algorithms accepted (the RP's registered ID-token alg); default: all three. */
  algorithms?: SigningAlg[];
  /**
   * §2.6 step 7: called with the token's `jti` once every other check has passed; return `true`
   * when this `jti` was received before (the token is then rejected with code `replayed`).
   */
  seenJti?: (jti: string) => boolean;
}

/** The claims of a valid logout token, as received. */
export interface LogoutTokenClaims {
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  jti: string;
  events: { "http://schemas.openid.net/event/backchannel-logout": Record<string, never> };
  sub?: string;
  sid?: string;
  cause?: LogoutCause;
  auditTrackingId?: string;
  [claim: string]: unknown;
}

/** The `code` of an error thrown by {@link verifyLogoutToken}. */
export type LogoutTokenErrorCode =
  | "malformed"
  | "encryption_mismatch"
  | "decryption_failed"
  | "unsupported_algorithm"
  | "no_matching_key"
  | "invalid_signature"
  | "wrong_typ"
  | "invalid_issuer"
  | "invalid_audience"
  | "expired"
  | "issued_in_future"
  | "invalid_claim"
  | "missing_sub_and_sid"
  | "missing_events"
  | "nonce_present"
  | "replayed";

/** The `code` of an error thrown by the other functions and by {@link Provider}. */
export type OidcEdgeErrorCode =
  | "invalid_argument"
  | "invalid_key"
  | "unsupported_algorithm"
  | "invalid_config"
  | "crypto"
  | "entropy"
  | "store";

/** Every error thrown or rejected by this package is an `Error` with a stable `code`. */
export interface OidcEdgeError extends Error {
  code: LogoutTokenErrorCode | OidcEdgeErrorCode;
}

/** A stored value: the store may hand back the bytes it was given, or them as UTF-8 text. */
export type StoredValue = Uint8Array | ArrayBuffer | string | null | undefined;

/**
 * The provider's key-value store (what Workers KV offers): eventually consistent is fine, no
 * transactions needed. Each method may return a value or a promise of it.
 */
export interface ProviderStore {
  /** The value at `key`, or `null`/`undefined` when missing or expired. */
  get(key: string): StoredValue | Promise<StoredValue>;
  /** Store `value` at `key`, expiring after `ttlSecs` when given (rounding up is fine). */
  put(key: string, value: Uint8Array, ttlSecs?: number): unknown;
  /** Delete `key`; deleting a missing key is not an error. */
  delete(key: string): unknown;
  /**
   * Keys starting with `prefix` in lexicographic order, at most `limit`, after `cursor` (the
   * `cursor` of the previous page); `cursor` null or absent on the last page.
   */
  list(
    prefix: string,
    cursor: string | undefined,
    limit: number,
  ): ListPage | Promise<ListPage>;
}

/** One page of {@link ProviderStore.list}. */
export interface ListPage {
  keys: string[];
  cursor?: string | null;
}

/**
 * One back-channel logout POST for the host to make. It is also a valid `fetch` init:
 * `fetch(request.uri, request)` does exactly what is asked (the default when no `deliver` is
 * given).
 */
export interface DeliveryRequest {
  method: "POST";
  /** The RP's `backchannel_logout_uri`. */
  uri: string;
  /** `content-type: application/x-www-form-urlencoded` and a `user-agent`. */
  headers: Record<string, string>;
  /** `logout_token=...`. */
  body: string;
  /** Redirects are not followed. */
  redirect: "manual";
  /** Aborted when `timeoutMs` has passed (the attempt then counts as a timeout). */
  signal: AbortSignal;
  timeoutMs: number;
  /**
   * Whether the realm allows loopback and private addresses. URIs whose host is such an IP
   * literal are refused before the host is asked; a host that resolves names itself should
   * refuse names that resolve to such addresses when this is false.
   */
  allowPrivate: boolean;
}

/** The host's answer: the RP's HTTP status (a `Response` will do), or a rejection when none came. */
export type DeliveryResult = number | { status: number };

/** Makes back-channel POSTs: an object with `post`, or the function itself. */
export type Deliverer =
  | { post(request: DeliveryRequest): DeliveryResult | Promise<DeliveryResult> }
  | ((request: DeliveryRequest) => DeliveryResult | Promise<DeliveryResult>);

/** Delivery settings of a {@link Provider}. */
export interface DeliveryOptions {
  /** Per-POST timeout in ms (default 5000). */
  timeoutMs?: number;
  /** Retries after the first attempt, for transient failures (default 5). */
  retryMax?: number;
  /** Backoff base in ms: the n-th retry waits about `base * 2^(n-1)` (default 1000). */
  retryBaseMs?: number;
  /** Deliveries in flight at once (default 1024). */
  concurrency?: number;
  /**
   * Run deliveries in the background as soon as a logout or sweep queues them, with retries on
   * timers (default true). When false, call {@link Provider.runDeliveries} yourself (from a cron).
   */
  auto?: boolean;
}

/** Options of the {@link Provider} constructor. */
export interface ProviderOptions {
  /** The public base URL; the issuer of realm R is `{baseUrl}/realms/{R}`. */
  baseUrl: string;
  /** The admin API's bearer token (at least 16 characters); absent: the admin API is closed. */
  adminToken?: string;
  /** 32 bytes, or their base64url: seals the realms' private keys in the store. */
  masterKey: string | Uint8Array;
  /** Where everything is kept. */
  store: ProviderStore;
  /** Makes the back-channel POSTs; default: the global `fetch`. */
  deliver?: Deliverer;
  /** Delivery settings. */
  delivery?: DeliveryOptions;
  /** Log lines (audit events as JSON lines); default `console.log`; `null` or `false`: none. */
  log?: ((line: string) => void) | null | false;
}

/** Lets a runtime keep the invocation alive for background work (`ctx.waitUntil`). */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

/** What one round of {@link Provider.runDeliveries} did. */
export interface DeliveryReport {
  /** Attempts made. */
  attempted: number;
  /** Attempts that could not be made or recorded (store errors; see the log). */
  failed: number;
  /** When the earliest pending delivery is due (ms since the epoch), or null when none is. */
  nextDueMs: number | null;
}
