//! Replication progress in MM2's Connect offsets topic (`mm2-offsets.<source>.internal` on the
//! target), byte-compatible with Java MM2 so either can resume where the other stopped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use strait_kafka::batch::Record;
use strait_kafka::Cluster;

use super::producer::{build_batch, send_batches, KeyValue, SharedProducer};
use super::read::read_topic;
use super::topics::{ensure_compacted_topic, partition_count};
use super::InternalTopicError;
use crate::clock::now_ms;
use crate::formats::{
    encode_offset_value, parse_offset_value, partition_for_key, ConnectOffsetKey,
};

/// A source topic-partition: `(topic, partition)`.
type SourcePartition = (String, i32);

/// Positions of one source cluster's partitions, shared by the engine through an `Arc`.
#[derive(Debug)]
pub struct ProgressStore {
    producer: SharedProducer,
    source_alias: String,
    partitions: i32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Last known position per source partition (recorded or read).
    positions: HashMap<SourcePartition, i64>,
    /// Positions recorded since the last flush.
    dirty: BTreeMap<SourcePartition, i64>,
}

impl ProgressStore {
    /// Creates the topic if missing, reads it whole and keeps `source_alias`'s source positions.
    ///
    /// Keys are parsed semantically, so entries another writer stored with a different field
    /// order or whitespace count; per partition the last write wins and a tombstone deletes.
    /// Entries with Java's exact key bytes (the ones Java MM2 itself reads) take precedence over
    /// such variants.
    pub async fn open(
        target: &Cluster,
        topic: &str,
        partitions: i32,
        replication_factor: i16,
        source_alias: &str,
    ) -> Result<ProgressStore, InternalTopicError> {
        ensure_compacted_topic(target, topic, partitions, replication_factor).await?;
        let actual = partition_count(target, topic).await?;
        let records = read_topic(target, topic).await?;
        let positions = load(target.name(), topic, source_alias, &records);
        tracing::info!(
            cluster = target.name(),
            topic,
            source = source_alias,
            entries = positions.len(),
            "loaded replication progress of source cluster {source_alias}"
        );
        Ok(ProgressStore {
            producer: SharedProducer::open(target, topic).await?,
            source_alias: source_alias.to_owned(),
            partitions: actual,
            state: Mutex::new(State {
                positions,
                dirty: BTreeMap::new(),
            }),
        })
    }

    /// Last replicated upstream offset of a source partition (resume at +1), if any.
    ///
    /// Negative stored offsets count as none, as in Java MM2 (which only seeks for offsets ≥ 0).
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        let state = self.state();
        let offset = *state.positions.get(&(topic.to_owned(), partition))?;
        (offset >= 0).then_some(offset)
    }

    /// Remembers a new position (in memory, written by [`flush`](Self::flush)); a rewind is
    /// kept as given, and several records of one partition coalesce to the last.
    pub fn record(&self, topic: &str, partition: i32, offset: i64) {
        let key = (topic.to_owned(), partition);
        let mut state = self.state();
        state.positions.insert(key.clone(), offset);
        state.dirty.insert(key, offset);
    }

    /// Reads the stored positions of `partitions` again (another process may have moved them
    /// on since this store was opened): for partitions this process takes over from another.
    /// A position this process reached itself and could not store (its membership lapsed, e.g.
    /// through a target outage) wins over an older stored one: every record before it was
    /// written, by this process, so resuming there loses nothing and repeats nothing.
    pub async fn reload(
        &self,
        target: &Cluster,
        partitions: &[SourcePartition],
    ) -> Result<(), InternalTopicError> {
        let topic = self.producer.topic();
        let records = read_topic(target, topic).await?;
        let stored = load(target.name(), topic, &self.source_alias, &records);
        let mut state = self.state();
        for key in partitions {
            state.dirty.remove(key);
            if let Some(offset) = stored.get(key) {
                let position = state.positions.entry(key.clone()).or_insert(*offset);
                *position = (*position).max(*offset);
            }
        }
        Ok(())
    }

    /// Drops the positions of `partitions` not yet written: this process lost them without
    /// a clean hand-over, and their new owner's progress must not be overwritten.
    pub fn forget(&self, partitions: &[SourcePartition]) {
        let mut state = self.state();
        for key in partitions {
            state.dirty.remove(key);
        }
    }

    /// Writes every position recorded since the last flush and waits for the acks; returns
    /// how many entries were written.
    ///
    /// Keys are Java's exact bytes, values `{"offset":N}`, each written to the partition
    /// Java's producer would pick (`murmur2(key)` of the topic's actual partition count), one
    /// uncompressed batch per partition, record timestamp = now. Flushes run one at a time;
    /// after a failure the unwritten positions stay queued for the next flush.
    pub async fn flush(&self) -> Result<usize, InternalTopicError> {
        let mut guard = self.producer.lock().await;
        let taken = std::mem::take(&mut self.state().dirty);
        if taken.is_empty() {
            return Ok(0);
        }
        let result = match self.batches(&taken) {
            Ok(batches) => match guard.producer().await {
                Ok(producer) => send_batches(&self.producer, producer, &batches)
                    .await
                    .map_err(|(_, e)| e),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            guard.discard();
            let mut state = self.state();
            for (key, offset) in taken {
                // A position recorded meanwhile is newer than the one that failed.
                state.dirty.entry(key).or_insert(offset);
            }
            return Err(e);
        }
        Ok(taken.len())
    }

    /// The offsets topic.
    pub fn topic(&self) -> &str {
        self.producer.topic()
    }

    /// The offsets topic's partition count (what keys are partitioned by).
    pub fn partition_count(&self) -> i32 {
        self.partitions
    }

    /// One batch per offsets-topic partition for `entries`.
    fn batches(
        &self,
        entries: &BTreeMap<SourcePartition, i64>,
    ) -> Result<Vec<(i32, strait_kafka::batch::RawBatch)>, InternalTopicError> {
        let mut by_partition: BTreeMap<i32, Vec<KeyValue>> = BTreeMap::new();
        for ((topic, partition), offset) in entries {
            let key = ConnectOffsetKey::Source {
                cluster: self.source_alias.clone(),
                topic: topic.clone(),
                partition: *partition,
            }
            .encode();
            let target = partition_for_key(&key, self.partitions);
            let value = encode_offset_value(*offset);
            by_partition
                .entry(target)
                .or_default()
                .push((key, Some(value)));
        }
        let timestamp = now_ms();
        by_partition
            .into_iter()
            .map(|(p, records)| Ok((p, build_batch(&self.producer, p, records, timestamp)?)))
            .collect()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the offsets topic says about one source partition: the last entry with Java's exact
/// key bytes, and the last entry with any other spelling of the key (`Some(None)` = deleted).
#[derive(Default)]
struct Entry {
    exact: Option<Option<i64>>,
    variant: Option<Option<i64>>,
}

/// The positions of `source_alias`'s partitions in the offsets topic's records.
fn load(
    cluster: &str,
    topic: &str,
    source_alias: &str,
    records: &[(i32, Record)],
) -> HashMap<SourcePartition, i64> {
    let mut entries: HashMap<SourcePartition, Entry> = HashMap::new();
    for (p, record) in records {
        let Some(key_bytes) = record.key.as_deref() else {
            continue;
        };
        let key = match ConnectOffsetKey::parse(key_bytes) {
            Ok(key) => key,
            Err(e) => {
                tracing::debug!(cluster, topic, partition = p, offset = record.offset, %e, "ignoring offsets entry");
                continue;
            }
        };
        let ConnectOffsetKey::Source {
            cluster: ref alias,
            topic: ref source_topic,
            partition,
        } = key
        else {
            continue;
        };
        if alias != source_alias {
            continue;
        }
        let offset = match parse_offset_value(record.value.as_deref()) {
            Ok(offset) => offset,
            Err(e) => {
                tracing::warn!(
                    cluster,
                    topic,
                    partition = p,
                    offset = record.offset,
                    "ignoring offsets entry of {source_topic}-{partition}: {e}"
                );
                continue;
            }
        };
        let entry = entries
            .entry((source_topic.clone(), partition))
            .or_default();
        if key.encode() == key_bytes {
            entry.exact = Some(offset);
        } else {
            entry.variant = Some(offset);
        }
    }
    entries
        .into_iter()
        .filter_map(|(k, e)| e.exact.unwrap_or(e.variant.flatten()).map(|o| (k, o)))
        .collect()
}
