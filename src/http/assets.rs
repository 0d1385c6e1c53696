//! The embedded admin UI: the bundle in `static/` (built from `web/`), served under `/ui/`.
//! Hashed assets (`/ui/assets/…`) are cached for good; every other path below `/ui/` is a
//! screen of the single-page app and gets `index.html`, revalidated on each load.

use std::borrow::Cow;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Ui;

/// The page shell every screen path falls back to.
const INDEX: &str = "index.html";

/// Content-hashed bundle files: their names change with their content.
const HASHED: &str = "assets/";

/// Scripts, styles and requests only from the appliance itself; nothing inline, no eval, no
/// framing, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /ui/{path}`.
pub async fn ui(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let path = path.trim_start_matches('/');
    let (name, file) = match Ui::get(path) {
        Some(file) if !path.is_empty() => (path, file),
        _ if is_asset(path) => return Err(ApiError::not_found(format!("no UI file {path}"))),
        _ => (INDEX, Ui::get(INDEX).ok_or_else(missing_bundle)?),
    };
    let caching = if name.starts_with(HASHED) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    Ok(HttpResponse::Ok()
        .content_type(content_type(name))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, caching))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body_of(file.data)))
}

/// The file's bytes without a copy: embedded data is `'static` in release builds (debug builds
/// read the file from disk).
fn body_of(data: Cow<'static, [u8]>) -> Bytes {
    match data {
        Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        Cow::Owned(bytes) => Bytes::from(bytes),
    }
}

/// A path that names a file (a bundle asset or anything with an extension) rather than a
/// screen: missing, it is a 404, not the page shell.
fn is_asset(path: &str) -> bool {
    path.starts_with(HASHED)
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

fn missing_bundle() -> ApiError {
    ApiError::not_found("this build carries no UI bundle (static/index.html)")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// `/` and `/ui` send browsers to the UI.
pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}
