//! Play-session traces: what a launcher saw a game read from an image, and when. A trace is
//! checked against the image it names before anything uses it; [`learn`] turns the traces of
//! an image into an access order.

mod cover;
mod learn;

use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::image::BLOCK_SIZE;
pub use learn::{Learned, TrainingSettings, learn};

/// One session's trace of an image (docs/FORMAT.md, "Trace").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trace {
    /// The image the game read.
    pub dxf_name: String,
    /// Bytes per block: 4096.
    pub block_size: u64,
    /// Milliseconds from the game's start until it became playable, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_ms: Option<u64>,
    /// `[tMs, firstBlock, blockCount]`: the image blocks each read touched, with the
    /// milliseconds since the game's start at which it was made, in the order made.
    pub reads: Vec<[u64; 3]>,
}

/// Why a trace is refused; the message says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceProblem {
    /// Not JSON of the trace's shape.
    #[error("the trace is not a trace document: {0}")]
    Malformed(String),
    /// A `Content-Encoding` body that does not decode.
    #[error("the {encoding} body does not decode: {reason}")]
    BadEncoding {
        encoding: &'static str,
        reason: String,
    },
    /// The body, once decoded, is larger than allowed.
    #[error("the decoded trace is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// A block size other than the image's.
    #[error("blockSize is {0}; images use blocks of 4096 bytes")]
    BlockSize(u64),
    /// No reads: nothing to learn from.
    #[error("the trace has no reads")]
    Empty,
    /// A read of no blocks.
    #[error("read {index} has blockCount 0")]
    EmptyRead { index: usize },
    /// A read past the image's end.
    #[error(
        "read {index} ([{t}, {first}, {count}]) lies outside the image, which has {blocks} blocks"
    )]
    OutsideImage {
        index: usize,
        t: u64,
        first: u64,
        count: u64,
        blocks: u64,
    },
    /// A read made before the one listed ahead of it.
    #[error(
        "read {index} is at tMs {t}, before read {previous} at tMs {before}: times must not go back"
    )]
    TimeGoesBack {
        index: usize,
        t: u64,
        previous: usize,
        before: u64,
    },
}

/// How a trace's body is encoded (`Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }
}

/// Decodes a body of `encoding`, reading at most `limit` decoded bytes: a body that would
/// decode to more (a decompression bomb) is refused after `limit + 1` bytes, whatever it
/// claims.
pub fn decode_body(body: &[u8], encoding: Encoding, limit: u64) -> Result<Vec<u8>, TraceProblem> {
    let reader: Box<dyn Read + '_> = match encoding {
        Encoding::Identity => Box::new(body),
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Encoding::Zstd => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(body).map_err(|e| {
                TraceProblem::BadEncoding {
                    encoding: encoding.name(),
                    reason: e.to_string(),
                }
            })?;
            Box::new(decoder)
        }
    };
    let mut decoded = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut decoded)
        .map_err(|e| TraceProblem::BadEncoding {
            encoding: encoding.name(),
            reason: e.to_string(),
        })?;
    if decoded.len() as u64 > limit {
        return Err(TraceProblem::TooLarge { limit });
    }
    Ok(decoded)
}

impl Trace {
    /// Parses a trace document and checks what it can without the image: the block size,
    /// that there are reads, none empty, and times that never go back.
    pub fn parse(json: &[u8]) -> Result<Self, TraceProblem> {
        let trace: Trace =
            serde_json::from_slice(json).map_err(|e| TraceProblem::Malformed(e.to_string()))?;
        if trace.block_size != BLOCK_SIZE {
            return Err(TraceProblem::BlockSize(trace.block_size));
        }
        if trace.reads.is_empty() {
            return Err(TraceProblem::Empty);
        }
        let mut before = 0;
        for (index, &[t, _, count]) in trace.reads.iter().enumerate() {
            if count == 0 {
                return Err(TraceProblem::EmptyRead { index });
            }
            if t < before {
                return Err(TraceProblem::TimeGoesBack {
                    index,
                    t,
                    previous: index - 1,
                    before,
                });
            }
            before = t;
        }
        Ok(trace)
    }

    /// Checks every read lies inside an image of `blocks` blocks.
    pub fn check_blocks(&self, blocks: u64) -> Result<(), TraceProblem> {
        for (index, &[t, first, count]) in self.reads.iter().enumerate() {
            if first.checked_add(count).is_none_or(|end| end > blocks) {
                return Err(TraceProblem::OutsideImage {
                    index,
                    t,
                    first,
                    count,
                    blocks,
                });
            }
        }
        Ok(())
    }

    /// The trace's identity: the SHA-256 (hex) of its canonical JSON, the same however it was
    /// spaced or compressed, so a trace uploaded twice is known as one.
    pub fn digest(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(reads: &str) -> Vec<u8> {
        format!(r#"{{"dxfName":"d","blockSize":4096,"launchMs":9,"reads":{reads}}}"#).into_bytes()
    }

    #[test]
    fn each_problem_is_named() {
        assert!(Trace::parse(&trace("[[0,0,1],[3,5,2]]")).is_ok());
        let problem = |json: &[u8]| Trace::parse(json).unwrap_err();
        assert!(matches!(problem(b"{"), TraceProblem::Malformed(_)));
        assert_eq!(problem(&trace("[]")), TraceProblem::Empty);
        assert_eq!(
            problem(&trace("[[0,0,1],[2,1,0]]")),
            TraceProblem::EmptyRead { index: 1 }
        );
        let back = problem(&trace("[[5,0,1],[2,1,1]]"));
        assert_eq!(
            back.to_string(),
            "read 1 is at tMs 2, before read 0 at tMs 5: times must not go back"
        );
        let wrong = br#"{"dxfName":"d","blockSize":512,"reads":[[0,0,1]]}"#;
        assert_eq!(problem(wrong), TraceProblem::BlockSize(512));
        let outside = Trace::parse(&trace("[[0,8,3]]")).map(|t| t.check_blocks(10));
        assert!(matches!(
            outside,
            Ok(Err(TraceProblem::OutsideImage { blocks: 10, .. }))
        ));
    }

    #[test]
    fn the_digest_ignores_spacing() -> Result<(), TraceProblem> {
        let a = Trace::parse(&trace("[[0,0,1]]"))?;
        let b = Trace::parse(
            b"{ \"reads\": [[0, 0, 1]], \"launchMs\": 9, \"blockSize\": 4096, \"dxfName\": \"d\" }",
        )?;
        assert_eq!(a.digest(), b.digest());
        Ok(())
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 1 << 20]).unwrap_or_default();
        let body = gz.finish().unwrap_or_default();
        assert!(body.len() < 4096);
        assert_eq!(
            decode_body(&body, Encoding::Gzip, 1000),
            Err(TraceProblem::TooLarge { limit: 1000 })
        );
        assert_eq!(
            decode_body(&body, Encoding::Gzip, 1 << 20).map(|d| d.len()),
            Ok(1 << 20)
        );
        assert!(matches!(
            decode_body(b"nope", Encoding::Zstd, 100),
            Err(TraceProblem::BadEncoding { .. })
        ));
    }
}
