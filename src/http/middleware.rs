//! Cross-cutting request handling: maintenance mode and the error body shape of every response.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::error::ApiError;
use super::state::AppState;

/// The service API stays reachable in maintenance mode, so the mode can be switched off.
const SERVICE_PREFIX: &str = "/srv/v1/";

/// Answers 503 `maintenance` to everything but the service API while maintenance is on.
pub async fn maintenance_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let in_maintenance = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.instance.in_maintenance());
    if in_maintenance && !req.path().starts_with(SERVICE_PREFIX) {
        let response = ApiError::maintenance().error_response();
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Gives every error response the API's JSON shape, including those made by routing
/// (unknown route, wrong method) rather than by a handler.
pub async fn error_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let method = req.method().to_string();
    let path = req.path().to_string();
    let response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => return Err(error),
    };
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return Ok(response);
    }
    let error = ApiError::for_status(status, &method, &path);
    let (request, _) = response.into_parts();
    Ok(ServiceResponse::new(request, error.error_response()))
}
