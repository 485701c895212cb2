//! What every partition pipeline of a flow shares: the clusters, the fetcher, the internal
//! topics' writers, counters and signals; and how a pipeline asks the fetcher for data.

use std::sync::Arc;
use std::time::Instant;

use strait_kafka::{Cluster, Lease, PartitionFetch};
use tokio::sync::{mpsc, oneshot};

use super::control::FlowControl;
use super::cycles::Cycles;
use super::discovery::PartitionRoute;
use super::error::EngineError;
use super::fetcher::{FetchDemand, FetchFailure, Fetched};
use super::forward::Provenance;
use super::stats::FlowStats;
use super::throttle::Throttle;
use crate::config::{ExactlyOnce, OffsetReset};
use crate::internal::{OffsetSyncWriter, ProgressStore};
use crate::shutdown::{unless_stopped, Shutdown};

/// What every partition pipeline of a flow works with (built by the flow; each pipeline's
/// copy has its own stop signal in `shutdown`).
#[derive(Clone)]
pub(crate) struct PartitionContext {
    pub(crate) label: String,
    pub(crate) source: Cluster,
    pub(crate) target: Cluster,
    pub(crate) fetcher: mpsc::Sender<FetchDemand>,
    pub(crate) progress: Arc<ProgressStore>,
    pub(crate) offset_syncs: Option<Arc<OffsetSyncWriter>>,
    pub(crate) stats: Arc<FlowStats>,
    pub(crate) auto_offset_reset: OffsetReset,
    pub(crate) force_reencode: bool,
    pub(crate) shutdown: Shutdown,
    pub(crate) control: FlowControl,
    /// In a group: the member's write lease, checked before every produce.
    pub(crate) lease: Option<Lease>,
    /// Exactly-once mode: each partition writes in transactions of its own.
    pub(crate) exactly_once: Option<ExactlyOnce>,
    /// The flow's bytes-per-second limits, shared by its partitions.
    pub(crate) throttle: Arc<Throttle>,
    /// `strait.cycle.detection = producer.id`: who wrote each source batch; the target's
    /// registry of this flow's producers.
    pub(crate) cycles: Option<Arc<Cycles>>,
}

impl PartitionContext {
    /// With cycle detection, makes the writers of `fetch`'s batches (fetched at `fetched_at`)
    /// known before it is planned; nothing to do without.
    pub(crate) async fn learn_writers(
        &self,
        fetch: &PartitionFetch,
        fetched_at: Instant,
    ) -> Result<(), EngineError> {
        match &self.cycles {
            Some(cycles) => cycles.learn(fetch, fetched_at).await,
            None => Ok(()),
        }
    }

    /// Who wrote a batch with `producer_id` (learnt by [`PartitionContext::learn_writers`]).
    pub(crate) fn provenance(&self, producer_id: i64) -> Provenance {
        self.cycles
            .as_ref()
            .map_or(Provenance::Application, |c| c.provenance(producer_id))
    }
}

/// Asks the fetcher for data at `position` (at most `max_bytes`, though a broker returns at
/// least one whole batch), with the source leader epoch of the record before it when known (the
/// leader answers a diverging epoch if its log no longer leads there); `None` when the flow is
/// stopping. The answer holds its bytes in the flow's budget until it is dropped.
pub(crate) async fn ask(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    max_bytes: Option<i32>,
    last_epoch: Option<i32>,
) -> Option<Result<Fetched, FetchFailure>> {
    let (reply, answer) = oneshot::channel();
    let demand = FetchDemand {
        topic: route.topic.clone(),
        partition: route.partition,
        offset: position,
        max_bytes,
        last_epoch,
        reply,
    };
    ctx.fetcher.send(demand).await.ok()?;
    unless_stopped(answer, &ctx.shutdown).await?.ok()
}
