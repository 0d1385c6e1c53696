//! The consumers of the data pass's batches, each on a thread of its own so they spread over
//! the cores: per-file MD5s, the image's MD5, and the image's bytes on disk.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use md5::{Digest, Md5};

/// A stretch of one file's bytes in a batch.
pub struct FilePiece {
    /// Where the bytes are in the batch.
    pub range: Range<usize>,
    /// True when the stretch ends the file.
    pub last: bool,
}

/// File bytes read once and shared by the consumers, with the file stretches they hold.
pub struct FileBatch {
    /// The batch's bytes.
    pub data: Arc<Vec<u8>>,
    /// File stretches in file order.
    pub pieces: Vec<FilePiece>,
}

/// The same shared bytes, with the stretches (whole blocks) that go next into the image.
#[derive(Clone)]
pub struct ImageBatch {
    /// The batch's bytes.
    pub data: Arc<Vec<u8>>,
    /// Image bytes in image order.
    pub ranges: Vec<Range<usize>>,
}

/// The error of a stage whose neighbour stopped; the neighbour reports the cause.
pub fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "a build stage stopped")
}

/// Computes the MD5 of each file of `batches`, sending each digest as its file ends.
pub fn hash_files(batches: Receiver<FileBatch>, digests: Sender<[u8; 16]>) -> io::Result<()> {
    let mut md5 = Md5::new();
    for batch in batches {
        for piece in &batch.pieces {
            md5.update(&batch.data[piece.range.clone()]);
            if piece.last {
                digests
                    .send(md5.finalize_reset().into())
                    .map_err(|_| stopped())?;
            }
        }
    }
    Ok(())
}

/// Computes the MD5 of the image bytes of `batches`.
pub fn hash_image(batches: Receiver<ImageBatch>) -> [u8; 16] {
    let mut md5 = Md5::new();
    for batch in batches {
        for range in &batch.ranges {
            md5.update(&batch.data[range.clone()]);
        }
    }
    md5.finalize().into()
}

/// Appends the image bytes of `batches` to `file`; returns the bytes written.
pub fn write_image(mut file: File, batches: Receiver<ImageBatch>) -> io::Result<u64> {
    let mut written = 0;
    for batch in batches {
        for range in &batch.ranges {
            file.write_all(&batch.data[range.clone()])?;
            written += range.len() as u64;
        }
    }
    file.flush()?;
    Ok(written)
}
