//! Fully resolved Kafka client properties for one role of a flow.

use std::collections::BTreeMap;
use std::time::Duration;

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
