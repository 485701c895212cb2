//! The last checkpoint per (group, downstream topic, partition), reloaded from the
//! checkpoints topic at start (Java `CheckpointStore`), and MM2's "is it newer" rule.

use std::collections::{BTreeMap, BTreeSet};

use strait_kafka::Cluster;

use crate::formats::Checkpoint;
use crate::internal::{read_topic, InternalTopicError};

/// The last checkpoint per (group, downstream topic, partition).
#[derive(Debug, Default, Clone)]
pub struct CheckpointStore {
    map: BTreeMap<(String, String, i32), Checkpoint>,
}

impl CheckpointStore {
    /// Reads the whole checkpoints topic on `cluster`, keeping groups `keep` accepts; records
    /// that do not decode are skipped with a warning (like Java).
    pub async fn load(
        cluster: &Cluster,
        topic: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<CheckpointStore, InternalTopicError> {
        let mut store = CheckpointStore::default();
        for (_, record) in read_topic(cluster, topic).await? {
            match decode(record.key.as_deref(), record.value.as_deref()) {
                Some(c) if keep(&c.group) => store.insert(c),
                Some(_) => {}
                None => tracing::warn!(
                    cluster = cluster.name(),
                    topic,
                    offset = record.offset,
                    "skipping undecodable checkpoint"
                ),
            }
        }
        Ok(store)
    }

    /// Stores `checkpoint` as the latest for its key.
    pub fn insert(&mut self, checkpoint: Checkpoint) {
        let key = (
            checkpoint.group.clone(),
            checkpoint.topic.clone(),
            checkpoint.partition,
        );
        self.map.insert(key, checkpoint);
    }

    /// Decodes and stores a raw record; returns false (and stores nothing) when it does not
    /// decode, a null key or value included.
    pub fn insert_record(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) -> bool {
        match decode(key, value) {
            Some(c) => {
                self.insert(c);
                true
            }
            None => false,
        }
    }

    /// The latest checkpoint of `group` for a downstream topic-partition.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&Checkpoint> {
        self.map
            .get(&(group.to_owned(), topic.to_owned(), partition))
    }

    /// The latest checkpoints of `group`, by downstream topic and partition.
    pub fn group<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Checkpoint> + 'a {
        self.map.values().filter(move |c| c.group == group)
    }

    /// Every group with a checkpoint.
    pub fn groups(&self) -> BTreeSet<String> {
        self.map.keys().map(|(g, _, _)| g.clone()).collect()
    }

    /// How many checkpoints are stored.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no checkpoint is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// MM2's rule for emitting `checkpoint` (spec §6.3 step 4): nothing stored for its key, the
/// upstream group rewound, or the downstream offset advances. Keeps checkpoints monotonic
/// when the sync store evicts entries or restarts.
pub fn checkpoint_if_newer(store: &CheckpointStore, checkpoint: &Checkpoint) -> bool {
    match store.get(&checkpoint.group, &checkpoint.topic, checkpoint.partition) {
        None => true,
        Some(old) => {
            checkpoint.upstream_offset < old.upstream_offset
                || checkpoint.downstream_offset > old.downstream_offset
        }
    }
}

fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Option<Checkpoint> {
    Checkpoint::decode(key?, value?).ok()
}
