//! The replication engine: one task per flow, inside it a discovery loop, a fetcher and one
//! pipeline per source partition.

mod buffer;
mod control;
mod cycles;
mod discovery;
mod error;
mod fetch_window;
mod fetcher;
mod flow;
pub mod forward;
mod ledger;
mod partition_context;
mod partition_stats;
mod pipeline;
mod pipelines;
mod producers;
mod replicate;
mod resume;
mod singletons;
mod source_gaps;
mod start;
mod stats;
mod status;
mod throttle;
mod transaction;
mod window;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub use control::{FlowControl, PauseState};
pub use error::EngineError;
pub use fetcher::FetchFailure;
pub use partition_stats::{ErrorNote, PartitionSnapshot, PartitionStats};
pub use stats::{CheckpointKey, FlowState, FlowStats, StatsSnapshot};
pub use status::{ErrorCount, FlowHandle, FlowStatus, PartitionError};
pub use window::Aggregate;

use crate::config::MirrorConfig;

/// How the engine runs, beyond mm2.properties.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Re-encode every batch instead of forwarding it (to measure the slow path).
    pub force_reencode: bool,
    /// Serve only flows whose target is one of these aliases (MM2's `--clusters`).
    pub clusters: Option<Vec<String>>,
}

/// A running mirror.
pub struct Mirror {
    shutdown: watch::Sender<bool>,
    flows: JoinSet<Result<(), EngineError>>,
    handles: Vec<FlowHandle>,
}

impl Mirror {
    /// Starts every flow of `config` (that targets one of `options.clusters`, if given).
    pub fn start(config: MirrorConfig, options: EngineOptions) -> Mirror {
        let (shutdown, watcher) = watch::channel(false);
        let mut flows = JoinSet::new();
        let mut handles = Vec::new();
        for flow in config.flows {
            if options
                .clusters
                .as_ref()
                .is_some_and(|c| !c.contains(&flow.target))
            {
                continue;
            }
            let handle = FlowHandle {
                source: flow.source.clone(),
                target: flow.target.clone(),
                stats: Arc::new(FlowStats::default()),
                control: FlowControl::new(&format!("{}->{}", flow.source, flow.target)),
            };
            flows.spawn(flow::run_flow(
                flow,
                handle.stats.clone(),
                handle.control.clone(),
                options.force_reencode,
                watcher.clone(),
            ));
            handles.push(handle);
        }
        Mirror {
            shutdown,
            flows,
            handles,
        }
    }

    /// The running flows: status, per-partition lag, pause/resume/refresh.
    pub fn flows(&self) -> &[FlowHandle] {
        &self.handles
    }

    /// The flow `source->target`, if this mirror runs it.
    pub fn flow(&self, source: &str, target: &str) -> Option<&FlowHandle> {
        self.handles
            .iter()
            .find(|h| h.source == source && h.target == target)
    }

    /// Counters per flow (`source->target`).
    pub fn stats(&self) -> Vec<(String, StatsSnapshot)> {
        self.handles
            .iter()
            .map(|h| (h.label(), h.stats.snapshot()))
            .collect()
    }

    /// Remote topics per flow whose source topic was deleted (left in place, like MM2).
    pub fn orphaned_topics(&self) -> Vec<(String, Vec<String>)> {
        self.handles
            .iter()
            .map(|h| (h.label(), h.stats.orphaned_topics()))
            .filter(|(_, topics)| !topics.is_empty())
            .collect()
    }

    /// Waits until a flow fails for good (configuration it cannot run with).
    pub async fn failed(&mut self) -> EngineError {
        loop {
            match self.flows.join_next().await {
                Some(Ok(Err(e))) => return e,
                Some(_) => continue,
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Stops fetching, waits for in-flight batches, stores progress, and returns.
    pub async fn shutdown(mut self) -> Result<(), EngineError> {
        let _ = self.shutdown.send(true);
        let mut result = Ok(());
        while let Some(done) = self.flows.join_next().await {
            if let Ok(Err(e)) = done {
                result = Err(e);
            }
        }
        result
    }
}
