//! Success bodies: `{"status":"success","message":...}` plus the payload's keys.

use actix_web::HttpResponse;
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
