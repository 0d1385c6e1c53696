//! Reading credentials from `/be/v1` request headers, and the [`Caller`] extractor.

use std::future::{Ready, ready};

use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

use crate::domain::caller::Caller;
use crate::domain::identity::Credentials;
use crate::http::error::ApiError;

/// Header alias of `Authorization: Bearer` (2025).
pub const BEAUTH_HEADER: &str = "x-rockit-beauth-token";
/// The machine-user header triple.
pub const MACHINE_HEADERS: [&str; 3] =
    ["x-rockit-orgname", "x-rockit-username", "x-rockit-api-key"];

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| ApiError::invalid(format!("header {name} is not valid text")))
        })
        .transpose()
}

/// The one bearer credential of a request (`Authorization: Bearer` or its alias).
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let authorization = header(headers, AUTHORIZATION.as_str())?
        .map(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .ok_or_else(|| ApiError::invalid("Authorization must be \"Bearer <token>\""))
        })
        .transpose()?;
    let alias = header(headers, BEAUTH_HEADER)?;
    match (authorization, alias) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid(format!(
            "Authorization and {BEAUTH_HEADER} carry different tokens; send one"
        ))),
        (a, b) => Ok(a.or(b).map(str::to_string)),
    }
}

/// Exactly one kind of credentials, or a precise 400/401.
pub fn credentials(headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let token = bearer(headers)?;
    let machine: Vec<Option<&str>> = MACHINE_HEADERS
        .iter()
        .map(|name| header(headers, name))
        .collect::<Result<_, _>>()?;
    let present = machine.iter().filter(|v| v.is_some()).count();
    match (token, present) {
        (Some(_), 1..) => Err(ApiError::invalid(format!(
            "send either a token (Authorization or {BEAUTH_HEADER}) or the machine headers {}, not both",
            MACHINE_HEADERS.join(", ")
        ))),
        (Some(token), 0) => Ok(Credentials::Bearer(token)),
        (None, 3) => Ok(Credentials::Machine {
            org: machine[0].unwrap_or_default().to_string(),
            username: machine[1].unwrap_or_default().to_string(),
            key: machine[2].unwrap_or_default().to_string(),
        }),
        (None, 1..) => {
            let missing: Vec<_> = MACHINE_HEADERS
                .iter()
                .zip(&machine)
                .filter(|(_, v)| v.is_none())
                .map(|(name, _)| *name)
                .collect();
            Err(ApiError::missing(format!(
                "machine credentials also need {}",
                missing.join(", ")
            )))
        }
        (None, _) => Err(ApiError::unauthorized(format!(
            "send a token (Authorization: Bearer or {BEAUTH_HEADER}) or the machine headers {}",
            MACHINE_HEADERS.join(", ")
        ))),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    /// The caller the route's authorization put on the request; a route without a declared
    /// need has none, and fails closed.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            tracing::error!(path = %req.path(), "route has no authorized caller; is it declared in the route table?");
            ApiError::internal()
        }))
    }
}
