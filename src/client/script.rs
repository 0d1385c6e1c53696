//! A play script: what a game does when it starts, as JSON Lines. `{"t":MS,"path":P,
//! "offset":N,"len":N}` is a read of a file of the build; `{"t":MS,"launch":true}` is the
//! moment the game becomes playable. `t` is the game's own clock: the gap between two lines is
//! time the game computes.

use std::path::Path;

use serde::Deserialize;

use super::error::ClientError;
use super::layout::Layout;
use crate::engine::tar::EntryKind;

/// One line of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read `len` bytes at `offset` of the file `entry` (index into the layout's entries).
    Read {
        t: u64,
        entry: usize,
        offset: u64,
        len: u64,
    },
    /// The game is playable.
    Launch { t: u64 },
}

impl Step {
    /// The game's clock at this step.
    pub fn t(&self) -> u64 {
        match self {
            Step::Read { t, .. } | Step::Launch { t } => *t,
        }
    }
}

/// A line as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    t: u64,
    path: Option<String>,
    offset: Option<u64>,
    len: Option<u64>,
    launch: Option<bool>,
}

/// Reads the script at `path` against the build of `layout`: every read must name a regular
/// file of the build and lie inside it, `t` must never go back, and there is one launch.
pub fn read(path: &Path, layout: &Layout) -> Result<Vec<Step>, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClientError::io(path, e))?;
    let bad = |n: usize, why: String| {
        ClientError::Input(format!("{} line {}: {why}", path.display(), n + 1))
    };
    let mut steps = Vec::new();
    let mut last_t = 0;
    for (n, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(text).map_err(|e| bad(n, e.to_string()))?;
        if line.t < last_t {
            return Err(bad(n, format!("t goes back from {last_t} to {}", line.t)));
        }
        last_t = line.t;
        let step = match line {
            Line {
                t,
                launch: Some(true),
                path: None,
                ..
            } => Step::Launch { t },
            Line {
                t,
                path: Some(file),
                offset: Some(offset),
                len: Some(len),
                launch: None,
            } => {
                let entry = layout
                    .entries
                    .binary_search_by(|e| e.path.as_str().cmp(&file))
                    .ok()
                    .filter(|&i| layout.entries[i].kind == EntryKind::Regular)
                    .ok_or_else(|| bad(n, format!("'{file}' is not a file of the build")))?;
                let size = layout.entries[entry].size;
                if offset.checked_add(len).is_none_or(|end| end > size) {
                    return Err(bad(n, format!("'{file}' has {size} bytes")));
                }
                Step::Read {
                    t,
                    entry,
                    offset,
                    len,
                }
            }
            _ => return Err(bad(n, "neither a read nor a launch".into())),
        };
        steps.push(step);
    }
    if steps
        .iter()
        .filter(|s| matches!(s, Step::Launch { .. }))
        .count()
        != 1
    {
        return Err(ClientError::Input(format!(
            "{}: a script has exactly one launch line",
            path.display()
        )));
    }
    Ok(steps)
}
