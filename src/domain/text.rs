//! Rules for free text and addresses: bounded lengths, no control or direction-override
//! characters (they forge log lines and disguise names in a UI), e-mail addresses, S3 bucket
//! names and origin hosts.

use super::DomainError;

/// Labels and titles of every resource.
pub const LABEL_MAX_CHARS: usize = 200;
/// First names, surnames and job titles of persons.
pub const PERSON_MAX_CHARS: usize = 100;
/// Messages (the `hello` task's).
pub const MESSAGE_MAX_CHARS: usize = 2000;
/// Credentials, keys and tokens handed to origins and CDNs.
pub const SECRET_MAX_CHARS: usize = 1024;
/// URLs.
pub const URL_MAX_CHARS: usize = 2048;

/// How a refused value is shown in an error: at most 40 characters of it.
pub(super) fn shown(value: &str) -> String {
    let head: String = value.chars().take(40).collect();
    if head.len() < value.len() {
        format!("{head:?}...")
    } else {
        format!("{head:?}")
    }
}

/// Whether `c` may appear in text: not a control character, not a bidirectional override or
/// isolate (U+202A..U+202E, U+2066..U+2069), not a zero-width direction mark.
fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Free text of at most `max` characters without control or direction characters.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    let length = value.chars().count();
    if length > max {
        return Err(DomainError::invalid(
            field,
            format!("must have at most {max} characters, got {length}"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !printable(*c)) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must not contain control or text-direction characters (found U+{:04X})",
                u32::from(bad)
            ),
        ));
    }
    Ok(())
}

/// A label: text of at most [`LABEL_MAX_CHARS`].
pub fn check_label(field: &str, value: &str) -> Result<(), DomainError> {
    check_text(field, value, LABEL_MAX_CHARS)
}

/// An e-mail address: `local@domain`, at most 254 characters, no spaces.
pub fn check_email(field: &str, value: &str) -> Result<(), DomainError> {
    check_text(field, value, 254)?;
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && check_dns_name(domain)
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    expect(
        valid,
        field,
        "an e-mail address like name@example.com",
        value,
    )
}

/// 400 naming what `field` must be and (the start of) what it was, unless `valid`.
fn expect(valid: bool, field: &str, expected: &str, value: &str) -> Result<(), DomainError> {
    if valid {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("must be {expected}, got {}", shown(value)),
        ))
    }
}

/// An http(s) URL with a host, at most [`URL_MAX_CHARS`].
pub fn check_url(field: &str, value: &str) -> Result<(), DomainError> {
    check_text(field, value, URL_MAX_CHARS)?;
    let valid = reqwest::Url::parse(value)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some());
    expect(
        valid,
        field,
        "an http:// or https:// URL with a host",
        value,
    )
}

/// An S3 bucket name (the S3 naming rules): 3 to 63 characters of lower-case letters, digits,
/// dots and hyphens, starting and ending with a letter or digit, no `..`, not an IP address.
pub fn check_bucket(field: &str, value: &str) -> Result<(), DomainError> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && edge_ok(value.chars().next())
        && edge_ok(value.chars().last())
        && !value.contains("..")
        && value.parse::<std::net::Ipv4Addr>().is_err();
    expect(
        valid,
        field,
        "an S3 bucket name (3 to 63 of a-z, 0-9, . and -, starting and ending with a letter or digit)",
        value,
    )
}

/// A key prefix on an origin: path segments of printable characters, no `.` or `..` segment
/// and no backslash, at most 512 characters.
pub fn check_prefix(field: &str, value: &str) -> Result<(), DomainError> {
    check_text(field, value, 512)?;
    let unsafe_segment = value
        .split('/')
        .any(|segment| matches!(segment, "." | ".."));
    expect(
        !unsafe_segment && !value.contains('\\'),
        field,
        "a plain key prefix without . or .. segments",
        value,
    )
}

/// A DNS host name: labels of letters, digits and hyphens, 1 to 63 characters each, not
/// starting or ending with a hyphen, 253 characters at most.
fn check_dns_name(value: &str) -> bool {
    value.len() <= 253
        && value.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// An origin endpoint: `host[:port]`, optionally after `http://` or `https://`, where host is
/// a DNS name, an IPv4 address or a bracketed IPv6 address; nothing after it.
pub fn check_host(field: &str, value: &str) -> Result<(), DomainError> {
    let refuse = |why: &str| {
        Err(DomainError::invalid(
            field,
            format!(
                "{why}: use host[:port], http://host[:port] or https://host[:port], got {}",
                shown(value)
            ),
        ))
    };
    let rest = match value.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        Some(_) => return refuse("only http and https are allowed"),
        None => value,
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((address, tail)) if address.parse::<std::net::Ipv6Addr>().is_ok() => {
                (address, tail.strip_prefix(':'))
            }
            _ => return refuse("not a valid IPv6 address"),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return refuse("the port must be a number from 1 to 65535");
    }
    let is_v6 = rest.starts_with('[');
    if !is_v6 && host.parse::<std::net::Ipv4Addr>().is_err() && !check_dns_name(host) {
        return refuse("not a host name or address (no path, no bucket)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_and_printable() {
        assert!(check_label("label", "Acme Games — Ünïcode").is_ok());
        assert!(check_label("label", &"x".repeat(201)).is_err());
        for bad in ["a\0b", "a\u{1b}[31m", "evil\u{202E}txt.exe", "line\nbreak"] {
            assert!(check_label("label", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        assert!(check_email("email", "ops@example.com").is_ok());
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(check_email("email", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn buckets() {
        assert!(check_bucket("bucket", "edge").is_ok());
        assert!(check_bucket("bucket", "my.bucket-1").is_ok());
        for bad in [
            "../../etc",
            "a b",
            "ab",
            "Edge",
            "x\0y",
            "-edge",
            "a..b",
            "192.168.1.1",
        ] {
            assert!(check_bucket("bucket", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts() {
        for good in [
            "s3.example.com",
            "http://127.0.0.1:9000",
            "https://[::1]:9000",
            "minio:9000",
        ] {
            assert!(check_host("hostname", good).is_ok(), "{good}");
        }
        for bad in [
            "{{EDGE_HOST}}",
            "ftp://example.com",
            "example.com/bucket",
            "host:port",
            "host:0",
            "exa mple.com",
            "",
        ] {
            assert!(check_host("hostname", bad).is_err(), "{bad:?}");
        }
    }
}
