//! Accounts of the caller's org.

use actix_web::{HttpRequest, web};

use crate::domain::caller::Caller;
use crate::domain::permissions::{Permission, READ};
use crate::domain::users::UserView;
use crate::domain::users::UserWithCredentials;
use crate::domain::users::{NewUser, UserPatch};
use crate::http::answers::{Listed, One, Reply, Resource, reply, reply_page};
use crate::http::answers::{Nothing, done};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `POST /be/v1/users`.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewUser>,
) -> Result<Reply<UserWithCredentials>, ApiError> {
    reply(
        "user created",
        state.users.create(&caller, body.into_inner()).await?,
    )
}

/// `GET /be/v1/users`.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<UserView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state.users.list(&caller, query.params).await?;
    reply_page(page, &query.fields)
}

/// `GET /be/v1/users/{username}`: oneself, or with `beUsers` R.
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<One<UserView>>, ApiError> {
    caller.require_self_or(&name, Permission::new("beUsers", READ))?;
    let user = state.users.get(&caller, &name).await?;
    reply("user", One(user))
}

/// `PATCH /be/v1/users`: profile, own password, or credential reset.
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<UserPatch>,
) -> Result<Reply<UserWithCredentials>, ApiError> {
    reply(
        "user modified",
        state.users.patch(&caller, body.into_inner()).await?,
    )
}

/// `DELETE /be/v1/users/{username}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<Nothing>, ApiError> {
    state.users.delete(&caller, &name).await?;
    done("user deleted")
}

impl Resource for UserView {
    const ONE: &'static str = "user";
    const MANY: &'static str = "users";
}
