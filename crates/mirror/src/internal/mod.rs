//! MM2 internal topics on the wire: progress (Connect offsets), offset syncs, heartbeats.
//!
//! * [`ensure_compacted_topic`]: creates an internal topic like MM2's
//!   `MirrorUtils.createCompactedTopic` (`cleanup.policy=compact`, nothing else).
//! * [`read_topic`]: reads a whole (small) internal topic, every partition, in offset order.
//! * [`ProgressStore`]: where replication resumes, in MM2's Connect offsets topic
//!   (`mm2-offsets.<source>.internal` on the target), byte-compatible with Java MM2.
//! * [`OffsetSyncWriter`]: offset-sync records (`mm2-offset-syncs.<alias>.internal`).
//! * [`HeartbeatEmitter`]: heartbeat records (`heartbeats` on the target).
//! * [`WriterRegistry`]: mirror writers' producer ids (`strait-writers.internal`, strait's own).
//!
//! Every writer owns an idempotent producer (acks=all), writes uncompressed batches and never
//! writes a tombstone or a null key to the offset-syncs or heartbeats topics (Java readers crash
//! on them).

mod error;
mod heartbeats;
mod offset_syncs;
mod producer;
mod progress;
mod read;
mod topics;
mod writers;

pub use error::InternalTopicError;
pub use heartbeats::HeartbeatEmitter;
pub use offset_syncs::{exact_since, read_offset_syncs, OffsetSyncWriter, MAX_SYNCS_PER_BATCH};
pub(crate) use producer::{build_batch, SharedProducer};
pub use progress::{Position, ProgressStore};
pub use read::read_topic;
pub use topics::ensure_compacted_topic;
pub use writers::{ensure_writers_topic, read_writers, WriterRegistry, WRITERS_TOPIC};

use strait_kafka::batch::Header;

/// The text of a record's header `key`, if it has one and it is UTF-8 (what strait adds beside
/// MM2's keys and values: Java reads neither).
pub(crate) fn header_text<'a>(headers: &'a [Header], key: &str) -> Option<&'a str> {
    let header = headers.iter().find(|h| h.key.as_ref() == key.as_bytes())?;
    std::str::from_utf8(header.value.as_deref()?).ok()
}
