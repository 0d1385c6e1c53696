//! Compact HS256 JSON Web Tokens: the only algorithm the appliance issues or accepts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::AuthError;

/// HMAC-SHA256, the MAC of every token and signed URL the appliance issues.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The header every issued token carries.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The MAC keyed with `key`.
pub(crate) fn mac(key: &[u8]) -> HmacSha256 {
    // invariant: HMAC accepts keys of any length.
    HmacSha256::new_from_slice(key).expect("hmac accepts any key length")
}

/// Signs `claims` with `key`.
pub fn sign(claims: &impl Serialize, key: &[u8]) -> Result<String, serde_json::Error> {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(key);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{signing_input}.{signature}"))
}

/// Verifies the signature (constant time), the algorithm and `exp` when present, then decodes
/// the claims.
pub fn verify<T: DeserializeOwned>(token: &str, key: &[u8]) -> Result<T, AuthError> {
    let invalid = |why: &str| AuthError::Invalid(format!("the token is not valid: {why}"));
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a JWT"));
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid("malformed signature"))?;
    let mut check = mac(key);
    check.update(header.as_bytes());
    check.update(b".");
    check.update(payload.as_bytes());
    check
        .verify_slice(&signature)
        .map_err(|_| invalid("bad signature"))?;
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("malformed header"))?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(invalid("algorithm must be HS256"));
    }
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("malformed payload"))?;
    if let Some(exp) = claims.get("exp") {
        let exp = exp.as_i64().ok_or_else(|| invalid("exp is not a number"))?;
        if exp <= chrono::Utc::now().timestamp() {
            return Err(AuthError::Expired);
        }
    }
    serde_json::from_value(claims).map_err(|e| invalid(&format!("unexpected claims ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_tamper() {
        let token = sign(&json!({"username": "ops"}), b"k").expect("sign");
        let claims: serde_json::Value = verify(&token, b"k").expect("verify");
        assert_eq!(claims["username"], "ops");
        assert!(matches!(
            verify::<serde_json::Value>(&token, b"other"),
            Err(AuthError::Invalid(_))
        ));
        let expired = sign(&json!({"username": "ops", "exp": 1}), b"k").expect("sign");
        assert_eq!(
            verify::<serde_json::Value>(&expired, b"k"),
            Err(AuthError::Expired)
        );
    }
}
