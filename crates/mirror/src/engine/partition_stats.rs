//! What one partition pipeline knows about itself: replicated position, the source's log end,
//! the batches fetched but not yet replicated (for lag in seconds and bytes), counters,
//! latencies, pause state and last error.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use strait_kafka::batch::{RawBatch, TimestampType};
use strait_kafka::PartitionFetch;

use super::window::{Aggregate, Window};

/// Live state of one source partition, updated by its pipeline.
#[derive(Debug, Default)]
pub struct PartitionStats {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Next source offset to replicate (last acknowledged + 1); -1 before the start position
    /// is known.
    position: Option<i64>,
    /// Source high watermark from the last fetch response.
    log_end: Option<i64>,
    /// Fetched, not yet acknowledged batches: (last offset, timestamp of their first record).
    unreplicated: VecDeque<(i64, i64)>,
    /// Bytes and records seen in fetched batches, for the bytes-per-record estimate.
    seen_bytes: u64,
    seen_records: u64,
    records: u64,
    bytes: u64,
    passed_through: u64,
    reencoded: u64,
    dropped: u64,
    paused: Option<String>,
    last_error: Option<ErrorNote>,
    record_age: Window,
    replication_latency: Window,
}

/// An error and when it happened.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorNote {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The error in words (names cluster, topic, partition, offset).
    pub message: String,
}

/// A point-in-time copy of one partition's state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PartitionSnapshot {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Next source offset to replicate (everything before it is acknowledged by the target).
    pub position: Option<i64>,
    /// Source log end offset (high watermark) at the last fetch.
    pub log_end: Option<i64>,
    /// `log_end - position`: records on the source not yet acknowledged by the target.
    pub lag_records: u64,
    /// `lag_records` times the average batch bytes per record seen on this partition.
    pub lag_bytes: u64,
    /// Age of the oldest fetched record not yet acknowledged (0 when caught up).
    pub lag_seconds: f64,
    /// Records acknowledged by the target.
    pub records: u64,
    /// Batch bytes acknowledged by the target.
    pub bytes: u64,
    /// Batches forwarded untouched.
    pub passed_through: u64,
    /// Batches decoded and re-encoded.
    pub reencoded: u64,
    /// Batches not forwarded (transaction markers, aborted data).
    pub dropped: u64,
    /// Why the partition is not replicating, if it is not.
    pub paused: Option<String>,
    /// The last error on this partition.
    pub last_error: Option<ErrorNote>,
    /// Age of records when fetched (now - record timestamp), seconds, last 1-2 minutes.
    #[serde(skip)]
    pub record_age: Aggregate,
    /// Record timestamp to target acknowledgement, seconds, last 1-2 minutes.
    #[serde(skip)]
    pub replication_latency: Aggregate,
}

impl PartitionStats {
    /// Records the start (or reset) position: nothing before it is to be replicated.
    pub(crate) fn positioned(&self, position: i64) {
        let mut s = self.lock();
        s.position = Some(position);
        s.unreplicated.retain(|(last, _)| *last >= position);
    }

    /// Notes a fetch response at `position`: log end, record ages and unreplicated batches.
    pub(crate) fn fetched(&self, fetch: &PartitionFetch, position: i64, now_ms: i64) {
        let mut s = self.lock();
        if fetch.high_watermark >= 0 {
            s.log_end = Some(fetch.high_watermark);
        }
        let known = s
            .unreplicated
            .back()
            .map_or(position - 1, |(last, _)| *last);
        for batch in fetch.batches().flatten() {
            if batch.last_offset() <= known || batch.last_offset() < position {
                continue;
            }
            let timestamp = first_timestamp(&batch);
            s.seen_bytes += batch.len() as u64;
            s.seen_records += batch.record_count().max(0) as u64;
            if !batch.is_control() {
                s.record_age
                    .record(age_seconds(now_ms, batch.max_timestamp()));
            }
            s.unreplicated.push_back((batch.last_offset(), timestamp));
        }
    }

    /// Notes batches up to `last_offset` acknowledged by the target (or skipped).
    pub(crate) fn acknowledged(&self, last_offset: i64, ack: Option<Acked>, now_ms: i64) {
        let mut s = self.lock();
        s.position = Some(last_offset + 1);
        while s
            .unreplicated
            .front()
            .is_some_and(|(last, _)| *last <= last_offset)
        {
            s.unreplicated.pop_front();
        }
        match ack {
            Some(a) => {
                s.records += a.records;
                s.bytes += a.bytes;
                if a.reencoded {
                    s.reencoded += 1;
                } else {
                    s.passed_through += 1;
                }
                s.replication_latency
                    .record(age_seconds(now_ms, a.max_timestamp));
            }
            None => s.dropped += 1,
        }
    }

    /// Marks the partition paused (`Some(reason)`) or replicating (`None`), returning whether
    /// that changed.
    pub(crate) fn set_paused(&self, reason: Option<String>) -> bool {
        let mut s = self.lock();
        let changed = s.paused != reason;
        s.paused = reason;
        changed
    }

    /// Remembers the last error.
    pub(crate) fn failed(&self, message: String, now_ms: i64) {
        self.lock().last_error = Some(ErrorNote {
            at_ms: now_ms,
            message,
        });
    }

    /// The current state, with lag computed at `now_ms`.
    pub fn snapshot(&self, topic: &str, partition: i32, now_ms: i64) -> PartitionSnapshot {
        let mut s = self.lock();
        let lag_records = match (s.position, s.log_end) {
            (Some(p), Some(end)) => (end - p).max(0) as u64,
            _ => 0,
        };
        let lag_bytes = if s.seen_records == 0 {
            0
        } else {
            (lag_records as f64 * s.seen_bytes as f64 / s.seen_records as f64).round() as u64
        };
        let lag_seconds = match s.unreplicated.front() {
            Some((_, ts)) if lag_records > 0 => age_seconds(now_ms, *ts),
            _ => 0.0,
        };
        PartitionSnapshot {
            topic: topic.to_owned(),
            partition,
            position: s.position,
            log_end: s.log_end,
            lag_records,
            lag_bytes,
            lag_seconds,
            records: s.records,
            bytes: s.bytes,
            passed_through: s.passed_through,
            reencoded: s.reencoded,
            dropped: s.dropped,
            paused: s.paused.clone(),
            last_error: s.last_error.clone(),
            record_age: s.record_age.view(),
            replication_latency: s.replication_latency.view(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the target acknowledged for one batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Acked {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) reencoded: bool,
    /// Timestamp of the batch's newest record.
    pub(crate) max_timestamp: i64,
}

/// The timestamp of a batch's first record (with LogAppendTime every record has the batch's).
fn first_timestamp(batch: &RawBatch) -> i64 {
    match batch.timestamp_type() {
        TimestampType::LogAppendTime => batch.max_timestamp(),
        _ => batch.base_timestamp(),
    }
}

fn age_seconds(now_ms: i64, timestamp_ms: i64) -> f64 {
    if timestamp_ms <= 0 {
        return 0.0;
    }
    (now_ms - timestamp_ms).max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use strait_kafka::batch::{BatchBuilder, Record};
    use strait_kafka::PartitionFetch;

    use super::{Acked, PartitionStats};

    /// A fetch of batches of `sizes[i]` records each, from offset 0, record timestamps
    /// 1000 * (batch index + 1), high watermark `hw`.
    fn fetch(sizes: &[i64], hw: i64) -> (PartitionFetch, Vec<usize>) {
        let mut records = BytesMut::new();
        let mut lens = Vec::new();
        let mut offset = 0;
        for (i, n) in sizes.iter().enumerate() {
            let batch = BatchBuilder {
                base_offset: offset,
                records: (0..*n)
                    .map(|k| Record {
                        offset: offset + k,
                        timestamp: 1000 * (i as i64 + 1),
                        key: None,
                        value: Some(Bytes::from_static(b"0123456789")),
                        headers: vec![],
                    })
                    .collect(),
                ..BatchBuilder::default()
            }
            .encode()
            .unwrap();
            lens.push(batch.len());
            records.extend_from_slice(batch.bytes());
            offset += n;
        }
        let fetch = PartitionFetch {
            topic: "t".into(),
            partition: 0,
            fetch_offset: 0,
            error: None,
            high_watermark: hw,
            last_stable_offset: hw,
            log_start_offset: 0,
            aborted: vec![],
            diverging: None,
            records: records.freeze(),
        };
        (fetch, lens)
    }

    fn acked(records: u64) -> Option<Acked> {
        Some(Acked {
            records,
            bytes: 0,
            reencoded: false,
            max_timestamp: 0,
        })
    }

    #[test]
    fn lag_in_records_bytes_and_seconds() {
        let stats = PartitionStats::default();
        stats.positioned(0);
        let (f, lens) = fetch(&[4, 6], 10);
        stats.fetched(&f, 0, 11_000);
        let s = stats.snapshot("t", 0, 11_000);
        assert_eq!(
            (s.lag_records, s.log_end, s.position),
            (10, Some(10), Some(0))
        );
        let per_record = (lens[0] + lens[1]) as f64 / 10.0;
        assert_eq!(s.lag_bytes, (10.0 * per_record).round() as u64);
        assert_eq!(
            s.lag_seconds, 10.0,
            "oldest waiting record has timestamp 1000"
        );

        // First batch acknowledged: the oldest waiting record is now the second batch's.
        stats.acknowledged(3, acked(4), 11_000);
        let s = stats.snapshot("t", 0, 11_000);
        assert_eq!((s.lag_records, s.lag_seconds, s.records), (6, 9.0, 4));

        // The same fetch seen again (a paused partition polls) adds nothing.
        stats.fetched(&f, 4, 11_000);
        stats.acknowledged(9, acked(6), 12_000);
        let s = stats.snapshot("t", 0, 12_000);
        assert_eq!((s.lag_records, s.lag_seconds, s.records), (0, 0.0, 10));
    }

    #[test]
    fn no_lag_before_the_log_end_is_known() {
        let stats = PartitionStats::default();
        stats.positioned(5);
        let s = stats.snapshot("t", 0, 1);
        assert_eq!((s.lag_records, s.lag_bytes, s.lag_seconds), (0, 0, 0.0));
        assert_eq!(s.log_end, None);
    }
}
