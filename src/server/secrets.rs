//! Instance secrets: generated once on first start into `secrets/` (mode 0600), reused after.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use crate::config::AuthConfig;
use crate::datadir::{DataDir, write_atomic};

/// Secret file names inside `secrets/`.
const ADMIN_SECRET: &str = "admin.secret";
const TOKEN_SECRET: &str = "token.secret";
const ENCRYPTION_KEY: &str = "encryption.key";
const DEPOT_SECRET: &str = "depot.secret";

/// The decoded secrets a running appliance signs and encrypts with.
#[derive(Clone)]
pub struct Secrets {
    /// HMAC key of admin tokens (the decoded base64 admin secret).
    pub admin: Vec<u8>,
    /// HMAC key of session tokens.
    pub token: Vec<u8>,
    /// AEAD key for credentials at rest.
    pub encryption: Vec<u8>,
    /// Signing secret of depot download URLs.
    pub depot: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(********)")
    }
}

/// Why secrets could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot access secret file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret {origin} is not valid base64 of at least 32 bytes")]
    Malformed { origin: String },
}

impl Secrets {
    /// Loads every secret, creating missing ones; the admin secret may come from the config.
    pub fn load_or_create(data_dir: &DataDir, auth: &AuthConfig) -> Result<Secrets, SecretsError> {
        let dir = data_dir.secrets();
        let generated_admin = load_or_generate(&dir.join(ADMIN_SECRET))?;
        let admin = match (&auth.admin_secret, &auth.admin_secret_file) {
            (Some(text), _) => decode(text, "auth.admin_secret")?,
            (None, Some(path)) => decode(&read(path)?, &path.display().to_string())?,
            (None, None) => generated_admin,
        };
        Ok(Secrets {
            admin,
            token: load_or_generate(&dir.join(TOKEN_SECRET))?,
            encryption: load_or_generate(&dir.join(ENCRYPTION_KEY))?,
            depot: load_or_generate(&dir.join(DEPOT_SECRET))?,
        })
    }

    /// Only the admin secret, for `admin-token` run next to (or without) a live server.
    pub fn admin_only(data_dir: &DataDir, auth: &AuthConfig) -> Result<Vec<u8>, SecretsError> {
        match (&auth.admin_secret, &auth.admin_secret_file) {
            (Some(text), _) => decode(text, "auth.admin_secret"),
            (None, Some(path)) => decode(&read(path)?, &path.display().to_string()),
            (None, None) => {
                let path = data_dir.secrets().join(ADMIN_SECRET);
                decode(&read(&path)?, &path.display().to_string())
            }
        }
    }
}

fn read(path: &Path) -> Result<String, SecretsError> {
    std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn decode(text: &str, origin: &str) -> Result<Vec<u8>, SecretsError> {
    match STANDARD.decode(text.trim()) {
        Ok(bytes) if bytes.len() >= 32 => Ok(bytes),
        _ => Err(SecretsError::Malformed {
            origin: origin.to_string(),
        }),
    }
}

fn load_or_generate(path: &Path) -> Result<Vec<u8>, SecretsError> {
    if path.exists() {
        return decode(&read(path)?, &path.display().to_string());
    }
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let text = format!("{}\n", STANDARD.encode(&bytes));
    write_atomic(path, text.as_bytes(), 0o600).map_err(|source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    tracing::info!(file = %path.display(), "generated secret");
    Ok(bytes)
}
