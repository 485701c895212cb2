//! Heartbeat records (`heartbeats`), Java `Heartbeat`.

use std::fmt;

use super::wire::{StructReader, StructWriter};
use super::FormatError;

/// A liveness beacon for one source→target replication flow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// Alias of the flow's source cluster.
    pub source_cluster_alias: String,
    /// Alias of the flow's target cluster.
    pub target_cluster_alias: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

impl Heartbeat {
    /// Value schema version this implementation writes.
    pub const VERSION: i16 = 0;

    /// Encodes the key: `sourceClusterAlias` STRING, `targetClusterAlias` STRING.
    pub fn record_key(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = StructWriter::with_capacity(
            4 + self.source_cluster_alias.len() + self.target_cluster_alias.len(),
        );
        w.string("sourceClusterAlias", &self.source_cluster_alias)?
            .string("targetClusterAlias", &self.target_cluster_alias)?;
        Ok(w.into_bytes())
    }

    /// Encodes the value: `version` INT16 (0), `timestamp` INT64.
    pub fn record_value(&self) -> Vec<u8> {
        let mut w = StructWriter::with_capacity(10);
        w.int16(Self::VERSION).int64(self.timestamp);
        w.into_bytes()
    }

    /// Decodes a record; any value version is accepted and parsed as V0, trailing bytes ignored.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, FormatError> {
        let mut k = StructReader::new(key);
        let source_cluster_alias = k.string("sourceClusterAlias")?;
        let target_cluster_alias = k.string("targetClusterAlias")?;
        let mut v = StructReader::new(value);
        let _version = v.int16("version")?;
        let timestamp = v.int64("timestamp")?;
        Ok(Self {
            source_cluster_alias,
            target_cluster_alias,
            timestamp,
        })
    }
}

impl fmt::Display for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Heartbeat{{sourceClusterAlias={}, targetClusterAlias={}, timestamp={}}}",
            self.source_cluster_alias, self.target_cluster_alias, self.timestamp
        )
    }
}
