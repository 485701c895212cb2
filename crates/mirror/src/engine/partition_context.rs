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
use super::fetch_window::FetchWindow;
use super::fetcher::{AskBytes, FetchDemand, FetchFailure, Fetched, Nothing};
use super::forward::Provenance;
use super::producers::SharedProducers;
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
    /// Every partition's fetch size to start with (it grows while answers come back full).
    pub(crate) fetch_window: FetchWindow,
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
    /// The idempotent producer the flow's partitions write with (not in exactly-once mode).
    pub(crate) producers: Arc<SharedProducers>,
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

/// A fetch asked for and not answered yet.
pub(crate) struct Asked {
    position: i64,
    last_epoch: Option<i32>,
    bytes: AskBytes,
    answer: oneshot::Receiver<Result<Fetched, FetchFailure>>,
}

impl Asked {
    /// Whether it asks for `position`, after a record of `last_epoch`.
    pub(crate) fn is_for(&self, position: i64, last_epoch: Option<i32>) -> bool {
        self.position == position && self.last_epoch == last_epoch
    }

    /// How many bytes it asked for.
    pub(crate) fn bytes(&self) -> AskBytes {
        self.bytes
    }

    /// Waits for the answer; `None` when the flow is stopping. The answer holds its bytes in
    /// the flow's budget until it is dropped.
    pub(crate) async fn answer(
        self,
        ctx: &PartitionContext,
    ) -> Option<Result<Fetched, FetchFailure>> {
        unless_stopped(self.answer, &ctx.shutdown).await?.ok()
    }
}

/// Asks the fetcher for data at `position` (at most `bytes`, though a broker returns at
/// least one whole batch), with the source leader epoch of the record before it when known (the
/// leader answers a diverging epoch if its log no longer leads there); `None` when the flow is
/// stopping.
pub(crate) async fn request(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    bytes: AskBytes,
    last_epoch: Option<i32>,
    told: Option<Nothing>,
) -> Option<Asked> {
    let (reply, answer) = oneshot::channel();
    let demand = FetchDemand {
        topic: route.topic.clone(),
        partition: route.partition,
        offset: position,
        bytes,
        last_epoch,
        told,
        reply,
    };
    ctx.fetcher.send(demand).await.ok()?;
    Some(Asked {
        position,
        last_epoch,
        bytes,
        answer,
    })
}

/// [`request`], then its answer.
pub(crate) async fn ask(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    bytes: AskBytes,
    last_epoch: Option<i32>,
) -> Option<Result<Fetched, FetchFailure>> {
    request(ctx, route, position, bytes, last_epoch, None)
        .await?
        .answer(ctx)
        .await
}

/// Where the partition's next fetch starts once `fetched`'s whole batches are planned, and the
/// leader epoch of the record before it: what a fetch asked ahead asks for. `None` when the
/// answer holds no whole batch past `position`.
pub(crate) fn read_ahead(fetched: &PartitionFetch, position: i64) -> Option<(i64, Option<i32>)> {
    if fetched.error.is_some() || fetched.diverging.is_some() {
        return None;
    }
    let last = fetched.batches().map_while(Result::ok).last()?;
    let epoch = last.partition_leader_epoch();
    (last.next_offset() > position).then_some((last.next_offset(), (epoch >= 0).then_some(epoch)))
}

/// Whether the source holds records at or after `position` by `fetched`'s high watermark (and
/// last stable offset, when known): an answer there without a whole batch was cut short (a
/// broker fills a request in order, so its bytes can run out before a partition), not the end
/// of the log.
pub(crate) fn holds_more(fetched: &PartitionFetch, position: i64) -> bool {
    let readable_end = match fetched.last_stable_offset {
        lso if lso >= 0 => lso.min(fetched.high_watermark),
        _ => fetched.high_watermark,
    };
    readable_end > position
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes, BytesMut};
    use strait_kafka::batch::{BatchBuilder, Record};

    fn batch(base: i64, count: i64, epoch: i32) -> Bytes {
        let records = (base..base + count)
            .map(|offset| Record {
                offset,
                timestamp: 1_700_000_000_000,
                key: None,
                value: Some(Bytes::from_static(b"v")),
                headers: vec![],
            })
            .collect();
        let builder = BatchBuilder {
            base_offset: base,
            partition_leader_epoch: epoch,
            records,
            ..BatchBuilder::default()
        };
        builder.encode().unwrap().bytes().clone()
    }

    fn fetch(at: i64, parts: &[Bytes]) -> PartitionFetch {
        let mut buf = BytesMut::new();
        for part in parts {
            buf.put_slice(part);
        }
        PartitionFetch {
            topic: "t".into(),
            partition: 0,
            fetch_offset: at,
            error: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: 0,
            aborted: vec![],
            diverging: None,
            records: buf.freeze(),
        }
    }

    #[test]
    fn the_next_fetch_starts_after_the_last_whole_batch() {
        let (a, b, c) = (batch(10, 5, 3), batch(15, 5, 4), batch(20, 5, 4));
        assert_eq!(
            read_ahead(&fetch(10, &[a.clone(), b.clone()]), 10),
            Some((20, Some(4)))
        );
        // A broker may end an answer with a batch cut short: it is fetched again.
        let cut = c.slice(..c.len() - 3);
        assert_eq!(
            read_ahead(&fetch(10, &[a.clone(), b.clone(), cut]), 10),
            Some((20, Some(4)))
        );
        // Asked mid-batch: the batch still ends where it ends.
        assert_eq!(
            read_ahead(&fetch(12, std::slice::from_ref(&a)), 12),
            Some((15, Some(3)))
        );
        assert_eq!(read_ahead(&fetch(10, &[]), 10), None, "nothing new");
        assert_eq!(
            read_ahead(&fetch(10, &[batch(10, 5, -1)]), 10),
            Some((15, None))
        );
        let mut failed = fetch(10, &[a]);
        failed.error = Some(strait_kafka::ResponseError::NotLeaderOrFollower);
        assert_eq!(
            read_ahead(&failed, 10),
            None,
            "an error answer is asked again"
        );
    }

    #[test]
    fn the_source_holds_more_below_its_readable_end() {
        let answer = |high_watermark, last_stable_offset| PartitionFetch {
            high_watermark,
            last_stable_offset,
            ..fetch(10, &[])
        };
        assert!(holds_more(&answer(11, 11), 10), "offset 10 is there");
        assert!(holds_more(&answer(11, -1), 10), "no stable offset reported");
        assert!(!holds_more(&answer(10, 10), 10), "the log ends at 10");
        assert!(
            !holds_more(&answer(11, 10), 10),
            "read committed: a transaction open at 10"
        );
    }
}
