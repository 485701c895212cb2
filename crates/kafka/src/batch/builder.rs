//! Building a v2 record batch from records.

use bytes::{BufMut, BytesMut};

use super::attributes::{CONTROL_BIT, TRANSACTIONAL_BIT};
use super::layout::{ATTRIBUTES, CRC, LENGTH, LOG_OVERHEAD, RECORDS};
use super::record::Record;
use super::wire::put_at;
use super::{codec, BatchError, Compression, ProducerFields, RawBatch, TimestampType};

/// Timestamp written when a batch has no records.
const NO_TIMESTAMP: i64 = -1;

/// What is needed to build a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchBuilder {
    /// Offset of the batch (0 for batches sent to a broker).
    pub base_offset: i64,
    /// Codec for the records section.
    pub compression: Compression,
    /// Timestamp type attribute bit.
    pub timestamp_type: TimestampType,
    /// Producer id/epoch/base sequence and the transactional bit.
    pub producer: ProducerFields,
    /// Control batch attribute bit.
    pub is_control: bool,
    /// Partition leader epoch (-1 when producing; brokers set it).
    pub partition_leader_epoch: i32,
    /// The records, with absolute offsets and timestamps.
    pub records: Vec<Record>,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self {
            base_offset: 0,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            producer: ProducerFields::NONE,
            is_control: false,
            partition_leader_epoch: -1,
            records: Vec::new(),
        }
    }
}

fn refuse(reason: String) -> BatchError {
    BatchError::Encode { reason }
}

impl BatchBuilder {
    /// An empty builder: offset 0, uncompressed, create time, no producer, leader epoch -1.
    pub fn new() -> Self {
        Self::default()
    }

    /// The offset delta of every record, checking order and range.
    fn offset_deltas(&self) -> Result<Vec<i32>, BatchError> {
        let mut previous: Option<i64> = None;
        self.records
            .iter()
            .map(|r| {
                if let Some(p) = previous.filter(|p| r.offset <= *p) {
                    return Err(refuse(format!(
                        "record offset {} does not follow offset {p}: offsets must increase",
                        r.offset
                    )));
                }
                previous = Some(r.offset);
                r.offset
                    .checked_sub(self.base_offset)
                    .filter(|d| *d >= 0)
                    .and_then(|d| i32::try_from(d).ok())
                    .ok_or_else(|| {
                        refuse(format!(
                            "record offset {} is not within i32 above base offset {}",
                            r.offset, self.base_offset
                        ))
                    })
            })
            .collect()
    }

    fn attributes(&self) -> i16 {
        let mut attributes =
            self.compression.attribute_bits() | self.timestamp_type.attribute_bits();
        if self.producer.transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        if self.is_control {
            attributes |= CONTROL_BIT;
        }
        attributes
    }

    /// Encodes the batch with a valid CRC.
    pub fn encode(&self) -> Result<RawBatch, BatchError> {
        let deltas = self.offset_deltas()?;
        let count = i32::try_from(self.records.len()).map_err(|_| {
            refuse(format!(
                "{} records do not fit one batch",
                self.records.len()
            ))
        })?;
        let base_timestamp = self.records.first().map_or(NO_TIMESTAMP, |r| r.timestamp);
        let max_timestamp = self
            .records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP);
        let last_offset_delta = deltas.last().copied().unwrap_or(0);

        let mut out = BytesMut::with_capacity(RECORDS + 64 * self.records.len());
        out.put_i64(self.base_offset);
        out.put_i32(0); // length, filled below
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(2);
        out.put_u32(0); // crc, filled below
        out.put_i16(self.attributes());
        out.put_i32(last_offset_delta);
        out.put_i64(base_timestamp);
        out.put_i64(max_timestamp);
        out.put_i64(self.producer.producer_id);
        out.put_i16(self.producer.producer_epoch);
        out.put_i32(self.producer.base_sequence);
        out.put_i32(count);
        debug_assert_eq!(out.len(), RECORDS);

        let encode_records = |dst: &mut BytesMut| -> Result<(), BatchError> {
            for (record, delta) in self.records.iter().zip(&deltas) {
                record.encode_into(dst, *delta, record.timestamp.wrapping_sub(base_timestamp))?;
            }
            Ok(())
        };
        if self.compression == Compression::None {
            encode_records(&mut out)?;
        } else {
            let mut plain = BytesMut::new();
            encode_records(&mut plain)?;
            out.extend_from_slice(&codec::compress(self.compression, &plain)?);
        }

        let length = i32::try_from(out.len() - LOG_OVERHEAD)
            .map_err(|_| refuse(format!("batch of {} bytes exceeds i32", out.len())))?;
        put_at(&mut out, LENGTH, &length.to_be_bytes());
        let crc = crc32c::crc32c(&out[ATTRIBUTES..]);
        put_at(&mut out, CRC, &crc.to_be_bytes());
        Ok(RawBatch::from_validated(out.freeze()))
    }
}
