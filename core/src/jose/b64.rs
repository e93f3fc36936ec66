//! base64url without padding (RFC 7515 §2), strict: padding and non-canonical input are refused.

use alloc::{string::String, vec::Vec};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::JoseError;

/// Encode bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode unpadded base64url; padding, whitespace and non-zero trailing bits are errors.
pub fn decode(s: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::Malformed("invalid base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(encode([0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
        assert!(decode("-_8=").is_err(), "padding refused");
        assert!(
            decode("-_9").is_err(),
            "non-canonical trailing bits refused"
        );
        assert!(decode("+/8").is_err(), "standard alphabet refused");
        assert!(decode("a b").is_err());
    }
}
