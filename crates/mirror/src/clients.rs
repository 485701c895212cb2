//! Clients of the clusters named in mm2.properties: one home for turning a role's client
//! properties (bootstrap, timeouts, security, socket buffers) into a connected [`Cluster`].

use std::sync::Arc;

use strait_kafka::net::TcpConnector;
use strait_kafka::{Cluster, ClusterConfig};

use crate::config::{client_security, ClientProps, ConfigError};

/// Why a client of a cluster could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The cluster's client properties cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The cluster did not accept the connection.
    #[error(transparent)]
    Kafka(#[from] strait_kafka::Error),
}

/// A client of the cluster `props` belong to, for `role` (e.g. `replication-consumer`) of
/// `flow` (e.g. `east->west`); both end up in the client id brokers see.
/// Checks a client's settings (bootstrap servers, TLS material, SASL) without connecting, so
/// that a bad setting of one cluster is reported even while another is unreachable.
pub fn check(props: &ClientProps) -> Result<(), ConnectError> {
    client_security(props)?;
    props.socket_buffers()?;
    ClusterConfig::new(&props.cluster, props.bootstrap_servers()?)?;
    Ok(())
}

pub async fn connect(props: &ClientProps, flow: &str, role: &str) -> Result<Cluster, ConnectError> {
    let security = client_security(props)?;
    let mut config = ClusterConfig::new(&props.cluster, props.bootstrap_servers()?)?;
    config.connector = match security.connector {
        Some(tls) => tls,
        None => Arc::new(TcpConnector::new(props.socket_buffers()?)),
    };
    tracing::debug!(
        cluster = %props.cluster,
        flow,
        role,
        protocol = ?security.protocol,
        mechanism = security.sasl.as_ref().map(|s| s.mechanism.name()),
        "connecting"
    );
    config.sasl = security.sasl;
    config.client_id = match props.get("client.id") {
        Some(id) => format!("{id}|{flow}|{role}"),
        None => format!("strait|{flow}|{role}"),
    };
    if let Some(timeout) = props.get_duration_ms("request.timeout.ms")? {
        config.request_timeout = timeout;
    }
    Ok(Cluster::connect(config).await?)
}
