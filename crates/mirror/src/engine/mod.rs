//! The replication engine: one task per flow, inside it a discovery loop, a fetcher and one
//! pipeline per source partition.

mod acl_sync;
mod config_sync;
mod discovery;
mod error;
mod fetcher;
mod flow;
pub mod forward;
mod pipeline;
mod stats;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub use error::EngineError;
pub use stats::{FlowStats, StatsSnapshot};

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
    stats: Vec<(String, Arc<FlowStats>)>,
}

impl Mirror {
    /// Starts every flow of `config` (that targets one of `options.clusters`, if given).
    pub fn start(config: MirrorConfig, options: EngineOptions) -> Mirror {
        let (shutdown, watcher) = watch::channel(false);
        let mut flows = JoinSet::new();
        let mut stats = Vec::new();
        for flow in config.flows {
            if options
                .clusters
                .as_ref()
                .is_some_and(|c| !c.contains(&flow.target))
            {
                continue;
            }
            let flow_stats = Arc::new(FlowStats::default());
            stats.push((
                format!("{}->{}", flow.source, flow.target),
                flow_stats.clone(),
            ));
            flows.spawn(flow::run_flow(
                flow,
                flow_stats,
                options.force_reencode,
                watcher.clone(),
            ));
        }
        Mirror {
            shutdown,
            flows,
            stats,
        }
    }

    /// Counters per flow (`source->target`).
    pub fn stats(&self) -> Vec<(String, StatsSnapshot)> {
        self.stats
            .iter()
            .map(|(label, s)| (label.clone(), s.snapshot()))
            .collect()
    }

    /// Remote topics per flow whose source topic was deleted (left in place, like MM2).
    pub fn orphaned_topics(&self) -> Vec<(String, Vec<String>)> {
        self.stats
            .iter()
            .map(|(label, s)| (label.clone(), s.orphaned_topics()))
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
