//! Signed download URLs of the Gcore secure-token kind (API.md §4, §5):
//! `md5=base64url(md5("{expires}{path} {secureToken}"))&expires={expires}`. The depot signs
//! its own URLs with it, keyed with the depot secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::{Digest, Md5};

/// Whether `md5` is the signature of `path` until `expires` with `token` (compared in
/// constant time).
pub fn gcore_matches(path: &str, expires: i64, token: &str, md5: &str) -> bool {
    let expected = URL_SAFE_NO_PAD.encode(gcore_digest(path, expires, token));
    let (a, b) = (expected.as_bytes(), md5.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn gcore_digest(path: &str, expires: i64, token: &str) -> [u8; 16] {
    Md5::digest(format!("{expires}{path} {token}").as_bytes()).into()
}

/// The query string that signs `path` (starting with `/`, not percent-encoded) until
/// `expires` (Unix seconds) with `token`.
pub fn gcore_query(path: &str, expires: i64, token: &str) -> String {
    let digest = gcore_digest(path, expires, token);
    format!("md5={}&expires={expires}", URL_SAFE_NO_PAD.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_base64url_md5_of_expiry_path_and_secret() {
        // `echo -n "1700000000/dxf/a/img.dxf s3cret" | md5sum`, base64url without padding.
        assert_eq!(
            gcore_query("/dxf/a/img.dxf", 1_700_000_000, "s3cret"),
            "md5=26UJzvO5kVHcQ0491H862A&expires=1700000000"
        );
        let path = "/dxf/a/img.dxf";
        assert!(gcore_matches(
            path,
            1_700_000_000,
            "s3cret",
            "26UJzvO5kVHcQ0491H862A"
        ));
        assert!(!gcore_matches(
            path,
            1_700_000_001,
            "s3cret",
            "26UJzvO5kVHcQ0491H862A"
        ));
        assert!(!gcore_matches(
            path,
            1_700_000_000,
            "s3cret",
            "26UJzvO5kVHcQ0491H862"
        ));
    }
}
