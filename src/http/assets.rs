//! The embedded browser UI (`web/`, under `/ui/`) and shared assets (`static/`, under `/static/`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Ui;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

fn serve<A: RustEmbed>(path: &str, index: Option<&str>) -> Result<HttpResponse, ApiError> {
    let path = match (path.trim_start_matches('/'), index) {
        ("", Some(index)) => index,
        (path, _) => path,
    };
    let file = A::get(path).ok_or_else(|| ApiError::not_found(format!("no UI file {path}")))?;
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    Ok(HttpResponse::Ok()
        .content_type(content_type(path))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'self'"))
        .body(file.data.into_owned()))
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

/// `/ui/{path}`: the UI, `index.html` for the bare prefix.
pub async fn ui(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve::<Ui>(&path, Some("index.html"))
}

/// `/static/{path}`.
pub async fn assets(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve::<Static>(&path, None)
}

/// `/` sends browsers to the UI.
pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}
