//! Core's crypto seam as the native host answers it (AWS-LC, `oidc_edge::native::crypto`)
//! against core's pure-Rust code (`RustCrypto`), in the same run: RS256, PS256 and ES256
//! signatures, and a password check (PBKDF2-HMAC-SHA256 at the realm's count).
//!
//! `cargo bench -p oidc-edge-benches --bench crypto`
//!
//! Each call goes through the seam as core makes it (`Crypto::sign`, `Crypto::pbkdf2_sha256`)
//! on a current-thread tokio runtime: the native RSA signature and PBKDF2 include the hop to
//! tokio's blocking pool. `native, in place` is the same AWS-LC call without the hop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use oidc_edge::native::OsEntropy;
use oidc_edge::native::crypto::NativeCrypto;
use oidc_edge_core::crypto::{Crypto, Pbkdf2, RustCrypto, ToSign};
use oidc_edge_core::jose::{Jwk, JwsAlg};
use oidc_edge_core::password::PASSWORD_ITERATIONS;

/// A signing input the size of a typical logout token's header and claims.
const INPUT: &[u8] = &[b'e'; 560];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let e = OsEntropy;
    let rsa = Jwk::generate_rsa(2048, &e).unwrap();
    let ec = Jwk::generate_ec(&e).unwrap();
    let native = NativeCrypto::new();

    let mut g = c.benchmark_group("seam sign");
    for (alg, key) in [
        (JwsAlg::RS256, &rsa),
        (JwsAlg::PS256, &rsa),
        (JwsAlg::ES256, &ec),
    ] {
        let what = ToSign {
            key,
            alg,
            input: INPUT,
        };
        g.bench_function(format!("{alg} RustCrypto"), |b| {
            b.iter(|| rt.block_on(RustCrypto.sign(what, &e)).unwrap())
        });
        g.bench_function(format!("{alg} native"), |b| {
            b.iter(|| rt.block_on(native.sign(what, &e)).unwrap())
        });
        g.bench_function(format!("{alg} native, in place"), |b| {
            b.iter(|| native.sign_now(key, alg, INPUT).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("seam pbkdf2");
    let p = Pbkdf2 {
        password: b"correct horse battery staple",
        salt: b"sixteen byte slt",
        iterations: PASSWORD_ITERATIONS,
    };
    g.bench_function("PBKDF2 RustCrypto", |b| {
        b.iter(|| rt.block_on(RustCrypto.pbkdf2_sha256(p)).unwrap())
    });
    g.bench_function("PBKDF2 native", |b| {
        b.iter(|| rt.block_on(native.pbkdf2_sha256(p)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
