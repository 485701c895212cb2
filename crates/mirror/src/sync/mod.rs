//! Reconcilers that keep a flow's target in step with its source beside the data path: remote
//! topics created and grown (`topics`), topic configs (`configs`), ACLs (`acls`) and the
//! Schema Registry (`schemas`). They read
//! the flow's config and talk to both clusters, never touch records, and import nothing from
//! `engine` (which runs them): each pass reports what it did.

mod acls;
mod config_rules;
mod configs;
pub mod schemas;
mod topics;

use std::ops::AddAssign;

pub(crate) use acls::AclSync;
pub(crate) use configs::sync_topic_configs;
pub(crate) use topics::{ensure_remote, max_message_bytes};

/// What one sync pass did: changes applied on the target, and failures (each retried at the
/// next pass).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PassReport {
    /// Config changes or ACL bindings the target took.
    pub(crate) applied: usize,
    /// Steps that failed.
    pub(crate) failures: u64,
}

impl PassReport {
    /// A pass that failed once and applied nothing.
    pub(crate) fn failed() -> Self {
        Self {
            applied: 0,
            failures: 1,
        }
    }
}

impl AddAssign for PassReport {
    fn add_assign(&mut self, other: Self) {
        self.applied += other.applied;
        self.failures += other.failures;
    }
}
