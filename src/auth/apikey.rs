//! Self-identifying keys, stored only as a hash: API keys of machine users
//! (`rke_<keyId>_<secret>`) and launcher access keys of apps (`rka_<keyId>_<secret>`).

use rand::Rng;
use rand::distr::Alphanumeric;

/// Prefix that tells an API key apart from a JWT.
pub const PREFIX: &str = "rke_";
/// Prefix of a launcher access key.
pub const ACCESS_PREFIX: &str = "rka_";

/// A freshly minted key: show `full` once, store `id` and the hash of `secret`.
pub struct NewKey {
    pub id: String,
    pub secret: String,
    pub full: String,
}

fn random(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Mints an API key with a 16-character id and a 40-character secret (~238 bits).
pub fn mint() -> NewKey {
    mint_with(PREFIX)
}

/// Mints a launcher access key, shaped like an API key.
pub fn mint_access() -> NewKey {
    mint_with(ACCESS_PREFIX)
}

fn mint_with(prefix: &str) -> NewKey {
    let id = random(16);
    let secret = random(40);
    NewKey {
        full: format!("{prefix}{id}_{secret}"),
        id,
        secret,
    }
}

/// Whether a presented credential looks like an API key rather than a JWT.
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// Splits an API key into id and secret; `None` when malformed.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    parse_with(PREFIX, key)
}

/// Splits a launcher access key into id and secret; `None` when malformed.
pub fn parse_access(key: &str) -> Option<(&str, &str)> {
    parse_with(ACCESS_PREFIX, key)
}

fn parse_with<'k>(prefix: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    let rest = key.trim().strip_prefix(prefix)?;
    let (id, secret) = rest.split_once('_')?;
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    (valid(id) && valid(secret)).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_back() {
        let key = mint();
        assert_eq!(
            parse(&key.full),
            Some((key.id.as_str(), key.secret.as_str()))
        );
        assert!(is_api_key(&key.full));
        assert_eq!(parse("rke_x"), None);
        let access = mint_access();
        assert_eq!(
            parse_access(&access.full),
            Some((access.id.as_str(), access.secret.as_str()))
        );
        assert_eq!(parse(&access.full), None, "an access key is no API key");
        assert_eq!(parse("eyJ.a.b"), None);
    }
}
