//! Interoperability with an independent JOSE implementation, `jose` (panva/jose, the exact
//! version pinned in `tests/js/package.json`), in both directions and for every algorithm pair
//! the core supports: our JWS and JWE opened by jose, jose's opened by us, and logout tokens
//! (Back-Channel Logout 1.0 §2.4 and §2.6) both ways.
//!
//! jose runs as `node tests/js/jose-tool.mjs batch`, one process per batch of operations. When
//! node or `node_modules/jose` is missing the tests skip loudly, or fail when
//! `OIDC_EDGE_REQUIRE_INTEROP=1` (run `npm ci` at the repository root first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oidc_edge_core::UnixTime;
use oidc_edge_core::error::JoseError;
use oidc_edge_core::jose::jwe::{self, Decrypter, EncryptOptions};
use oidc_edge_core::jose::jws::{self, SignOptions, Verifier};
use oidc_edge_core::jose::{ContentEnc, Jwk, JwkSet, JwsAlg, KeyMgmtAlg, b64};
use oidc_edge_core::logout::logout_token::{
    self, BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TYP, LogoutCause, LogoutTokenError, LogoutTokenKeys,
    LogoutTokenParams, LogoutTokenValidation, MAX_LIFETIME_SECS,
};
use oidc_edge_tests::OsEntropy;
use oidc_edge_tests::jose::Jose;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://op.interop.example";
const CLIENT: &str = "rp-interop";
/// ECDH-ES `apu` and `apv`: base64url of "Alice" and "Bob", as in RFC 7518 Appendix C.
const PARTY_INFO: (&str, &str) = ("QWxpY2U", "Qm9i");

// ---------------------------------------------------------------------------------------------
// The jose tool

// ---------------------------------------------------------------------------------------------
// Keys, each made once and shared by the tests: RSA key generation is the slowest step here.

struct OurKeys {
    ec: Jwk,
    rsa: Jwk,
}

fn ours() -> &'static OurKeys {
    static KEYS: OnceLock<OurKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let t = Instant::now();
        let keys = OurKeys {
            ec: Jwk::generate_ec(&OsEntropy).unwrap(),
            rsa: Jwk::generate_rsa(2048, &OsEntropy).unwrap(),
        };
        eprintln!("our EC and RSA-2048 keys generated in {:?}", t.elapsed());
        keys
    })
}

impl OurKeys {
    /// Our key for a signature algorithm (one RSA key serves RS256 and PS256).
    fn signer(&self, alg: JwsAlg) -> &Jwk {
        match alg {
            JwsAlg::ES256 => &self.ec,
            JwsAlg::RS256 | JwsAlg::PS256 => &self.rsa,
        }
    }

    /// Our key for a key management algorithm.
    fn recipient(&self, alg: KeyMgmtAlg) -> &Jwk {
        match alg {
            KeyMgmtAlg::RsaOaep256 => &self.rsa,
            _ => &self.ec,
        }
    }

    /// Our public signing keys as a JWKS.
    fn jwks(&self) -> Value {
        JwkSet {
            keys: vec![self.ec.to_public(), self.rsa.to_public()],
        }
        .to_value()
    }
}

/// A key pair jose generated, as exported JWKs (no `kid`).
struct JosePair {
    private: Value,
    public: Value,
}

struct JoseKeys {
    es256: JosePair,
    rs256: JosePair,
    ps256: JosePair,
    ecdh: JosePair,
    rsa_oaep: JosePair,
}

fn jose_keys(jose: &Jose) -> &'static JoseKeys {
    static KEYS: OnceLock<JoseKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut pairs = jose
            .batch(vec![
                ("keygen", json!({"alg": "ES256"})),
                ("keygen", json!({"alg": "RS256"})),
                ("keygen", json!({"alg": "PS256"})),
                ("keygen", json!({"alg": "ECDH-ES", "crv": "P-256"})),
                ("keygen", json!({"alg": "RSA-OAEP-256"})),
            ])
            .into_iter()
            .map(|r| {
                let r = r.expect("jose keygen");
                JosePair {
                    private: r["privateJwk"].clone(),
                    public: r["publicJwk"].clone(),
                }
            });
        let mut next = || pairs.next().unwrap();
        JoseKeys {
            es256: next(),
            rs256: next(),
            ps256: next(),
            ecdh: next(),
            rsa_oaep: next(),
        }
    })
}

impl JoseKeys {
    fn signer(&self, alg: JwsAlg) -> &JosePair {
        match alg {
            JwsAlg::ES256 => &self.es256,
            JwsAlg::RS256 => &self.rs256,
            JwsAlg::PS256 => &self.ps256,
        }
    }

    fn recipient(&self, alg: KeyMgmtAlg) -> &JosePair {
        match alg {
            KeyMgmtAlg::RsaOaep256 => &self.rsa_oaep,
            _ => &self.ecdh,
        }
    }

    /// jose's public signing keys, each with the `kid` [`jose_kid`] gives it, as our JWKS.
    fn jwks(&self) -> JwkSet {
        let keys = JwsAlg::ALL.map(|alg| {
            Jwk::from_value(&with_kid(&self.signer(alg).public, &jose_kid(alg))).unwrap()
        });
        JwkSet {
            keys: keys.to_vec(),
        }
    }
}

fn jose_kid(alg: JwsAlg) -> String {
    format!("jose-{alg}")
}

fn with_kid(jwk: &Value, kid: &str) -> Value {
    let mut jwk = jwk.clone();
    jwk["kid"] = json!(kid);
    jwk
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every (alg, enc) pair we support: 4 × 4.
fn jwe_pairs() -> impl Iterator<Item = (KeyMgmtAlg, ContentEnc)> {
    KeyMgmtAlg::ALL
        .into_iter()
        .flat_map(|alg| ContentEnc::ALL.map(move |enc| (alg, enc)))
}

/// The same JWS with another payload: the signature no longer matches.
fn swap_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    format!(
        "{}.{}.{}",
        parts[0],
        b64::encode(br#"{"sub":"mallory"}"#),
        parts[2]
    )
}

/// The same JWE with the first byte of its tag flipped.
fn flip_tag(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    assert_eq!(parts.len(), 5);
    let mut tag = b64::decode(&parts[4]).unwrap();
    tag[0] ^= 1;
    parts[4] = b64::encode(tag);
    parts.join(".")
}

/// A non-ASCII plaintext whose length varies with the pair, and which names it so a mix-up shows.
fn plaintext_for(direction: &str, alg: KeyMgmtAlg, enc: ContentEnc) -> String {
    format!(
        "{direction} {alg} {enc}: Grüße, 🔐 — {}",
        "x".repeat(alg.as_str().len() + enc.as_str().len())
    )
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    eprintln!("{what}: {:?}", t.elapsed());
    r
}

// ---------------------------------------------------------------------------------------------
// a. JWS: ours → jose

#[test]
fn jws_signed_by_us_verifies_in_jose() {
    let Some(jose) = Jose::find() else { return };
    let keys = ours();
    let iat = now();
    let mut expected = Vec::new();
    let mut reqs = Vec::new();
    for alg in JwsAlg::ALL {
        let key = keys.signer(alg);
        let claims = json!({"iss": ISSUER, "sub": "alice", "aud": CLIENT, "iat": iat, "exp": iat + 60,
                            "name": "Zoë 🦀", "alg_under_test": alg.as_str()});
        let payload = serde_json::to_vec(&claims).unwrap();
        let opts = SignOptions {
            typ: Some("JWT"),
            cty: None,
        };
        let token = jws::sign(key, alg, &payload, opts, &OsEntropy).unwrap();
        let jwks = JwkSet {
            keys: vec![key.to_public()],
        }
        .to_value();
        reqs.push((
            "verify",
            json!({"token": token, "jwks": jwks, "algorithms": [alg.as_str()]}),
        ));
        // jose must also refuse our token once its payload is swapped.
        reqs.push((
            "verify",
            json!({"token": swap_payload(&token), "jwks": jwks, "algorithms": [alg.as_str()]}),
        ));
        expected.push((alg, key.kid.clone().unwrap(), claims));
    }
    let results = timed("jose verify ×6", || jose.batch(reqs));
    for ((alg, kid, claims), r) in expected.iter().zip(results.chunks(2)) {
        let ok = r[0]
            .as_ref()
            .unwrap_or_else(|e| panic!("jose rejected our {alg} JWS: {e}"));
        assert_eq!(ok["payload"], *claims, "{alg}: payload");
        assert_eq!(
            ok["protectedHeader"],
            json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"}),
            "{alg}: header"
        );
        let err = r[1]
            .as_ref()
            .expect_err("jose accepted a JWS with a swapped payload");
        assert_eq!(
            err["code"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
            "{alg}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// b. JWS: jose → ours

#[test]
fn jws_signed_by_jose_verifies_here() {
    let Some(jose) = Jose::find() else { return };
    let jk = jose_keys(&jose);
    let iat = now();
    let claims = |alg: JwsAlg| json!({"iss": ISSUER, "sub": "bob", "iat": iat, "exp": iat + 60, "alg": alg.as_str(), "ü": "✓"});
    let mut reqs = Vec::new();
    for alg in JwsAlg::ALL {
        let key = &jk.signer(alg).private;
        reqs.push(("sign", json!({"claims": claims(alg), "privateJwk": key, "alg": alg.as_str(), "kid": jose_kid(alg), "typ": "JWT"})));
        // Without a kid our verifier tries every key of the algorithm's type.
        reqs.push((
            "sign",
            json!({"claims": claims(alg), "privateJwk": key, "alg": alg.as_str()}),
        ));
    }
    let tokens: Vec<String> = jose
        .batch(reqs)
        .into_iter()
        .map(|r| r.expect("jose sign")["token"].as_str().unwrap().to_owned())
        .collect();
    let jwks = jk.jwks();
    for (alg, pair) in JwsAlg::ALL.into_iter().zip(tokens.chunks(2)) {
        for token in pair {
            let v = Verifier::new(&jwks, &[alg])
                .verify(token)
                .unwrap_or_else(|e| panic!("jose {alg} JWS rejected: {e}"));
            assert_eq!(v.alg, alg);
            assert_eq!(
                serde_json::from_slice::<Value>(&v.payload).unwrap(),
                claims(alg),
                "{alg}: payload"
            );
            // Every algorithm allowed: the header's alg still only chooses among them.
            assert_eq!(
                Verifier::new(&jwks, &JwsAlg::ALL)
                    .verify(token)
                    .unwrap()
                    .alg,
                alg
            );
            let other = if alg == JwsAlg::PS256 {
                JwsAlg::RS256
            } else {
                JwsAlg::PS256
            };
            assert!(
                matches!(
                    Verifier::new(&jwks, &[other]).verify(token),
                    Err(JoseError::AlgorithmNotAllowed(_))
                ),
                "{alg} token accepted where only {other} is allowed"
            );
            assert_eq!(
                Verifier::new(&jwks, &[alg])
                    .verify(&swap_payload(token))
                    .unwrap_err(),
                JoseError::InvalidSignature,
                "{alg}: tampered token"
            );
        }
        assert_eq!(
            Verifier::new(&jwks, &[alg])
                .verify(&pair[0])
                .unwrap()
                .header["kid"],
            json!(jose_kid(alg)),
            "{alg}: header kid"
        );
    }
}

/// Our `kid`s are RFC 7638 thumbprints: jose must compute the same ones, for our keys and its.
#[test]
fn thumbprints_agree_with_jose() {
    let Some(jose) = Jose::find() else { return };
    let jk = jose_keys(&jose);
    let keys = ours();
    let jose_publics = [&jk.es256, &jk.rs256, &jk.ps256, &jk.ecdh, &jk.rsa_oaep].map(|p| &p.public);
    let mut expected = vec![keys.ec.kid.clone().unwrap(), keys.rsa.kid.clone().unwrap()];
    let mut reqs = vec![
        ("thumbprint", json!({"jwk": keys.ec.to_public().to_value()})),
        (
            "thumbprint",
            json!({"jwk": keys.rsa.to_public().to_value()}),
        ),
    ];
    for public in jose_publics {
        expected.push(Jwk::from_value(public).unwrap().thumbprint().unwrap());
        reqs.push(("thumbprint", json!({"jwk": public})));
    }
    for (mine, r) in expected.iter().zip(jose.batch(reqs)) {
        assert_eq!(r.expect("jose thumbprint")["thumbprint"], json!(mine));
    }
}

// ---------------------------------------------------------------------------------------------
// c. JWE: ours → jose

#[test]
fn jwe_encrypted_by_us_decrypts_in_jose() {
    let Some(jose) = Jose::find() else { return };
    let jk = jose_keys(&jose);
    let keys = ours();
    let mut cases = Vec::new();
    let mut reqs = Vec::new();
    let t = Instant::now();
    for (alg, enc) in jwe_pairs() {
        // To jose's own key, and to ours (which also checks that jose reads our private JWKs).
        let jose_recipient = jk.recipient(alg);
        let targets = [
            (
                "to jose's key",
                Jwk::from_value(&jose_recipient.public).unwrap(),
                jose_recipient.private.clone(),
            ),
            (
                "to our key",
                keys.recipient(alg).to_public(),
                keys.recipient(alg).to_value(),
            ),
        ];
        for (whose, public, private) in targets {
            let plaintext = plaintext_for("ours→jose", alg, enc);
            let opts = EncryptOptions {
                cty: Some("text/plain"),
                ..EncryptOptions::new(alg, enc)
            };
            let token = jwe::encrypt(plaintext.as_bytes(), &public, &opts, &OsEntropy).unwrap();
            reqs.push(("decrypt", json!({"token": token, "privateJwk": private})));
            cases.push((alg, enc, whose, plaintext, public.kid));
        }
    }
    eprintln!("our JWE encrypt ×{}: {:?}", cases.len(), t.elapsed());
    let results = timed("jose decrypt ×32", || jose.batch(reqs));
    for ((alg, enc, whose, plaintext, kid), r) in cases.into_iter().zip(results) {
        let r =
            r.unwrap_or_else(|e| panic!("jose could not decrypt our {alg}/{enc} JWE {whose}: {e}"));
        assert_eq!(r["plaintext"], json!(plaintext), "{alg}/{enc} {whose}");
        let h = &r["protectedHeader"];
        assert_eq!(
            (&h["alg"], &h["enc"], &h["cty"]),
            (
                &json!(alg.as_str()),
                &json!(enc.as_str()),
                &json!("text/plain")
            )
        );
        assert_eq!(
            h.get("kid"),
            kid.map(Value::String).as_ref(),
            "{alg}/{enc} {whose}: kid"
        );
        assert_eq!(
            h.get("epk").is_some(),
            alg != KeyMgmtAlg::RsaOaep256,
            "{alg}: epk"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// d. JWE: jose → ours

#[test]
fn jwe_encrypted_by_jose_decrypts_here() {
    let Some(jose) = Jose::find() else { return };
    let jk = jose_keys(&jose);
    let keys = ours();
    let mut cases = Vec::new();
    let mut reqs = Vec::new();
    for (alg, enc) in jwe_pairs() {
        // To our key, and to jose's (which checks that we read jose's private JWKs).
        let mut targets = vec![
            (
                "to our key",
                keys.recipient(alg).to_public().to_value(),
                keys.recipient(alg).clone(),
                None,
            ),
            (
                "to jose's key",
                jk.recipient(alg).public.clone(),
                Jwk::from_value(&jk.recipient(alg).private).unwrap(),
                None,
            ),
        ];
        if alg != KeyMgmtAlg::RsaOaep256 {
            // Party info (RFC 7518 §4.6.1) enters the Concat KDF; our encrypter never sets it,
            // so only another implementation can show that our decrypter derives the same key.
            targets.push((
                "to our key with apu/apv",
                keys.recipient(alg).to_public().to_value(),
                keys.recipient(alg).clone(),
                Some(PARTY_INFO),
            ));
        }
        for (whose, public, private, party) in targets {
            let plaintext = plaintext_for("jose→ours", alg, enc);
            let mut req = json!({"plaintext": plaintext, "publicJwk": public, "alg": alg.as_str(), "enc": enc.as_str(), "cty": "JWT"});
            if let Some((apu, apv)) = party {
                req["apu"] = json!(apu);
                req["apv"] = json!(apv);
            }
            reqs.push(("encrypt", req));
            cases.push((alg, enc, whose, plaintext, private, party));
        }
    }
    let n = reqs.len();
    let results = timed(&format!("jose encrypt ×{n}"), || jose.batch(reqs));
    let t = Instant::now();
    for ((alg, enc, whose, plaintext, private, party), r) in cases.into_iter().zip(results) {
        let token = r.unwrap_or_else(|e| panic!("jose encrypt {alg}/{enc}: {e}"))["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (algs, encs) = ([alg], [enc]);
        let exact = Decrypter::new(&private, &algs, &encs);
        let d = exact
            .decrypt(&token, &OsEntropy)
            .unwrap_or_else(|e| panic!("jose's {alg}/{enc} JWE {whose}: {e}"));
        assert_eq!(
            String::from_utf8(d.plaintext).unwrap(),
            plaintext,
            "{alg}/{enc} {whose}"
        );
        assert_eq!((d.alg, d.enc), (alg, enc));
        assert_eq!(d.header["cty"], "JWT");
        if let Some((apu, apv)) = party {
            assert_eq!(
                (&d.header["apu"], &d.header["apv"]),
                (&json!(apu), &json!(apv))
            );
        }
        assert_eq!(
            exact.decrypt(&flip_tag(&token), &OsEntropy).unwrap_err(),
            JoseError::Decrypt,
            "{alg}/{enc} tampered"
        );
        let other = if enc == ContentEnc::A256Gcm {
            ContentEnc::A128Gcm
        } else {
            ContentEnc::A256Gcm
        };
        assert!(
            matches!(
                Decrypter::new(&private, &[alg], &[other]).decrypt(&token, &OsEntropy),
                Err(JoseError::AlgorithmNotAllowed(_))
            ),
            "{alg}/{enc} accepted where only {other} is allowed"
        );
    }
    eprintln!("our JWE decrypt ×{n} (+ tampered): {:?}", t.elapsed());
}

// ---------------------------------------------------------------------------------------------
// e. Logout tokens: ours → jose

/// Check one logout token as jose opened it against what it was minted from; returns its `jti`.
fn assert_logout_token(
    label: &str,
    r: &Value,
    p: &LogoutTokenParams<'_>,
    alg: JwsAlg,
    kid: &str,
    jwe: Option<(KeyMgmtAlg, ContentEnc)>,
) -> String {
    let h = &r["protectedHeader"];
    assert_eq!(
        *h,
        json!({"alg": alg.as_str(), "kid": kid, "typ": LOGOUT_TYP}),
        "{label}: JWS header"
    );
    let c = r["payload"]
        .as_object()
        .unwrap_or_else(|| panic!("{label}: payload {r}"));
    assert_eq!(c["iss"], p.issuer, "{label}: iss");
    assert_eq!(c["aud"], p.audience, "{label}: aud");
    assert_eq!(
        c.get("sub").and_then(Value::as_str),
        p.subject,
        "{label}: sub"
    );
    assert_eq!(c.get("sid").and_then(Value::as_str), p.sid, "{label}: sid");
    let events = c["events"]
        .as_object()
        .unwrap_or_else(|| panic!("{label}: events is not an object"));
    assert_eq!(
        events.len(),
        1,
        "{label}: events must have exactly one member: {events:?}"
    );
    assert_eq!(
        events[BACKCHANNEL_LOGOUT_EVENT],
        json!({}),
        "{label}: events"
    );
    let iat = c["iat"].as_u64().unwrap();
    let exp = c["exp"].as_u64().unwrap();
    assert_eq!(iat, p.now.secs(), "{label}: iat");
    assert!(
        exp > iat && exp - iat <= MAX_LIFETIME_SECS,
        "{label}: iat {iat}, exp {exp}"
    );
    let jti = c["jti"].as_str().unwrap_or_else(|| panic!("{label}: jti"));
    assert!(
        jti.len() >= 16,
        "{label}: jti {jti:?} is too short to be unique"
    );
    let tracking = c["auditTrackingId"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: auditTrackingId"));
    match p.audit_tracking_id {
        Some(t) => assert_eq!(tracking, t, "{label}: auditTrackingId"),
        None => {
            // Generated: a version-4 UUID, the shape AM uses.
            let b = tracking.as_bytes();
            let hyphens = [8, 13, 18, 23];
            assert!(
                b.len() == 36
                    && b[14] == b'4'
                    && b"89ab".contains(&b[19])
                    && b.iter()
                        .enumerate()
                        .all(|(i, ch)| (*ch == b'-') == hyphens.contains(&i)),
                "{label}: auditTrackingId {tracking:?} is not a UUID v4"
            );
        }
    }
    assert_eq!(
        c.get("cause").and_then(Value::as_str),
        p.cause.map(LogoutCause::as_str),
        "{label}: cause"
    );
    assert!(
        !c.contains_key("nonce"),
        "{label}: a logout token must never carry a nonce"
    );
    match jwe {
        None => assert!(r.get("jweHeader").is_none()),
        Some((kalg, enc)) => {
            let jh = &r["jweHeader"];
            assert_eq!(jh["cty"], "JWT", "{label}: JWE cty");
            assert_eq!(jh["iss"], p.issuer, "{label}: JWE iss");
            assert_eq!(jh["aud"], p.audience, "{label}: JWE aud");
            assert_eq!(
                (&jh["alg"], &jh["enc"]),
                (&json!(kalg.as_str()), &json!(enc.as_str())),
                "{label}"
            );
        }
    }
    jti.to_owned()
}

#[test]
fn logout_tokens_minted_here_pass_jose() {
    let Some(jose) = Jose::find() else { return };
    let jk = jose_keys(&jose);
    let keys = ours();
    let jwks = keys.jwks();
    let iat = UnixTime(now());
    let sids = ["sid-one", "sid-two"];
    // Vary the optional claims from token to token: sub only, sid only, both; cause or none.
    let params = |i: usize| LogoutTokenParams {
        issuer: ISSUER,
        audience: CLIENT,
        subject: (i % 3 != 1).then_some("user-42"),
        sid: (!i.is_multiple_of(3)).then_some(sids[i % 2]),
        cause: (i % 5 != 4).then_some(LogoutCause::ALL[i % 4]),
        audit_tracking_id: i
            .is_multiple_of(2)
            .then_some("0f8e2d6c-3b1a-4c5d-9e7f-a1b2c3d4e5f6"),
        jti: None,
        now: iat,
        lifetime_secs: if i.is_multiple_of(2) {
            MAX_LIFETIME_SECS
        } else {
            60
        },
    };
    // Three plain tokens, one per signature algorithm, then all 16 nested ones, the signature
    // algorithm rotating so each appears with several key management algorithms.
    let cases: Vec<(JwsAlg, Option<(KeyMgmtAlg, ContentEnc)>)> = JwsAlg::ALL
        .into_iter()
        .map(|a| (a, None))
        .chain(
            jwe_pairs()
                .enumerate()
                .map(|(i, pair)| (JwsAlg::ALL[i % 3], Some(pair))),
        )
        .collect();
    let t = Instant::now();
    let mut reqs = Vec::new();
    for (i, (alg, jwe)) in cases.iter().enumerate() {
        let recipient = jwe.map(|(kalg, _)| Jwk::from_value(&jk.recipient(kalg).public).unwrap());
        let lt_keys = LogoutTokenKeys {
            signing_key: keys.signer(*alg),
            alg: *alg,
            encrypt_to: recipient
                .as_ref()
                .zip(*jwe)
                .map(|(k, (kalg, enc))| (k, kalg, enc)),
        };
        let token = logout_token::mint(&params(i), &lt_keys, &OsEntropy).unwrap();
        let mut req =
            json!({"token": token, "jwks": jwks, "algorithms": [alg.as_str()], "typ": LOGOUT_TYP});
        if let Some((kalg, enc)) = jwe {
            req["decryptKey"] = jk.recipient(*kalg).private.clone();
            req["keyManagementAlgorithms"] = json!([kalg.as_str()]);
            req["contentEncryptionAlgorithms"] = json!([enc.as_str()]);
        }
        reqs.push(("verify", req));
    }
    eprintln!(
        "logout::logout_token::mint ×{}: {:?}",
        cases.len(),
        t.elapsed()
    );
    let results = timed("jose verify logout tokens", || jose.batch(reqs));
    let mut jtis = HashSet::new();
    for (i, ((alg, jwe), r)) in cases.iter().zip(results).enumerate() {
        let label = match jwe {
            None => format!("logout token {alg}"),
            Some((kalg, enc)) => format!("logout token {alg} in {kalg}/{enc}"),
        };
        let r = r.unwrap_or_else(|e| panic!("jose rejected our {label}: {e}"));
        let kid = keys.signer(*alg).kid.clone().unwrap();
        let jti = assert_logout_token(&label, &r, &params(i), *alg, &kid, *jwe);
        assert!(jtis.insert(jti), "{label}: jti repeated");
    }
}

// ---------------------------------------------------------------------------------------------
// f. Logout tokens: jose → ours, including every §2.6 violation we must catch

#[test]
fn logout_tokens_minted_by_jose_pass_or_fail_here() {
    let Some(jose) = Jose::find() else { return };
    let jk = jose_keys(&jose);
    let keys = ours();
    let jwks = jk.jwks();
    let now = now();
    let good = json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "user-42", "sid": "sid-one", "iat": now, "exp": now + 120,
        "jti": "bWFkZS1ieS1qb3Nl", "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        "auditTrackingId": "7d1f0e6a-52c4-4f0b-8e55-0c8f6a2d9b31", "cause": "SESSION_IDLE_TIMEOUT",
    });
    let with = |edit: fn(&mut Map<String, Value>, u64)| {
        let mut c = good.clone();
        edit(c.as_object_mut().unwrap(), now);
        c
    };
    // (name, signature algorithm, claims, typ, the error code expected or None when accepted)
    let es = JwsAlg::ES256;
    let cases: Vec<(&str, JwsAlg, Value, &str, Option<&str>)> = vec![
        ("valid ES256", es, good.clone(), LOGOUT_TYP, None),
        ("valid RS256", JwsAlg::RS256, good.clone(), LOGOUT_TYP, None),
        ("valid PS256", JwsAlg::PS256, good.clone(), LOGOUT_TYP, None),
        ("typ in upper case", es, good.clone(), "LOGOUT+JWT", None),
        (
            "fractional NumericDates",
            es,
            with(|c, now| {
                c.insert("iat".into(), json!(now as f64 + 0.25));
                c.insert("exp".into(), json!(now as f64 + 119.75));
            }),
            LOGOUT_TYP,
            None,
        ),
        (
            "typ with application/ prefix",
            es,
            good.clone(),
            "application/logout+jwt",
            None,
        ),
        (
            "sid only",
            es,
            with(|c, _| _ = c.remove("sub")),
            LOGOUT_TYP,
            None,
        ),
        (
            "sub only, aud array",
            es,
            with(|c, _| {
                c.remove("sid");
                c.insert("aud".into(), json!(["other-rp", CLIENT]));
            }),
            LOGOUT_TYP,
            None,
        ),
        (
            "nonce present",
            es,
            with(|c, _| _ = c.insert("nonce".into(), json!("n-0S6_WzA2Mj"))),
            LOGOUT_TYP,
            Some("nonce_present"),
        ),
        (
            "events missing",
            es,
            with(|c, _| _ = c.remove("events")),
            LOGOUT_TYP,
            Some("missing_events"),
        ),
        (
            "events without the logout member",
            es,
            with(|c, _| {
                _ = c.insert(
                    "events".into(),
                    json!({"http://schemas.openid.net/event/other": {}}),
                )
            }),
            LOGOUT_TYP,
            Some("missing_events"),
        ),
        (
            "events member not an object",
            es,
            with(|c, _| _ = c.insert("events".into(), json!({BACKCHANNEL_LOGOUT_EVENT: "yes"}))),
            LOGOUT_TYP,
            Some("missing_events"),
        ),
        (
            "neither sub nor sid",
            es,
            with(|c, _| {
                c.remove("sub");
                c.remove("sid");
            }),
            LOGOUT_TYP,
            Some("missing_sub_and_sid"),
        ),
        ("typ JWT", es, good.clone(), "JWT", Some("wrong_typ")),
        (
            "expired",
            es,
            with(|c, now| {
                c.insert("iat".into(), json!(now - 600));
                c.insert("exp".into(), json!(now - 480));
            }),
            LOGOUT_TYP,
            Some("expired"),
        ),
        (
            "wrong aud",
            es,
            with(|c, _| _ = c.insert("aud".into(), json!("another-rp"))),
            LOGOUT_TYP,
            Some("invalid_audience"),
        ),
        (
            "wrong iss",
            es,
            with(|c, _| _ = c.insert("iss".into(), json!("https://evil.example"))),
            LOGOUT_TYP,
            Some("invalid_issuer"),
        ),
        (
            "exp missing",
            es,
            with(|c, _| _ = c.remove("exp")),
            LOGOUT_TYP,
            Some("invalid_claim"),
        ),
        (
            "jti missing",
            es,
            with(|c, _| _ = c.remove("jti")),
            LOGOUT_TYP,
            Some("invalid_claim"),
        ),
        (
            "iat in the future",
            es,
            with(|c, now| {
                c.insert("iat".into(), json!(now + 600));
                c.insert("exp".into(), json!(now + 720));
            }),
            LOGOUT_TYP,
            Some("issued_in_future"),
        ),
    ];
    let reqs = cases
        .iter()
        .map(|(_, alg, claims, typ, _)| {
            let key = &jk.signer(*alg).private;
            ("sign", json!({"claims": claims, "privateJwk": key, "alg": alg.as_str(), "kid": jose_kid(*alg), "typ": typ}))
        })
        .collect();
    let tokens: Vec<String> = jose
        .batch(reqs)
        .into_iter()
        .map(|r| r.expect("jose sign")["token"].as_str().unwrap().to_owned())
        .collect();
    let validation = LogoutTokenValidation {
        issuer: ISSUER,
        audience: CLIENT,
        jwks: &jwks,
        algs: &JwsAlg::ALL,
        decrypt_with: None,
        now: UnixTime(now),
        leeway_secs: 60,
    };
    for ((name, _, claims, _, expect), token) in cases.iter().zip(&tokens) {
        let got = logout_token::verify(token, &validation, &OsEntropy, None);
        match expect {
            None => {
                let ok =
                    got.unwrap_or_else(|e| panic!("{name}: jose's logout token rejected: {e}"));
                assert_eq!(Value::Object(ok.claims.clone()), *claims, "{name}");
                assert_eq!(
                    ok.sub.as_deref(),
                    claims.get("sub").and_then(Value::as_str),
                    "{name}"
                );
                assert_eq!(
                    ok.sid.as_deref(),
                    claims.get("sid").and_then(Value::as_str),
                    "{name}"
                );
                assert_eq!(ok.jti, "bWFkZS1ieS1qb3Nl");
                assert_eq!(ok.cause, Some(LogoutCause::SessionIdleTimeout));
            }
            Some(code) => {
                let err = got.map(|_| ()).expect_err(&format!("{name}: accepted"));
                assert_eq!(err.code(), *code, "{name}: {err}");
            }
        }
    }

    // The same valid token, under the conditions of §2.6 steps 2 and 7 and of encryption.
    let valid = &tokens[0];
    let only_rs = LogoutTokenValidation {
        algs: &[JwsAlg::RS256],
        ..validation
    };
    assert_eq!(
        logout_token::verify(valid, &only_rs, &OsEntropy, None)
            .unwrap_err()
            .code(),
        "unsupported_algorithm"
    );
    let mut seen = |jti: &str| jti == "bWFkZS1ieS1qb3Nl";
    let replay = logout_token::verify(valid, &validation, &OsEntropy, Some(&mut seen)).unwrap_err();
    assert_eq!(replay, LogoutTokenError::Replayed);
    let wants_jwe = LogoutTokenValidation {
        decrypt_with: Some(&keys.ec),
        ..validation
    };
    assert_eq!(
        logout_token::verify(valid, &wants_jwe, &OsEntropy, None)
            .unwrap_err()
            .code(),
        "encryption_mismatch"
    );
    assert_eq!(
        logout_token::verify(&swap_payload(valid), &validation, &OsEntropy, None).unwrap_err(),
        LogoutTokenError::InvalidSignature
    );

    // jose's valid token nested in jose's JWE to our keys, for every pair.
    let reqs = jwe_pairs()
        .map(|(alg, enc)| {
            let to = keys.recipient(alg).to_public().to_value();
            ("encrypt", json!({"plaintext": valid, "publicJwk": to, "alg": alg.as_str(), "enc": enc.as_str(), "cty": "JWT"}))
        })
        .collect();
    let nested = timed("jose encrypt logout token ×16", || jose.batch(reqs));
    for ((alg, enc), r) in jwe_pairs().zip(nested) {
        let token = r.expect("jose encrypt")["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let v = LogoutTokenValidation {
            decrypt_with: Some(keys.recipient(alg)),
            ..validation
        };
        let ok = logout_token::verify(&token, &v, &OsEntropy, None)
            .unwrap_or_else(|e| panic!("jose's logout token nested in {alg}/{enc} rejected: {e}"));
        assert_eq!(Value::Object(ok.claims), good, "{alg}/{enc}");
        assert_eq!(
            logout_token::verify(&token, &validation, &OsEntropy, None)
                .unwrap_err()
                .code(),
            "encryption_mismatch",
            "{alg}/{enc}: an encrypted token where none was expected"
        );
        assert_eq!(
            logout_token::verify(&flip_tag(&token), &v, &OsEntropy, None).unwrap_err(),
            LogoutTokenError::DecryptionFailed,
            "{alg}/{enc}: tampered"
        );
    }
}
