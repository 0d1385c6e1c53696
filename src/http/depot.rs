//! `GET`/`HEAD /depot/...`: the appliance's own copy of every published file, for launchers.
//! Streams from disk with `Range` (206, 416), `ETag`, `If-None-Match`, `If-Range`,
//! `Last-Modified`; a valid depot signature (`md5`, `expires`) is required unless the depot is
//! public: tampered → 403, expired → 410. `actix-files` decides the status and headers; the
//! bytes come in 1 MiB reads, two in flight, so a large download costs few thread hand-offs.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use actix_files::NamedFile;
use actix_web::body::{BodySize, BoxBody, MessageBody, SizedStream};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_RANGE;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;

use super::error::ApiError;
use super::state::AppState;
use crate::domain::DomainError;

/// The signature of a depot URL.
#[derive(Debug, Deserialize)]
pub struct Signature {
    md5: Option<String>,
    expires: Option<i64>,
}

/// `GET` and `HEAD /depot/{path}`.
pub async fn serve(
    state: web::Data<AppState>,
    path: web::Path<String>,
    signature: web::Query<Signature>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let file = state
        .depot
        .open(
            &path,
            req.path(),
            signature.md5.as_deref(),
            signature.expires,
        )
        .await?;
    let reader = file
        .try_clone()
        .map_err(|e| ApiError::from(DomainError::Internal(format!("cannot serve {path}: {e}"))))?;
    let named = NamedFile::from_file(file, path.as_str())
        .map_err(|e| ApiError::from(DomainError::Internal(format!("cannot serve {path}: {e}"))))?
        .use_etag(true)
        .use_last_modified(true)
        .disable_content_disposition()
        .set_content_type(actix_files::file_extension_to_mime(extension_of(&path)));
    let mut response = named.into_response(&req);
    if let Some((offset, length)) = served_span(&response) {
        response = response.set_body(BoxBody::new(SizedStream::new(
            length,
            file_body(reader, offset, length),
        )));
    }
    Ok(response)
}

/// Bytes read per step.
const READ_CHUNK: u64 = 1 << 20;

/// The part of the file a response with a body carries: all of it (200) or its
/// `Content-Range` (206).
fn served_span(response: &HttpResponse) -> Option<(u64, u64)> {
    let length = match response.body().size() {
        BodySize::Sized(length) if length > 0 => length,
        _ => return None,
    };
    match response.status() {
        StatusCode::OK => Some((0, length)),
        StatusCode::PARTIAL_CONTENT => {
            let range = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
            let first = range
                .strip_prefix("bytes ")?
                .split('-')
                .next()?
                .parse()
                .ok()?;
            Some((first, length))
        }
        _ => None,
    }
}

/// The bytes `offset..offset + length` of `file`, read on the blocking pool a chunk at a time,
/// the next read running while the previous chunk is sent.
fn file_body(
    file: std::fs::File,
    offset: u64,
    length: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let file = Arc::new(file);
    let steps = (0..length.div_ceil(READ_CHUNK)).map(move |step| {
        let at = step * READ_CHUNK;
        (offset + at, READ_CHUNK.min(length - at) as usize)
    });
    futures_util::stream::iter(steps)
        .map(move |(at, len)| {
            let file = Arc::clone(&file);
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut buffer = vec![0u8; len];
                    file.read_exact_at(&mut buffer, at)
                        .map(|()| Bytes::from(buffer))
                })
                .await
                .map_err(std::io::Error::other)?
            }
        })
        .buffered(2)
}

/// JSON files are served as JSON, everything else as bytes.
fn extension_of(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "json"
    } else {
        "bin"
    }
}
