//! Launcher access keys of the caller's org's apps.

use actix_web::{HttpRequest, web};
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::caller::Caller;
use crate::domain::keys::AccessKeyView;
use crate::domain::keys::NewAccessKey;
use crate::http::answers::{Listed, Reply, Resource, reply_page};
use crate::http::answers::{Nothing, done, reply};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `POST /be/v1/keys`: the key is in the answer, once.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewAccessKey>,
) -> Result<Reply<KeyCreated>, ApiError> {
    let (key, view) = state.keys.create(&caller, body.into_inner()).await?;
    reply(
        "access key created",
        KeyCreated {
            key,
            access_key: view,
        },
    )
}

/// `GET /be/v1/keys` (filter `appName`).
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<AccessKeyView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let app = query.filter("appName");
    let page = state.keys.list(&caller, app, query.params).await?;
    reply_page(page, &query.fields)
}

/// `DELETE /be/v1/keys/{id}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<Reply<Nothing>, ApiError> {
    state.keys.delete(&caller, &id).await?;
    done("access key deleted")
}

impl Resource for AccessKeyView {
    const ONE: &'static str = "accessKey";
    const MANY: &'static str = "keys";
}

/// A new access key: `key` is shown this once.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyCreated {
    key: String,
    access_key: AccessKeyView,
}
