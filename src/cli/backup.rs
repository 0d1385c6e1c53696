//! `backup` and `restore`: one archive of an appliance's state, from the running server (which
//! snapshots its store without stopping) or from a stopped data dir; restored into an empty
//! directory only after every byte was checked.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures_util::StreamExt;

use super::local::{LocalServer, runtime};
use crate::config::Config;
use crate::datadir::DataDir;
use crate::ops::backup::{Manifest, Staging};
use crate::ops::read_manifest;
use crate::store::snapshot;

/// Writes a backup of the configured data dir's appliance to `to`.
pub fn backup(config: &Config, to: &Path, with_depot: bool) -> anyhow::Result<()> {
    let partial = partial_name(to);
    let written = match LocalServer::find(config, "backup", None)? {
        Some(server) => from_server(&server, &partial, with_depot),
        None => from_data_dir(config, &partial, with_depot),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to).with_context(|| format!("cannot rename to {}", to.display()))?;
    let manifest = read_manifest(to)?;
    println!("{}", summary(to, &manifest)?);
    Ok(())
}

/// Restores `archive` into `data_dir` (new or empty).
pub fn restore(archive: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let manifest = crate::ops::restore(archive, data_dir)?;
    println!(
        "restored {} into {}: store schema {}, {} files{}",
        archive.display(),
        data_dir.display(),
        manifest.schema_version,
        manifest.files.len(),
        if manifest.with_depot {
            format!(", the depot's {} files included", manifest.depot.len())
        } else {
            format!(
                "; the depot is not in the archive: copy its {} files into {}/depot (its manifest lists them with their MD5s)",
                manifest.depot.len(),
                data_dir.display()
            )
        }
    );
    Ok(())
}

fn partial_name(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    to.with_file_name(name)
}

fn from_server(server: &LocalServer, partial: &Path, with_depot: bool) -> anyhow::Result<()> {
    let path = format!("/adm/v1/backup?withDepot={with_depot}");
    let url = server.url(&path);
    runtime()?.block_on(async {
        let response = server
            .request(reqwest::Method::GET, &path)
            .send()
            .await
            .with_context(|| format!("no answer from {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("{url} answered {status}: {body}");
        }
        let mut file = std::fs::File::create(partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.with_context(|| format!("{url} broke off"))?;
            file.write_all(&chunk)
                .with_context(|| format!("cannot write {}", partial.display()))?;
        }
        file.sync_all()
            .with_context(|| format!("cannot write {}", partial.display()))
    })
}

fn from_data_dir(config: &Config, partial: &Path, with_depot: bool) -> anyhow::Result<()> {
    let data_dir = DataDir::new(&config.storage.data_dir);
    let staging = Staging::new(&data_dir)?;
    snapshot::snapshot_file(&data_dir.store_file(), &staging.store_file())?;
    let schema = snapshot::schema_of(&staging.store_file())?;
    let staged = staging.complete(&data_dir, schema, with_depot)?;
    let mut file = std::fs::File::create(partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    std::io::copy(&mut staged.reader(), &mut file)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", partial.display()))
}

fn summary(to: &Path, manifest: &Manifest) -> anyhow::Result<String> {
    let size = std::fs::metadata(to)?.len();
    Ok(format!(
        "wrote {}: {size} bytes, store schema {}, {} files, depot: {} files{}",
        to.display(),
        manifest.schema_version,
        manifest.files.len(),
        manifest.depot.len(),
        if manifest.with_depot {
            " (in the archive)"
        } else {
            " (manifest only)"
        }
    ))
}
