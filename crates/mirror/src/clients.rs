//! Clients of the clusters named in mm2.properties: one home for turning a role's client
//! properties (bootstrap, timeouts, security) into a connected [`Cluster`].

use strait_kafka::{Cluster, ClusterConfig};

use crate::config::ClientProps;
use crate::engine::EngineError;

/// A client of the cluster `props` belong to, for `role` (e.g. `replication-consumer`) of
/// `flow` (e.g. `east->west`); both end up in the client id brokers see.
pub async fn connect(props: &ClientProps, flow: &str, role: &str) -> Result<Cluster, EngineError> {
    if let Some(protocol) = props.get("security.protocol") {
        if !protocol.eq_ignore_ascii_case("PLAINTEXT") {
            return Err(EngineError::Unsupported(format!(
                "cluster {}: security.protocol {protocol} is not supported yet (PLAINTEXT only)",
                props.cluster
            )));
        }
    }
    let mut config = ClusterConfig::new(&props.cluster, props.bootstrap_servers()?)?;
    config.client_id = match props.get("client.id") {
        Some(id) => format!("{id}|{flow}|{role}"),
        None => format!("strait|{flow}|{role}"),
    };
    if let Some(timeout) = props.get_duration_ms("request.timeout.ms")? {
        config.request_timeout = timeout;
    }
    Ok(Cluster::connect(config).await?)
}
