//! Connect offsets topic entries (`mm2-offsets.<source>.internal`) for MM2's three connectors.
//!
//! Keys are Connect's `["<connector>",{<source partition>}]` JSON as written by Java's
//! `JsonConverter` (schemaless, compact). Connect looks offsets up by the serialized key bytes, so
//! [`ConnectOffsetKey::encode`] reproduces Java's bytes exactly: compact JSON, Jackson string
//! escaping, and the `HashMap` iteration order of each partition map. Parsing is semantic
//! (field order and whitespace do not matter).

use serde_json::{Map, Value};

use super::json_escape::push_json_string;
use super::{partition_for_key, FormatError};

/// Connector name MM2's source connector runs under.
pub const SOURCE_CONNECTOR: &str = "MirrorSourceConnector";
/// Connector name MM2's checkpoint connector runs under.
pub const CHECKPOINT_CONNECTOR: &str = "MirrorCheckpointConnector";
/// Connector name MM2's heartbeat connector runs under.
pub const HEARTBEAT_CONNECTOR: &str = "MirrorHeartbeatConnector";

/// Header of strait's progress records: the target offset where the record after the stored
/// position goes (decimal). Java's Connect reads only key and value, so it never sees it.
pub const TARGET_OFFSET_HEADER: &str = "strait.target-offset";

/// Header of strait's progress records: the id of the source topic the stored offset counts in
/// (hyphenated UUID), so a topic deleted and re-created under the same name is recognised.
pub const TOPIC_ID_HEADER: &str = "strait.topic-id";

/// Header of strait's progress records: the source partition's leader epoch of the stored
/// offset's batch (decimal), so a restart can ask the source whether its log still leads there
/// (KIP-320; an unclean leader election replaces it).
pub const LEADER_EPOCH_HEADER: &str = "strait.leader-epoch";

/// A Connect offsets topic key: connector name plus its source-partition map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectOffsetKey {
    /// `MirrorSourceConnector` position of one source topic-partition.
    Source {
        /// Source cluster alias.
        cluster: String,
        /// Source (upstream) topic name.
        topic: String,
        /// Partition number.
        partition: i32,
    },
    /// `MirrorCheckpointConnector` entry of one group and downstream topic-partition.
    Checkpoint {
        /// Consumer group id.
        group: String,
        /// Downstream (remote) topic name.
        topic: String,
        /// Partition number.
        partition: i32,
    },
    /// `MirrorHeartbeatConnector` entry of one flow.
    Heartbeat {
        /// Source cluster alias.
        source_cluster_alias: String,
        /// Target cluster alias.
        target_cluster_alias: String,
    },
}

impl ConnectOffsetKey {
    /// The connector name this key belongs to.
    pub fn connector_name(&self) -> &'static str {
        match self {
            Self::Source { .. } => SOURCE_CONNECTOR,
            Self::Checkpoint { .. } => CHECKPOINT_CONNECTOR,
            Self::Heartbeat { .. } => HEARTBEAT_CONNECTOR,
        }
    }

    /// Serializes the key exactly as Java Connect does (compact JSON, `HashMap` field order).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(96);
        s.push('[');
        push_json_string(&mut s, self.connector_name());
        s.push_str(",{");
        match self {
            Self::Source {
                cluster,
                topic,
                partition,
            } => {
                s.push_str("\"cluster\":");
                push_json_string(&mut s, cluster);
                s.push_str(&format!(",\"partition\":{partition},\"topic\":"));
                push_json_string(&mut s, topic);
            }
            Self::Checkpoint {
                group,
                topic,
                partition,
            } => {
                s.push_str(&format!("\"partition\":{partition},\"topic\":"));
                push_json_string(&mut s, topic);
                s.push_str(",\"group\":");
                push_json_string(&mut s, group);
            }
            Self::Heartbeat {
                source_cluster_alias,
                target_cluster_alias,
            } => {
                s.push_str("\"sourceClusterAlias\":");
                push_json_string(&mut s, source_cluster_alias);
                s.push_str(",\"targetClusterAlias\":");
                push_json_string(&mut s, target_cluster_alias);
            }
        }
        s.push_str("}]");
        s.into_bytes()
    }

    /// The offsets-topic partition Java's producer would write this key to.
    ///
    /// # Panics
    ///
    /// Panics if `num_partitions` is not positive.
    pub fn partition_in(&self, num_partitions: i32) -> i32 {
        partition_for_key(&self.encode(), num_partitions)
    }

    /// Parses a key semantically: any field order or whitespace, no missing or extra fields.
    pub fn parse(key: &[u8]) -> Result<Self, FormatError> {
        let json: Value = serde_json::from_slice(key).map_err(|source| FormatError::Json {
            part: "key",
            source,
        })?;
        let Value::Array(items) = json else {
            return Err(key_error("expected a JSON array"));
        };
        let [name, partition] = items.as_slice() else {
            return Err(key_error(format!(
                "expected 2 array elements, found {}",
                items.len()
            )));
        };
        let Value::String(name) = name else {
            return Err(key_error("connector name is not a string"));
        };
        let Value::Object(map) = partition else {
            return Err(key_error("source partition is not a JSON object"));
        };
        let (key, fields) = match name.as_str() {
            SOURCE_CONNECTOR => (
                Self::Source {
                    cluster: str_field(map, "cluster")?,
                    topic: str_field(map, "topic")?,
                    partition: i32_field(map, "partition")?,
                },
                3,
            ),
            CHECKPOINT_CONNECTOR => (
                Self::Checkpoint {
                    group: str_field(map, "group")?,
                    topic: str_field(map, "topic")?,
                    partition: i32_field(map, "partition")?,
                },
                3,
            ),
            HEARTBEAT_CONNECTOR => (
                Self::Heartbeat {
                    source_cluster_alias: str_field(map, "sourceClusterAlias")?,
                    target_cluster_alias: str_field(map, "targetClusterAlias")?,
                },
                2,
            ),
            other => return Err(FormatError::UnknownConnector(other.to_owned())),
        };
        if map.len() != fields {
            return Err(key_error(format!(
                "{name} source partition has {} fields, expected {fields}",
                map.len()
            )));
        }
        Ok(key)
    }
}

/// Serializes a Connect offsets value `{"offset":<offset>}` exactly as Java does.
pub fn encode_offset_value(offset: i64) -> Vec<u8> {
    format!("{{\"offset\":{offset}}}").into_bytes()
}

/// Parses a Connect offsets value; `None` means no stored position.
///
/// A tombstone (`value == None`, an offset reset), JSON `null`, or a missing/`null` `offset`
/// field all yield `None`, as Java's `MirrorUtils.unwrapOffset` treats them alike.
pub fn parse_offset_value(value: Option<&[u8]>) -> Result<Option<i64>, FormatError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let json: Value = serde_json::from_slice(value).map_err(|source| FormatError::Json {
        part: "value",
        source,
    })?;
    match json {
        Value::Null => Ok(None),
        Value::Object(map) => match map.get("offset") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| FormatError::UnexpectedJson {
                    part: "value",
                    reason: format!("\"offset\" is not a 64-bit integer: {v}"),
                }),
        },
        other => Err(FormatError::UnexpectedJson {
            part: "value",
            reason: format!("expected a JSON object, found {other}"),
        }),
    }
}

fn key_error(reason: impl Into<String>) -> FormatError {
    FormatError::UnexpectedJson {
        part: "key",
        reason: reason.into(),
    }
}

fn str_field(map: &Map<String, Value>, name: &str) -> Result<String, FormatError> {
    match map.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(key_error(format!(
            "field \"{name}\" is not a string: {other}"
        ))),
        None => Err(key_error(format!("missing field \"{name}\""))),
    }
}

fn i32_field(map: &Map<String, Value>, name: &str) -> Result<i32, FormatError> {
    let value = map
        .get(name)
        .ok_or_else(|| key_error(format!("missing field \"{name}\"")))?;
    value
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| key_error(format!("field \"{name}\" is not a 32-bit integer: {value}")))
}
