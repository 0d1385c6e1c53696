//! Packing a directory as a tar stream, deterministically: entries sorted by path, owners
//! zeroed, times and modes as on disk, pax records for long names and large files. The stream's
//! size is known before a byte is read, and it can start at any offset by skipping whole
//! entries, so an interrupted upload continues without staging the tar on disk.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::header::BLOCK;

/// Largest size the ustar size field holds (11 octal digits); larger files get a pax record.
const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;

/// One entry of the planned stream.
#[derive(Debug)]
struct Planned {
    /// Header blocks (a pax header and its records when needed, then the ustar header).
    header: Vec<u8>,
    /// The file whose bytes follow, and how many.
    data: Option<(PathBuf, u64)>,
}

impl Planned {
    fn len(&self) -> u64 {
        self.header.len() as u64 + self.data.as_ref().map_or(0, |(_, size)| padded(*size))
    }
}

/// A directory planned as a tar stream.
#[derive(Debug)]
pub struct TarPlan {
    entries: Vec<Planned>,
    /// Entries that cannot be in a tar (sockets, devices), skipped.
    pub skipped: Vec<String>,
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK) * BLOCK
}

impl TarPlan {
    /// Plans the stream of the tree at `root` (its contents, not the directory itself).
    pub fn of_dir(root: &Path) -> io::Result<TarPlan> {
        let mut plan = TarPlan {
            entries: Vec::new(),
            skipped: Vec::new(),
        };
        plan.walk(root, "")?;
        Ok(plan)
    }

    fn walk(&mut self, dir: &Path, prefix: &str) -> io::Result<()> {
        let mut names: Vec<(String, PathBuf)> = fs::read_dir(dir)?
            .map(|e| e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
            .collect::<io::Result<_>>()?;
        names.sort();
        for (name, path) in names {
            let relative = format!("{prefix}{name}");
            let meta = fs::symlink_metadata(&path)?;
            let kind = meta.file_type();
            let mode = meta.permissions().mode() & 0o7777;
            let mtime = meta.mtime().max(0) as u64;
            if kind.is_dir() {
                self.entries.push(Planned {
                    header: header(&format!("{relative}/"), b'5', mode, 0, mtime, ""),
                    data: None,
                });
                self.walk(&path, &format!("{relative}/"))?;
            } else if kind.is_file() {
                self.entries.push(Planned {
                    header: header(&relative, b'0', mode, meta.len(), mtime, ""),
                    data: Some((path, meta.len())),
                });
            } else if kind.is_symlink() {
                let target = fs::read_link(&path)?.to_string_lossy().into_owned();
                self.entries.push(Planned {
                    header: header(&relative, b'2', mode, 0, mtime, &target),
                    data: None,
                });
            } else {
                self.skipped.push(relative);
            }
        }
        Ok(())
    }

    /// Bytes of the whole stream (entries and the two zero blocks that end it).
    pub fn len(&self) -> u64 {
        self.entries.iter().map(Planned::len).sum::<u64>() + 2 * BLOCK
    }

    /// Identifies the stream's bytes without reading the files: a hash of every header
    /// (names, sizes, modes, times). A resumed upload continues only when it is unchanged.
    pub fn fingerprint(&self) -> String {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for entry in &self.entries {
            hasher.update(&entry.header);
        }
        format!("{:032x}", hasher.digest128())
    }

    /// Whether the tree has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stream from byte `offset` on.
    pub fn reader_from(&self, offset: u64) -> TarStream<'_> {
        TarStream {
            plan: self,
            index: 0,
            within: offset,
            file: None,
        }
    }
}

/// Reads a planned stream. A file that changed size since planning is an error, not a
/// silently different tar.
pub struct TarStream<'p> {
    plan: &'p TarPlan,
    index: usize,
    /// Offset inside the current entry (or the trailer once past the entries).
    within: u64,
    file: Option<File>,
}

impl Read for TarStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(entry) = self.plan.entries.get(self.index) else {
                let left = (2 * BLOCK).saturating_sub(self.within);
                let n = (left as usize).min(buf.len());
                buf[..n].fill(0);
                self.within += n as u64;
                return Ok(n);
            };
            if self.within >= entry.len() {
                self.within -= entry.len();
                self.index += 1;
                self.file = None;
                continue;
            }
            let head = entry.header.len() as u64;
            if self.within < head {
                let from = self.within as usize;
                let n = (entry.header.len() - from).min(buf.len());
                buf[..n].copy_from_slice(&entry.header[from..from + n]);
                self.within += n as u64;
                return Ok(n);
            }
            let Some((path, size)) = &entry.data else {
                self.within = entry.len();
                continue;
            };
            let at = self.within - head;
            let wanted = ((padded(*size) - at) as usize).min(buf.len());
            if at >= *size {
                buf[..wanted].fill(0);
                self.within += wanted as u64;
                return Ok(wanted);
            }
            let file = match &mut self.file {
                Some(file) => file,
                None => {
                    let mut file = File::open(path)?;
                    io::copy(&mut (&mut file).take(at), &mut io::sink())?;
                    self.file.insert(file)
                }
            };
            let n = ((size - at) as usize).min(wanted);
            let read = file.read(&mut buf[..n])?;
            if read == 0 {
                return Err(io::Error::other(format!(
                    "{} changed while it was packed (shorter than {size} bytes)",
                    path.display()
                )));
            }
            self.within += read as u64;
            return Ok(read);
        }
    }
}

/// The header blocks of one entry: a pax header first when the name, the link target or the
/// size does not fit ustar.
fn header(name: &str, kind: u8, mode: u32, size: u64, mtime: u64, link: &str) -> Vec<u8> {
    let mut records = String::new();
    if name.len() > 100 || !name.is_ascii() {
        records.push_str(&pax_record("path", name));
    }
    if link.len() > 100 || !link.is_ascii() {
        records.push_str(&pax_record("linkpath", link));
    }
    if size > USTAR_MAX_SIZE {
        records.push_str(&pax_record("size", &size.to_string()));
    }
    let mut out = Vec::new();
    if !records.is_empty() {
        out.extend(ustar(
            "PaxHeader",
            b'x',
            0o644,
            records.len() as u64,
            mtime,
            "",
        ));
        out.extend(records.as_bytes());
        out.resize(padded(out.len() as u64) as usize, 0);
    }
    out.extend(ustar(
        name,
        kind,
        mode,
        size.min(USTAR_MAX_SIZE),
        mtime,
        link,
    ));
    out
}

/// A pax record: `"<len> <key>=<value>\n"`, its length counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

/// One ustar header block; fields that do not fit are truncated (a pax record holds them).
fn ustar(name: &str, kind: u8, mode: u32, size: u64, mtime: u64, link: &str) -> [u8; 512] {
    let mut block = [0u8; 512];
    let put = |block: &mut [u8; 512], at: usize, len: usize, value: &[u8]| {
        let n = value.len().min(len);
        block[at..at + n].copy_from_slice(&value[..n]);
    };
    let octal = |value: u64, width: usize| format!("{value:0w$o}\0", w = width - 1);
    put(&mut block, 0, 100, name.as_bytes());
    put(&mut block, 100, 8, octal(u64::from(mode), 8).as_bytes());
    put(&mut block, 108, 8, octal(0, 8).as_bytes());
    put(&mut block, 116, 8, octal(0, 8).as_bytes());
    put(&mut block, 124, 12, octal(size, 12).as_bytes());
    put(
        &mut block,
        136,
        12,
        octal(mtime.min(0o77_777_777_777), 12).as_bytes(),
    );
    block[156] = kind;
    put(&mut block, 157, 100, link.as_bytes());
    put(&mut block, 257, 8, b"ustar\x0000");
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|b| u64::from(*b)).sum();
    put(&mut block, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_has_its_planned_size_and_resumes_anywhere() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("a/deep")).expect("mkdir");
        fs::write(root.join("a/deep/file.bin"), vec![5u8; 10_000]).expect("write");
        fs::write(root.join("small"), b"hi").expect("write");
        let long = "n".repeat(150);
        fs::write(root.join(&long), b"long name").expect("write");
        std::os::unix::fs::symlink("small", root.join("link")).expect("symlink");
        let plan = TarPlan::of_dir(root).expect("plan");
        let mut whole = Vec::new();
        plan.reader_from(0).read_to_end(&mut whole).expect("read");
        assert_eq!(whole.len() as u64, plan.len());
        assert_eq!(whole.len() % 512, 0);
        for offset in [1, 511, 512, 1000, 5000, whole.len() as u64 - 1] {
            let mut rest = Vec::new();
            plan.reader_from(offset)
                .read_to_end(&mut rest)
                .expect("read from offset");
            assert_eq!(rest, whole[offset as usize..], "from {offset}");
        }
        let mut again = Vec::new();
        TarPlan::of_dir(root)
            .expect("plan")
            .reader_from(0)
            .read_to_end(&mut again)
            .expect("read");
        assert_eq!(again, whole, "the same tree packs to the same bytes");
    }
}
