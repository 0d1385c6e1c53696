//! `.rockit/next/`: the update under way, and what it is being made into.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::client::error::{AtPath, ClientError};
use crate::client::state::{StateDir, write_atomic};

/// The update under way, in `.rockit/next/`.
const NEXT_DIR: &str = "next";
const UPDATE_FILE: &str = "update.json";

/// What `.rockit/next/` is being made into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Pending {
    pub from_build_id: u64,
    pub to_build_id: u64,
    pub to_dxf_name: String,
    /// True once every new file is built and checked: the renames into the tree began.
    pub committing: bool,
}

/// The paths of `.rockit/next/`.
pub(super) struct Next {
    pub root: PathBuf,
}

impl Next {
    pub(super) fn of(state: &StateDir) -> Self {
        Self {
            root: state.path(NEXT_DIR),
        }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The old image's `img.json` and index, copied here when the renames begin.
    pub(super) fn old_dir(&self) -> PathBuf {
        self.path("old")
    }

    pub(super) fn patch_dir(&self) -> PathBuf {
        self.path("patch")
    }

    /// Where new file `entry` is built.
    pub(super) fn staged(&self, entry: usize) -> PathBuf {
        self.path("files").join(entry.to_string())
    }

    pub(super) fn load(&self) -> Result<Option<Pending>, ClientError> {
        let path = self.path(UPDATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(&path, e)),
        }
    }

    pub(super) fn save(&self, pending: &Pending) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec_pretty(pending)
            .map_err(|e| ClientError::Input(format!("cannot encode the update: {e}")))?;
        write_atomic(&self.path(UPDATE_FILE), &bytes)
    }

    /// Starts (or continues) the update to `pending`: what an earlier run left for another
    /// target is removed.
    pub(super) fn begin(&self, pending: &Pending) -> Result<(), ClientError> {
        let same = |p: &Pending| {
            (p.from_build_id, p.to_build_id, &p.to_dxf_name)
                == (
                    pending.from_build_id,
                    pending.to_build_id,
                    &pending.to_dxf_name,
                )
        };
        if self.load()?.is_some_and(|p| !same(&p)) {
            fs::remove_dir_all(&self.root).at(&self.root)?;
        }
        for dir in [self.root.clone(), self.patch_dir(), self.path("files")] {
            fs::create_dir_all(&dir).at(&dir)?;
        }
        self.save(pending)
    }
}
