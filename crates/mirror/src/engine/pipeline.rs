//! One source partition, the I/O side: ask the fetcher for data at the ledger's position, plan
//! each fetch with the forwarder, write the planned batches to the same partition of the remote
//! topic with several in flight, and hand each acknowledgement to the ledger, whose settled
//! entries become progress, offset syncs and counters. Failures pause this partition only; it
//! resumes after the last settled batch (where, `start.rs`). The decisions live in `ledger.rs`
//! and `forward.rs`.
//! In exactly-once mode the writes go into a transaction (`transaction.rs`) and settled entries
//! count only once it has committed; after a failure the partition fences its transactional id
//! and resumes from the progress committed last.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use strait_kafka::batch::RawBatch;
use strait_kafka::{Lease, PartitionFetch, ProduceAck, Producer, ResponseError, RetryPolicy};

use super::buffer::Held;
use super::control::PauseState;
use super::discovery::PartitionRoute;
use super::error::EngineError;
use super::fetcher::{AskBytes, FetchFailure, Fetched, Nothing};
use super::forward::{self, Forwarder, Step};
use super::ledger::{EntryId, PartitionLedger, Rewound, Settled, Written};
use super::partition_context::{ask, read_ahead, request, Asked, PartitionContext};
use super::partition_stats::{Acked, PartitionStats};
use super::producers::Lent;
use super::source_gaps::SourceGap;
use super::start::{check_incarnation, report_gap, resume, source_gap, start};
use super::transaction::{committed_position, Transaction};
use crate::clock::now_ms;
use crate::formats::{ClaimedSync, OffsetSync};
use crate::internal::Position;
use crate::shutdown::{sleep_unless_stopped, unless_stopped};
use tokio::sync::watch;

/// Backoff of a failed partition: 200 ms doubling to 5 s.
const RETRY: RetryPolicy =
    RetryPolicy::until_stopped(Duration::from_millis(200), Duration::from_secs(5));
/// How often a partition waiting for its write lease looks at it again.
const LEASE_POLL: Duration = Duration::from_millis(50);
/// How often a paused partition looks at the source's log end.
const PAUSED_POLL: Duration = Duration::from_secs(1);

type AckFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ProduceAck, strait_kafka::Error>> + Send + 'a>>;

/// A written batch's acknowledgement still to come, and the source offset it starts at.
struct Pending<'a> {
    id: EntryId,
    first_offset: i64,
    ack: AckFuture<'a>,
    /// The fetch response the batch is written from stays counted in the budget until then.
    _from: Held,
}

/// The producers relaying records that mirrors wrote to the source, by the clusters the records
/// were on before (`strait.cycle.detection = producer.id`, [`Provenance::Relayed`]).
type Relays = Vec<(Arc<str>, Producer)>;

/// Replicates one partition until shutdown, resuming after failures with backoff. It writes
/// with the flow's shared idempotent producer, which survives source-side failures; after a
/// produce failure the partition leaves it for a newer one (`producers.rs`), since its sequence
/// state on the target is unknown.
pub(crate) async fn run_partition(ctx: Arc<PartitionContext>, route: PartitionRoute) {
    let state = ctx.stats.partition_started(&route.topic, route.partition);
    let key = (route.topic.clone(), route.partition);
    let mut producer: Option<Lent> = None;
    let mut relays = Relays::new();
    let mut needs_relay = None;
    let mut ledger: Option<PartitionLedger> = None;
    let mut rewound = None;
    let mut failures = 0;
    loop {
        let result = replicate(
            &ctx,
            &route,
            &state,
            (&mut producer, &relays, &mut needs_relay),
            &mut ledger,
            &mut rewound,
        )
        .await;
        let unsettled = ledger.as_ref().is_some_and(|l| l.in_flight() > 0);
        let e = match result {
            Ok(()) => match needs_relay.take() {
                None => {
                    if let Some(left) = producer.filter(|_| unsettled) {
                        ctx.producers.retire(&key, &left).await;
                    }
                    return;
                }
                // Records that came along another path arrived: they get a producer of their
                // own, registered with that path, before the run goes on.
                Some(path) => match idempotent_producer(&ctx, &route, Some(&path)).await {
                    Ok(relay) => {
                        relays.push((path, relay));
                        continue;
                    }
                    Err(e) => e,
                },
            },
            Err(e) => e,
        };
        // After a produce failure (or with batches whose fate is unknown) the producer's
        // state on the target is unknown: a newer producer resumes after the last settled batch.
        if matches!(e, EngineError::Produce { .. }) || unsettled {
            if let Some(left) = producer.take() {
                ctx.producers.retire(&key, &left).await;
            }
            relays.clear();
            if ctx.exactly_once.is_some() {
                // The transaction did not commit: the next producer's fencing aborts it, and
                // the partition resumes from the progress committed last.
                ctx.stats.transaction_failed();
                ledger = None;
            } else if let Some(l) = ledger.take() {
                // What was in flight may have landed: the next run resumes past what the
                // target holds by then.
                rewound = Some(l.failed_at());
            }
        }
        if let Some((op, code)) = e.counted_as() {
            ctx.stats.error(op, code);
        }
        failures += 1;
        let backoff = RETRY.nominal(failures);
        state.failed(e.to_string(), now_ms());
        state.set_paused(Some(format!("error, retrying in {backoff:?}")));
        tracing::warn!(
            flow = %ctx.label, topic = %route.topic, partition = route.partition,
            "partition paused, retrying in {backoff:?}: {e}"
        );
        if !sleep_unless_stopped(backoff, &ctx.shutdown).await {
            return;
        }
    }
}

/// One run of the partition until shutdown, the first failure, or the first batch whose path
/// has no producer among `relays` yet (the path is left in `needs_relay`).
async fn replicate(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    state: &PartitionStats,
    (producer, relays, needs_relay): (&mut Option<Lent>, &Relays, &mut Option<Arc<str>>),
    ledger: &mut Option<PartitionLedger>,
    rewound: &mut Option<Rewound>,
) -> Result<(), EngineError> {
    let Some(producer) = producer_for_run(ctx, route, producer).await? else {
        return Ok(());
    };
    let ledger = ledger_for_run(ctx, route, state, ledger, rewound).await?;
    state.positioned(ledger.position());
    tracing::debug!(flow = %ctx.label, topic = %route.topic, partition = route.partition, position = ledger.position(), "partition started");
    let mut forwarder = Forwarder::new(route.max_batch_bytes, ctx.force_reencode);
    let rule = ctx.throttle.rule_of(&route.topic);
    let producer: &Producer = producer;
    let mut driver = Driver {
        ctx,
        route,
        state,
        ledger,
        producer,
        last_writer: None,
        transaction: ctx
            .exactly_once
            .as_ref()
            .map(|eos| Transaction::new(eos.boundary)),
        pending: VecDeque::new(),
    };
    let mut pause = ctx.control.watch_pause();
    // The next fetch, asked for as soon as an answer came (before planning and writing it), so
    // it crosses the link while this one is written: on a long link the partition waits one
    // round trip per fetch only when it writes faster than the link carries.
    let mut ahead: Option<Asked> = None;
    // The nothing the last answer brought, once what was written is settled: the next ask
    // from the same place waits in the fetcher until there is news.
    let mut quiet: Option<Nothing> = None;
    // How much it asks for: more while answers come back full.
    let mut window = ctx.fetch_window;
    loop {
        if *ctx.shutdown.borrow() {
            return driver.drain().await;
        }
        let paused = pause.borrow_and_update().reason(&route.topic);
        if let Some(reason) = paused {
            ahead = None;
            if !driver.wait_while_paused(reason, &mut pause).await? {
                return Ok(());
            }
            continue;
        }
        state.set_paused(None);
        let position = driver.ledger.position();
        let epoch = driver.ledger.last_epoch();
        let asked = match ahead.take() {
            Some(asked) if asked.is_for(position, epoch) => Some(asked),
            _ => {
                let told = quiet.take().filter(|n| n.offset() == position);
                let bytes = AskBytes::Window(window.bytes());
                request(ctx, route, position, bytes, epoch, told).await
            }
        };
        let Some(asked) = asked else {
            return driver.drain().await;
        };
        // An idle partition's ask waits in the fetcher until there is news, so a pause (or
        // its end) is looked at while waiting too; the dropped ask is forgotten there.
        // Acknowledgements are settled meanwhile: a batch in flight keeps the response it was
        // written from counted in the flow's budget, which the next fetch may be waiting for.
        let asked_bytes = asked.bytes();
        let answer = asked.answer(ctx);
        tokio::pin!(answer);
        let answered = loop {
            tokio::select! {
                answered = &mut answer => break Some(answered),
                Ok(()) = pause.changed() => break None,
                settled = driver.settle_when_acknowledged(), if !driver.pending.is_empty() => settled?,
            }
        };
        let Some(answered) = answered else {
            continue;
        };
        let Some(fetched) = answered else {
            return driver.drain().await;
        };
        let fetched_at = Instant::now();
        // `held` keeps the response counted in the flow's budget while this round reads it,
        // and with each batch written from it until the batch is acknowledged.
        let Fetched {
            answer: fetched,
            held,
            long_link,
        } = match fetched {
            Ok(fetched) => fetched,
            Err(cause) => {
                driver.drain().await?;
                return Err(fetch_failure(ctx, route, position, cause));
            }
        };
        if let AskBytes::Window(asked) = asked_bytes {
            window.answered(asked, fetched.records.len(), long_link);
        }
        if let Some((next, next_epoch)) = read_ahead(&fetched, position) {
            let bytes = AskBytes::Window(window.bytes());
            ahead = request(ctx, route, next, bytes, next_epoch, None).await;
        }
        match driver.check_answer(&fetched, position).await? {
            Checked::Plan => {}
            Checked::FetchAgain => continue,
            Checked::Stopped => return Ok(()),
        }
        if let Err(e) = ctx.learn_writers(&fetched, fetched_at).await {
            driver.drain().await?;
            return Err(e);
        }
        let steps = match forwarder.plan_with(&fetched, position, &|p| ctx.provenance(p)) {
            Ok(steps) => steps,
            Err(source) => {
                driver.drain().await?;
                return Err(EngineError::Batch {
                    cluster: ctx.source.name().to_owned(),
                    topic: route.topic.clone(),
                    partition: route.partition,
                    offset: position,
                    source,
                });
            }
        };
        if steps.is_empty() {
            // Nothing new: settle what is in flight so progress is recorded while idle.
            driver.drain().await?;
            quiet = Nothing::in_answer(&fetched, position);
            continue;
        }
        for step in steps {
            let step_epoch = step.leader_epoch();
            while !driver.ledger.has_room() {
                driver.settle_oldest().await?;
            }
            match step {
                Step::Send {
                    batch,
                    first_offset,
                    last_offset,
                    reencoded,
                    relayed,
                    ..
                } => {
                    let writer = match &relayed {
                        None => producer,
                        Some(path) => match relays.iter().find(|(p, _)| p == path) {
                            Some((_, relay)) => relay,
                            None => {
                                driver.drain().await?;
                                *needs_relay = Some(path.clone());
                                return Ok(());
                            }
                        },
                    };
                    let written = Written {
                        first_offset,
                        last_offset,
                        last_delta: batch.last_offset_delta(),
                        records: batch.record_count() as u64,
                        bytes: batch.len() as u64,
                        max_timestamp: batch.max_timestamp(),
                        reencoded: reencoded.is_some(),
                        leader_epoch: step_epoch,
                    };
                    if !driver.send(writer, rule, &batch, written, &held).await? {
                        return driver.drain().await;
                    }
                }
                Step::Skip {
                    last_offset,
                    reason,
                    ..
                } => {
                    match reason {
                        forward::Drop::Cycle => ctx.stats.cycle_skipped(),
                        _ => ctx.stats.dropped(),
                    }
                    driver.ledger.skipped(last_offset, step_epoch);
                    driver.apply_settled();
                }
            }
        }
        if driver.transaction.as_ref().is_some_and(Transaction::due) {
            driver.drain().await?;
        } else {
            driver.settle_ready().await?;
        }
    }
}

/// What the run does after [`Driver::check_answer`].
enum Checked {
    /// Plan the answer's batches.
    Plan,
    /// The partition moved (or may read again): fetch anew.
    FetchAgain,
    /// Stopped while waiting.
    Stopped,
}

/// The source could not be read at `position`.
fn fetch_failure(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    cause: FetchFailure,
) -> EngineError {
    EngineError::Fetch {
        cluster: ctx.source.name().to_owned(),
        topic: route.topic.clone(),
        partition: route.partition,
        offset: position,
        cause,
    }
}

/// The run's producer: the one kept from the last run, else in exactly-once mode the
/// partition's transactional producer (fencing every earlier writer of the partition, only with
/// a valid lease, never the member the partition may have moved to), else the flow's shared
/// idempotent one. `None` when stopped first.
async fn producer_for_run<'p>(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    producer: &'p mut Option<Lent>,
) -> Result<Option<&'p mut Lent>, EngineError> {
    if let Some(kept) = producer {
        return Ok(Some(kept));
    }
    let fresh = match &ctx.exactly_once {
        Some(eos) => {
            if !lease_valid_unless_stopped(ctx).await {
                return Ok(None);
            }
            let id = eos.transactional_id(&route.topic, route.partition);
            let fresh = Producer::transactional(&ctx.target, &id, eos.transaction_timeout)
                .await
                .map_err(|e| produce_error(route, None, e))?;
            Lent::own(match &ctx.lease {
                Some(lease) => fresh.with_lease(lease.clone()),
                None => fresh,
            })
        }
        None => {
            let key = (route.topic.clone(), route.partition);
            let shared = ctx
                .producers
                .lend(&key, || idempotent_producer(ctx, route, None));
            match unless_stopped(shared, &ctx.shutdown).await {
                Some(lent) => lent?,
                None => return Ok(None),
            }
        }
    };
    Ok(Some(producer.insert(fresh)))
}

/// The run's ledger: the last run's (the source topic checked for a new incarnation), else at
/// the position a failed run was rewound to, past what it left on the target, else where the
/// partition starts (`start.rs`). A walk that could not read yet keeps `rewound` for the next run.
async fn ledger_for_run<'l>(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    state: &PartitionStats,
    ledger: &'l mut Option<PartitionLedger>,
    rewound: &mut Option<Rewound>,
) -> Result<&'l mut PartitionLedger, EngineError> {
    let l = match ledger {
        Some(kept) => kept,
        None => {
            let Some(at) = *rewound else {
                return Ok(ledger.insert(start(ctx, route, state).await?));
            };
            let resumed = resume(ctx, route, at).await?;
            *rewound = None;
            ledger.insert(resumed)
        }
    };
    check_incarnation(ctx, route, state, l).await?;
    Ok(l)
}

/// Moves acknowledgements from the wire to the ledger, and what the ledger settles to the
/// progress store, the offset-sync writer and the counters (in exactly-once mode once the
/// transaction has committed).
struct Driver<'a, 'p> {
    ctx: &'a PartitionContext,
    route: &'a PartitionRoute,
    state: &'a PartitionStats,
    ledger: &'a mut PartitionLedger,
    producer: &'p Producer,
    /// The producer id of the last batch written.
    last_writer: Option<i64>,
    /// Exactly-once mode's transaction.
    transaction: Option<Transaction>,
    pending: VecDeque<Pending<'p>>,
}

impl<'p> Driver<'_, 'p> {
    /// While the flow or the topic is paused: what is in flight settles, nothing is written,
    /// and the source's log end and oldest waiting record stay known, so lag stays true. One
    /// byte asked: the broker still sends the first waiting batch (KIP-74), whose timestamp is
    /// the lag in seconds. Returns after a look or a change of pause; false when stopped.
    async fn wait_while_paused(
        &mut self,
        reason: String,
        pause: &mut watch::Receiver<PauseState>,
    ) -> Result<bool, EngineError> {
        let (ctx, route) = (self.ctx, self.route);
        self.drain().await?;
        self.state.set_paused(Some(reason));
        let position = self.ledger.position();
        let epoch = self.ledger.last_epoch();
        if let Some(Ok(peeked)) = ask(ctx, route, position, AskBytes::Peek, epoch).await {
            if peeked.answer.error.is_none() {
                self.state.fetched(&peeked.answer, position, now_ms());
            }
        }
        let waited = unless_stopped(
            async {
                tokio::select! {
                    _ = tokio::time::sleep(PAUSED_POLL) => {}
                    _ = pause.changed() => {}
                }
            },
            &ctx.shutdown,
        )
        .await;
        Ok(waited.is_some())
    }

    /// What the source's answer at `position` means before it is planned: a diverging epoch
    /// (an unclean leader election) or OFFSET_OUT_OF_RANGE moves the partition past the gap,
    /// reported, and fetches again; another error code fails the run. What is in flight
    /// settles first in each of those cases.
    async fn check_answer(
        &mut self,
        fetched: &PartitionFetch,
        position: i64,
    ) -> Result<Checked, EngineError> {
        let (ctx, route, state) = (self.ctx, self.route, self.state);
        if let Some(diverging) = &fetched.diverging {
            // The source's log no longer leads to `position`: the records from where it
            // diverges are not the ones mirrored.
            self.drain().await?;
            let gap = SourceGap::Diverged {
                position,
                from: diverging.end_offset.min(position),
                epoch: diverging.epoch,
            };
            // Diverging only after `position` is no gap for what was mirrored: ask again
            // without the epoch (the reposition forgets it).
            if gap.resume_at() < position {
                report_gap(ctx, route, state, &gap);
            }
            let topic_id = self.ledger.topic_id();
            self.ledger.reposition(gap.resume_at(), topic_id);
            state.positioned(gap.resume_at());
            return Ok(Checked::FetchAgain);
        }
        match fetched.error {
            None => {
                state.fetched(fetched, position, now_ms());
                Ok(Checked::Plan)
            }
            Some(ResponseError::OffsetOutOfRange) => {
                ctx.stats
                    .error("fetch", format!("{:?}", ResponseError::OffsetOutOfRange));
                self.drain().await?;
                match source_gap(ctx, route, position, self.ledger.topic_id()).await? {
                    Some((gap, topic_id)) => {
                        report_gap(ctx, route, state, &gap);
                        self.ledger.reposition(gap.resume_at(), topic_id);
                        state.positioned(gap.resume_at());
                    }
                    // Readable again (a leader moved meanwhile): fetch once more, not at once.
                    None => {
                        if !sleep_unless_stopped(RETRY.nominal(1), &ctx.shutdown).await {
                            return Ok(Checked::Stopped);
                        }
                    }
                }
                Ok(Checked::FetchAgain)
            }
            Some(code) => {
                self.drain().await?;
                Err(fetch_failure(
                    ctx,
                    route,
                    position,
                    FetchFailure::Code(code),
                ))
            }
        }
    }

    /// Writes one planned batch with `writer`, throttled (`rule`) and only with a valid write
    /// lease, after another producer's batches have settled, in exactly-once mode inside the
    /// open transaction. Its acknowledgement is awaited later, `held` counted in the flow's
    /// budget until then. False when stopped first.
    async fn send(
        &mut self,
        writer: &'p Producer,
        rule: Option<usize>,
        batch: &RawBatch,
        written: Written,
        held: &Held,
    ) -> Result<bool, EngineError> {
        let (ctx, route) = (self.ctx, self.route);
        let first_offset = written.first_offset;
        if let Some((wait, bucket)) = ctx.throttle.reserve(rule, batch.len() as u64) {
            ctx.stats.throttled(bucket, wait);
            // No transaction stays open through a throttle's wait, so a tight limit never
            // outlasts transaction.timeout.ms.
            if self.transaction.is_some() {
                self.drain().await?;
            }
            if !sleep_unless_stopped(wait, &ctx.shutdown).await {
                return Ok(false);
            }
        }
        if !wait_for_lease(ctx, self).await? {
            return Ok(false);
        }
        // Two producers' batches in flight together could land out of order: one producer's
        // settle before the next one writes.
        if self.last_writer != Some(writer.producer_id()) {
            self.settle_all().await?;
            self.last_writer = Some(writer.producer_id());
        }
        if let Some(transaction) = &mut self.transaction {
            transaction
                .begin(self.producer, route, &ctx.progress)
                .await
                .map_err(|e| produce_error(route, Some(first_offset), e))?;
        }
        let sent = writer
            .submit(&route.remote_topic, route.partition, batch)
            .await
            .map_err(|e| produce_error(route, Some(first_offset), e))?;
        let id = self.ledger.written(written);
        self.pending.push_back(Pending {
            id,
            first_offset,
            ack: Box::pin(sent.wait()),
            _from: held.clone(),
        });
        Ok(true)
    }

    /// Waits for every acknowledgement still to come, and commits the open transaction.
    async fn drain(&mut self) -> Result<(), EngineError> {
        self.settle_all().await?;
        let Some(transaction) = &mut self.transaction else {
            return Ok(());
        };
        let topic_id = self.ledger.topic_id();
        let committed = transaction
            .commit(self.producer, self.route, &self.ctx.progress, topic_id)
            .await?;
        if !committed.is_empty() {
            self.ctx.stats.transaction_committed();
        }
        self.record(committed);
        Ok(())
    }

    /// Waits for every acknowledgement still to come.
    async fn settle_all(&mut self) -> Result<(), EngineError> {
        while !self.pending.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the oldest acknowledgement still to come.
    async fn settle_oldest(&mut self) -> Result<(), EngineError> {
        if let Some(p) = self.pending.pop_front() {
            let ack = p
                .ack
                .await
                .map_err(|e| produce_error(self.route, Some(p.first_offset), e))?;
            self.ledger.acknowledged(p.id, ack.base_offset);
        }
        self.apply_settled();
        Ok(())
    }

    /// Waits for the oldest acknowledgement and settles it. Cancel-safe: the batch leaves the
    /// queue only with its acknowledgement in hand.
    async fn settle_when_acknowledged(&mut self) -> Result<(), EngineError> {
        let result = std::future::poll_fn(|cx| match self.pending.front_mut() {
            Some(p) => p.ack.as_mut().poll(cx),
            None => Poll::Pending,
        })
        .await;
        let p = self
            .pending
            .pop_front()
            .expect("the batch just acknowledged");
        let ack = result.map_err(|e| produce_error(self.route, Some(p.first_offset), e))?;
        self.ledger.acknowledged(p.id, ack.base_offset);
        self.apply_settled();
        Ok(())
    }

    /// Takes the acknowledgements that have already arrived, without waiting.
    async fn settle_ready(&mut self) -> Result<(), EngineError> {
        while let Some(p) = self.pending.front_mut() {
            let polled = std::future::poll_fn(|cx| Poll::Ready(p.ack.as_mut().poll(cx))).await;
            let Poll::Ready(result) = polled else {
                break;
            };
            let first_offset = p.first_offset;
            let id = p.id;
            self.pending.pop_front();
            let ack = result.map_err(|e| produce_error(self.route, Some(first_offset), e))?;
            self.ledger.acknowledged(id, ack.base_offset);
        }
        self.apply_settled();
        Ok(())
    }

    /// Takes what the ledger settled: recorded at once, or held until the transaction commits.
    fn apply_settled(&mut self) {
        let settled = self.ledger.settle();
        match &mut self.transaction {
            Some(transaction) => transaction.hold(settled),
            None => self.record(settled),
        }
    }

    /// Records settled entries: progress (already stored if committed in a transaction),
    /// offset syncs, counters.
    fn record(&mut self, settled: Vec<Settled>) {
        let (ctx, route) = (self.ctx, self.route);
        let topic_id = self.ledger.topic_id();
        for entry in settled {
            if self.transaction.is_some() {
                let position = committed_position(&entry, topic_id);
                ctx.progress
                    .committed(&route.topic, route.partition, position);
            } else {
                let position = Position {
                    offset: entry.last_offset,
                    target_next: entry.downstream_next,
                    topic_id,
                    leader_epoch: entry.leader_epoch,
                };
                ctx.progress
                    .record_position(&route.topic, route.partition, position);
            }
            let Settled {
                last_offset,
                syncs,
                written,
                ..
            } = entry;
            if let Some(writer) = &ctx.offset_syncs {
                for point in syncs {
                    writer.queue(ClaimedSync {
                        sync: OffsetSync {
                            topic: route.topic.clone(),
                            partition: route.partition,
                            upstream_offset: point.upstream,
                            downstream_offset: point.downstream,
                        },
                        exact_since: point.exact_since,
                    });
                }
            }
            let acked = written.map(|w| {
                ctx.stats.acked(w.records, w.bytes, w.reencoded);
                Acked {
                    records: w.records,
                    bytes: w.bytes,
                    reencoded: w.reencoded,
                    max_timestamp: w.max_timestamp,
                }
            });
            self.state.acknowledged(last_offset, acked, now_ms());
        }
    }
}

/// In a group, writing needs a valid lease: while it has lapsed (a long rebalance, the
/// coordinator unreachable), what is in flight settles and nothing new is written, with the
/// same producer, so nothing is sent twice when the lease comes back. False when stopped.
async fn wait_for_lease(
    ctx: &PartitionContext,
    driver: &mut Driver<'_, '_>,
) -> Result<bool, EngineError> {
    if ctx.lease.as_ref().is_none_or(Lease::is_valid) {
        return Ok(true);
    }
    driver.drain().await?;
    driver
        .state
        .set_paused(Some("waiting for the group: write lease lapsed".to_owned()));
    let valid = lease_valid_unless_stopped(ctx).await;
    driver.state.set_paused(None);
    Ok(valid)
}

/// Waits until this member's write lease (in a group) is valid; false when stopped first.
async fn lease_valid_unless_stopped(ctx: &PartitionContext) -> bool {
    let Some(lease) = &ctx.lease else {
        return true;
    };
    while !lease.is_valid() {
        if !sleep_unless_stopped(LEASE_POLL, &ctx.shutdown).await {
            return false;
        }
    }
    true
}

/// A new idempotent producer on the target for records that were on the clusters `relayed`
/// before the source (`None`: written to the source by an application); with
/// `strait.cycle.detection = producer.id` registered before it writes.
async fn idempotent_producer(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    relayed: Option<&Arc<str>>,
) -> Result<Producer, EngineError> {
    let producer = Producer::idempotent(&ctx.target)
        .await
        .map_err(|e| produce_error(route, None, e))?;
    if let Some(cycles) = &ctx.cycles {
        cycles.register(producer.producer_id(), relayed).await?;
    }
    Ok(match &ctx.lease {
        Some(lease) => producer.with_lease(lease.clone()),
        None => producer,
    })
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
