//! Password hashing with Argon2id.
//!
//! Parameters: 19 MiB memory, 2 passes, 1 lane (OWASP's recommended Argon2id minimum), a
//! random 16-byte salt per hash, stored in the PHC string format so they can change later.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::distr::Alphanumeric;

/// Memory cost in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Number of passes.
pub const PASSES: u32 = 2;
/// Degree of parallelism.
pub const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    // invariant: the constant parameters are within Argon2's limits.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)?;
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a stored hash (constant time inside Argon2's verifier).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random initial password: 20 alphanumeric characters (~119 bits).
pub fn generate() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}
