//! The backend API (`/be/v1`): one route table declares every route with what it needs, and
//! one middleware enforces it. A route cannot be registered without a declaration.

mod activities;
mod apikeys;
mod apps;
mod credentials;
mod deployments;
mod orgs;
mod roles;
mod sessions;
mod subscriptions;
mod tasks;
mod users;

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::actor::Actor;
use super::error::ApiError;
use super::state::AppState;
use crate::domain::permissions::{CREATE, DELETE, EXECUTE, Need, Permission, READ, UPDATE};

/// One declared route.
#[derive(Debug, Clone, Copy)]
pub struct BeRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
}

const fn perm(resource: &'static str, bit: u32) -> Need {
    Need::Perm(Permission::new(resource, bit))
}

const fn self_or(resource: &'static str, bit: u32) -> Need {
    Need::SelfOr(Permission::new(resource, bit))
}

macro_rules! route_table {
    ($($method:ident $path:literal, $need:expr => $handler:expr;)*) => {
        /// Every `/be/v1` route and what its caller needs: the table to audit.
        pub const ROUTES: &[BeRoute] = &[$(BeRoute { method: stringify!($method), path: $path, need: $need },)*];

        /// Registers exactly the routes of [`ROUTES`], one resource per path.
        pub fn register(cfg: &mut web::ServiceConfig) {
            let mut resources: BTreeMap<&'static str, actix_web::Resource> = BTreeMap::new();
            $(
                let resource = resources.remove($path).unwrap_or_else(|| web::resource($path));
                resources.insert($path, resource.route(web::method(actix_web::http::Method::$method).to($handler)));
            )*
            for (_, resource) in resources {
                cfg.service(resource);
            }
        }
    };
}

route_table! {
    POST   "/be/v1/login",               Need::Public => sessions::login;
    POST   "/be/v1/refresh",             Need::Public => sessions::refresh;
    POST   "/be/v1/logout",              Need::Public => sessions::logout;
    POST   "/be/v1/auth",                Need::Public => sessions::exchange;
    POST   "/be/v1/orgs",                Need::Admin => super::orgs::create;
    DELETE "/be/v1/orgs/{org}",          Need::OrgAdministrator => orgs::delete;
    POST   "/be/v1/users",               perm("beUsers", CREATE) => users::create;
    GET    "/be/v1/users",               perm("beUsers", READ) => users::list;
    GET    "/be/v1/users/{username}",    self_or("beUsers", READ) => users::details;
    PATCH  "/be/v1/users",               self_or("beUsers", UPDATE) => users::patch;
    DELETE "/be/v1/users/{username}",    perm("beUsers", DELETE) => users::delete;
    POST   "/be/v1/apikeys",             perm("beUsers", UPDATE) => apikeys::create;
    DELETE "/be/v1/apikeys/{keyId}",     perm("beUsers", UPDATE) => apikeys::delete;
    POST   "/be/v1/roles",               perm("roles", CREATE) => roles::create;
    GET    "/be/v1/roles",               perm("roles", READ) => roles::list;
    GET    "/be/v1/roles/{name}",        perm("roles", READ) => roles::details;
    PATCH  "/be/v1/roles",               perm("roles", UPDATE) => roles::patch;
    DELETE "/be/v1/roles/{name}",        perm("roles", DELETE) => roles::delete;
    GET    "/be/v1/activities",          perm("beUsers", READ) => activities::list;
    POST   "/be/v1/apps",                perm("apps", CREATE) => apps::create;
    GET    "/be/v1/apps",                perm("apps", READ) => apps::list;
    GET    "/be/v1/apps/{app}",          perm("apps", READ) => apps::details;
    PATCH  "/be/v1/apps",                perm("apps", UPDATE) => apps::patch;
    DELETE "/be/v1/apps/{app}",          perm("apps", DELETE) => apps::delete;
    POST   "/be/v1/deployments",         perm("deployments", CREATE) => deployments::create;
    GET    "/be/v1/deployments",         perm("deployments", READ) => deployments::list;
    GET    "/be/v1/deployments/{name}",  perm("deployments", READ) => deployments::details;
    PATCH  "/be/v1/deployments",         perm("deployments", UPDATE) => deployments::modify;
    DELETE "/be/v1/deployments/{name}",  perm("deployments", DELETE) => deployments::delete;
    GET    "/be/v1/tasks",               perm("tasks", READ) => tasks::list;
    GET    "/be/v1/tasks/{taskName}",    perm("tasks", READ) => tasks::details;
    PATCH  "/be/v1/tasks",               perm("tasks", UPDATE) => tasks::patch;
    POST   "/be/v1/trigger",             perm("tasks", EXECUTE) => tasks::trigger;
    POST   "/be/v1/subscriptions",       perm("subscriptions", CREATE) => subscriptions::create;
    GET    "/be/v1/subscriptions",       perm("subscriptions", READ) => subscriptions::list;
    GET    "/be/v1/subscriptions/{name}", perm("subscriptions", READ) => subscriptions::details;
    DELETE "/be/v1/subscriptions/{name}", perm("subscriptions", DELETE) => subscriptions::delete;
}

/// The prefix this table governs.
const PREFIX: &str = "/be/v1/";

/// Authenticates and authorizes every `/be/v1` request against [`ROUTES`]; the caller goes
/// into the request for handlers. Undeclared routes fail closed.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if !req.path().starts_with(PREFIX) {
        return next.call(req).await;
    }
    let Some(pattern) = req.match_pattern() else {
        return next.call(req).await;
    };
    let method = req.method().as_str().to_string();
    let declared = ROUTES
        .iter()
        .find(|r| r.path == pattern && r.method == method);
    let need = match declared {
        Some(route) => route.need,
        None if ROUTES.iter().any(|r| r.path == pattern) => return next.call(req).await,
        None => {
            tracing::error!(%pattern, "undeclared /be/v1 route refused");
            return Ok(req.into_response(ApiError::internal().error_response()));
        }
    };
    if matches!(need, Need::Public | Need::Admin) {
        return next.call(req).await;
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.into_response(ApiError::internal().error_response()));
    };
    let caller = match credentials::credentials(req.headers()) {
        Ok(credentials) => state
            .identity
            .authenticate(credentials)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(e) => return Ok(req.into_response(e.error_response())),
    };
    req.extensions_mut().insert(Actor {
        name: caller.username.clone(),
        org: Some(caller.org.clone()),
    });
    if let Err(e) = caller.admit(need) {
        return Ok(req.into_response(ApiError::from(e).error_response()));
    }
    req.extensions_mut().insert(caller);
    next.call(req).await
}
