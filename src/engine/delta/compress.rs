//! The bulk container: a raw delta stream inside a 7z archive, LZMA2 at the strongest
//! preset with a large dictionary, which is what the product ships as `patch.7z`.

use std::io::{self, Read, Seek, Write};

use sevenz_rust2::encoder_options::{EncoderOptions, Lzma2Options};
use sevenz_rust2::{ArchiveEntry, ArchiveWriter, EncoderConfiguration, EncoderMethod};

/// LZMA2 dictionary for patches: matches within the literal section may reach this far
/// back; a decoder needs this much memory.
pub const PATCH_DICT_SIZE: u32 = 64 << 20;

/// Writes `raw` as the single entry `entry_name` of a 7z archive (LZMA2, preset 9,
/// [`PATCH_DICT_SIZE`] dictionary, or the stream's size rounded up to a power of two when
/// smaller, and the longest match
/// length LZMA2 allows, which pays on the long repeats of patch data) to `out`.
pub fn write_7z<R: Read, W: Write + Seek>(
    raw: R,
    raw_len: u64,
    entry_name: &str,
    out: W,
) -> io::Result<W> {
    let mut options = Lzma2Options::from_level(9);
    // 7z records the dictionary as 2^n or 3 * 2^n bytes, rounded down; a power of two at
    // least as large as the stream keeps every match distance within what a decoder allocates.
    let dict = raw_len
        .next_power_of_two()
        .clamp(1 << 16, u64::from(PATCH_DICT_SIZE)) as u32;
    options.set_dictionary_size(dict);
    options.set_nice_len(273);
    let mut writer = ArchiveWriter::new(out).map_err(io::Error::other)?;
    writer.set_content_methods(vec![
        EncoderConfiguration::new(EncoderMethod::LZMA2)
            .with_options(EncoderOptions::Lzma2(options)),
    ]);
    writer
        .push_archive_entry(ArchiveEntry::new_file(entry_name), Some(raw))
        .map_err(io::Error::other)?;
    writer.finish()
}
