//! One fetch loop per flow: partitions ask for data at their position; the fetcher batches the
//! asks of all partitions led by the same source broker into one Fetch request, so idle
//! partitions cost one long-poll per broker, not one per partition.

use std::collections::{HashMap, HashSet};

use strait_kafka::{Cluster, FetchOptions, FetchPosition, PartitionFetch, ResponseError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// Why a fetch gave nothing usable.
#[derive(Debug, Clone)]
pub(crate) struct FetchFailure {
    /// Human-readable reason naming cluster, topic and partition.
    pub(crate) message: String,
    /// Whether metadata should be refreshed before asking again.
    pub(crate) refresh_metadata: bool,
    /// Kafka error code name or kind of failure, for the error counters.
    pub(crate) code: String,
}

/// A partition's request for data at `offset`.
pub(crate) struct FetchDemand {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    /// At most this many bytes for this partition, if less than `max.partition.fetch.bytes`
    /// (a paused partition only needs the high watermark and its first waiting batch).
    pub(crate) max_bytes: Option<i32>,
    pub(crate) reply: oneshot::Sender<Result<PartitionFetch, FetchFailure>>,
}

/// Starts the fetch loop on `source`; it ends when every sender is dropped.
pub(crate) fn spawn_fetcher(
    source: Cluster,
    options: FetchOptions,
    partition_max_bytes: i32,
) -> mpsc::Sender<FetchDemand> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(source, options, partition_max_bytes, rx));
    tx
}

async fn run(
    source: Cluster,
    options: FetchOptions,
    partition_max_bytes: i32,
    mut demands: mpsc::Receiver<FetchDemand>,
) {
    let mut waiting: HashMap<i32, Vec<FetchDemand>> = HashMap::new();
    let mut busy: HashSet<i32> = HashSet::new();
    let mut in_flight: JoinSet<i32> = JoinSet::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            demand = demands.recv(), if open => match demand {
                Some(d) => route(&source, d, &mut waiting),
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
            in_flight.spawn(async move {
                fetch(&source, leader, asks, &options, partition_max_bytes).await;
                leader
            });
        }
    }
}

fn route(source: &Cluster, demand: FetchDemand, waiting: &mut HashMap<i32, Vec<FetchDemand>>) {
    match source.metadata().leader(&demand.topic, demand.partition) {
        Some(leader) => waiting.entry(leader).or_default().push(demand),
        None => {
            let message = format!(
                "cluster {}: no leader known for topic {} partition {}",
                source.name(),
                demand.topic,
                demand.partition
            );
            let _ = demand.reply.send(Err(FetchFailure {
                message,
                refresh_metadata: true,
                code: "NoLeader".to_owned(),
            }));
        }
    }
}

async fn fetch(
    source: &Cluster,
    leader: i32,
    asks: Vec<FetchDemand>,
    options: &FetchOptions,
    partition_max_bytes: i32,
) {
    let positions: Vec<FetchPosition> = asks
        .iter()
        .map(|d| FetchPosition {
            topic: d.topic.clone(),
            partition: d.partition,
            offset: d.offset,
            max_bytes: d
                .max_bytes
                .map_or(partition_max_bytes, |m| m.min(partition_max_bytes)),
        })
        .collect();
    match source.fetch_from(leader, &positions, options).await {
        Ok(mut fetched) => {
            for ask in asks {
                let found = fetched
                    .iter()
                    .position(|f| f.topic == ask.topic && f.partition == ask.partition)
                    .map(|i| fetched.swap_remove(i));
                let answer = found.ok_or_else(|| FetchFailure {
                    message: format!(
                        "cluster {}: broker {leader} did not answer for topic {} partition {}",
                        source.name(),
                        ask.topic,
                        ask.partition
                    ),
                    refresh_metadata: true,
                    code: "PartitionMissing".to_owned(),
                });
                let _ = ask.reply.send(answer);
            }
        }
        Err(e) => {
            let failure = FetchFailure {
                message: e.to_string(),
                refresh_metadata: e.needs_metadata_refresh(),
                code: super::pipeline::kafka_error_kind(&e),
            };
            for ask in asks {
                let _ = ask.reply.send(Err(failure.clone()));
            }
        }
    }
}

/// Whether a partition-level fetch error means the metadata (leader) is stale.
pub(crate) fn is_stale(code: ResponseError) -> bool {
    strait_kafka::is_stale_metadata_code(code)
}
