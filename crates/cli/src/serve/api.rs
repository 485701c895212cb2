//! The handlers: JSON views of the engine's [`FlowHandle`]s and the Prometheus text.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use strait_mirror::engine::{FlowHandle, FlowState};
use strait_mirror::metrics;

use super::ServeState;

type Shared = State<Arc<ServeState>>;

pub(super) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when every flow runs (or only emits heartbeats), 503 otherwise.
pub(super) async fn ready(State(s): Shared) -> Response {
    let flows: Vec<_> = s
        .flows
        .iter()
        .map(|f| (f.label(), f.stats.state()))
        .collect();
    let ready = flows
        .iter()
        .all(|(_, st)| matches!(st, FlowState::Running | FlowState::HeartbeatsOnly));
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "flows": flows.iter().map(|(f, st)| json!({"flow": f, "state": st})).collect::<Vec<_>>(),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

pub(super) async fn metrics(State(s): Shared) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&s.flows, s.labels),
    )
        .into_response()
}

pub(super) async fn flows(State(s): Shared) -> Response {
    Json(s.flows.iter().map(FlowHandle::status).collect::<Vec<_>>()).into_response()
}

pub(super) async fn flow(
    State(s): Shared,
    Path((source, target)): Path<(String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| Json(f.status()).into_response())
}

pub(super) async fn partitions(
    State(s): Shared,
    Path((source, target)): Path<(String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| {
        Json(f.partitions()).into_response()
    })
}

pub(super) async fn pause_flow(
    State(s): Shared,
    Path((source, target)): Path<(String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| changed(f, f.control.pause(None)))
}

pub(super) async fn resume_flow(
    State(s): Shared,
    Path((source, target)): Path<(String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| changed(f, f.control.resume(None)))
}

pub(super) async fn pause_topic(
    State(s): Shared,
    Path((source, target, topic)): Path<(String, String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| {
        changed(f, f.control.pause(Some(&topic)))
    })
}

pub(super) async fn resume_topic(
    State(s): Shared,
    Path((source, target, topic)): Path<(String, String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| {
        changed(f, f.control.resume(Some(&topic)))
    })
}

pub(super) async fn refresh(
    State(s): Shared,
    Path((source, target)): Path<(String, String)>,
) -> Response {
    with_flow(&s, &source, &target, |f| {
        f.control.refresh();
        (
            StatusCode::ACCEPTED,
            Json(json!({"flow": f.label(), "refresh": "requested"})),
        )
            .into_response()
    })
}

fn changed(f: &FlowHandle, changed: bool) -> Response {
    Json(json!({"flow": f.label(), "changed": changed, "paused": f.control.paused()}))
        .into_response()
}

fn with_flow(
    s: &ServeState,
    source: &str,
    target: &str,
    then: impl FnOnce(&FlowHandle) -> Response,
) -> Response {
    match s
        .flows
        .iter()
        .find(|f| f.source == source && f.target == target)
    {
        Some(f) => then(f),
        None => {
            let known: Vec<String> = s.flows.iter().map(FlowHandle::label).collect();
            let body = json!({"error": format!("no flow {source}->{target}; flows: {}", known.join(", "))});
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
    }
}
