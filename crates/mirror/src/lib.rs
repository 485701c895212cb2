//! strait's replication engine: the Rust drop-in replacement for Kafka MirrorMaker 2's
//! source and heartbeat flows in dedicated mode.
//!
//! Data flow: [`config`] (mm2.properties → flows) → [`policy`] and [`filter`] (which topics,
//! under which remote names) → [`engine`] (discovery, per-partition pipelines that forward raw
//! batches) → [`internal`] (progress, offset syncs and heartbeats in MM2's [`formats`]) →
//! [`checkpoint`] (consumer group offsets translated for failover).

pub mod checkpoint;
pub mod clients;
mod clock;
pub mod config;
pub mod engine;
pub mod filter;
pub mod formats;
pub mod group;
pub mod internal;
pub mod metrics;
pub mod mirror_view;
pub mod policy;
mod shutdown;
mod sync;

pub use sync::schemas;
