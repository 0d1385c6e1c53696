//! The launcher API (`/client/v1`): authenticated by an app's access key in the body.

use actix_web::{HttpRequest, HttpResponse, web};

use super::error::ApiError;
use super::render::{base_url, success};
use super::state::AppState;
use crate::domain::keys::ClientAuth;

/// `POST /client/v1/auth`: the current build's files and signed URLs to fetch them.
pub async fn auth(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ClientAuth>,
) -> Result<HttpResponse, ApiError> {
    let answer = state
        .keys
        .client_auth(body.into_inner(), &base_url(&req))
        .await?;
    success("authorized", answer)
}
