//! Which new files are built, and putting them into the tree.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::next::{Next, Pending};
use crate::client::error::{AtPath, ClientError};
use crate::client::layout::Layout;
use crate::client::state::{Bitmap, Installed, StateDir};
use crate::client::tree::{self, Targets};
use crate::engine::image::{IMG_JSON, INDEX_FILE};
use crate::engine::tar::EntryKind;

/// Where each new regular file is built: nowhere when the installed file at its path is
/// already the same (size and MD5), else its staging file.
pub(super) fn staged_targets(next: &Next, old: &Layout, new: &Layout) -> Targets {
    let installed: HashMap<&str, (u64, [u8; 16])> = old
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Regular)
        .map(|e| (e.path.as_str(), (e.size, e.md5)))
        .collect();
    new.entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let same = installed.get(e.path.as_str()) == Some(&(e.size, e.md5));
            (e.kind == EntryKind::Regular && !same).then(|| next.staged(i))
        })
        .collect()
}

/// Copies into their staging files the new files that some installed file already is (a
/// moved or renamed file); returns the others that have bytes to fetch.
pub(super) fn copy_moved(
    dir: &Path,
    old: &Layout,
    new: &Layout,
    targets: &Targets,
) -> Result<Vec<usize>, ClientError> {
    let installed: HashMap<(u64, [u8; 16]), &str> = old
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Regular && e.size > 0)
        .map(|e| ((e.size, e.md5), e.path.as_str()))
        .collect();
    let mut fetch = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let (Some(target), e) = (target, &new.entries[i]) else {
            continue;
        };
        match installed.get(&(e.size, e.md5)) {
            Some(path) => {
                let from = dir.join(path);
                fs::copy(&from, target).at(&from)?;
            }
            None if e.size > 0 => fetch.push(i),
            None => {}
        }
    }
    Ok(fetch)
}

/// Renames the built files into the tree, removes what the new build no longer has, makes
/// links and modes, and records the new build. Safe to run again after a crash: what was
/// renamed already is skipped.
pub(super) fn commit(
    dir: &Path,
    state: &StateDir,
    next: &Next,
    pending: &Pending,
) -> Result<(), ClientError> {
    let old_dir = next.old_dir();
    if !old_dir.join(INDEX_FILE).exists() {
        fs::create_dir_all(&old_dir).at(&old_dir)?;
        for name in [IMG_JSON, INDEX_FILE] {
            let (from, to) = (state.path(name), old_dir.join(name));
            let part = to.with_extension("part");
            fs::copy(&from, &part).at(&from)?;
            fs::rename(&part, &to).at(&to)?;
        }
    }
    let new_dir = if next.path(INDEX_FILE).exists() {
        next.root.clone()
    } else {
        state.dir().to_path_buf()
    };
    let new = Layout::read(&new_dir)?;
    let old = Layout::read(&old_dir)?;
    state.save(&Installed {
        build_id: pending.to_build_id,
        dxf_name: pending.to_dxf_name.clone(),
        complete: false,
    })?;
    tree::prepare_dirs(dir, &new)?;
    for (i, staged) in staged_targets(next, &old, &new).iter().enumerate() {
        let Some(staged) = staged.as_ref().filter(|s| s.exists()) else {
            continue;
        };
        let to = dir.join(&new.entries[i].path);
        if fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(&to).at(&to)?;
        }
        fs::rename(staged, &to).at(&to)?;
        crate::crashpoints::crash_point("client-update-renamed");
    }
    let kept: std::collections::HashSet<&str> =
        new.entries.iter().map(|e| e.path.as_str()).collect();
    for e in old
        .entries
        .iter()
        .rev()
        .filter(|e| !kept.contains(e.path.as_str()))
    {
        let path = dir.join(&e.path);
        match fs::symlink_metadata(&path) {
            // A directory the new build no longer has goes only when empty: it may hold the
            // player's own files.
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_dir(&path);
            }
            Ok(_) => fs::remove_file(&path).at(&path)?,
            Err(_) => {}
        }
    }
    tree::finish(dir, &new)?;
    if new_dir == next.root {
        for name in [IMG_JSON, INDEX_FILE] {
            fs::rename(next.path(name), state.path(name)).at(&state.path(name))?;
        }
    }
    Bitmap::full(new.chunks.count()).save(&state.present_path())?;
    state.save(&Installed {
        build_id: pending.to_build_id,
        dxf_name: pending.to_dxf_name.clone(),
        complete: true,
    })?;
    fs::remove_dir_all(&next.root).at(&next.root)
}
