//! What to do with each fetched batch: forward it untouched (the normal case), re-encode it
//! when it cannot be forwarded as is, or drop it (control markers, aborted transactions, and
//! with `strait.cycle.detection = producer.id` batches a mirror brought from the target).

use std::sync::Arc;

use strait_kafka::batch::{BatchBuilder, BatchError, RawBatch, Record, TimestampType};
use strait_kafka::{BatchKind, CommittedFilter, PartitionFetch};

/// Why a batch is not forwarded byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reencode {
    /// The fetch position lies inside the batch: records before it are cut off.
    StartsInside,
    /// Offsets have gaps (compacted source): brokers require contiguous offsets from producers.
    OffsetGaps,
    /// LogAppendTime batch: consumers see the batch's max timestamp, which must be made explicit.
    LogAppendTime,
    /// Larger than the target topic accepts: split.
    TooLarge,
    /// Forced by configuration (benchmarks).
    Forced,
    /// Legacy message set (magic 0/1, pre-0.11 format): converted to a v2 batch.
    LegacyFormat,
}

/// Why a batch is not forwarded at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Transaction marker: brokers refuse them from clients.
    Control,
    /// Data of an aborted transaction.
    Aborted,
    /// Nothing left after cutting records before the fetch position.
    Empty,
    /// Written by a mirror whose records came from this flow's target: a replication cycle.
    Cycle,
}

/// Who wrote a source batch, as far as the flow's cycle detection tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// An application (or the flow does not look: `strait.cycle.detection = topic.name`).
    Application,
    /// A mirror writer: the ids of the clusters its records were on before the source, in
    /// order, comma-separated.
    Relayed(Arc<str>),
    /// A mirror writer whose records were on this flow's target before.
    Returning,
}

/// One decision, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes (producer fields are set when sending).
    Send {
        /// The batch to produce.
        batch: RawBatch,
        /// Source offset of the batch's first record.
        first_offset: i64,
        /// Source offset up to which this step accounts (progress after its ack).
        last_offset: i64,
        /// `None` when forwarded untouched.
        reencoded: Option<Reencode>,
        /// The source batch's partition leader epoch (-1 for legacy message sets).
        leader_epoch: i32,
        /// When a mirror wrote the records to the source: the clusters they were on before
        /// ([`Provenance::Relayed`]); `None`: an application did, or the flow does not look.
        relayed: Option<Arc<str>>,
    },
    /// Nothing to send; progress moves to `last_offset`.
    Skip {
        /// Source offset up to which this step accounts.
        last_offset: i64,
        /// Why.
        reason: Drop,
        /// The source batch's partition leader epoch.
        leader_epoch: i32,
    },
}

impl Step {
    /// Source offset up to which this step accounts.
    pub fn last_offset(&self) -> i64 {
        match self {
            Step::Send { last_offset, .. } | Step::Skip { last_offset, .. } => *last_offset,
        }
    }

    /// The leader epoch the source wrote the step's batch under, if known.
    pub fn leader_epoch(&self) -> Option<i32> {
        match self {
            Step::Send { leader_epoch, .. } | Step::Skip { leader_epoch, .. } => {
                (*leader_epoch >= 0).then_some(*leader_epoch)
            }
        }
    }
}

/// Per-partition forwarding state: open aborted transactions carry over between fetches.
#[derive(Debug, Default)]
pub struct Forwarder {
    /// Which transactional batches a read_committed consumer would not see.
    committed: CommittedFilter,
    /// Re-encode every batch (benchmark of the slow path).
    pub force_reencode: bool,
    /// Largest batch the target accepts, in bytes.
    pub max_batch_bytes: usize,
}

impl Forwarder {
    /// A forwarder for a target that accepts batches up to `max_batch_bytes`.
    pub fn new(max_batch_bytes: usize, force_reencode: bool) -> Self {
        Forwarder {
            force_reencode,
            max_batch_bytes,
            ..Forwarder::default()
        }
    }

    /// Plans the batches of one fetch response, starting at source offset `position`.
    pub fn plan(&mut self, fetch: &PartitionFetch, position: i64) -> Result<Vec<Step>, BatchError> {
        self.plan_with(fetch, position, &|_| Provenance::Application)
    }

    /// Like [`Forwarder::plan`], asking `provenance` who wrote each batch by its producer id.
    pub fn plan_with(
        &mut self,
        fetch: &PartitionFetch,
        position: i64,
        provenance: &dyn Fn(i64) -> Provenance,
    ) -> Result<Vec<Step>, BatchError> {
        self.committed.note(&fetch.aborted);
        let mut steps = Vec::new();
        for batch in fetch.batches() {
            let batch = batch?;
            if batch.last_offset() < position {
                continue;
            }
            steps.extend(self.step(batch, position, provenance)?);
        }
        Ok(steps)
    }

    fn step(
        &mut self,
        batch: RawBatch,
        position: i64,
        provenance: &dyn Fn(i64) -> Provenance,
    ) -> Result<Vec<Step>, BatchError> {
        let last_offset = batch.last_offset();
        let leader_epoch = batch.partition_leader_epoch();
        let dropped = match self.committed.classify(&batch)? {
            BatchKind::Marker { .. } => Some(Drop::Control),
            BatchKind::Aborted => Some(Drop::Aborted),
            BatchKind::Data => None,
        };
        if let Some(reason) = dropped {
            return Ok(vec![Step::Skip {
                last_offset,
                reason,
                leader_epoch,
            }]);
        }
        // Legacy entries and non-idempotent batches carry no producer id.
        let written_by = if batch.magic() == 2 && batch.producer_id() >= 0 {
            provenance(batch.producer_id())
        } else {
            Provenance::Application
        };
        let relayed = match written_by {
            Provenance::Returning => {
                return Ok(vec![Step::Skip {
                    last_offset,
                    reason: Drop::Cycle,
                    leader_epoch,
                }])
            }
            Provenance::Relayed(path) => Some(path),
            Provenance::Application => None,
        };
        // Legacy entries are never transactional nor control batches.
        let reason = if batch.magic() != 2 {
            Some(Reencode::LegacyFormat)
        } else if self.force_reencode {
            Some(Reencode::Forced)
        } else if batch.base_offset() < position {
            Some(Reencode::StartsInside)
        } else if batch.timestamp_type() == TimestampType::LogAppendTime {
            Some(Reencode::LogAppendTime)
        } else if !batch.offsets_contiguous() {
            Some(Reencode::OffsetGaps)
        } else if batch.len() > self.max_batch_bytes {
            Some(Reencode::TooLarge)
        } else {
            None
        };
        match reason {
            None => Ok(vec![Step::Send {
                first_offset: batch.base_offset(),
                last_offset,
                batch,
                reencoded: None,
                leader_epoch,
                relayed,
            }]),
            Some(reason) => self.reencode(&batch, position, reason, relayed),
        }
    }

    fn reencode(
        &self,
        batch: &RawBatch,
        position: i64,
        reason: Reencode,
        relayed: Option<Arc<str>>,
    ) -> Result<Vec<Step>, BatchError> {
        let decoded = batch.decode()?;
        let last_offset = batch.last_offset();
        let leader_epoch = batch.partition_leader_epoch();
        let log_append = decoded.timestamp_type == TimestampType::LogAppendTime;
        let records: Vec<Record> = decoded
            .records
            .into_iter()
            .filter(|r| r.offset >= position)
            .map(|r| Record {
                timestamp: if log_append {
                    decoded.max_timestamp
                } else {
                    r.timestamp
                },
                ..r
            })
            .collect();
        if records.is_empty() {
            return Ok(vec![Step::Skip {
                last_offset,
                reason: Drop::Empty,
                leader_epoch,
            }]);
        }
        let mut steps = Vec::new();
        let mut chunks = vec![records];
        while let Some(chunk) = chunks.pop() {
            let first_offset = chunk[0].offset;
            let chunk_last = chunk.last().map_or(first_offset, |r| r.offset);
            let encoded = BatchBuilder {
                compression: decoded.compression,
                records: chunk
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Record {
                        offset: i as i64,
                        ..r.clone()
                    })
                    .collect(),
                ..BatchBuilder::default()
            }
            .encode()?;
            if encoded.len() > self.max_batch_bytes && chunk.len() > 1 {
                let mut first = chunk;
                let second = first.split_off(first.len() / 2);
                chunks.push(second);
                chunks.push(first);
                continue;
            }
            steps.push(Step::Send {
                batch: encoded,
                first_offset,
                last_offset: chunk_last,
                reencoded: Some(reason),
                leader_epoch,
                relayed: relayed.clone(),
            });
        }
        let split = steps.len() > 1;
        for step in &mut steps {
            if let Step::Send { reencoded, .. } = step {
                if split {
                    *reencoded = Some(Reencode::TooLarge);
                }
            }
        }
        // The last step accounts for the whole source batch (trailing compacted-away offsets).
        if let Some(Step::Send { last_offset: l, .. }) = steps.last_mut() {
            *l = last_offset;
        }
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};
    use strait_kafka::batch::legacy_builder::{entry, message, wrapper};
    use strait_kafka::batch::{Compression, ProducerFields};
    use strait_kafka::AbortedTransaction;

    fn records(offsets: &[i64], ts: i64) -> Vec<Record> {
        offsets
            .iter()
            .map(|&o| Record {
                offset: o,
                timestamp: ts + o,
                key: Some(Bytes::from(format!("k{o}"))),
                value: Some(Bytes::from(vec![b'v'; 100])),
                headers: vec![],
            })
            .collect()
    }

    fn batch(base: i64, offsets: &[i64]) -> BatchBuilder {
        BatchBuilder {
            base_offset: base,
            compression: Compression::Lz4,
            records: records(offsets, 1_700_000_000_000),
            ..BatchBuilder::default()
        }
    }

    fn txn(builder: BatchBuilder, pid: i64) -> BatchBuilder {
        BatchBuilder {
            producer: ProducerFields {
                producer_id: pid,
                producer_epoch: 0,
                base_sequence: 0,
                transactional: true,
            },
            ..builder
        }
    }

    fn marker(offset: i64, pid: i64, commit: bool) -> BatchBuilder {
        let mut key = BytesMut::new();
        key.put_i16(0);
        key.put_i16(i16::from(commit));
        let record = Record {
            offset,
            timestamp: 0,
            key: Some(key.freeze()),
            value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
            headers: vec![],
        };
        BatchBuilder {
            base_offset: offset,
            is_control: true,
            records: vec![record],
            ..txn(BatchBuilder::default(), pid)
        }
    }

    fn fetch(batches: &[BatchBuilder], aborted: Vec<AbortedTransaction>) -> PartitionFetch {
        let mut buf = BytesMut::new();
        for b in batches {
            buf.put_slice(b.encode().unwrap().bytes());
        }
        PartitionFetch {
            topic: "t".into(),
            partition: 0,
            fetch_offset: 0,
            error: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: 0,
            aborted,
            diverging: None,
            records: buf.freeze(),
        }
    }

    fn batch_len(f: &PartitionFetch, index: usize) -> usize {
        f.batches().nth(index).unwrap().unwrap().len()
    }

    fn summary(steps: &[Step]) -> Vec<(i64, i64, Option<Reencode>, Option<Drop>)> {
        steps
            .iter()
            .map(|s| match s {
                Step::Send {
                    first_offset,
                    last_offset,
                    reencoded,
                    ..
                } => (*first_offset, *last_offset, *reencoded, None),
                Step::Skip {
                    last_offset,
                    reason,
                    ..
                } => (-1, *last_offset, None, Some(*reason)),
            })
            .collect()
    }

    #[test]
    fn whole_batches_are_forwarded_untouched() {
        let f = fetch(&[batch(0, &[0, 1, 2]), batch(3, &[3, 4])], vec![]);
        let steps = Forwarder::new(1 << 20, false).plan(&f, 0).unwrap();
        assert_eq!(
            summary(&steps),
            vec![(0, 2, None, None), (3, 4, None, None)]
        );
        let Step::Send { batch, .. } = &steps[1] else {
            panic!()
        };
        let first_len = batch_len(&f, 0);
        assert_eq!(
            batch.bytes(),
            &f.records.slice(first_len..),
            "the fetched bytes, not a copy"
        );
    }

    #[test]
    fn a_position_inside_a_batch_cuts_the_records_before_it() {
        let f = fetch(&[batch(0, &[0, 1, 2, 3])], vec![]);
        let steps = Forwarder::new(1 << 20, false).plan(&f, 2).unwrap();
        assert_eq!(
            summary(&steps),
            vec![(2, 3, Some(Reencode::StartsInside), None)]
        );
        let Step::Send { batch, .. } = &steps[0] else {
            panic!()
        };
        let keys: Vec<_> = batch
            .decode()
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.key.unwrap())
            .collect();
        assert_eq!(keys, vec![Bytes::from("k2"), Bytes::from("k3")]);
        assert_eq!(
            batch.compression().unwrap(),
            Compression::Lz4,
            "same codec after re-encoding"
        );
    }

    #[test]
    fn markers_and_aborted_transactions_are_dropped_committed_data_kept() {
        let f = fetch(
            &[
                txn(batch(0, &[0, 1]), 7),
                marker(2, 7, false),
                txn(batch(3, &[3, 4]), 7),
                marker(5, 7, true),
                batch(6, &[6]),
            ],
            vec![AbortedTransaction {
                producer_id: 7,
                first_offset: 0,
            }],
        );
        let steps = Forwarder::new(1 << 20, false).plan(&f, 0).unwrap();
        assert_eq!(
            summary(&steps),
            vec![
                (-1, 1, None, Some(Drop::Aborted)),
                (-1, 2, None, Some(Drop::Control)),
                (3, 4, None, None),
                (-1, 5, None, Some(Drop::Control)),
                (6, 6, None, None),
            ]
        );
    }

    #[test]
    fn compacted_gaps_are_renumbered_and_progress_covers_the_whole_batch() {
        let f = fetch(&[batch(10, &[10, 13, 17])], vec![]);
        let steps = Forwarder::new(1 << 20, false).plan(&f, 0).unwrap();
        assert_eq!(
            summary(&steps),
            vec![(10, 17, Some(Reencode::OffsetGaps), None)]
        );
        let Step::Send { batch, .. } = &steps[0] else {
            panic!()
        };
        assert!(batch.offsets_contiguous());
        let decoded = batch.decode().unwrap();
        assert_eq!(
            decoded
                .records
                .iter()
                .map(|r| r.key.clone().unwrap())
                .collect::<Vec<_>>(),
            vec![Bytes::from("k10"), Bytes::from("k13"), Bytes::from("k17")]
        );
        assert_eq!(
            decoded.records[2].timestamp, 1_700_000_000_017,
            "timestamps kept"
        );
    }

    #[test]
    fn log_append_time_batches_get_the_timestamp_consumers_saw() {
        let b = BatchBuilder {
            timestamp_type: TimestampType::LogAppendTime,
            ..batch(0, &[0, 1])
        };
        let f = fetch(&[b], vec![]);
        let steps = Forwarder::new(1 << 20, false).plan(&f, 0).unwrap();
        let Step::Send {
            batch, reencoded, ..
        } = &steps[0]
        else {
            panic!()
        };
        assert_eq!(*reencoded, Some(Reencode::LogAppendTime));
        let decoded = batch.decode().unwrap();
        assert_eq!(decoded.timestamp_type, TimestampType::CreateTime);
        assert!(decoded
            .records
            .iter()
            .all(|r| r.timestamp == 1_700_000_000_001));
    }

    #[test]
    fn batches_too_large_for_the_target_are_split() {
        let offsets: Vec<i64> = (0..40).collect();
        let big = BatchBuilder {
            compression: Compression::None,
            ..batch(0, &offsets)
        };
        let f = fetch(&[big], vec![]);
        let steps = Forwarder::new(1500, false).plan(&f, 0).unwrap();
        assert!(steps.len() > 1);
        let mut next = 0;
        for s in &steps {
            let Step::Send {
                batch,
                first_offset,
                reencoded,
                ..
            } = s
            else {
                panic!()
            };
            assert!(batch.len() <= 1500);
            assert_eq!(*first_offset, next);
            assert_eq!(*reencoded, Some(Reencode::TooLarge));
            next += batch.record_count() as i64;
        }
        assert_eq!(next, 40);
        assert_eq!(steps.last().unwrap().last_offset(), 39);
    }

    #[test]
    fn forced_reencoding_keeps_the_records() {
        let f = fetch(&[batch(0, &[0, 1, 2])], vec![]);
        let steps = Forwarder::new(1 << 20, true).plan(&f, 0).unwrap();
        let Step::Send {
            batch, reencoded, ..
        } = &steps[0]
        else {
            panic!()
        };
        assert_eq!(*reencoded, Some(Reencode::Forced));
        assert_eq!(
            batch.decode().unwrap().records,
            records(&[0, 1, 2], 1_700_000_000_000)
                .into_iter()
                .enumerate()
                .map(|(i, r)| Record {
                    offset: i as i64,
                    ..r
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn legacy_message_sets_are_reencoded_as_v2() {
        // A magic 0 entry at 0, a gzip magic 1 wrapper at 3 holding relative offsets 0..=2
        // (absolute 1..=3), then a v2 batch at 4..=5.
        let mut inner = Vec::new();
        for (rel, ts) in [(0, 1_000), (1, 3_000), (2, 2_000)] {
            let key = format!("k{rel}");
            inner.extend(entry(
                rel,
                &message(1, 0, ts, Some(key.as_bytes()), Some(b"value")),
            ));
        }
        let mut buf = BytesMut::new();
        buf.put_slice(&entry(0, &message(0, 0, -1, None, Some(b"old"))));
        buf.put_slice(&wrapper(3, 1, 0, 3_000, Compression::Gzip, &inner));
        let legacy_len = buf.len();
        buf.put_slice(batch(4, &[4, 5]).encode().unwrap().bytes());
        let f = PartitionFetch {
            records: buf.freeze(),
            ..fetch(&[], vec![])
        };
        let steps = Forwarder::new(1 << 20, false).plan(&f, 0).unwrap();
        assert_eq!(
            summary(&steps),
            vec![
                (0, 0, Some(Reencode::LegacyFormat), None),
                (1, 3, Some(Reencode::LegacyFormat), None),
                (4, 5, None, None),
            ]
        );
        let sent: Vec<&RawBatch> = steps
            .iter()
            .map(|s| match s {
                Step::Send { batch, .. } => batch,
                Step::Skip { .. } => panic!("{s:?}"),
            })
            .collect();

        let v0 = sent[0].decode().unwrap();
        assert_eq!(sent[0].magic(), 2);
        assert_eq!(v0.compression, Compression::None);
        assert_eq!(
            v0.records,
            vec![Record {
                offset: 0,
                timestamp: -1,
                key: None,
                value: Some(Bytes::from("old")),
                headers: vec![],
            }]
        );

        // Renumbered from 0 (the step's first_offset 1 maps them back), same timestamps.
        let v1 = sent[1].decode().unwrap();
        assert_eq!(sent[1].magic(), 2);
        assert!(sent[1].offsets_contiguous());
        assert_eq!(v1.compression, Compression::Gzip);
        assert_eq!(v1.timestamp_type, TimestampType::CreateTime);
        assert_eq!(
            v1.records,
            [(0, 1_000), (1, 3_000), (2, 2_000)]
                .into_iter()
                .map(|(o, ts)| Record {
                    offset: o,
                    timestamp: ts,
                    key: Some(Bytes::from(format!("k{o}"))),
                    value: Some(Bytes::from("value")),
                    headers: vec![],
                })
                .collect::<Vec<_>>()
        );

        assert_eq!(
            sent[2].bytes(),
            &f.records.slice(legacy_len..),
            "the v2 batch is forwarded untouched"
        );

        // A position inside the wrapper cuts its records before it.
        let steps = Forwarder::new(1 << 20, false).plan(&f, 2).unwrap();
        assert_eq!(
            summary(&steps),
            vec![
                (2, 3, Some(Reencode::LegacyFormat), None),
                (4, 5, None, None),
            ]
        );
    }

    fn idempotent(builder: BatchBuilder, pid: i64) -> BatchBuilder {
        BatchBuilder {
            producer: ProducerFields {
                producer_id: pid,
                producer_epoch: 0,
                base_sequence: 0,
                transactional: false,
            },
            ..builder
        }
    }

    #[test]
    fn batches_a_mirror_brought_from_the_target_are_dropped_relayed_ones_keep_their_path() {
        // 7: an application; 8: a mirror with records from the target; 9: a mirror relaying
        // records of a third cluster; -1: a producer without idempotence.
        let f = fetch(
            &[
                idempotent(batch(0, &[0, 1]), 7),
                idempotent(batch(2, &[2, 3]), 8),
                idempotent(batch(4, &[4]), 9),
                batch(5, &[5]),
                idempotent(batch(6, &[6, 7]), 8),
            ],
            vec![],
        );
        let third: Arc<str> = Arc::from("third-cluster-id");
        let asked = std::cell::RefCell::new(Vec::new());
        let provenance = |pid: i64| {
            asked.borrow_mut().push(pid);
            match pid {
                8 => Provenance::Returning,
                9 => Provenance::Relayed(third.clone()),
                _ => Provenance::Application,
            }
        };
        let steps = Forwarder::new(1 << 20, false)
            .plan_with(&f, 0, &provenance)
            .unwrap();
        assert_eq!(
            summary(&steps),
            vec![
                (0, 1, None, None),
                (-1, 3, None, Some(Drop::Cycle)),
                (4, 4, None, None),
                (5, 5, None, None),
                (-1, 7, None, Some(Drop::Cycle)),
            ]
        );
        let paths: Vec<_> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Send { relayed, .. } => Some(relayed.clone()),
                Step::Skip { .. } => None,
            })
            .collect();
        assert_eq!(paths, vec![None, Some(third.clone()), None]);
        assert_eq!(
            *asked.borrow(),
            vec![7, 8, 9, 8],
            "no producer id asked for -1"
        );

        // Cut by the position, a relayed batch keeps its path; a returning one stays dropped.
        let steps = Forwarder::new(1 << 20, false)
            .plan_with(&f, 3, &provenance)
            .unwrap();
        assert_eq!(summary(&steps)[0], (-1, 3, None, Some(Drop::Cycle)));
        let steps = Forwarder::new(1 << 20, true)
            .plan_with(&f, 4, &provenance)
            .unwrap();
        let Step::Send {
            relayed, reencoded, ..
        } = &steps[0]
        else {
            panic!("{steps:?}")
        };
        assert_eq!(
            (relayed.clone(), *reencoded),
            (Some(third), Some(Reencode::Forced))
        );
    }
}
