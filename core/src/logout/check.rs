//! The RP checker: does a relying party's back-channel logout endpoint accept a valid logout
//! token and refuse forged or invalid ones?
//!
//! [`cases`] mints one token per [`CaseKind`] for one client, each with a fresh `jti` (so that
//! replay detection never explains a refusal) and a synthetic random `sub` and `sid` (so that
//! no real user is logged out); encrypted to the client when it registered ID-token encryption
//! (the RP decrypts, then judges the inner token). The host POSTs each as `logout_token=...`
//! and [`judge`] turns what came of it into a [`Report`]: the valid token passes when the RP
//! answers 200 or 204, each invalid one only when it answers 400 (Back-Channel Logout 1.0
//! §2.8). [`run`] does all three over a [`Host`]; the CLI posts by itself and calls the same
//! [`cases`] and [`judge`].

use alloc::{format, string::String, vec::Vec};

use serde::Serialize;
use serde_json::Value;

use super::logout_token::{
    self, LOGOUT_TYP, LogoutTokenKeys, LogoutTokenParams, MAX_LIFETIME_SECS,
};
use crate::UnixTime;
use crate::crypto::Crypto;
use crate::error::{Error, JoseError};
use crate::host::{Entropy, Host, Post, PostOutcome};
use crate::jose::jwe::{self, EncryptOptions};
use crate::jose::jwk::KeyType;
use crate::jose::{Jwk, b64};

/// RSA modulus size of the stranger's key that signs [`CaseKind::WrongSignature`].
pub const STRANGER_RSA_BITS: usize = 2048;

/// One test case: what its token gets wrong, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseKind {
    /// A correct logout token.
    Valid,
    /// Signed by a freshly generated key of the same type, carrying the OP key's `kid`.
    WrongSignature,
    /// `{"alg":"none"}` and an empty signature.
    AlgNone,
    /// A valid signature over claims that include a `nonce` (§2.6 step 6).
    NoncePresent,
    /// `iat` ten minutes ago, `exp` five minutes ago.
    Expired,
    /// `aud` names some other client.
    WrongAud,
    /// No `events` claim (§2.6 step 5).
    MissingEvents,
}

impl CaseKind {
    /// Every case, in the order they are sent: the valid one first.
    pub const ALL: [Self; 7] = [
        Self::Valid,
        Self::WrongSignature,
        Self::AlgNone,
        Self::NoncePresent,
        Self::Expired,
        Self::WrongAud,
        Self::MissingEvents,
    ];

    /// The case's name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::WrongSignature => "wrong_signature",
            Self::AlgNone => "alg_none",
            Self::NoncePresent => "nonce_present",
            Self::Expired => "expired",
            Self::WrongAud => "wrong_aud",
            Self::MissingEvents => "missing_events",
        }
    }

    /// The status the RP should answer: 200 for the valid token (204 passes too), 400 for
    /// every other.
    pub const fn expected(self) -> u16 {
        match self {
            Self::Valid => 200,
            _ => 400,
        }
    }

    /// Whether the RP's answer passes this case.
    pub fn passes(self, outcome: &PostOutcome) -> bool {
        match (self, outcome) {
            (Self::Valid, PostOutcome::Status(200 | 204)) => true,
            (Self::Valid, _) => false,
            (_, PostOutcome::Status(s)) => *s == 400,
            (_, _) => false,
        }
    }
}

/// Whom the tokens are for and how they are signed (and encrypted).
#[derive(Clone, Copy, Debug)]
pub struct CheckParams<'a> {
    /// `iss`: the OP's issuer.
    pub issuer: &'a str,
    /// `aud`: the RP's client id.
    pub audience: &'a str,
    /// The OP's signing key and algorithm, and the RP's encryption key when it registered one.
    pub keys: LogoutTokenKeys<'a>,
    /// The current time.
    pub now: UnixTime,
}

/// One token to send and what it tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// What the token gets wrong, if anything.
    pub kind: CaseKind,
    /// The logout token (compact JWS, or JWE around one).
    pub token: String,
}

impl Case {
    /// The form body to POST: `logout_token=...`.
    pub fn form_body(&self) -> String {
        crate::http::encode_params([("logout_token", self.token.as_str())])
    }
}

/// The tokens of one check.
#[derive(Clone, Debug)]
pub struct Cases {
    /// One per [`CaseKind`], in [`CaseKind::ALL`]'s order.
    pub cases: Vec<Case>,
    /// The `auditTrackingId` every token carries (one per check).
    pub tracking_id: String,
    /// The synthetic `sub` every token carries.
    pub sub: String,
    /// The synthetic `sid` every token carries.
    pub sid: String,
}

/// Mint the tokens of one check, signing through `crypto` (the host's crypto seam); the
/// stranger's key of [`CaseKind::WrongSignature`] is generated through it too when it is RSA.
pub async fn cases<C: Crypto + ?Sized>(
    crypto: &C,
    entropy: &dyn Entropy,
    p: &CheckParams<'_>,
) -> Result<Cases, Error> {
    let sub = format!("rp-check-{}", logout_token::random_id(entropy)?);
    let sid = logout_token::random_id(entropy)?;
    let tracking_id = logout_token::random_uuid(entropy)?;
    let other_aud = format!("rp-check-other-{}", logout_token::random_id(entropy)?);
    let mut out = Vec::with_capacity(CaseKind::ALL.len());
    for kind in CaseKind::ALL {
        let token = mint_case(
            crypto,
            entropy,
            p,
            kind,
            &Synthetic {
                sub: &sub,
                sid: &sid,
                tracking_id: &tracking_id,
                other_aud: &other_aud,
            },
        )
        .await?;
        out.push(Case { kind, token });
    }
    Ok(Cases {
        cases: out,
        tracking_id,
        sub,
        sid,
    })
}

/// The made-up values a check's tokens share.
struct Synthetic<'a> {
    sub: &'a str,
    sid: &'a str,
    tracking_id: &'a str,
    other_aud: &'a str,
}

async fn mint_case<C: Crypto + ?Sized>(
    crypto: &C,
    entropy: &dyn Entropy,
    p: &CheckParams<'_>,
    kind: CaseKind,
    s: &Synthetic<'_>,
) -> Result<String, Error> {
    let params = LogoutTokenParams {
        issuer: p.issuer,
        audience: p.audience,
        subject: Some(s.sub),
        sid: Some(s.sid),
        cause: None,
        audit_tracking_id: Some(s.tracking_id),
        jti: None,
        now: p.now,
        lifetime_secs: MAX_LIFETIME_SECS,
    };
    // A correct token's claims, fresh `jti` included; then what this case gets wrong.
    let mut claims = logout_token::claims(&params, entropy)?;
    let mut aud = p.audience;
    match kind {
        CaseKind::NoncePresent => {
            let nonce = logout_token::random_id(entropy)?;
            claims.insert(String::from("nonce"), Value::String(nonce));
        }
        CaseKind::Expired => {
            let now = p.now.secs();
            claims.insert(String::from("iat"), Value::from(now.saturating_sub(600)));
            claims.insert(String::from("exp"), Value::from(now.saturating_sub(300)));
        }
        CaseKind::WrongAud => {
            aud = s.other_aud;
            claims.insert(String::from("aud"), Value::String(String::from(aud)));
        }
        CaseKind::MissingEvents => {
            claims.remove("events");
        }
        CaseKind::Valid | CaseKind::WrongSignature | CaseKind::AlgNone => {}
    }
    // Encrypted to the RP when it registered encryption, `iss` and `aud` replicated into the
    // JWE header as the inner token has them.
    let enc_opts = p.keys.encrypt_to.map(|(_, alg, enc)| EncryptOptions {
        iss: Some(p.issuer),
        aud: Some(aud),
        ..EncryptOptions::new(alg, enc)
    });
    let recipient = match (p.keys.encrypt_to, enc_opts.as_ref()) {
        (Some((k, _, _)), Some(o)) => Some((k, o)),
        _ => None,
    };
    let (key, stranger);
    match kind {
        CaseKind::AlgNone => {
            let header = serde_json::json!({
                "alg": "none",
                "kid": p.keys.signing_key.kid,
                "typ": LOGOUT_TYP,
            });
            let header = serde_json::to_vec(&header).map_err(|_| encoding())?;
            let payload = serde_json::to_vec(&claims).map_err(|_| encoding())?;
            let jws = format!("{}.{}.", b64::encode(header), b64::encode(payload));
            return Ok(match recipient {
                None => jws,
                Some((k, o)) => {
                    let o = EncryptOptions {
                        cty: Some("JWT"),
                        ..*o
                    };
                    jwe::encrypt(jws.as_bytes(), k, &o, entropy)?
                }
            });
        }
        CaseKind::WrongSignature => {
            let mut fresh = match p.keys.alg.key_type() {
                KeyType::EcP256 => Jwk::generate_ec(entropy)?,
                KeyType::Rsa => crypto.generate_rsa(STRANGER_RSA_BITS, entropy).await?,
            };
            fresh.kid.clone_from(&p.keys.signing_key.kid);
            stranger = fresh;
            key = &stranger;
        }
        _ => key = p.keys.signing_key,
    }
    Ok(crate::crypto::sign_jwt(
        crypto,
        entropy,
        &claims,
        key,
        p.keys.alg,
        Some(LOGOUT_TYP),
        recipient,
    )
    .await?)
}

fn encoding() -> JoseError {
    JoseError::Crypto("claims encoding")
}

/// One case as judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// [`CaseKind::name`].
    pub name: &'static str,
    /// [`CaseKind::expected`].
    pub expected: u16,
    /// The RP's status; `None` when it did not answer.
    pub status: Option<u16>,
    /// Whether the answer passes ([`CaseKind::passes`]).
    pub pass: bool,
    /// Why there is no status: `timeout`, `connection failed`, `refused by SSRF guard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// What a check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Each case, in the order sent.
    pub cases: Vec<CaseResult>,
    /// How many passed.
    pub passed: usize,
    /// How many there were.
    pub total: usize,
}

impl Report {
    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.passed == self.total
    }
}

/// Why a POST has no status, in a few words.
pub fn outcome_error(outcome: &PostOutcome) -> Option<&'static str> {
    match outcome {
        PostOutcome::Status(_) => None,
        PostOutcome::Timeout => Some("timeout"),
        PostOutcome::Failed(_) => Some("connection failed"),
        PostOutcome::Refused(_) => Some("refused by SSRF guard"),
    }
}

/// Judge what came of each case's POST.
pub fn judge<'a>(results: impl IntoIterator<Item = (CaseKind, &'a PostOutcome)>) -> Report {
    let cases: Vec<CaseResult> = results
        .into_iter()
        .map(|(kind, outcome)| CaseResult {
            name: kind.name(),
            expected: kind.expected(),
            status: match outcome {
                PostOutcome::Status(s) => Some(*s),
                _ => None,
            },
            pass: kind.passes(outcome),
            error: outcome_error(outcome),
        })
        .collect();
    let passed = cases.iter().filter(|c| c.pass).count();
    Report {
        total: cases.len(),
        passed,
        cases,
    }
}

/// A whole check over `host`: mint the cases (through its crypto seam), POST each to `uri`
/// one after the other (the host's delivery timeout, its SSRF guard as `allow_private` says),
/// judge the answers. Also returns the check's tokens (their tracking id for the audit trail).
pub async fn run<H: Host>(
    host: &H,
    p: &CheckParams<'_>,
    uri: &str,
    allow_private: bool,
) -> Result<(Report, Cases), Error> {
    let minted = cases(host.crypto(), host, p).await?;
    let timeout_ms = host.config().delivery.timeout_ms;
    let mut outcomes = Vec::with_capacity(minted.cases.len());
    for case in &minted.cases {
        let body = case.form_body();
        let outcome = host
            .post(Post {
                uri,
                body: &body,
                timeout_ms,
                allow_private,
            })
            .await;
        outcomes.push((case.kind, outcome));
    }
    let report = judge(outcomes.iter().map(|(k, o)| (*k, o)));
    Ok((report, minted))
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use core::cell::Cell;

    use super::*;
    use crate::crypto::RustCrypto;
    use crate::host::EntropyError;
    use crate::jose::jwk::KeyOp;
    use crate::jose::{ContentEnc, JwkSet, JwsAlg, KeyMgmtAlg};
    use crate::logout::logout_token::{LogoutTokenError, LogoutTokenValidation, verify};

    /// A xorshift generator: deterministic, good enough to find RSA primes.
    struct Xorshift(Cell<u64>);

    impl Entropy for Xorshift {
        fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
            for b in dest {
                let mut x = self.0.get();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.0.set(x);
                *b = (x >> 24) as u8;
            }
            Ok(())
        }
    }

    const ISS: &str = "https://op.example/realms/r";
    const AUD: &str = "rp1";
    const NOW: u64 = 1_800_000_000;

    fn mint_all(key: &Jwk, alg: JwsAlg, enc: Option<&(Jwk, KeyMgmtAlg, ContentEnc)>) -> Cases {
        let rng = Xorshift(Cell::new(0x9e37_79b9_7f4a_7c15));
        let p = CheckParams {
            issuer: ISS,
            audience: AUD,
            keys: LogoutTokenKeys {
                signing_key: key,
                alg,
                encrypt_to: enc.map(|(k, a, e)| (k, *a, *e)),
            },
            now: UnixTime(NOW),
        };
        oidc_edge_tests::memory::block_on(cases(&RustCrypto, &rng, &p)).unwrap()
    }

    /// Each token as core's own RP-side validation sees it.
    fn verdicts(
        c: &Cases,
        key: &Jwk,
        alg: JwsAlg,
        decrypt: Option<&Jwk>,
    ) -> Vec<(CaseKind, Result<(), LogoutTokenError>)> {
        let rng = Xorshift(Cell::new(7));
        let jwks = JwkSet {
            keys: vec![key.to_public()],
        };
        let algs = [alg];
        let v = LogoutTokenValidation {
            issuer: ISS,
            audience: AUD,
            jwks: &jwks,
            algs: &algs,
            decrypt_with: decrypt,
            now: UnixTime(NOW + 1),
            leeway_secs: 60,
        };
        let mut seen = alloc::collections::BTreeSet::new();
        c.cases
            .iter()
            .map(|case| {
                let mut replay = |jti: &str| !seen.insert(String::from(jti));
                let r = verify(&case.token, &v, &rng, Some(&mut replay));
                (
                    case.kind,
                    r.map(|claims| {
                        assert_eq!(claims.sub.as_deref(), Some(c.sub.as_str()));
                        assert_eq!(claims.sid.as_deref(), Some(c.sid.as_str()));
                    }),
                )
            })
            .collect()
    }

    fn assert_each_refused_for_its_reason(got: &[(CaseKind, Result<(), LogoutTokenError>)]) {
        assert_eq!(
            got.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            CaseKind::ALL
        );
        for (kind, r) in got {
            match kind {
                CaseKind::Valid => assert_eq!(r, &Ok(()), "{kind:?}"),
                CaseKind::WrongSignature => {
                    assert_eq!(r, &Err(LogoutTokenError::InvalidSignature), "{kind:?}");
                }
                CaseKind::AlgNone => assert_eq!(
                    r,
                    &Err(LogoutTokenError::Algorithm(String::from("none"))),
                    "{kind:?}"
                ),
                CaseKind::NoncePresent => {
                    assert_eq!(r, &Err(LogoutTokenError::NoncePresent), "{kind:?}");
                }
                CaseKind::Expired => assert_eq!(r, &Err(LogoutTokenError::Expired), "{kind:?}"),
                CaseKind::WrongAud => {
                    assert_eq!(r, &Err(LogoutTokenError::AudienceMismatch), "{kind:?}");
                }
                CaseKind::MissingEvents => {
                    assert_eq!(r, &Err(LogoutTokenError::MissingEvents), "{kind:?}");
                }
            }
        }
    }

    fn header(token: &str) -> Value {
        let first = token.split('.').next().unwrap_or_default();
        serde_json::from_slice(&b64::decode(first).unwrap_or_default()).unwrap_or(Value::Null)
    }

    fn payload(token: &str) -> serde_json::Map<String, Value> {
        let second = token.split('.').nth(1).unwrap_or_default();
        match serde_json::from_slice(&b64::decode(second).unwrap_or_default()) {
            Ok(Value::Object(m)) => m,
            _ => panic!("no claims in {token}"),
        }
    }

    #[test]
    fn es256_cases_are_refused_by_core_for_the_intended_reason() {
        let rng = Xorshift(Cell::new(3));
        let mut key = Jwk::generate_ec(&rng).unwrap();
        key.kid = Some(String::from("op-key-1"));
        let c = mint_all(&key, JwsAlg::ES256, None);
        assert_each_refused_for_its_reason(&verdicts(&c, &key, JwsAlg::ES256, None));

        // Every token: typed, the OP key's kid, a jti of its own; the valid one exactly as
        // a delivery's (two minutes, the event, no nonce).
        let mut jtis = alloc::collections::BTreeSet::new();
        for case in &c.cases {
            let h = header(&case.token);
            assert_eq!(h["typ"], LOGOUT_TYP, "{:?}", case.kind);
            assert_eq!(h["kid"], "op-key-1", "{:?}", case.kind);
            let claims = payload(&case.token);
            assert!(jtis.insert(String::from(claims["jti"].as_str().unwrap_or_default())));
            assert_eq!(claims["iss"], ISS);
            assert!(
                claims["sub"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("rp-check-"))
            );
        }
        assert_eq!(jtis.len(), 7);
        let valid = payload(&c.cases[0].token);
        assert_eq!(valid["iat"], NOW);
        assert_eq!(valid["exp"], NOW + 120);
        assert_eq!(valid["aud"], AUD);
        assert_eq!(
            valid["events"],
            serde_json::json!({logout_token::BACKCHANNEL_LOGOUT_EVENT: {}})
        );
        assert!(!valid.contains_key("nonce"));
        let alg_none = &c.cases[2].token;
        assert_eq!(header(alg_none)["alg"], "none");
        assert!(alg_none.ends_with('.'), "an empty signature");
        let expired = payload(&c.cases[4].token);
        assert_eq!(
            (expired["iat"].clone(), expired["exp"].clone()),
            (Value::from(NOW - 600), Value::from(NOW - 300))
        );
        let wrong_aud = payload(&c.cases[5].token);
        assert_ne!(wrong_aud["aud"], AUD);
    }

    #[test]
    fn rsa_cases_encrypted_to_the_rp_are_refused_for_the_intended_reason() {
        let rng = Xorshift(Cell::new(11));
        let key = Jwk::generate_rsa(2048, &rng).unwrap();
        let mut rp = Jwk::generate_ec(&rng).unwrap();
        rp.key_use = Some(String::from("enc"));
        assert!(rp.allows(KeyOp::Decrypt, KeyMgmtAlg::EcdhEsA128Kw.as_str()));
        let enc = (
            rp.to_public(),
            KeyMgmtAlg::EcdhEsA128Kw,
            ContentEnc::A256Gcm,
        );
        let c = mint_all(&key, JwsAlg::PS256, Some(&enc));
        for case in &c.cases {
            assert_eq!(case.token.split('.').count(), 5, "{:?}: a JWE", case.kind);
            let h = header(&case.token);
            assert_eq!(h["cty"], "JWT");
            assert_eq!(h["iss"], ISS);
        }
        assert_each_refused_for_its_reason(&verdicts(&c, &key, JwsAlg::PS256, Some(&rp)));
        // Without the RP's key, none of them can be read.
        let plain = verdicts(&c, &key, JwsAlg::PS256, None);
        assert!(
            plain
                .iter()
                .all(|(_, r)| matches!(r, Err(LogoutTokenError::Encryption(_))))
        );
    }

    #[test]
    fn judging_valid_takes_200_or_204_and_invalid_only_400() {
        use PostOutcome::{Failed, Refused, Status, Timeout};
        let all = |o: PostOutcome| {
            let outcomes: Vec<_> = CaseKind::ALL.iter().map(|k| (*k, o.clone())).collect();
            judge(outcomes.iter().map(|(k, o)| (*k, o)))
        };
        // A lax RP: 200 to everything.
        let lax = all(Status(200));
        assert_eq!((lax.passed, lax.total), (1, 7));
        assert!(lax.cases[0].pass && lax.cases[1..].iter().all(|c| !c.pass));
        assert_eq!(all(Status(204)).passed, 1);
        // A strict RP that refuses everything with 400 fails only the valid case.
        let strict = all(Status(400));
        assert_eq!(strict.passed, 6);
        assert!(!strict.cases[0].pass);
        // 401, 403, 500: not 400.
        for s in [401, 403, 500, 503] {
            assert_eq!(all(Status(s)).passed, 0, "{s}");
        }
        for (o, why) in [
            (Timeout, "timeout"),
            (Failed("refused".into()), "connection failed"),
            (Refused("loopback".into()), "refused by SSRF guard"),
        ] {
            let r = all(o);
            assert_eq!(r.passed, 0);
            assert!(
                r.cases
                    .iter()
                    .all(|c| c.status.is_none() && c.error == Some(why))
            );
        }
        // A correct RP.
        let outcomes: Vec<_> = CaseKind::ALL
            .iter()
            .map(|k| (*k, Status(k.expected())))
            .collect();
        let good = judge(outcomes.iter().map(|(k, o)| (*k, o)));
        assert!(good.all_passed());
        let v = serde_json::to_value(&good).unwrap_or_default();
        assert_eq!(v["passed"], 7);
        assert_eq!(v["total"], 7);
        assert_eq!(
            v["cases"][0],
            serde_json::json!({"name": "valid", "expected": 200, "status": 200, "pass": true})
        );
        assert_eq!(v["cases"][6]["name"], "missing_events");
        let none = serde_json::to_value(all(Timeout)).unwrap_or_default();
        assert_eq!(none["cases"][1]["status"], Value::Null);
        assert_eq!(none["cases"][1]["error"], "timeout");
    }
}
