//! Extractors and extractor configs: authentication, and JSON/query/path errors in the API shape.

use std::future::{Ready, ready};

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Header carrying the instance administrator's token.
pub const ADMIN_TOKEN_HEADER: &str = "x-rockit-admin-token";

/// The instance administrator, admitted by [`super::routes::authorize`] for a route declared
/// `Need::Admin`; a handler taking it on any other route fails closed.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    pub username: String,
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let admitted = req.extensions().get::<AdminCaller>().cloned();
        ready(admitted.ok_or_else(|| {
            tracing::error!(path = %req.path(), "an admin handler runs on a route not declared for the administrator");
            ApiError::internal()
        }))
    }
}

/// A JSON body that may be left out (no bytes at all); a body that is sent must parse, so a
/// misspelt field is refused rather than read as no body.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let length = headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        let absent = match length {
            Some(length) => length == 0,
            None => !headers.contains_key(TRANSFER_ENCODING),
        };
        if absent {
            return Box::pin(ready(Ok(Self(None))));
        }
        let body = web::Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(Self(Some(body.await?.into_inner()))) })
    }
}

/// JSON bodies: size limit, lenient content type, and API-shaped errors.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type_required(false)
        .error_handler(move |err, _| json_error(err, limit).into())
}

fn json_error(err: JsonPayloadError, limit: usize) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::too_large(limit)
        }
        JsonPayloadError::ContentType => ApiError::invalid("Content-Type must be application/json"),
        JsonPayloadError::Deserialize(e) => {
            let text = e.to_string();
            match missing_field(&text) {
                Some(field) => ApiError::missing(format!("{field} is required")),
                None if e.is_data() => ApiError::invalid(format!("the body does not fit: {text}")),
                None => ApiError::invalid(format!("the body is not valid JSON: {text}")),
            }
        }
        other => ApiError::invalid(format!("cannot read the body: {other}")),
    }
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Query strings: API-shaped errors naming the problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let QueryPayloadError::Deserialize(e) = &err else {
            return ApiError::invalid(format!("bad query string: {err}")).into();
        };
        let text = e.to_string();
        match missing_field(&text) {
            Some(field) => ApiError::missing(format!("query parameter {field} is required")).into(),
            None => ApiError::invalid(format!("bad query string: {text}")).into(),
        }
    })
}

/// Path segments: API-shaped errors.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err: PathError, _| ApiError::invalid(format!("bad path: {err}")).into())
}

#[cfg(test)]
mod tests {
    use super::missing_field;

    #[test]
    fn finds_missing_field() {
        assert_eq!(
            missing_field("missing field `name` at line 1 column 2"),
            Some("name")
        );
        assert_eq!(missing_field("expected value"), None);
    }
}
