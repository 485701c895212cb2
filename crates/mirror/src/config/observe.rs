//! strait-only keys for the HTTP listener (REST API and `/metrics`): MM2 has no equivalent in
//! dedicated mode, so these are strait extensions (docs/compatibility.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::error::{ConfigError, KeyProblem};
use super::properties::{Properties, Property};
use super::values::{java_trim, parse_bool, Val};

/// `strait.http.enabled`: serve the REST API and `/metrics` (default true).
pub const HTTP_ENABLED: &str = "strait.http.enabled";
/// `strait.http.listen`: address to bind (default `127.0.0.1:9464`, local only).
pub const HTTP_LISTEN: &str = "strait.http.listen";
/// `strait.http.token.file`: file holding a bearer token every request must carry.
pub const HTTP_TOKEN_FILE: &str = "strait.http.token.file";
/// `strait.metrics.partition.labels`: `partition` (default) or `topic` (one series per topic).
pub const METRICS_PARTITION_LABELS: &str = "strait.metrics.partition.labels";

/// Where the listener binds when nothing is configured.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9464";

/// The observability settings of a strait process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveConfig {
    /// Whether the HTTP listener runs.
    pub http_enabled: bool,
    /// Address to bind.
    pub http_listen: SocketAddr,
    /// Whether `http_listen` was configured (a busy default port is only a warning).
    pub http_listen_explicit: bool,
    /// File with the bearer token, if requests must carry one.
    pub http_token_file: Option<PathBuf>,
    /// Per-topic instead of per-partition metric series.
    pub metrics_per_topic: bool,
}

impl ObserveConfig {
    /// Reads the `strait.http.*` and `strait.metrics.*` keys.
    pub fn from_properties(props: &Properties) -> Result<ObserveConfig, ConfigError> {
        let http_enabled = match props.get(HTTP_ENABLED) {
            Some(p) => parse_bool(&p.value).ok_or_else(|| {
                error(
                    p,
                    KeyProblem::InvalidBoolean {
                        value: p.value.clone(),
                    },
                )
            })?,
            None => true,
        };
        let listen = props.get(HTTP_LISTEN);
        let http_listen = match listen {
            Some(p) => java_trim(&p.value).parse().map_err(|_| {
                error(
                    p,
                    KeyProblem::InvalidChoice {
                        value: p.value.clone(),
                        expected: "an IP address and port, e.g. 127.0.0.1:9464 or 0.0.0.0:9464",
                    },
                )
            })?,
            None => DEFAULT_HTTP_LISTEN.parse().expect("valid default address"),
        };
        let http_token_file = match props.get(HTTP_TOKEN_FILE) {
            Some(p) if java_trim(&p.value).is_empty() => {
                return Err(error(
                    p,
                    KeyProblem::Invalid {
                        reason: "must name a file".to_owned(),
                    },
                ))
            }
            Some(p) => Some(PathBuf::from(java_trim(&p.value))),
            None => None,
        };
        let metrics_per_topic = match props.get(METRICS_PARTITION_LABELS) {
            Some(p) => match java_trim(&p.value) {
                "partition" => false,
                "topic" => true,
                _ => {
                    return Err(error(
                        p,
                        KeyProblem::InvalidChoice {
                            value: p.value.clone(),
                            expected: "partition or topic",
                        },
                    ))
                }
            },
            None => false,
        };
        Ok(ObserveConfig {
            http_enabled,
            http_listen,
            http_listen_explicit: listen.is_some(),
            http_token_file,
            metrics_per_topic,
        })
    }
}

fn error(p: &Property, problem: KeyProblem) -> ConfigError {
    Val::from_property(p).error(&p.key, problem)
}
