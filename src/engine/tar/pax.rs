//! pax extended header records (`LEN KEY=VALUE\n`) and the keys the reader acts on.

/// The attributes of one pax extended header that change how the next entry is read.
#[derive(Debug, Default)]
pub struct PaxAttrs {
    /// `path`: the entry name.
    pub path: Option<Vec<u8>>,
    /// `linkpath`: the link target.
    pub linkpath: Option<Vec<u8>>,
    /// `size`: bytes of data in the archive.
    pub size: Option<u64>,
    /// `GNU.sparse.major` / `GNU.sparse.minor`.
    pub sparse_version: Option<(u64, u64)>,
    /// `GNU.sparse.name`: the real name of a sparse file.
    pub sparse_name: Option<Vec<u8>>,
    /// `GNU.sparse.realsize` (1.0) or `GNU.sparse.size` (0.x): the expanded size.
    pub sparse_real_size: Option<u64>,
    /// The 0.0 (`GNU.sparse.offset`/`numbytes` pairs) or 0.1 (`GNU.sparse.map`) map, flattened
    /// as offset, length, offset, length ...
    pub sparse_map: Vec<u64>,
}

impl PaxAttrs {
    /// True when the entry is a GNU sparse file described by these attributes.
    pub fn is_sparse(&self) -> bool {
        self.sparse_version.is_some() || self.sparse_real_size.is_some()
    }

    /// True for GNU sparse format 1.0, whose map is stored at the start of the data.
    pub fn is_sparse_1_0(&self) -> bool {
        self.sparse_version.is_some_and(|(major, _)| major == 1)
    }
}

/// Parses the records of a pax header's data into `attrs` (later records override earlier
/// ones, as in the standard). Returns a description of the first malformed record.
pub fn parse_records(data: &[u8], attrs: &mut PaxAttrs) -> Result<(), String> {
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("pax record without length")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("pax record with a bad length")?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("pax record length does not match its contents".into());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("pax record without '='")?;
        apply(&record[..eq], &record[eq + 1..], attrs)?;
        rest = &rest[len..];
    }
    Ok(())
}

/// Applies one record.
fn apply(key: &[u8], value: &[u8], attrs: &mut PaxAttrs) -> Result<(), String> {
    let number = || {
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "pax record {} has a bad number",
                    String::from_utf8_lossy(key)
                )
            })
    };
    match key {
        b"path" => attrs.path = Some(value.to_vec()),
        b"linkpath" => attrs.linkpath = Some(value.to_vec()),
        b"size" => attrs.size = Some(number()?),
        b"GNU.sparse.major" => {
            let minor = attrs.sparse_version.map_or(0, |v| v.1);
            attrs.sparse_version = Some((number()?, minor));
        }
        b"GNU.sparse.minor" => {
            let major = attrs.sparse_version.map_or(0, |v| v.0);
            attrs.sparse_version = Some((major, number()?));
        }
        b"GNU.sparse.name" => attrs.sparse_name = Some(value.to_vec()),
        b"GNU.sparse.realsize" | b"GNU.sparse.size" => attrs.sparse_real_size = Some(number()?),
        b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => attrs.sparse_map.push(number()?),
        b"GNU.sparse.map" => {
            for item in value.split(|&b| b == b',').filter(|s| !s.is_empty()) {
                let n = std::str::from_utf8(item)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or("GNU.sparse.map holds a bad number")?;
                attrs.sparse_map.push(n);
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_sparse_map() {
        let data = b"18 path=some/file\n22 GNU.sparse.map=0,5\n25 GNU.sparse.size=12345\n";
        let mut attrs = PaxAttrs::default();
        parse_records(data, &mut attrs).unwrap();
        assert_eq!(attrs.path.as_deref(), Some(&b"some/file"[..]));
        assert_eq!(attrs.sparse_map, vec![0, 5]);
        assert_eq!(attrs.sparse_real_size, Some(12345));
        assert!(attrs.is_sparse());
    }

    #[test]
    fn bad_length_is_refused() {
        let mut attrs = PaxAttrs::default();
        assert!(parse_records(b"99 path=x\n", &mut attrs).is_err());
    }
}
