//! Success bodies: `{"status":"success","message":...}` plus the payload's keys.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ApiError;

/// A 200 with the success envelope around `payload` (an object, or `()` for none).
pub fn success(message: &str, payload: impl Serialize) -> Result<HttpResponse, ApiError> {
    let mut body = Map::new();
    body.insert("status".into(), Value::from("success"));
    body.insert("message".into(), Value::from(message));
    match serde_json::to_value(payload) {
        Ok(Value::Object(fields)) => body.extend(fields),
        Ok(Value::Null) => {}
        Ok(_) | Err(_) => return Err(ApiError::internal()),
    }
    Ok(HttpResponse::Ok().json(Value::Object(body)))
}

/// Projects a resource object onto the `fields[]` a caller asked for (all when none); a field
/// outside `allowed` (by default the object's own keys) is a 400.
pub fn project(
    resource: impl Serialize,
    fields: &[String],
    allowed: Option<&[&str]>,
) -> Result<Value, ApiError> {
    let value = serde_json::to_value(resource).map_err(|_| ApiError::internal())?;
    if fields.is_empty() {
        return Ok(value);
    }
    let Value::Object(object) = value else {
        return Err(ApiError::internal());
    };
    let own: Vec<&str> = object.keys().map(String::as_str).collect();
    let allowed = allowed.unwrap_or(&own);
    if let Some(unknown) = fields.iter().find(|f| !allowed.contains(&f.as_str())) {
        return Err(ApiError::invalid(format!(
            "fields[] names unknown field {unknown:?}; use any of {}",
            allowed.join(", ")
        )));
    }
    Ok(Value::Object(
        object
            .into_iter()
            .filter(|(key, _)| fields.contains(key))
            .collect(),
    ))
}

/// The appliance's address as this request reached it (`https://host:port`): the base of
/// the URLs it hands out (upload URLs, signed depot URLs). Forwarding headers are not
/// believed; put the public name in the request's `Host`.
pub fn base_url(req: &HttpRequest) -> String {
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| req.app_config().host().to_string());
    format!("{scheme}://{host}")
}
