//! The access-order file: which file blocks a game reads first, in first-access order.
//!
//! Text, UTF-8, one run per line: `FIRST COUNT PATH` (decimal file-block number, decimal block
//! count, then the path to the end of the line). Blank lines and lines starting with `#` are
//! ignored.

use std::path::Path;

use crate::engine::error::{EngineError, Result};

/// One run of file blocks read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRun {
    /// Line of the order file, for error messages.
    pub line: usize,
    /// Normalized path of a regular file of the build.
    pub path: String,
    /// First file block (file offset / 4096).
    pub first_block: u64,
    /// Number of blocks (≥ 1).
    pub block_count: u64,
}

/// A parsed access-order file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessOrder {
    /// The file it came from, for error messages.
    pub filename: String,
    /// Runs in first-access order.
    pub runs: Vec<OrderRun>,
}

impl AccessOrder {
    /// Reads and parses an order file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let filename = path.display().to_string();
        let bad = |line, reason: String| EngineError::BadOrder {
            filename: filename.clone(),
            line,
            reason,
        };
        let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
            filename: filename.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| bad(0, "not UTF-8 text".into()))?;
        Self::parse(&filename, &text)
    }

    /// Parses the text of an order file named `filename`.
    pub fn parse(filename: &str, text: &str) -> Result<Self> {
        let mut runs = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let run = parse_line(raw).map_err(|reason| EngineError::BadOrder {
                filename: filename.to_string(),
                line: i + 1,
                reason: reason.to_string(),
            })?;
            runs.push(OrderRun { line: i + 1, ..run });
        }
        Ok(Self {
            filename: filename.to_string(),
            runs,
        })
    }
}

fn parse_line(raw: &str) -> Result<OrderRun, &'static str> {
    const SHAPE: &str = "expected 'FIRST COUNT PATH'";
    let mut parts = raw.splitn(3, ' ');
    let mut number = || {
        parts
            .next()
            .and_then(|p| p.parse::<u64>().ok())
            .ok_or(SHAPE)
    };
    let first_block = number()?;
    let block_count = number()?;
    let path = parts.next().filter(|p| !p.is_empty()).ok_or(SHAPE)?;
    if block_count == 0 {
        return Err("block count is 0");
    }
    Ok(OrderRun {
        line: 0,
        path: path.to_string(),
        first_block,
        block_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runs_with_spaces_in_paths() -> Result<(), Box<dyn std::error::Error>> {
        let order = AccessOrder::parse("o", "# order\n0 2 bin/my game\n\n7 1 data.pak\n")?;
        assert_eq!(order.runs.len(), 2);
        assert_eq!(order.runs[0].path, "bin/my game");
        assert_eq!((order.runs[1].line, order.runs[1].first_block), (4, 7));
        let err = AccessOrder::parse("o", "x 1 a\n").unwrap_err();
        assert!(matches!(err, EngineError::BadOrder { line: 1, .. }));
        Ok(())
    }
}
