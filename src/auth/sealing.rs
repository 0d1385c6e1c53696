//! Secrets at rest (deployment credentials, subscription secrets): XChaCha20-Poly1305 with the
//! data dir's encryption key and a random nonce per value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Nonce length of XChaCha20-Poly1305.
const NONCE_LEN: usize = 24;

/// Seals and opens secret strings.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

/// A sealed value could not be opened (wrong key or damaged record).
#[derive(Debug, thiserror::Error)]
#[error("a stored secret cannot be decrypted; was secrets/encryption.key replaced?")]
pub struct SealError;

impl Sealer {
    /// A sealer over the 32-byte encryption key.
    pub fn new(key: &[u8]) -> Result<Self, SealError> {
        if key.len() != 32 {
            return Err(SealError);
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        })
    }

    /// base64(nonce || ciphertext || tag).
    pub fn seal(&self, plaintext: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| SealError)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    /// The plaintext of a sealed value.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SealError)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError)?;
        String::from_utf8(plain).map_err(|_| SealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let sealer = Sealer::new(&[7u8; 32]).expect("key");
        let sealed = sealer.seal("s3cr3t").expect("seal");
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(sealer.open(&sealed).expect("open"), "s3cr3t");
        assert_ne!(
            sealer.seal("s3cr3t").expect("seal"),
            sealed,
            "fresh nonce each time"
        );
        let other = Sealer::new(&[8u8; 32]).expect("key");
        assert!(other.open(&sealed).is_err());
    }
}
