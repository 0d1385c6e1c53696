//! Cross-cutting request handling: maintenance mode and the error body shape of every response.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::actor::{Actor, client_address};
use super::error::ApiError;
use super::state::AppState;
use crate::domain::audit::PendingAudit;
use crate::store::AuditRecord;

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

/// Longest request URI (path and query) answered with anything but 414.
const MAX_URI_BYTES: usize = 8192;

/// Gives every error response the API's JSON shape, including those made by routing
/// (unknown route, wrong method) rather than by a handler.
pub async fn error_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let uri_length = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    if uri_length > MAX_URI_BYTES {
        let response = ApiError::new(
            crate::codes::URI_TOO_LONG,
            format!("the request URI has {uri_length} bytes; at most {MAX_URI_BYTES} are accepted"),
        )
        .error_response();
        return Ok(req.into_response(response));
    }
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

/// Paths whose mutating requests enter the audit trail.
const AUDITED_PREFIXES: [&str; 2] = ["/be/v1/", "/adm/v1/"];

/// Records every mutating `/be/v1` and `/adm/v1` request (actor, org, action, target, result,
/// client address): a change made on behalf of an org's caller writes the entry in its own
/// transaction (so a crash cannot keep the change and lose its record); any other outcome is
/// recorded here once the answer is known.
pub async fn audit_trail(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !mutating || !AUDITED_PREFIXES.iter().any(|p| req.path().starts_with(p)) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let action = format!(
        "{} {}",
        req.method(),
        req.match_pattern()
            .unwrap_or_else(|| req.path().to_string())
    );
    let target = req.path().to_string();
    let address = client_address(req.request(), &state.trusted_proxies);
    let pending = PendingAudit::new(action.clone(), target.clone(), address.clone());
    let (response, recorded) = pending.scope(next.call(req)).await;
    let response = response?.map_into_boxed_body();
    if recorded {
        return Ok(response);
    }
    let actor = response.request().extensions().get::<Actor>().cloned();
    let entry = AuditRecord {
        id: 0,
        time: chrono::Utc::now(),
        org: actor.as_ref().and_then(|a| a.org.clone()),
        actor: actor.map_or_else(|| "anonymous".to_string(), |a| a.name),
        action,
        target,
        result: response.status().as_u16(),
        client_address: address,
    };
    if let Err(e) = state.audit.record(entry).await {
        tracing::error!(error = %e, "cannot record an audit entry");
    }
    Ok(response)
}
