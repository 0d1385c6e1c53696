//! Launcher access keys of the caller's org's apps.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::domain::caller::Caller;
use crate::domain::keys::AccessKeyView;
use crate::domain::keys::NewAccessKey;
use crate::http::answers::{Listed, Reply, Resource, reply_page};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::render::success;
use crate::http::state::AppState;

/// `POST /be/v1/keys`: the key is in the answer, once.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewAccessKey>,
) -> Result<HttpResponse, ApiError> {
    let (key, view) = state.keys.create(&caller, body.into_inner()).await?;
    success(
        "access key created",
        json!({ "key": key, "accessKey": view }),
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
) -> Result<HttpResponse, ApiError> {
    state.keys.delete(&caller, &id).await?;
    success("access key deleted", ())
}

impl Resource for AccessKeyView {
    const ONE: &'static str = "accessKey";
    const MANY: &'static str = "keys";
}
