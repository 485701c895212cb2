//! Reading a whole internal topic, from the earliest offset to the latest at call time.

use std::collections::HashMap;
use std::time::Duration;

use strait_kafka::batch::{BatchError, RawBatch, Record};
use strait_kafka::{
    marker_is_abort, Cluster, FetchOptions, FetchPosition, Isolation, OffsetSpec, PartitionFetch,
    ResponseError,
};

use super::topics::partition_count;
use super::InternalTopicError;

/// Bytes asked for per fetch; doubled while a single batch does not fit.
const FETCH_BYTES: i32 = 4 * 1024 * 1024;
/// Largest per-partition fetch size tried for one oversized batch.
const MAX_FETCH_BYTES: i32 = 256 * 1024 * 1024;

/// Every committed record of every partition of `topic`, per partition in offset order, as
/// `(partition, record)`.
///
/// Reads from the earliest offset up to the latest offset at call time, read_uncommitted, and
/// settles transactions itself ([`Transactions`]), so a transaction still open (a writer that
/// died before it was fenced) never holds the read up. A
/// batch that starts before that offset is returned whole, and reading stops when a fetch
/// returns no more batches, so a broker that under- or over-reports the latest offset (tansu
/// reports the last batch's base offset + 1) neither loses records nor hangs the read.
pub async fn read_topic(
    cluster: &Cluster,
    topic: &str,
) -> Result<Vec<(i32, Record)>, InternalTopicError> {
    let partitions: Vec<i32> = (0..partition_count(cluster, topic).await?).collect();
    read_partitions(cluster, topic, &partitions).await
}

/// Like [`read_topic`] for the given partitions only.
pub(crate) async fn read_partitions(
    cluster: &Cluster,
    topic: &str,
    partitions: &[i32],
) -> Result<Vec<(i32, Record)>, InternalTopicError> {
    let list = |spec| async move {
        cluster
            .list_offsets(topic, partitions, spec, Isolation::ReadUncommitted)
            .await
            .map_err(|e| {
                InternalTopicError::kafka(cluster, topic, format!("list {spec} offsets"), e)
            })
    };
    let earliest = list(OffsetSpec::Earliest).await?;
    let latest = list(OffsetSpec::Latest).await?;
    let mut out = Vec::new();
    for ((partition, start), (_, end)) in earliest.into_iter().zip(latest) {
        let records = read_partition(cluster, topic, partition, start.offset, end.offset).await?;
        out.extend(records.into_iter().map(|r| (partition, r)));
    }
    Ok(out)
}

/// The records of whole batches starting at or after `start` and before `end`.
async fn read_partition(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    start: i64,
    end: i64,
) -> Result<Vec<Record>, InternalTopicError> {
    let options = FetchOptions {
        max_wait: Duration::from_millis(100),
        isolation: Isolation::ReadUncommitted,
        ..FetchOptions::default()
    };
    let mut records = Transactions::default();
    let mut offset = start.max(0);
    let mut max_bytes = FETCH_BYTES;
    while offset < end {
        let position = FetchPosition::new(topic, partition, offset, max_bytes);
        let fetched = match cluster.fetch(&position, &options).await {
            Ok(fetched) => fetched,
            Err(e) if e.code() == Some(ResponseError::OffsetOutOfRange) => {
                // Compaction or retention moved the log start past `offset` meanwhile.
                match log_start(cluster, topic, partition).await? {
                    Some(first) if first > offset => {
                        offset = first;
                        continue;
                    }
                    _ => return Err(fetch_error(cluster, topic, partition, offset, e)),
                }
            }
            Err(e) => return Err(fetch_error(cluster, topic, partition, offset, e)),
        };
        let before = offset;
        offset = take_batches(cluster, &fetched, offset, end, &mut records)?;
        if offset == before {
            if fetched.records.is_empty() || max_bytes >= MAX_FETCH_BYTES {
                break;
            }
            // Only part of a batch fit: ask for more bytes.
            max_bytes = max_bytes.saturating_mul(2).min(MAX_FETCH_BYTES);
        }
    }
    Ok(records.committed())
}

/// The records of one partition's batches read in offset order, with transactions settled by
/// their markers: a transaction's records count once its commit marker is read, are dropped
/// with an abort marker, and are left out while no marker has come (the transaction is still
/// open, or its writer died and is not fenced yet: what it wrote may still be aborted).
/// Kafka's log cleaner keeps a commit marker as long as any record of its transaction is left,
/// so a committed record is never mistaken for an open one.
#[derive(Debug, Default)]
struct Transactions {
    settled: Vec<Record>,
    /// Records of open transactions, by producer id.
    open: HashMap<i64, Vec<Record>>,
}

impl Transactions {
    /// Takes the next batch: data of a non-transactional batch counts at once.
    fn take(&mut self, batch: &RawBatch, records: Vec<Record>) -> Result<(), BatchError> {
        if batch.is_control() {
            let open = self.open.remove(&batch.producer_id()).unwrap_or_default();
            if !marker_is_abort(batch)? {
                self.settled.extend(open);
            }
        } else if batch.is_transactional() {
            self.open
                .entry(batch.producer_id())
                .or_default()
                .extend(records);
        } else {
            self.settled.extend(records);
        }
        Ok(())
    }

    /// The committed records, in offset order.
    fn committed(mut self) -> Vec<Record> {
        self.settled.sort_by_key(|r| r.offset);
        self.settled
    }
}

/// Appends the records at or after `offset` of the fetched batches starting before `end`;
/// returns the offset to fetch next.
fn take_batches(
    cluster: &Cluster,
    fetched: &PartitionFetch,
    mut offset: i64,
    end: i64,
    records: &mut Transactions,
) -> Result<i64, InternalTopicError> {
    let (topic, partition) = (fetched.topic.as_str(), fetched.partition);
    for batch in fetched.batches() {
        let op = || format!("read batch at offset {offset}");
        let batch =
            batch.map_err(|e| InternalTopicError::batch(cluster, topic, partition, op(), e))?;
        if batch.base_offset() >= end {
            // Appended after the call: not ours to read.
            return Ok(offset.max(end));
        }
        let from = offset;
        offset = batch.next_offset();
        let decode = |e| InternalTopicError::batch(cluster, topic, partition, "decode batch", e);
        let data = if batch.is_control() {
            Vec::new()
        } else {
            let decoded = batch.decode().map_err(decode)?;
            decoded
                .records
                .into_iter()
                .filter(|r| r.offset >= from)
                .collect()
        };
        records.take(&batch, data).map_err(decode)?;
    }
    Ok(offset)
}

async fn log_start(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
) -> Result<Option<i64>, InternalTopicError> {
    let listed = cluster
        .list_offsets(
            topic,
            &[partition],
            OffsetSpec::Earliest,
            Isolation::ReadUncommitted,
        )
        .await
        .map_err(|e| {
            let op = format!("list earliest offset of partition {partition}");
            InternalTopicError::kafka(cluster, topic, op, e)
        })?;
    Ok(listed.first().map(|(_, o)| o.offset))
}

fn fetch_error(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    offset: i64,
    e: strait_kafka::Error,
) -> InternalTopicError {
    let op = format!("fetch partition {partition} at offset {offset}");
    InternalTopicError::kafka(cluster, topic, op, e)
}
