//! RFC 7520 ("Examples of Protecting Content Using JOSE") through the public JOSE API.
//!
//! The cookbook JSON (ietf-jose/cookbook at 13692b6) is read from `../shared/vectors/jose-cookbook`
//! (see `common::vectors_dir`). Deterministic outputs (RS256, AES key wrap, the content layer
//! under the cookbook's CEK and IV, ECDH-ES with a scripted ephemeral key) must match byte for
//! byte; randomized ones (PS256) are verified. Sections whose algorithms this implementation
//! deliberately lacks pin the refusal instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod rfc7520 {
    use oidc_edge_core::error::JoseError;
    use oidc_edge_core::jose::b64;
    use oidc_edge_core::jose::jwe::{self, ContentEnc, Decrypter, EncryptOptions, KeyMgmtAlg};
    use oidc_edge_core::jose::jwk::{Jwk, JwkSet, KeyMaterial, KeyType};
    use oidc_edge_core::jose::jws::{self, JwsAlg, SignOptions, Verifier};
    use serde_json::Value;

    use super::common::{Scripted, Seeded, b64d, load, str_at};

    fn cookbook(rel: &str) -> Option<Value> {
        load(&format!("jose-cookbook/{rel}"))
    }

    fn jwk_at(v: &Value, pointer: &str) -> Jwk {
        let raw = v
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no JWK at {pointer}"));
        Jwk::from_value(raw).unwrap_or_else(|e| panic!("JWK at {pointer}: {e}"))
    }

    fn public_set(key: &Jwk) -> JwkSet {
        JwkSet {
            keys: vec![key.to_public()],
        }
    }

    fn unsupported(name: &str) -> JoseError {
        JoseError::UnsupportedAlgorithm(name.into())
    }

    /// The content layer of RFC 7516 §5.1 steps 11-15, byte for byte: the cookbook's CEK and IV
    /// must give its ciphertext and tag, which must decrypt back.
    fn content_layer(
        enc: ContentEnc,
        cek: &[u8],
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        v: &Value,
    ) {
        let ct = b64d(str_at(v, "/encrypting_content/ciphertext"));
        let tag = b64d(str_at(v, "/encrypting_content/tag"));
        let (got_ct, got_tag) = jwe::encrypt_content(enc, cek, iv, aad, plaintext).unwrap();
        assert_eq!(got_ct, ct, "{enc} ciphertext");
        assert_eq!(got_tag, tag, "{enc} tag");
        assert_eq!(
            jwe::decrypt_content(enc, cek, iv, aad, &ct, &tag).unwrap(),
            plaintext
        );
        let mut bad_tag = tag.clone();
        bad_tag[0] ^= 0x80;
        assert_eq!(
            jwe::decrypt_content(enc, cek, iv, aad, &ct, &bad_tag).unwrap_err(),
            JoseError::Decrypt
        );
    }

    /// [`content_layer`] with the file's `generated` CEK and IV, its plaintext, and its protected
    /// header (as sent, base64url) as the AAD, as in the compact serialization.
    fn content_layer_compact(v: &Value, enc: ContentEnc) {
        content_layer(
            enc,
            &b64d(str_at(v, "/generated/cek")),
            &b64d(str_at(v, "/generated/iv")),
            str_at(v, "/encrypting_content/protected_b64u").as_bytes(),
            str_at(v, "/input/plaintext").as_bytes(),
            v,
        );
    }

    /// AES key wrap (RFC 3394) of the `generated` CEK under the input key's `k`, byte for byte.
    fn key_wrap(v: &Value) {
        let kek = b64d(str_at(v, "/input/key/k"));
        let cek = b64d(str_at(v, "/generated/cek"));
        let wrapped = b64d(str_at(v, "/encrypting_key/encrypted_key"));
        assert_eq!(jwe::aes_key_wrap(&kek, &cek).unwrap(), wrapped);
        assert_eq!(jwe::aes_key_unwrap(&kek, &wrapped).unwrap(), cek);
        let mut bad = wrapped.clone();
        bad[0] ^= 1;
        assert_eq!(
            jwe::aes_key_unwrap(&kek, &bad).unwrap_err(),
            JoseError::Decrypt
        );
    }

    /// A decrypter accepting every algorithm we implement refuses `token` with `expected`.
    fn jwe_refused(token: &str, expected: JoseError) {
        let rng = Seeded::new();
        let key = Jwk::generate_ec(&rng).unwrap();
        let err = Decrypter::new(&key, &KeyMgmtAlg::ALL, &ContentEnc::ALL)
            .decrypt(token, &rng)
            .unwrap_err();
        assert_eq!(err, expected);
    }

    /// A verifier accepting every algorithm we implement refuses `token` with `expected`.
    fn jws_refused(keys: &JwkSet, token: &str, expected: JoseError) {
        assert_eq!(
            Verifier::new(keys, &JwsAlg::ALL).verify(token).unwrap_err(),
            expected
        );
    }

    // -----------------------------------------------------------------------------------------
    // 3. JSON Web Key examples

    #[test]
    fn s3_1_ec_public_key_p521_is_unsupported() {
        let Some(v) = cookbook("jwk/3_1.ec_public_key.json") else {
            return;
        };
        assert!(matches!(Jwk::from_value(&v), Err(JoseError::InvalidKey(_))));
    }

    #[test]
    fn s3_2_ec_private_key_p521_is_unsupported() {
        let Some(v) = cookbook("jwk/3_2.ec_private_key.json") else {
            return;
        };
        assert!(matches!(Jwk::from_value(&v), Err(JoseError::InvalidKey(_))));
    }

    #[test]
    fn s3_3_rsa_public_key() {
        let Some(v) = cookbook("jwk/3_3.rsa_public_key.json") else {
            return;
        };
        let key = Jwk::from_value(&v).unwrap();
        assert_eq!(key.key_type(), KeyType::Rsa);
        assert!(!key.is_private());
        assert_eq!(key.kid.as_deref(), Some("bilbo.baggins@hobbiton.example"));
        assert_eq!(key.key_use.as_deref(), Some("sig"));
        // Our serialization gives the same members back.
        let out = key.to_value();
        for m in ["kty", "kid", "use", "n", "e"] {
            assert_eq!(out[m], v[m], "member {m}");
        }
    }

    #[test]
    fn s3_4_rsa_private_key() {
        let (Some(public), Some(v)) = (
            cookbook("jwk/3_3.rsa_public_key.json"),
            cookbook("jwk/3_4.rsa_private_key.json"),
        ) else {
            return;
        };
        let key = Jwk::from_value(&v).unwrap();
        assert!(key.is_private());
        assert!(matches!(key.material, KeyMaterial::RsaPrivate(_)));
        // Its public half is the key of 3.3.
        let public = Jwk::from_value(&public).unwrap();
        assert_eq!(key.thumbprint().unwrap(), public.thumbprint().unwrap());
        assert_eq!(
            key.to_public().thumbprint().unwrap(),
            public.thumbprint().unwrap()
        );
        assert!(!key.to_public().is_private());
        // The CRT members we recompute are the cookbook's.
        let out = key.to_value();
        for m in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
            assert_eq!(out[m], v[m], "member {m}");
        }
    }

    #[test]
    fn s3_5_and_3_6_symmetric_keys_are_unsupported() {
        for f in [
            "jwk/3_5.symmetric_key_mac_computation.json",
            "jwk/3_6.symmetric_key_encryption.json",
        ] {
            let Some(v) = cookbook(f) else { return };
            assert_eq!(
                Jwk::from_value(&v).unwrap_err(),
                JoseError::InvalidKey("unsupported kty"),
                "{f}"
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // 4. JSON Web Signature examples

    #[test]
    fn s4_1_rs256() {
        let Some(v) = cookbook("jws/4_1.rsa_v15_signature.json") else {
            return;
        };
        let key = jwk_at(&v, "/input/key");
        let payload = str_at(&v, "/input/payload").as_bytes();
        let compact = str_at(&v, "/output/compact");
        let rng = Seeded::new();

        // Our header is {"alg","kid"} in that order, exactly the cookbook's, and RSASSA-PKCS1-v1_5
        // is deterministic (the entropy only blinds), so the whole token must match.
        assert_eq!(
            str_at(&v, "/signing/protected_b64u"),
            b64::encode(r#"{"alg":"RS256","kid":"bilbo.baggins@hobbiton.example"}"#)
        );
        assert_eq!(
            jws::sign(&key, JwsAlg::RS256, payload, SignOptions::default(), &rng).unwrap(),
            compact
        );
        let sig = jws::sign_raw(
            &key,
            JwsAlg::RS256,
            str_at(&v, "/signing/sig-input").as_bytes(),
            &rng,
        )
        .unwrap();
        assert_eq!(b64::encode(sig), str_at(&v, "/signing/sig"));

        let keys = public_set(&key);
        let verified = Verifier::new(&keys, &[JwsAlg::RS256])
            .verify(compact)
            .unwrap();
        assert_eq!(verified.payload, payload);
        assert_eq!(verified.alg, JwsAlg::RS256);
        assert_eq!(verified.header["kid"], "bilbo.baggins@hobbiton.example");

        // Configured for something else: refused before any key is tried.
        assert_eq!(
            Verifier::new(&keys, &[JwsAlg::PS256])
                .verify(compact)
                .unwrap_err(),
            JoseError::AlgorithmNotAllowed("RS256".into())
        );

        // Tampered payload, tampered signature.
        let [h, p, s]: [&str; 3] = compact.split('.').collect::<Vec<_>>().try_into().unwrap();
        let mut other = b64d(p);
        other[0] ^= 0x20;
        let forged = format!("{h}.{}.{s}", b64::encode(&other));
        assert_eq!(
            Verifier::new(&keys, &[JwsAlg::RS256])
                .verify(&forged)
                .unwrap_err(),
            JoseError::InvalidSignature
        );
        let mut sig = b64d(s);
        let last = sig.len() - 1;
        sig[last] ^= 1;
        let forged = format!("{h}.{p}.{}", b64::encode(&sig));
        assert_eq!(
            Verifier::new(&keys, &[JwsAlg::RS256])
                .verify(&forged)
                .unwrap_err(),
            JoseError::InvalidSignature
        );

        // A key with another kid is not tried at all.
        let mut stranger = key.to_public();
        stranger.kid = Some("someone.else@hobbiton.example".into());
        let strangers = JwkSet {
            keys: vec![stranger],
        };
        assert_eq!(
            Verifier::new(&strangers, &[JwsAlg::RS256])
                .verify(compact)
                .unwrap_err(),
            JoseError::NoMatchingKey
        );
    }

    #[test]
    fn s4_2_ps384_is_unsupported() {
        let Some(v) = cookbook("jws/4_2.rsa-pss_signature.json") else {
            return;
        };
        let key = jwk_at(&v, "/input/key");
        jws_refused(
            &public_set(&key),
            str_at(&v, "/output/compact"),
            unsupported("PS384"),
        );

        // PS256, which we do implement, is randomized: round trip with the cookbook key instead.
        let rng = Seeded::new();
        let payload = str_at(&v, "/input/payload").as_bytes();
        let token = jws::sign(&key, JwsAlg::PS256, payload, SignOptions::default(), &rng).unwrap();
        let keys = public_set(&key);
        assert_eq!(
            Verifier::new(&keys, &[JwsAlg::PS256])
                .verify(&token)
                .unwrap()
                .payload,
            payload
        );
    }

    #[test]
    fn s4_3_es512_is_unsupported() {
        let Some(v) = cookbook("jws/4_3.ecdsa_signature.json") else {
            return;
        };
        jws_refused(
            &JwkSet::default(),
            str_at(&v, "/output/compact"),
            unsupported("ES512"),
        );
    }

    #[test]
    fn s4_4_hs256_is_unsupported() {
        let Some(v) = cookbook("jws/4_4.hmac-sha2_integrity_protection.json") else {
            return;
        };
        jws_refused(
            &JwkSet::default(),
            str_at(&v, "/output/compact"),
            unsupported("HS256"),
        );
    }

    #[test]
    fn s4_5_detached_hs256_is_unsupported() {
        let Some(v) = cookbook("jws/4_5.signature_with_detached_content.json") else {
            return;
        };
        jws_refused(
            &JwkSet::default(),
            str_at(&v, "/output/compact"),
            unsupported("HS256"),
        );
    }

    #[test]
    fn s4_6_hs256_protected_alg_is_unsupported() {
        // JSON serialization only; its protected header and signature make a compact token.
        let Some(v) = cookbook("jws/4_6.protecting_specific_header_fields.json") else {
            return;
        };
        let token = format!(
            "{}.{}.{}",
            str_at(&v, "/output/json/signatures/0/protected"),
            str_at(&v, "/output/json/payload"),
            str_at(&v, "/output/json/signatures/0/signature")
        );
        jws_refused(&JwkSet::default(), &token, unsupported("HS256"));
    }

    #[test]
    fn s4_7_unprotected_alg_is_refused() {
        // No protected header at all: in compact form the header part is empty, so `alg` cannot
        // be authenticated, and the token is malformed rather than merely unsupported.
        let Some(v) = cookbook("jws/4_7.protecting_content_only.json") else {
            return;
        };
        let token = format!(
            ".{}.{}",
            str_at(&v, "/output/json/payload"),
            str_at(&v, "/output/json/signatures/0/signature")
        );
        let err = Verifier::new(&JwkSet::default(), &JwsAlg::ALL)
            .verify(&token)
            .unwrap_err();
        assert!(matches!(err, JoseError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn s4_8_multiple_signatures_rs256_entry() {
        let Some(v) = cookbook("jws/4_8.multiple_signatures.json") else {
            return;
        };
        let key = jwk_at(&v, "/input/key/0");
        let payload_b64 = str_at(&v, "/output/json/payload");
        let entry = |i: usize, member: &str| {
            str_at(&v, &format!("/output/json/signatures/{i}/{member}")).to_owned()
        };

        // The RS256 signature's protected header is only {"alg":"RS256"}; its kid is unprotected
        // and so absent from the compact form, and the verifier tries every RSA key it has.
        let token = format!(
            "{}.{payload_b64}.{}",
            entry(0, "protected"),
            entry(0, "signature")
        );
        let keys = public_set(&key);
        let verified = Verifier::new(&keys, &[JwsAlg::RS256])
            .verify(&token)
            .unwrap();
        assert_eq!(verified.payload, str_at(&v, "/input/payload").as_bytes());
        assert!(!verified.header.contains_key("kid"));
        // Deterministic, so our signature over the same input is the cookbook's.
        let sig = jws::sign_raw(
            &key,
            JwsAlg::RS256,
            str_at(&v, "/signing/0/sig-input").as_bytes(),
            &Seeded::new(),
        )
        .unwrap();
        assert_eq!(b64::encode(sig), entry(0, "signature"));

        // The HS256 entry (the ES512 one has no protected header, so no compact form).
        let token = format!(
            "{}.{payload_b64}.{}",
            entry(2, "protected"),
            entry(2, "signature")
        );
        jws_refused(&keys, &token, unsupported("HS256"));
    }

    // -----------------------------------------------------------------------------------------
    // 5. JSON Web Encryption examples

    #[test]
    fn s5_1_rsa1_5_a128cbc_hs256() {
        let Some(v) = cookbook("jwe/5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json")
        else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A128CbcHs256);
        // The key itself is fine; RSA1_5 is what we refuse (Bleichenbacher).
        assert!(jwk_at(&v, "/input/key").is_private());
        jwe_refused(str_at(&v, "/output/compact"), unsupported("RSA1_5"));
    }

    #[test]
    fn s5_2_rsa_oaep_a256gcm() {
        let Some(v) = cookbook("jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json") else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A256Gcm);
        // RSA-OAEP with SHA-1 is refused; we only do RSA-OAEP-256.
        jwe_refused(str_at(&v, "/output/compact"), unsupported("RSA-OAEP"));

        // The cookbook's 4096-bit key does work with RSA-OAEP-256, once its `alg` allows it.
        let mut key = jwk_at(&v, "/input/key");
        key.alg = None;
        let rng = Seeded::new();
        let plaintext = str_at(&v, "/input/plaintext").as_bytes();
        let opts = EncryptOptions::new(KeyMgmtAlg::RsaOaep256, ContentEnc::A256Gcm);
        let token = jwe::encrypt(plaintext, &key.to_public(), &opts, &rng).unwrap();
        let out = Decrypter::new(&key, &[KeyMgmtAlg::RsaOaep256], &[ContentEnc::A256Gcm])
            .decrypt(&token, &rng)
            .unwrap();
        assert_eq!(out.plaintext, plaintext);
    }

    #[test]
    fn s5_3_pbes2_a128cbc_hs256() {
        let Some(v) =
            cookbook("jwe/5_3.key_wrap_using_pbes2-aes-keywrap_with-aes-cbc-hmac-sha2.json")
        else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A128CbcHs256);
        jwe_refused(
            str_at(&v, "/output/compact"),
            unsupported("PBES2-HS512+A256KW"),
        );
    }

    #[test]
    fn s5_4_ecdh_es_a128kw_p384_is_unsupported() {
        let Some(v) = cookbook(
            "jwe/5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-keywrap_with_aes-gcm.json",
        ) else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A128Gcm);
        // ECDH-ES+A128KW and A128GCM are ours, the curve is not: the P-384 recipient key does not
        // parse, and a P-256 decrypter refuses the P-384 ephemeral key before any arithmetic.
        assert_eq!(
            Jwk::from_value(&v["input"]["key"]).unwrap_err(),
            JoseError::InvalidKey("only the P-256 curve is supported")
        );
        jwe_refused(
            str_at(&v, "/output/compact"),
            JoseError::InvalidKey("epk must be an EC P-256 key"),
        );
    }

    #[test]
    fn s5_5_ecdh_es_a128cbc_hs256() {
        let Some(v) = cookbook("jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json")
        else {
            return;
        };
        let key = jwk_at(&v, "/input/key");
        let plaintext = str_at(&v, "/input/plaintext").as_bytes();
        let compact = str_at(&v, "/output/compact");
        let rng = Seeded::new();

        // Decrypt the cookbook's token.
        let out = Decrypter::new(&key, &[KeyMgmtAlg::EcdhEs], &[ContentEnc::A128CbcHs256])
            .decrypt(compact, &rng)
            .unwrap();
        assert_eq!(out.plaintext, plaintext);
        assert_eq!(
            (out.alg, out.enc),
            (KeyMgmtAlg::EcdhEs, ContentEnc::A128CbcHs256)
        );

        // The Concat KDF over the agreed secret gives the cookbook's CEK.
        let KeyMaterial::EcPrivate(secret) = &key.material else {
            panic!("5.5 key is not an EC private key")
        };
        let epk = jwk_at(&v, "/encrypting_key/epk");
        let z = secret.diffie_hellman(&epk.ec_public().unwrap());
        let cek = jwe::concat_kdf(z.raw_secret_bytes(), "A128CBC-HS256", &[], &[], 32);
        assert_eq!(cek, b64d(str_at(&v, "/encrypting_key/cek")));

        // Byte for byte: entropy scripted with the ephemeral private key, then the IV. Our
        // header order (alg, kid, epk{kty,crv,x,y}, enc) is the cookbook's.
        let scripted = Scripted::new([
            b64d(str_at(&v, "/encrypting_key/epk/d")),
            b64d(str_at(&v, "/generated/iv")),
        ]);
        let opts = EncryptOptions::new(KeyMgmtAlg::EcdhEs, ContentEnc::A128CbcHs256);
        let token = jwe::encrypt(plaintext, &key.to_public(), &opts, &scripted).unwrap();
        assert_eq!(scripted.remaining(), 0);
        assert_eq!(
            token.split('.').next().unwrap(),
            str_at(&v, "/encrypting_content/protected_b64u"),
            "protected header"
        );
        assert_eq!(token, compact);

        // A flipped tag bit fails as the one opaque error.
        let mut parts: Vec<String> = compact.split('.').map(String::from).collect();
        let mut tag = b64d(&parts[4]);
        tag[15] ^= 1;
        parts[4] = b64::encode(tag);
        let err = Decrypter::new(&key, &KeyMgmtAlg::ALL, &ContentEnc::ALL)
            .decrypt(&parts.join("."), &rng)
            .unwrap_err();
        assert_eq!(err, JoseError::Decrypt);
        // So does another recipient's key.
        let stranger = Jwk::generate_ec(&rng).unwrap();
        let err = Decrypter::new(&stranger, &KeyMgmtAlg::ALL, &ContentEnc::ALL)
            .decrypt(compact, &rng)
            .unwrap_err();
        assert_eq!(err, JoseError::Decrypt);
        // And a decrypter not configured for ECDH-ES refuses before any arithmetic.
        let err = Decrypter::new(&key, &[KeyMgmtAlg::EcdhEsA128Kw], &ContentEnc::ALL)
            .decrypt(compact, &rng)
            .unwrap_err();
        assert_eq!(err, JoseError::AlgorithmNotAllowed("ECDH-ES".into()));
    }

    #[test]
    fn s5_6_dir_a128gcm() {
        let Some(v) = cookbook("jwe/5_6.direct_encryption_using_aes-gcm.json") else {
            return;
        };
        // With `dir` the shared symmetric key is the CEK.
        content_layer(
            ContentEnc::A128Gcm,
            &b64d(str_at(&v, "/input/key/k")),
            &b64d(str_at(&v, "/generated/iv")),
            str_at(&v, "/encrypting_content/protected_b64u").as_bytes(),
            str_at(&v, "/input/plaintext").as_bytes(),
            &v,
        );
        assert_eq!(
            Jwk::from_value(&v["input"]["key"]).unwrap_err(),
            JoseError::InvalidKey("unsupported kty")
        );
        jwe_refused(str_at(&v, "/output/compact"), unsupported("dir"));
    }

    #[test]
    fn s5_7_a256gcmkw_a128cbc_hs256() {
        let Some(v) =
            cookbook("jwe/5_7.key_wrap_using_aes-gcm_keywrap_with_aes-cbc-hmac-sha2.json")
        else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A128CbcHs256);
        jwe_refused(str_at(&v, "/output/compact"), unsupported("A256GCMKW"));
    }

    #[test]
    fn s5_8_a128kw_a128gcm() {
        let Some(v) = cookbook("jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json") else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A128Gcm);
        key_wrap(&v);
        // Key wrap is only ours behind ECDH-ES; A128KW as `alg` (a shared symmetric key) is not.
        jwe_refused(str_at(&v, "/output/compact"), unsupported("A128KW"));
    }

    #[test]
    fn s5_9_compressed_content() {
        let Some(v) = cookbook("jwe/5_9.compressed_content.json") else {
            return;
        };
        // The content layer over the DEFLATEd plaintext, and the key wrap, byte for byte.
        content_layer(
            ContentEnc::A128Gcm,
            &b64d(str_at(&v, "/generated/cek")),
            &b64d(str_at(&v, "/generated/iv")),
            str_at(&v, "/encrypting_content/protected_b64u").as_bytes(),
            &b64d(str_at(&v, "/generated/plaintext_c")),
            &v,
        );
        key_wrap(&v);
        // We do not decompress (no zip bombs): refused on the header alone.
        jwe_refused(
            str_at(&v, "/output/compact"),
            JoseError::UnsupportedHeader("zip"),
        );
    }

    #[test]
    fn s5_10_additional_authenticated_data() {
        let Some(v) = cookbook("jwe/5_10.including_additional_authentication_data.json") else {
            return;
        };
        // JSON serialization only: the AAD is protected header '.' aad (RFC 7516 §5.1 step 14).
        let aad = format!(
            "{}.{}",
            str_at(&v, "/encrypting_content/protected_b64u"),
            str_at(&v, "/generated/aad_b64u")
        );
        content_layer(
            ContentEnc::A128Gcm,
            &b64d(str_at(&v, "/generated/cek")),
            &b64d(str_at(&v, "/generated/iv")),
            aad.as_bytes(),
            str_at(&v, "/input/plaintext").as_bytes(),
            &v,
        );
        key_wrap(&v);
    }

    #[test]
    fn s5_11_protecting_specific_header_fields() {
        let Some(v) = cookbook("jwe/5_11.protecting_specific_header_fields.json") else {
            return;
        };
        content_layer_compact(&v, ContentEnc::A128Gcm);
        key_wrap(&v);
    }

    #[test]
    fn s5_12_protecting_content_only() {
        let Some(v) = cookbook("jwe/5_12.protecting_content_only.json") else {
            return;
        };
        // No protected header: the AAD is empty.
        content_layer(
            ContentEnc::A128Gcm,
            &b64d(str_at(&v, "/generated/cek")),
            &b64d(str_at(&v, "/generated/iv")),
            b"",
            str_at(&v, "/input/plaintext").as_bytes(),
            &v,
        );
        key_wrap(&v);
    }

    #[test]
    fn s5_13_multiple_recipients_content_layer() {
        let Some(v) = cookbook("jwe/5_13.encrypting_to_multiple_recipients.json") else {
            return;
        };
        // Every recipient uses an algorithm or curve we lack; the shared content layer is ours.
        content_layer_compact(&v, ContentEnc::A128CbcHs256);
    }

    // -----------------------------------------------------------------------------------------
    // 6. Nesting signatures and encryption

    #[test]
    fn s6_nested_ps256_inside_rsa_oaep() {
        let Some(v) = cookbook("6.nesting_signatures_and_encryption.json") else {
            return;
        };
        // The inner JWS: PS256 is randomized, so verify the cookbook's token.
        let signer = jwk_at(&v, "/sign/input/key");
        let inner = str_at(&v, "/sign/output/compact");
        let keys = public_set(&signer);
        let verified = Verifier::new(&keys, &[JwsAlg::PS256])
            .verify(inner)
            .unwrap();
        assert_eq!(
            verified.payload,
            str_at(&v, "/sign/input/payload").as_bytes()
        );
        assert_eq!(verified.header["typ"], "JWT");
        assert_eq!(
            Verifier::new(&keys, &[JwsAlg::RS256])
                .verify(inner)
                .unwrap_err(),
            JoseError::AlgorithmNotAllowed("PS256".into())
        );

        // The outer JWE: its content layer byte for byte, over the inner token as plaintext.
        assert_eq!(str_at(&v, "/encrypt/input/plaintext"), inner);
        content_layer(
            ContentEnc::A128Gcm,
            &b64d(str_at(&v, "/encrypt/generated/cek")),
            &b64d(str_at(&v, "/encrypt/generated/iv")),
            str_at(&v, "/encrypt/encrypting_content/protected_b64u").as_bytes(),
            inner.as_bytes(),
            &v["encrypt"],
        );
        // Its key management is RSA-OAEP with SHA-1, which we refuse.
        jwe_refused(
            str_at(&v, "/encrypt/output/compact"),
            unsupported("RSA-OAEP"),
        );
    }
}
