//! JWT (RFC 7519): time and audience checks, and nested tokens (a JWS inside a JWE).

use alloc::string::String;

use serde_json::{Map, Value};

use super::error::{ClaimsError, JoseError, JwtError};
use super::jwe::{self, Decrypter, EncryptOptions};
use super::jws::{self, SignOptions, Verifier};
use super::rand::Entropy;
use super::time::UnixTime;
use super::{Header, Jwk, JwsAlg};

/// JWT claims: the payload's JSON object.
pub type Claims = Map<String, Value>;

/// What [`validate`] checks. Time is passed in; the core has no clock.
#[derive(Clone, Copy, Debug)]
pub struct Validation<'a> {
    /// The current time.
    pub now: UnixTime,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// Expected `iss`, if checked.
    pub issuer: Option<&'a str>,
    /// A value `aud` must hold (string or array), if checked.
    pub audience: Option<&'a str>,
    /// Whether `exp` must be present.
    pub require_exp: bool,
    /// Whether `iat` must be present.
    pub require_iat: bool,
}

impl<'a> Validation<'a> {
    /// Checks at `now` with a 60-second leeway, requiring `exp` and `iat`.
    pub fn new(now: UnixTime) -> Self {
        Self {
            now,
            leeway_secs: 60,
            issuer: None,
            audience: None,
            require_exp: true,
            require_iat: true,
        }
    }
}

fn numeric_date(claims: &Claims, name: &'static str) -> Result<Option<u64>, ClaimsError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            // NumericDate may carry a fraction; whole seconds are what we compare.
            if let Some(u) = v.as_u64() {
                Ok(Some(u))
            } else if let Some(f) = v.as_f64().filter(|f| f.is_finite() && *f >= 0.0) {
                Ok(Some(f as u64))
            } else {
                Err(ClaimsError::Invalid(name))
            }
        }
    }
}

/// Parse a JWT payload into its claims object.
pub fn parse_claims(payload: &[u8]) -> Result<Claims, ClaimsError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ClaimsError::NotAnObject),
    }
}

/// Check `exp`, `nbf`, `iat`, `iss` and `aud` as `v` asks.
pub fn validate(claims: &Claims, v: &Validation<'_>) -> Result<(), ClaimsError> {
    let now = v.now.secs();
    match numeric_date(claims, "exp")? {
        Some(exp) if now >= exp.saturating_add(v.leeway_secs) => return Err(ClaimsError::Expired),
        None if v.require_exp => return Err(ClaimsError::Missing("exp")),
        _ => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(v.leeway_secs) < nbf
    {
        return Err(ClaimsError::NotYetValid);
    }
    match numeric_date(claims, "iat")? {
        Some(iat) if iat > now.saturating_add(v.leeway_secs) => {
            return Err(ClaimsError::IssuedInFuture);
        }
        None if v.require_iat => return Err(ClaimsError::Missing("iat")),
        _ => {}
    }
    if let Some(iss) = v.issuer {
        match claims.get("iss") {
            None => return Err(ClaimsError::Missing("iss")),
            Some(Value::String(s)) if s == iss => {}
            Some(Value::String(_)) => return Err(ClaimsError::IssuerMismatch),
            Some(_) => return Err(ClaimsError::Invalid("iss")),
        }
    }
    if let Some(aud) = v.audience {
        let ok = match claims.get("aud") {
            None => return Err(ClaimsError::Missing("aud")),
            Some(Value::String(s)) => s == aud,
            Some(Value::Array(a)) => {
                if a.iter().any(|x| !x.is_string()) {
                    return Err(ClaimsError::Invalid("aud"));
                }
                a.iter().any(|x| x.as_str() == Some(aud))
            }
            Some(_) => return Err(ClaimsError::Invalid("aud")),
        };
        if !ok {
            return Err(ClaimsError::AudienceMismatch);
        }
    }
    Ok(())
}

/// Sign claims and, when `encrypt_to` is given, nest the JWS in a JWE with `cty: "JWT"`.
pub fn sign_and_maybe_encrypt(
    claims: &Claims,
    key: &Jwk,
    alg: JwsAlg,
    typ: Option<&str>,
    encrypt_to: Option<(&Jwk, &EncryptOptions<'_>)>,
    entropy: &dyn Entropy,
) -> Result<String, JoseError> {
    let jws = jws::sign(
        key,
        alg,
        &encode(claims)?,
        SignOptions { typ, cty: None },
        entropy,
    )?;
    maybe_encrypt(jws, encrypt_to, entropy)
}

/// [`sign_and_maybe_encrypt`], with the signature made by `sign_raw` (see
/// [`jws::sign_with`]).
pub async fn sign_and_maybe_encrypt_with(
    claims: &Claims,
    key: &Jwk,
    alg: JwsAlg,
    typ: Option<&str>,
    encrypt_to: Option<(&Jwk, &EncryptOptions<'_>)>,
    entropy: &dyn Entropy,
    sign_raw: impl AsyncFnOnce(&[u8]) -> Result<alloc::vec::Vec<u8>, JoseError>,
) -> Result<String, JoseError> {
    let opts = SignOptions { typ, cty: None };
    let jws = jws::sign_with(key, alg, &encode(claims)?, opts, sign_raw).await?;
    maybe_encrypt(jws, encrypt_to, entropy)
}

fn encode(claims: &Claims) -> Result<alloc::vec::Vec<u8>, JoseError> {
    serde_json::to_vec(claims).map_err(|_| JoseError::Crypto("claims encoding"))
}

fn maybe_encrypt(
    jws: String,
    encrypt_to: Option<(&Jwk, &EncryptOptions<'_>)>,
    entropy: &dyn Entropy,
) -> Result<String, JoseError> {
    match encrypt_to {
        None => Ok(jws),
        Some((recipient, opts)) => {
            let opts = EncryptOptions {
                cty: Some("JWT"),
                ..*opts
            };
            jwe::encrypt(jws.as_bytes(), recipient, &opts, entropy)
        }
    }
}

/// A token opened by [`open`]: the JWS header and claims, and the JWE header if it was nested.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The JWE protected header, when the token was encrypted.
    pub jwe_header: Option<Header>,
    /// The JWS protected header.
    pub header: Header,
    /// The verified claims (not yet validated: see [`validate`]).
    pub claims: Claims,
}

/// Open a JWT: decrypt it when it is a JWE (which must then carry `cty: "JWT"`), verify the
/// inner JWS, parse the claims. When `decrypter` is given, the token must be encrypted.
pub fn open(
    token: &str,
    verifier: &Verifier<'_>,
    decrypter: Option<&Decrypter<'_>>,
    entropy: &dyn Entropy,
) -> Result<Opened, JwtError> {
    let dots = token.bytes().filter(|b| *b == b'.').count();
    let (jwe_header, inner) = match (dots, decrypter) {
        (4, Some(d)) => {
            let dec = d.decrypt(token, entropy)?;
            let cty = dec.header.get("cty").and_then(Value::as_str);
            if !cty.is_some_and(|c| c.eq_ignore_ascii_case("JWT")) {
                return Err(JoseError::Malformed("an encrypted JWT needs cty \"JWT\"").into());
            }
            let inner =
                String::from_utf8(dec.plaintext).map_err(|_| JoseError::Malformed("nested JWT"))?;
            (Some(dec.header), inner)
        }
        (4, None) => {
            return Err(
                JoseError::Malformed("token is encrypted but no decryption key was given").into(),
            );
        }
        (_, Some(_)) => return Err(JoseError::Malformed("token must be encrypted").into()),
        (_, None) => (None, String::from(token)),
    };
    let v = verifier.verify(&inner)?;
    let claims = parse_claims(&v.payload)?;
    Ok(Opened {
        jwe_header,
        header: v.header,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        parse_claims(json.as_bytes()).unwrap()
    }

    #[test]
    fn time_checks_with_leeway() {
        let c = claims(r#"{"iat":1000,"exp":1100,"nbf":1000}"#);
        let mut v = Validation::new(UnixTime(1050));
        v.leeway_secs = 10;
        assert_eq!(validate(&c, &v), Ok(()));
        v.now = UnixTime(1109);
        assert_eq!(validate(&c, &v), Ok(()));
        v.now = UnixTime(1110);
        assert_eq!(validate(&c, &v), Err(ClaimsError::Expired));
        v.now = UnixTime(989);
        assert_eq!(validate(&c, &v), Err(ClaimsError::NotYetValid));
        let future = claims(r#"{"iat":2000,"exp":3000}"#);
        v.now = UnixTime(1000);
        assert_eq!(validate(&future, &v), Err(ClaimsError::IssuedInFuture));
        assert_eq!(
            validate(&claims(r#"{"iat":1000}"#), &v),
            Err(ClaimsError::Missing("exp"))
        );
        assert_eq!(
            validate(&claims(r#"{"iat":1000,"exp":"soon"}"#), &v),
            Err(ClaimsError::Invalid("exp"))
        );
    }

    #[test]
    fn issuer_and_audience() {
        let c = claims(r#"{"iat":1,"exp":9,"iss":"https://op","aud":["a","b"]}"#);
        let mut v = Validation::new(UnixTime(5));
        v.issuer = Some("https://op");
        v.audience = Some("b");
        assert_eq!(validate(&c, &v), Ok(()));
        v.audience = Some("c");
        assert_eq!(validate(&c, &v), Err(ClaimsError::AudienceMismatch));
        v.audience = None;
        v.issuer = Some("https://other");
        assert_eq!(validate(&c, &v), Err(ClaimsError::IssuerMismatch));
    }
}
