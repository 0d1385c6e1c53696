//! One log line per request, tagged with a request id that the response carries back in
//! `x-request-id`, and the request's count and latency in the metrics.
//!
//! The line holds the method, the path (never the query string, where signed URLs keep their
//! signatures), the route template, the status, the time to the response head and the client
//! address: nothing secret. Handlers' own log lines run inside a `request` span with the same
//! id, so one grep finds everything a request caused.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tracing::Instrument;

use super::actor::client_address;
use super::state::AppState;
use crate::metrics;

/// The request id header, read from the client (or a proxy) when well-formed and always sent
/// back.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id taken from a client.
const MAX_ID_LEN: usize = 64;

/// Logs, counts and tags every request (the outermost middleware).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| well_formed(value))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string);
    let method = req.method().to_string();
    let path = req.path().to_string();
    let client = req
        .app_data::<web::Data<AppState>>()
        .map_or_else(String::new, |state| {
            client_address(req.request(), &state.trusted_proxies)
        });
    let span = tracing::info_span!("request", id = %id);
    let outcome = next.call(req).instrument(span).await;
    let (status, route) = match &outcome {
        Ok(response) => (
            response.status().as_u16(),
            response.request().match_pattern(),
        ),
        // An error no inner layer turned into a response: actix renders it after this.
        Err(error) => (error.as_response_error().status_code().as_u16(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    let elapsed = started.elapsed();
    metrics::observe_request(&method, &route, status, elapsed);
    tracing::info!(
        target: "rockit_edge::request",
        id = %id,
        method = %method,
        path = %path,
        route = %route,
        status,
        ms = %format_args!("{:.3}", elapsed.as_secs_f64() * 1e3),
        client = %client,
        "request"
    );
    let mut response = outcome?.map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// Letters, digits and `-_.:`, at most 64: safe in a header and a log line.
fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn takes_only_short_plain_ids() {
        assert!(well_formed("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(well_formed("req-1.2:3_x"));
        assert!(!well_formed(""));
        assert!(!well_formed("a b"));
        assert!(!well_formed("x\u{1b}[31m"));
        assert!(!well_formed(&"a".repeat(65)));
    }
}
