//! Administration: topics, partitions, configs, offsets by time, and ACLs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, CreateAclsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeAclsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
    ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::Request;

use super::cluster::Cluster;
use super::fetch::Isolation;
use super::metadata::Metadata;
use super::str_bytes;
use crate::error::{Error, Result};
use crate::net::{api_name, Connection, PendingResponse};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions (-1 for the broker default).
    pub partitions: i32,
    /// Replication factor (-1 for the broker default).
    pub replication_factor: i16,
    /// Topic configs, e.g. `("retention.ms", "-1")`.
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions, the broker's default replication factor and no configs.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            configs: Vec::new(),
        }
    }

    /// Sets the replication factor.
    pub fn with_replication_factor(mut self, replication_factor: i16) -> Self {
        self.replication_factor = replication_factor;
        self
    }

    /// Adds a topic config.
    pub fn with_config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((name.into(), value.into()));
        self
    }
}

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

/// Which offset of a partition to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (timestamp -2).
    Earliest,
    /// The log end offset, or the last stable offset under read_committed (timestamp -1).
    Latest,
    /// The first offset whose record timestamp is at or after this one (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    /// The timestamp sent in ListOffsets.
    pub fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(ts) => ts,
        }
    }
}

impl std::fmt::Display for OffsetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OffsetSpec::Earliest => f.write_str("earliest"),
            OffsetSpec::Latest => f.write_str("latest"),
            OffsetSpec::Timestamp(ts) => write!(f, "timestamp {ts}"),
        }
    }
}

/// A partition offset found by ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; -1 when no record has a timestamp at or after the one asked for.
    pub offset: i64,
    /// Timestamp of the record found (-1 for earliest/latest lookups).
    pub timestamp: i64,
    /// Leader epoch of the offset, -1 when unknown.
    pub leader_epoch: i32,
}

/// An ACL: who may (or may not) do what on which resources. Fields hold Kafka's numeric codes,
/// see [`acl`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBinding {
    /// Resource type ([`acl::resource`]).
    pub resource_type: i8,
    /// Resource name (or prefix, for PREFIXED patterns).
    pub resource_name: String,
    /// Pattern type ([`acl::pattern`]).
    pub pattern_type: i8,
    /// Principal, e.g. `User:alice`.
    pub principal: String,
    /// Host, `*` for any.
    pub host: String,
    /// Operation ([`acl::operation`]).
    pub operation: i8,
    /// Permission type ([`acl::permission`]).
    pub permission_type: i8,
}

/// A filter of ACLs; `None` strings and the ANY codes match everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclFilter {
    /// Resource type ([`acl::resource`]).
    pub resource_type: i8,
    /// Resource name, `None` for any.
    pub resource_name: Option<String>,
    /// Pattern type ([`acl::pattern`]).
    pub pattern_type: i8,
    /// Principal, `None` for any.
    pub principal: Option<String>,
    /// Host, `None` for any.
    pub host: Option<String>,
    /// Operation ([`acl::operation`]).
    pub operation: i8,
    /// Permission type ([`acl::permission`]).
    pub permission_type: i8,
}

impl AclFilter {
    /// Matches every ACL on every resource.
    pub fn any() -> Self {
        AclFilter {
            resource_type: acl::resource::ANY,
            ..AclFilter::any_topic()
        }
    }

    /// Matches every ACL on any topic.
    pub fn any_topic() -> Self {
        AclFilter {
            resource_type: acl::resource::TOPIC,
            resource_name: None,
            pattern_type: acl::pattern::ANY,
            principal: None,
            host: None,
            operation: acl::operation::ANY,
            permission_type: acl::permission::ANY,
        }
    }
}

/// Kafka's numeric ACL codes.
pub mod acl {
    /// Resource types.
    pub mod resource {
        /// Matches any resource type (filters only).
        pub const ANY: i8 = 1;
        /// A topic.
        pub const TOPIC: i8 = 2;
        /// A consumer group.
        pub const GROUP: i8 = 3;
        /// The cluster.
        pub const CLUSTER: i8 = 4;
        /// A transactional id.
        pub const TRANSACTIONAL_ID: i8 = 5;
        /// A delegation token.
        pub const DELEGATION_TOKEN: i8 = 6;
        /// A user.
        pub const USER: i8 = 7;
    }

    /// Resource pattern types.
    pub mod pattern {
        /// Matches any pattern type (filters only).
        pub const ANY: i8 = 1;
        /// Matches literal, wildcard and prefixed patterns that apply to a name (filters only).
        pub const MATCH: i8 = 2;
        /// The name is matched exactly (or `*` for all).
        pub const LITERAL: i8 = 3;
        /// The name is a prefix.
        pub const PREFIXED: i8 = 4;
    }

    /// Operations.
    pub mod operation {
        /// Matches any operation (filters only).
        pub const ANY: i8 = 1;
        /// All operations.
        pub const ALL: i8 = 2;
        /// Read.
        pub const READ: i8 = 3;
        /// Write.
        pub const WRITE: i8 = 4;
        /// Create.
        pub const CREATE: i8 = 5;
        /// Delete.
        pub const DELETE: i8 = 6;
        /// Alter.
        pub const ALTER: i8 = 7;
        /// Describe.
        pub const DESCRIBE: i8 = 8;
        /// Cluster action.
        pub const CLUSTER_ACTION: i8 = 9;
        /// Describe configs.
        pub const DESCRIBE_CONFIGS: i8 = 10;
        /// Alter configs.
        pub const ALTER_CONFIGS: i8 = 11;
        /// Idempotent write.
        pub const IDEMPOTENT_WRITE: i8 = 12;
    }

    /// Permission types.
    pub mod permission {
        /// Matches any permission (filters only).
        pub const ANY: i8 = 1;
        /// Deny.
        pub const DENY: i8 = 2;
        /// Allow.
        pub const ALLOW: i8 = 3;
    }
}

/// Per-item results of an admin request that is retried for the items that failed retriably.
struct Outcomes {
    /// Result of each item answered so far, and whether it is final.
    results: Mutex<BTreeMap<String, (Result<()>, bool)>>,
}

impl Outcomes {
    fn new() -> Self {
        Outcomes {
            results: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `name` still needs (another) attempt.
    fn pending(&self, name: &str) -> bool {
        !matches!(
            self.results.lock().expect("outcomes lock").get(name),
            Some((_, true))
        )
    }

    /// Records the answer for `name`; an error worth retrying leaves it pending.
    fn record(&self, name: String, result: Result<()>) -> Option<Error> {
        let retry = match &result {
            Err(e) if admin_retriable(e) => Some(retry_marker(e)),
            _ => None,
        };
        let settled = retry.is_none();
        self.results
            .lock()
            .expect("outcomes lock")
            .insert(name, (result, settled));
        retry
    }

    /// The results in `names` order; `Err(last)` if some item never got an answer.
    fn finish<'a>(
        self,
        cluster: &str,
        what: &str,
        names: impl Iterator<Item = &'a str>,
        last: Result<()>,
    ) -> Result<Vec<(String, Result<()>)>> {
        let mut results = self.results.into_inner().expect("outcomes lock");
        let names: Vec<&str> = names.collect();
        if let Err(e) = last {
            if names.iter().any(|n| !results.contains_key(*n)) {
                return Err(e);
            }
        }
        let mut out = Vec::with_capacity(names.len());
        let mut seen = BTreeSet::new();
        for name in names {
            // A name listed twice gets the one answer the broker gave for it, once.
            if !seen.insert(name) {
                continue;
            }
            let result = match results.remove(name) {
                Some((result, _)) => result,
                None => Err(Error::Metadata {
                    cluster: cluster.to_owned(),
                    what: format!("{what}: no result for {name}"),
                }),
            };
            out.push((name.to_owned(), result));
        }
        Ok(out)
    }
}

/// Per-item admin errors worth another attempt (the controller moved, or a quota throttled us).
fn admin_retriable(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(ResponseError::NotController | ResponseError::ThrottlingQuotaExceeded)
    )
}

/// A resource-level admin error: retried (outer `Err`) only when [`admin_retriable`], else final.
fn settle<T>(e: Error) -> Result<Result<T>> {
    if admin_retriable(&e) {
        Err(e)
    } else {
        Ok(Err(e))
    }
}

/// A copy of a per-item retriable error, to make [`Cluster::with_retries`] try again.
fn retry_marker(e: &Error) -> Error {
    match e {
        Error::Broker {
            cluster,
            op,
            code,
            message,
        } => Error::Broker {
            cluster: cluster.clone(),
            op: op.clone(),
            code: *code,
            message: message.clone(),
        },
        other => Error::Metadata {
            cluster: String::new(),
            what: other.to_string(),
        },
    }
}

impl Cluster {
    /// Creates topics; returns each topic's result in input order. An existing topic is an
    /// `Err` whose [`Error::code`] is `TopicAlreadyExists`.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Vec<(String, Result<()>)>> {
        let outcomes = Outcomes::new();
        let wait = self.config().request_timeout;
        let last = self
            .with_retries("create topics", || async {
                let pending: Vec<&NewTopic> = topics
                    .iter()
                    .filter(|t| outcomes.pending(&t.name))
                    .collect();
                if pending.is_empty() {
                    return Ok(());
                }
                let request = CreateTopicsRequest::default()
                    .with_timeout_ms(millis(wait))
                    .with_validate_only(false)
                    .with_topics(pending.iter().map(|t| creatable_topic(t)).collect());
                let conn = self.controller().await?;
                let version = conn.version_for::<CreateTopicsRequest>()?;
                let response = conn
                    .submit_with_wait(&request, version, wait)
                    .await?
                    .wait()
                    .await?;
                let mut retry = None;
                for result in response.topics {
                    let name = result.name.0.to_string();
                    let outcome = match self.broker_error(
                        format!("create topic {name}"),
                        result.error_code,
                        result.error_message.as_deref(),
                    ) {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                    retry = outcomes.record(name, outcome).or(retry);
                }
                for topic in pending {
                    if outcomes.pending(&topic.name) && retry.is_none() {
                        let reason = format!("response lacks topic {}", topic.name);
                        let e = protocol_error::<CreateTopicsRequest>(self, &conn, version, reason);
                        outcomes.record(topic.name.clone(), Err(e));
                    }
                }
                retry.map_or(Ok(()), Err)
            })
            .await;
        outcomes.finish(
            self.name(),
            "create topics",
            topics.iter().map(|t| t.name.as_str()),
            last,
        )
    }

    /// Creates one topic and waits until metadata shows all its partitions with leaders.
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<()> {
        let mut results = self.create_topics(std::slice::from_ref(topic)).await?;
        match results.pop() {
            Some((_, result)) => result?,
            None => {
                return Err(Error::Metadata {
                    cluster: self.name().to_owned(),
                    what: format!("create topic {}: no result", topic.name),
                })
            }
        }
        self.await_partitions(&topic.name, topic.partitions).await
    }

    /// Waits (bounded by the request timeout) until metadata shows `topic` with `partitions`
    /// partitions (at least one when `partitions` is -1), each with a known leader.
    async fn await_partitions(&self, topic: &str, partitions: i32) -> Result<()> {
        let deadline = Instant::now() + self.config().request_timeout;
        let policy = self.config().retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = match self.probe_topic(topic).await {
                Ok(metadata) => match metadata.topic(topic) {
                    Some(t) => {
                        let leaders = t
                            .partitions
                            .iter()
                            .filter(|p| metadata.leader(topic, p.partition).is_some())
                            .count();
                        let enough = if partitions < 0 {
                            !t.partitions.is_empty()
                        } else {
                            t.partitions.len() == partitions as usize
                        };
                        if enough && leaders == t.partitions.len() {
                            // The topic exists now, so refreshing it cannot auto-create it.
                            self.refresh_topics(&[topic]).await?;
                            return Ok(());
                        }
                        format!(
                            "metadata shows {} partitions, {leaders} with leaders",
                            t.partitions.len()
                        )
                    }
                    None => "metadata does not show it".to_owned(),
                },
                Err(e) => e.to_string(),
            };
            let backoff = policy.backoff(attempt);
            if Instant::now() + backoff > deadline {
                let want = if partitions < 0 {
                    "its partitions".to_owned()
                } else {
                    format!("{partitions} partitions")
                };
                return Err(Error::Metadata {
                    cluster: self.name().to_owned(),
                    what: format!(
                        "topic {topic} does not show {want} with leaders after {:?}: {last}",
                        self.config().request_timeout
                    ),
                });
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// Metadata of one topic (never auto-creating it), without touching the cached snapshot.
    async fn probe_topic(&self, topic: &str) -> Result<Metadata> {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(topic)))
            ]))
            .with_allow_auto_topic_creation(false);
        let response = self.send_any(&request).await?;
        Ok(Metadata::from_response(&response))
    }

    /// Deletes topics; returns each topic's result in input order.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<Vec<(String, Result<()>)>> {
        let outcomes = Outcomes::new();
        let wait = self.config().request_timeout;
        let last = self
            .with_retries("delete topics", || async {
                let pending: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| outcomes.pending(n))
                    .collect();
                if pending.is_empty() {
                    return Ok(());
                }
                let conn = self.controller().await?;
                let version = conn.version_for::<DeleteTopicsRequest>()?;
                let request = DeleteTopicsRequest::default().with_timeout_ms(millis(wait));
                let request = if version >= 6 {
                    request.with_topics(
                        pending
                            .iter()
                            .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                            .collect(),
                    )
                } else {
                    request.with_topic_names(pending.iter().map(|n| topic_name(n)).collect())
                };
                let response = conn
                    .submit_with_wait(&request, version, wait)
                    .await?
                    .wait()
                    .await?;
                let mut retry = None;
                for result in response.responses {
                    let Some(name) = result.name.map(|n| n.0.to_string()) else {
                        continue;
                    };
                    let outcome = match self.broker_error(
                        format!("delete topic {name}"),
                        result.error_code,
                        result.error_message.as_deref(),
                    ) {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                    retry = outcomes.record(name, outcome).or(retry);
                }
                for name in pending {
                    if outcomes.pending(name) && retry.is_none() {
                        let reason = format!("response lacks topic {name}");
                        let e = protocol_error::<DeleteTopicsRequest>(self, &conn, version, reason);
                        outcomes.record(name.to_owned(), Err(e));
                    }
                }
                retry.map_or(Ok(()), Err)
            })
            .await;
        // Drop the deleted topics from the cached metadata (best effort). Not `refresh_topics`:
        // naming a deleted topic in a Metadata request may auto-create it again.
        let _ = self.refresh_metadata().await;
        outcomes.finish(self.name(), "delete topics", names.iter().copied(), last)
    }

    /// Grows `topic` to `total_count` partitions, then waits until metadata shows them all
    /// with leaders.
    pub async fn create_partitions(&self, topic: &str, total_count: i32) -> Result<()> {
        let wait = self.config().request_timeout;
        let op = format!("create partitions for topic {topic} (to {total_count} in total)");
        self.with_retries("create partitions", || async {
            let request = CreatePartitionsRequest::default()
                .with_timeout_ms(millis(wait))
                .with_validate_only(false)
                .with_topics(vec![CreatePartitionsTopic::default()
                    .with_name(topic_name(topic))
                    .with_count(total_count)
                    .with_assignments(None)]);
            let conn = self.controller().await?;
            let version = conn.version_for::<CreatePartitionsRequest>()?;
            let response = conn
                .submit_with_wait(&request, version, wait)
                .await?
                .wait()
                .await?;
            let result = response
                .results
                .iter()
                .find(|r| &*r.name.0 == topic)
                .ok_or_else(|| {
                    let reason = format!("response lacks topic {topic}");
                    protocol_error::<CreatePartitionsRequest>(self, &conn, version, reason)
                })?;
            match self.broker_error(
                op.as_str(),
                result.error_code,
                result.error_message.as_deref(),
            ) {
                Some(e) => settle(e),
                None => Ok(Ok(())),
            }
        })
        .await??;
        self.await_partitions(topic, total_count).await
    }

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
                return settle(e);
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
                Some(e) => settle(e),
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

    /// Looks up offsets of `topic`'s `partitions` by time, one request per partition leader;
    /// returns them in input order. `Latest` under read_committed is the last stable offset.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        isolation: Isolation,
    ) -> Result<Vec<(i32, ListedOffset)>> {
        let found: Mutex<BTreeMap<i32, ListedOffset>> = Mutex::default();
        let timeout = self.config().request_timeout;
        self.with_retries("list offsets", || async {
            let pending: BTreeSet<i32> = {
                let found = found.lock().expect("offsets lock");
                partitions
                    .iter()
                    .copied()
                    .filter(|p| !found.contains_key(p))
                    .collect()
            };
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for partition in pending {
                let (leader, _) = self.leader(topic, partition).await?;
                by_leader.entry(leader).or_default().push(partition);
            }
            // Write every leader's request first, then collect the answers.
            let mut in_flight: Vec<PendingResponse<ListOffsetsRequest>> =
                Vec::with_capacity(by_leader.len());
            for (leader, partitions) in by_leader {
                let conn = self.broker(leader).await?;
                let version = conn.version_for::<ListOffsetsRequest>()?;
                let mut request = ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![ListOffsetsTopic::default()
                        .with_name(topic_name(topic))
                        .with_partitions(
                            partitions
                                .iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*p)
                                        .with_timestamp(spec.timestamp())
                                })
                                .collect(),
                        )]);
                // v1 has no isolation level (it always reads uncommitted).
                if version >= 2 {
                    request = request.with_isolation_level(match isolation {
                        Isolation::ReadUncommitted => 0,
                        Isolation::ReadCommitted => 1,
                    });
                }
                if version >= 10 {
                    request = request.with_timeout_ms(millis(timeout));
                }
                in_flight.push(conn.submit_version(&request, version).await?);
            }
            let mut first_error = None;
            for pending in in_flight {
                let response = match pending.wait().await {
                    Ok(r) => r,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        continue;
                    }
                };
                if let Err(e) = self.record_listed_offsets(topic, spec, response, &found) {
                    first_error.get_or_insert(e);
                }
            }
            match first_error {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
        .await?;
        let found = found.into_inner().expect("offsets lock");
        partitions
            .iter()
            .map(|p| {
                found
                    .get(p)
                    .map(|o| (*p, *o))
                    .ok_or_else(|| Error::Metadata {
                        cluster: self.name().to_owned(),
                        what: format!("list offsets response lacks topic {topic} partition {p}"),
                    })
            })
            .collect()
    }

    /// Stores one ListOffsets response's partitions; the first partition error is returned.
    fn record_listed_offsets(
        &self,
        topic: &str,
        spec: OffsetSpec,
        response: ListOffsetsResponse,
        found: &Mutex<BTreeMap<i32, ListedOffset>>,
    ) -> Result<()> {
        let mut first_error = None;
        for t in response.topics.into_iter().filter(|t| &*t.name.0 == topic) {
            for p in t.partitions {
                let op = format!(
                    "list offsets of topic {topic} partition {} ({spec})",
                    p.partition_index
                );
                match self.broker_error(op, p.error_code, None) {
                    Some(e) => {
                        first_error.get_or_insert(e);
                    }
                    None => {
                        let listed = ListedOffset {
                            offset: p.offset,
                            timestamp: p.timestamp,
                            leader_epoch: p.leader_epoch,
                        };
                        found
                            .lock()
                            .expect("offsets lock")
                            .insert(p.partition_index, listed);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The ACLs matching `filter`. A broker without an authorizer answers with an error whose
    /// code is `SecurityDisabled`.
    pub async fn describe_acls(&self, filter: &AclFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type)
            .with_resource_name_filter(filter.resource_name.as_deref().map(str_bytes))
            .with_pattern_type_filter(filter.pattern_type)
            .with_principal_filter(filter.principal.as_deref().map(str_bytes))
            .with_host_filter(filter.host.as_deref().map(str_bytes))
            .with_operation(filter.operation)
            .with_permission_type(filter.permission_type);
        self.with_retries("describe acls", || async {
            let response = self.send_any(&request).await?;
            if let Some(e) = self.broker_error(
                "describe acls",
                response.error_code,
                response.error_message.as_deref(),
            ) {
                return Err(e);
            }
            Ok(response
                .resources
                .iter()
                .flat_map(|r| {
                    r.acls.iter().map(move |a| AclBinding {
                        resource_type: r.resource_type,
                        resource_name: r.resource_name.to_string(),
                        pattern_type: r.pattern_type,
                        principal: a.principal.to_string(),
                        host: a.host.to_string(),
                        operation: a.operation,
                        permission_type: a.permission_type,
                    })
                })
                .collect())
        })
        .await
    }

    /// Creates ACLs; returns each binding's result in input order. A broker without an
    /// authorizer answers each with an error whose code is `SecurityDisabled`.
    pub async fn create_acls(&self, bindings: &[AclBinding]) -> Result<Vec<Result<()>>> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let request = CreateAclsRequest::default().with_creations(
            bindings
                .iter()
                .map(|b| {
                    AclCreation::default()
                        .with_resource_type(b.resource_type)
                        .with_resource_name(str_bytes(&b.resource_name))
                        .with_resource_pattern_type(b.pattern_type)
                        .with_principal(str_bytes(&b.principal))
                        .with_host(str_bytes(&b.host))
                        .with_operation(b.operation)
                        .with_permission_type(b.permission_type)
                })
                .collect(),
        );
        let response = self
            .with_retries("create acls", || async {
                let conn = self.any_broker().await?;
                let version = conn.version_for::<CreateAclsRequest>()?;
                let response = conn.submit_version(&request, version).await?.wait().await?;
                if response.results.len() != bindings.len() {
                    let reason = format!(
                        "{} results for {} ACLs",
                        response.results.len(),
                        bindings.len()
                    );
                    return Err(protocol_error::<CreateAclsRequest>(
                        self, &conn, version, reason,
                    ));
                }
                Ok(response)
            })
            .await?;
        Ok(response
            .results
            .iter()
            .zip(bindings)
            .map(|(r, b)| {
                let op = format!("create acl {}", acl_text(b));
                match self.broker_error(op, r.error_code, r.error_message.as_deref()) {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            })
            .collect())
    }
}

/// An ACL in words, e.g. `allow User:a READ on TOPIC orders (LITERAL) from host *`.
fn acl_text(b: &AclBinding) -> String {
    let code = |names: &[&str], code: i8| -> String {
        usize::try_from(code)
            .ok()
            .and_then(|i| names.get(i))
            .map_or_else(|| format!("code {code}"), |n| (*n).to_owned())
    };
    let permission = code(&["UNKNOWN", "ANY", "deny", "allow"], b.permission_type);
    let operation = code(
        &[
            "UNKNOWN",
            "ANY",
            "ALL",
            "READ",
            "WRITE",
            "CREATE",
            "DELETE",
            "ALTER",
            "DESCRIBE",
            "CLUSTER_ACTION",
            "DESCRIBE_CONFIGS",
            "ALTER_CONFIGS",
            "IDEMPOTENT_WRITE",
            "CREATE_TOKENS",
            "DESCRIBE_TOKENS",
        ],
        b.operation,
    );
    let resource = code(
        &[
            "UNKNOWN",
            "ANY",
            "TOPIC",
            "GROUP",
            "CLUSTER",
            "TRANSACTIONAL_ID",
            "DELEGATION_TOKEN",
            "USER",
        ],
        b.resource_type,
    );
    let pattern = code(
        &["UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"],
        b.pattern_type,
    );
    format!(
        "{permission} {} {operation} on {resource} {} ({pattern}) from host {}",
        b.principal, b.resource_name, b.host
    )
}

fn creatable_topic(topic: &NewTopic) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(topic_name(&topic.name))
        .with_num_partitions(topic.partitions)
        .with_replication_factor(topic.replication_factor)
        .with_configs(
            topic
                .configs
                .iter()
                .map(|(name, value)| {
                    CreatableTopicConfig::default()
                        .with_name(str_bytes(name))
                        .with_value(Some(str_bytes(value)))
                })
                .collect(),
        )
}

pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(str_bytes(name))
}

/// A duration in whole milliseconds for a wire field, saturating.
pub(crate) fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// A malformed-response error for request type `R` from `conn`.
pub(crate) fn protocol_error<R: Request>(
    cluster: &Cluster,
    conn: &Connection,
    version: i16,
    reason: String,
) -> Error {
    Error::Protocol {
        cluster: cluster.name().to_owned(),
        broker: conn.broker().to_owned(),
        api: api_name(R::KEY),
        version,
        reason,
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

    #[test]
    fn offset_specs_use_kafka_sentinels() {
        assert_eq!(OffsetSpec::Earliest.timestamp(), -2);
        assert_eq!(OffsetSpec::Latest.timestamp(), -1);
        assert_eq!(OffsetSpec::Timestamp(1234).timestamp(), 1234);
    }

    #[test]
    fn acls_are_described_in_words() {
        let binding = AclBinding {
            resource_type: acl::resource::TOPIC,
            resource_name: "orders".into(),
            pattern_type: acl::pattern::PREFIXED,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: acl::operation::IDEMPOTENT_WRITE,
            permission_type: acl::permission::DENY,
        };
        assert_eq!(
            acl_text(&binding),
            "deny User:alice IDEMPOTENT_WRITE on TOPIC orders (PREFIXED) from host *"
        );
        let odd = AclBinding {
            operation: 42,
            ..binding
        };
        assert!(acl_text(&odd).contains("code 42 on TOPIC"));
    }

    fn broker_error(code: ResponseError) -> Error {
        Error::Broker {
            cluster: "a".into(),
            op: "create topic t".into(),
            code,
            message: None,
        }
    }

    #[test]
    fn outcomes_keep_input_order_and_retry_only_retriable_items() {
        let outcomes = Outcomes::new();
        assert!(outcomes
            .record("b".into(), Err(broker_error(ResponseError::NotController)))
            .is_some());
        assert!(outcomes.record("a".into(), Ok(())).is_none());
        let exists = Err(broker_error(ResponseError::TopicAlreadyExists));
        assert!(outcomes.record("c".into(), exists).is_none());
        assert!(outcomes.pending("b") && !outcomes.pending("a") && !outcomes.pending("c"));
        let results = outcomes
            .finish(
                "a",
                "create topics",
                ["c", "a", "b", "a"].into_iter(),
                Ok(()),
            )
            .unwrap();
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert_eq!(
            results[0].1.as_ref().unwrap_err().code(),
            Some(ResponseError::TopicAlreadyExists)
        );
        assert!(results[1].1.is_ok());
        assert_eq!(
            results[2].1.as_ref().unwrap_err().code(),
            Some(ResponseError::NotController)
        );
    }

    #[test]
    fn outcomes_without_any_answer_return_the_request_error() {
        let outcomes = Outcomes::new();
        let last = Err(Error::Config("unreachable".into()));
        let result = outcomes.finish("a", "delete topics", ["t"].into_iter(), last);
        assert!(matches!(result, Err(Error::Config(_))));
    }
}
