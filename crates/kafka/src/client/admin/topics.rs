//! Topics: creating and deleting them, adding partitions, and waiting until they are ready.

use std::time::Instant;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest,
};

use super::outcomes::Outcomes;
use super::{millis, protocol_error, settle, topic_name};
use crate::client::cluster::Cluster;
use crate::client::metadata::Metadata;
use crate::client::str_bytes;
use crate::client::RequiredAcl;
use crate::error::{Error, Result};
use crate::net::Connection;
use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::Request;

/// Partitions created or added in one request of [`Cluster::create_topic`] and
/// [`Cluster::grow_partitions`] when a topic is wider: Apache Kafka's controller refuses
/// operations of more than 10,000 records (`max.records.per.user.op`), one per partition and one
/// for the topic.
pub const PARTITIONS_PER_OPERATION: i32 = 5000;

/// Whether `e` is Apache Kafka's controller refusing too large an operation, not a create
/// policy refusing the topic (which steps would not get past either). Kafka 4.3 says
/// `Unable to perform excessively large batch operation.` past 10,000 records (10,000
/// partitions and the topic) and `Excessively large number of partitions per request.` past
/// 10,000 partitions.
fn is_too_large_an_operation(e: &Error) -> bool {
    match e {
        Error::Broker {
            code: ResponseError::PolicyViolation,
            message: Some(message),
            ..
        } => message.to_ascii_lowercase().contains("excessively large"),
        _ => false,
    }
}

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
                    let message = result.error_message.as_deref();
                    let outcome = self.topic_outcome("Create", &name, result.error_code, message);
                    retry = outcomes.record(name, outcome).or(retry);
                }
                if retry.is_none() {
                    let names = pending.iter().map(|t| t.name.as_str());
                    self.unanswered::<CreateTopicsRequest>(&outcomes, names, &conn, version);
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

    /// Creates one topic and waits until metadata shows all its partitions with leaders. A
    /// topic of more than [`PARTITIONS_PER_OPERATION`] partitions that the cluster refuses by
    /// policy (Apache Kafka: too large an operation) is created with that many, then grown in
    /// steps.
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<()> {
        match self.create_topic_at_once(topic).await {
            Err(e)
                if topic.partitions > PARTITIONS_PER_OPERATION && is_too_large_an_operation(&e) =>
            {
                tracing::info!(cluster = %self.name(), topic = %topic.name, "refused {} partitions at once ({e}); creating {PARTITIONS_PER_OPERATION} and adding the rest in steps", topic.partitions);
                let first = NewTopic {
                    partitions: PARTITIONS_PER_OPERATION,
                    ..topic.clone()
                };
                self.create_topic_at_once(&first).await?;
                self.grow_partitions(&topic.name, PARTITIONS_PER_OPERATION, topic.partitions)
                    .await
            }
            other => other,
        }
    }

    /// Grows `topic` from `from` to `to` partitions, at most [`PARTITIONS_PER_OPERATION`] per
    /// request.
    pub async fn grow_partitions(&self, topic: &str, from: i32, to: i32) -> Result<()> {
        let mut count = from;
        while count < to {
            count = to.min(count.saturating_add(PARTITIONS_PER_OPERATION));
            self.create_partitions(topic, count).await?;
        }
        Ok(())
    }

    async fn create_topic_at_once(&self, topic: &NewTopic) -> Result<()> {
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
                    let message = result.error_message.as_deref();
                    let outcome = self.topic_outcome("Delete", &name, result.error_code, message);
                    retry = outcomes.record(name, outcome).or(retry);
                }
                if retry.is_none() {
                    let names = pending.iter().copied();
                    self.unanswered::<DeleteTopicsRequest>(&outcomes, names, &conn, version);
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
                Some(e) => settle(self.explain_denial(e, &[RequiredAcl::topic("Alter", topic)])),
                None => Ok(Ok(())),
            }
        })
        .await??;
        self.await_partitions(topic, total_count).await
    }
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

impl Cluster {
    /// The outcome of ACL operation `operation` (`Create`, `Delete`) on topic `name`; a denial
    /// names that ACL.
    fn topic_outcome(
        &self,
        operation: &'static str,
        name: &str,
        code: i16,
        message: Option<&str>,
    ) -> Result<()> {
        let op = format!("{} topic {name}", operation.to_lowercase());
        match self.broker_error(op, code, message) {
            Some(e) => Err(self.explain_denial(e, &[RequiredAcl::topic(operation, name)])),
            None => Ok(()),
        }
    }

    /// Records a protocol error for each of `names` still pending that the answer left out.
    fn unanswered<'a, R: Request>(
        &self,
        outcomes: &Outcomes,
        names: impl Iterator<Item = &'a str>,
        conn: &Connection,
        version: i16,
    ) {
        for name in names.filter(|n| outcomes.pending(n)) {
            let reason = format!("response lacks topic {name}");
            let e = protocol_error::<R>(self, conn, version, reason);
            outcomes.record(name.to_owned(), Err(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(message: Option<&str>) -> Error {
        Error::Broker {
            cluster: "target".into(),
            op: "create topic wide".into(),
            code: ResponseError::PolicyViolation,
            message: message.map(str::to_owned),
            denied: None,
        }
    }

    #[test]
    fn only_the_controllers_operation_limit_is_taken_in_steps() {
        for controller in [
            "Unable to perform excessively large batch operation.",
            "Excessively large number of partitions per request.",
        ] {
            assert!(
                is_too_large_an_operation(&refused(Some(controller))),
                "{controller}"
            );
        }
        // A create policy (create.topic.policy.class.name) refusing the width: steps would leave
        // a narrower topic behind that the same policy then keeps from growing.
        assert!(!is_too_large_an_operation(&refused(Some(
            "Topic wide has 10000 partitions, more than the 8000 allowed"
        ))));
        assert!(!is_too_large_an_operation(&refused(None)));
    }
}
