//! One 512-byte tar header block: field access, numbers and checksum.

/// Size of a tar block; headers and data are aligned to it.
pub const BLOCK: u64 = 512;

/// A raw header block.
pub struct Header(pub [u8; BLOCK as usize]);

impl Header {
    /// True for the all-zero blocks that mark the end of an archive.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// Checks the stored checksum against the unsigned (POSIX) or signed (historic) sum of the
    /// block with the checksum field read as spaces.
    pub fn checksum_ok(&self) -> bool {
        let Some(stored) = parse_number(&self.0[148..156]) else {
            return false;
        };
        let mut unsigned: u64 = 0;
        let mut signed: i64 = 0;
        for (i, &b) in self.0.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { b };
            unsigned += u64::from(b);
            signed += i64::from(b as i8);
        }
        stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
    }

    /// The entry type flag.
    pub fn typeflag(&self) -> u8 {
        self.0[156]
    }

    /// True for the POSIX ustar format, which has a name prefix field.
    fn is_ustar(&self) -> bool {
        &self.0[257..263] == b"ustar\0"
    }

    /// The entry name: ustar prefix and name joined by `/` when a prefix is present.
    pub fn name(&self) -> Vec<u8> {
        let name = cstr(&self.0[0..100]);
        let prefix = if self.is_ustar() {
            cstr(&self.0[345..500])
        } else {
            &[]
        };
        if prefix.is_empty() {
            name.to_vec()
        } else {
            [prefix, b"/", name].concat()
        }
    }

    /// The link target field.
    pub fn linkname(&self) -> Vec<u8> {
        cstr(&self.0[157..257]).to_vec()
    }

    /// Permission bits.
    pub fn mode(&self) -> Option<u32> {
        parse_number(&self.0[100..108]).map(|m| (m & 0o7777) as u32)
    }

    /// The size field: bytes of data that follow this header in the archive.
    pub fn size(&self) -> Option<u64> {
        parse_number(&self.0[124..136])
    }

    /// GNU old sparse: the real file size (`realsize` at 483).
    pub fn gnu_real_size(&self) -> Option<u64> {
        parse_number(&self.0[483..495])
    }

    /// GNU old sparse: the four map slots at 386 and the `isextended` flag at 482.
    pub fn gnu_sparse_slots(&self) -> (&[u8], bool) {
        (&self.0[386..482], self.0[482] != 0)
    }
}

/// A NUL-terminated field's bytes.
pub fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A numeric field: octal ASCII (spaces/NULs around it), or GNU base-256 when the top bit of the
/// first byte is set. An empty field reads as 0; anything else unparsable is `None`.
pub fn parse_number(field: &[u8]) -> Option<u64> {
    if let Some((&first, rest)) = field.split_first()
        && first & 0x80 != 0
    {
        if first & 0x40 != 0 {
            return None;
        }
        let mut value = u64::from(first & 0x3f);
        for &b in rest {
            value = value.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(value);
    }
    let text = field
        .iter()
        .skip_while(|&&b| b == b' ' || b == 0)
        .take_while(|&&b| b != b' ' && b != 0);
    let mut value: u64 = 0;
    for &b in text {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

/// Rounds `n` up to a whole number of tar blocks.
pub fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_octal_and_base256() {
        assert_eq!(parse_number(b"0000644\0"), Some(0o644));
        assert_eq!(parse_number(b"   17 \0"), Some(0o17));
        assert_eq!(parse_number(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_number(b"0009\0"), None);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[7] = 2;
        assert_eq!(parse_number(&big), Some(2 << 32));
    }

    #[test]
    fn checksum_of_blank_header() {
        let mut h = Header([0u8; 512]);
        h.0[0] = b'a';
        let sum: u32 = u32::from(b'a') + 8 * u32::from(b' ');
        h.0[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        assert!(h.checksum_ok());
        h.0[1] = b'b';
        assert!(!h.checksum_ok());
    }
}
