//! A snapshot of a cluster's metadata: brokers, topics, partitions, leaders, topic ids.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::MetadataResponse;

/// Where a broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader broker id, -1 when there is none.
    pub leader: i32,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// The brokers holding replicas.
    pub replicas: Vec<i32>,
    /// The replicas in sync with the leader.
    pub isr: Vec<i32>,
    /// Error reported for this partition.
    pub error: Option<ResponseError>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Topic id (all zeros from brokers that have none).
    pub id: uuid::Uuid,
    /// Whether the broker flags the topic as internal.
    pub internal: bool,
    /// Error reported for this topic.
    pub error: Option<ResponseError>,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

/// The cluster as last seen.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Cluster id, when the broker reports one.
    pub cluster_id: Option<String>,
    /// Controller broker id, when known.
    pub controller: Option<i32>,
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerAddress>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicMetadata>,
}

impl Metadata {
    /// Builds the snapshot from a Metadata response.
    pub fn from_response(response: &MetadataResponse) -> Self {
        let brokers = response
            .brokers
            .iter()
            .map(|b| {
                let address = BrokerAddress {
                    host: b.host.to_string(),
                    port: b.port as u16,
                };
                (b.node_id.0, address)
            })
            .collect();
        let topics = response
            .topics
            .iter()
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.to_string();
                let mut partitions: Vec<_> = t
                    .partitions
                    .iter()
                    .map(|p| PartitionMetadata {
                        partition: p.partition_index,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        error: ResponseError::try_from_code(p.error_code),
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                let topic = TopicMetadata {
                    name: name.clone(),
                    id: t.topic_id,
                    internal: t.is_internal,
                    error: ResponseError::try_from_code(t.error_code),
                    partitions,
                };
                Some((name, topic))
            })
            .collect();
        Metadata {
            cluster_id: response.cluster_id.as_ref().map(|s| s.to_string()),
            controller: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
            topics,
        }
    }

    /// The topic, if it exists without error.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name).filter(|t| t.error.is_none())
    }

    /// The partition's leader broker id, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = self
            .topic(topic)?
            .partitions
            .iter()
            .find(|p| p.partition == partition)?;
        (p.leader >= 0 && self.brokers.contains_key(&p.leader)).then_some(p.leader)
    }
}
