//! Compressed tars (gzip, zstd): decompressed as a stream into a plain tar, which the image
//! build reads twice. Memory stays at the decoders' windows and one buffer, whatever the size.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::detect;
use crate::engine::error::{DetectedType, EngineError, IoContext, Result};
use crate::engine::fsio::AtomicFile;
use crate::engine::progress::{Progress, step};

/// Bytes copied between progress reports.
const CHUNK: usize = 1 << 20;

/// Decompresses `input` into `output` when it is a gzip or zstd stream, and says which it
/// was; `None` (and no output) when it is anything else, for the tar reader to judge.
/// Progress counts compressed bytes read.
pub fn decompress(
    input: &Path,
    output: &Path,
    progress: &dyn Progress,
) -> Result<Option<DetectedType>> {
    let mut file = File::open(input).at(input)?;
    let mut head = Vec::with_capacity(512);
    (&mut file).take(512).read_to_end(&mut head).at(input)?;
    let kind = detect(&head);
    if !matches!(kind, DetectedType::Gzip | DetectedType::Zstd) {
        return Ok(None);
    }
    let total = file.metadata().at(input)?.len();
    let file = File::open(input).at(input)?;
    let consumed = Cell::new(0u64);
    let counted = Counted {
        inner: BufReader::with_capacity(CHUNK, file),
        consumed: &consumed,
    };
    let corrupt = |e: io::Error| EngineError::TarMalformed {
        filename: input.display().to_string(),
        offset: consumed.get(),
        reason: format!("the {kind} stream is corrupt: {e}"),
    };
    let mut decoder: Box<dyn Read + '_> = match kind {
        DetectedType::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
        _ => Box::new(
            ruzstd::decoding::StreamingDecoder::new(counted)
                .map_err(|e| corrupt(io::Error::other(e.to_string())))?,
        ),
    };
    progress.begin(total);
    let mut out = AtomicFile::create(output)?;
    let mut buffer = vec![0u8; CHUNK];
    let mut reported = 0;
    loop {
        let read = match decoder.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        out.file().write_all(&buffer[..read]).at(output)?;
        let now = consumed.get();
        step(progress, now - reported)?;
        reported = now;
    }
    drop(decoder);
    out.commit()?;
    Ok(Some(kind))
}

/// Counts the compressed bytes a decoder consumed.
struct Counted<'c, R> {
    inner: R,
    consumed: &'c Cell<u64>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + read as u64);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::progress::Silent;

    #[test]
    fn gzip_and_zstd_streams_decompress_and_other_inputs_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, vec![7u8; 3 << 20]).expect("write");
        let out = dir.path().join("out");
        assert_eq!(decompress(&plain, &out, &Silent).expect("plain"), None);
        assert!(!out.exists());

        let gz = dir.path().join("x.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).expect("gz"), Default::default());
        encoder.write_all(&vec![7u8; 3 << 20]).expect("encode");
        encoder.finish().expect("finish");
        assert_eq!(
            decompress(&gz, &out, &Silent).expect("gzip"),
            Some(DetectedType::Gzip)
        );
        assert_eq!(std::fs::read(&out).expect("read"), vec![7u8; 3 << 20]);

        let zst = dir.path().join("x.zst");
        let frame = ruzstd::encoding::compress_to_vec(
            &vec![9u8; 3 << 20][..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        std::fs::write(&zst, frame).expect("write zst");
        let out_zst = dir.path().join("out-zst");
        assert_eq!(
            decompress(&zst, &out_zst, &Silent).expect("zstd"),
            Some(DetectedType::Zstd)
        );
        assert_eq!(std::fs::read(&out_zst).expect("read"), vec![9u8; 3 << 20]);

        let broken = dir.path().join("broken.gz");
        let mut bytes = std::fs::read(&gz).expect("read gz");
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&broken, bytes).expect("write");
        let err = decompress(&broken, &dir.path().join("o2"), &Silent).expect_err("truncated");
        assert_eq!(err.code(), "tarMalformed", "{err}");
        assert!(!dir.path().join("o2").exists(), "no partial output");
    }
}
