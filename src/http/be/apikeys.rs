//! Additional API keys of machine users.

use actix_web::web;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::domain::apikeys::MintedKey;
use crate::domain::caller::Caller;
use crate::http::answers::{Nothing, Reply, done, reply};
use crate::http::error::ApiError;
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
) -> Result<Reply<MintedKey>, ApiError> {
    let body = body.into_inner();
    reply(
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
) -> Result<Reply<Nothing>, ApiError> {
    state.apikeys.delete(&caller, &key).await?;
    done("API key deleted")
}
