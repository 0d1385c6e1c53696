//! Name rules shared by every resource (API.md §1).

use super::DomainError;

/// A name's alphabet (ASCII letters, digits and a few more) and its length, 2 to 50: checked
/// by [`check_name`] and [`check_deployment_name`], and shown to API clients as a regular
/// expression in the OpenAPI document.
pub struct NameRule {
    extra: &'static [char],
    alphabet: &'static str,
}

/// Org, user, app, role and subscription names: `^[A-Za-z0-9_]{2,50}$`.
pub const NAME_RULE: NameRule = NameRule {
    extra: &['_'],
    alphabet: "letters, digits and _",
};

/// Deployment names additionally allow `[` and `]`.
pub const DEPLOYMENT_NAME_RULE: NameRule = NameRule {
    extra: &['_', '[', ']'],
    alphabet: "letters, digits, _, [ and ]",
};

impl NameRule {
    fn allows(&self, c: char) -> bool {
        c.is_ascii_alphanumeric() || self.extra.contains(&c)
    }

    /// The rule as an ECMA-262 regular expression (the dialect of JSON Schema's `pattern`).
    pub fn pattern(&self) -> String {
        let extra: String = self
            .extra
            .iter()
            .map(|c| match c {
                '[' | ']' | '\\' | '^' | '-' => format!("\\{c}"),
                c => c.to_string(),
            })
            .collect();
        format!("^[A-Za-z0-9{extra}]{{2,50}}$")
    }
}

/// Checks an org, user, app, role or subscription name ([`NAME_RULE`]).
pub fn check_name(field: &str, value: &str) -> Result<(), DomainError> {
    check(field, value, &NAME_RULE)
}

/// Checks a deployment name ([`DEPLOYMENT_NAME_RULE`]).
pub fn check_deployment_name(field: &str, value: &str) -> Result<(), DomainError> {
    check(field, value, &DEPLOYMENT_NAME_RULE)
}

fn check(field: &str, value: &str, rule: &NameRule) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::Missing {
            field: field.to_string(),
        });
    }
    let length = value.chars().count();
    if !(2..=50).contains(&length) || !value.chars().all(|c| rule.allows(c)) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be 2 to 50 characters of {}, got {}",
                rule.alphabet,
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
        assert_eq!(NAME_RULE.pattern(), "^[A-Za-z0-9_]{2,50}$");
        assert_eq!(DEPLOYMENT_NAME_RULE.pattern(), r"^[A-Za-z0-9_\[\]]{2,50}$");
    }
}
