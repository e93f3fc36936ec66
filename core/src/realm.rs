//! Realms and their signing keys: generated on creation, sealed at rest, rotated on request.

use alloc::{format, string::String, vec::Vec};

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::crypto::Crypto as _;
use crate::error::{Error, JoseError};
use crate::host::Host;
use crate::jose::jwk::KeyType;
use crate::jose::{Jwk, JwsAlg};
use crate::keys;
use crate::opaque_token;
use crate::records::{self, KeyStatus, Realm, RealmConfig, RealmKey, SealedKey};
use crate::sealing;

/// RSA modulus size of realm keys.
pub const RSA_BITS: usize = 2048;

/// Whether `name` is a valid realm name: 1–64 of `a-z 0-9 - _`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The issuer of realm `name`.
pub fn issuer<H: Host>(host: &H, name: &str) -> String {
    format!("{}/realms/{name}", host.config().base_url)
}

fn seal_context(realm: &str, kid: &str) -> String {
    format!("oidc-edge {}", keys::signing_key(realm, kid))
}

/// Generate one EC and one RSA key, seal and store the private halves, return their entries.
async fn new_keys<H: Host>(host: &H, realm: &str) -> Result<Vec<RealmKey>, Error> {
    let mut out = Vec::new();
    for kty in [KeyType::EcP256, KeyType::Rsa] {
        let mut key = match kty {
            KeyType::EcP256 => Jwk::generate_ec(host)?,
            KeyType::Rsa => host.crypto().generate_rsa(RSA_BITS, host).await?,
        };
        key.key_use = Some(String::from("sig"));
        let kid = key.kid.clone().ok_or(JoseError::InvalidKey("no kid"))?;
        let private =
            serde_json::to_vec(&key.to_value()).map_err(|_| JoseError::Crypto("key encoding"))?;
        let sealed = sealing::seal(
            &host.config().master_key,
            &seal_context(realm, &kid),
            &private,
            host,
        )?;
        records::save(
            host,
            &keys::signing_key(realm, &kid),
            &SealedKey {
                kid: kid.clone(),
                sealed,
            },
            None,
        )
        .await
        .map_err(store)?;
        out.push(RealmKey {
            kid,
            kty: String::from(match kty {
                KeyType::EcP256 => "EC",
                KeyType::Rsa => "RSA",
            }),
            status: KeyStatus::Active,
            public: key.to_public().to_value(),
        });
    }
    Ok(out)
}

/// A store failure as a core error.
pub fn store(e: crate::host::StoreError) -> Error {
    Error::Store(e)
}

/// Create realm `name` with `config` and fresh keys.
pub async fn create<H: Host>(
    host: &H,
    name: &str,
    mut config: RealmConfig,
) -> Result<Realm, Error> {
    let registration_token_hash = config
        .registration_token
        .take()
        .map(|t| opaque_token::hash(&t));
    let keys = new_keys(host, name).await?;
    let realm = Realm {
        name: String::from(name),
        config,
        registration_token_hash,
        keys,
        created: host.now().secs(),
        deleting: false,
    };
    records::save(host, &keys::realm(name), &realm, None)
        .await
        .map_err(store)?;
    Ok(realm)
}

/// Load realm `name`.
pub async fn load<H: Host>(host: &H, name: &str) -> Result<Option<Realm>, Error> {
    records::load(host, &keys::realm(name)).await.map_err(store)
}

/// Finish deleting a realm marked `deleting`: once none of its deliveries is pending, remove
/// every key it owns (see [`keys::realm_prefixes`]), its expiry index entries, and the realm
/// itself. Returns whether it is gone.
pub async fn purge_deleted<H: Host>(host: &H, realm: &Realm) -> Result<bool, Error> {
    use crate::logout::record::Delivery;
    for k in records::list_all(host, keys::OUTBOX, usize::MAX)
        .await
        .map_err(store)?
    {
        if let Some(d) = records::load::<Delivery, _>(host, &k)
            .await
            .map_err(store)?
            && d.realm == realm.name
        {
            return Ok(false);
        }
    }
    for prefix in keys::realm_prefixes(&realm.name) {
        records::delete_prefix(host, &prefix).await.map_err(store)?;
    }
    // `exp/{minute}/{R}/{id}`: the expiry index is ordered by time, not by realm.
    for k in records::list_all(host, "exp/", usize::MAX)
        .await
        .map_err(store)?
    {
        if k.split('/').nth(2) == Some(realm.name.as_str()) {
            host.delete(&k).await.map_err(store)?;
        }
    }
    host.delete(&keys::realm(&realm.name))
        .await
        .map_err(store)?;
    Ok(true)
}

/// [`purge_deleted`] for every realm being deleted (the expiry sweep calls this).
pub async fn purge_all_deleted<H: Host>(host: &H) -> Result<(), Error> {
    for k in records::list_all(host, "realm/", usize::MAX)
        .await
        .map_err(store)?
    {
        if let Some(r) = records::load::<Realm, _>(host, &k).await.map_err(store)?
            && r.deleting
        {
            purge_deleted(host, &r).await?;
        }
    }
    Ok(())
}

/// Rotate: new active keys; the current ones become previous (still in the JWKS); keys that
/// were already previous are deleted.
pub async fn rotate<H: Host>(host: &H, realm: &mut Realm) -> Result<(), Error> {
    let fresh = new_keys(host, &realm.name).await?;
    let mut kept = Vec::new();
    for k in realm.keys.drain(..) {
        match k.status {
            KeyStatus::Active => kept.push(RealmKey {
                status: KeyStatus::Previous,
                ..k
            }),
            KeyStatus::Previous => host
                .delete(&keys::signing_key(&realm.name, &k.kid))
                .await
                .map_err(store)?,
        }
    }
    realm.keys = fresh;
    realm.keys.extend(kept);
    records::save(host, &keys::realm(&realm.name), realm, None)
        .await
        .map_err(store)
}

/// The public JWKS: active and previous keys.
pub fn jwks(realm: &Realm) -> Value {
    let mut m = Map::new();
    m.insert(
        String::from("keys"),
        Value::Array(realm.keys.iter().map(|k| k.public.clone()).collect()),
    );
    Value::Object(m)
}

/// The active private key that signs with `alg`.
pub async fn signing_key<H: Host>(host: &H, realm: &Realm, alg: JwsAlg) -> Result<Jwk, Error> {
    let kty = match alg.key_type() {
        KeyType::EcP256 => "EC",
        KeyType::Rsa => "RSA",
    };
    let entry = realm
        .keys
        .iter()
        .find(|k| k.status == KeyStatus::Active && k.kty == kty)
        .ok_or(JoseError::NoMatchingKey)?;
    let sealed: SealedKey = records::load(host, &keys::signing_key(&realm.name, &entry.kid))
        .await
        .map_err(store)?
        .ok_or(JoseError::NoMatchingKey)?;
    // The sealed text names the key (and its context, which names realm and kid): the same
    // text unseals to the same key, so a host may keep what it unsealed.
    let memo: [u8; 32] = Sha256::new()
        .chain_update(seal_context(&realm.name, &entry.kid))
        .chain_update([0])
        .chain_update(&sealed.sealed)
        .finalize()
        .into();
    if let Some(key) = host.unsealed_key(&memo) {
        return Ok(key);
    }
    let private = sealing::unseal(
        &host.config().master_key,
        &seal_context(&realm.name, &entry.kid),
        &sealed.sealed,
    )?;
    let json = core::str::from_utf8(&private).map_err(|_| JoseError::Decrypt)?;
    let key = Jwk::from_json(json)?;
    host.keep_unsealed_key(memo, &key);
    Ok(key)
}

/// The realm's public keys as a set, for verifying its own tokens.
pub fn public_keys(realm: &Realm) -> Result<crate::jose::JwkSet, Error> {
    Ok(crate::jose::JwkSet::from_value(&jwks(realm))?)
}
