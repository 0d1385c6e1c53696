//! GNU sparse files: the maps of the old (`S` type), pax 0.0/0.1 and pax 1.0 formats, turned
//! into data segments of the expanded file.

/// A stretch of file data stored in the archive; everything between segments is a hole (zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Offset of the stretch in the expanded file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Where its bytes are in the archive.
    pub archive_offset: u64,
}

/// Reads the `(offset, numbytes)` slots of an old GNU sparse header or extension block, 24 bytes
/// each, until an empty slot. Appends flattened pairs to `out`.
pub fn parse_gnu_slots(slots: &[u8], out: &mut Vec<u64>) -> Result<(), &'static str> {
    for slot in slots.chunks_exact(24) {
        if slot[0] == 0 {
            break;
        }
        let offset = super::header::parse_number(&slot[..12]).ok_or("bad sparse offset")?;
        let len = super::header::parse_number(&slot[12..]).ok_or("bad sparse length")?;
        out.extend([offset, len]);
    }
    Ok(())
}

/// Parses the decimal, newline-separated map that starts the data of a pax 1.0 sparse file.
/// Returns `None` while `text` does not yet hold the whole map, else the flattened pairs and the
/// number of bytes the map occupies (before padding).
pub fn parse_v1_map(text: &[u8]) -> Result<Option<(Vec<u64>, usize)>, &'static str> {
    let mut numbers = Vec::new();
    let mut used = 0;
    let mut wanted: Option<usize> = None;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if line.last() != Some(&b'\n') {
            return Ok(None);
        }
        used += line.len();
        let n = std::str::from_utf8(&line[..line.len() - 1])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("bad number in the sparse map")?;
        match wanted {
            None => {
                let pairs = usize::try_from(n).map_err(|_| "sparse map too large")?;
                wanted = Some(pairs.checked_mul(2).ok_or("sparse map too large")?);
            }
            Some(_) => numbers.push(n),
        }
        if wanted == Some(numbers.len()) {
            return Ok(Some((numbers, used)));
        }
    }
    Ok(None)
}

/// Turns flattened `(offset, len)` pairs into segments whose bytes follow each other in the
/// archive from `data_start`. The map must be ordered, non-overlapping, inside `real_size`, and
/// its lengths must add up to `stored` bytes.
pub fn segments(
    pairs: &[u64],
    real_size: u64,
    data_start: u64,
    stored: u64,
) -> Result<Vec<Segment>, &'static str> {
    if !pairs.len().is_multiple_of(2) {
        return Err("sparse map has an odd number of values");
    }
    let mut out = Vec::with_capacity(pairs.len() / 2);
    let mut archive_offset = data_start;
    let mut end_of_previous = 0;
    for pair in pairs.chunks_exact(2) {
        let (offset, len) = (pair[0], pair[1]);
        let end = offset.checked_add(len).ok_or("sparse map overflows")?;
        if offset < end_of_previous || end > real_size {
            return Err("sparse map is unordered or exceeds the file size");
        }
        end_of_previous = end;
        if len > 0 {
            out.push(Segment {
                offset,
                len,
                archive_offset,
            });
            archive_offset += len;
        }
    }
    if archive_offset - data_start != stored {
        return Err("sparse map does not match the stored data size");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_map_needs_all_lines() {
        assert_eq!(parse_v1_map(b"2\n0\n10\n"), Ok(None));
        assert_eq!(
            parse_v1_map(b"2\n0\n10\n100\n5\n\0\0"),
            Ok(Some((vec![0, 10, 100, 5], 13)))
        );
    }

    #[test]
    fn segments_follow_each_other() {
        let s = segments(&[0, 10, 100, 5, 200, 0], 200, 1024, 15).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].archive_offset, 1034);
        assert!(segments(&[0, 10], 5, 0, 10).is_err());
        assert!(segments(&[0, 10], 20, 0, 11).is_err());
    }
}
