//! The partition pipelines a flow runs, started and stopped one by one: each has a stop signal
//! of its own, so a partition handed to another member drains and stops while every other
//! partition keeps flowing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::discovery::PartitionRoute;
use super::partition_context::PartitionContext;
use super::pipeline::run_partition;
use crate::group::assignor::PartitionKey;

/// The running pipelines of one flow.
pub(crate) struct Pipelines {
    shared: Arc<PartitionContext>,
    tasks: JoinSet<PartitionKey>,
    /// Stop signal of each pipeline, running or draining.
    stops: HashMap<PartitionKey, watch::Sender<bool>>,
    /// What runs, draining pipelines included, with recent bytes per second: the group
    /// member's claim.
    owned: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
    /// Bytes acknowledged per partition at the last rate update.
    bytes_seen: HashMap<PartitionKey, u64>,
    /// The source topic id each pipeline started with.
    topic_ids: HashMap<PartitionKey, Option<Uuid>>,
}

impl Pipelines {
    /// No pipelines yet; `owned` is kept up to date for the group member.
    pub(crate) fn new(
        shared: Arc<PartitionContext>,
        owned: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
    ) -> Pipelines {
        Pipelines {
            shared,
            tasks: JoinSet::new(),
            stops: HashMap::new(),
            owned,
            bytes_seen: HashMap::new(),
            topic_ids: HashMap::new(),
        }
    }

    /// Whether the pipeline of `route`'s partition runs on another incarnation of the topic
    /// (deleted and re-created since it started).
    pub(crate) fn runs_older_topic(&self, route: &PartitionRoute) -> bool {
        let key = (route.topic.clone(), route.partition);
        match (self.topic_ids.get(&key).copied().flatten(), route.topic_id) {
            (Some(running), Some(now)) => running != now,
            _ => false,
        }
    }

    /// Whether the pipeline of `key` runs (or drains).
    pub(crate) fn contains(&self, key: &PartitionKey) -> bool {
        self.stops.contains_key(key)
    }

    /// The partitions whose pipelines run and are not stopping.
    pub(crate) fn active(&self) -> Vec<PartitionKey> {
        self.stops
            .iter()
            .filter(|(_, stop)| !*stop.borrow())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// How many pipelines are draining.
    pub(crate) fn stopping(&self) -> usize {
        self.stops.values().filter(|stop| *stop.borrow()).count()
    }

    /// Whether nothing runs.
    pub(crate) fn is_empty(&self) -> bool {
        self.stops.is_empty()
    }

    /// Starts the pipeline of `route`.
    pub(crate) fn start(&mut self, route: PartitionRoute) {
        let key = (route.topic.clone(), route.partition);
        if self.contains(&key) {
            return;
        }
        let (stop, stopped) = watch::channel(false);
        let ctx = Arc::new(PartitionContext {
            shutdown: stopped,
            ..(*self.shared).clone()
        });
        let done = key.clone();
        self.topic_ids.insert(key.clone(), route.topic_id);
        self.tasks.spawn(async move {
            run_partition(ctx, route).await;
            done
        });
        self.stops.insert(key.clone(), stop);
        lock(&self.owned).insert(key, 0);
    }

    /// Asks the pipeline of `key` to drain and stop.
    pub(crate) fn stop(&mut self, key: &PartitionKey) {
        if let Some(stop) = self.stops.get(key) {
            let _ = stop.send(true);
        }
    }

    /// Asks every pipeline to drain and stop.
    pub(crate) fn stop_all(&mut self) {
        for stop in self.stops.values() {
            let _ = stop.send(true);
        }
    }

    /// Waits for the next pipeline to end and forgets it; `None` when none runs.
    pub(crate) async fn next_finished(&mut self) -> Option<PartitionKey> {
        let key = match self.tasks.join_next().await? {
            Ok(key) => key,
            Err(e) => panic!("a partition pipeline panicked: {e}"),
        };
        self.stops.remove(&key);
        self.bytes_seen.remove(&key);
        self.topic_ids.remove(&key);
        lock(&self.owned).remove(&key);
        Some(key)
    }

    /// Waits until every pipeline has ended.
    pub(crate) async fn join_all(&mut self) {
        while self.next_finished().await.is_some() {}
    }

    /// Updates each partition's bytes per second from the acknowledged bytes since the last
    /// update, `elapsed_ms` ago.
    pub(crate) fn update_rates(&mut self, elapsed_ms: u64) {
        let stats = self.shared.stats.partitions();
        let mut owned = lock(&self.owned);
        for (key, state) in stats {
            let Some(rate) = owned.get_mut(&key) else {
                continue;
            };
            let bytes = state.snapshot(&key.0, key.1, 0).bytes;
            let before = self.bytes_seen.insert(key, bytes).unwrap_or(bytes);
            *rate = bytes.saturating_sub(before) * 1000 / elapsed_ms.max(1);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
