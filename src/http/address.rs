//! The appliance's own address as a request reached it: the base of the URLs it hands out.

use actix_web::HttpRequest;

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
