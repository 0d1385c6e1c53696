//! `/healthz` for load balancers and `rockit-edge healthcheck`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::state::AppState;

/// 200 when the store reads, the data dir takes writes and disk space suffices; 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let health = state.health.check().await;
    if health.healthy() {
        HttpResponse::Ok()
            .json(json!({ "status": "success", "message": "healthy", "checks": health }))
    } else {
        HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE).json(json!({
            "status": "error",
            "error": "unhealthy",
            "message": "a health check failed; see checks",
            "checks": health,
        }))
    }
}
