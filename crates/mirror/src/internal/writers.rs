//! `strait-writers.internal`: on each cluster, the producer ids that mirror writers write into
//! it with, and the clusters their records were on before, first-written first
//! (`strait.cycle.detection = producer.id`, docs/active-active.md). A flow registers each of its
//! producers here before its first write, so a flow reading this cluster that finds a batch by
//! an unlisted producer id, after reading this topic again, knows an application wrote it.
//!
//! One compacted partition; key: the producer id in decimal; value: JSON
//! `{"path":["<cluster id>",...],"flow":"<source>-><target>","registered":<epoch ms>}`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use strait_kafka::Cluster;

use super::producer::{build_batch, SharedProducer};
use super::read::read_topic;
use super::topics::ensure_compacted_topic;
use super::InternalTopicError;
use crate::clock::now_ms;

/// The topic's name on every cluster (internal to MM2 and strait: it ends with `.internal`).
pub const WRITERS_TOPIC: &str = "strait-writers.internal";

/// What a registration says about one producer id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Registration {
    /// The ids of the clusters the producer's records were on before, first-written first.
    path: Vec<String>,
    /// The flow that registered it.
    flow: String,
    /// When, in milliseconds since the epoch.
    registered: i64,
}

/// Creates the topic on `cluster` if missing.
pub async fn ensure_writers_topic(
    cluster: &Cluster,
    replication_factor: i16,
) -> Result<(), InternalTopicError> {
    ensure_compacted_topic(cluster, WRITERS_TOPIC, 1, replication_factor).await
}

/// Every registered producer id on `cluster`, with the ids of the clusters its records were on
/// before. Records that are not registrations are skipped with a warning.
pub async fn read_writers(
    cluster: &Cluster,
) -> Result<HashMap<i64, Vec<String>>, InternalTopicError> {
    let mut writers = HashMap::new();
    for (_, record) in read_topic(cluster, WRITERS_TOPIC).await? {
        let key = record
            .key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok());
        let Some(producer_id) = key.and_then(|k| k.parse::<i64>().ok()) else {
            tracing::warn!(
                cluster = cluster.name(),
                "{WRITERS_TOPIC}: skipping a record at offset {} whose key is not a producer id",
                record.offset
            );
            continue;
        };
        let Some(value) = record.value.as_deref() else {
            writers.remove(&producer_id);
            continue;
        };
        match serde_json::from_slice::<Registration>(value) {
            Ok(r) => {
                writers.insert(producer_id, r.path);
            }
            Err(e) => tracing::warn!(
                cluster = cluster.name(),
                "{WRITERS_TOPIC}: skipping producer id {producer_id} at offset {}: {e}",
                record.offset
            ),
        }
    }
    Ok(writers)
}

/// Registers producer ids on one cluster; each registration is acknowledged (acks=all) before
/// [`WriterRegistry::register`] returns.
#[derive(Debug)]
pub struct WriterRegistry {
    producer: SharedProducer,
    flow: String,
}

impl WriterRegistry {
    /// A registry on `cluster` (whose topic exists) for the flow labelled `flow`.
    pub async fn open(cluster: &Cluster, flow: &str) -> Result<Self, InternalTopicError> {
        Ok(WriterRegistry {
            producer: SharedProducer::open(cluster, WRITERS_TOPIC).await?,
            flow: flow.to_owned(),
        })
    }

    /// Records that `producer_id` writes records that were on the clusters `path` before.
    pub async fn register(
        &self,
        producer_id: i64,
        path: Vec<String>,
    ) -> Result<(), InternalTopicError> {
        let registration = Registration {
            path,
            flow: self.flow.clone(),
            registered: now_ms(),
        };
        let value = serde_json::to_vec(&registration).expect("a registration serializes");
        let entry = (producer_id.to_string().into_bytes(), Some(value));
        let batch = build_batch(&self.producer, 0, vec![entry], registration.registered)?;
        self.producer.send_one(0, batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::Registration;

    #[test]
    fn registration_layout() {
        let r = Registration {
            path: vec!["MkU3OEVBNTcwNTJENDM2Qk".into(), "c-2".into()],
            flow: "east->west".into(),
            registered: 1_700_000_000_000,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"path":["MkU3OEVBNTcwNTJENDM2Qk","c-2"],"flow":"east->west","registered":1700000000000}"#
        );
        assert_eq!(serde_json::from_str::<Registration>(&json).unwrap(), r);
    }
}
