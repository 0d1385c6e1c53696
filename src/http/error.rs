//! The one API error type and its JSON body: `{"status":"error","error":code,"message":...}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::AuthError;
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
    /// An error with a status, a stable code and a message telling the caller what to fix.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid-param`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-param", message)
    }

    /// 400 `missing-param`.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "missing-param", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 413 `payload-too-large`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 503 `maintenance` with `Retry-After`.
    pub fn maintenance() -> Self {
        Self {
            retry_after: Some(MAINTENANCE_RETRY_AFTER),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "maintenance",
                "the appliance is in maintenance mode; retry later",
            )
        }
    }

    /// The error for a status produced outside the handlers (routing, method matching).
    pub fn for_status(status: StatusCode, method: &str, path: &str) -> Self {
        match status {
            StatusCode::NOT_FOUND => {
                Self::new(status, "not-found", format!("no route {method} {path}"))
            }
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "method-not-allowed",
                format!("method {method} is not allowed on {path}"),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(status, "payload-too-large", "the request body is too large")
            }
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
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
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
            DomainError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not-found", message),
            DomainError::Exists { .. } => Self::new(StatusCode::CONFLICT, "item-exists", message),
            DomainError::Protected(_) => Self::new(StatusCode::CONFLICT, "item-protected", message),
            DomainError::Auth(auth) => auth.into(),
            DomainError::Forbidden { .. } => {
                Self::new(StatusCode::FORBIDDEN, "permission-denied", message)
            }
            DomainError::RateLimited { retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message)
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
            AuthError::Expired => Self::new(StatusCode::UNAUTHORIZED, "token-expired", message),
            AuthError::Invalid(_) => Self::new(StatusCode::UNAUTHORIZED, "token-invalid", message),
        }
    }
}
