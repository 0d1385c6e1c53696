//! Byte-level differ for the bulk patch: new data coded against random access to old data.
//!
//! [`diff`] finds *covers* with a suffix array over the old window (bsdiff-style approximate
//! matches: old bytes plus a mostly-zero bytewise difference) and writes a **raw delta
//! stream**, meant to be compressed afterwards with LZMA2 ([`write_7z`]). [`apply`] rebuilds
//! new from the stream and an [`OldSource`], streaming, with bounded memory.
//!
//! # Raw delta stream, version 1
//!
//! `varint` is unsigned LEB128 (7 bits per byte, least significant group first, high bit set
//! on every byte but the last, at most 10 bytes); `zvarint` is a varint of the zigzag
//! mapping of a signed 64-bit value (`(v << 1) ^ (v >> 63)`).
//!
//! ```text
//! stream  = magic new_len chunk*          ; the stream ends right after the last chunk
//! magic   = "RKDL" 0x01                   ; 5 bytes
//! new_len = varint                        ; bytes the stream produces; chunks sum to it
//! chunk   = chunk_new ctrl_len diff_len rle_len ctrl rle lit
//! chunk_new = varint                      ; 1 ..= 16 MiB new bytes produced by this chunk
//! ctrl_len  = varint                      ; bytes of `ctrl`, at most 18 * chunk_new
//! diff_len  = varint                      ; difference bytes `rle` decodes to, <= chunk_new
//! rle_len   = varint                      ; bytes of `rle`, at most 9 * diff_len + 10
//! ctrl    = record*                       ; ctrl_len bytes
//! rle     = ""                            ; when diff_len = 0, else:
//!         | tokens_len token* raw         ; tokens_len = varint: bytes of the tokens
//! token   = zeros raw_len                 ; varints, zeros + raw_len > 0: `zeros` zero
//!                                         ; bytes, then the next raw_len bytes of `raw`
//! raw     = byte*                         ; the nonzero stretches, all consumed
//! lit     = byte{chunk_new - diff_len}    ; literal bytes, consumed by records in order
//! record  = lit_len copy_len [old_delta]  ; old_delta present only when copy_len > 0
//! lit_len = varint, copy_len = varint, old_delta = zvarint
//! ```
//!
//! A record appends `lit_len` bytes taken from `lit`, then, if `copy_len > 0`, `copy_len`
//! bytes `old[p + i] + diff[k + i] (mod 256)` where `diff` is the decoded `rle` (exactly
//! `diff_len` bytes), `k` is the count of difference bytes
//! used so far in the chunk and `p = last + old_delta`. `last` is the absolute old offset
//! just after the previous copy (0 at the start of the stream; it carries across chunks).
//! Old offsets are absolute in the old file (the differ adds each window region's file
//! offset). A record never has `lit_len = copy_len = 0`; a chunk's records produce exactly
//! `chunk_new` bytes and consume exactly its `diff` and `lit` sections.
//!
//! # Memory
//!
//! [`diff`] holds the old window, the new data, a suffix array of 4 bytes per old byte plus
//! a bucket table of 64 MiB from 16 MiB of old on ([`index_bytes`]), the covers (24 bytes
//! each, a small fraction of new) and the output stream (at most about new's size): about
//! `5 * old + 2 * new + 64 MiB` bytes. Windows are limited to [`MAX_WINDOW`] bytes (`i32`
//! suffix-array indices; the differ's own positions are `usize`). [`apply`] holds one
//! chunk's sections and output (under 4 × 16 MiB; the encoder writes 16 MiB chunks).

mod apply;
mod compress;
mod encode;
mod format;
mod index;
mod matcher;

pub use apply::{FileSource, OldSource, apply};
pub use compress::{PATCH_DICT_SIZE, write_7z};
pub use encode::{OldWindow, WindowError};
pub use format::DeltaError;
pub use index::{MAX_WINDOW, index_bytes};
pub use matcher::MatchParams;

/// Codes `new` against the old window as a raw delta stream with default tuning.
pub fn diff(old: &OldWindow<'_>, new: &[u8]) -> Result<Vec<u8>, WindowError> {
    diff_with(old, new, MatchParams::default())
}

/// Codes `new` against the old window as a raw delta stream with the given tuning.
/// Deterministic: the same inputs and parameters always give the same bytes, whatever
/// `params.threads` (new is scanned in fixed 16 MiB segments, shared among the threads).
pub fn diff_with(
    old: &OldWindow<'_>,
    new: &[u8],
    params: MatchParams,
) -> Result<Vec<u8>, WindowError> {
    if old.data().len() > MAX_WINDOW {
        return Err(WindowError::TooLarge(old.data().len()));
    }
    let index = index::SuffixIndex::new(old.data());
    let covers = matcher::find_covers(&index, new, params);
    drop(index);
    Ok(encode::encode(old, new, &covers))
}
