//! What the provider stores, and where (DESIGN.md "Storage": one JSON document per key).

use alloc::{format, string::String, vec::Vec};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::host::{Store, StoreError};

/// How dynamic registration is gated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone may register a client.
    #[default]
    Open,
    /// An initial access token is needed (RFC 7591 §3).
    Token,
}

/// A realm's settings (the admin API's document).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealmConfig {
    /// Longest a session may live, in seconds.
    pub session_max_time_secs: u64,
    /// Longest a session may sit idle, in seconds.
    pub session_idle_time_secs: u64,
    /// ID-token signing algorithm for clients that registered none (OIDC Core: RS256).
    pub id_token_signing_alg: String,
    /// Whether dynamic registration is open or needs an initial access token.
    pub registration: Registration,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_ttl_secs: u64,
    /// Whether clients may register back-channel logout URIs on loopback or private
    /// addresses (off by default: an SSRF guard; on for the demo realm).
    pub allow_private_uris: bool,
    /// Anonymous registrations (`registration: open`) one source may make per hour; 0 for no
    /// limit.
    pub registrations_per_source_per_hour: u32,
    /// The initial access token for `registration: token` (write-only: stored hashed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_token: Option<String>,
    /// How long a refresh token stays usable without being used, in seconds (sliding: each
    /// refresh issues a new one with this lifetime).
    pub refresh_token_ttl_secs: u64,
    /// Longest a family of refresh tokens with `offline_access` lives, from its first token,
    /// in seconds (absolute). Without `offline_access` the session bounds them.
    pub offline_token_ttl_secs: u64,
    /// Whether refresh tokens with `offline_access` outlive the session they came from (Back-
    /// Channel Logout 1.0 §2.7 advises so); when false, they end with it as the others do.
    pub offline_access_survives_logout: bool,
    /// How long the logout page and `sessions/logout` wait for the RPs' answers, in ms, before
    /// they answer (the deliveries go on in the background); 0 answers at once.
    pub logout_wait_ms: u64,
}

impl Default for RealmConfig {
    fn default() -> Self {
        Self {
            session_max_time_secs: 8 * 3600,
            session_idle_time_secs: 30 * 60,
            id_token_signing_alg: String::from("RS256"),
            registration: Registration::Open,
            access_token_ttl_secs: 3600,
            id_token_ttl_secs: 3600,
            allow_private_uris: false,
            registrations_per_source_per_hour: 20,
            registration_token: None,
            refresh_token_ttl_secs: 14 * 86400,
            offline_token_ttl_secs: 90 * 86400,
            offline_access_survives_logout: true,
            logout_wait_ms: 1500,
        }
    }
}

/// Whether a signing key is the one in use or kept for tokens already issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens.
    Active,
    /// Published in the JWKS only, until the next rotation.
    Previous,
}

/// A realm's signing key as the realm document lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealmKey {
    /// Key id (RFC 7638 thumbprint).
    pub kid: String,
    /// `EC` (ES256) or `RSA` (RS256, PS256).
    pub kty: String,
    /// Active or previous.
    pub status: KeyStatus,
    /// The public JWK.
    pub public: Value,
}

/// A realm: its name, settings and keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Realm {
    /// The realm's name, as in its URLs.
    pub name: String,
    /// Settings.
    pub config: RealmConfig,
    /// SHA-256 (base64url) of the initial access token, for `registration: token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_token_hash: Option<String>,
    /// Signing keys.
    pub keys: Vec<RealmKey>,
    /// When the realm was created.
    pub created: u64,
    /// Set by `DELETE /admin/realms/R`: the realm serves nothing any more, and goes once the
    /// logout tokens of its ended sessions have been delivered.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub deleting: bool,
}

/// A sealed private key (`key/{R}/{kid}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SealedKey {
    /// Key id.
    pub kid: String,
    /// base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag) of the private JWK's JSON.
    pub sealed: String,
}

/// A registered client (`client/{R}/{id}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    /// The validated metadata, as registered.
    pub metadata: crate::client_metadata::ClientMetadata,
    /// `client_id`.
    pub client_id: String,
    /// SHA-256 (base64url) of the client secret; `None` for public clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
    /// SHA-256 (base64url) of the RFC 7592 registration access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_token_hash: Option<String>,
    /// When the client was registered.
    pub issued_at: u64,
    /// A client of the operator's own (set through the admin API only): it skips the consent
    /// page. Dynamically registered clients never are.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub first_party: bool,
}

/// A user (`user/{R}/{name}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub username: String,
    /// PBKDF2 hash in the form `$pbkdf2-sha256$i=N$salt$hash`.
    pub password_hash: String,
    /// Stable subject identifier (random, never reused).
    pub sub: String,
    /// `email` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `name` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the user was created.
    pub created: u64,
    /// A disabled user cannot sign in; disabling ends the user's sessions.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub disabled: bool,
}

/// What a user consented to share with one client (`grant/{R}/{sub}/{client}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grant {
    /// The client.
    pub client_id: String,
    /// The scopes granted, without duplicates.
    pub scopes: Vec<String>,
    /// When consent was first given.
    pub created: u64,
    /// When it was last extended.
    pub updated: u64,
}

impl Grant {
    /// Whether every scope in `wanted` is granted.
    pub fn covers(&self, wanted: &[String]) -> bool {
        wanted.iter().all(|w| self.scopes.contains(w))
    }
}

/// The secret a session's per-client `sid`s (and its CSRF tokens) are derived from: exactly
/// 32 bytes, stored as base64url; anything else does not decode.
#[derive(Clone, PartialEq, Eq)]
pub struct SidKey(pub [u8; 32]);

impl core::fmt::Debug for SidKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SidKey([redacted])")
    }
}

impl Serialize for SidKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::jose::b64::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for SidKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = crate::jose::b64::decode(&s)
            .map_err(|_| serde::de::Error::custom("sid_key is not base64url"))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self)
            .map_err(|_| serde::de::Error::custom("sid_key must be 32 bytes"))
    }
}

/// A client that obtained an ID token from a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The client.
    pub client_id: String,
    /// When it first received an ID token from this session.
    pub since: u64,
}

/// A server-side session (`session/{R}/{id}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Public handle: base64url of SHA-256 of the session token (the cookie value), so the
    /// admin API can name sessions without holding anything that logs in.
    pub id: String,
    /// The user's login name.
    pub user: String,
    /// The user's `sub`.
    pub sub: String,
    /// When the user authenticated.
    pub auth_time: u64,
    /// When the session was created.
    pub created: u64,
    /// Last recorded activity (written at most every `idle/10` seconds).
    pub last_access: u64,
    /// `created + session_max_time_secs`.
    pub max_expires_at: u64,
    /// Idle timeout in force when the session was created, in seconds.
    pub idle_timeout_secs: u64,
    /// The secret from which each client's `sid` is derived.
    pub sid_key: SidKey,
    /// Clients that received an ID token from this session.
    pub participants: Vec<Participant>,
    /// The device it was started from, as its `User-Agent` said (at most
    /// [`MAX_DEVICE_LEN`] bytes), for the user's and the administrator's session lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The longest `User-Agent` a session keeps as its device, in bytes.
pub const MAX_DEVICE_LEN: usize = 256;

/// An authorization code (`code/{R}/{hash}`), single use.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// The client it was issued to.
    pub client_id: String,
    /// The exact redirect URI of the request.
    pub redirect_uri: String,
    /// The session it came from (public id).
    pub session_id: String,
    /// The user's login name.
    pub user: String,
    /// The user's `sub`: the code is worthless if the name now belongs to someone else.
    pub sub: String,
    /// `nonce` of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// Granted scope.
    pub scope: String,
    /// When the user authenticated.
    pub auth_time: u64,
    /// When the code stops being valid.
    pub expires_at: u64,
    /// Whether the request sent `max_age` (the ID token then must carry `auth_time`).
    #[serde(default)]
    pub max_age_sent: bool,
    /// Set when the code is redeemed: the id of the grant its first use issued (its access
    /// tokens' `jti`s start with it, and it names their refresh token family), all revoked if
    /// the code is ever presented again (RFC 6749 §4.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed: Option<String>,
}

/// A refresh token (`rt/{R}/{hash}`), by the hash of its value: which family it belongs to and
/// which of the family's tokens it is. A family has one current token; each refresh rotates it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshToken {
    /// The family's id (the grant id of the code it came from).
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user's `sub`.
    pub sub: String,
    /// Its place in the family: 0 for the token the code gave, then one more per refresh.
    pub generation: u32,
    /// When it was issued.
    pub iat: u64,
    /// When it stops being usable (sliding: `refresh_token_ttl_secs` after its issue).
    pub expires_at: u64,
}

/// A family of refresh tokens (`rtf/{R}/{sub}/{client}/{family}`): one grant, rotated on each
/// use; it lives while its current token may be used, and is deleted when revoked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// The client (as registered at `client_issued_at`: a client registered again under the
    /// same id inherits nothing).
    pub client_id: String,
    /// When the client was registered.
    pub client_issued_at: u64,
    /// The user's login name.
    pub user: String,
    /// The user's `sub`.
    pub sub: String,
    /// The session the grant came from (public id).
    pub session_id: String,
    /// Whether the grant holds `offline_access` (it may outlive the session).
    pub offline: bool,
    /// The scope granted.
    pub scope: String,
    /// When the user authenticated.
    pub auth_time: u64,
    /// When the family's first token was issued.
    pub created: u64,
    /// The generation of the current token; any older one presented again is a replay.
    pub generation: u32,
    /// For `offline_access`: when the family ends however it is used (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// Read and decode a JSON document; a document that no longer decodes is a store error.
pub async fn load<T: DeserializeOwned, S: Store + ?Sized>(
    store: &S,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError(format!("{key}: undecodable document: {e}"))),
    }
}

/// Read and decode a JSON document with the bytes it was read from (what a
/// [`crate::host::Store::swap`] compares against).
pub async fn load_raw<T: DeserializeOwned, S: Store + ?Sized>(
    store: &S,
    key: &str,
) -> Result<Option<(T, Vec<u8>)>, StoreError> {
    match store.get(key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(|v| Some((v, bytes)))
            .map_err(|e| StoreError(format!("{key}: undecodable document: {e}"))),
    }
}

/// Replace the document at `key` with `value` only if it still holds `before` (the bytes
/// [`load_raw`] read): whether it did.
pub async fn replace<T: Serialize, S: Store + ?Sized>(
    store: &S,
    key: &str,
    before: &[u8],
    value: &T,
    ttl_secs: Option<u64>,
) -> Result<bool, StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError(format!("{key}: {e}")))?;
    store.swap(key, Some(before), Some(&bytes), ttl_secs).await
}

/// Encode and write a JSON document.
pub async fn save<T: Serialize, S: Store + ?Sized>(
    store: &S,
    key: &str,
    value: &T,
    ttl_secs: Option<u64>,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError(format!("{key}: {e}")))?;
    store.put(key, &bytes, ttl_secs).await
}

/// Delete every key under `prefix`, page by page.
pub async fn delete_prefix<S: Store + ?Sized>(
    store: &S,
    prefix: &str,
) -> Result<usize, StoreError> {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list(prefix, crate::store::Page::after(cursor.as_deref(), 100))
            .await?;
        for k in &page.keys {
            store.delete(k).await?;
            n += 1;
        }
        match page.cursor {
            Some(c) if !page.keys.is_empty() => cursor = Some(c),
            _ => return Ok(n),
        }
    }
}

/// Every key under `prefix`, up to `max`.
pub async fn list_all<S: Store + ?Sized>(
    store: &S,
    prefix: &str,
    max: usize,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list(prefix, crate::store::Page::after(cursor.as_deref(), 100))
            .await?;
        let done = page.keys.is_empty();
        out.extend(page.keys);
        if out.len() >= max {
            out.truncate(max);
            return Ok(out);
        }
        match page.cursor {
            Some(c) if !done => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}
