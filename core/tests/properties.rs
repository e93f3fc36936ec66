//! Properties of the parsers that take what anyone can send: compact JWS and JWE, JWK and
//! JWKS, forms and query strings, cookies, client registration metadata and RFC 3339 times.
//!
//! For each: it never panics, whatever the input; what we write, it reads back; and a JOSE
//! token with any of its bytes changed is refused. Case counts are kept small so that the file
//! runs in seconds in a debug build; `fuzz/` (cargo-fuzz) runs the same parsers for longer.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::OnceLock;

use oidc_edge_core::audit::{MAX_RFC3339_MS, parse_rfc3339_ms, rfc3339_ms};
use oidc_edge_core::client_metadata::ClientMetadata;
use oidc_edge_core::http::{Method, Params, Request, encode_params};
use oidc_edge_core::jose::jwe::{self, Decrypter, EncryptOptions};
use oidc_edge_core::jose::jws::{self, SignOptions, Verifier};
use oidc_edge_core::jose::{ContentEnc, Jwk, JwkSet, JwsAlg, KeyMgmtAlg, b64};
use oidc_edge_core::opaque_token;
use proptest::prelude::*;
use serde_json::{Value, json};

use common::Seeded;

// ---- Fixtures --------------------------------------------------------------------------------

/// An EC P-256 key, the same on every run.
fn ec_key() -> &'static Jwk {
    static KEY: OnceLock<Jwk> = OnceLock::new();
    KEY.get_or_init(|| Jwk::generate_ec(&Seeded::with_seed(7)).unwrap())
}

/// A 2048-bit RSA key, generated once per run from a fixed seed (so the same on every run).
fn rsa_key() -> &'static Jwk {
    static KEY: OnceLock<Jwk> = OnceLock::new();
    KEY.get_or_init(|| Jwk::generate_rsa(2048, &Seeded::with_seed(11)).unwrap())
}

fn key_for(alg: JwsAlg) -> &'static Jwk {
    match alg {
        JwsAlg::ES256 => ec_key(),
        JwsAlg::RS256 | JwsAlg::PS256 => rsa_key(),
    }
}

/// The public halves of both keys.
fn public_set() -> &'static JwkSet {
    static SET: OnceLock<JwkSet> = OnceLock::new();
    SET.get_or_init(|| JwkSet {
        keys: vec![ec_key().to_public(), rsa_key().to_public()],
    })
}

fn entropy() -> Seeded {
    Seeded::new()
}

const ALL_KEY_MGMT: [KeyMgmtAlg; 4] = [
    KeyMgmtAlg::RsaOaep256,
    KeyMgmtAlg::EcdhEs,
    KeyMgmtAlg::EcdhEsA128Kw,
    KeyMgmtAlg::EcdhEsA256Kw,
];
const ALL_ENC: [ContentEnc; 4] = [
    ContentEnc::A128CbcHs256,
    ContentEnc::A256CbcHs512,
    ContentEnc::A128Gcm,
    ContentEnc::A256Gcm,
];

fn jwe_key_for(alg: KeyMgmtAlg) -> &'static Jwk {
    match alg {
        KeyMgmtAlg::RsaOaep256 => rsa_key(),
        _ => ec_key(),
    }
}

// ---- Strategies ------------------------------------------------------------------------------

/// Base64url of arbitrary bytes, sometimes with a character that is not base64url.
fn b64_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..80).prop_map(b64::encode),
        1 => "[A-Za-z0-9_=+/. -]{0,12}",
    ]
}

/// A JOSE header that names real algorithms (or near misses), so parsing gets past `alg`.
fn header_json() -> impl Strategy<Value = Value> {
    let alg = prop::sample::select(vec![
        "ES256",
        "RS256",
        "PS256",
        "RSA-OAEP-256",
        "ECDH-ES",
        "ECDH-ES+A128KW",
        "ECDH-ES+A256KW",
        "none",
        "HS256",
        "",
    ]);
    let enc = prop::sample::select(vec![
        "A128CBC-HS256",
        "A256CBC-HS512",
        "A128GCM",
        "A256GCM",
        "A192GCM",
    ]);
    let kid = prop_oneof![
        4 => Just(None),
        2 => ".{0,8}".prop_map(|k| Some(Value::String(k))),
        1 => json_value().prop_map(Some),
    ];
    // An ephemeral key: a real point (so ECDH runs), a near miss, or junk.
    let epk = prop_oneof![
        3 => Just(Some(ec_key().to_public().to_value())),
        1 => jwk_like().prop_map(Some),
        1 => Just(None),
    ];
    (alg, enc, kid, epk).prop_map(|(alg, enc, kid, epk)| {
        let mut h = json!({"alg": alg, "enc": enc});
        if let Some(kid) = kid {
            h["kid"] = kid;
        }
        if let Some(epk) = epk {
            h["epk"] = epk;
        }
        h
    })
}

/// Any small JSON value.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A compact token of `parts` parts whose first is a plausible header.
fn compact_token(parts: usize) -> impl Strategy<Value = String> {
    (
        header_json(),
        prop::collection::vec(b64_segment(), parts - 1..=parts - 1),
    )
        .prop_map(|(h, rest)| {
            let mut t = b64::encode(h.to_string());
            for r in rest {
                t.push('.');
                t.push_str(&r);
            }
            t
        })
}

/// RFC 6265 cookie-octets, for values.
fn cookie_value() -> impl Strategy<Value = String> {
    "[!#-+\\--:<-\\[\\]-~]{1,16}"
}

/// Cookie-octets but `=`, for names.
fn cookie_name() -> impl Strategy<Value = String> {
    "[!#-+\\--:<>-\\[\\]-~]{1,16}"
}

/// Text shaped like an RFC 3339 date-time: fields mostly in range, sometimes just past it,
/// sometimes not digits at all.
fn rfc3339_like() -> impl Strategy<Value = String> {
    let field = |max: u32| {
        prop_oneof![
            8 => (0..=max).prop_map(|n| format!("{n:02}")),
            1 => "[0-9+ -]{1,3}",
        ]
    };
    let offset = prop_oneof![
        2 => "[Zz]",
        4 => ("[+-]", 0..=25u32, 0..=61u32).prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
        1 => ".{0,6}",
    ];
    (
        prop_oneof![8 => (0..=9999u32).prop_map(|y| format!("{y:04}")), 1 => "[0-9+-]{3,5}"],
        (
            field(13),
            field(32),
            prop_oneof![8 => "[Tt ]", 1 => "."],
            field(24),
            field(60),
            field(61),
        ),
        prop::option::of("\\.[0-9]{0,12}"),
        offset,
    )
        .prop_map(|(y, (mo, d, sep, h, mi, se), frac, off)| {
            format!(
                "{y}-{mo}-{d}{sep}{h}:{mi}:{se}{}{off}",
                frac.unwrap_or_default()
            )
        })
}

/// Change one character of `token` at `at` (an index into its characters) to `to`; `None` when
/// that leaves it unchanged.
fn mutate(token: &str, at: prop::sample::Index, to: char) -> Option<String> {
    let chars: Vec<char> = token.chars().collect();
    let i = at.index(chars.len());
    if chars[i] == to {
        return None;
    }
    let mut out = chars;
    out[i] = to;
    Some(out.into_iter().collect())
}

/// Flip one bit of the decoded bytes of part `part` of a compact token; `None` when that part
/// is empty.
fn flip_bit(
    token: &str,
    part: prop::sample::Index,
    at: prop::sample::Index,
    bit: u8,
) -> Option<String> {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let p = part.index(parts.len());
    let mut bytes = b64::decode(&parts[p]).unwrap();
    if bytes.is_empty() {
        return None;
    }
    let i = at.index(bytes.len());
    bytes[i] ^= 1 << (bit % 8);
    parts[p] = b64::encode(bytes);
    Some(parts.join("."))
}

/// A base64url character or a dot.
fn token_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
            .chars()
            .collect::<Vec<_>>(),
    )
}

// ---- JWS -------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn jws_verify_never_panics_on_any_text(s in ".{0,200}") {
        let _ = Verifier::new(public_set(), &JwsAlg::ALL).verify(&s);
    }

    #[test]
    fn jws_verify_never_panics_on_plausible_tokens(t in compact_token(3)) {
        let _ = Verifier::new(public_set(), &JwsAlg::ALL).verify(&t);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_signed_payload_verifies_to_itself(
        alg in prop::sample::select(JwsAlg::ALL.to_vec()),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        typ in prop::option::of("[a-z+]{1,12}"),
    ) {
        let opts = SignOptions { typ: typ.as_deref(), cty: None };
        let t = jws::sign(key_for(alg), alg, &payload, opts, &entropy()).unwrap();
        let v = Verifier::new(public_set(), &[alg]).verify(&t).unwrap();
        prop_assert_eq!(v.payload, payload);
        prop_assert_eq!(v.alg, alg);
        prop_assert_eq!(v.header.get("typ").and_then(Value::as_str), typ.as_deref());
    }

    #[test]
    fn a_jws_with_any_bit_flipped_is_refused(
        alg in prop::sample::select(JwsAlg::ALL.to_vec()),
        payload in prop::collection::vec(any::<u8>(), 1..100),
        part in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        bit in any::<u8>(),
    ) {
        let t = jws::sign(key_for(alg), alg, &payload, SignOptions::default(), &entropy()).unwrap();
        let bad = flip_bit(&t, part, at, bit).unwrap();
        prop_assert!(Verifier::new(public_set(), &JwsAlg::ALL).verify(&bad).is_err());
    }

    #[test]
    fn a_jws_with_any_character_changed_is_refused(
        alg in prop::sample::select(JwsAlg::ALL.to_vec()),
        payload in prop::collection::vec(any::<u8>(), 0..100),
        at in any::<prop::sample::Index>(),
        to in token_char(),
    ) {
        let t = jws::sign(key_for(alg), alg, &payload, SignOptions::default(), &entropy()).unwrap();
        if let Some(bad) = mutate(&t, at, to) {
            prop_assert!(Verifier::new(public_set(), &JwsAlg::ALL).verify(&bad).is_err());
        }
    }
}

// ---- JWE -------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn jwe_decrypt_never_panics_on_any_text(s in ".{0,200}") {
        let _ = Decrypter::new(ec_key(), &ALL_KEY_MGMT, &ALL_ENC).decrypt(&s, &entropy());
    }

    #[test]
    fn jwe_decrypt_never_panics_on_plausible_tokens(t in compact_token(5), rsa in any::<bool>()) {
        let key = if rsa { rsa_key() } else { ec_key() };
        let _ = Decrypter::new(key, &ALL_KEY_MGMT, &ALL_ENC).decrypt(&t, &entropy());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn an_encrypted_plaintext_decrypts_to_itself(
        alg in prop::sample::select(ALL_KEY_MGMT.to_vec()),
        enc in prop::sample::select(ALL_ENC.to_vec()),
        plaintext in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let key = jwe_key_for(alg);
        let opts = EncryptOptions::new(alg, enc);
        let t = jwe::encrypt(&plaintext, &key.to_public(), &opts, &entropy()).unwrap();
        let d = Decrypter::new(key, &[alg], &[enc]).decrypt(&t, &entropy()).unwrap();
        prop_assert_eq!(d.plaintext, plaintext);
        prop_assert_eq!((d.alg, d.enc), (alg, enc));
    }

    #[test]
    fn a_jwe_with_any_bit_flipped_is_refused(
        alg in prop::sample::select(ALL_KEY_MGMT.to_vec()),
        enc in prop::sample::select(ALL_ENC.to_vec()),
        plaintext in prop::collection::vec(any::<u8>(), 1..100),
        part in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        bit in any::<u8>(),
    ) {
        let key = jwe_key_for(alg);
        let t = jwe::encrypt(&plaintext, &key.to_public(), &EncryptOptions::new(alg, enc), &entropy()).unwrap();
        // ECDH-ES has an empty encrypted key: nothing to flip there.
        if let Some(bad) = flip_bit(&t, part, at, bit) {
            prop_assert!(Decrypter::new(key, &ALL_KEY_MGMT, &ALL_ENC).decrypt(&bad, &entropy()).is_err());
        }
    }

    #[test]
    fn a_jwe_with_any_character_changed_is_refused(
        alg in prop::sample::select(ALL_KEY_MGMT.to_vec()),
        enc in prop::sample::select(ALL_ENC.to_vec()),
        plaintext in prop::collection::vec(any::<u8>(), 0..100),
        at in any::<prop::sample::Index>(),
        to in token_char(),
    ) {
        let key = jwe_key_for(alg);
        let t = jwe::encrypt(&plaintext, &key.to_public(), &EncryptOptions::new(alg, enc), &entropy()).unwrap();
        if let Some(bad) = mutate(&t, at, to) {
            prop_assert!(Decrypter::new(key, &ALL_KEY_MGMT, &ALL_ENC).decrypt(&bad, &entropy()).is_err());
        }
    }
}

// ---- JWK and JWKS ----------------------------------------------------------------------------

/// A JSON object with JWK members: a real key (public or private) with some members removed
/// or replaced by anything, often almost right.
fn jwk_like() -> impl Strategy<Value = Value> {
    let base = prop::sample::select(vec![0usize, 1, 2, 3]).prop_map(|i| {
        let keys = [ec_key(), rsa_key()];
        let k = keys[i % 2];
        if i < 2 {
            k.to_value()
        } else {
            k.to_public().to_value()
        }
    });
    let names = prop::sample::select(vec![
        "kty", "crv", "x", "y", "d", "n", "e", "p", "q", "kid", "alg", "use", "key_ops", "oth",
    ]);
    let value = prop_oneof![
        2 => Just(None),
        3 => b64_segment().prop_map(|s| Some(Value::String(s))),
        1 => prop::sample::select(vec!["EC", "RSA", "oct", "P-256", "P-384", "AQAB", "sig"])
            .prop_map(|s| Some(Value::String(s.into()))),
        1 => json_value().prop_map(Some),
    ];
    (base, prop::collection::vec((names, value), 0..4)).prop_map(|(mut k, edits)| {
        for (name, v) in edits {
            match v {
                Some(v) => k[name] = v,
                None => {
                    k.as_object_mut().map(|m| m.remove(name));
                }
            }
        }
        k
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn jwk_parsing_never_panics_on_any_text(s in ".{0,300}") {
        let _ = Jwk::from_json(&s);
        let _ = JwkSet::from_json(&s);
    }

    #[test]
    fn jwk_parsing_never_panics_on_jwk_shaped_json(k in jwk_like(), others in prop::collection::vec(jwk_like(), 0..3)) {
        let _ = Jwk::from_value(&k);
        let mut keys = others;
        keys.push(k);
        let _ = JwkSet::from_value(&json!({ "keys": keys }));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_jwk_reads_back_as_written(
        seed in any::<u64>(),
        kid in prop::option::of("[ -~]{0,20}"),
        alg in prop::option::of(prop::sample::select(vec!["ES256", "RS256", "ECDH-ES"])),
        key_use in prop::option::of(prop::sample::select(vec!["sig", "enc"])),
        key_ops in prop::option::of(prop::collection::vec(prop::sample::select(vec!["sign", "verify", "encrypt"]), 0..3)),
        rsa in any::<bool>(),
    ) {
        let mut key = if rsa {
            rsa_key().clone()
        } else {
            Jwk::generate_ec(&Seeded::with_seed(seed)).unwrap()
        };
        key.kid = kid;
        key.alg = alg.map(String::from);
        key.key_use = key_use.map(String::from);
        key.key_ops = key_ops.map(|o| o.into_iter().map(String::from).collect());
        for k in [key.clone(), key.to_public()] {
            let text = k.to_value().to_string();
            let back = Jwk::from_json(&text).unwrap();
            prop_assert_eq!(back.to_value(), k.to_value());
            prop_assert_eq!(back.is_private(), k.is_private());
            prop_assert_eq!(back.thumbprint().unwrap(), k.thumbprint().unwrap());
        }
        let set = JwkSet { keys: vec![key.to_public()] };
        let back = JwkSet::from_json(&set.to_value().to_string()).unwrap();
        prop_assert_eq!(back.to_value(), set.to_value());
    }
}

// ---- Forms, query strings and cookies ----------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn form_parsing_never_panics_and_never_invents_replacement_characters(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let p = Params::parse(&bytes);
        // U+FFFD comes out only where it went in, percent-encoded or not, never from bad bytes.
        let text = String::from_utf8_lossy(&bytes);
        if !text.contains('\u{fffd}') && !text.to_ascii_uppercase().contains("%EF%BF%BD") {
            let invented = p.0.iter().any(|(k, v)| k.contains('\u{fffd}') || v.contains('\u{fffd}'));
            prop_assert!(!invented, "{:?}", p);
        }
    }

    #[test]
    fn encoded_pairs_parse_back_to_themselves(pairs in prop::collection::vec((".{0,12}", ".{0,12}"), 0..8)) {
        let encoded = encode_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        prop_assert_eq!(&Params::parse(encoded.as_bytes()).0, &pairs);
        let req = Request::new(Method::Get, &format!("/realms/r/authorize?{encoded}"));
        prop_assert_eq!(&req.query_params().0, &pairs);
        let form = Request::new(Method::Post, "/realms/r/token")
            .with_header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
            .with_body(encoded);
        prop_assert_eq!(&form.form().unwrap().0, &pairs);
    }

    #[test]
    fn cookie_parsing_never_panics(headers in prop::collection::vec(".{0,60}", 0..3), name in ".{0,10}") {
        let mut r = Request::new(Method::Get, "/");
        for h in &headers {
            r = r.with_header("cookie", h);
        }
        let _ = r.cookie(&name);
    }

    #[test]
    fn a_cookie_is_found_among_any_others_by_its_exact_name(
        others in prop::collection::vec((cookie_name(), cookie_value()), 0..6),
        value in cookie_value(),
        at in any::<prop::sample::Index>(),
        split_headers in any::<bool>(),
    ) {
        const NAME: &str = "oidc_edge_session";
        // Others never carry the name itself, but may carry its prefixes and extensions.
        let mut pairs: Vec<(String, String)> = others
            .into_iter()
            .filter(|(k, _)| k != NAME)
            .collect();
        pairs.push((format!("{NAME}x"), "wrong".into()));
        pairs.push((NAME[..NAME.len() - 1].into(), "wrong".into()));
        pairs.push((format!("x{NAME}"), "wrong".into()));
        let i = at.index(pairs.len() + 1);
        pairs.insert(i, (NAME.into(), value.clone()));
        let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut r = Request::new(Method::Get, "/");
        if split_headers {
            for c in &joined {
                r = r.with_header("cookie", c);
            }
        } else {
            r = r.with_header("cookie", &joined.join("; "));
        }
        prop_assert_eq!(r.cookie(NAME), Some(value.as_str()));

        // Without it, neither its prefixes nor its extensions stand in for it.
        pairs.remove(i);
        let header: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let r = Request::new(Method::Get, "/").with_header("cookie", &header.join("; "));
        prop_assert_eq!(r.cookie(NAME), None);
    }

    #[test]
    fn constant_time_equality_is_equality(a in ".{0,20}", b in ".{0,20}") {
        prop_assert_eq!(opaque_token::ct_eq(&a, &b), a == b);
        prop_assert!(opaque_token::ct_eq(&a, &a));
    }
}

// ---- Registration metadata -----------------------------------------------------------------

/// Metadata objects with the members RFC 7591 and Back-Channel Logout define, valued with
/// anything from what a real client sends to junk.
fn metadata_like() -> impl Strategy<Value = Value> {
    let uri = prop_oneof![
        4 => prop::sample::select(vec![
            "https://rp.example/cb", "http://127.0.0.1:8080/cb", "http://localhost/cb",
            "https://10.0.0.1/bc", "http://rp.example/cb", "https://rp.example/cb#f",
            "https://[::1]/cb", "https://rp.example:99999/", "https:///cb", "https://u@rp.example/",
        ])
        .prop_map(|s| Value::String(s.into())),
        2 => "(https?|javascript|data)://[a-z0-9.:\\[\\]@%-]{0,20}(/[ -~]{0,10})?(#.{0,3})?"
            .prop_map(Value::String),
    ];
    let uris = prop_oneof![
        12 => prop::collection::vec(uri.clone(), 1..3).prop_map(Value::Array),
        1 => prop::collection::vec(json_value(), 0..3).prop_map(Value::Array),
        1 => json_value(),
    ];
    let word = prop_oneof![
        4 => prop::sample::select(vec![
            "code", "authorization_code", "client_secret_basic", "client_secret_post", "none",
            "RS256", "ES256", "PS256", "HS256", "RSA-OAEP-256", "ECDH-ES", "A128GCM", "A256GCM",
        ])
        .prop_map(|s| Value::String(s.into())),
        1 => json_value(),
    ];
    let jwks = prop_oneof![
        2 => Just(json!({"keys": [rsa_key().to_public().to_value()]})),
        2 => prop::collection::vec(jwk_like(), 0..3).prop_map(|k| json!({ "keys": k })),
        1 => json_value(),
    ];
    let member = prop_oneof![
        uri,
        uris.clone(),
        word.clone(),
        word.prop_map(|w| json!([w])),
        jwks,
        any::<bool>().prop_map(Value::Bool)
    ];
    let names = prop::sample::subsequence(
        vec![
            "post_logout_redirect_uris",
            "grant_types",
            "response_types",
            "token_endpoint_auth_method",
            "id_token_signed_response_alg",
            "id_token_encrypted_response_alg",
            "id_token_encrypted_response_enc",
            "jwks",
            "jwks_uri",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "client_name",
        ],
        0..=4,
    );
    (
        prop::option::weighted(0.9, uris),
        names,
        prop::collection::vec(member, 4),
    )
        .prop_map(|(redirects, names, values)| {
            let mut m = serde_json::Map::new();
            if let Some(r) = redirects {
                m.insert("redirect_uris".into(), r);
            }
            for (n, v) in names.into_iter().zip(values) {
                m.insert(n.into(), v);
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn registration_metadata_never_panics(body in prop_oneof![json_value(), metadata_like()], private in any::<bool>()) {
        let _ = ClientMetadata::from_json(&body, "RS256", private);
    }

    #[test]
    fn accepted_metadata_keeps_exactly_the_redirect_uris_given(body in metadata_like(), private in any::<bool>()) {
        if let Ok(m) = ClientMetadata::from_json(&body, "RS256", private) {
            prop_assert_eq!(&json!(m.redirect_uris), &body["redirect_uris"]);
        }
    }
}

// ---- RFC 3339 ----------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rfc3339_parsing_never_panics(s in prop_oneof![".{0,40}", rfc3339_like()]) {
        let _ = parse_rfc3339_ms(&s);
    }

    #[test]
    fn rfc3339_accepts_only_offsets_within_a_day(s in rfc3339_like()) {
        if parse_rfc3339_ms(&s).is_some()
            && let [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] = s.as_bytes()[s.len() - 6..]
        {
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            prop_assert!(hours <= 23 && minutes <= 59, "{} ({})", s, sign);
        }
    }

    #[test]
    fn rfc3339_reads_back_what_it_writes(ms in 0..=MAX_RFC3339_MS) {
        let s = rfc3339_ms(ms);
        prop_assert_eq!(s.len(), 24);
        prop_assert!(s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.');
        prop_assert_eq!(parse_rfc3339_ms(&s), Some(ms));
    }

    #[test]
    fn rfc3339_offsets_name_the_same_instant(
        secs in 86_400u64..253_402_214_400,
        offset_minutes in -1439i64..=1439,
    ) {
        // The same instant as local time at the offset: `local - offset = utc`.
        let local = (secs as i64 + offset_minutes * 60) as u64;
        let written = &rfc3339_ms(local * 1000)[..19];
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let (h, m) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
        let s = format!("{written}{sign}{h:02}:{m:02}");
        prop_assert_eq!(parse_rfc3339_ms(&s), Some(secs * 1000), "{}", s);
    }
}
