//! Recognizes what an input file is from its first bytes, so a wrong upload is named exactly.

use super::header::{BLOCK, Header};
use crate::engine::error::DetectedType;

/// Classifies `head` (the first up to 512 bytes of a file).
pub fn detect(head: &[u8]) -> DetectedType {
    const MAGICS: [(&[u8], DetectedType); 7] = [
        (b"\x1f\x8b", DetectedType::Gzip),
        (b"\x28\xb5\x2f\xfd", DetectedType::Zstd),
        (b"PK\x03\x04", DetectedType::Zip),
        (b"PK\x05\x06", DetectedType::Zip),
        (b"7z\xbc\xaf\x27\x1c", DetectedType::SevenZ),
        (b"\xfd7zXZ\x00", DetectedType::Xz),
        (b"BZh", DetectedType::Bzip2),
    ];
    if head.is_empty() {
        return DetectedType::Empty;
    }
    if let Some((_, kind)) = MAGICS.iter().find(|(magic, _)| head.starts_with(magic)) {
        return *kind;
    }
    match <[u8; BLOCK as usize]>::try_from(head) {
        Ok(block) => {
            let header = Header(block);
            if header.is_zero() || header.checksum_ok() {
                DetectedType::Tar
            } else {
                DetectedType::Unknown
            }
        }
        Err(_) => DetectedType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics() {
        assert_eq!(detect(b""), DetectedType::Empty);
        assert_eq!(detect(b"\x1f\x8b\x08\0"), DetectedType::Gzip);
        assert_eq!(detect(b"BZh91AY"), DetectedType::Bzip2);
        assert_eq!(detect(b"hello"), DetectedType::Unknown);
        assert_eq!(detect(&[0u8; 512]), DetectedType::Tar);
        assert_eq!(detect(&[b'x'; 512]), DetectedType::Unknown);
    }
}
