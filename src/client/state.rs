//! The state dir `DIR/.rockit/` of an install: which build the tree is (or is becoming), that
//! image's `img.json` and index, and which chunks of its image are in the tree. It is what
//! lets a killed install resume without fetching a verified chunk twice, and what `verify`
//! checks the tree against.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{AtPath, ClientError};

/// Name of the state dir inside an install (a build may not have a path of that name).
pub const STATE_DIR: &str = ".rockit";
/// What the tree is.
const STATE_FILE: &str = "installed.json";
/// One bit per chunk of the image: set once the chunk's bytes are in the tree.
const PRESENT_FILE: &str = "chunks.present";

/// What the tree holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Installed {
    /// The build.
    pub build_id: u64,
    /// Its image.
    pub dxf_name: String,
    /// True once every file was checked against its MD5 and the links and modes are made:
    /// only then does the tree claim to be the build.
    pub complete: bool,
}

/// The state dir of an install directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state dir of the install in `dir` (not created yet).
    pub fn of(dir: &Path) -> Self {
        Self {
            root: dir.join(STATE_DIR),
        }
    }

    /// A file of the state dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The state dir itself.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Creates the state dir.
    pub fn create(&self) -> Result<(), ClientError> {
        fs::create_dir_all(&self.root).at(&self.root)
    }

    /// What the tree holds, if an install ever started there.
    pub fn load(&self) -> Result<Option<Installed>, ClientError> {
        let path = self.path(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ClientError::Input(format!("{} is damaged: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(&path, e)),
        }
    }

    /// Records what the tree holds.
    pub fn save(&self, installed: &Installed) -> Result<(), ClientError> {
        let mut bytes = serde_json::to_vec_pretty(installed)
            .map_err(|e| ClientError::Input(format!("cannot encode the state: {e}")))?;
        bytes.push(b'\n');
        write_atomic(&self.path(STATE_FILE), &bytes)
    }

    /// Where the chunks of the image present in the tree are recorded.
    pub fn present_path(&self) -> PathBuf {
        self.path(PRESENT_FILE)
    }

    /// Forgets which chunks are present (a new image is coming).
    pub fn forget_present(&self) -> Result<(), ClientError> {
        let path = self.path(PRESENT_FILE);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ClientError::io(&path, e)),
            _ => Ok(()),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename (the engine's), so a crash
/// leaves the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    Ok(crate::engine::write_atomic(path, bytes)?)
}

/// One bit per chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    bytes: Vec<u8>,
    len: u64,
}

impl Bitmap {
    /// `len` bits, all clear.
    pub fn new(len: u64) -> Self {
        Self {
            bytes: vec![0; len.div_ceil(8) as usize],
            len,
        }
    }

    /// `len` bits, all set.
    pub fn full(len: u64) -> Self {
        let mut bits = Self::new(len);
        for i in 0..len {
            bits.set(i, true);
        }
        bits
    }

    /// The bits recorded at `path` for `len` bits; all clear when the record is missing or
    /// made for another length.
    pub fn load(path: &Path, len: u64) -> Self {
        let mut bits = Bitmap::new(len);
        if let Ok(bytes) = fs::read(path)
            && bytes.len() == bits.bytes.len()
        {
            bits.bytes = bytes;
            // Bits past the last mean nothing; a damaged record must not count them.
            for i in len..bits.bytes.len() as u64 * 8 {
                bits.bytes[(i / 8) as usize] &= !(1 << (i % 8));
            }
        }
        bits
    }

    /// Records the bits at `path`.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        write_atomic(path, &self.bytes)
    }

    /// Bit `i`.
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (1 << (i % 8)) != 0
    }

    /// Sets bit `i` to `value`.
    pub fn set(&mut self, i: u64, value: bool) {
        if i >= self.len {
            return;
        }
        let mask = 1 << (i % 8);
        let byte = &mut self.bytes[(i / 8) as usize];
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }

    /// The set bits, in order.
    pub fn ones(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).filter(|&i| self.get(i))
    }

    /// Number of set bits.
    pub fn count(&self) -> u64 {
        self.bytes.iter().map(|b| u64::from(b.count_ones())).sum()
    }
}
