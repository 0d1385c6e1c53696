//! Name rules shared by every resource (API.md §1).

use super::DomainError;

/// Org, user, app, role and subscription names: `^[A-Za-z0-9_]{2,50}$`.
pub fn check_name(field: &str, value: &str) -> Result<(), DomainError> {
    check(
        field,
        value,
        |c| c.is_ascii_alphanumeric() || c == '_',
        "letters, digits and _",
    )
}

/// Deployment names additionally allow `[` and `]`.
pub fn check_deployment_name(field: &str, value: &str) -> Result<(), DomainError> {
    check(
        field,
        value,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '[' | ']'),
        "letters, digits, _, [ and ]",
    )
}

fn check(
    field: &str,
    value: &str,
    allowed: impl Fn(char) -> bool,
    alphabet: &str,
) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::Missing {
            field: field.to_string(),
        });
    }
    let length = value.chars().count();
    if !(2..=50).contains(&length) || !value.chars().all(allowed) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be 2 to 50 characters of {alphabet}, got {}",
                super::text::shown(value)
            ),
        ));
    }
    Ok(())
}

/// A key id as issued with an API key or an access key: 1 to 64 letters and digits.
pub fn check_key_id(field: &str, id: &str) -> Result<(), DomainError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(DomainError::invalid(
            field,
            "must be the key id the key was issued with (letters and digits)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(check_name("name", "ab_9").is_ok());
        assert!(check_name("name", "a").is_err());
        assert!(check_name("name", "a-b").is_err());
        assert!(check_name("name", &"x".repeat(51)).is_err());
        assert!(matches!(
            check_name("name", ""),
            Err(DomainError::Missing { .. })
        ));
        assert!(check_deployment_name("name", "cdn[1]").is_ok());
    }
}
