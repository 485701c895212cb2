//! Offset-sync records (`mm2-offset-syncs.<alias>.internal`), Java `OffsetSync`.

use std::fmt;

use super::wire::{StructReader, StructWriter};
use super::FormatError;

/// One upstream→downstream offset correspondence for a source topic-partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetSync {
    /// Upstream (source) topic name, not the remote name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset of the record in the source topic.
    pub upstream_offset: i64,
    /// Offset the record got in the remote topic.
    pub downstream_offset: i64,
}

impl OffsetSync {
    /// Encodes the key: `topic` STRING, `partition` INT32.
    pub fn record_key(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = StructWriter::with_capacity(2 + self.topic.len() + 4);
        w.string("topic", &self.topic)?.int32(self.partition);
        Ok(w.into_bytes())
    }

    /// Encodes the value: `upstreamOffset` INT64, `offset` INT64 (no version header).
    pub fn record_value(&self) -> Vec<u8> {
        let mut w = StructWriter::with_capacity(16);
        w.int64(self.upstream_offset).int64(self.downstream_offset);
        w.into_bytes()
    }

    /// Decodes a record's key and value, ignoring trailing bytes in either.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, FormatError> {
        let mut k = StructReader::new(key);
        let topic = k.string("topic")?;
        let partition = k.int32("partition")?;
        let mut v = StructReader::new(value);
        let upstream_offset = v.int64("upstreamOffset")?;
        let downstream_offset = v.int64("offset")?;
        Ok(Self {
            topic,
            partition,
            upstream_offset,
            downstream_offset,
        })
    }
}

/// Record header in which strait claims that every offset between its previous sync of the
/// partition (whose upstream offset the header holds, in ASCII decimal) and this one maps one to
/// one. Java MM2 reads only keys and values here, so the header is invisible to it.
pub const EXACT_SINCE_HEADER: &str = "strait.exact-since";

/// An offset sync with strait's claim ([`EXACT_SINCE_HEADER`]), as written or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedSync {
    /// The sync itself (key and value).
    pub sync: OffsetSync,
    /// Upstream offset of the writer's previous sync of the partition, when every offset since
    /// it maps one to one (a batch forwarded untouched, or nothing dropped between batches).
    pub exact_since: Option<i64>,
}

impl ClaimedSync {
    /// A sync without a claim: what Java MM2 writes.
    pub fn unclaimed(sync: OffsetSync) -> Self {
        Self {
            sync,
            exact_since: None,
        }
    }

    /// The header value to write, if there is a claim.
    pub fn header_value(&self) -> Option<Vec<u8>> {
        self.exact_since.map(|o| o.to_string().into_bytes())
    }

    /// Reads a claim from a header value; `None` (no claim) for anything but a decimal offset.
    pub fn parse_header(value: &[u8]) -> Option<i64> {
        std::str::from_utf8(value).ok()?.parse().ok()
    }
}

impl From<OffsetSync> for ClaimedSync {
    fn from(sync: OffsetSync) -> Self {
        ClaimedSync::unclaimed(sync)
    }
}

impl fmt::Display for OffsetSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OffsetSync{{topicPartition={}-{}, upstreamOffset={}, downstreamOffset={}}}",
            self.topic, self.partition, self.upstream_offset, self.downstream_offset
        )
    }
}
