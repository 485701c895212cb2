//! The HTTP listener of `strait run`: health and readiness, Prometheus `/metrics`, and the REST
//! API (flows, lag, pause/resume, refresh) described by `docs/openapi.json`.

mod api;
mod auth;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::routing::{get, post};
use axum::Router;
use strait_mirror::engine::FlowHandle;
use strait_mirror::metrics::PartitionLabels;
use tokio::net::TcpListener;

/// Every route, as `(method, path)` in OpenAPI notation; `docs/openapi.json` documents exactly
/// these (checked by a test).
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/api/v1/flows"),
    ("get", "/api/v1/flows/{source}/{target}"),
    ("get", "/api/v1/flows/{source}/{target}/partitions"),
    ("post", "/api/v1/flows/{source}/{target}/pause"),
    ("post", "/api/v1/flows/{source}/{target}/resume"),
    (
        "post",
        "/api/v1/flows/{source}/{target}/topics/{topic}/pause",
    ),
    (
        "post",
        "/api/v1/flows/{source}/{target}/topics/{topic}/resume",
    ),
    ("post", "/api/v1/flows/{source}/{target}/refresh"),
];

/// What the handlers share.
pub(crate) struct ServeState {
    pub(crate) flows: Vec<FlowHandle>,
    pub(crate) labels: PartitionLabels,
    pub(crate) token: Option<String>,
}

/// Binds `addr` and serves until `shutdown` resolves; returns the bound address at once.
pub(crate) async fn serve(
    addr: SocketAddr,
    state: ServeState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the HTTP listener to {addr}"))?;
    let bound = listener.local_addr()?;
    let app = router(Arc::new(state));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!("HTTP listener stopped: {e}");
        }
    });
    Ok((bound, task))
}

fn router(state: Arc<ServeState>) -> Router {
    let flow = "/api/v1/flows/{source}/{target}";
    let protected = Router::new()
        .route("/metrics", get(api::metrics))
        .route("/api/v1/flows", get(api::flows))
        .route(flow, get(api::flow))
        .route(&format!("{flow}/partitions"), get(api::partitions))
        .route(&format!("{flow}/pause"), post(api::pause_flow))
        .route(&format!("{flow}/resume"), post(api::resume_flow))
        .route(
            &format!("{flow}/topics/{{topic}}/pause"),
            post(api::pause_topic),
        )
        .route(
            &format!("{flow}/topics/{{topic}}/resume"),
            post(api::resume_topic),
        )
        .route(&format!("{flow}/refresh"), post(api::refresh))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(api::health))
        .route("/ready", get(api::ready))
        .merge(protected)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::ROUTES;

    /// docs/openapi.json documents exactly the served routes.
    #[test]
    fn openapi_documents_every_route() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (p, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops.as_object().unwrap().keys() {
                if method != "parameters" {
                    documented.push((method.clone(), p.clone()));
                }
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }
}
