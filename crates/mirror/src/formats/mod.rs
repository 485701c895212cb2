//! MM2's internal topic record formats, byte-compatible with Java MirrorMaker 2.
//!
//! * [`OffsetSync`]: `mm2-offset-syncs.<alias>.internal` records.
//! * [`Checkpoint`]: `<source>.checkpoints.internal` records.
//! * [`Heartbeat`]: `heartbeats` records.
//! * [`ConnectOffsetKey`] and friends: the Connect offsets topic (`mm2-offsets.<source>.internal`).
//! * [`murmur2`] / [`partition_for_key`]: Kafka's default key partitioner.
//!
//! The binary records use Kafka's protocol `Struct` encoding, see [`wire`].

mod checkpoint;
mod connect_offsets;
mod error;
mod heartbeat;
mod json_escape;
mod offset_sync;
mod partitioner;
pub mod wire;

pub use checkpoint::Checkpoint;
pub use connect_offsets::{
    encode_offset_value, parse_offset_value, ConnectOffsetKey, CHECKPOINT_CONNECTOR,
    HEARTBEAT_CONNECTOR, LEADER_EPOCH_HEADER, SOURCE_CONNECTOR, TARGET_OFFSET_HEADER,
    TOPIC_ID_HEADER,
};
pub use error::FormatError;
pub use heartbeat::Heartbeat;
pub use offset_sync::{ClaimedSync, OffsetSync, EXACT_SINCE_HEADER};
pub use partitioner::{murmur2, partition_for_key};
