//! One fetch loop per flow: partitions ask for data at their position; the fetcher batches the
//! asks of all partitions led by the same source broker into one Fetch request (two, each for
//! half of them, while the broker's answers are big), so idle partitions cost one long-poll per
//! broker, not one per partition. The fetcher routes by
//! leader; the client refreshes the source's metadata itself when a leader is unknown or a
//! response shows it stale. Partitions only report and back off. Every request first reserves
//! its bytes in the flow's budget (`buffer.rs`); each answer carries its share back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_kafka::{
    Cluster, FetchOptions, FetchPosition, FetchSession, PartitionFetch, ResponseError,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::buffer::{FetchBudget, Held};
use super::fetch_window::{fair_share, is_long_link};

/// Why a fetch gave nothing for a partition.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchFailure {
    /// The source's metadata names no leader for the partition.
    #[error("no leader known")]
    NoLeader,
    /// The leader's response did not include the partition.
    #[error("broker {leader} did not answer for it")]
    NotAnswered {
        /// The broker asked.
        leader: i32,
    },
    /// The partition's entry in the response carried an error code.
    #[error("{0}")]
    Code(ResponseError),
    /// The whole Fetch request failed.
    #[error("{0}")]
    Request(Arc<strait_kafka::Error>),
}

impl FetchFailure {
    /// Whether fetching again later may succeed (a leader moving, a broker restarting).
    pub fn is_retriable(&self) -> bool {
        match self {
            FetchFailure::NoLeader | FetchFailure::NotAnswered { .. } => true,
            FetchFailure::Code(code) => strait_kafka::is_retriable_code(*code),
            FetchFailure::Request(e) => e.is_retriable(),
        }
    }

    /// A short name for the error counters.
    pub fn code_name(&self) -> String {
        match self {
            FetchFailure::NoLeader => "NoLeader".to_owned(),
            FetchFailure::NotAnswered { .. } => "PartitionMissing".to_owned(),
            FetchFailure::Code(code) => format!("{code:?}"),
            FetchFailure::Request(e) => e.code_name(),
        }
    }
}

/// A partition's request for data at `offset`.
pub(crate) struct FetchDemand {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    /// How many bytes it asks for.
    pub(crate) bytes: AskBytes,
    /// The leader epoch of the record before `offset`, when known (the leader says if its log
    /// diverged since).
    pub(crate) last_epoch: Option<i32>,
    /// The nothing this partition was last answered at `offset`, once it settled what it had
    /// written: the ask then waits in the fetcher until there is news (see [`FetchDemand::waits`]).
    pub(crate) told: Option<Nothing>,
    pub(crate) reply: oneshot::Sender<Result<Fetched, FetchFailure>>,
}

impl FetchDemand {
    /// Whether this ask waits for the next request instead of being answered with `fetched`:
    /// the partition was told this same nothing at this offset before, and asks for all it may
    /// get (a paused partition's one-byte asks are always answered: it polls on a timer).
    fn waits(&self, fetched: &PartitionFetch) -> bool {
        self.bytes != AskBytes::Peek
            && self.told.is_some()
            && Nothing::in_answer(fetched, self.offset) == self.told
    }
}

/// How many bytes a partition asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AskBytes {
    /// One byte: a paused partition only needs the high watermark and its first waiting
    /// batch (a broker sends one whole batch however little is asked, KIP-74).
    Peek,
    /// Up to its fetch window ([`super::fetch_window::FetchWindow`]), within its share of
    /// the request.
    Window(i32),
}

impl AskBytes {
    /// The most bytes it asks for.
    fn most(&self) -> i32 {
        match self {
            AskBytes::Peek => 1,
            AskBytes::Window(bytes) => *bytes,
        }
    }
}

/// A partition's answer.
pub(crate) struct Fetched {
    /// What the leader answered for the partition.
    pub(crate) answer: PartitionFetch,
    /// The budget the response's bytes hold: kept with every batch written from it until its
    /// acknowledgement, since those batches go to the target from the response's buffer.
    pub(crate) held: Held,
    /// Whether the leader that answered is a long link away (its fetch window may grow).
    pub(crate) long_link: bool,
}

/// How the fetch loop asks.
#[derive(Clone)]
pub(crate) struct FetchSettings {
    /// The request settings (`fetch.max.bytes`, `fetch.max.wait.ms`, isolation).
    pub(crate) options: FetchOptions,
    /// `max.partition.fetch.bytes`: the least share of a crowded request a partition gets.
    pub(crate) partition_max_bytes: i32,
    /// The flow's budget of fetched, unwritten bytes.
    pub(crate) budget: FetchBudget,
}

/// Starts the fetch loop on `source`; it ends when every sender is dropped.
pub(crate) fn spawn_fetcher(source: Cluster, settings: FetchSettings) -> mpsc::Sender<FetchDemand> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(source, settings, rx));
    tx
}

/// How long a leader's next fetch waits for the partitions its last fetch answered to ask
/// again: they ask at once (one that got data before writing it), so one request carries them
/// all instead of the first asker going alone and the rest waiting behind its long-poll.
const GATHER: Duration = Duration::from_millis(2);

/// Fetch requests in flight to one broker while its answers are big, each for half of its
/// partitions: while one answer crosses the link (and is written), the other half's request is
/// already on its way. On one connection the broker answers them in order, so a long-poll
/// would hold the other request up: with small answers (an idle or slow topic) one request
/// carries every partition.
const FETCHES_PER_BUSY_BROKER: usize = 2;
/// How long the fetch loop's end waits for a broker to close its fetch session.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// An answer at least this big means the broker has more waiting: data, not a long-poll.
const BUSY_ANSWER_BYTES: usize = 1024 * 1024;

/// What a fetch answered: the partitions that got an answer without error (they ask again
/// at once), its bytes, the asks it found nothing new for again (they wait for news), and the
/// broker's fetch session if the request had it.
#[derive(Default)]
struct Answered {
    partitions: Vec<(String, i32)>,
    bytes: usize,
    parked: Vec<FetchDemand>,
    session: Option<FetchSession>,
    /// Set when every ask found nothing again before the broker's wait was over: when the
    /// next request may go out for them (a broker that does not hold idle fetches for
    /// `fetch.max.wait.ms` is asked no more often than that).
    rest_until: Option<Instant>,
}

/// An answer without news: no records and no error, at this fetch offset and these offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nothing {
    offset: i64,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

impl Nothing {
    /// The fetch offset it was answered at.
    pub(crate) fn offset(&self) -> i64 {
        self.offset
    }

    /// The answer, if it brings nothing new to an ask at `offset`.
    pub(crate) fn in_answer(fetched: &PartitionFetch, offset: i64) -> Option<Nothing> {
        let nothing = fetched.error.is_none()
            && fetched.records.is_empty()
            && fetched.diverging.is_none()
            && fetched.aborted.is_empty();
        nothing.then_some(Nothing {
            offset,
            high_watermark: fetched.high_watermark,
            last_stable_offset: fetched.last_stable_offset,
            log_start_offset: fetched.log_start_offset,
        })
    }
}

/// The fetch loop's state for one source broker.
#[derive(Default)]
struct Leader {
    /// One ask per partition: a newer one replaces an older one still waiting (a partition
    /// that dropped a fetch it asked ahead for), so a request never names a partition twice.
    asks: HashMap<(String, i32), FetchDemand>,
    /// Fetch requests in flight to it.
    in_flight: usize,
    /// Whether its last answer was big ([`BUSY_ANSWER_BYTES`]).
    busy: bool,
    /// Partitions the last fetch answered that have not asked again yet.
    expected: HashSet<(String, i32)>,
    /// When the next fetch goes out even if some of them have not asked.
    gather_until: Option<Instant>,
    /// The broker's incremental fetch session (KIP-227), while no request has it: one request
    /// at a time carries it; a second request in flight goes without (a full request). Asks
    /// that only wait for news are not answered (see [`FetchDemand::waits`]) but stay in the
    /// next request, so an idle partition costs neither its pipeline a wake-up nor (where the
    /// broker keeps sessions) the request a byte.
    session: FetchSession,
    /// Whether a request in flight has the session.
    session_lent: bool,
    /// Until when asks that only wait for news stay unsent (see [`Answered::rest_until`]).
    rest_until: Option<Instant>,
    /// Whether an ask came in since the last request (not one waiting for news).
    fresh: bool,
}

impl Leader {
    /// Whether another request may go out now (asks waiting).
    fn may_send(&self) -> bool {
        let limit = if self.busy {
            FETCHES_PER_BUSY_BROKER
        } else {
            1
        };
        self.in_flight < limit && !self.asks.is_empty()
    }

    fn ready(&self, now: Instant) -> bool {
        self.may_send()
            && (self.expected.is_empty() || self.gather_until.is_none_or(|t| now >= t))
            && (self.fresh || self.rest_until.is_none_or(|t| now >= t))
    }

    /// When this leader's next request may go out, if it is waiting for a time.
    fn wakes_at(&self) -> Option<Instant> {
        if !self.may_send() {
            return None;
        }
        let rest = self.rest_until.filter(|_| !self.fresh);
        match (
            self.gather_until.filter(|_| !self.expected.is_empty()),
            rest,
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The session for a request about to go out, unless another request has it.
    fn lend_session(&mut self) -> Option<FetchSession> {
        if self.session_lent {
            return None;
        }
        self.session_lent = true;
        Some(std::mem::take(&mut self.session))
    }

    /// A fetch ended with `answered`.
    fn done(&mut self, answered: Answered) {
        self.in_flight -= 1;
        if let Some(session) = answered.session {
            self.session = session;
            self.session_lent = false;
        }
        self.rest_until = answered.rest_until;
        for ask in answered.parked {
            if !ask.reply.is_closed() {
                let key = (ask.topic.clone(), ask.partition);
                self.asks.entry(key).or_insert(ask);
            }
        }
        self.busy = answered.bytes >= BUSY_ANSWER_BYTES;
        self.expected = answered
            .partitions
            .into_iter()
            .filter(|key| !self.asks.contains_key(key))
            .collect();
        self.gather_until = Some(Instant::now() + GATHER);
    }
}

async fn run(source: Cluster, settings: FetchSettings, mut demands: mpsc::Receiver<FetchDemand>) {
    let mut leaders: HashMap<i32, Leader> = HashMap::new();
    let mut in_flight: JoinSet<(i32, Answered)> = JoinSet::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        let gather_until = leaders.values().filter_map(Leader::wakes_at).min();
        tokio::select! {
            demand = demands.recv(), if open => match demand {
                Some(d) => route(&source, d, &mut leaders).await,
                None => open = false,
            },
            Some(done) = in_flight.join_next() => {
                if let Ok((leader, answered)) = done {
                    leaders.entry(leader).or_default().done(answered);
                }
            }
            _ = tokio::time::sleep_until(gather_until.unwrap_or_else(Instant::now).into()),
                if gather_until.is_some() => {}
        }
        let now = Instant::now();
        for (&leader, state) in leaders.iter_mut().filter(|(_, l)| l.ready(now)) {
            // A partition that stopped (or asked elsewhere) dropped its ask's answer.
            let mut asks: Vec<FetchDemand> = std::mem::take(&mut state.asks)
                .into_values()
                .filter(|ask| !ask.reply.is_closed())
                .collect();
            if asks.is_empty() {
                continue;
            }
            state.expected.clear();
            state.gather_until = None;
            state.fresh = false;
            // A busy broker with nothing in flight gets two requests, each for half of the
            // partitions: from then on each half asks again while the other's answer crosses.
            let mut requests = Vec::new();
            if state.busy && state.in_flight == 0 && asks.len() > 1 {
                requests.push(asks.split_off(asks.len() / 2));
            }
            requests.push(asks);
            for asks in requests {
                state.in_flight += 1;
                let session = state.lend_session();
                let source = source.clone();
                let settings = settings.clone();
                in_flight.spawn(async move {
                    (
                        leader,
                        fetch(&source, leader, asks, session, &settings).await,
                    )
                });
            }
        }
    }
    // Every request has ended: each broker frees the flow's fetch session now rather than
    // when its cache evicts it.
    for (leader, mut state) in leaders {
        let close = source.close_fetch_session(leader, &mut state.session);
        let _ = tokio::time::timeout(CLOSE_WAIT, close).await;
    }
}

async fn route(source: &Cluster, demand: FetchDemand, leaders: &mut HashMap<i32, Leader>) {
    match source.leader_id(&demand.topic, demand.partition).await {
        Ok(leader) => {
            let state = leaders.entry(leader).or_default();
            let key = (demand.topic.clone(), demand.partition);
            state.expected.remove(&key);
            state.asks.insert(key, demand);
            state.fresh = true;
        }
        Err(_) => {
            let _ = demand.reply.send(Err(FetchFailure::NoLeader));
        }
    }
}

/// One Fetch request for `asks` (within `session`, if given), its answers sent back or,
/// for asks that found the same nothing again, kept for the next request.
async fn fetch(
    source: &Cluster,
    leader: i32,
    asks: Vec<FetchDemand>,
    mut session: Option<FetchSession>,
    settings: &FetchSettings,
) -> Answered {
    let share = fair_share(
        asks.len(),
        settings.options.max_bytes,
        settings.partition_max_bytes,
    );
    let positions: Vec<FetchPosition> = asks
        .iter()
        .map(|d| FetchPosition {
            topic: d.topic.clone(),
            partition: d.partition,
            offset: d.offset,
            max_bytes: d.bytes.most().min(share),
            last_fetched_epoch: d.last_epoch,
        })
        .collect();
    let wanted: i64 = positions.iter().map(|p| i64::from(p.max_bytes)).sum();
    let wanted = wanted.min(settings.options.max_bytes.into()) as i32;
    // A request goes once one partition's max.partition.fetch.bytes is free, asking for what is.
    let least = settings.partition_max_bytes;
    let mut reservation = settings.budget.reserve(wanted, least).await;
    let asked_at = Instant::now();
    let options = FetchOptions {
        max_bytes: reservation.bytes(),
        ..settings.options
    };
    let result = match session.as_mut() {
        Some(session) => {
            source
                .fetch_in_session(leader, session, &positions, &options)
                .await
        }
        None => source.fetch_from(leader, &positions, &options).await,
    };
    match result {
        Ok(fetched) => {
            let long_link = is_long_link(
                source
                    .broker(leader)
                    .await
                    .ok()
                    .and_then(|c| c.round_trip()),
            );
            let asked = asks.len();
            let mut answered = Answered::default();
            let matched = match_answers(asks, fetched);
            // One hold for the response: its partitions' batches are written from its buffer.
            let kept: usize = matched
                .iter()
                .filter_map(|(ask, found)| found.as_ref().filter(|f| !ask.waits(f)))
                .map(|f| f.records.len())
                .sum();
            let response = reservation.take(kept);
            for (ask, found) in matched {
                let answer = match found {
                    Some(f) if ask.waits(&f) => {
                        answered.parked.push(ask);
                        continue;
                    }
                    Some(f) => {
                        if f.error.is_none() {
                            answered.partitions.push((ask.topic.clone(), ask.partition));
                        }
                        answered.bytes += f.records.len();
                        Ok(Fetched {
                            answer: f,
                            held: response.clone(),
                            long_link,
                        })
                    }
                    None => Err(FetchFailure::NotAnswered { leader }),
                };
                let _ = ask.reply.send(answer);
            }
            answered.session = session;
            let broker_wait_ends = asked_at + settings.options.max_wait;
            let all_parked = answered.parked.len() == asked;
            if all_parked && Instant::now() < broker_wait_ends {
                answered.rest_until = Some(broker_wait_ends);
            }
            answered
        }
        Err(e) => {
            let failure = FetchFailure::Request(Arc::new(e));
            for ask in asks {
                let _ = ask.reply.send(Err(failure.clone()));
            }
            Answered {
                session,
                ..Answered::default()
            }
        }
    }
}

/// Each ask with its partition's answer: in one pass when the answers come in the asks' order
/// (a session's answers do), otherwise by one lookup per ask (a fetch may carry thousands).
fn match_answers(
    asks: Vec<FetchDemand>,
    fetched: Vec<PartitionFetch>,
) -> Vec<(FetchDemand, Option<PartitionFetch>)> {
    let in_order = asks.len() == fetched.len()
        && asks
            .iter()
            .zip(&fetched)
            .all(|(a, f)| a.partition == f.partition && a.topic == f.topic);
    if in_order {
        return asks
            .into_iter()
            .zip(fetched.into_iter().map(Some))
            .collect();
    }
    let mut by_topic: HashMap<String, HashMap<i32, PartitionFetch>> = HashMap::new();
    for f in fetched {
        by_topic
            .entry(f.topic.clone())
            .or_default()
            .insert(f.partition, f);
    }
    asks.into_iter()
        .map(|ask| {
            let found = by_topic
                .get_mut(ask.topic.as_str())
                .and_then(|partitions| partitions.remove(&ask.partition));
            (ask, found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_that_pass_are_retriable_lasting_ones_not() {
        assert!(FetchFailure::NoLeader.is_retriable());
        assert!(FetchFailure::NotAnswered { leader: 1 }.is_retriable());
        assert!(FetchFailure::Code(ResponseError::NotLeaderOrFollower).is_retriable());
        assert!(FetchFailure::Code(ResponseError::UnknownTopicId).is_retriable());
        assert!(!FetchFailure::Code(ResponseError::OffsetOutOfRange).is_retriable());
        assert!(!FetchFailure::Code(ResponseError::TopicAuthorizationFailed).is_retriable());
    }

    fn demand(partition: i32) -> ((String, i32), FetchDemand) {
        let (reply, _) = oneshot::channel();
        let demand = FetchDemand {
            topic: "t".into(),
            partition,
            offset: 0,
            bytes: AskBytes::Window(1024),
            last_epoch: None,
            told: None,
            reply,
        };
        (("t".into(), partition), demand)
    }

    fn nothing_at(high_watermark: i64) -> PartitionFetch {
        PartitionFetch {
            topic: "t".into(),
            partition: 0,
            fetch_offset: 5,
            error: None,
            high_watermark,
            last_stable_offset: high_watermark,
            log_start_offset: 0,
            aborted: Vec::new(),
            diverging: None,
            records: bytes::Bytes::new(),
        }
    }

    #[test]
    fn an_ask_waits_only_when_it_was_told_the_same_nothing() {
        let (_, mut ask) = demand(0);
        ask.offset = 5;
        assert!(
            !ask.waits(&nothing_at(5)),
            "never told anything: answered (the partition then settles its writes)"
        );
        ask.told = Nothing::in_answer(&nothing_at(5), 5);
        assert!(ask.waits(&nothing_at(5)), "the same nothing again waits");
        assert!(!ask.waits(&nothing_at(7)), "a new high watermark is news");
        let mut data = nothing_at(7);
        data.records = bytes::Bytes::from_static(b"batch");
        assert!(!ask.waits(&data), "records are answered");
        let mut error = nothing_at(5);
        error.error = Some(ResponseError::NotLeaderOrFollower);
        assert!(!ask.waits(&error));
        let mut elsewhere = nothing_at(5);
        elsewhere.fetch_offset = 9;
        ask.offset = 9;
        assert!(!ask.waits(&elsewhere), "told at another offset");
        ask.offset = 5;
        ask.bytes = AskBytes::Peek;
        assert!(
            !ask.waits(&nothing_at(5)),
            "a paused partition's one-byte asks are always answered"
        );
    }

    #[test]
    fn asks_waiting_for_news_rest_until_the_broker_wait_is_over_unless_a_fresh_one_comes() {
        let mut leader = Leader {
            in_flight: 1,
            ..Leader::default()
        };
        let (reply, _answer) = oneshot::channel();
        let parked = FetchDemand {
            reply,
            ..demand(0).1
        };
        let later = Instant::now() + Duration::from_millis(400);
        leader.done(Answered {
            parked: vec![parked],
            rest_until: Some(later),
            ..Answered::default()
        });
        assert_eq!(leader.asks.len(), 1, "the parked ask is kept");
        assert!(
            !leader.ready(Instant::now()),
            "answered early with nothing: rest"
        );
        assert_eq!(leader.wakes_at(), Some(later));
        assert!(leader.ready(later));
        leader.fresh = true;
        assert!(leader.ready(Instant::now()), "a fresh ask goes at once");
    }

    #[test]
    fn a_fetch_waits_briefly_for_the_partitions_just_answered() {
        let mut leader = Leader::default();
        let (key, d) = demand(0);
        leader.asks.insert(key, d);
        assert!(leader.ready(Instant::now()), "nothing expected: at once");
        leader.in_flight = 1;
        assert!(
            !leader.ready(Instant::now()),
            "one request at a time while idle"
        );
        // The fetch answered partitions 0, 1 and 2; 0 asked again before it ended.
        let answered = |bytes| Answered {
            partitions: vec![("t".into(), 0), ("t".into(), 1), ("t".into(), 2)],
            bytes,
            ..Answered::default()
        };
        leader.done(answered(100));
        assert_eq!(leader.expected.len(), 2, "{:?}", leader.expected);
        assert!(!leader.ready(Instant::now()), "1 and 2 will ask at once");
        assert!(
            leader.ready(Instant::now() + GATHER),
            "not longer than GATHER"
        );
        for p in [1, 2] {
            let (key, d) = demand(p);
            leader.expected.remove(&key);
            leader.asks.insert(key, d);
        }
        assert!(leader.ready(Instant::now()), "all asked: at once");
        leader.in_flight = 1;
        assert!(
            !leader.ready(Instant::now() + GATHER),
            "small answers: one in flight"
        );
        leader.in_flight = 2;
        leader.done(answered(BUSY_ANSWER_BYTES));
        assert!(
            leader.ready(Instant::now() + GATHER),
            "big answers: a second one"
        );
        leader.in_flight = FETCHES_PER_BUSY_BROKER;
        assert!(!leader.ready(Instant::now() + GATHER), "never more");
    }
}
