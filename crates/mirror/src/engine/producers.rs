//! The flow's shared idempotent producer: every partition pipeline writes with one producer id
//! (its sequence numbers are per partition), so 10,000 partitions take one InitProducerId at
//! start, not 10,000, and the target's brokers keep one producer's state per partition.
//!
//! A partition that leaves the producer with unknown state on the target (a failed write, or
//! batches whose acknowledgement never came) never writes with it again: the broker may hold
//! sequence numbers the producer no longer agrees with. It asks for a newer producer, which the
//! first such partition takes (one more InitProducerId) and the next ones share; partitions
//! that did not fail keep writing with the older one. A partition thus only ever moves to newer
//! producers, so none of them writes a partition it left behind.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use strait_kafka::Producer;
use tokio::sync::Mutex;

use crate::group::assignor::PartitionKey;

/// A producer a pipeline writes with: the flow's shared one (with its generation), or one of
/// its own (exactly-once mode's transactional producer).
pub(crate) struct Lent<P = Producer> {
    producer: Arc<P>,
    generation: Option<u64>,
}

impl<P> Lent<P> {
    /// A producer the pipeline alone writes with.
    pub(crate) fn own(producer: P) -> Lent<P> {
        Lent {
            producer: Arc::new(producer),
            generation: None,
        }
    }
}

impl<P> Deref for Lent<P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.producer
    }
}

/// The flow's shared producers (generic so the rules are tested without a cluster).
pub(crate) struct SharedProducers<P = Producer> {
    state: Mutex<State<P>>,
}

impl<P> Default for SharedProducers<P> {
    fn default() -> Self {
        SharedProducers {
            state: Mutex::new(State {
                current: None,
                oldest_allowed: HashMap::new(),
            }),
        }
    }
}

struct State<P> {
    /// The newest producer and its generation (generations count from 1).
    current: Option<(u64, Arc<P>)>,
    /// The oldest generation each partition may still write with (past one it left with
    /// unknown state).
    oldest_allowed: HashMap<PartitionKey, u64>,
}

impl<P> SharedProducers<P> {
    /// The producer `key` writes with: the newest, made by `make` when there is none yet or
    /// `key` has left it behind. Callers wait for each other, so a flow's partitions starting
    /// together make one producer.
    pub(crate) async fn lend<E, F>(
        &self,
        key: &PartitionKey,
        make: impl FnOnce() -> F,
    ) -> Result<Lent<P>, E>
    where
        F: Future<Output = Result<P, E>>,
    {
        let mut state = self.state.lock().await;
        let allowed = state.oldest_allowed.get(key).copied().unwrap_or(1);
        if let Some((generation, producer)) = &state.current {
            if *generation >= allowed {
                return Ok(Lent {
                    producer: producer.clone(),
                    generation: Some(*generation),
                });
            }
        }
        let generation = state
            .current
            .as_ref()
            .map_or(1, |(g, _)| g + 1)
            .max(allowed);
        let producer = Arc::new(make().await?);
        state.current = Some((generation, producer.clone()));
        Ok(Lent {
            producer,
            generation: Some(generation),
        })
    }

    /// `key` leaves `lent` with unknown state on the target: it writes with a newer producer
    /// from now on. Nothing to do for a producer of the pipeline's own.
    pub(crate) async fn retire(&self, key: &PartitionKey, lent: &Lent<P>) {
        let Some(generation) = lent.generation else {
            return;
        };
        let mut state = self.state.lock().await;
        let allowed = state.oldest_allowed.entry(key.clone()).or_insert(1);
        *allowed = (*allowed).max(generation + 1);
    }

    /// How many producers the flow has taken so far.
    #[cfg(test)]
    async fn generations(&self) -> u64 {
        self.state
            .lock()
            .await
            .current
            .as_ref()
            .map_or(0, |(g, _)| *g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lends to `partition`, making producer `made` when a new one is needed.
    async fn lend(shared: &SharedProducers<u32>, partition: i32, made: u32) -> Lent<u32> {
        shared
            .lend(
                &("t".to_owned(), partition),
                || async move { Ok::<_, ()>(made) },
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn partitions_share_one_producer_until_one_leaves_it() {
        let shared = SharedProducers::default();
        let p0 = lend(&shared, 0, 100).await;
        let p1 = lend(&shared, 1, 101).await;
        assert_eq!((*p0, *p1), (100, 100), "one producer for all");
        assert_eq!(shared.generations().await, 1);

        shared.retire(&("t".to_owned(), 0), &p0).await;
        let again = lend(&shared, 0, 102).await;
        assert_eq!(*again, 102, "a partition that left one gets a newer one");
        assert_eq!(
            *lend(&shared, 1, 103).await,
            102,
            "the others take the newest"
        );
        shared.retire(&("t".to_owned(), 1), &p1).await;
        assert_eq!(
            *lend(&shared, 1, 104).await,
            102,
            "leaving the older one needs no new producer"
        );
        assert_eq!(shared.generations().await, 2);

        shared.retire(&("t".to_owned(), 0), &again).await;
        shared.retire(&("t".to_owned(), 0), &p0).await;
        assert_eq!(
            *lend(&shared, 0, 105).await,
            105,
            "never back to an older one"
        );
        assert_eq!(shared.generations().await, 3);
    }

    #[tokio::test]
    async fn own_producers_are_never_shared_or_retired() {
        let shared = SharedProducers::default();
        let own = Lent::own(7u32);
        shared.retire(&("t".to_owned(), 0), &own).await;
        assert_eq!(*lend(&shared, 0, 1).await, 1);
        assert_eq!(shared.generations().await, 1);
    }

    #[tokio::test]
    async fn a_failed_make_leaves_nothing_behind() {
        let shared: SharedProducers<u32> = SharedProducers::default();
        let failed = shared
            .lend(&("t".to_owned(), 0), || async { Err::<u32, _>("down") })
            .await;
        assert!(failed.is_err());
        assert_eq!(shared.generations().await, 0);
        assert_eq!(*lend(&shared, 0, 9).await, 9);
    }
}
