//! strait's replication engine: the Rust drop-in replacement for Kafka MirrorMaker 2's
//! source, checkpoint and heartbeat flows. This crate currently provides MM2's internal topic
//! record formats ([`formats`]) byte-for-byte compatible with Java MM2 (offset syncs,
//! checkpoints, heartbeats and the Connect offsets topic); configuration, replication policies
//! and the replication flows themselves come next.

pub mod formats;
