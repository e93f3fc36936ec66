//! Project Wycheproof (C2SP/wycheproof at dac1dd4) through the public JOSE API.
//!
//! The primitive sets (AES-GCM, AES-CBC-HMAC, AES key wrap, ECDH and ECDSA on P-256, RSA
//! PKCS#1 v1.5 signatures and decryption, RSA-OAEP) come with the `wycheproof` crate, the same
//! files byte for byte, so every clone runs them; the JOSE sets (JWS, JWE, JWK) are read from
//! the shared vector directory (`OIDC_EDGE_VECTORS`), and skip loudly without it.
//!
//! Every case of every file is accounted for: checked and counted by its expected result, or
//! skipped with a reason (an algorithm or parameter set JOSE or this implementation does not
//! use). Every `invalid` case in a configuration we support must be rejected; `acceptable`
//! cases may go either way and are counted. Each test prints its counts to stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod wycheproof {
    use oidc_edge_core::error::JoseError;
    use oidc_edge_core::host::Entropy as _;
    use oidc_edge_core::jose::jwe::{self, ContentEnc, Decrypter, KeyMgmtAlg};
    use oidc_edge_core::jose::jwk::{Jwk, JwkSet, KeyMaterial};
    use oidc_edge_core::jose::jws::{self, JwsAlg, Verifier};
    use oidc_edge_core::jose::{Header, b64};
    use serde_json::{Value, json};
    use sha2::Sha256;
    use wycheproof::{aead, ecdh, ecdsa, keywrap, rsa_oaep, rsa_pkcs1_decrypt, rsa_pkcs1_verify};

    use super::common::{Seeded, Tally, hex, load, str_at};

    /// A JOSE set from the shared vector directory, or `None` (after a loud notice) without it.
    fn wycheproof(file: &'static str) -> Option<(Value, Tally)> {
        let v = load(&format!("wycheproof/{file}"))?;
        Some((v, Tally::new(file)))
    }

    /// A primitive set as the `wycheproof` crate bundles it (`json`, its file's text).
    fn bundled(file: &'static str, json: &'static str) -> (Value, Tally) {
        let v = serde_json::from_str(json).unwrap_or_else(|e| panic!("{file}: {e}"));
        (v, Tally::new(file))
    }

    fn total(v: &Value) -> u64 {
        v["numberOfTests"].as_u64().expect("numberOfTests")
    }

    fn groups(v: &Value) -> &[Value] {
        v["testGroups"].as_array().expect("testGroups")
    }

    fn cases(group: &Value) -> &[Value] {
        group["tests"].as_array().expect("tests")
    }

    fn hex_at(case: &Value, member: &str) -> Vec<u8> {
        hex(str_at(case, &format!("/{member}")))
    }

    /// A compact token as given, or a JSON serialization as its text (which must be refused).
    fn token_of(case: &Value, member: &str) -> String {
        match &case[member] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The protected header of a compact token, if it decodes at all.
    fn header_of(token: &str) -> Option<Header> {
        let h = token.split('.').next()?;
        serde_json::from_slice(&b64::decode(h).ok()?).ok()
    }

    fn header_member(token: &str, name: &str) -> Option<String> {
        header_of(token)?.get(name)?.as_str().map(String::from)
    }

    /// A big-endian integer from a vector as exactly 32 bytes, or `None` if it does not fit.
    fn fixed32(bytes: &[u8]) -> Option<[u8; 32]> {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let trimmed = &bytes[start..];
        let mut out = [0u8; 32];
        out.get_mut(32usize.checked_sub(trimmed.len())?..)?
            .copy_from_slice(trimmed);
        Some(out)
    }

    /// A valid case in a configuration we do not implement: it must still be refused, and it
    /// is counted as skipped for `why`.
    fn unsupported_valid<T>(
        tally: &mut Tally,
        case: &Value,
        result: &Result<T, JoseError>,
        why: String,
    ) {
        if result.is_ok() {
            tally.fail(case, "accepted in a configuration we do not implement");
        } else {
            tally.skip(why);
        }
    }

    fn jws_why(header_alg: Option<&str>) -> String {
        match header_alg {
            Some(alg) => format!("valid, {alg} not implemented"),
            None => String::from("valid, header not strict base64url JSON"),
        }
    }

    fn outcome<T>(r: &Result<T, JoseError>) -> String {
        match r {
            Ok(_) => String::from("accepted"),
            Err(e) => format!("rejected: {e:?}"),
        }
    }

    // -----------------------------------------------------------------------------------------
    // JOSE

    /// Each group's key (its `public` JWK, else the public half of its `private` one) verifies
    /// with exactly the algorithm the key names, or else the one the header names, if we
    /// implement it; a group whose key or algorithm we lack gets a verifier for every algorithm
    /// we have and an empty key set, which must refuse everything.
    #[test]
    fn json_web_signature() {
        let Some((v, mut tally)) = wycheproof("json_web_signature_test.json") else {
            return;
        };
        for group in groups(&v) {
            let key = group
                .get("public")
                .or_else(|| group.get("private"))
                .and_then(|k| Jwk::from_value(k).ok())
                .map(|k| k.to_public());
            let key_alg = key
                .as_ref()
                .and_then(|k| k.alg.as_deref())
                .and_then(|a| a.parse::<JwsAlg>().ok());
            let keys = JwkSet {
                keys: key.iter().cloned().collect(),
            };
            for case in cases(group) {
                let token = token_of(case, "jws");
                let header_alg = header_member(&token, "alg");
                let header_parsed = header_alg.as_deref().and_then(|a| a.parse::<JwsAlg>().ok());
                let alg = key_alg.or(header_parsed);
                let result = match alg {
                    Some(a) => Verifier::new(&keys, &[a]).verify(&token),
                    None => Verifier::new(&keys, &JwsAlg::ALL).verify(&token),
                };
                let supported = key.is_some() && alg.is_some() && alg == header_parsed;
                if str_at(case, "/result") == "valid" && !supported {
                    unsupported_valid(&mut tally, case, &result, jws_why(header_alg.as_deref()));
                    continue;
                }
                tally.record(case, result.is_ok(), &outcome(&result));
            }
        }
        tally.finish(total(&v));
    }

    /// Each group's private key decrypts with every algorithm we have; a key we cannot parse
    /// (symmetric) is replaced by an unrelated P-256 key so its tokens still meet the decrypter.
    #[test]
    fn json_web_encryption() {
        let Some((v, mut tally)) = wycheproof("json_web_encryption_test.json") else {
            return;
        };
        let rng = Seeded::new();
        let stranger = Jwk::generate_ec(&rng).unwrap();
        for group in groups(&v) {
            let key = Jwk::from_value(&group["private"]).ok();
            let decrypter = Decrypter::new(
                key.as_ref().unwrap_or(&stranger),
                &KeyMgmtAlg::ALL,
                &ContentEnc::ALL,
            );
            for case in cases(group) {
                let token = token_of(case, "jwe");
                let alg = header_member(&token, "alg");
                let enc = header_member(&token, "enc");
                let zip = header_of(&token).is_some_and(|h| h.contains_key("zip"));
                let alg_ok = alg
                    .as_deref()
                    .is_some_and(|a| a.parse::<KeyMgmtAlg>().is_ok());
                let enc_ok = enc
                    .as_deref()
                    .is_some_and(|e| e.parse::<ContentEnc>().is_ok());
                let supported = key.is_some() && !zip && alg_ok && enc_ok;
                let result = decrypter.decrypt(&token, &rng);
                if str_at(case, "/result") == "valid" && !supported {
                    let why = if zip {
                        String::from("zip")
                    } else if !alg_ok {
                        format!("alg {}", alg.as_deref().unwrap_or("?"))
                    } else if !enc_ok {
                        format!("enc {}", enc.as_deref().unwrap_or("?"))
                    } else {
                        let private = &group["private"];
                        let kind = private.get("crv").or_else(|| private.get("kty"));
                        format!("key {}", kind.and_then(Value::as_str).unwrap_or("?"))
                    };
                    unsupported_valid(
                        &mut tally,
                        case,
                        &result,
                        format!("valid, {why} not implemented"),
                    );
                    continue;
                }
                match &result {
                    Ok(d) if d.plaintext != hex_at(case, "pt") => {
                        tally.fail(case, "decrypted to the wrong plaintext")
                    }
                    _ => tally.record(case, result.is_ok(), &outcome(&result)),
                }
            }
        }
        tally.finish(total(&v));
    }

    /// Each group's key set (`public`, else `private`) goes through `JwkSet::from_value`; a set
    /// that does not parse rejects every token. The verifier allows every algorithm we have.
    #[test]
    fn json_web_key() {
        let Some((v, mut tally)) = wycheproof("json_web_key_test.json") else {
            return;
        };
        for group in groups(&v) {
            let set = JwkSet::from_value(
                group
                    .get("public")
                    .or_else(|| group.get("private"))
                    .expect("key set"),
            );
            for case in cases(group) {
                let token = token_of(case, "jws");
                let header_alg = header_member(&token, "alg");
                let result = match &set {
                    Ok(keys) => Verifier::new(keys, &JwsAlg::ALL).verify(&token),
                    Err(e) => Err(e.clone()),
                };
                let supported = header_alg
                    .as_deref()
                    .is_some_and(|a| a.parse::<JwsAlg>().is_ok());
                if str_at(case, "/result") == "valid" && !supported {
                    unsupported_valid(&mut tally, case, &result, jws_why(header_alg.as_deref()));
                    continue;
                }
                tally.record(case, result.is_ok(), &outcome(&result));
            }
        }
        tally.finish(total(&v));
    }

    // -----------------------------------------------------------------------------------------
    // Primitives

    /// An AEAD file through `encrypt_content` / `decrypt_content`: `enc_for` picks our content
    /// encryption for a group's (key, IV, tag) sizes in bits, or `None` to skip the group.
    fn aead(
        file: &'static str,
        set: aead::TestName,
        enc_for: fn(u64, u64, u64) -> Option<ContentEnc>,
    ) {
        let (v, mut tally) = bundled(file, set.json_data());
        for group in groups(&v) {
            let size = |m: &str| group[m].as_u64().expect("size");
            let (k, i, t) = (size("keySize"), size("ivSize"), size("tagSize"));
            let Some(enc) = enc_for(k, i, t) else {
                let why = if t != 128 {
                    format!("{t}-bit tag: JOSE tags are 128 bits")
                } else if k != 128 && k != 256 {
                    format!("{k}-bit key: not implemented (A192GCM)")
                } else {
                    String::from("IV not 96 bits: JOSE fixes the GCM IV at 96 bits")
                };
                for _ in cases(group) {
                    tally.skip(why.clone());
                }
                continue;
            };
            for case in cases(group) {
                let [key, iv, aad, msg, ct, tag] =
                    ["key", "iv", "aad", "msg", "ct", "tag"].map(|m| hex_at(case, m));
                let decrypted = jwe::decrypt_content(enc, &key, &iv, &aad, &ct, &tag);
                if str_at(case, "/result") == "valid" {
                    let encrypted = jwe::encrypt_content(enc, &key, &iv, &aad, &msg);
                    if encrypted.as_ref().ok() != Some(&(ct.clone(), tag.clone())) {
                        tally.fail(
                            case,
                            &format!("encryption differs: {}", outcome(&encrypted)),
                        );
                        continue;
                    }
                }
                match &decrypted {
                    Ok(pt) if *pt != msg => tally.fail(case, "decrypted to the wrong plaintext"),
                    _ => tally.record(case, decrypted.is_ok(), &outcome(&decrypted)),
                }
            }
        }
        tally.finish(total(&v));
    }

    #[test]
    fn aes_gcm() {
        aead(
            "aes_gcm_test.json",
            aead::TestName::AesGcm,
            |k, i, t| match (k, i, t) {
                (128, 96, 128) => Some(ContentEnc::A128Gcm),
                (256, 96, 128) => Some(ContentEnc::A256Gcm),
                _ => None,
            },
        );
    }

    #[test]
    fn a128cbc_hs256() {
        aead(
            "a128cbc_hs256_test.json",
            aead::TestName::Aes128CbcHmacSha256,
            |k, i, t| ((k, i, t) == (256, 128, 128)).then_some(ContentEnc::A128CbcHs256),
        );
    }

    /// AES key wrap with the 128- and 256-bit KEKs that ECDH-ES+A128KW / +A256KW use.
    #[test]
    fn aes_wrap() {
        let (v, mut tally) = bundled(
            "aes_wrap_test.json",
            keywrap::TestName::AesKeyWrap.json_data(),
        );
        for group in groups(&v) {
            let bits = group["keySize"].as_u64().expect("keySize");
            if bits != 128 && bits != 256 {
                for _ in cases(group) {
                    tally.skip(format!("{bits}-bit KEK: no JOSE algorithm of ours uses it"));
                }
                continue;
            }
            for case in cases(group) {
                let [kek, msg, ct] = ["key", "msg", "ct"].map(|m| hex_at(case, m));
                let unwrapped = jwe::aes_key_unwrap(&kek, &ct);
                let wrapped = jwe::aes_key_wrap(&kek, &msg);
                let flags = case["flags"].as_array().map_or(&[][..], Vec::as_slice);
                let about_wrapping = flags
                    .iter()
                    .any(|f| f == "EmptyKey" || f == "WrongDataSize");
                let accepted = match str_at(case, "/result") {
                    "valid" => {
                        if wrapped.as_ref().ok() != Some(&ct) {
                            tally.fail(case, &format!("wrap differs: {}", outcome(&wrapped)));
                            continue;
                        }
                        unwrapped.as_ref().ok() == Some(&msg)
                    }
                    // Unwrapping the bad `ct` must fail; where the case is about the key data
                    // (empty, or not in 8-byte blocks), wrapping it must fail as well.
                    "invalid" => unwrapped.is_ok() || (about_wrapping && wrapped.is_ok()),
                    _ => {
                        unwrapped.as_ref().ok() == Some(&msg) && wrapped.as_ref().ok() == Some(&ct)
                    }
                };
                tally.record(
                    case,
                    accepted,
                    &format!("unwrap {}, wrap {}", outcome(&unwrapped), outcome(&wrapped)),
                );
            }
        }
        tally.finish(total(&v));
    }

    /// DER SubjectPublicKeyInfo of an uncompressed point on named-curve P-256: the only encoding
    /// that maps onto a JWK (`x`, `y`) without interpreting anything else.
    const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
    const P256_SPKI_COMPRESSED_PREFIX: &str =
        "3039301306072a8648ce3d020106082a8648ce3d030107032200";

    const NOT_P256_SPKI: &str =
        "not a named-curve P-256 SPKI (explicit or other parameters, or bad DER)";

    /// The public key as a JOSE `epk`, or why it cannot be one.
    fn epk_of(public_hex: &str) -> Result<Value, &'static str> {
        let point = match public_hex.strip_prefix(P256_SPKI_PREFIX) {
            Some(rest) => hex(rest),
            None if public_hex.starts_with(P256_SPKI_COMPRESSED_PREFIX) => {
                return Err("compressed point: a JWK has no compressed form");
            }
            None if public_hex.len() == 130 && public_hex.starts_with("04") => hex(public_hex),
            None => return Err(NOT_P256_SPKI),
        };
        if point.len() != 65 || point[0] != 0x04 {
            return Err(NOT_P256_SPKI);
        }
        let (x, y) = (b64::encode(&point[1..33]), b64::encode(&point[33..]));
        Ok(json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}))
    }

    /// ECDH on P-256 the way JWE does it: the peer key arrives as an `epk` JWK. A mapped case is
    /// checked twice: the agreed secret against `shared`, and a whole ECDH-ES JWE carrying the
    /// vector's point as its `epk` (content key derived from `shared`) through `Decrypter`.
    #[test]
    fn ecdh_secp256r1() {
        let (v, mut tally) = bundled(
            "ecdh_secp256r1_test.json",
            ecdh::TestName::EcdhSecp256r1.json_data(),
        );
        let rng = Seeded::new();
        for group in groups(&v) {
            for case in cases(group) {
                let epk = match epk_of(str_at(case, "/public")) {
                    Ok(epk) => epk,
                    Err(why) => {
                        tally.skip(why);
                        continue;
                    }
                };
                let d = fixed32(&hex_at(case, "private")).expect("private key fits 32 bytes");
                let secret =
                    p256::SecretKey::from_slice(&d).expect("private key is a valid scalar");
                let shared = hex_at(case, "shared");

                let peer = Jwk::from_value(&epk);
                if let Ok(peer) = &peer {
                    let z = secret.diffie_hellman(&peer.ec_public().expect("EC key"));
                    if z.raw_secret_bytes().as_slice() != shared.as_slice() {
                        tally.fail(case, "agreed secret differs from `shared`");
                        continue;
                    }
                }

                let header = json!({"alg": "ECDH-ES", "enc": "A128GCM", "epk": epk});
                let protected = b64::encode(header.to_string());
                let cek = jwe::concat_kdf(&shared, "A128GCM", &[], &[], 16);
                let iv = [7u8; 12];
                let (ct, tag) = jwe::encrypt_content(
                    ContentEnc::A128Gcm,
                    &cek,
                    &iv,
                    protected.as_bytes(),
                    b"wycheproof",
                )
                .unwrap();
                let token = format!(
                    "{protected}..{}.{}.{}",
                    b64::encode(iv),
                    b64::encode(ct),
                    b64::encode(tag)
                );
                let me = Jwk::from_material(KeyMaterial::EcPrivate(secret.into()));
                let decrypted = Decrypter::new(&me, &[KeyMgmtAlg::EcdhEs], &[ContentEnc::A128Gcm])
                    .decrypt(&token, &rng);

                match (&peer, &decrypted) {
                    (Ok(_), Err(e)) => {
                        tally.fail(case, &format!("the epk parsed but the JWE failed: {e:?}"))
                    }
                    (Err(_), Ok(_)) => {
                        tally.fail(case, "the epk was refused as a JWK but accepted in a JWE")
                    }
                    (_, Ok(d)) if d.plaintext != b"wycheproof" => {
                        tally.fail(case, "wrong plaintext")
                    }
                    _ => tally.record(case, decrypted.is_ok(), &format!("epk {}", outcome(&peer))),
                }
            }
        }
        tally.finish(total(&v));
    }

    /// ECDSA P-256 / SHA-256 with R || S signatures, which is what ES256 carries, through
    /// `jws::verify_signature` with a JWK built from the vector's key.
    #[test]
    fn ecdsa_secp256r1_sha256_p1363() {
        let (v, mut tally) = bundled(
            "ecdsa_secp256r1_sha256_p1363_test.json",
            ecdsa::TestName::EcdsaSecp256r1Sha256P1363.json_data(),
        );
        for group in groups(&v) {
            let jwk = group.get("publicKeyJwk").cloned().or_else(|| {
                let coord = |m: &str| {
                    fixed32(&hex(str_at(group, &format!("/publicKey/{m}")))).map(b64::encode)
                };
                Some(json!({"kty": "EC", "crv": "P-256", "x": coord("wx")?, "y": coord("wy")?}))
            });
            let key = jwk
                .ok_or(JoseError::InvalidKey("coordinate wider than 32 bytes"))
                .and_then(|j| Jwk::from_value(&j));
            for case in cases(group) {
                let accepted = key.as_ref().is_ok_and(|k| {
                    jws::verify_signature(
                        k,
                        JwsAlg::ES256,
                        &hex_at(case, "msg"),
                        &hex_at(case, "sig"),
                    )
                });
                tally.record(case, accepted, &format!("key {}", outcome(&key)));
            }
        }
        tally.finish(total(&v));
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256) through `jws::verify_signature`, with each
    /// group's key as the vector gives it in JWK form.
    #[test]
    fn rsa_signature_2048_sha256() {
        let (v, mut tally) = bundled(
            "rsa_signature_2048_sha256_test.json",
            rsa_pkcs1_verify::TestName::Rsa2048Sha256.json_data(),
        );
        for group in groups(&v) {
            let key = Jwk::from_value(&group["keyJwk"]);
            for case in cases(group) {
                let accepted = key.as_ref().is_ok_and(|k| {
                    jws::verify_signature(
                        k,
                        JwsAlg::RS256,
                        &hex_at(case, "msg"),
                        &hex_at(case, "sig"),
                    )
                });
                tally.record(case, accepted, &format!("key {}", outcome(&key)));
            }
        }
        tally.finish(total(&v));
    }

    /// RSAES-PKCS1-v1_5 *decryption* (JWE `RSA1_5`), which we deliberately do not implement
    /// (Bleichenbacher): each ciphertext, as the encrypted key of an `RSA1_5` JWE to the group's
    /// key, must be refused as an unsupported algorithm.
    #[test]
    fn rsa_pkcs1_2048() {
        let (v, mut tally) = bundled(
            "rsa_pkcs1_2048_test.json",
            rsa_pkcs1_decrypt::TestName::Rsa2048.json_data(),
        );
        let rng = Seeded::new();
        let filler = b64::encode([0u8; 16]);
        for group in groups(&v) {
            let key = Jwk::from_value(&group["privateKeyJwk"])
                .unwrap_or_else(|e| panic!("RSA1_5 group key does not parse: {e:?}"));
            for case in cases(group) {
                let protected = b64::encode(r#"{"alg":"RSA1_5","enc":"A128CBC-HS256"}"#);
                let token = format!(
                    "{protected}.{}.{filler}.{filler}.{filler}",
                    b64::encode(hex_at(case, "ct"))
                );
                let result =
                    Decrypter::new(&key, &KeyMgmtAlg::ALL, &ContentEnc::ALL).decrypt(&token, &rng);
                match (&result, str_at(case, "/result")) {
                    (Err(JoseError::UnsupportedAlgorithm(a)), "valid" | "acceptable")
                        if a == "RSA1_5" =>
                    {
                        tally.skip("RSAES-PKCS1-v1_5 (JWE RSA1_5) is not implemented");
                    }
                    (Err(JoseError::UnsupportedAlgorithm(a)), _) if a == "RSA1_5" => {
                        tally.record(case, false, "")
                    }
                    _ => tally.fail(
                        case,
                        &format!(
                            "expected UnsupportedAlgorithm(RSA1_5), got {}",
                            outcome(&result)
                        ),
                    ),
                }
            }
        }
        tally.finish(total(&v));
    }

    /// The content encryption a CEK of this length fits, to carry it in a whole JWE.
    fn enc_for_cek(len: usize) -> Option<ContentEnc> {
        [
            ContentEnc::A128Gcm,
            ContentEnc::A256Gcm,
            ContentEnc::A256CbcHs512,
        ]
        .into_iter()
        .find(|e| e.key_len() == len)
    }

    /// RSA-OAEP-256 with the group's private key in JWK form. Cases with a label are skipped
    /// (JWE never uses one). Each case is checked at the primitive JWE uses (the parsed key's
    /// OAEP decryption) and, where the plaintext has the length of a CEK, as the encrypted key
    /// of a whole JWE; an invalid ciphertext must make that JWE fail as the one opaque error.
    #[test]
    fn rsa_oaep_2048_sha256_mgf1sha256() {
        let (v, tally) = bundled(
            "rsa_oaep_2048_sha256_mgf1sha256_test.json",
            rsa_oaep::TestName::Rsa2048Sha256Mgf1Sha256.json_data(),
        );
        // rsa 0.10 deliberately ignores the first octet of the encoded message (its own
        // Wycheproof run does the same), following draft-irtf-cfrg-rsa-guidance section 7 against
        // Manger's attack; RFC 8017 section 7.1.2 step 3g would refuse it. No oracle follows in
        // JWE: a failed unwrap continues with a random CEK.
        let mut tally = tally.documented_deviation(
            23,
            "\"First byte is 1\": rsa 0.10 ignores the leading OAEP octet (CFRG RSA guidance), RFC 8017 would refuse",
        );
        let rng = Seeded::new();
        for group in groups(&v) {
            let key = Jwk::from_value(&group["privateKeyJwk"]).expect("OAEP group key parses");
            let KeyMaterial::RsaPrivate(private) = &key.material else {
                panic!("not an RSA private key")
            };
            let decrypter = Decrypter::new(&key, &[KeyMgmtAlg::RsaOaep256], &ContentEnc::ALL);
            for case in cases(group) {
                if !str_at(case, "/label").is_empty() {
                    tally.skip("OAEP label: JWE never uses one");
                    continue;
                }
                let [msg, ct] = ["msg", "ct"].map(|m| hex_at(case, m));
                let primitive = private.oaep_decrypt::<Sha256>(&ct);
                let valid = str_at(case, "/result") == "valid";
                // The CEK the JWE carries: the vector's message if valid, else a random one.
                let (enc, cek) = if valid {
                    (enc_for_cek(msg.len()), msg.clone())
                } else {
                    let mut cek = vec![0u8; 16];
                    rng.fill(&mut cek).unwrap();
                    (Some(ContentEnc::A128Gcm), cek)
                };
                let whole = enc.map(|enc| {
                    let protected =
                        b64::encode(format!(r#"{{"alg":"RSA-OAEP-256","enc":"{enc}"}}"#));
                    let iv = vec![9u8; enc.iv_len()];
                    let (c, t) =
                        jwe::encrypt_content(enc, &cek, &iv, protected.as_bytes(), b"wycheproof")
                            .unwrap();
                    let token = [
                        protected,
                        b64::encode(&ct),
                        b64::encode(iv),
                        b64::encode(c),
                        b64::encode(t),
                    ]
                    .join(".");
                    decrypter.decrypt(&token, &rng)
                });
                let detail = format!(
                    "primitive {}",
                    if primitive.is_ok() {
                        "accepted"
                    } else {
                        "rejected"
                    }
                );
                match (valid, &primitive, &whole) {
                    (true, Ok(pt), _) if *pt != msg => {
                        tally.fail(case, "decrypted to the wrong plaintext")
                    }
                    (true, _, Some(Err(e))) => {
                        tally.fail(case, &format!("valid, but the JWE failed: {e:?}"))
                    }
                    (false, _, Some(Ok(_))) => tally.fail(case, "invalid, but the JWE decrypted"),
                    (false, _, Some(Err(e))) if *e != JoseError::Decrypt => {
                        tally.fail(
                            case,
                            &format!("invalid, and the JWE failed with a telling error: {e:?}"),
                        );
                    }
                    _ => tally.record(case, primitive.is_ok(), &detail),
                }
            }
        }
        tally.finish(total(&v));
    }
}
