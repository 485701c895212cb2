//! One whole record batch as raw bytes: header accessors, CRC check and producer-field rewrite.

use bytes::{Bytes, BytesMut};

use super::attributes::{CONTROL_BIT, DELETE_HORIZON_BIT, TRANSACTIONAL_BIT};
use super::crc_shift::past_zeros;
use super::layout::*;
use super::wire::{i16_at, i32_at, i64_at, i8_at, put_at, u32_at};
use super::{BatchError, Compression, TimestampType};

/// Producer identity stamped on a batch (idempotent / transactional producers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProducerFields {
    /// Producer id, -1 for none.
    pub producer_id: i64,
    /// Producer epoch, -1 for none.
    pub producer_epoch: i16,
    /// Sequence number of the batch's first record, -1 for none.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub transactional: bool,
}

impl ProducerFields {
    /// No producer identity: id -1, epoch -1, sequence -1, not transactional.
    pub const NONE: ProducerFields = ProducerFields {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        transactional: false,
    };
}

impl Default for ProducerFields {
    fn default() -> Self {
        Self::NONE
    }
}

/// One whole record batch as raw bytes (zero-copy slice of a fetch buffer); header accessors never decompress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBatch {
    bytes: Bytes,
}

impl RawBatch {
    /// Wraps one whole batch: the length prefix must match `bytes.len()` and be at least the magic's minimum (61 bytes in total for magic 2).
    pub fn new(bytes: Bytes) -> Result<Self, BatchError> {
        let offset = if bytes.len() >= LENGTH {
            i64_at(&bytes, BASE_OFFSET)
        } else {
            -1
        };
        let corrupt = |reason: String| BatchError::Corrupt { offset, reason };
        if bytes.len() <= MAGIC {
            return Err(corrupt(format!(
                "{} bytes are too few to hold a batch header",
                bytes.len()
            )));
        }
        let length = i32_at(&bytes, LENGTH);
        let magic = i8_at(&bytes, MAGIC);
        let min = min_batch_length(magic).ok_or(BatchError::UnsupportedMagic { offset, magic })?;
        if length < min {
            return Err(corrupt(format!(
                "batch length {length} is below the minimum {min} for magic {magic}"
            )));
        }
        if length as usize != bytes.len() - LOG_OVERHEAD {
            return Err(corrupt(format!(
                "batch length {length} does not match the {} bytes after the prefix",
                bytes.len() - LOG_OVERHEAD
            )));
        }
        Ok(Self { bytes })
    }

    /// Wraps bytes the caller already validated like [`RawBatch::new`] does.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        Self { bytes }
    }

    /// The whole batch.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The whole batch, consuming `self`.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Size of the whole batch in bytes (12 + batchLength).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a valid batch is never empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn is_v2(&self) -> bool {
        self.magic() == 2
    }

    /// The offset of the first record (legacy: the prefix offset, which is the last offset).
    pub fn base_offset(&self) -> i64 {
        i64_at(&self.bytes, BASE_OFFSET)
    }

    /// The offset of the last record: base offset + lastOffsetDelta (legacy: the prefix offset).
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .saturating_add(i64::from(self.last_offset_delta()))
    }

    /// The offset after this batch (last offset + 1).
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The magic byte (record format version).
    pub fn magic(&self) -> i8 {
        i8_at(&self.bytes, MAGIC)
    }

    /// Leader epoch the batch was written under (legacy: -1).
    pub fn partition_leader_epoch(&self) -> i32 {
        if self.is_v2() {
            i32_at(&self.bytes, PARTITION_LEADER_EPOCH)
        } else {
            -1
        }
    }

    /// The stored CRC (CRC32C for magic 2, CRC32 for legacy).
    pub fn crc(&self) -> u32 {
        if self.is_v2() {
            u32_at(&self.bytes, CRC)
        } else {
            u32_at(&self.bytes, LEGACY_CRC)
        }
    }

    /// The attribute bits (legacy: the one attribute byte, zero-extended).
    pub fn attributes(&self) -> i16 {
        if self.is_v2() {
            i16_at(&self.bytes, ATTRIBUTES)
        } else {
            i16::from(i8_at(&self.bytes, LEGACY_ATTRIBUTES) as u8)
        }
    }

    /// Compression codec of the records; error for the unused codec ids 5-7.
    pub fn compression(&self) -> Result<Compression, BatchError> {
        let attributes = self.attributes();
        Compression::from_attributes(attributes).ok_or(BatchError::UnknownCompression {
            offset: self.base_offset(),
            id: attributes & super::attributes::COMPRESSION_MASK,
        })
    }

    /// Whether timestamps are create or log-append times (magic 0: always create time).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic() == 0 {
            TimestampType::CreateTime
        } else {
            TimestampType::from_attributes(self.attributes())
        }
    }

    fn v2_flag(&self, bit: i16) -> bool {
        self.is_v2() && self.attributes() & bit != 0
    }

    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.v2_flag(TRANSACTIONAL_BIT)
    }

    /// Whether the batch holds control records (attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.v2_flag(CONTROL_BIT)
    }

    /// Whether baseTimestamp holds a delete horizon set by compaction (attribute bit 6).
    pub fn has_delete_horizon(&self) -> bool {
        self.v2_flag(DELETE_HORIZON_BIT)
    }

    /// Last offset minus base offset (legacy: 0).
    pub fn last_offset_delta(&self) -> i32 {
        if self.is_v2() {
            i32_at(&self.bytes, LAST_OFFSET_DELTA)
        } else {
            0
        }
    }

    fn legacy_timestamp(&self) -> i64 {
        if self.magic() == 1 {
            i64_at(&self.bytes, LEGACY_TIMESTAMP)
        } else {
            -1
        }
    }

    /// Timestamp the record timestamp deltas are relative to (legacy v1: wrapper timestamp, v0: -1).
    pub fn base_timestamp(&self) -> i64 {
        if self.is_v2() {
            i64_at(&self.bytes, BASE_TIMESTAMP)
        } else {
            self.legacy_timestamp()
        }
    }

    /// Largest record timestamp, or the append time for log-append-time batches (legacy v1: wrapper timestamp, v0: -1).
    pub fn max_timestamp(&self) -> i64 {
        if self.is_v2() {
            i64_at(&self.bytes, MAX_TIMESTAMP)
        } else {
            self.legacy_timestamp()
        }
    }

    /// Producer id (-1 for none and for legacy).
    pub fn producer_id(&self) -> i64 {
        if self.is_v2() {
            i64_at(&self.bytes, PRODUCER_ID)
        } else {
            -1
        }
    }

    /// Producer epoch (-1 for none and for legacy).
    pub fn producer_epoch(&self) -> i16 {
        if self.is_v2() {
            i16_at(&self.bytes, PRODUCER_EPOCH)
        } else {
            -1
        }
    }

    /// Sequence of the first record (-1 for none and for legacy).
    pub fn base_sequence(&self) -> i32 {
        if self.is_v2() {
            i32_at(&self.bytes, BASE_SEQUENCE)
        } else {
            -1
        }
    }

    /// The producer fields of the header (legacy: [`ProducerFields::NONE`]).
    pub fn producer(&self) -> ProducerFields {
        ProducerFields {
            producer_id: self.producer_id(),
            producer_epoch: self.producer_epoch(),
            base_sequence: self.base_sequence(),
            transactional: self.is_transactional(),
        }
    }

    /// Number of records (legacy: -1, unknown without decompressing).
    pub fn record_count(&self) -> i32 {
        if self.is_v2() {
            i32_at(&self.bytes, RECORD_COUNT)
        } else {
            -1
        }
    }

    /// Whether recordCount == lastOffsetDelta + 1, which brokers require of produced batches (false after compaction left gaps).
    pub fn offsets_contiguous(&self) -> bool {
        self.is_v2() && i64::from(self.record_count()) == i64::from(self.last_offset_delta()) + 1
    }

    /// The records section after the 61-byte header, still compressed (legacy: empty).
    pub fn records_section(&self) -> Bytes {
        if self.is_v2() {
            self.bytes.slice(RECORDS..)
        } else {
            Bytes::new()
        }
    }

    /// The CRC computed over the contents (CRC32C of bytes 21.. for magic 2, CRC32 of bytes 16.. for legacy).
    pub fn computed_crc(&self) -> u32 {
        if self.is_v2() {
            crc32c::crc32c(&self.bytes[ATTRIBUTES..])
        } else {
            let mut crc = flate2::Crc::new();
            crc.update(&self.bytes[MAGIC..]);
            crc.sum()
        }
    }

    /// Checks the stored CRC against the contents.
    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let expected = self.crc();
        let actual = self.computed_crc();
        if expected == actual {
            Ok(())
        } else {
            Err(BatchError::CrcMismatch {
                base_offset: self.base_offset(),
                expected,
                actual,
            })
        }
    }

    /// Copy with producer id/epoch/base sequence/transactional bit replaced, baseOffset set to 0
    /// (brokers assign offsets); records bytes untouched (legacy batches: unchanged). See
    /// [`RawBatch::rewritten_header`], which spares the copy of the records.
    pub fn rewrite_producer(&self, fields: &ProducerFields) -> RawBatch {
        let Some(header) = self.rewritten_header(fields) else {
            return self.clone();
        };
        let mut out = BytesMut::with_capacity(self.bytes.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.bytes[RECORDS..]);
        RawBatch {
            bytes: out.freeze(),
        }
    }

    /// The v2 header (the first 61 bytes) as [`RawBatch::rewrite_producer`] writes it: producer
    /// fields replaced, baseOffset 0, and the CRC updated for the changed header bytes only,
    /// without reading the records. A batch whose CRC was right stays right with this header
    /// before its own records, and one that arrived corrupt stays detectably corrupt (the
    /// target broker refuses it). `None` for legacy batches, which have no such header.
    pub fn rewritten_header(&self, fields: &ProducerFields) -> Option<Bytes> {
        if !self.is_v2() {
            return None;
        }
        let mut header = BytesMut::from(&self.bytes[..RECORDS]);
        write_producer(&mut header, fields);
        let old: &[u8; HEADER_CRC_BYTES] = self.bytes[ATTRIBUTES..RECORDS]
            .try_into()
            .expect("a v2 batch holds its whole header");
        let crc = patched_crc(
            self.crc(),
            old,
            &header[ATTRIBUTES..RECORDS],
            self.bytes.len() - RECORDS,
        );
        put_at(&mut header, CRC, &crc.to_be_bytes());
        Some(header.freeze())
    }

    /// Like [`RawBatch::rewrite_producer`] but verifies the old CRC in the same pass and refuses legacy batches.
    pub fn try_rewrite_producer(&self, fields: &ProducerFields) -> Result<RawBatch, BatchError> {
        if !self.is_v2() {
            return Err(BatchError::UnsupportedMagic {
                offset: self.base_offset(),
                magic: self.magic(),
            });
        }
        let records = &self.bytes[RECORDS..];
        let records_crc = crc32c::crc32c(records);
        let crc_with = |header: &[u8]| {
            combine(
                crc32c::crc32c(&header[ATTRIBUTES..RECORDS]),
                records_crc,
                records.len(),
            )
        };
        let actual = crc_with(&self.bytes[..RECORDS]);
        if actual != self.crc() {
            return Err(BatchError::CrcMismatch {
                base_offset: self.base_offset(),
                expected: self.crc(),
                actual,
            });
        }
        let mut header = [0u8; RECORDS];
        header.copy_from_slice(&self.bytes[..RECORDS]);
        write_producer(&mut header, fields);
        let crc = crc_with(&header);
        put_at(&mut header, CRC, &crc.to_be_bytes());
        let mut out = BytesMut::with_capacity(self.bytes.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(records);
        Ok(RawBatch {
            bytes: out.freeze(),
        })
    }
}

/// The CRC32C of a message whose CRC was `crc` after its first bytes changed from `old` to
/// `new` and `rest` bytes follow unchanged. CRC32C is affine: for messages of one length,
/// crc(a) ^ crc(b) is the CRC of a ^ b without its conditioning, here the CRC of the changed
/// bytes' difference (less that of as many zeros) carried past `rest` zero bytes.
fn patched_crc(crc: u32, old: &[u8; HEADER_CRC_BYTES], new: &[u8], rest: usize) -> u32 {
    let mut difference = [0u8; HEADER_CRC_BYTES];
    for (d, (o, n)) in difference.iter_mut().zip(old.iter().zip(new)) {
        *d = o ^ n;
    }
    let head = crc32c::crc32c(&difference) ^ crc32c::crc32c(&[0u8; HEADER_CRC_BYTES]);
    crc ^ past_zeros(head, rest)
}

/// The CRC32C of `a ‖ b` from the CRC of `a`, the CRC of `b` and `b`'s length.
fn combine(crc_a: u32, crc_b: u32, b_len: usize) -> u32 {
    past_zeros(crc_a, b_len) ^ crc_b
}

/// Header bytes under the CRC: attributes to the record count.
const HEADER_CRC_BYTES: usize = RECORDS - ATTRIBUTES;

/// Writes base offset 0, the producer fields and the transactional bit into a v2 header.
fn write_producer(header: &mut [u8], fields: &ProducerFields) {
    put_at(header, BASE_OFFSET, &0i64.to_be_bytes());
    put_at(header, PRODUCER_ID, &fields.producer_id.to_be_bytes());
    put_at(header, PRODUCER_EPOCH, &fields.producer_epoch.to_be_bytes());
    put_at(header, BASE_SEQUENCE, &fields.base_sequence.to_be_bytes());
    let mut attributes = i16_at(header, ATTRIBUTES) & !TRANSACTIONAL_BIT;
    if fields.transactional {
        attributes |= TRANSACTIONAL_BIT;
    }
    put_at(header, ATTRIBUTES, &attributes.to_be_bytes());
}
