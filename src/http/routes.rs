//! The contract table: every API route (`/adm/v1`, `/srv/v1`, `/be/v1`, the launcher's
//! `/client/v1`, upload URLs and the depot) with the caller it
//! needs and the query parameters it accepts. Routes are registered from this table only, and
//! one middleware enforces it, failing closed: an API route missing from it is refused, the
//! instance administrator's token is checked before any admin handler runs, and an unknown
//! filter or query parameter is `400 invalid-param` on every route. The OpenAPI document and
//! the web UI read the same table.

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::actor::Actor;
use super::be::{
    activities, apikeys, apps, builds, credentials, deployments, keys, publishing, roles, sessions,
    subscriptions, tasks, trainings, users,
};
use super::error::ApiError;
use super::extract::{ADMIN_TOKEN_HEADER, AdminCaller};
use super::signature::{Described, Generators, describe};
use super::state::AppState;
use super::{backup, client, depot, orgs, origins, service, tasks as admin_tasks, upload, workers};
use crate::auth::AuthError;
use crate::domain::permissions::{CREATE, DELETE, EXECUTE, Need, Permission, READ, UPDATE};

/// The query parameters a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// None.
    Nothing,
    /// `fields[]` only (a details view).
    Fields,
    /// A list: `offset`, `limit`, `order[]`, `fields[]` and these filters.
    List(&'static [&'static str]),
    /// These named parameters.
    Params(&'static [&'static str]),
}

/// The paging and projection parameters every list takes.
pub const LIST_PARAMS: [&str; 6] = ["offset", "limit", "order", "order[]", "fields", "fields[]"];

/// One declared route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
    pub accepts: Accepts,
    /// What the handler's signature tells the OpenAPI document (its body and answer types).
    pub describe: fn(&mut Generators) -> Described,
}

impl Route {
    /// The first query key this route does not accept, with why.
    fn refuse_query(&self, query: &str) -> Option<String> {
        form_urlencoded::parse(query.as_bytes()).find_map(|(key, _)| {
            let key = key.as_ref();
            let known = match self.accepts {
                Accepts::Nothing => false,
                Accepts::Fields => matches!(key, "fields" | "fields[]"),
                Accepts::List(filters) => LIST_PARAMS.contains(&key) || filters.contains(&key),
                Accepts::Params(names) => names.contains(&key),
            };
            (!known).then(|| match self.accepts {
                Accepts::List(&[]) => format!(
                    "unknown filter {key}; this list takes offset, limit, order[] and fields[] only"
                ),
                Accepts::List(filters) => format!(
                    "unknown filter {key}; this list takes {} besides offset, limit, order[] and fields[]",
                    filters.join(", ")
                ),
                Accepts::Fields => {
                    format!("unknown query parameter {key}; this route takes fields[] only")
                }
                Accepts::Params(names) => format!(
                    "unknown query parameter {key}; this route takes {}",
                    names.join(", ")
                ),
                Accepts::Nothing => {
                    format!("unknown query parameter {key}; this route takes none")
                }
            })
        })
    }
}

const fn perm(resource: &'static str, bit: u32) -> Need {
    Need::Perm(Permission::new(resource, bit))
}

const fn self_or(resource: &'static str, bit: u32) -> Need {
    Need::SelfOr(Permission::new(resource, bit))
}

use Accepts::{Fields, List, Nothing, Params};

macro_rules! route_table {
    ($($method:ident $path:literal, $need:expr, $accepts:expr => $handler:expr;)*) => {
        /// Every API route, what its caller needs and which query parameters it takes.
        pub const ROUTES: &[Route] = &[$(Route {
            method: stringify!($method),
            path: $path,
            need: $need,
            accepts: $accepts,
            describe: |generators| describe(&$handler, generators),
        },)*];

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
    POST   "/srv/v1/ping",                Need::Public, Nothing => service::ping;
    POST   "/srv/v1/hello",               Need::Admin, Nothing => service::hello;
    GET    "/srv/v1/versions",            Need::Admin, Nothing => service::versions;
    POST   "/adm/v1/ping",                Need::Public, Nothing => service::ping;
    POST   "/adm/v1/hello",               Need::Admin, Nothing => service::hello;
    GET    "/adm/v1/versions",            Need::Admin, Nothing => service::versions;
    POST   "/adm/v1/orgs",                Need::Admin, Nothing => orgs::create;
    GET    "/adm/v1/orgs",                Need::Admin, List(&[]) => orgs::list;
    GET    "/adm/v1/orgs/{org}",          Need::Admin, Nothing => orgs::details;
    DELETE "/adm/v1/orgs/{org}",          Need::Admin, Params(&["prune"]) => orgs::delete;
    GET    "/adm/v1/tasks/{task}",        Need::Admin, Nothing => admin_tasks::details;
    GET    "/adm/v1/workers",             Need::Admin, Nothing => workers::list;
    POST   "/adm/v1/origins/check",       Need::Admin, Nothing => origins::check;
    GET    "/adm/v1/backup",              Need::Admin, Params(&["withDepot"]) => backup::download;
    POST   "/adm/v1/commit",              Need::Admin, Nothing => publishing::commit_org;
    POST   "/be/v1/login",                Need::Public, Nothing => sessions::login;
    POST   "/be/v1/refresh",              Need::Public, Nothing => sessions::refresh;
    POST   "/be/v1/logout",               Need::Public, Nothing => sessions::logout;
    POST   "/be/v1/auth",                 Need::Public, Nothing => sessions::exchange;
    POST   "/be/v1/orgs",                 Need::Admin, Nothing => orgs::create;
    DELETE "/be/v1/orgs/{org}",           Need::OrgAdministrator, Params(&["prune"]) => super::be::orgs::delete;
    POST   "/be/v1/users",                perm("beUsers", CREATE), Nothing => users::create;
    GET    "/be/v1/users",                perm("beUsers", READ), List(&[]) => users::list;
    GET    "/be/v1/users/{username}",     self_or("beUsers", READ), Nothing => users::details;
    PATCH  "/be/v1/users",                self_or("beUsers", UPDATE), Nothing => users::patch;
    DELETE "/be/v1/users/{username}",     perm("beUsers", DELETE), Nothing => users::delete;
    POST   "/be/v1/apikeys",              perm("beUsers", UPDATE), Nothing => apikeys::create;
    DELETE "/be/v1/apikeys/{keyId}",      perm("beUsers", UPDATE), Nothing => apikeys::delete;
    POST   "/be/v1/roles",                perm("roles", CREATE), Nothing => roles::create;
    GET    "/be/v1/roles",                perm("roles", READ), List(&[]) => roles::list;
    GET    "/be/v1/roles/{name}",         perm("roles", READ), Nothing => roles::details;
    PATCH  "/be/v1/roles",                perm("roles", UPDATE), Nothing => roles::patch;
    DELETE "/be/v1/roles/{name}",         perm("roles", DELETE), Nothing => roles::delete;
    GET    "/be/v1/activities",           perm("beUsers", READ), List(&["actor", "action", "createdAfter", "createdBefore"]) => activities::list;
    POST   "/be/v1/apps",                 perm("apps", CREATE), Nothing => apps::create;
    GET    "/be/v1/apps",                 perm("apps", READ), List(&["name", "state"]) => apps::list;
    GET    "/be/v1/apps/{app}",           perm("apps", READ), Fields => apps::details;
    PATCH  "/be/v1/apps",                 perm("apps", UPDATE), Nothing => apps::patch;
    DELETE "/be/v1/apps/{app}",           perm("apps", DELETE), Nothing => apps::delete;
    POST   "/be/v1/builds",               perm("apps", UPDATE), Nothing => builds::import;
    POST   "/be/v1/export",               perm("apps", UPDATE), Nothing => publishing::export;
    POST   "/be/v1/commit",               perm("apps", UPDATE), Nothing => publishing::commit;
    POST   "/be/v1/keys",                 perm("keys", CREATE), Nothing => keys::create;
    GET    "/be/v1/keys",                 perm("keys", READ), List(&["appName"]) => keys::list;
    DELETE "/be/v1/keys/{id}",            perm("keys", DELETE), Nothing => keys::delete;
    POST   "/be/v1/deployments",          perm("deployments", CREATE), Nothing => deployments::create;
    GET    "/be/v1/deployments",          perm("deployments", READ), List(&["name", "error", "createdAfter", "updatedAfter"]) => deployments::list;
    GET    "/be/v1/deployments/{name}",   perm("deployments", READ), Fields => deployments::details;
    PATCH  "/be/v1/deployments",          perm("deployments", UPDATE), Nothing => deployments::modify;
    DELETE "/be/v1/deployments/{name}",   perm("deployments", DELETE), Params(&["keepFiles"]) => deployments::delete;
    GET    "/be/v1/tasks",                perm("tasks", READ), List(&["appName", "group", "status", "type", "createdAfter", "createdBefore"]) => tasks::list;
    GET    "/be/v1/tasks/{taskName}",     perm("tasks", READ), Nothing => tasks::details;
    PATCH  "/be/v1/tasks",                perm("tasks", UPDATE), Nothing => tasks::patch;
    POST   "/be/v1/trigger",              perm("tasks", EXECUTE), Nothing => tasks::trigger;
    POST   "/be/v1/subscriptions",        perm("subscriptions", CREATE), Nothing => subscriptions::create;
    GET    "/be/v1/subscriptions",        perm("subscriptions", READ), List(&[]) => subscriptions::list;
    GET    "/be/v1/subscriptions/{name}", perm("subscriptions", READ), Nothing => subscriptions::details;
    DELETE "/be/v1/subscriptions/{name}", perm("subscriptions", DELETE), Nothing => subscriptions::delete;
    GET    "/be/v1/trainings",            perm("trainings", READ), List(&["appName"]) => trainings::list;
    PATCH  "/be/v1/trainings",            perm("trainings", UPDATE), Nothing => trainings::patch;
    POST   "/client/v1/auth",             Need::Public, Nothing => client::auth;
    POST   "/client/v1/traces",           Need::Public, Nothing => client::traces;
    PUT    "/upload/v1/{task}",           Need::Public, Params(&["expires", "signature"]) => upload::put;
    GET    "/depot/{path:.*}",            Need::Public, Params(&["md5", "expires"]) => depot::serve;
    HEAD   "/depot/{path:.*}",            Need::Public, Params(&["md5", "expires"]) => depot::serve;
}

/// The path prefixes this table governs.
pub const API_PREFIXES: [&str; 6] = [
    "/adm/v1/",
    "/srv/v1/",
    "/be/v1/",
    "/client/v1/",
    "/upload/v1/",
    "/depot/",
];

/// Authenticates and authorizes every API request against [`ROUTES`], then checks its query
/// parameters; the caller goes into the request for handlers. Undeclared routes fail closed.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if !API_PREFIXES.iter().any(|p| req.path().starts_with(p)) {
        return next.call(req).await;
    }
    let Some(pattern) = req.match_pattern() else {
        return next.call(req).await;
    };
    let method = req.method().as_str().to_string();
    let declared = ROUTES
        .iter()
        .find(|r| r.path == pattern && r.method == method);
    let route = match declared {
        Some(route) => route,
        None if ROUTES.iter().any(|r| r.path == pattern) => return next.call(req).await,
        None => {
            tracing::error!(%pattern, "undeclared API route refused");
            return Ok(req.into_response(ApiError::internal().error_response()));
        }
    };
    if let Err(e) = admit(&req, route.need).await {
        return Ok(req.into_response(e.error_response()));
    }
    if let Some(refusal) = route.refuse_query(req.query_string()) {
        return Ok(req.into_response(ApiError::invalid(refusal).error_response()));
    }
    next.call(req).await
}

/// Checks the caller against `need` and records who it is in the request.
async fn admit(req: &ServiceRequest, need: Need) -> Result<(), ApiError> {
    if need == Need::Public {
        return Ok(());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::internal)?;
    if need == Need::Admin {
        let admin = admin_caller(req, &state)?;
        req.extensions_mut().insert(Actor {
            name: format!("admin:{}", admin.username),
            org: None,
        });
        req.extensions_mut().insert(admin);
        return Ok(());
    }
    let credentials = credentials::credentials(req.headers())?;
    let caller = state.identity.authenticate(credentials).await?;
    req.extensions_mut().insert(Actor {
        name: caller.username.clone(),
        org: Some(caller.org.clone()),
    });
    caller.admit(need)?;
    req.extensions_mut().insert(caller);
    Ok(())
}

/// The instance administrator, from a valid admin token.
fn admin_caller(req: &ServiceRequest, state: &AppState) -> Result<AdminCaller, ApiError> {
    let token = req
        .headers()
        .get(ADMIN_TOKEN_HEADER)
        .ok_or_else(|| {
            ApiError::unauthorized(format!("send an admin token in {ADMIN_TOKEN_HEADER}"))
        })?
        .to_str()
        .map_err(|_| {
            ApiError::from(AuthError::Invalid(format!(
                "{ADMIN_TOKEN_HEADER} is not valid text"
            )))
        })?;
    let claims = state.admin.verify(token)?;
    Ok(AdminCaller {
        username: claims.username,
    })
}
