//! The access-order file: which file blocks a game reads first, in first-access order.
//!
//! Text, UTF-8, one run per line: `FIRST COUNT PATH` (decimal file-block number, decimal block
//! count, then the path to the end of the line). A line `launch` marks when the game became
//! playable: the runs before it make the preload, the runs after it were read later (without
//! it, every run is the preload). Blank lines and lines starting with `#` are ignored.

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
    /// How many runs come before the `launch` line, if there is one.
    pub launch: Option<usize>,
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
        let mut launch = None;
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            if raw == LAUNCH {
                if launch.is_some() {
                    return Err(EngineError::BadOrder {
                        filename: filename.to_string(),
                        line: i + 1,
                        reason: "a second launch line".into(),
                    });
                }
                launch = Some(runs.len());
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
            launch,
        })
    }

    /// The runs as `(entry, first block, block count)`: `regular(path)` gives a regular file's
    /// entry and block count. A path that is not a regular file of the build, or a run past a
    /// file's end, is an error naming the line.
    pub fn resolve(
        &self,
        regular: impl Fn(&str) -> Option<(usize, u64)>,
    ) -> Result<Vec<(usize, u64, u64)>> {
        self.runs
            .iter()
            .map(|run| {
                let bad = |reason: String| EngineError::BadOrder {
                    filename: self.filename.clone(),
                    line: run.line,
                    reason,
                };
                let (entry, blocks) = regular(&run.path).ok_or_else(|| {
                    bad(format!("'{}' is not a regular file of the build", run.path))
                })?;
                if run
                    .first_block
                    .checked_add(run.block_count)
                    .is_none_or(|end| end > blocks)
                {
                    return Err(bad(format!("'{}' has only {blocks} blocks", run.path)));
                }
                Ok((entry, run.first_block, run.block_count))
            })
            .collect()
    }

    /// The runs that make the preload: those before the launch line, else all.
    pub fn preload_runs(&self) -> usize {
        self.launch.unwrap_or(self.runs.len()).min(self.runs.len())
    }

    /// The order as the text of an order file, with a comment line `note` on top.
    pub fn to_text(&self, note: &str) -> String {
        let mut text = format!("# {note}\n");
        for (i, run) in self.runs.iter().enumerate() {
            if self.launch == Some(i) {
                text.push_str(LAUNCH);
                text.push('\n');
            }
            text.push_str(&format!(
                "{} {} {}\n",
                run.first_block, run.block_count, run.path
            ));
        }
        if self.launch == Some(self.runs.len()) {
            text.push_str(LAUNCH);
            text.push('\n');
        }
        text
    }
}

/// The line that separates the preload's runs from those read after the game's launch.
const LAUNCH: &str = "launch";

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
        assert_eq!((order.launch, order.preload_runs()), (None, 2));
        Ok(())
    }

    #[test]
    fn a_launch_line_ends_the_preload_and_survives_a_round_trip()
    -> Result<(), Box<dyn std::error::Error>> {
        let order = AccessOrder::parse("o", "0 2 a b\nlaunch\n7 1 c\n")?;
        assert_eq!((order.launch, order.preload_runs()), (Some(1), 1));
        let again = AccessOrder::parse("o", &order.to_text("learned"))?;
        let places = |o: &AccessOrder| -> Vec<(String, u64, u64)> {
            o.runs
                .iter()
                .map(|r| (r.path.clone(), r.first_block, r.block_count))
                .collect()
        };
        assert_eq!(places(&again), places(&order));
        assert_eq!(again.launch, order.launch);
        let err = AccessOrder::parse("o", "launch\n0 1 a\nlaunch\n").unwrap_err();
        assert!(matches!(err, EngineError::BadOrder { line: 3, .. }));
        Ok(())
    }
}
