//! An in-process pipe that hands over whole buffers: one thread writes bytes, another reads
//! them in order, with one wakeup per buffer and no copy through the kernel.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes per buffer handed over.
const BUFFER: usize = 1 << 20;

/// The writing end. Bytes reach the reader when a buffer fills and on [`Write::flush`];
/// dropping the writer without a flush discards what was not flushed, so a writer that fails
/// half-way ends the pipe early and the reader sees the stream end there.
pub struct PipeWriter {
    buf: Vec<u8>,
    to_reader: SyncSender<Vec<u8>>,
}

/// The reading end: reads return 0 once the writer is gone and every buffer is read.
pub struct PipeReader {
    buf: Vec<u8>,
    pos: usize,
    from_writer: Receiver<Vec<u8>>,
}

/// A new pipe holding up to about `capacity` bytes in flight (at least one buffer): enough
/// for the burst one end hands over at once, or the two ends wait for each other.
pub fn pipe(capacity: usize) -> (PipeWriter, PipeReader) {
    let (to_reader, from_writer) = sync_channel(capacity.div_ceil(BUFFER).max(1));
    let writer = PipeWriter {
        buf: Vec::with_capacity(BUFFER),
        to_reader,
    };
    let reader = PipeReader {
        buf: Vec::new(),
        pos: 0,
        from_writer,
    };
    (writer, reader)
}

impl PipeWriter {
    /// Hands the buffered bytes to the reader.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(BUFFER));
        self.to_reader
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "pipe reader is gone"))
    }
}

impl Write for PipeWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let take = bytes.len().min(BUFFER - self.buf.len());
        self.buf.extend_from_slice(&bytes[..take]);
        if self.buf.len() == BUFFER {
            self.send()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.from_writer.recv() {
                Ok(next) => (self.buf, self.pos) = (next, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_and_end_with_the_writer() -> io::Result<()> {
        let (mut writer, mut reader) = pipe(4 * BUFFER);
        let sent: Vec<u8> = (0..3 * BUFFER + 17).map(|i| (i * 7 % 251) as u8).collect();
        let received = std::thread::scope(|s| {
            let reading = s.spawn(move || {
                let mut got = Vec::new();
                reader.read_to_end(&mut got).map(|_| got)
            });
            let written = writer.write_all(&sent).and_then(|()| writer.flush());
            drop(writer);
            written.and_then(|()| {
                reading
                    .join()
                    .map_err(|_| io::Error::other("reader panicked"))?
            })
        })?;
        assert_eq!(received, sent);
        Ok(())
    }

    #[test]
    fn writing_fails_once_the_reader_is_gone() {
        let (mut writer, reader) = pipe(4 * BUFFER);
        drop(reader);
        let result = writer.write_all(&vec![1u8; BUFFER]);
        assert_eq!(result.map_err(|e| e.kind()), Err(io::ErrorKind::BrokenPipe));
    }

    #[test]
    fn unflushed_bytes_are_not_delivered() -> io::Result<()> {
        let (mut writer, mut reader) = pipe(4 * BUFFER);
        writer.write_all(b"flushed")?;
        writer.flush()?;
        writer.write_all(b"lost")?;
        drop(writer);
        let mut got = Vec::new();
        reader.read_to_end(&mut got)?;
        assert_eq!(got, b"flushed");
        Ok(())
    }
}
