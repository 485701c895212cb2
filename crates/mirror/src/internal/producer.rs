//! The idempotent producer each internal-topic writer owns, and batch building.

use std::collections::VecDeque;

use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, RawBatch, Record};
use strait_kafka::{Cluster, InFlightBatch, Producer};
use tokio::sync::{Mutex, MutexGuard};

use super::InternalTopicError;

/// A lazily (re)created idempotent producer behind an async lock, which also serializes the
/// writer's flushes so writes of one key are never reordered.
#[derive(Debug)]
pub(crate) struct SharedProducer {
    cluster: Cluster,
    topic: String,
    slot: Mutex<Option<Producer>>,
}

/// Exclusive use of a [`SharedProducer`] for one flush.
pub(crate) struct ProducerGuard<'a> {
    owner: &'a SharedProducer,
    slot: MutexGuard<'a, Option<Producer>>,
}

impl SharedProducer {
    /// Obtains a producer id for writing `topic` on `cluster`.
    pub(crate) async fn open(cluster: &Cluster, topic: &str) -> Result<Self, InternalTopicError> {
        let shared = SharedProducer {
            cluster: cluster.clone(),
            topic: topic.to_owned(),
            slot: Mutex::new(None),
        };
        shared.lock().await.producer().await?;
        Ok(shared)
    }

    /// The cluster written to.
    pub(crate) fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The topic written to.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes one batch to `partition` and waits for its ack; after a failure the next write
    /// starts under a fresh producer id.
    pub(crate) async fn send_one(
        &self,
        partition: i32,
        batch: RawBatch,
    ) -> Result<(), InternalTopicError> {
        let mut guard = self.lock().await;
        let result = match guard.producer().await {
            Ok(producer) => send_batches(self, producer, &[(partition, batch)])
                .await
                .map_err(|(_, e)| e),
            Err(e) => Err(e),
        };
        if result.is_err() {
            guard.discard();
        }
        result
    }

    /// Waits for exclusive use of the producer.
    pub(crate) async fn lock(&self) -> ProducerGuard<'_> {
        ProducerGuard {
            owner: self,
            slot: self.slot.lock().await,
        }
    }
}

impl ProducerGuard<'_> {
    /// The producer, obtaining a new producer id if the last one was discarded.
    pub(crate) async fn producer(&mut self) -> Result<&Producer, InternalTopicError> {
        if self.slot.is_none() {
            let owner = self.owner;
            let producer = Producer::idempotent(&owner.cluster).await.map_err(|e| {
                InternalTopicError::kafka(&owner.cluster, &owner.topic, "init producer id", e)
            })?;
            *self.slot = Some(producer);
        }
        Ok(self.slot.as_ref().expect("producer was just set"))
    }

    /// Drops the producer after a failed write: its sequence numbers may be out of step with
    /// the broker, so the next write starts under a fresh producer id.
    pub(crate) fn discard(&mut self) {
        *self.slot = None;
    }
}

/// Batches a writer keeps unacknowledged at once (Kafka's idempotence limit per partition).
const MAX_IN_FLIGHT: usize = 5;

/// A failed [`send_batches`]: the index of the first batch not known to be stored, and why.
pub(crate) type SendFailure = (usize, InternalTopicError);

/// Writes `batches` (in order, several in flight) and waits for every acknowledgement.
pub(crate) async fn send_batches(
    owner: &SharedProducer,
    producer: &Producer,
    batches: &[(i32, RawBatch)],
) -> Result<(), SendFailure> {
    let topic = owner.topic();
    let error = |partition: i32, e| {
        let op = format!("produce to partition {partition}");
        InternalTopicError::kafka(owner.cluster(), topic, op, e)
    };
    let mut in_flight = VecDeque::with_capacity(MAX_IN_FLIGHT);
    for (index, (partition, batch)) in batches.iter().enumerate() {
        if in_flight.len() == MAX_IN_FLIGHT {
            let (first, partition, pending) = in_flight.pop_front().expect("window is full");
            wait(pending, first, partition, &error).await?;
        }
        let pending = match producer.submit(topic, *partition, batch).await {
            Ok(pending) => pending,
            Err(e) => {
                let first = in_flight.front().map_or(index, |(first, _, _)| *first);
                return Err((first, error(*partition, e)));
            }
        };
        in_flight.push_back((index, *partition, pending));
    }
    while let Some((first, partition, pending)) = in_flight.pop_front() {
        wait(pending, first, partition, &error).await?;
    }
    Ok(())
}

async fn wait(
    pending: InFlightBatch<'_>,
    index: usize,
    partition: i32,
    error: &impl Fn(i32, strait_kafka::Error) -> InternalTopicError,
) -> Result<(), SendFailure> {
    match pending.wait().await {
        Ok(_) => Ok(()),
        Err(e) => Err((index, error(partition, e))),
    }
}

/// A record to write: key and value (`None` for null).
pub(crate) type KeyValue = (Vec<u8>, Option<Vec<u8>>);

/// An uncompressed batch of `(key, value)` records with offsets 0.. and one timestamp.
pub(crate) fn build_batch(
    owner: &SharedProducer,
    partition: i32,
    entries: Vec<KeyValue>,
    timestamp: i64,
) -> Result<RawBatch, InternalTopicError> {
    let records = entries
        .into_iter()
        .zip(0..)
        .map(|((key, value), offset)| Record {
            offset,
            timestamp,
            key: Some(Bytes::from(key)),
            value: value.map(Bytes::from),
            headers: Vec::new(),
        })
        .collect();
    build_records_batch(owner, partition, records)
}

/// An uncompressed batch of `records` (offsets 0.., as given).
pub(crate) fn build_records_batch(
    owner: &SharedProducer,
    partition: i32,
    records: Vec<Record>,
) -> Result<RawBatch, InternalTopicError> {
    BatchBuilder {
        records,
        ..BatchBuilder::default()
    }
    .encode()
    .map_err(|e| {
        let (cluster, topic) = (owner.cluster(), owner.topic());
        InternalTopicError::batch(cluster, topic, partition, "encode batch", e)
    })
}
