//! One source partition: ask the fetcher for data, forward or re-encode each batch, produce it
//! to the same partition of the remote topic with several batches in flight, and on each ack
//! record progress and an offset sync. Failures pause this partition only; it restarts from
//! its last acknowledged position.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use strait_kafka::{
    InFlightBatch, Isolation, OffsetSpec, PartitionFetch, ProduceAck, Producer, ResponseError,
};
use tokio::sync::{oneshot, watch};

use super::error::EngineError;
use super::fetcher::{is_stale, FetchDemand, FetchFailure};
use super::flow::{stopped, FlowShared};
use super::forward::{Forwarder, Step};
use super::partition_stats::{Acked, PartitionStats};
use crate::clock::now_ms;
use crate::config::OffsetReset;
use crate::formats::OffsetSync;

/// Batches written but not yet acknowledged, per partition: bounds memory while the target is
/// slow. Kafka remembers the last 5 batches per producer and partition to recognise a re-sent
/// batch as a duplicate, so more than 5 in flight could turn a retry into a sequence error.
const MAX_IN_FLIGHT: usize = 5;

/// A source partition and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct PartitionRoute {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) remote_topic: String,
    pub(crate) max_batch_bytes: usize,
}

type AckFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ProduceAck, strait_kafka::Error>> + Send + 'a>>;

enum Pending<'a> {
    Sent {
        ack: AckFuture<'a>,
        records: u64,
        bytes: u64,
        first_offset: i64,
        last_offset: i64,
        /// The sent batch's last offset delta: its last record lands at base + this.
        last_delta: i32,
        reencoded: bool,
        max_timestamp: i64,
    },
    Skipped {
        last_offset: i64,
    },
}

/// Replicates one partition until shutdown, restarting after failures with backoff. The
/// idempotent producer survives source-side failures; after a produce failure a new one is
/// taken, since the old one's sequence state on the target is unknown.
pub(crate) async fn run_partition(flow: Arc<FlowShared>, route: PartitionRoute) {
    let mut shutdown = flow.shutdown.clone();
    let mut backoff = Duration::from_millis(200);
    let mut producer = None;
    let state = flow.stats.partition_started(&route.topic, route.partition);
    loop {
        let result = match &producer {
            Some(p) => replicate(&flow, &route, &state, p, &mut shutdown).await,
            None => match Producer::idempotent(&flow.target).await {
                Ok(p) => {
                    producer = Some(p);
                    continue;
                }
                Err(e) => Err(produce_error(&route, None, e)),
            },
        };
        match result {
            Ok(()) => return,
            Err(e) => {
                if matches!(e, EngineError::Produce { .. }) {
                    producer = None;
                }
                if let Some((op, code)) = error_code(&e) {
                    flow.stats.error(op, code);
                }
                state.failed(e.to_string(), now_ms());
                state.set_paused(Some(format!("error, retrying in {backoff:?}")));
                tracing::warn!(
                    flow = %flow.label, topic = %route.topic, partition = route.partition,
                    "partition paused, retrying in {backoff:?}: {e}"
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut shutdown) => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                let _ = flow.source.refresh_metadata().await;
            }
        }
    }
}

async fn replicate(
    flow: &FlowShared,
    route: &PartitionRoute,
    state: &PartitionStats,
    producer: &Producer,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let mut position = start_position(flow, route).await?;
    state.positioned(position);
    tracing::debug!(flow = %flow.label, topic = %route.topic, partition = route.partition, position, "partition started");
    let mut forwarder = Forwarder::new(route.max_batch_bytes, flow.force_reencode);
    let mut in_flight: VecDeque<Pending<'_>> = VecDeque::new();
    let mut pause = flow.control.watch_pause();
    loop {
        if *shutdown.borrow() {
            return drain(flow, route, state, &mut in_flight).await;
        }
        let paused = pause.borrow_and_update().reason(&route.topic);
        if let Some(reason) = paused {
            drain(flow, route, state, &mut in_flight).await?;
            state.set_paused(Some(reason));
            // Keep the source's log end and the oldest waiting record known, so lag stays
            // true while paused; nothing is produced. One byte asked: the broker still sends
            // the first waiting batch (KIP-74), whose timestamp is the lag in seconds.
            if let Some(Ok(fetched)) = ask(flow, route, position, Some(1), shutdown).await {
                if fetched.error.is_none() {
                    state.fetched(&fetched, position, now_ms());
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(PAUSED_POLL) => {}
                _ = pause.changed() => {}
                _ = stopped(shutdown) => return Ok(()),
            }
            continue;
        }
        state.set_paused(None);
        let Some(fetched) = ask(flow, route, position, None, shutdown).await else {
            return drain(flow, route, state, &mut in_flight).await;
        };
        let fetched = match fetched {
            Ok(f) => f,
            Err(failure) => {
                flow.stats.error("fetch", failure.code.clone());
                if failure.refresh_metadata {
                    let _ = flow.source.refresh_metadata().await;
                }
                drain(flow, route, state, &mut in_flight).await?;
                return Err(EngineError::Fetch(failure.message));
            }
        };
        if fetched.error.is_none() {
            state.fetched(&fetched, position, now_ms());
        }
        match fetched.error {
            None => {}
            Some(ResponseError::OffsetOutOfRange) => {
                flow.stats
                    .error("fetch", format!("{:?}", ResponseError::OffsetOutOfRange));
                drain(flow, route, state, &mut in_flight).await?;
                let reset = reset_position(flow, route).await?;
                state.positioned(reset);
                tracing::warn!(
                    flow = %flow.label, topic = %route.topic, partition = route.partition,
                    "offset {position} is out of range on the source; continuing at {reset} (auto.offset.reset)"
                );
                position = reset;
                continue;
            }
            Some(code) => {
                flow.stats.error("fetch", format!("{code:?}"));
                if is_stale(code) {
                    let _ = flow.source.refresh_metadata().await;
                }
                drain(flow, route, state, &mut in_flight).await?;
                return Err(EngineError::Fetch(format!(
                    "cluster {}: fetch topic {} partition {} at offset {position}: {code}",
                    flow.source.name(),
                    route.topic,
                    route.partition
                )));
            }
        }
        let steps = forwarder
            .plan(&fetched, position)
            .map_err(|source| EngineError::Batch {
                cluster: flow.source.name().to_owned(),
                topic: route.topic.clone(),
                partition: route.partition,
                offset: position,
                source,
            })?;
        if steps.is_empty() {
            // Nothing new: settle what is in flight so progress is recorded while idle.
            drain(flow, route, state, &mut in_flight).await?;
            continue;
        }
        for step in steps {
            position = step.last_offset() + 1;
            while in_flight.len() >= MAX_IN_FLIGHT {
                settle_one(flow, route, state, &mut in_flight).await?;
            }
            match step {
                Step::Send {
                    batch,
                    first_offset,
                    last_offset,
                    reencoded,
                } => {
                    let sent: InFlightBatch<'_> = producer
                        .submit(&route.remote_topic, route.partition, &batch)
                        .await
                        .map_err(|e| produce_error(route, Some(first_offset), e))?;
                    in_flight.push_back(Pending::Sent {
                        records: batch.record_count() as u64,
                        bytes: batch.len() as u64,
                        max_timestamp: batch.max_timestamp(),
                        last_delta: batch.last_offset_delta(),
                        ack: Box::pin(sent.wait()),
                        first_offset,
                        last_offset,
                        reencoded: reencoded.is_some(),
                    });
                }
                Step::Skip { last_offset, .. } => {
                    flow.stats.dropped();
                    in_flight.push_back(Pending::Skipped { last_offset });
                }
            }
        }
        settle_ready(flow, route, state, &mut in_flight).await?;
    }
}

/// How often a paused partition looks at the source's log end.
const PAUSED_POLL: Duration = Duration::from_secs(1);

/// Asks the fetcher for data at `position` (at most `max_bytes`, though a broker returns at
/// least one whole batch); `None` when the flow is stopping.
async fn ask(
    flow: &FlowShared,
    route: &PartitionRoute,
    position: i64,
    max_bytes: Option<i32>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Result<PartitionFetch, FetchFailure>> {
    let (reply, answer) = oneshot::channel();
    let demand = FetchDemand {
        topic: route.topic.clone(),
        partition: route.partition,
        offset: position,
        max_bytes,
        reply,
    };
    flow.fetcher.send(demand).await.ok()?;
    tokio::select! {
        answer = answer => answer.ok(),
        _ = stopped(shutdown) => None,
    }
}

async fn drain(
    flow: &FlowShared,
    route: &PartitionRoute,
    state: &PartitionStats,
    in_flight: &mut VecDeque<Pending<'_>>,
) -> Result<(), EngineError> {
    while !in_flight.is_empty() {
        settle_one(flow, route, state, in_flight).await?;
    }
    Ok(())
}

async fn settle_one(
    flow: &FlowShared,
    route: &PartitionRoute,
    state: &PartitionStats,
    in_flight: &mut VecDeque<Pending<'_>>,
) -> Result<(), EngineError> {
    match in_flight.pop_front() {
        Some(Pending::Sent {
            ack,
            records,
            bytes,
            first_offset,
            last_offset,
            last_delta,
            reencoded,
            max_timestamp,
        }) => {
            let acked = ack
                .await
                .map_err(|e| produce_error(route, Some(first_offset), e))?;
            let done = Acked {
                records,
                bytes,
                reencoded,
                max_timestamp,
            };
            acknowledged(
                flow,
                route,
                state,
                acked,
                done,
                (first_offset, last_offset, last_delta),
            );
        }
        Some(Pending::Skipped { last_offset }) => {
            flow.progress
                .record(&route.topic, route.partition, last_offset);
            state.acknowledged(last_offset, None, now_ms());
        }
        None => {}
    }
    Ok(())
}

/// Settles the acknowledgements that have already arrived, in order, without waiting.
async fn settle_ready(
    flow: &FlowShared,
    route: &PartitionRoute,
    state: &PartitionStats,
    in_flight: &mut VecDeque<Pending<'_>>,
) -> Result<(), EngineError> {
    loop {
        match in_flight.front_mut() {
            Some(Pending::Skipped { .. }) => settle_one(flow, route, state, in_flight).await?,
            Some(Pending::Sent { ack, .. }) => {
                let polled = std::future::poll_fn(|cx| Poll::Ready(ack.as_mut().poll(cx))).await;
                let Poll::Ready(result) = polled else {
                    return Ok(());
                };
                let Some(Pending::Sent {
                    records,
                    bytes,
                    first_offset,
                    last_offset,
                    last_delta,
                    reencoded,
                    max_timestamp,
                    ..
                }) = in_flight.pop_front()
                else {
                    unreachable!("the front entry was just matched as sent")
                };
                let acked = result.map_err(|e| produce_error(route, Some(first_offset), e))?;
                let done = Acked {
                    records,
                    bytes,
                    reencoded,
                    max_timestamp,
                };
                acknowledged(
                    flow,
                    route,
                    state,
                    acked,
                    done,
                    (first_offset, last_offset, last_delta),
                );
            }
            None => return Ok(()),
        }
    }
}

fn acknowledged(
    flow: &FlowShared,
    route: &PartitionRoute,
    state: &PartitionStats,
    acked: ProduceAck,
    done: Acked,
    (first_offset, last_offset, last_delta): (i64, i64, i32),
) {
    flow.progress
        .record(&route.topic, route.partition, last_offset);
    if let Some(syncs) = &flow.offset_syncs {
        // Both ends of the batch: a group committed at its start or right after its end
        // (the usual place of a caught-up consumer) translates exactly.
        let sync = |upstream_offset, downstream_offset| OffsetSync {
            topic: route.topic.clone(),
            partition: route.partition,
            upstream_offset,
            downstream_offset,
        };
        syncs.queue(sync(first_offset, acked.base_offset));
        if last_offset > first_offset {
            syncs.queue(sync(last_offset, acked.base_offset + i64::from(last_delta)));
        }
    }
    flow.stats.acked(done.records, done.bytes, done.reencoded);
    state.acknowledged(last_offset, Some(done), now_ms());
}

/// The operation and Kafka error code (or kind of failure) of a pipeline error, for the error
/// counters; fetch errors are counted where they happen.
fn error_code(e: &EngineError) -> Option<(&'static str, String)> {
    match e {
        EngineError::Produce { source, .. } => Some(("produce", kafka_error_kind(source))),
        EngineError::Kafka(source) => Some(("source", kafka_error_kind(source))),
        EngineError::Batch { .. } => Some(("fetch", "CorruptBatch".to_owned())),
        _ => None,
    }
}

/// A Kafka error code name (`NotLeaderOrFollower`) or the kind of client failure.
pub(crate) fn kafka_error_kind(e: &strait_kafka::Error) -> String {
    use strait_kafka::Error as E;
    match e {
        E::Broker { code, .. } => format!("{code:?}"),
        E::Connect { .. } | E::Bootstrap { .. } => "Connect".to_owned(),
        E::ConnectionLost { .. } => "ConnectionLost".to_owned(),
        E::Timeout { .. } => "Timeout".to_owned(),
        E::Batch { .. } => "CorruptBatch".to_owned(),
        E::Metadata { .. } => "Metadata".to_owned(),
        _ => "Other".to_owned(),
    }
}

fn produce_error(
    route: &PartitionRoute,
    offset: Option<i64>,
    source: strait_kafka::Error,
) -> EngineError {
    EngineError::Produce {
        topic: route.topic.clone(),
        partition: route.partition,
        offset,
        source,
    }
}

async fn start_position(flow: &FlowShared, route: &PartitionRoute) -> Result<i64, EngineError> {
    match flow.progress.get(&route.topic, route.partition) {
        Some(last) => Ok(last + 1),
        None => reset_position(flow, route).await,
    }
}

async fn reset_position(flow: &FlowShared, route: &PartitionRoute) -> Result<i64, EngineError> {
    let spec = match flow.auto_offset_reset {
        OffsetReset::Earliest => OffsetSpec::Earliest,
        OffsetReset::Latest => OffsetSpec::Latest,
    };
    let listed = flow
        .source
        .list_offsets(
            &route.topic,
            &[route.partition],
            spec,
            Isolation::ReadCommitted,
        )
        .await?;
    Ok(listed.first().map_or(0, |(_, o)| o.offset.max(0)))
}
