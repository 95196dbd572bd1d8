//! `POST /api/publish`: a backend publishes to a channel with the
//! `publish_api_key`. Without the key configured the route answers 404.
//! Messages from a backend carry `"from": null`.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wsauth::channels::Channel;

use super::admin::bearer_is;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(publish))
}

/// Proof that the request carries the publish API key.
struct PublishKey;

impl FromRequestParts<AppState> for PublishKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = state.config.publish_api_key.as_deref() else {
            return Err(ApiError::NotFound);
        };
        if bearer_is(parts, key) { Ok(Self) } else { Err(ApiError::PublishUnauthorized) }
    }
}

/// A message for a channel's subscribers.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PublishRequest {
    /// The channel (docs/channels.md, "Names").
    channel: String,
    /// Any JSON value: subscribers receive it as the `message` frame's `data`.
    #[schema(value_type = Object)]
    data: Box<RawValue>,
}

/// What was published.
#[derive(Serialize, ToSchema)]
struct Published {
    /// The channel.
    channel: String,
    /// Sockets on this node the message was queued for.
    delivered: usize,
}

/// Publishes a message to a channel's subscribers (`"from": null`).
#[utoipa::path(
    post, path = "/api/publish", tag = "channels",
    request_body = PublishRequest,
    security(("publish_key" = [])),
    responses(
        (status = 200, description = "Queued for every subscriber", body = Published),
        (status = 400, description = "`bad_channel`, or `bad_request`: not the expected JSON",
            body = ErrorBody),
        (status = 401, description = "`publish_unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: no `publish_api_key` is configured",
            body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is larger than \
            `limits.max_message_size`", body = ErrorBody),
        (status = 503, description = "`unavailable`: this node's view of rights is stale \
            (it cannot read the event log)", body = ErrorBody),
    )
)]
async fn publish(
    _: PublishKey,
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<Published>, ApiError> {
    let limit = state.config.limits.max_message_size;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::TooLarge(limit))?;
    let request: PublishRequest = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::BadRequest(
            "Expected {\"channel\": <name>, \"data\": <any JSON value>}".to_owned(),
        )
    })?;
    let channel = Channel::parse(&request.channel).map_err(|e| ApiError::BadChannel(e.reason()))?;
    // Refused while this node's view of rights is stale.
    let delivered = state
        .channels
        .channels
        .publish(&channel, &request.data, None)
        .map_err(|_| ApiError::Unavailable)?;
    Ok(Json(Published { channel: request.channel, delivered }))
}
