//! Login, refresh, logout and the 2025 `auth` exchange.

use actix_web::{HttpMessage, HttpRequest, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::credentials::bearer;
use crate::domain::sessions::{BeAuth, OrgSelection, SessionTokens};
use crate::http::actor::{Actor, client_address};
use crate::http::answers::{Nothing, Reply, done, reply};
use crate::http::error::ApiError;
use crate::http::extract::OptionalJson;
use crate::http::state::AppState;

/// The three login body shapes, told apart by which fields are present: a username and
/// password (with `orgName` to enter that org), or an `orgSelToken` and `orgName`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["username", "password"]},
    {"required": ["orgSelToken", "orgName"]},
]))]
pub struct LoginBody {
    username: Option<String>,
    password: Option<String>,
    org_sel_token: Option<String>,
    org_name: Option<String>,
}

/// `POST /be/v1/login`.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<Reply<LoginAnswer>, ApiError> {
    let body = body.into_inner();
    let address = client_address(&req, &state.trusted_proxies);
    req.extensions_mut().insert(Actor {
        name: body.username.clone().unwrap_or_else(|| "anonymous".into()),
        org: body.org_name.clone(),
    });
    match body {
        LoginBody {
            org_sel_token: Some(token),
            org_name: Some(org),
            username: None,
            password: None,
        } => reply(
            "logged in",
            LoginAnswer::Tokens(state.sessions.select_org(&token, &org).await?),
        ),
        LoginBody {
            username: Some(user),
            password: Some(password),
            org_name: Some(org),
            org_sel_token: None,
        } => reply(
            "logged in",
            LoginAnswer::Tokens(
                state
                    .sessions
                    .login_to_org(&user, &password, &org, &address)
                    .await?,
            ),
        ),
        LoginBody {
            username: Some(user),
            password: Some(password),
            org_name: None,
            org_sel_token: None,
        } => reply(
            "choose an org",
            LoginAnswer::ChooseOrg(state.sessions.login(&user, &password, &address).await?),
        ),
        LoginBody {
            org_sel_token: Some(_),
            ..
        } => Err(ApiError::missing(
            "orgName is required with orgSelToken (and username/password must not be sent)",
        )),
        LoginBody { username: None, .. } => Err(ApiError::missing("username is required")),
        LoginBody { .. } => Err(ApiError::missing("password is required")),
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: Option<String>,
}

/// The refresh token from `Authorization: Bearer` or the body.
fn refresh_token(
    req: &HttpRequest,
    OptionalJson(body): OptionalJson<RefreshBody>,
) -> Result<String, ApiError> {
    let from_body = body.and_then(|b| b.refresh_token);
    match (bearer(req.headers())?, from_body) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid(
            "the header and the body carry different tokens",
        )),
        (a, b) => a.or(b).ok_or_else(|| {
            ApiError::missing("send the refresh token as Bearer or as refreshToken")
        }),
    }
}

/// `POST /be/v1/refresh`: rotates the refresh token.
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: OptionalJson<RefreshBody>,
) -> Result<Reply<SessionTokens>, ApiError> {
    let token = refresh_token(&req, body)?;
    reply("tokens refreshed", state.sessions.refresh(&token).await?)
}

/// `POST /be/v1/logout`: revokes the session of an access or refresh token.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: OptionalJson<RefreshBody>,
) -> Result<Reply<Nothing>, ApiError> {
    let token = refresh_token(&req, body)?;
    state.sessions.logout(&token).await?;
    done("logged out")
}

/// Header of the 2025 `auth` exchange.
const BESESSION_HEADER: &str = "x-rockit-besession-token";

/// `POST /be/v1/auth`: an access token for the refresh token in `x-rockit-besession-token`.
pub async fn exchange(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<Reply<BeAuth>, ApiError> {
    let token = req
        .headers()
        .get(BESESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::missing(format!("send the refresh token in {BESESSION_HEADER}"))
        })?;
    reply(
        "authenticated",
        state.sessions.exchange(token.trim()).await?,
    )
}

/// What a login answers: the session's tokens, or the orgs to choose from.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(SessionTokens),
    ChooseOrg(OrgSelection),
}
