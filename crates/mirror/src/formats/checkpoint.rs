//! Checkpoint records (`<source>.checkpoints.internal`), Java `Checkpoint`.

use std::fmt;

use super::wire::{StructReader, StructWriter};
use super::FormatError;

/// A consumer group's committed offset translated to the downstream topic-partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// Consumer group id.
    pub group: String,
    /// Downstream (remote, renamed) topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// The group's committed offset on the source cluster.
    pub upstream_offset: i64,
    /// The translated offset on the target cluster.
    pub downstream_offset: i64,
    /// Commit metadata from the source group (`""` when none).
    pub metadata: String,
}

impl Checkpoint {
    /// Value schema version this implementation writes.
    pub const VERSION: i16 = 0;

    /// Encodes the key: `group` STRING, `topic` STRING, `partition` INT32.
    pub fn record_key(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = StructWriter::with_capacity(2 + self.group.len() + 2 + self.topic.len() + 4);
        w.string("group", &self.group)?
            .string("topic", &self.topic)?
            .int32(self.partition);
        Ok(w.into_bytes())
    }

    /// Encodes the value: `version` INT16 (0), `upstreamOffset` INT64, `offset` INT64, `metadata` STRING.
    pub fn record_value(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = StructWriter::with_capacity(2 + 16 + 2 + self.metadata.len());
        w.int16(Self::VERSION)
            .int64(self.upstream_offset)
            .int64(self.downstream_offset)
            .string("metadata", &self.metadata)?;
        Ok(w.into_bytes())
    }

    /// Decodes a record; any value version is accepted and parsed as V0, trailing bytes ignored.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, FormatError> {
        let mut k = StructReader::new(key);
        let group = k.string("group")?;
        let topic = k.string("topic")?;
        let partition = k.int32("partition")?;
        let mut v = StructReader::new(value);
        // Java reads the version but (assertions disabled) always parses the V0 layout.
        let _version = v.int16("version")?;
        let upstream_offset = v.int64("upstreamOffset")?;
        let downstream_offset = v.int64("offset")?;
        let metadata = v.string("metadata")?;
        Ok(Self {
            group,
            topic,
            partition,
            upstream_offset,
            downstream_offset,
            metadata,
        })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Checkpoint{{consumerGroupId={}, topicPartition={}-{}, upstreamOffset={}, \
             downstreamOffset={}, metadata={}}}",
            self.group,
            self.topic,
            self.partition,
            self.upstream_offset,
            self.downstream_offset,
            self.metadata
        )
    }
}
