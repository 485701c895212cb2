//! Fully resolved Kafka client properties for one role of a flow.

use std::collections::BTreeMap;
use std::time::Duration;

use strait_kafka::net::SocketBuffers;

use super::error::{ConfigError, KeyProblem};
use super::redact::redact;
use super::values::{java_trim, parse_bool, parse_list, Layer, Origin};

/// A Kafka client's properties after MM2's precedence rules, values trimmed like `ConfigDef`.
/// `Debug` prints secret values (passwords, JAAS configs, keys) as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientProps {
    /// Alias of the cluster the client connects to.
    pub cluster: String,
    /// Client properties (`bootstrap.servers`, `security.protocol`, `max.poll.records`...).
    pub props: BTreeMap<String, String>,
    origins: BTreeMap<String, Origin>,
}

impl std::fmt::Debug for ClientProps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let props: BTreeMap<&str, &str> = self
            .props
            .iter()
            .map(|(k, v)| (k.as_str(), redact(k, v)))
            .collect();
        f.debug_struct("ClientProps")
            .field("cluster", &self.cluster)
            .field("props", &props)
            .finish_non_exhaustive()
    }
}

impl ClientProps {
    /// Properties not read from a file (errors will not name a line).
    pub fn new(cluster: impl Into<String>, props: BTreeMap<String, String>) -> Self {
        Self {
            cluster: cluster.into(),
            props,
            origins: BTreeMap::new(),
        }
    }

    pub(crate) fn from_layer(cluster: &str, layer: Layer) -> Self {
        let mut props = BTreeMap::new();
        let mut origins = BTreeMap::new();
        for (k, v) in layer {
            if let Some(origin) = v.origin {
                origins.insert(k.clone(), origin);
            }
            props.insert(k, java_trim(&v.value).to_owned());
        }
        Self {
            cluster: cluster.to_owned(),
            props,
            origins,
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// The file entry `key`'s value came from, if it was written in the file.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.origins.get(key)
    }

    /// `bootstrap.servers`, as written (comma-separated `host:port` list).
    pub fn bootstrap_servers(&self) -> Result<&str, ConfigError> {
        match self.get("bootstrap.servers") {
            Some(servers) if !servers.is_empty() => Ok(servers),
            _ => Err(self.error(
                "bootstrap.servers",
                KeyProblem::Invalid {
                    reason: format!("cluster `{}` has no bootstrap servers", self.cluster),
                },
            )),
        }
    }

    /// The value of `key` split like a `ConfigDef` LIST.
    pub fn get_list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(parse_list)
    }

    /// `key` as a boolean (`true`/`false`, case-insensitive).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.get(key)
            .map(|v| {
                parse_bool(v).ok_or_else(|| {
                    self.error(
                        key,
                        KeyProblem::InvalidBoolean {
                            value: redact(key, v).to_owned(),
                        },
                    )
                })
            })
            .transpose()
    }

    /// `key` as an `int`.
    pub fn get_i32(&self, key: &str) -> Result<Option<i32>, ConfigError> {
        self.number(key, "int")
    }

    /// `key` as a `long`.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        self.number(key, "long")
    }

    /// `key` as a `double`.
    pub fn get_f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.number(key, "double")
    }

    /// `send.buffer.bytes` and `receive.buffer.bytes`: a size in bytes, or -1 (strait's
    /// default when absent) for the OS default, which grows with the link.
    pub fn socket_buffers(&self) -> Result<SocketBuffers, ConfigError> {
        let size = |key: &str| match self.get_i32(key)? {
            None | Some(-1) => Ok(None),
            Some(bytes) => u32::try_from(bytes).map(Some).map_err(|_| {
                self.error(
                    key,
                    KeyProblem::OutOfRange {
                        value: bytes.to_string(),
                        requirement: "must be -1 (the OS default) or a size in bytes",
                    },
                )
            }),
        };
        Ok(SocketBuffers {
            send: size("send.buffer.bytes")?,
            receive: size("receive.buffer.bytes")?,
        })
    }

    /// `key` as a non-negative number of milliseconds.
    pub fn get_duration_ms(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.get_i64(key)? {
            None => Ok(None),
            Some(ms) => u64::try_from(ms)
                .map(|ms| Some(Duration::from_millis(ms)))
                .map_err(|_| {
                    self.error(
                        key,
                        KeyProblem::OutOfRange {
                            value: ms.to_string(),
                            requirement: "must not be negative",
                        },
                    )
                }),
        }
    }

    fn number<T: std::str::FromStr>(
        &self,
        key: &str,
        kind: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    self.error(
                        key,
                        KeyProblem::InvalidNumber {
                            value: redact(key, v).to_owned(),
                            kind,
                        },
                    )
                })
            })
            .transpose()
    }

    /// An error about `key`, naming the file entry it came from when known.
    pub(crate) fn error(&self, key: &str, problem: KeyProblem) -> ConfigError {
        match self.origins.get(key) {
            Some(o) => ConfigError::Key {
                key: o.key.clone(),
                line: Some(o.line),
                problem,
            },
            None => ConfigError::Key {
                key: format!("{}.{key}", self.cluster),
                line: None,
                problem,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use strait_kafka::net::SocketBuffers;

    use crate::config::parse_str;

    const BASE: &str = "clusters = a, b\na.bootstrap.servers = h:1\nb.bootstrap.servers = h:2\n\
                        a->b.enabled = true\n";

    #[test]
    fn socket_buffers_follow_client_precedence() {
        let config = parse_str(&format!(
            "{BASE}a.consumer.receive.buffer.bytes = 1048576\na.consumer.send.buffer.bytes = -1\n\
             b.producer.send.buffer.bytes = 262144\n"
        ))
        .unwrap();
        let flow = &config.flows[0];
        assert_eq!(
            flow.source_consumer.socket_buffers().unwrap(),
            SocketBuffers {
                send: None,
                receive: Some(1 << 20),
            }
        );
        assert_eq!(
            flow.target_producer.socket_buffers().unwrap(),
            SocketBuffers {
                send: Some(256 << 10),
                receive: None,
            }
        );
    }

    #[test]
    fn a_socket_buffer_below_minus_one_names_the_key_and_line() {
        let config = parse_str(&format!("{BASE}a.consumer.receive.buffer.bytes = -2\n")).unwrap();
        let e = config.flows[0]
            .source_consumer
            .socket_buffers()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.consumer.receive.buffer.bytes")
                && e.contains("line 5")
                && e.contains("-1"),
            "{e}"
        );
    }
}
