//! The launcher API (`/client/v1`): authenticated by an app's access key in the body; the
//! current build's URLs, and play-session traces in.

use std::future::{Ready, ready};

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use actix_web::{FromRequest, HttpRequest, dev, web};
use futures_util::StreamExt;

use super::actor::client_ip;
use super::address::base_url;
use super::answers::{Reply, reply};
use super::error::ApiError;
use super::signature::{BodyContent, Generators, RequestBody, RequestPart};
use super::state::AppState;
use crate::domain::DomainError;
use crate::domain::downloads::{Authorized, ClientAuth};
use crate::domain::trainings::TraceReceived;
use crate::engine::trace::Encoding;

/// `POST /client/v1/auth`: the current build's files and signed URLs to fetch them.
pub async fn auth(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ClientAuth>,
) -> Result<Reply<Authorized>, ApiError> {
    let client = client_ip(&req, &state.trusted_proxies);
    let answer = state
        .downloads
        .client_auth(body.into_inner(), &base_url(&req), client)
        .await?;
    reply("authorized", answer)
}

/// `POST /client/v1/traces`: one play-session trace, JSON with the access key's fields
/// (`orgName`, `appName`, `accessKey`) beside the trace's, optionally `Content-Encoding: gzip`
/// or `zstd`. The body is read up to the configured limit (413 beyond).
pub async fn traces(
    state: web::Data<AppState>,
    req: HttpRequest,
    TraceUpload(mut payload): TraceUpload,
) -> Result<Reply<TraceReceived>, ApiError> {
    let encoding = match req
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") => Encoding::Identity,
        Some("gzip") | Some("x-gzip") => Encoding::Gzip,
        Some("zstd") => Encoding::Zstd,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Content-Encoding {other:?} is not supported; send identity, gzip or zstd"
            )));
        }
    };
    let limit = state.trainings.max_body();
    let too_large = || {
        ApiError::from(DomainError::TooLarge(format!(
            "a trace body may have at most {limit} bytes as sent"
        )))
    };
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("the body broke off: {e}")))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let answer = state.trainings.receive(body, encoding).await?;
    reply("trace received", answer)
}

/// A trace upload's body, streamed in as sent (identity, gzip or zstd) and documented as the
/// JSON it decodes to: the access key's fields beside the trace's (docs/FORMAT.md).
pub struct TraceUpload(web::Payload);

impl FromRequest for TraceUpload {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        ready(
            web::Payload::from_request(req, payload)
                .into_inner()
                .map(Self),
        )
    }
}

impl RequestPart for TraceUpload {
    fn body(_generators: &mut Generators) -> Option<RequestBody> {
        let schema = schemars::json_schema!({
            "type": "object",
            "description": "one play-session trace with the access key that opens its app",
            "required": ["orgName", "appName", "accessKey", "dxfName", "blockSize", "reads"],
            "properties": {
                "orgName": {"type": "string"},
                "appName": {"type": "string"},
                "accessKey": {"type": "string"},
                "dxfName": {"type": "string", "description": "the image the game read"},
                "blockSize": {"type": "integer", "const": 4096},
                "launchMs": {"type": "integer", "minimum": 0, "description": "milliseconds until the game became playable"},
                "reads": {
                    "type": "array",
                    "description": "[tMs, firstBlock, blockCount] of every read, in the order made",
                    "items": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0},
                        "minItems": 3,
                        "maxItems": 3,
                    },
                },
            },
        });
        Some(RequestBody {
            required: true,
            content: BodyContent::Json(schema),
        })
    }
}
