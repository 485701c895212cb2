//! Settings of a client of one cluster.

use std::sync::Arc;
use std::time::Duration;

use super::retry::RetryPolicy;
use crate::error::{Error, Result};
use crate::net::{Connector, SaslConfig, TcpConnector};

/// How to reach and talk to one Kafka cluster. `Debug` shows no secret (see
/// [`crate::net::Secret`]); the connector prints only its settings' shape.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster's alias, used in every error and log line.
    pub name: String,
    /// `host:port` pairs to bootstrap from.
    pub bootstrap: Vec<(String, u16)>,
    /// Client id sent to brokers.
    pub client_id: String,
    /// Time allowed to open a connection and negotiate versions.
    pub connect_timeout: Duration,
    /// Time allowed for one response.
    pub request_timeout: Duration,
    /// Backoff and attempt limits for retriable errors.
    pub retry: RetryPolicy,
    /// How byte streams to brokers are opened (TCP, or TLS via [`crate::net::TlsConnector`]).
    pub connector: Arc<dyn Connector>,
    /// SASL authentication, if the cluster requires it.
    pub sasl: Option<SaslConfig>,
}

impl ClusterConfig {
    /// A config for cluster `name` from a `bootstrap.servers` style list (`host:port,host:port`).
    pub fn new(name: &str, bootstrap_servers: &str) -> Result<Self> {
        let bootstrap = parse_bootstrap(name, bootstrap_servers)?;
        Ok(ClusterConfig {
            name: name.to_owned(),
            bootstrap,
            client_id: format!("strait-{name}"),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            connector: Arc::new(TcpConnector::default()),
            sasl: None,
        })
    }
}

fn parse_bootstrap(name: &str, list: &str) -> Result<Vec<(String, u16)>> {
    let servers: Vec<_> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|server| {
            let (host, port) = server.rsplit_once(':').ok_or_else(|| {
                Error::Config(format!(
                    "cluster {name}: bootstrap server '{server}' has no port (expected host:port)"
                ))
            })?;
            let port = port.parse::<u16>().map_err(|_| {
                Error::Config(format!(
                    "cluster {name}: bootstrap server '{server}' has an invalid port"
                ))
            })?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok((host.to_owned(), port))
        })
        .collect::<Result<_>>()?;
    if servers.is_empty() {
        return Err(Error::Config(format!(
            "cluster {name}: bootstrap servers are empty"
        )));
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bootstrap_lists() {
        let c = ClusterConfig::new("a", " h1:9092, [::1]:9093 ,").unwrap();
        assert_eq!(
            c.bootstrap,
            vec![("h1".to_owned(), 9092), ("::1".to_owned(), 9093)]
        );
    }

    #[test]
    fn rejects_bad_bootstrap_lists_naming_the_cluster() {
        let e = ClusterConfig::new("east", "h1").unwrap_err().to_string();
        assert!(e.contains("east") && e.contains("'h1'"), "{e}");
        let e = ClusterConfig::new("east", "h1:x").unwrap_err().to_string();
        assert!(e.contains("invalid port"), "{e}");
        assert!(ClusterConfig::new("east", " , ").is_err());
    }
}
