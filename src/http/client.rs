//! The launcher API (`/client/v1`): authenticated by an app's access key in the body.

use actix_web::{HttpRequest, HttpResponse, web};

use super::actor::client_ip;
use super::error::ApiError;
use super::render::{base_url, success};
use super::state::AppState;
use crate::domain::downloads::ClientAuth;

/// `POST /client/v1/auth`: the current build's files and signed URLs to fetch them.
pub async fn auth(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ClientAuth>,
) -> Result<HttpResponse, ApiError> {
    let client = client_ip(&req, &state.trusted_proxies);
    let answer = state
        .downloads
        .client_auth(body.into_inner(), &base_url(&req), client)
        .await?;
    success("authorized", answer)
}
