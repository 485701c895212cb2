//! Replication progress in MM2's Connect offsets topic (`mm2-offsets.<source>.internal` on the
//! target), byte-compatible with Java MM2 so either can resume where the other stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use strait_kafka::batch::{Header, RawBatch, Record};
use strait_kafka::Cluster;
use uuid::Uuid;

use super::header_text;
use super::producer::{build_records_batch, send_batches, SharedProducer};
use super::read::{read_partitions, read_topic};
use super::topics::{ensure_compacted_topic, partition_count};
use super::InternalTopicError;
use crate::clock::now_ms;
use crate::formats::{
    encode_offset_value, parse_offset_value, partition_for_key, ConnectOffsetKey,
    LEADER_EPOCH_HEADER, TARGET_OFFSET_HEADER, TOPIC_ID_HEADER,
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
    positions: HashMap<SourcePartition, Position>,
    /// Positions recorded since the last flush.
    dirty: BTreeMap<SourcePartition, Position>,
}

/// A partition's stored position: the last replicated upstream offset and, when strait wrote
/// it, where the next record goes on the target, which incarnation of the source topic it
/// counts in and under which leader epoch the source wrote it (headers
/// [`TARGET_OFFSET_HEADER`], [`TOPIC_ID_HEADER`], [`LEADER_EPOCH_HEADER`]; Java MM2 says none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The last replicated upstream offset (resume at +1).
    pub offset: i64,
    /// The target offset the record after `offset` goes to.
    pub target_next: Option<i64>,
    /// The source topic's id when `offset` was replicated.
    pub topic_id: Option<Uuid>,
    /// The source partition's leader epoch of the batch holding `offset`.
    pub leader_epoch: Option<i32>,
}

impl Position {
    /// A position as Java MM2 stores it: the offset alone.
    pub fn offset(offset: i64) -> Self {
        Position {
            offset,
            target_next: None,
            topic_id: None,
            leader_epoch: None,
        }
    }
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
        let offset = state.positions.get(&(topic.to_owned(), partition))?.offset;
        (offset >= 0).then_some(offset)
    }

    /// The whole stored position of a source partition, if any (offset ≥ 0).
    pub fn position(&self, topic: &str, partition: i32) -> Option<Position> {
        let state = self.state();
        let position = *state.positions.get(&(topic.to_owned(), partition))?;
        (position.offset >= 0).then_some(position)
    }

    /// Remembers a new position (in memory, written by [`flush`](Self::flush)); a rewind is
    /// kept as given, and several records of one partition coalesce to the last.
    pub fn record(&self, topic: &str, partition: i32, offset: i64) {
        self.record_position(topic, partition, Position::offset(offset));
    }

    /// [`record`](Self::record) with everything strait knows about the position.
    pub fn record_position(&self, topic: &str, partition: i32, position: Position) {
        let key = (topic.to_owned(), partition);
        let mut state = self.state();
        state.positions.insert(key.clone(), position);
        state.dirty.insert(key, position);
    }

    /// Reads the stored positions of `partitions` again (another process may have moved them
    /// on since this store was opened): for partitions this process takes over from another.
    /// A position this process reached itself and could not store (its membership lapsed, e.g.
    /// through a target outage) wins over an older stored one: every record before it was
    /// written, by this process, so resuming there loses nothing and repeats nothing.
    pub async fn reload(&self, partitions: &[SourcePartition]) -> Result<(), InternalTopicError> {
        let target = self.producer.cluster();
        let topic = self.producer.topic();
        let holding: BTreeSet<i32> = partitions
            .iter()
            .map(|(t, p)| self.partition_of(t, *p))
            .collect();
        let holding: Vec<i32> = holding.into_iter().collect();
        let records = read_partitions(target, topic, &holding).await?;
        let stored = load(target.name(), topic, &self.source_alias, &records);
        let mut state = self.state();
        for key in partitions {
            state.dirty.remove(key);
            if let Some(stored) = stored.get(key) {
                let position = state.positions.entry(key.clone()).or_insert(*stored);
                if stored.offset > position.offset {
                    *position = *stored;
                }
            }
        }
        Ok(())
    }

    /// Remembers a position already stored: written by the caller in a transaction that has
    /// committed (exactly-once mode), so [`flush`](Self::flush) does not write it again.
    pub fn committed(&self, topic: &str, partition: i32, position: Position) {
        let key = (topic.to_owned(), partition);
        let mut state = self.state();
        state.dirty.remove(&key);
        state.positions.insert(key, position);
    }

    /// The record storing `position` of a source partition, and the offsets-topic partition it
    /// goes to: for a writer that stores progress in its own transaction.
    pub fn entry(
        &self,
        topic: &str,
        partition: i32,
        position: Position,
    ) -> Result<(i32, RawBatch), InternalTopicError> {
        let (target, record) = self.stored_record(topic, partition, position, 0, now_ms());
        Ok((
            target,
            build_records_batch(&self.producer, target, vec![record])?,
        ))
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
    /// uncompressed batch per partition, record timestamp = now; what strait knows beyond the
    /// offset goes in headers (Java reads only key and value). Flushes run one at a time;
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
            for (key, position) in taken {
                // A position recorded meanwhile is newer than the one that failed.
                state.dirty.entry(key).or_insert(position);
            }
            return Err(e);
        }
        Ok(taken.len())
    }

    /// The offsets topic.
    pub fn topic(&self) -> &str {
        self.producer.topic()
    }

    /// The offsets-topic partition holding the entry of source partition `topic`-`partition`.
    pub fn partition_of(&self, topic: &str, partition: i32) -> i32 {
        partition_for_key(&self.key(topic, partition), self.partitions)
    }

    /// The offsets topic's partition count (what keys are partitioned by).
    pub fn partition_count(&self) -> i32 {
        self.partitions
    }

    /// One batch per offsets-topic partition for `entries`.
    fn batches(
        &self,
        entries: &BTreeMap<SourcePartition, Position>,
    ) -> Result<Vec<(i32, strait_kafka::batch::RawBatch)>, InternalTopicError> {
        let timestamp = now_ms();
        let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        for ((topic, partition), position) in entries {
            let key = self.key(topic, *partition);
            let target = partition_for_key(&key, self.partitions);
            let records = by_partition.entry(target).or_default();
            let offset = records.len() as i64;
            records.push(
                self.stored_record(topic, *partition, *position, offset, timestamp)
                    .1,
            );
        }
        by_partition
            .into_iter()
            .map(|(p, records)| Ok((p, build_records_batch(&self.producer, p, records)?)))
            .collect()
    }

    /// Java's exact key bytes of a source partition's entry.
    fn key(&self, topic: &str, partition: i32) -> Vec<u8> {
        ConnectOffsetKey::Source {
            cluster: self.source_alias.clone(),
            topic: topic.to_owned(),
            partition,
        }
        .encode()
    }

    /// The entry storing `position` (at batch offset `offset`) and its offsets-topic partition:
    /// key and value as Java writes them, what strait knows beyond the offset in headers.
    fn stored_record(
        &self,
        topic: &str,
        partition: i32,
        position: Position,
        offset: i64,
        timestamp: i64,
    ) -> (i32, Record) {
        let key = self.key(topic, partition);
        let target = partition_for_key(&key, self.partitions);
        let target_next = position
            .target_next
            .map(|next| (TARGET_OFFSET_HEADER, next.to_string()));
        let topic_id = position
            .topic_id
            .map(|id| (TOPIC_ID_HEADER, id.hyphenated().to_string()));
        let leader_epoch = position
            .leader_epoch
            .map(|epoch| (LEADER_EPOCH_HEADER, epoch.to_string()));
        let headers = [target_next, topic_id, leader_epoch]
            .into_iter()
            .flatten()
            .map(|(key, value)| Header {
                key: Bytes::from_static(key.as_bytes()),
                value: Some(Bytes::from(value)),
            })
            .collect();
        let record = Record {
            offset,
            timestamp,
            key: Some(Bytes::from(key)),
            value: Some(Bytes::from(encode_offset_value(position.offset))),
            headers,
        };
        (target, record)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the offsets topic says about one source partition: the last entry with Java's exact
/// key bytes, and the last entry with any other spelling of the key (`Some(None)` = deleted).
#[derive(Default)]
struct Entry {
    exact: Option<Option<Position>>,
    variant: Option<Option<Position>>,
}

/// The positions of `source_alias`'s partitions in the offsets topic's records.
fn load(
    cluster: &str,
    topic: &str,
    source_alias: &str,
    records: &[(i32, Record)],
) -> HashMap<SourcePartition, Position> {
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
        let position = offset.map(|offset| Position {
            offset,
            target_next: header_text(&record.headers, TARGET_OFFSET_HEADER)
                .and_then(|v| v.parse().ok())
                .filter(|&next: &i64| next >= 0),
            topic_id: header_text(&record.headers, TOPIC_ID_HEADER).and_then(|v| v.parse().ok()),
            leader_epoch: header_text(&record.headers, LEADER_EPOCH_HEADER)
                .and_then(|v| v.parse().ok())
                .filter(|&epoch: &i32| epoch >= 0),
        });
        let entry = entries
            .entry((source_topic.clone(), partition))
            .or_default();
        if key.encode() == key_bytes {
            entry.exact = Some(position);
        } else {
            entry.variant = Some(position);
        }
    }
    entries
        .into_iter()
        .filter_map(|(k, e)| e.exact.unwrap_or(e.variant.flatten()).map(|o| (k, o)))
        .collect()
}
