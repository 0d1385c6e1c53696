//! Additional API keys of machine users.

use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::domain::caller::Caller;
use crate::http::error::ApiError;
use crate::http::render::success;
use crate::http::state::AppState;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    username: String,
    label: Option<String>,
}

/// `POST /be/v1/apikeys`: the key is shown once.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    success(
        "API key created",
        state
            .apikeys
            .create(&caller, &body.username, body.label)
            .await?,
    )
}

/// `DELETE /be/v1/apikeys/{keyId}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.apikeys.delete(&caller, &key).await?;
    success("API key deleted", ())
}
