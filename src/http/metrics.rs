//! `GET /metrics`: the Prometheus exposition, for the addresses in `metrics.allow_from` or a
//! caller with the instance administrator's token.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};

use super::actor::client_ip;
use super::error::ApiError;
use super::extract::ADMIN_TOKEN_HEADER;
use super::state::AppState;
use crate::metrics;

/// The exposition, in the Prometheus text format.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let allowed = client_ip(&req, &state.trusted_proxies)
        .is_some_and(|ip| state.metrics_allow.iter().any(|range| range.contains(ip)));
    if !allowed {
        let token = admin_token(&req).ok_or_else(|| {
            ApiError::unauthorized(format!(
                "metrics are served to the addresses of metrics.allow_from, or with an admin token in {ADMIN_TOKEN_HEADER} or Authorization: Bearer"
            ))
        })?;
        state.admin.verify(token)?;
    }
    let census = state.tasks.census().await?;
    let build = [
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("store_schema", crate::store::SCHEMA_VERSION.to_string()),
        (
            "image_format",
            crate::engine::IMAGE_FORMAT_VERSION.to_string(),
        ),
        (
            "patch_format",
            crate::engine::PATCH_FORMAT_VERSION.to_string(),
        ),
    ];
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render(&build, &census)))
}

/// The admin token of `x-rockit-admin-token`, or of `Authorization: Bearer` (what Prometheus
/// sends with `authorization.credentials`).
fn admin_token(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(token) = headers.get(ADMIN_TOKEN_HEADER) {
        return token.to_str().ok();
    }
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}
