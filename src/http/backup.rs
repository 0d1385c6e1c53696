//! `GET /adm/v1/backup`: a backup of the running appliance, streamed as a tar (what
//! `rockit-edge backup` saves); `?withDepot=true` adds the depot's files.

use std::io::Read;

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::AdminCaller;
use super::state::AppState;

/// Bytes sent at a time.
const CHUNK: usize = 1 << 20;

/// `?withDepot=true` puts the depot's files in the archive (else only their manifest).
#[derive(Deserialize)]
pub struct BackupQuery {
    #[serde(default, rename = "withDepot")]
    pub with_depot: bool,
}

/// Stages the backup, then streams it; the staging goes away once the last byte is read (or
/// the client left).
pub async fn download(
    state: web::Data<AppState>,
    admin: AdminCaller,
    query: web::Query<BackupQuery>,
) -> Result<HttpResponse, ApiError> {
    let staged = state.backups.stage(query.with_depot).await?;
    let len = staged.len();
    tracing::info!(admin = %admin.username, bytes = len, with_depot = query.with_depot, files = staged.manifest().files.len(), "backup staged");
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<web::Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = staged.reader();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let chunk = match reader.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => Ok(web::Bytes::copy_from_slice(&buffer[..n])),
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if sender.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-tar")
        .no_chunking(len)
        .streaming(body))
}
