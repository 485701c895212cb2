//! One fetch loop per flow: partitions ask for data at their position; the fetcher batches the
//! asks of all partitions led by the same source broker into one Fetch request, so idle
//! partitions cost one long-poll per broker, not one per partition. The fetcher routes by
//! leader; the client refreshes the source's metadata itself when a leader is unknown or a
//! response shows it stale. Partitions only report and back off. Every request first reserves
//! its bytes in the flow's budget (`buffer.rs`); each answer carries its share back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use strait_kafka::{Cluster, FetchOptions, FetchPosition, PartitionFetch, ResponseError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::buffer::{FetchBudget, Held};

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
    /// At most this many bytes for this partition, if less than `max.partition.fetch.bytes`
    /// (a paused partition only needs the high watermark and its first waiting batch).
    pub(crate) max_bytes: Option<i32>,
    /// The leader epoch of the record before `offset`, when known (the leader says if its log
    /// diverged since).
    pub(crate) last_epoch: Option<i32>,
    pub(crate) reply: oneshot::Sender<Result<Fetched, FetchFailure>>,
}

/// A partition's answer, and the budget its bytes hold until it is dropped.
pub(crate) type Fetched = (PartitionFetch, Held);

/// How the fetch loop asks.
#[derive(Clone)]
pub(crate) struct FetchSettings {
    /// The request settings (`fetch.max.bytes`, `fetch.max.wait.ms`, isolation).
    pub(crate) options: FetchOptions,
    /// `max.partition.fetch.bytes`.
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

async fn run(source: Cluster, settings: FetchSettings, mut demands: mpsc::Receiver<FetchDemand>) {
    let mut waiting: HashMap<i32, Vec<FetchDemand>> = HashMap::new();
    let mut busy: HashSet<i32> = HashSet::new();
    let mut in_flight: JoinSet<i32> = JoinSet::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            demand = demands.recv(), if open => match demand {
                Some(d) => route(&source, d, &mut waiting).await,
                None => open = false,
            },
            Some(done) = in_flight.join_next() => {
                if let Ok(leader) = done {
                    busy.remove(&leader);
                }
            }
        }
        let ready: Vec<i32> = waiting
            .iter()
            .filter(|(leader, asks)| !asks.is_empty() && !busy.contains(leader))
            .map(|(leader, _)| *leader)
            .collect();
        for leader in ready {
            let asks = waiting.remove(&leader).unwrap_or_default();
            busy.insert(leader);
            let source = source.clone();
            let settings = settings.clone();
            in_flight.spawn(async move {
                fetch(&source, leader, asks, &settings).await;
                leader
            });
        }
    }
}

async fn route(
    source: &Cluster,
    demand: FetchDemand,
    waiting: &mut HashMap<i32, Vec<FetchDemand>>,
) {
    match source.leader_id(&demand.topic, demand.partition).await {
        Ok(leader) => waiting.entry(leader).or_default().push(demand),
        Err(_) => {
            let _ = demand.reply.send(Err(FetchFailure::NoLeader));
        }
    }
}

async fn fetch(source: &Cluster, leader: i32, asks: Vec<FetchDemand>, settings: &FetchSettings) {
    let partition_max_bytes = settings.partition_max_bytes;
    let positions: Vec<FetchPosition> = asks
        .iter()
        .map(|d| FetchPosition {
            topic: d.topic.clone(),
            partition: d.partition,
            offset: d.offset,
            max_bytes: d
                .max_bytes
                .map_or(partition_max_bytes, |m| m.min(partition_max_bytes)),
            last_fetched_epoch: d.last_epoch,
        })
        .collect();
    let wanted: i64 = positions.iter().map(|p| i64::from(p.max_bytes)).sum();
    let wanted = wanted.min(settings.options.max_bytes.into()) as i32;
    let mut reservation = settings.budget.reserve(wanted).await;
    let options = FetchOptions {
        max_bytes: settings.budget.clamp(wanted),
        ..settings.options
    };
    match source.fetch_from(leader, &positions, &options).await {
        Ok(fetched) => {
            // One lookup per ask: a fetch may carry thousands of partitions.
            let mut by_topic: HashMap<String, HashMap<i32, PartitionFetch>> = HashMap::new();
            for f in fetched {
                by_topic
                    .entry(f.topic.clone())
                    .or_default()
                    .insert(f.partition, f);
            }
            for ask in asks {
                let found = by_topic
                    .get_mut(ask.topic.as_str())
                    .and_then(|partitions| partitions.remove(&ask.partition));
                let answer = match found {
                    Some(f) => {
                        let held = reservation.take(f.records.len());
                        Ok((f, held))
                    }
                    None => Err(FetchFailure::NotAnswered { leader }),
                };
                let _ = ask.reply.send(answer);
            }
        }
        Err(e) => {
            let failure = FetchFailure::Request(Arc::new(e));
            for ask in asks {
                let _ = ask.reply.send(Err(failure.clone()));
            }
        }
    }
}
