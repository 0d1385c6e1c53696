//! Upload URLs: unguessable, bound to one upload and one expiry, needing no other credential.

use hmac::Mac;

use super::jwt::{HmacSha256, mac};

/// Signs upload URLs: an HMAC-SHA256 of the task name and the expiry, keyed with a key the
/// appliance derives from its depot secret. Unguessable without the secret, and bound to
/// one upload and one expiry.
#[derive(Clone)]
pub struct UploadSigner {
    key: Vec<u8>,
}

impl UploadSigner {
    /// A signer keyed from `secret`.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = mac(secret);
        mac.update(b"rockit-edge upload URLs");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn keyed(&self, task: &str, expires: i64) -> HmacSha256 {
        let mut mac = mac(&self.key);
        mac.update(format!("{task}.{expires}").as_bytes());
        mac
    }

    /// The signature of an upload URL.
    pub fn sign(&self, task: &str, expires: i64) -> String {
        hex::encode(self.keyed(task, expires).finalize().into_bytes())
    }

    /// Whether `signature` signs this upload and expiry (compared in constant time).
    pub fn verify(&self, task: &str, expires: i64, signature: &str) -> bool {
        hex::decode(signature)
            .is_ok_and(|bytes| self.keyed(task, expires).verify_slice(&bytes).is_ok())
    }
}
