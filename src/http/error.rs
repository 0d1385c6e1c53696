//! The one API error type and its JSON body: `{"status":"error","error":code,"message":...}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::AuthError;
use crate::codes::{self, ErrorCode, Kind};
use crate::domain::DomainError;

/// Seconds a client should wait during maintenance.
pub const MAINTENANCE_RETRY_AFTER: u64 = 900;

/// An error response of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a code of [`codes`] (its status comes with it) and a message telling the
    /// caller what to fix.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = match code.kind {
            Kind::Api(status) => StatusCode::from_u16(status),
            Kind::Exception => StatusCode::from_u16(500),
        };
        Self {
            status: status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid-param`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_PARAM, message)
    }

    /// 400 `missing-param`.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(codes::MISSING_PARAM, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(codes::UNAUTHORIZED, message)
    }

    /// 404 `not-found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(codes::NOT_FOUND, message)
    }

    /// 413 `payload-too-large`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            codes::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 503 `maintenance` with `Retry-After`.
    pub fn maintenance() -> Self {
        Self {
            retry_after: Some(MAINTENANCE_RETRY_AFTER),
            ..Self::new(
                codes::MAINTENANCE,
                "the appliance is in maintenance mode; retry later",
            )
        }
    }

    /// The error for a status produced outside the handlers (routing, method matching).
    pub fn for_status(status: StatusCode, method: &str, path: &str) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found(format!("no route {method} {path}")),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                codes::METHOD_NOT_ALLOWED,
                format!("method {method} is not allowed on {path}"),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(codes::PAYLOAD_TOO_LARGE, "the request body is too large")
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Self::new(
                codes::RANGE_NOT_SATISFIABLE,
                format!("the requested range of {path} lies outside the file"),
            ),
            s if s.is_client_error() => Self::invalid(format!(
                "the request was refused: {}",
                s.canonical_reason().unwrap_or("bad request")
            )),
            _ => Self::internal(),
        }
    }

    /// 500 `internal`, never leaking details (they are logged).
    pub fn internal() -> Self {
        Self::new(
            codes::INTERNAL,
            "an internal error occurred; it has been logged",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status).json(json!({
            "status": "error",
            "error": self.code,
            "message": self.message,
        }));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let message = error.to_string();
        match error {
            DomainError::Missing { .. } => Self::missing(message),
            DomainError::Invalid { .. } => Self::invalid(message),
            DomainError::NotFound { .. } => Self::not_found(message),
            DomainError::Exists { .. } => Self::new(codes::ITEM_EXISTS, message),
            DomainError::Protected(_) => Self::new(codes::ITEM_PROTECTED, message),
            DomainError::Locked(_) => Self::new(codes::APP_LOCKED, message),
            DomainError::TooLarge(_) => Self::new(codes::PAYLOAD_TOO_LARGE, message),
            DomainError::Unsatisfiable(_) => Self::new(codes::RANGE_NOT_SATISFIABLE, message),
            DomainError::BadSignature(_) => Self::new(codes::SIGNATURE_INVALID, message),
            DomainError::UrlExpired(_) => Self::new(codes::URL_EXPIRED, message),
            DomainError::Auth(auth) => auth.into(),
            DomainError::Forbidden { .. } => Self::new(codes::PERMISSION_DENIED, message),
            DomainError::RateLimited { retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(codes::RATE_LIMITED, message)
            },
            DomainError::Store(_) | DomainError::Internal(_) => {
                tracing::error!(error = %message, "request failed");
                Self::internal()
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let message = error.to_string();
        match error {
            AuthError::Unauthorized(_) => Self::unauthorized(message),
            AuthError::Expired => Self::new(codes::TOKEN_EXPIRED, message),
            AuthError::Invalid(_) => Self::new(codes::TOKEN_INVALID, message),
        }
    }
}
