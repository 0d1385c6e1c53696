//! Event subscriptions of the caller's org.

use actix_web::{HttpRequest, web};

use crate::domain::caller::Caller;
use crate::domain::subscriptions::CreatedSubscription;
use crate::domain::subscriptions::NewSubscription;
use crate::domain::subscriptions::SubscriptionView;
use crate::http::answers::{Listed, One, Reply, Resource, reply, reply_page};
use crate::http::answers::{Nothing, done};
use crate::http::error::ApiError;
use crate::http::query::ListQuery;
use crate::http::state::AppState;

/// `POST /be/v1/subscriptions`: the signing secret is shown once.
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewSubscription>,
) -> Result<Reply<CreatedSubscription>, ApiError> {
    reply(
        "subscription created",
        state
            .subscriptions
            .create(&caller, body.into_inner())
            .await?,
    )
}

/// `GET /be/v1/subscriptions`.
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<Reply<Listed<SubscriptionView>>, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state.subscriptions.list(&caller, query.params).await?;
    reply_page(page, &query.fields)
}

/// `GET /be/v1/subscriptions/{name}`.
pub async fn details(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<One<SubscriptionView>>, ApiError> {
    let subscription = state.subscriptions.get(&caller, &name).await?;
    reply("subscription", One(subscription))
}

/// `DELETE /be/v1/subscriptions/{name}`.
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<Reply<Nothing>, ApiError> {
    state.subscriptions.delete(&caller, &name).await?;
    done("subscription deleted")
}

impl Resource for SubscriptionView {
    const ONE: &'static str = "subscription";
    const MANY: &'static str = "subscriptions";
}
