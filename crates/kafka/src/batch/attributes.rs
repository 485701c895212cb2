//! The batch attribute bits: compression codec, timestamp type and flags.

use std::fmt;

/// Attribute bits 0-2: the compression codec id.
pub(crate) const COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: timestamps are log-append times.
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
/// Attribute bit 4: the batch belongs to a transaction.
pub(crate) const TRANSACTIONAL_BIT: i16 = 1 << 4;
/// Attribute bit 5: the batch holds control records.
pub(crate) const CONTROL_BIT: i16 = 1 << 5;
/// Attribute bit 6: baseTimestamp holds the delete horizon (compacted tombstones).
pub(crate) const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// Compression codec of a batch's records (attribute bits 0-2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Uncompressed (id 0).
    #[default]
    None,
    /// gzip stream (id 1).
    Gzip,
    /// Snappy, xerial-framed on write; xerial or raw on read (id 2).
    Snappy,
    /// LZ4 frame format (id 3).
    Lz4,
    /// Zstandard frame (id 4).
    Zstd,
}

impl Compression {
    /// All codecs, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec whose id is `id` (0-4), if any.
    pub fn from_id(id: i16) -> Option<Self> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The codec named by attribute bits 0-2 of `attributes`; `None` for the unused ids 5-7.
    pub fn from_attributes(attributes: i16) -> Option<Self> {
        Self::from_id(attributes & COMPRESSION_MASK)
    }

    /// The codec id, which is also its attribute bits.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's name for the codec (`compression.type` values): none, gzip, snappy, lz4, zstd.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec with Kafka name `name` (case-insensitive), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Meaning of a batch's timestamps (attribute bit 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Timestamps were set by the producer.
    #[default]
    CreateTime,
    /// Timestamps were set by the broker on append (the batch's maxTimestamp is the append time).
    LogAppendTime,
}

impl TimestampType {
    /// The timestamp type named by attribute bit 3 of `attributes`.
    pub fn from_attributes(attributes: i16) -> Self {
        if attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// The attribute bits for this type (0 or bit 3).
    pub fn attribute_bits(self) -> i16 {
        match self {
            TimestampType::CreateTime => 0,
            TimestampType::LogAppendTime => TIMESTAMP_TYPE_BIT,
        }
    }
}
