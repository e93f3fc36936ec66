//! Compact JWS and JWE: verification, decryption and `jwt::open` on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_edge_core::jose::jwe::Decrypter;
use oidc_edge_core::jose::jws::Verifier;
use oidc_edge_core::jose::{ContentEnc, JwsAlg, KeyMgmtAlg, jwt};
use oidc_edge_fuzz as keys;

const ALGS: [KeyMgmtAlg; 4] = [
    KeyMgmtAlg::RsaOaep256,
    KeyMgmtAlg::EcdhEs,
    KeyMgmtAlg::EcdhEsA128Kw,
    KeyMgmtAlg::EcdhEsA256Kw,
];
const ENCS: [ContentEnc; 4] = [
    ContentEnc::A128CbcHs256,
    ContentEnc::A256CbcHs512,
    ContentEnc::A128Gcm,
    ContentEnc::A256Gcm,
];

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (ec, rsa) = keys::keys();
    let entropy = keys::Seeded::new(1);
    let verifier = Verifier::new(keys::public_set(), &JwsAlg::ALL);
    let _ = verifier.verify(token);
    for key in [ec, rsa] {
        let decrypter = Decrypter::new(key, &ALGS, &ENCS);
        let _ = decrypter.decrypt(token, &entropy);
        let _ = jwt::open(token, &verifier, Some(&decrypter), &entropy);
    }
    let _ = jwt::open(token, &verifier, None, &entropy);
});
