//! `PUT /upload/v1/{task}?expires=&signature=`: the resumable upload of a build, in the
//! manner of Google Cloud Storage's resumable uploads. `Content-Range: bytes FIRST-LAST/TOTAL`
//! sends a piece (continuing at FIRST, which must not leave a gap); an empty `PUT` with
//! `Content-Range: bytes */TOTAL` asks how far the upload got. The answer is `308` with
//! `Range: bytes=0-N` (the bytes stored; no `Range` when none) until every byte is there,
//! then `200`. A `PUT` without `Content-Range` sends the whole tar.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use actix_web::{Either, HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::answers::{Reply, reply};
use super::error::ApiError;
use super::state::AppState;
use crate::domain::builds::{PutRange, UploadState};

/// The query of an upload URL.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    expires: i64,
    signature: String,
}

/// The answer of the `PUT` that completes an upload.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadComplete {
    size_bytes: u64,
    /// The import task now processing the build.
    task_name: String,
}

/// `PUT /upload/v1/{task}`: a part answers 308 with the bytes stored, the last part 200.
pub async fn put(
    state: web::Data<AppState>,
    task: web::Path<String>,
    query: web::Query<UploadQuery>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<Either<Reply<UploadComplete>, HttpResponse>, ApiError> {
    let range = put_range(&req)?;
    let body =
        tokio_util::io::StreamReader::new(body.map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e.to_string())
        }));
    let state = state
        .builds
        .receive(&task, query.expires, &query.signature, range, body)
        .await?;
    match state {
        UploadState::Complete {
            received,
            task_name,
        } => Ok(Either::Left(reply(
            "upload complete; the build is being processed",
            UploadComplete {
                size_bytes: received,
                task_name,
            },
        )?)),
        UploadState::Incomplete { received } => {
            let mut response = HttpResponse::build(StatusCode::PERMANENT_REDIRECT);
            if received > 0 {
                response.insert_header((RANGE, format!("bytes=0-{}", received - 1)));
            }
            Ok(Either::Right(response.json(json!({
                "status": "success",
                "message": format!("{received} bytes stored; send the rest"),
                "sizeBytes": received,
            }))))
        }
    }
}

/// Reads `Content-Range` (absent: the whole tar in one body).
fn put_range(req: &HttpRequest) -> Result<PutRange, ApiError> {
    let Some(header) = req.headers().get(CONTENT_RANGE) else {
        let total = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        return Ok(PutRange::Bytes {
            first: 0,
            last: total.and_then(|t: u64| t.checked_sub(1)),
            total,
        });
    };
    let malformed = || {
        ApiError::invalid(
            "Content-Range must be `bytes FIRST-LAST/TOTAL` or `bytes */TOTAL` (TOTAL may be `*`)",
        )
    };
    let text = header.to_str().map_err(|_| malformed())?;
    let spec = text.trim().strip_prefix("bytes ").ok_or_else(malformed)?;
    let (span, total) = spec.split_once('/').ok_or_else(malformed)?;
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse::<u64>().map_err(|_| malformed())?),
    };
    if span.trim() == "*" {
        return Ok(PutRange::Query { total });
    }
    let (first, last) = span.split_once('-').ok_or_else(malformed)?;
    let (first, last) = (
        first.trim().parse::<u64>().map_err(|_| malformed())?,
        last.trim().parse::<u64>().map_err(|_| malformed())?,
    );
    if last < first || total.is_some_and(|t| last >= t) {
        return Err(malformed());
    }
    Ok(PutRange::Bytes {
        first,
        last: Some(last),
        total,
    })
}
