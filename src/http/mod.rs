//! The HTTP layer: thin handlers that parse, authenticate, call a domain service and render.

mod actor;
mod assets;
mod be;
mod error;
mod extract;
mod health;
mod middleware;
mod orgs;
mod query;
mod render;
mod service;
mod state;
mod tasks;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, web};

pub use be::{BeRoute, ROUTES as BE_ROUTES};
pub use error::ApiError;
pub use extract::ADMIN_TOKEN_HEADER;
pub use state::AppState;

/// Registers every route, the extractor configs and the middleware on an app.
pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    cfg.app_data(extract::json_config(json_limit))
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .app_data(web::PayloadConfig::new(json_limit))
        .route("/healthz", web::get().to(health::healthz))
        .route("/", web::get().to(assets::root))
        .route("/ui/{path:.*}", web::get().to(assets::ui))
        .route("/static/{path:.*}", web::get().to(assets::assets));
    for prefix in ["/srv/v1", "/adm/v1"] {
        cfg.service(web::resource(format!("{prefix}/ping")).route(web::post().to(service::ping)))
            .service(web::resource(format!("{prefix}/hello")).route(web::post().to(service::hello)))
            .service(
                web::resource(format!("{prefix}/versions")).route(web::get().to(service::versions)),
            );
    }
    cfg.service(
        web::resource("/adm/v1/orgs")
            .route(web::post().to(orgs::create))
            .route(web::get().to(orgs::list)),
    )
    .service(
        web::resource("/adm/v1/orgs/{org}")
            .route(web::get().to(orgs::details))
            .route(web::delete().to(orgs::delete)),
    )
    .service(web::resource("/adm/v1/tasks/{task}").route(web::get().to(tasks::details)));
    be::register(cfg);
}

/// Wraps an app with the API's middleware (outermost first: error bodies, then maintenance).
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
        .wrap(from_fn(be::authorize))
        .wrap(from_fn(middleware::audit_trail))
        .wrap(from_fn(middleware::maintenance_gate))
        .wrap(from_fn(middleware::error_bodies))
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
    BE_ROUTES.iter().find_map(|route| {
        let (route_stem, last) = route.path.rsplit_once('/')?;
        let param = last.strip_prefix('{')?.strip_suffix('}')?;
        (route.method == method && route_stem == stem).then_some(param)
    })
}
