//! The consumers of the data pass's batches, each on a thread of its own so they spread over
//! the cores: each file's MD5, the image's MD5, and the image's bytes on disk with their
//! chunk hashes. MD5 is one chain of dependent steps per message, so the two MD5s are the
//! longest stages; on threads of their own they share the cores with the reads and writes.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use crate::engine::chunks::{ChunkHasher, ChunkTable};
use crate::engine::fsio::FlushingWriter;
use md5::{Digest, Md5};

/// A stretch of one file's bytes in a batch.
pub struct FilePiece {
    /// Where the bytes are in the batch.
    pub range: Range<usize>,
    /// True when the stretch ends the file.
    pub last: bool,
}

/// Build bytes read once and shared by the consumers, with the file stretches they hold
/// (for the files' MD5s) and the stretches, whole blocks, that go next into the image (for
/// its MD5 and the writer).
pub struct Batch {
    /// The batch's bytes.
    pub data: Arc<Vec<u8>>,
    /// File stretches in file order.
    pub pieces: Vec<FilePiece>,
    /// Image bytes in image order.
    pub ranges: Vec<Range<usize>>,
}

/// The error of a stage whose neighbour stopped; the neighbour reports the cause.
pub fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "a build stage stopped")
}

/// Computes the MD5 of each file of `batches`, sending each digest as its file ends.
pub fn hash_files(batches: Receiver<Arc<Batch>>, digests: Sender<[u8; 16]>) -> io::Result<()> {
    let mut file = Md5::new();
    for batch in batches {
        for piece in &batch.pieces {
            file.update(&batch.data[piece.range.clone()]);
            if piece.last {
                digests
                    .send(file.finalize_reset().into())
                    .map_err(|_| stopped())?;
            }
        }
    }
    Ok(())
}

/// Returns the MD5 of the image bytes of `batches`.
pub fn hash_image(batches: Receiver<Arc<Batch>>) -> [u8; 16] {
    let mut image = Md5::new();
    for batch in batches {
        for range in &batch.ranges {
            image.update(&batch.data[range.clone()]);
        }
    }
    image.finalize().into()
}

/// Appends the image bytes of `batches` to `file`, flushing them to disk as it goes, and
/// hashes them chunk by chunk (the writer waits on the disk more than it computes); sends the
/// chunk table to `chunks` and returns the bytes written. `bound` (at least the image's size)
/// is reserved on disk up front.
pub fn write_image(
    file: File,
    bound: u64,
    batches: Receiver<Arc<Batch>>,
    chunks: Sender<ChunkTable>,
) -> io::Result<u64> {
    let mut file = FlushingWriter::new(file, bound)?;
    let mut hasher = ChunkHasher::default();
    let mut written = 0;
    for batch in batches {
        for range in &batch.ranges {
            let bytes = &batch.data[range.clone()];
            file.write_all(bytes)?;
            hasher.update(bytes);
            written += range.len() as u64;
        }
    }
    file.finish()?;
    chunks.send(hasher.finish()).map_err(|_| stopped())?;
    Ok(written)
}
