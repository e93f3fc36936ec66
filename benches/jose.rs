//! JOSE cost against the raw signature it sits on, measured in the same run.
//!
//! `cargo bench -p oidc-edge-benches --bench jose`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use oidc_edge::native::OsEntropy;
use oidc_edge_core::UnixTime;
use oidc_edge_core::jose::jwk::KeyMaterial;
use oidc_edge_core::jose::jws::{self, SignOptions};
use oidc_edge_core::jose::{ContentEnc, Jwk, JwsAlg, KeyMgmtAlg};
use oidc_edge_core::logout::logout_token::{self, LogoutCause, LogoutTokenKeys, LogoutTokenParams};
use p256::ecdsa::signature::Signer as _;
use sha2::Sha256;

/// A signing input the size of a typical logout token's header and claims.
const INPUT: &[u8] = b"eyJhbGciOiJFUzI1NiIsImtpZCI6IlBGQm5pS0RzMktpZ0p3TWNyNDhrb2IzWjZRRXgwcllqcFFQMzRha2JucWMiLCJ0eXAiOiJsb2dvdXQrand0In0.eyJhdWQiOiJycDEiLCJhdWRpdFRyYWNraW5nSWQiOiI1MTU3N2NlNi04MmRlLTRhZTAtYjZjYi05Nzg3MDBiMmVjZDgiLCJjYXVzZSI6IlNFU1NJT05fVEVSTUlOQVRJT04iLCJldmVudHMiOnsiaHR0cDovL3NjaGVtYXMub3BlbmlkLm5ldC9ldmVudC9iYWNrY2hhbm5lbC1sb2dvdXQiOnt9fSwiZXhwIjoxNzk1NjgxNzA3LCJpYXQiOjE3OTU2ODE1ODcsImlzcyI6Imh0dHBzOi8vb3AuZXhhbXBsZSIsImp0aSI6IkZiaGUwWnlaY211VTVYY3QzSFdnbmciLCJzaWQiOiJzMSIsInN1YiI6ImFsaWNlIn0";

fn params() -> LogoutTokenParams<'static> {
    LogoutTokenParams {
        issuer: "https://op.example/realms/demo",
        audience: "rp1",
        subject: Some("alice"),
        sid: Some("c2lkLWZvci1ycDE"),
        cause: Some(LogoutCause::SessionTermination),
        audit_tracking_id: Some("51577ce6-82de-4ae0-b6cb-978700b2ecd8-42"),
        jti: None,
        now: UnixTime(1_795_681_587),
        lifetime_secs: 120,
    }
}

fn bench(c: &mut Criterion) {
    let e = OsEntropy;
    let ec = Jwk::generate_ec(&e).unwrap();
    let rsa = Jwk::generate_rsa(2048, &e).unwrap();
    let KeyMaterial::EcPrivate(ec_secret) = &ec.material else {
        unreachable!()
    };
    let KeyMaterial::RsaPrivate(rsa_key) = &rsa.material else {
        unreachable!()
    };
    let p256_key = ec_secret.signing_key().clone();
    let mut rng = getrandom::SysRng;

    let mut g = c.benchmark_group("sign");
    g.bench_function("raw p256 ECDSA", |b| {
        b.iter(|| {
            let s: p256::ecdsa::Signature = p256_key.sign(INPUT);
            s
        })
    });
    g.bench_function("JWS ES256", |b| {
        b.iter(|| jws::sign(&ec, JwsAlg::ES256, INPUT, SignOptions::default(), &e))
    });
    g.bench_function("raw rsa PKCS#1 v1.5", |b| {
        b.iter(|| rsa_key.pkcs1v15_sign_with_rng::<Sha256, _>(&mut rng, INPUT))
    });
    g.bench_function("JWS RS256", |b| {
        b.iter(|| jws::sign(&rsa, JwsAlg::RS256, INPUT, SignOptions::default(), &e))
    });
    g.bench_function("raw rsa PSS", |b| {
        b.iter(|| rsa_key.pss_sign_with_rng::<Sha256, _>(&mut rng, INPUT))
    });
    g.bench_function("JWS PS256", |b| {
        b.iter(|| jws::sign(&rsa, JwsAlg::PS256, INPUT, SignOptions::default(), &e))
    });
    g.finish();

    let rp_rsa = Jwk::generate_rsa(2048, &e).unwrap().to_public();
    let rp_ec = Jwk::generate_ec(&e).unwrap().to_public();
    let p = params();
    let mut g = c.benchmark_group("logout token");
    for (name, key, alg) in [
        ("mint ES256", &ec, JwsAlg::ES256),
        ("mint RS256", &rsa, JwsAlg::RS256),
    ] {
        let keys = LogoutTokenKeys {
            signing_key: key,
            alg,
            encrypt_to: None,
        };
        g.bench_function(name, |b| {
            b.iter(|| logout_token::mint(&p, &keys, &e).unwrap())
        });
    }
    let nested = [
        (
            "mint ES256 + RSA-OAEP-256/A256GCM",
            (&rp_rsa, KeyMgmtAlg::RsaOaep256, ContentEnc::A256Gcm),
        ),
        (
            "mint ES256 + ECDH-ES/A128CBC-HS256",
            (&rp_ec, KeyMgmtAlg::EcdhEs, ContentEnc::A128CbcHs256),
        ),
    ];
    for (name, to) in nested {
        let keys = LogoutTokenKeys {
            signing_key: &ec,
            alg: JwsAlg::ES256,
            encrypt_to: Some(to),
        };
        g.bench_function(name, |b| {
            b.iter(|| logout_token::mint(&p, &keys, &e).unwrap())
        });
    }
    g.finish();

    // The password hash a login pays for (PBKDF2-HMAC-SHA-256, PASSWORD_ITERATIONS rounds).
    let stored =
        oidc_edge_core::password::hash_password("correct horse battery staple", &e).unwrap();
    let mut g = c.benchmark_group("password");
    g.sample_size(20);
    g.bench_function("verify PBKDF2-SHA256", |b| {
        b.iter(|| {
            oidc_edge_core::password::verify_password("correct horse battery staple", &stored)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
