//! Byte positions of the record batch v2 header and the legacy message header.

/// Size of the offset + length prefix shared by all magics.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the v2 batch header; records start here.
pub const RECORD_BATCH_OVERHEAD: usize = 61;

pub(crate) const BASE_OFFSET: usize = 0;
pub(crate) const LENGTH: usize = 8;
pub(crate) const PARTITION_LEADER_EPOCH: usize = 12;
pub(crate) const MAGIC: usize = 16;
pub(crate) const CRC: usize = 17;
pub(crate) const ATTRIBUTES: usize = 21;
pub(crate) const LAST_OFFSET_DELTA: usize = 23;
pub(crate) const BASE_TIMESTAMP: usize = 27;
pub(crate) const MAX_TIMESTAMP: usize = 35;
pub(crate) const PRODUCER_ID: usize = 43;
pub(crate) const PRODUCER_EPOCH: usize = 51;
pub(crate) const BASE_SEQUENCE: usize = 53;
pub(crate) const RECORD_COUNT: usize = 57;
pub(crate) const RECORDS: usize = RECORD_BATCH_OVERHEAD;

/// Legacy (magic 0/1) CRC32 over bytes 16.. (magic onwards).
pub(crate) const LEGACY_CRC: usize = 12;
/// Legacy attributes: one byte.
pub(crate) const LEGACY_ATTRIBUTES: usize = 17;
/// Legacy v1 timestamp.
pub(crate) const LEGACY_TIMESTAMP: usize = 18;

/// Smallest batchLength (bytes after the prefix) valid for `magic`; `None` for unknown magics.
pub(crate) fn min_batch_length(magic: i8) -> Option<i32> {
    match magic {
        // crc, magic, attributes, key length, value length
        0 => Some(14),
        // ... plus the timestamp
        1 => Some(22),
        2 => Some((RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i32),
        _ => None,
    }
}

/// Smallest batchLength of any magic: below it a batch is corrupt whatever its magic.
pub(crate) const MIN_ANY_BATCH_LENGTH: i32 = 14;
