//! Writing single-member 7z archives directly: the 32-byte signature header, one LZMA2 packed
//! stream and a minimal header (sizes, the member's CRC32 and name; no timestamps or
//! attributes). Owning the container keeps its overhead to the bytes 7-Zip requires, which
//! matters for patches of a few kilobytes, and lets small members be compressed with the
//! literal-coding settings that suit them.

use std::io::{self, Read, Seek, SeekFrom, Write};

use lzma_rust2::{Lzma2Options, Lzma2Writer, LzmaOptions};

/// Members up to this size are compressed with every setting of [`SMALL_SETTINGS`] and the
/// smallest result kept; larger ones, and every [`Level::Quick`] member, are streamed with
/// their level's own settings (LZMA's defaults, the first of them).
const TRY_LIMIT: usize = 128 << 10;

/// LZMA literal context bits, literal position bits and position bits to try: LZMA's
/// defaults, then settings that suit short streams of mixed varints and bytes, whose
/// adaptive models have little input to learn from.
const SMALL_SETTINGS: [(u32, u32, u32); 3] = [(3, 0, 2), (1, 0, 0), (0, 0, 0)];

/// Smallest stretch a large member stores apart: storing saves LZMA's overhead on noise
/// (about 1.5 %), but the chunk after a stored one must reset LZMA's adaptive state, which
/// costs more than that on short stretches. Small members try both ways instead.
const MIN_STORED_STRETCH: u64 = 64 << 10;

/// How hard LZMA works on a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Preset 9 with the longest match length, small members tried with every setting of
    /// [`SMALL_SETTINGS`]: patches, which every installed copy of a game downloads.
    Smallest,
    /// Preset 1 (LZMA's fast mode, hash chains): the image index, made with every build and
    /// downloaded once per install. On phaser's 460 KB index it is 4 % larger than
    /// `Smallest`, and its compression no longer holds up the build.
    Quick,
}

impl Level {
    /// The LZMA options of this level with dictionary `dict`.
    fn options(self, dict: u32) -> LzmaOptions {
        let mut lzma = match self {
            Level::Smallest => {
                let mut lzma = LzmaOptions::with_preset(9);
                lzma.nice_len = LzmaOptions::NICE_LEN_MAX;
                lzma
            }
            Level::Quick => LzmaOptions::with_preset(1),
        };
        lzma.dict_size = dict;
        lzma
    }
}

/// The largest power-of-two dictionary, at least the smallest one written and at most
/// `max_dict`, with which `level` encodes within `bytes` of memory (lzma-rust2's own
/// estimate): keeps the compression stage of `patch make` inside its memory budget.
pub fn dictionary_within(level: Level, bytes: u64, max_dict: u32) -> u32 {
    let fits = |dict: u32| u64::from(level.options(dict).get_memory_usage()) * 1024 <= bytes;
    let mut dict = max_dict.max(MIN_DICT).next_power_of_two();
    while dict > MIN_DICT && !fits(dict) {
        dict /= 2;
    }
    dict
}

/// Smallest dictionary written: tiny members still get a conventional size.
const MIN_DICT: u32 = 1 << 16;

/// First six bytes of every 7z archive.
const SIGNATURE: [u8; 6] = *b"7z\xbc\xaf\x27\x1c";

/// 7z property ids used by the header.
mod id {
    pub const END: u8 = 0x00;
    pub const HEADER: u8 = 0x01;
    pub const MAIN_STREAMS_INFO: u8 = 0x04;
    pub const FILES_INFO: u8 = 0x05;
    pub const PACK_INFO: u8 = 0x06;
    pub const UNPACK_INFO: u8 = 0x07;
    pub const SUBSTREAMS_INFO: u8 = 0x08;
    pub const SIZE: u8 = 0x09;
    pub const CRC: u8 = 0x0A;
    pub const FOLDER: u8 = 0x0B;
    pub const CODERS_UNPACK_SIZE: u8 = 0x0C;
    /// The LZMA2 coder's method id.
    pub const LZMA2: u8 = 0x21;
}

/// Writes a 7z archive holding `data` as its one member to `out` (at its current position,
/// which must be the archive's start). The LZMA2 dictionary is the member's size (as read,
/// for members up to [`TRY_LIMIT`]; else `size`, the caller's figure or estimate) rounded up
/// to a power of two, at most `max_dict`, so decoders allocate no more than the member
/// needs. `stretches` (`(start, end)` offsets in `data`, ascending) are where the
/// caller expects data that may not compress: the LZMA2 stream ends a chunk at both ends of
/// each, and a chunk LZMA would expand is stored as it is, so such a stretch costs no more
/// than its own size (see [`MIN_STORED_STRETCH`] for which stretches are set apart).
pub fn write_archive<R: Read, W: Write + Seek>(
    mut out: W,
    mut data: R,
    size: u64,
    max_dict: u32,
    stretches: &[(u64, u64)],
    level: Level,
) -> io::Result<W> {
    let start = out.stream_position()?;
    out.write_all(&[0u8; 32])?;
    let mut head = Vec::new();
    data.by_ref()
        .take(TRY_LIMIT as u64 + 1)
        .read_to_end(&mut head)?;
    let (unpacked_size, crc, dict) = if head.len() <= TRY_LIMIT && level == Level::Smallest {
        let dict = dictionary(head.len() as u64, max_dict);
        out.write_all(&smallest_packing(&head, dict, stretches)?)?;
        (head.len() as u64, crc32fast::hash(&head), dict)
    } else {
        let dict = dictionary(size.max(head.len() as u64), max_dict);
        let cuts = cuts_around(
            stretches
                .iter()
                .filter(|(s, e)| e - s >= MIN_STORED_STRETCH),
        );
        let mut input = Crc32Reader::new(io::Cursor::new(head).chain(data));
        let unpacked = compress(&mut out, &mut input, level.options(dict), &cuts)?.1;
        (unpacked, input.hasher.finalize(), dict)
    };
    let packed_size = out.stream_position()? - start - 32;
    let header = header(packed_size, unpacked_size, crc, dictionary_prop(dict));
    out.write_all(&header)?;
    let end = out.stream_position()?;
    let mut start_header = Vec::with_capacity(20);
    start_header.extend_from_slice(&packed_size.to_le_bytes());
    start_header.extend_from_slice(&(header.len() as u64).to_le_bytes());
    start_header.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    out.seek(SeekFrom::Start(start))?;
    out.write_all(&SIGNATURE)?;
    out.write_all(&[0, 4])?;
    out.write_all(&crc32fast::hash(&start_header).to_le_bytes())?;
    out.write_all(&start_header)?;
    out.seek(SeekFrom::Start(end))?;
    out.flush()?;
    Ok(out)
}

/// The offsets at both ends of each stretch.
fn cuts_around<'a>(stretches: impl IntoIterator<Item = &'a (u64, u64)>) -> Vec<u64> {
    stretches.into_iter().flat_map(|&(s, e)| [s, e]).collect()
}

/// `member` compressed with every setting of [`SMALL_SETTINGS`], each with and without its
/// `stretches` set apart; the smallest result (the first on a tie).
fn smallest_packing(member: &[u8], dict: u32, stretches: &[(u64, u64)]) -> io::Result<Vec<u8>> {
    let set_apart = cuts_around(stretches);
    let cut_choices: &[&[u64]] = if set_apart.is_empty() {
        &[&[]]
    } else {
        &[&[], &set_apart]
    };
    let mut best: Option<Vec<u8>> = None;
    for (lc, lp, pb) in SMALL_SETTINGS {
        let mut lzma = Level::Smallest.options(dict);
        (lzma.lc, lzma.lp, lzma.pb) = (lc, lp, pb);
        for cuts in cut_choices {
            let packed = compress(Vec::new(), &mut &member[..], lzma.clone(), cuts)?.0;
            if best.as_ref().is_none_or(|b| packed.len() < b.len()) {
                best = Some(packed);
            }
        }
    }
    Ok(best.unwrap_or_default())
}

/// The member's dictionary: its size rounded up to a power of two, within
/// [`MIN_DICT`]`..=max_dict`.
fn dictionary(size: u64, max_dict: u32) -> u32 {
    size.next_power_of_two()
        .clamp(u64::from(MIN_DICT), u64::from(max_dict.max(MIN_DICT))) as u32
}

/// LZMA2's one-byte dictionary property: the smallest `p` whose size `(2 | p & 1) << (p / 2
/// + 11)` holds `dict`, so a decoder never allocates less than the encoder used.
fn dictionary_prop(dict: u32) -> u8 {
    (0u8..40)
        .find(|&p| (2u64 | u64::from(p & 1)) << (p / 2 + 11) >= u64::from(dict))
        .unwrap_or(40)
}

/// Compresses all of `input` as one LZMA2 stream with `lzma` into `out`, ending a chunk at
/// each of `cuts`; returns `out` and the number of input bytes.
fn compress<W: Write>(
    out: W,
    input: &mut dyn Read,
    lzma: LzmaOptions,
    cuts: &[u64],
) -> io::Result<(W, u64)> {
    let options = Lzma2Options {
        lzma_options: lzma,
        chunk_size: None,
    };
    let mut writer = Lzma2Writer::new(out, options);
    let mut unpacked = 0;
    for &cut in cuts {
        unpacked += io::copy(&mut input.take(cut.saturating_sub(unpacked)), &mut writer)?;
        writer.flush()?;
    }
    unpacked += io::copy(input, &mut writer)?;
    let out = writer.finish().map_err(io::Error::other)?;
    Ok((out, unpacked))
}

/// The archive header for one member in one LZMA2 folder.
fn header(packed: u64, unpacked: u64, crc: u32, dict_prop: u8) -> Vec<u8> {
    let mut h = vec![id::HEADER, id::MAIN_STREAMS_INFO];
    h.extend_from_slice(&[id::PACK_INFO, 0, 1, id::SIZE]);
    put_number(&mut h, packed);
    h.push(id::END);
    // One folder, not external, one simple coder with properties: LZMA2 and its dictionary.
    h.extend_from_slice(&[
        id::UNPACK_INFO,
        id::FOLDER,
        1,
        0,
        1,
        0x21,
        id::LZMA2,
        1,
        dict_prop,
    ]);
    h.push(id::CODERS_UNPACK_SIZE);
    put_number(&mut h, unpacked);
    h.push(id::END);
    h.extend_from_slice(&[id::SUBSTREAMS_INFO, id::CRC, 1]);
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&[id::END, id::END]);
    // One file, no properties: no name either, which 7-Zip fills in from the archive's
    // name without `.7z`, the member's name by this crate's convention.
    h.extend_from_slice(&[id::FILES_INFO, 1, id::END, id::END]);
    h
}

/// 7z's variable-length number: the count of leading one bits of the first byte says how
/// many little-endian bytes follow; the first byte's remaining bits are the top bits.
fn put_number(out: &mut Vec<u8>, v: u64) {
    for extra in 0..8 {
        if v < 1 << (7 * (extra + 1)) {
            out.push((0xFF00u16 >> extra) as u8 | (v >> (8 * extra)) as u8);
            out.extend_from_slice(&v.to_le_bytes()[..extra]);
            return;
        }
    }
    out.push(0xFF);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A reader that computes the CRC32 of what passes through it.
struct Crc32Reader<R> {
    inner: R,
    hasher: crc32fast::Hasher,
}

impl<R> Crc32Reader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: crc32fast::Hasher::new(),
        }
    }
}

impl<R: Read> Read for Crc32Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_7z_coding() {
        let coded = |v| {
            let mut out = Vec::new();
            put_number(&mut out, v);
            out
        };
        assert_eq!(coded(0x7f), [0x7f]);
        assert_eq!(coded(250), [0x80, 0xfa]);
        assert_eq!(coded(0x3fff), [0xbf, 0xff]);
        assert_eq!(coded(0x4000), [0xc0, 0x00, 0x40]);
        assert_eq!(coded(u64::MAX), [0xff; 9]);
    }

    #[test]
    fn dictionaries_fit_the_memory_given() {
        let level = Level::Smallest;
        let usage = |dict: u32| u64::from(level.options(dict).get_memory_usage()) * 1024;
        let dict = dictionary_within(level, 256 << 20, 64 << 20);
        assert!(
            usage(dict) <= 256 << 20 && usage(2 * dict) > 256 << 20,
            "{dict}"
        );
        assert_eq!(dictionary_within(level, u64::MAX, 64 << 20), 64 << 20);
        assert_eq!(dictionary_within(level, 0, 64 << 20), MIN_DICT);
    }

    #[test]
    fn dictionary_props_round_up() {
        assert_eq!(dictionary_prop(4096), 0);
        assert_eq!(dictionary_prop(1 << 16), 8);
        assert_eq!(dictionary_prop((1 << 16) + 1), 9);
        assert_eq!(dictionary_prop(64 << 20), 28);
        assert_eq!(dictionary(5, 64 << 20), MIN_DICT);
        assert_eq!(dictionary(3 << 20, 64 << 20), 4 << 20);
        assert_eq!(dictionary(1 << 40, 64 << 20), 64 << 20);
    }
}
