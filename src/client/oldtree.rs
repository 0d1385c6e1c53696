//! The installed tree read as the image it was installed from: a launcher keeps files, not
//! `img.dxf`, yet a patch copies from the old image's blocks. Each old image block is read
//! from one of the files the old index places it in.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::layout::Layout;
use crate::engine::delta::OldSource;
use crate::engine::image::BLOCK_SIZE;

/// Files kept open at most while reading.
const OPEN_FILES: usize = 64;

/// The tree in `dir` as the image of `layout`.
pub struct OldTree {
    dir: PathBuf,
    layout: Arc<Layout>,
    open: Mutex<HashMap<u32, Arc<File>>>,
}

impl OldTree {
    /// The tree in `dir`, installed from the image of `layout`.
    pub fn new(dir: PathBuf, layout: Arc<Layout>) -> Self {
        Self {
            dir,
            layout,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self, entry: u32) -> io::Result<Arc<File>> {
        // A poisoned lock only means a reader panicked; the open files are still valid.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = open.get(&entry) {
            return Ok(Arc::clone(file));
        }
        if open.len() >= OPEN_FILES {
            open.clear();
        }
        let path = self.dir.join(&self.layout.entries[entry as usize].path);
        let file = Arc::new(File::open(path)?);
        open.insert(entry, Arc::clone(&file));
        Ok(file)
    }

    /// Reads old image block `block` into `buf` (4096 bytes).
    pub fn read_block(&self, block: u64, buf: &mut [u8]) -> io::Result<()> {
        let (entry, file_block) = self.layout.locate(block).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("block {block} of the installed image belongs to no file"),
            )
        })?;
        let size = self.layout.entries[entry as usize].size;
        let offset = file_block * BLOCK_SIZE;
        let len = BLOCK_SIZE.min(size.saturating_sub(offset)) as usize;
        self.file(entry)?.read_exact_at(&mut buf[..len], offset)?;
        buf[len..].fill(0);
        Ok(())
    }
}

impl OldSource for OldTree {
    fn size(&self) -> u64 {
        self.layout.meta.dxf_size
    }

    fn read_exact_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut block = [0u8; BLOCK_SIZE as usize];
        let mut done = 0;
        while done < buf.len() {
            let at = pos + done as u64;
            self.read_block(at / BLOCK_SIZE, &mut block)?;
            let skip = (at % BLOCK_SIZE) as usize;
            let n = (BLOCK_SIZE as usize - skip).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&block[skip..skip + n]);
            done += n;
        }
        Ok(())
    }
}
