//! The idempotent producer of raw record batches: one producer id, per-partition sequence
//! numbers, several requests in flight, acks=all. A forwarded batch gets this producer's id,
//! epoch and sequence (and a new CRC) in a header of its own; its records are untouched, and
//! not copied: they go to the socket from the buffer they were fetched into.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::InitProducerIdRequest;
use tokio::sync::Mutex as AsyncMutex;

use super::cluster::Cluster;
use super::produce_lanes::{Answer, Lanes, RequestShape};
use super::{Lease, RequiredAcl};
use crate::batch::{ProducerFields, RawBatch};
use crate::error::{Error, Result};
use crate::net::Carried;

/// The broker's acknowledgement of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceAck {
    /// Offset the target assigned to the batch's first record.
    pub base_offset: i64,
    /// Broker append time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
}

/// One partition's sequence state, locked while a batch is assigned and written.
#[derive(Debug, Default)]
struct PartitionSequence {
    /// The base sequence of the next batch.
    next: i32,
    /// Whether a batch of this producer was acknowledged on the partition.
    acknowledged: bool,
}

type NextSequence = Arc<AsyncMutex<PartitionSequence>>;

/// An idempotent (optionally transactional) producer on one cluster.
#[derive(Debug)]
pub struct Producer {
    cluster: Cluster,
    pub(super) transactional_id: Option<String>,
    pub(super) producer_id: i64,
    pub(super) producer_epoch: i16,
    sequences: Mutex<HashMap<(String, i32), NextSequence>>,
    /// One lane of Produce requests per broker.
    lanes: Lanes,
    lease: Option<Lease>,
    /// The transaction coordinator last found for the transactional id.
    pub(super) coordinator: Mutex<Option<i32>>,
}

/// A batch written to the partition leader whose acknowledgement is still to come.
#[must_use = "a batch is only known to be stored once its acknowledgement arrives"]
pub struct InFlightBatch<'a> {
    producer: &'a Producer,
    topic: String,
    partition: i32,
    batch: Rewritten,
    pending: Pending,
}

/// A batch as this producer writes it: the given batch with a rewritten header.
struct Rewritten {
    batch: RawBatch,
    header: Bytes,
}

impl Rewritten {
    /// The request's bytes: named by the given batch, the new header in place of its own.
    fn carried(&self) -> Carried {
        Carried::in_place_of(
            self.batch.bytes().clone(),
            vec![self.header.clone(), self.batch.records_section()],
        )
    }
}

/// The acknowledgement of a submitted batch: still to come, or already received (the first
/// batch of a producer on a partition is written alone, see [`Producer::submit`]).
enum Pending {
    Written(Answer),
    Acknowledged(ProduceAck),
}

impl Producer {
    /// Obtains a producer id (InitProducerId without a transactional id).
    pub async fn idempotent(cluster: &Cluster) -> Result<Producer> {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(-1);
        let response = cluster
            .with_retries("init producer id", || async {
                let response = cluster.send_any(&request).await?;
                match cluster.broker_error("init producer id", response.error_code, None) {
                    // Kafka 2.8+ also accepts Write on any topic instead.
                    Some(e) => {
                        Err(cluster.explain_denial(e, &[RequiredAcl::cluster("IdempotentWrite")]))
                    }
                    None => Ok(response),
                }
            })
            .await?;
        Ok(Producer::new(cluster, None, &response))
    }

    pub(super) fn new(
        cluster: &Cluster,
        transactional_id: Option<String>,
        response: &kafka_protocol::messages::InitProducerIdResponse,
    ) -> Producer {
        let lanes = Lanes::new(RequestShape {
            transactional_id: transactional_id.clone(),
            timeout_ms: cluster.config().request_timeout.as_millis() as i32,
        });
        Producer {
            cluster: cluster.clone(),
            transactional_id,
            producer_id: response.producer_id.0,
            producer_epoch: response.producer_epoch,
            sequences: Mutex::default(),
            lanes,
            lease: None,
            coordinator: Mutex::default(),
        }
    }

    /// This producer writes only while `lease` is valid: every write (retries included) is
    /// refused with [`Error::LeaseLapsed`] once it lapsed.
    pub fn with_lease(mut self, lease: Lease) -> Producer {
        self.lease = Some(lease);
        self
    }

    /// What writing to `topic` needs: Write on it, and on the transactional id if there is one.
    fn write_acls(&self, topic: &str) -> Vec<RequiredAcl> {
        let mut acls = vec![RequiredAcl::topic("Write", topic)];
        if let Some(id) = &self.transactional_id {
            acls.push(RequiredAcl::transactional_id("Write", id));
        }
        acls
    }

    /// The producer id the cluster assigned.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// The producer epoch.
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }

    /// The cluster this producer writes to.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Writes `batch` to `topic`/`partition` under this producer's identity and the partition's
    /// next sequence number. Returns once the request is written; calls for one partition must
    /// be made (and their acknowledgements awaited) in order.
    ///
    /// The first batch of this producer on a partition is also acknowledged before this returns:
    /// Kafka accepts any sequence number from a producer it keeps no state for, so were that
    /// first batch refused with a retriable error (a new topic's leader not serving yet), a
    /// second one in flight could be stored before it, and the retried first one then refused
    /// as out of order.
    pub async fn submit(
        &self,
        topic: &str,
        partition: i32,
        batch: &RawBatch,
    ) -> Result<InFlightBatch<'_>> {
        if batch.magic() != 2 {
            return Err(Error::Batch {
                cluster: self.cluster.name().to_owned(),
                op: format!("produce to topic {topic} partition {partition}"),
                source: crate::batch::BatchError::UnsupportedMagic {
                    offset: batch.base_offset(),
                    magic: batch.magic(),
                },
            });
        }
        let sequence = self
            .sequences
            .lock()
            .expect("sequences lock")
            .entry((topic.to_owned(), partition))
            .or_default()
            .clone();
        let mut sequence = sequence.lock().await;
        let header = batch
            .rewritten_header(&ProducerFields {
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                base_sequence: sequence.next,
                transactional: self.transactional_id.is_some(),
            })
            .expect("a v2 batch has a header to rewrite");
        let batch = Rewritten {
            batch: batch.clone(),
            header,
        };
        let written = self
            .cluster
            .with_retries("produce", || self.write(topic, partition, &batch))
            .await?;
        sequence.next = increment_sequence(sequence.next, batch.batch.record_count());
        let mut sent = InFlightBatch {
            producer: self,
            topic: topic.to_owned(),
            partition,
            batch,
            pending: Pending::Written(written),
        };
        if !sequence.acknowledged {
            // Still holding the partition's lock: nothing else is written meanwhile.
            let (ack, batch) = sent.acknowledge().await?;
            sequence.acknowledged = true;
            sent = InFlightBatch {
                producer: self,
                topic: topic.to_owned(),
                partition,
                batch,
                pending: Pending::Acknowledged(ack),
            };
        }
        Ok(sent)
    }

    /// Writes one batch and waits for its acknowledgement.
    pub async fn send(&self, topic: &str, partition: i32, batch: &RawBatch) -> Result<ProduceAck> {
        self.submit(topic, partition, batch).await?.wait().await
    }

    async fn write(&self, topic: &str, partition: i32, batch: &Rewritten) -> Result<Answer> {
        if let Some(lease) = self.lease.as_ref().filter(|l| !l.is_valid()) {
            return Err(Error::LeaseLapsed {
                cluster: self.cluster.name().to_owned(),
                op: format!("produce to topic {topic} partition {partition}"),
                holder: lease.holder().to_owned(),
            });
        }
        let (leader, conn) = self.cluster.leader(topic, partition).await?;
        Ok(self
            .lanes
            .write(leader, conn, topic, partition, batch.carried()))
    }
}

impl InFlightBatch<'_> {
    /// Waits for the acknowledgement, re-sending the same batch (same sequence) on retriable
    /// errors such as a leader move, so nothing is duplicated or reordered.
    pub async fn wait(self) -> Result<ProduceAck> {
        self.acknowledge().await.map(|(ack, _)| ack)
    }

    /// [`InFlightBatch::wait`], handing the batch back too.
    async fn acknowledge(self) -> Result<(ProduceAck, Rewritten)> {
        let InFlightBatch {
            producer,
            topic,
            partition,
            batch,
            pending,
        } = self;
        let pending = match pending {
            Pending::Acknowledged(ack) => return Ok((ack, batch)),
            Pending::Written(written) => written,
        };
        let cluster = &producer.cluster;
        let op = || {
            format!(
                "produce {} records to topic {topic} partition {partition}",
                batch.batch.record_count()
            )
        };
        let mut pending = Some(pending);
        cluster
            .with_retries("produce", || {
                let first = pending.take();
                let (topic, batch) = (&topic, &batch);
                async move {
                    let pending = match first {
                        Some(p) => p,
                        None => producer.write(topic, partition, batch).await?,
                    };
                    let p = pending.await.map_err(|_| Error::ConnectionLost {
                        cluster: cluster.name().to_owned(),
                        broker: "(its leader)".to_owned(),
                        reason: format!(
                            "the produce request carrying topic {topic} partition {partition} was dropped"
                        ),
                    })??;
                    match ResponseError::try_from_code(p.error_code) {
                        None => Ok(ProduceAck {
                            base_offset: p.base_offset,
                            log_append_time: p.log_append_time_ms,
                        }),
                        Some(code) => {
                            let error = Error::Broker {
                                cluster: cluster.name().to_owned(),
                                op: op(),
                                code,
                                message: p.error_message.as_ref().map(|m| m.to_string()),
                                denied: None,
                            };
                            Err(cluster.explain_denial(error, &producer.write_acls(topic)))
                        }
                    }
                }
            })
            .await
            .map(|ack| (ack, batch))
    }

    /// The batch as given (as sent but for its producer fields, sequence and CRC).
    pub fn batch(&self) -> &RawBatch {
        &self.batch.batch
    }
}

/// Kafka's sequence arithmetic: sequences wrap from `i32::MAX` to 0.
pub(crate) fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment_sequence(0, 5), 5);
        assert_eq!(increment_sequence(i32::MAX - 1, 1), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 2, 5), 2);
    }

    #[test]
    fn out_of_order_is_retried() {
        // A predecessor being retried makes the broker answer OUT_OF_ORDER for its successors.
        assert!(crate::error::is_retriable_code(
            ResponseError::OutOfOrderSequenceNumber
        ));
    }
}
