//! API keys of machine users: self-identifying `rke_<keyId>_<secret>`, stored only as a hash.

use rand::Rng;
use rand::distr::Alphanumeric;

/// Prefix that tells an API key apart from a JWT.
pub const PREFIX: &str = "rke_";

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

/// Mints a key with a 16-character id and a 40-character secret (~238 bits).
pub fn mint() -> NewKey {
    let id = random(16);
    let secret = random(40);
    NewKey {
        full: format!("{PREFIX}{id}_{secret}"),
        id,
        secret,
    }
}

/// Whether a presented credential looks like an API key rather than a JWT.
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// Splits a key into id and secret; `None` when malformed.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.trim().strip_prefix(PREFIX)?;
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
        assert_eq!(parse("eyJ.a.b"), None);
    }
}
