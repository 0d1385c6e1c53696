//! `GET`/`HEAD /depot/...`: the appliance's own copy of every published file, for launchers.
//! Streams from disk with `Range` (206, 416), `ETag`, `If-None-Match`, `If-Range`,
//! `Last-Modified`; a valid depot signature (`md5`, `expires`) is required unless the depot is
//! public: tampered → 403, expired → 410.

use actix_files::NamedFile;
use actix_web::{HttpRequest, HttpResponse, web};
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
    let named = NamedFile::from_file(file, path.as_str())
        .map_err(|e| ApiError::from(DomainError::Internal(format!("cannot serve {path}: {e}"))))?
        .use_etag(true)
        .use_last_modified(true)
        .disable_content_disposition()
        .set_content_type(actix_files::file_extension_to_mime(extension_of(&path)));
    Ok(named.into_response(&req))
}

/// JSON files are served as JSON, everything else as bytes.
fn extension_of(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "json"
    } else {
        "bin"
    }
}
