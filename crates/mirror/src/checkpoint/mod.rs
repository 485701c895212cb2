//! Offset translation and checkpoints (MM2's `MirrorCheckpointConnector`): consumers can move
//! to the other cluster and resume in the right place.
//!
//! Data flow: [`SyncsTail`] reads the offset syncs the source flow writes → [`OffsetSyncStore`]
//! translates a group's committed source offset into a [`Translation`] → the per-flow loop in
//! `task` keeps the newest checkpoint per key in a [`CheckpointStore`] (reloaded at start) and
//! writes it with the [`CheckpointWriter`] → [`group_sync`] commits checkpoints into idle
//! target groups.

pub mod group_sync;
mod store;
mod sync_store;
mod syncs_tail;
mod task;
mod writer;

pub use store::{checkpoint_if_newer, CheckpointStore};
pub use sync_store::{
    OffsetSyncStore, Translation, RECENT_SYNCS_PER_PARTITION, SYNCS_PER_PARTITION,
};
pub use syncs_tail::SyncsTail;
pub use task::{
    checkpoints_topic, downstream_topic, offset_syncs_topic, reverse_offset_syncs_topic,
};
pub(crate) use task::{run_checkpoints, OnCheckpoint};
pub use writer::CheckpointWriter;
