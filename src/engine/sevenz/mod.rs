//! Single-member 7z archives with fixed metadata, so equal contents give equal bytes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sevenz_rust2::{ArchiveReader, Password};

use crate::engine::error::{EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;

mod writer;

pub use writer::{Level, dictionary_within, write_archive};

/// Largest LZMA2 dictionary of metadata members (maps, indexes): LZMA's preset-6 size.
pub const METADATA_DICT: u32 = 8 << 20;

/// Writes `target` as a 7z (LZMA2) archive holding one member with the bytes of `data`, about
/// `size` bytes (the dictionary is sized for it; a wrong estimate only costs compression or
/// memory). The member carries no name, timestamps or attributes, so output depends on
/// content only; 7-Zip names it after the archive (`map.7z` extracts to `map`). `level` says
/// how hard LZMA works.
pub fn write_single(target: &Path, data: impl Read, size: u64, level: Level) -> Result<()> {
    encode_single(target, data, size, level)?.commit()
}

/// Like [`write_single`], but leaves the archive under its temporary name: the caller commits
/// it once the rest of its output is known good.
pub fn encode_single(
    target: &Path,
    data: impl Read,
    size: u64,
    level: Level,
) -> Result<AtomicFile> {
    let mut out = AtomicFile::create(target)?;
    let file = out.file().try_clone().at(target)?;
    write_archive(file, data, size, METADATA_DICT, &[], level).at(target)?;
    Ok(out)
}

/// Opens the archive `name` in `dir`, checks it holds exactly one member, unnamed or named
/// after the archive (as 7-Zip names the member when it repacks one), and passes the
/// member's decompressed bytes to `read`. Defects of the archive become `corrupt(reason)`.
pub fn read_single<T>(
    dir: &Path,
    name: &str,
    corrupt: impl Fn(String) -> EngineError,
    read: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<T> {
    let file = File::open(dir.join(name)).map_err(|e| corrupt(format!("cannot open: {e}")))?;
    let mut reader =
        ArchiveReader::new(file, Password::empty()).map_err(|e| corrupt(describe(&e)))?;
    // With more threads the crate decodes LZMA2 a stream segment at a time, and a segment
    // is everything up to a dictionary reset: for our archives, the whole member, held in
    // memory and handed over only once decoded (jaxlib's bulk apply buffered 105 MB of raw
    // stream and could not start applying it before LZMA2 had finished).
    reader.set_thread_count(1);
    let member = name.strip_suffix(".7z").unwrap_or(name);
    let names: Vec<&str> = reader.archive().files.iter().map(|f| f.name()).collect();
    if !matches!(names[..], [only] if only.is_empty() || only == member) {
        return Err(corrupt(format!(
            "expected one member, unnamed or '{member}', found {names:?}"
        )));
    }
    let mut read = Some(read);
    let mut result = None;
    let outcome = reader.for_each_entries(|_, data| {
        if let Some(read) = read.take() {
            result = Some(read(&mut Described(data)));
        }
        Ok(true)
    });
    // The member's reader saw a defect first; the drain that follows it reports the same
    // defect with less said.
    match (result, outcome) {
        (Some(Err(e)), _) => Err(e),
        (_, Err(e)) => Err(corrupt(describe(&e))),
        (Some(Ok(value)), Ok(())) => Ok(value),
        (None, Ok(())) => Err(corrupt(format!("member '{member}' has no data"))),
    }
}

/// A 7z reader error in words: the crate's own `Display` prints its debug form
/// (`ChecksumVerificationFailed`), which means nothing to the user reading it.
fn describe(error: &sevenz_rust2::Error) -> String {
    use sevenz_rust2::Error as E;
    match error {
        E::BadSignature(_) => "not a 7z archive (no 7z signature)".into(),
        E::UnsupportedVersion { major, minor } => {
            format!("7z format version {major}.{minor} is not supported")
        }
        E::ChecksumVerificationFailed => "CRC32 mismatch: the member's data is damaged".into(),
        E::NextHeaderCrcMismatch => "CRC32 mismatch: the archive's header is damaged".into(),
        E::Io(e, context) if context.is_empty() => describe_io(e),
        E::Io(e, context) => format!("{context}: {}", describe_io(e)),
        E::FileOpen(e, name) => format!("cannot open {name}: {}", describe_io(e)),
        E::Other(text) | E::Unsupported(text) => text.to_string(),
        E::BadTerminatedStreamsInfo(_)
        | E::BadTerminatedUnpackInfo
        | E::BadTerminatedPackInfo(_)
        | E::BadTerminatedSubStreamsInfo
        | E::BadTerminatedHeader(_) => "the archive's header is malformed".into(),
        E::ExternalUnsupported => "a header stored in a separate stream is not supported".into(),
        E::UnsupportedCompressionMethod(method) => {
            format!("compression method {method} is not supported")
        }
        E::MaxMemLimited { max_kb, actaul_kb } => {
            format!("decoding needs {actaul_kb} KiB, above the limit of {max_kb} KiB")
        }
        E::PasswordRequired | E::MaybeBadPassword(_) => {
            "the archive is encrypted, which patches and images never are".into()
        }
        E::FileNotFound => "the member is missing".into(),
    }
}

/// The 7z reader error an I/O error carries, if any, however deeply the readers between
/// wrapped it.
fn archive_error(error: &std::io::Error) -> Option<&sevenz_rust2::Error> {
    let mut inner: &(dyn std::error::Error + 'static) = error.get_ref()?;
    loop {
        if let Some(found) = inner.downcast_ref::<sevenz_rust2::Error>() {
            return Some(found);
        }
        inner = match inner.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref()?,
            None => inner.source()?,
        };
    }
}

/// An I/O error in words, with a 7z reader error inside it described by [`describe`].
fn describe_io(error: &std::io::Error) -> String {
    archive_error(error).map_or_else(|| error.to_string(), describe)
}

/// A member's reader whose errors from the 7z reader are put in words ([`describe`]), so
/// that whoever reports them (the index, map and delta readers) reports words.
struct Described<'a>(&'a mut dyn Read);

impl Read for Described<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| match archive_error(&e) {
            Some(inner) => std::io::Error::new(e.kind(), describe(inner)),
            None => e,
        })
    }
}
