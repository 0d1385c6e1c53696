//! The bulk container: a raw delta stream inside a 7z archive, LZMA2 at the strongest
//! preset with a large dictionary, which is what the product ships as `patch.7z`.

use std::io::{self, Read, Seek, Write};

use crate::engine::sevenz;

/// LZMA2 dictionary for patches: matches within the literal section may reach this far
/// back; a decoder needs this much memory.
pub const PATCH_DICT_SIZE: u32 = 64 << 20;

/// Writes the raw delta stream `raw` (`raw_len` bytes) as the single member of a 7z archive
/// to `out`: LZMA2 at preset 9 with the longest match length, which pays on the long
/// repeats of patch data, and a dictionary of the stream's size rounded up to a power of
/// two, at most [`PATCH_DICT_SIZE`] and small enough for the encoder to fit `memory` bytes
/// (see [`sevenz::write_archive`]). `literals` are the
/// stream's literal sections ([`super::RawStream`]): the stretches that may not compress
/// (inserted random or already compressed data), which the archive may store as they are
/// instead of paying LZMA's overhead on noise.
pub fn write_7z<R: Read, W: Write + Seek>(
    raw: R,
    raw_len: u64,
    literals: &[(u64, u64)],
    memory: u64,
    out: W,
) -> io::Result<W> {
    let level = sevenz::Level::Smallest;
    sevenz::write_archive(
        out,
        raw.take(raw_len),
        raw_len,
        sevenz::dictionary_within(level, memory, PATCH_DICT_SIZE),
        literals,
        level,
    )
}
