//! The bulk container: a raw delta stream inside a 7z archive, LZMA2 at the strongest
//! preset with a large dictionary, which is what the product ships as `patch.7z`.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::apply::read_header;
use super::format::{ChunkHeader, DeltaError};
use crate::engine::sevenz;

/// LZMA2 dictionary for patches: matches within the literal section may reach this far
/// back; a decoder needs this much memory.
pub const PATCH_DICT_SIZE: u32 = 64 << 20;

/// Writes the raw delta stream `raw` (`raw_len` bytes from its current position) as the
/// single member of a 7z archive to `out`: LZMA2 at preset 9 with the longest
/// match length, which pays on the long repeats of patch data, and a dictionary of the
/// stream's size rounded up to a power of two, at most [`PATCH_DICT_SIZE`] (see
/// [`sevenz::write_archive`]). The literal sections are the stretches that may not
/// compress (inserted random or already compressed data), so the archive may store them
/// as they are instead of paying LZMA's overhead on noise.
pub fn write_7z<R: Read + Seek, W: Write + Seek>(
    mut raw: R,
    raw_len: u64,
    out: W,
) -> io::Result<W> {
    let start = raw.stream_position()?;
    let sections = literal_sections(&mut raw)?;
    raw.seek(SeekFrom::Start(start))?;
    sevenz::write_archive(out, raw.take(raw_len), raw_len, PATCH_DICT_SIZE, &sections)
}

/// The offsets `(start, end)`, from the reader's position, of each chunk's nonempty literal
/// section, found by reading the chunk headers and seeking over the sections.
fn literal_sections<R: Read + Seek>(raw: &mut R) -> io::Result<Vec<(u64, u64)>> {
    let invalid = |e: DeltaError| io::Error::new(io::ErrorKind::InvalidData, e);
    let start = raw.stream_position()?;
    let new_len = read_header(raw).map_err(invalid)?;
    let mut produced = 0u64;
    let mut sections = Vec::new();
    while produced < new_len {
        let head = ChunkHeader::read(raw).map_err(invalid)?;
        let skip = (head.ctrl_len + head.rle_len) as i64;
        let lit_start = raw.seek(SeekFrom::Current(skip))? - start;
        let lit_end = raw.seek(SeekFrom::Current(head.lit_len() as i64))? - start;
        if lit_end > lit_start {
            sections.push((lit_start, lit_end));
        }
        produced += head.chunk_new;
    }
    Ok(sections)
}
