//! The HTTP layer: thin handlers that parse, authenticate, call a domain service and render.

mod actor;
mod address;
mod answers;
mod assets;
mod backup;
mod be;
mod client;
mod depot;
mod error;
mod extract;
mod health;
mod metrics;
mod middleware;
mod observe;
mod openapi;
mod orgs;
mod origins;
mod query;
mod routes;
mod service;
mod signature;
mod state;
mod tasks;
mod upload;
mod workers;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, web};

pub use actor::AddressRange;
pub use error::ApiError;
pub use extract::ADMIN_TOKEN_HEADER;
pub use observe::REQUEST_ID_HEADER;
pub use openapi::document as openapi_document;
pub use routes::{Accepts, LIST_PARAMS, ROUTES, Route};
pub use state::AppState;

macro_rules! operational_routes {
    ($($method:ident $path:literal, $summary:literal => $handler:expr;)*) => {
        /// The routes outside the API's contract table: probes, metrics, this document and
        /// the admin UI, each with what it is for.
        pub const OPERATIONAL_ROUTES: &[(&str, &str, &str)] =
            &[$((stringify!($method), $path, $summary)),*];

        fn register_operational(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::method(actix_web::http::Method::$method).to($handler));)*
        }
    };
}

operational_routes! {
    GET "/healthz", "200 when the store reads, the data dir takes writes and disk suffices; else 503" => health::healthz;
    GET "/metrics", "Prometheus metrics, for metrics.allow_from or an admin token" => metrics::metrics;
    GET "/api/openapi.json", "this document" => openapi::serve;
    GET "/", "redirects to the admin UI" => assets::root;
    GET "/ui", "redirects to the admin UI" => assets::root;
    GET "/ui/{path:.*}", "the admin UI" => assets::ui;
}

/// Registers every route, the extractor configs and the middleware on an app.
pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    cfg.app_data(extract::json_config(json_limit))
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .app_data(web::PayloadConfig::new(json_limit));
    register_operational(cfg);
    routes::register(cfg);
}

/// Wraps an app with the API's middleware (outermost first: request log and metrics, error
/// bodies, maintenance, audit trail, authorization).
pub fn app(
    state: web::Data<AppState>,
    json_limit: usize,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(state)
        .wrap(from_fn(routes::authorize))
        .wrap(from_fn(middleware::audit_trail))
        .wrap(from_fn(middleware::maintenance_gate))
        .wrap(from_fn(middleware::error_bodies))
        .wrap(from_fn(observe::observe))
        .configure(|cfg| configure(cfg, json_limit))
        .default_service(web::to(not_found))
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    if let Some(param) = missing_path_param(req.method().as_str(), req.path()) {
        return Err(ApiError::missing(format!(
            "{param} is missing from the path: {} {}{{{param}}}",
            req.method(),
            req.path()
        )));
    }
    Err(ApiError::for_status(
        actix_web::http::StatusCode::NOT_FOUND,
        req.method().as_str(),
        req.path(),
    ))
}

/// The name of a route's last path parameter when `path` is that route with it left empty
/// (`DELETE /be/v1/deployments/`).
fn missing_path_param(method: &str, path: &str) -> Option<&'static str> {
    let stem = path.strip_suffix('/')?;
    ROUTES.iter().find_map(|route| {
        let (route_stem, last) = route.path.rsplit_once('/')?;
        let param = last.strip_prefix('{')?.strip_suffix('}')?;
        (route.method == method && route_stem == stem).then_some(param)
    })
}
