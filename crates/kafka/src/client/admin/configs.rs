//! Configs of topics and brokers: describing them and altering them incrementally.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};

use super::{protocol_error, settle};
use crate::client::cluster::Cluster;
use crate::client::str_bytes;
use crate::client::RequiredAcl;
use crate::error::Result;
use crate::net::Connection;

/// A resource whose configs can be described and altered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// A broker, by id.
    Broker(i32),
}

impl ConfigResource {
    /// Kafka's resource type code (TOPIC = 2, BROKER = 4).
    pub fn resource_type(&self) -> i8 {
        match self {
            ConfigResource::Topic(_) => 2,
            ConfigResource::Broker(_) => 4,
        }
    }

    /// The ACL `operation` needs on this resource (a broker's configs are the cluster's).
    fn acls(&self, operation: &'static str) -> [RequiredAcl; 1] {
        match self {
            ConfigResource::Topic(name) => [RequiredAcl::topic(operation, name)],
            ConfigResource::Broker(_) => [RequiredAcl::cluster(operation)],
        }
    }

    /// The resource name as sent on the wire (a broker's id in decimal).
    pub fn resource_name(&self) -> String {
        match self {
            ConfigResource::Topic(name) => name.clone(),
            ConfigResource::Broker(id) => id.to_string(),
        }
    }
}

impl std::fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigResource::Topic(name) => write!(f, "topic {name}"),
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
        }
    }
}

/// Where a config value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigSource {
    /// Source unknown (code 0).
    Unknown,
    /// Set on the topic (code 1).
    DynamicTopic,
    /// Set dynamically for this broker (code 2).
    DynamicBroker,
    /// Set dynamically as the default for all brokers (code 3).
    DynamicDefaultBroker,
    /// Set in the broker's static config file (code 4).
    StaticBroker,
    /// The built-in default (code 5).
    Default,
    /// Set dynamically for client metrics (code 6).
    DynamicClientMetrics,
    /// Set dynamically for a group (code 7).
    DynamicGroup,
    /// A code this client does not know.
    Other(i8),
}

impl ConfigSource {
    /// The source for Kafka's numeric code.
    pub fn from_code(code: i8) -> Self {
        match code {
            0 => ConfigSource::Unknown,
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicClientMetrics,
            7 => ConfigSource::DynamicGroup,
            other => ConfigSource::Other(other),
        }
    }

    /// Kafka's numeric code for this source.
    pub fn code(self) -> i8 {
        match self {
            ConfigSource::Unknown => 0,
            ConfigSource::DynamicTopic => 1,
            ConfigSource::DynamicBroker => 2,
            ConfigSource::DynamicDefaultBroker => 3,
            ConfigSource::StaticBroker => 4,
            ConfigSource::Default => 5,
            ConfigSource::DynamicClientMetrics => 6,
            ConfigSource::DynamicGroup => 7,
            ConfigSource::Other(code) => code,
        }
    }
}

/// One config of a resource, as described by the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Config name.
    pub name: String,
    /// Value (`None` when null, e.g. for sensitive configs).
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether the config cannot be altered.
    pub read_only: bool,
    /// Whether the value is sensitive (and therefore hidden).
    pub sensitive: bool,
    /// Whether the value is the built-in default (source `Default`).
    pub is_default: bool,
}

/// One change of an incremental config alteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterOp {
    /// Sets the config to the value.
    Set(String),
    /// Removes the config, reverting it to its default.
    Delete,
    /// Appends the value to a list config.
    Append(String),
    /// Removes the value from a list config.
    Subtract(String),
}

impl AlterOp {
    fn code(&self) -> i8 {
        match self {
            AlterOp::Set(_) => 0,
            AlterOp::Delete => 1,
            AlterOp::Append(_) => 2,
            AlterOp::Subtract(_) => 3,
        }
    }

    fn value(&self) -> Option<&str> {
        match self {
            AlterOp::Set(v) | AlterOp::Append(v) | AlterOp::Subtract(v) => Some(v),
            AlterOp::Delete => None,
        }
    }
}

impl Cluster {
    /// The configs of a topic or broker (without synonyms).
    pub async fn describe_configs(&self, resource: &ConfigResource) -> Result<Vec<ConfigEntry>> {
        let op = format!("describe configs of {resource}");
        let request = DescribeConfigsRequest::default()
            .with_include_synonyms(false)
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(resource.resource_type())
                .with_resource_name(str_bytes(&resource.resource_name()))
                .with_configuration_keys(None)]);
        self.with_retries("describe configs", || async {
            let conn = self.config_connection(resource).await?;
            let version = conn.version_for::<DescribeConfigsRequest>()?;
            let response = conn.submit_version(&request, version).await?.wait().await?;
            let result = response.results.into_iter().next().ok_or_else(|| {
                protocol_error::<DescribeConfigsRequest>(
                    self,
                    &conn,
                    version,
                    "empty response".into(),
                )
            })?;
            if let Some(e) = self.broker_error(
                op.as_str(),
                result.error_code,
                result.error_message.as_deref(),
            ) {
                return settle(self.explain_denial(e, &resource.acls("DescribeConfigs")));
            }
            Ok(Ok(result
                .configs
                .into_iter()
                .map(|c| {
                    // The codec speaks v1+, where config_source replaces v0's is_default.
                    let source = ConfigSource::from_code(c.config_source);
                    ConfigEntry {
                        name: c.name.to_string(),
                        value: c.value.map(|v| v.to_string()),
                        source,
                        read_only: c.read_only,
                        sensitive: c.is_sensitive,
                        is_default: source == ConfigSource::Default,
                    }
                })
                .collect()))
        })
        .await?
    }

    /// Applies config changes to a topic or broker, each change by name.
    pub async fn incremental_alter_configs(
        &self,
        resource: &ConfigResource,
        changes: &[(String, AlterOp)],
    ) -> Result<()> {
        let described: Vec<String> = changes
            .iter()
            .map(|(name, change)| match change {
                AlterOp::Set(v) => format!("set {name}={v}"),
                AlterOp::Delete => format!("delete {name}"),
                AlterOp::Append(v) => format!("append {v} to {name}"),
                AlterOp::Subtract(v) => format!("subtract {v} from {name}"),
            })
            .collect();
        let op = format!("alter configs of {resource} ({})", described.join(", "));
        let request = IncrementalAlterConfigsRequest::default()
            .with_validate_only(false)
            .with_resources(vec![AlterConfigsResource::default()
                .with_resource_type(resource.resource_type())
                .with_resource_name(str_bytes(&resource.resource_name()))
                .with_configs(
                    changes
                        .iter()
                        .map(|(name, change)| {
                            AlterableConfig::default()
                                .with_name(str_bytes(name))
                                .with_config_operation(change.code())
                                .with_value(change.value().map(str_bytes))
                        })
                        .collect(),
                )]);
        self.with_retries("alter configs", || async {
            let conn = self.config_connection(resource).await?;
            let version = conn.version_for::<IncrementalAlterConfigsRequest>()?;
            let response = conn.submit_version(&request, version).await?.wait().await?;
            let result = response.responses.into_iter().next().ok_or_else(|| {
                protocol_error::<IncrementalAlterConfigsRequest>(
                    self,
                    &conn,
                    version,
                    "empty response".into(),
                )
            })?;
            match self.broker_error(
                op.as_str(),
                result.error_code,
                result.error_message.as_deref(),
            ) {
                Some(e) => settle(self.explain_denial(e, &resource.acls("AlterConfigs"))),
                None => Ok(Ok(())),
            }
        })
        .await?
    }

    /// Broker configs go to that broker; topic configs to the controller (or any broker).
    async fn config_connection(
        &self,
        resource: &ConfigResource,
    ) -> Result<std::sync::Arc<Connection>> {
        match resource {
            ConfigResource::Broker(id) => self.broker(*id).await,
            ConfigResource::Topic(_) => self.controller().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sources_round_trip_kafka_codes() {
        for code in -1..10 {
            assert_eq!(ConfigSource::from_code(code).code(), code);
        }
        assert_eq!(ConfigSource::from_code(1), ConfigSource::DynamicTopic);
        assert_eq!(ConfigSource::from_code(5), ConfigSource::Default);
        assert_eq!(ConfigSource::from_code(9), ConfigSource::Other(9));
    }
}
