//! The native crypto seam (AWS-LC) and core's pure-Rust code are interchangeable: each one's
//! signatures verify with the other's verifier (RS256, PS256, ES256), both verifiers give the
//! same answer for valid and altered signatures, a key generated natively
//! signs with core's code, PBKDF2 gives the same bytes, and jose (npm) accepts what the native
//! seam signed. Refused keys are errors, never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge::native::OsEntropy;
use oidc_edge::native::crypto::NativeCrypto;
use oidc_edge_core::crypto::{self, Crypto, Pbkdf2, RustCrypto, ToSign};
use oidc_edge_core::jose::jwk::KeyType;
use oidc_edge_core::jose::jws::{self, Verifier};
use oidc_edge_core::jose::{Jwk, JwkSet, JwsAlg, b64};
use serde_json::{Value, json};

const INPUT: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
const ALGS: [JwsAlg; 3] = [JwsAlg::RS256, JwsAlg::PS256, JwsAlg::ES256];

struct Keys {
    rsa: Jwk,
    ec: Jwk,
}

impl Keys {
    fn new() -> Self {
        Self {
            rsa: Jwk::generate_rsa(2048, &OsEntropy).unwrap(),
            ec: Jwk::generate_ec(&OsEntropy).unwrap(),
        }
    }

    fn for_alg(&self, alg: JwsAlg) -> &Jwk {
        match alg {
            JwsAlg::ES256 => &self.ec,
            JwsAlg::RS256 | JwsAlg::PS256 => &self.rsa,
        }
    }
}

fn member(key: &Jwk, name: &str) -> Vec<u8> {
    b64::decode(key.to_value()[name].as_str().unwrap()).unwrap()
}

/// A small JWT signed through the native seam.
async fn native_jwt(native: &NativeCrypto, key: &Jwk, alg: JwsAlg) -> String {
    let claims = json!({"iss": "https://op.example", "sub": "alice"});
    crypto::sign_jwt(
        native,
        &OsEntropy,
        claims.as_object().unwrap(),
        key,
        alg,
        Some("JWT"),
        None,
    )
    .await
    .unwrap()
}

fn sig_len(alg: JwsAlg) -> usize {
    if alg == JwsAlg::ES256 { 64 } else { 256 }
}

fn tampered(sig: &[u8]) -> Vec<u8> {
    let mut bad = sig.to_vec();
    bad[sig.len() / 2] ^= 0x40;
    bad
}

#[tokio::test]
async fn native_signatures_verify_with_core() {
    let keys = Keys::new();
    let native = NativeCrypto::new();
    for alg in ALGS {
        let key = keys.for_alg(alg);
        let what = ToSign {
            key,
            alg,
            input: INPUT,
        };
        let sig = native.sign(what, &OsEntropy).await.unwrap();
        // JWS encodings: the raw RSA signature; r || s for ES256, never DER.
        assert_eq!(sig.len(), sig_len(alg), "{alg}");
        let public = key.to_public();
        assert!(jws::verify_signature(&public, alg, INPUT, &sig), "{alg}");
        assert!(
            !jws::verify_signature(&public, alg, INPUT, &tampered(&sig)),
            "{alg}"
        );
        assert!(
            NativeCrypto::new().verify(&public, alg, INPUT, &sig),
            "{alg}"
        );

        // A whole JWT through the seam, checked by core's Verifier.
        let token = native_jwt(&native, key, alg).await;
        let set = JwkSet { keys: vec![public] };
        let verified = Verifier::new(&set, &[alg]).verify(&token).unwrap();
        assert_eq!(verified.alg, alg);
    }
    // One parse per key, however many signatures.
    assert_eq!(native.cached_keys(), 2);
}

#[tokio::test]
async fn core_signatures_verify_with_aws_lc() {
    let keys = Keys::new();
    for alg in ALGS {
        let key = keys.for_alg(alg);
        let what = ToSign {
            key,
            alg,
            input: INPUT,
        };
        let sig = RustCrypto.sign(what, &OsEntropy).await.unwrap();
        assert!(
            NativeCrypto::new().verify(&key.to_public(), alg, INPUT, &sig),
            "{alg}"
        );
        assert!(
            !NativeCrypto::new().verify(&key.to_public(), alg, INPUT, &tampered(&sig)),
            "{alg}"
        );
    }
}

/// One check: what it is, the key, the algorithm, the input, the signature, and whether it is
/// valid.
type Case<'a> = (&'a str, &'a Jwk, JwsAlg, &'a [u8], Vec<u8>, bool);

/// Native verification gives core's answer: signatures by either seam are accepted by both,
/// and every altered one (a flipped bit, the wrong algorithm, the wrong key, a wrong length,
/// ES256 as DER, another input) is refused by both; a `Verifier` checking through the native
/// seam does the same as core's.
#[tokio::test]
async fn native_verification_answers_as_core_does() {
    let keys = Keys::new();
    let other = Keys::new();
    let native = NativeCrypto::new();
    let mut checked = 0;
    for alg in ALGS {
        let key = keys.for_alg(alg);
        let public = key.to_public();
        let what = ToSign {
            key,
            alg,
            input: INPUT,
        };
        for sig in [
            RustCrypto.sign(what, &OsEntropy).await.unwrap(),
            native.sign(what, &OsEntropy).await.unwrap(),
        ] {
            let wrong_alg = match alg {
                JwsAlg::RS256 => JwsAlg::PS256,
                JwsAlg::PS256 => JwsAlg::RS256,
                JwsAlg::ES256 => JwsAlg::RS256,
            };
            let mut der_like = vec![0x30, 0x44, 0x02, 0x20];
            der_like.extend_from_slice(&sig);
            let cases: [Case<'_>; 8] = [
                ("as signed", &public, alg, INPUT, sig.clone(), true),
                ("by the private key", key, alg, INPUT, sig.clone(), true),
                ("a flipped bit", &public, alg, INPUT, tampered(&sig), false),
                (
                    "another input",
                    &public,
                    alg,
                    b"eyJ9.eyJ9",
                    sig.clone(),
                    false,
                ),
                (
                    "the wrong algorithm",
                    &public,
                    wrong_alg,
                    INPUT,
                    sig.clone(),
                    false,
                ),
                (
                    "another key",
                    other.for_alg(alg),
                    alg,
                    INPUT,
                    sig.clone(),
                    false,
                ),
                (
                    "one byte short",
                    &public,
                    alg,
                    INPUT,
                    sig[1..].to_vec(),
                    false,
                ),
                ("longer, DER-like", &public, alg, INPUT, der_like, false),
            ];
            for (what, k, a, input, sig, valid) in cases {
                assert_eq!(
                    jws::verify_signature(k, a, input, &sig),
                    valid,
                    "core: {alg} {what}"
                );
                assert_eq!(
                    native.verify(k, a, input, &sig),
                    valid,
                    "native: {alg} {what}"
                );
                checked += 1;
            }
        }
        // Through a Verifier, as the provider checks an id_token_hint.
        let token = native_jwt(&native, key, alg).await;
        let set = JwkSet {
            keys: vec![public.clone()],
        };
        let others = JwkSet {
            keys: vec![other.for_alg(alg).to_public()],
        };
        for (set, valid) in [(&set, true), (&others, false)] {
            let by_core = Verifier::new(set, &ALGS).verify(&token).map(|v| v.payload);
            let by_native = Verifier::new(set, &ALGS)
                .checking_with(&native)
                .verify(&token)
                .map(|v| v.payload);
            assert_eq!(by_core.is_ok(), valid, "{alg}");
            assert_eq!(by_native, by_core, "{alg}");
        }
    }
    assert_eq!(checked, 48);
}

#[tokio::test]
async fn natively_generated_rsa_keys_are_core_keys() {
    let native = NativeCrypto::new();
    for bits in [2048, 3072] {
        let key = native.generate_rsa(bits, &OsEntropy).await.unwrap();
        assert!(key.is_private());
        assert_eq!(key.key_type(), KeyType::Rsa);
        assert_eq!(key.kid, Some(key.thumbprint().unwrap()));
        assert_eq!((key.alg.as_ref(), key.key_use.as_ref()), (None, None));
        let value = key.to_value();
        for name in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
            assert!(value[name].is_string(), "{bits}: {name}");
        }
        assert_eq!(member(&key, "n").len() * 8, bits);
        assert_eq!(member(&key, "e"), [1, 0, 1]);
        // Imported again as any stored key is.
        let again = Jwk::from_value(&value).unwrap();
        assert_eq!(again.thumbprint().unwrap(), key.thumbprint().unwrap());
        for alg in [JwsAlg::RS256, JwsAlg::PS256] {
            let what = ToSign {
                key: &again,
                alg,
                input: INPUT,
            };
            let by_core = RustCrypto.sign(what, &OsEntropy).await.unwrap();
            assert!(native.verify(&key, alg, INPUT, &by_core), "{bits} {alg}");
            assert!(jws::verify_signature(&key, alg, INPUT, &by_core));
            let by_native = native.sign(what, &OsEntropy).await.unwrap();
            assert!(jws::verify_signature(
                &key.to_public(),
                alg,
                INPUT,
                &by_native
            ));
        }
    }
    // A size AWS-LC does not generate is core's.
    let odd = native.generate_rsa(2056, &OsEntropy).await.unwrap();
    assert_eq!(member(&odd, "n").len() * 8, 2056);
    assert!(native.generate_rsa(1024, &OsEntropy).await.is_err());
}

#[tokio::test]
async fn pbkdf2_matches_core_and_the_vectors() {
    let native = NativeCrypto::new();
    // PBKDF2-HMAC-SHA256, the first 32 bytes: RFC 7914 §11, and RFC 6070's inputs.
    let vectors: [(&[u8], &[u8], u32, &str); 5] = [
        (
            b"passwd",
            b"salt",
            1,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc",
        ),
        (
            b"Password",
            b"NaCl",
            80_000,
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56",
        ),
        (
            b"password",
            b"salt",
            1,
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        ),
        (
            b"password",
            b"salt",
            2,
            "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43",
        ),
        (
            b"password",
            b"salt",
            4096,
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
        ),
    ];
    for (password, salt, iterations, hex) in vectors {
        let p = Pbkdf2 {
            password,
            salt,
            iterations,
        };
        let out = native.pbkdf2_sha256(p).await.unwrap();
        assert_eq!(to_hex(&out), hex, "{iterations}");
        assert_eq!(out, crypto::pbkdf2_sha256(password, salt, iterations));
    }
    // Edge cases and the realm's count: the same bytes as core's.
    let long = [0x5a_u8; 100]; // longer than an HMAC block: hashed first
    let cases: [(&[u8], &[u8], u32); 6] = [
        (b"", b"", 1),
        (b"pw", b"", 3),
        (&long, b"0123456789abcdef", 10),
        (b"correct horse", &long, 1000),
        (b"pw", b"salt", 0),
        (b"hunter2", b"sixteen byte salt", 50_000),
    ];
    for (password, salt, iterations) in cases {
        let p = Pbkdf2 {
            password,
            salt,
            iterations,
        };
        assert_eq!(
            native.pbkdf2_sha256(p).await.unwrap(),
            crypto::pbkdf2_sha256(password, salt, iterations),
            "{iterations}"
        );
    }
}

#[tokio::test]
async fn refused_keys_are_errors() {
    let keys = Keys::new();
    let native = NativeCrypto::new();
    let cases = [
        (keys.rsa.to_public(), JwsAlg::RS256),
        (keys.ec.to_public(), JwsAlg::ES256),
        (keys.ec.clone(), JwsAlg::PS256),
        (keys.rsa.clone(), JwsAlg::ES256),
    ];
    for (key, alg) in &cases {
        let what = ToSign {
            key,
            alg: *alg,
            input: INPUT,
        };
        assert!(native.sign(what, &OsEntropy).await.is_err(), "{alg}");
        assert!(RustCrypto.sign(what, &OsEntropy).await.is_err(), "{alg}");
    }
    // Corrupted members never become a key.
    let mut value = keys.rsa.to_value();
    let mut d = member(&keys.rsa, "d");
    d[10] ^= 1;
    value["d"] = Value::String(b64::encode(&d));
    assert!(Jwk::from_value(&value).is_err());
    let mut value = keys.ec.to_value();
    value["d"] = Value::String("!!".into());
    assert!(Jwk::from_value(&value).is_err());
    assert_eq!(native.cached_keys(), 0);
}

/// jose (npm) verifies JWTs the native seam signed.
#[tokio::test]
async fn jose_verifies_native_signatures() {
    let keys = Keys::new();
    let native = NativeCrypto::new();
    let mut requests = Vec::new();
    for alg in ALGS {
        let key = keys.for_alg(alg);
        let claims = json!({"iss": "https://op.example", "sub": "alice"});
        let token = crypto::sign_jwt(
            &native,
            &OsEntropy,
            claims.as_object().unwrap(),
            key,
            alg,
            None,
            None,
        )
        .await
        .unwrap();
        requests.push(json!({
            "token": token,
            "jwks": {"keys": [key.to_public().to_value()]},
            "algorithms": [alg.as_str()],
        }));
    }
    let Some(results) = oidc_edge_tests::jose::jose_verify_batch(&requests) else {
        return;
    };
    for (alg, result) in ALGS.iter().zip(results) {
        assert!(result.get("error").is_none(), "{alg}: {result}");
        assert_eq!(result["protectedHeader"]["alg"], alg.as_str());
        assert_eq!(result["payload"]["sub"], "alice");
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
