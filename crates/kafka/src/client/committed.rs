//! What a read_committed reader keeps of fetched batches. Kafka serves aborted data to
//! read_committed fetches and lists each aborted transaction (producer id, first offset) beside
//! it: the client drops that producer's transactional batches from the first offset up to its
//! abort marker. The state carries over from one fetch of a partition to the next.

use std::collections::{BTreeSet, HashSet};

use super::fetch::AbortedTransaction;
use crate::batch::{BatchError, RawBatch};

/// What a fetched batch is to a read_committed reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    /// A transaction marker (control batch): commit or abort of its producer's transaction.
    Marker {
        /// Whether it ends the transaction with an abort.
        abort: bool,
    },
    /// Data of an aborted transaction.
    Aborted,
    /// Data a read_committed consumer sees.
    Data,
}

/// One partition's read_committed filter.
#[derive(Debug, Default)]
pub struct CommittedFilter {
    /// Aborted transactions announced but not yet reached: `(first offset, producer id)`.
    announced: BTreeSet<(i64, i64)>,
    /// Producers whose current transaction aborted, until their abort marker.
    aborting: HashSet<i64>,
}

impl CommittedFilter {
    /// Notes the aborted transactions a fetch response listed.
    pub fn note(&mut self, aborted: &[AbortedTransaction]) {
        self.announced
            .extend(aborted.iter().map(|a| (a.first_offset, a.producer_id)));
    }

    /// Classifies the next batch of the partition (batches must come in offset order).
    pub fn classify(&mut self, batch: &RawBatch) -> Result<BatchKind, BatchError> {
        if batch.is_transactional() {
            let started: Vec<_> = self
                .announced
                .range(..=(batch.last_offset(), i64::MAX))
                .copied()
                .collect();
            for key in started {
                self.announced.remove(&key);
                self.aborting.insert(key.1);
            }
        }
        if batch.is_control() {
            let abort = marker_is_abort(batch)?;
            if abort {
                self.aborting.remove(&batch.producer_id());
            }
            return Ok(BatchKind::Marker { abort });
        }
        if batch.is_transactional() && self.aborting.contains(&batch.producer_id()) {
            return Ok(BatchKind::Aborted);
        }
        Ok(BatchKind::Data)
    }
}

/// Whether a control batch holds an ABORT marker (control record key: version i16, type i16;
/// type 0 is ABORT, 1 COMMIT).
pub fn marker_is_abort(batch: &RawBatch) -> Result<bool, BatchError> {
    let decoded = batch.decode()?;
    Ok(decoded
        .records
        .first()
        .and_then(|r| r.key.as_ref())
        .is_some_and(|k| k.len() >= 4 && i16::from_be_bytes([k[2], k[3]]) == 0))
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, Bytes, BytesMut};

    use super::*;
    use crate::batch::{BatchBuilder, ProducerFields, Record};

    fn data(offset: i64, producer: Option<i64>) -> RawBatch {
        BatchBuilder {
            base_offset: offset,
            producer: ProducerFields {
                producer_id: producer.unwrap_or(-1),
                producer_epoch: 0,
                base_sequence: 0,
                transactional: producer.is_some(),
            },
            records: vec![Record {
                offset,
                timestamp: 0,
                key: None,
                value: Some(Bytes::from_static(b"v")),
                headers: vec![],
            }],
            ..BatchBuilder::default()
        }
        .encode()
        .unwrap()
    }

    fn marker(offset: i64, producer: i64, commit: bool) -> RawBatch {
        let mut key = BytesMut::new();
        key.put_i16(0);
        key.put_i16(i16::from(commit));
        BatchBuilder {
            base_offset: offset,
            producer: ProducerFields {
                producer_id: producer,
                producer_epoch: 0,
                base_sequence: 0,
                transactional: true,
            },
            is_control: true,
            records: vec![Record {
                offset,
                timestamp: 0,
                key: Some(key.freeze()),
                value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
                headers: vec![],
            }],
            ..BatchBuilder::default()
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn aborted_data_is_dropped_until_its_marker() {
        let mut f = CommittedFilter::default();
        f.note(&[AbortedTransaction {
            producer_id: 7,
            first_offset: 1,
        }]);
        let kinds: Vec<_> = [
            data(0, Some(7)),
            data(1, Some(7)),
            data(2, Some(8)),
            data(3, None),
            marker(4, 7, false),
            data(5, Some(7)),
            marker(6, 7, true),
        ]
        .iter()
        .map(|b| f.classify(b).unwrap())
        .collect();
        assert_eq!(
            kinds,
            [
                BatchKind::Data,
                BatchKind::Aborted,
                BatchKind::Data,
                BatchKind::Data,
                BatchKind::Marker { abort: true },
                BatchKind::Data,
                BatchKind::Marker { abort: false },
            ]
        );
    }
}
