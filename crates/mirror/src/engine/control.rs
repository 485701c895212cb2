//! Operator controls of a running flow: pause and resume the whole flow or single topics, and
//! ask for a topic refresh now.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{watch, Notify};

/// What is paused in a flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PauseState {
    /// The whole flow is paused.
    pub flow: bool,
    /// Source topics paused individually.
    pub topics: BTreeSet<String>,
}

impl PauseState {
    /// Why `topic` is paused, if it is.
    pub fn reason(&self, topic: &str) -> Option<String> {
        if self.flow {
            Some("flow paused by operator".to_owned())
        } else if self.topics.contains(topic) {
            Some("topic paused by operator".to_owned())
        } else {
            None
        }
    }
}

/// Handles to steer one flow; cheap to clone.
#[derive(Debug, Clone)]
pub struct FlowControl {
    label: Arc<str>,
    pause: Arc<watch::Sender<PauseState>>,
    refresh: Arc<Notify>,
}

impl FlowControl {
    pub(crate) fn new(label: &str) -> FlowControl {
        FlowControl {
            label: label.into(),
            pause: Arc::new(watch::channel(PauseState::default()).0),
            refresh: Arc::new(Notify::new()),
        }
    }

    /// Pauses the flow (`topic` = None) or one source topic: in-flight batches are still
    /// acknowledged, then nothing more is produced until resumed. Returns whether it changed.
    pub fn pause(&self, topic: Option<&str>) -> bool {
        let changed = self.pause.send_if_modified(|s| match topic {
            None => !std::mem::replace(&mut s.flow, true),
            Some(t) => s.topics.insert(t.to_owned()),
        });
        if changed {
            tracing::info!(flow = %self.label, "{} paused by operator", what(topic));
        }
        changed
    }

    /// Resumes the flow (`topic` = None) or one topic. Returns whether it changed.
    pub fn resume(&self, topic: Option<&str>) -> bool {
        let changed = self.pause.send_if_modified(|s| match topic {
            None => std::mem::replace(&mut s.flow, false),
            Some(t) => s.topics.remove(t),
        });
        if changed {
            tracing::info!(flow = %self.label, "{} resumed by operator", what(topic));
        }
        changed
    }

    /// What is paused now.
    pub fn paused(&self) -> PauseState {
        self.pause.borrow().clone()
    }

    /// Asks the flow to look for new topics and partitions now.
    pub fn refresh(&self) {
        tracing::info!(flow = %self.label, "topic refresh requested by operator");
        self.refresh.notify_one();
    }

    pub(crate) fn watch_pause(&self) -> watch::Receiver<PauseState> {
        self.pause.subscribe()
    }

    /// Resolves when a refresh was requested.
    pub(crate) async fn refresh_requested(&self) {
        self.refresh.notified().await;
    }
}

fn what(topic: Option<&str>) -> String {
    match topic {
        None => "flow".to_owned(),
        Some(t) => format!("topic {t}"),
    }
}
