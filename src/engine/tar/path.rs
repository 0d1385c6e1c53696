//! Entry names: normalized to relative `a/b/c` form, or refused when they could escape.

/// Normalizes an entry name: drops `.` and empty components and a trailing `/`.
/// Returns `Ok(None)` for the archive root (`./`), `Err(reason)` for names that are absolute,
/// climb with `..`, or are not UTF-8.
pub fn normalize(raw: &[u8]) -> Result<Option<String>, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "name is not valid UTF-8")?;
    if text.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("'..' component"),
            other => parts.push(other),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// The proper ancestors of a normalized path, nearest last: `a/b/c` → `a`, `a/b`.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses() {
        assert_eq!(normalize(b"./a//b/./c/"), Ok(Some("a/b/c".into())));
        assert_eq!(normalize(b"./"), Ok(None));
        assert_eq!(normalize(b"/etc/passwd"), Err("absolute path"));
        assert_eq!(normalize(b"a/../../b"), Err("'..' component"));
        assert_eq!(normalize(b"a\xff"), Err("name is not valid UTF-8"));
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
    }
}
