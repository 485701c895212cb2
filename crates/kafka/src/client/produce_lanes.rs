//! One lane of Produce requests per broker and producer: the batches a producer writes to a
//! broker while its previous request is being written go out together in the next Produce
//! request, in the order they were written and at most one per partition (Produce v3 and later
//! take one batch per partition), so 10,000 partitions writing at once cost a few requests,
//! not 10,000. Each batch gets its own partition's answer; a request that fails fails each
//! of its batches, which their writers retry as before.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName, TransactionalId};
use tokio::sync::{mpsc, oneshot};

use super::str_bytes;
use crate::error::{Error, Result};
use crate::net::{Carried, Connection};

/// A request stops taking batches once it holds this many bytes (the first always goes).
const REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// The answer to one written batch: its partition's entry in the Produce response.
pub(super) type Answer = oneshot::Receiver<Result<PartitionProduceResponse>>;

/// How every request of a producer looks.
#[derive(Debug, Clone)]
pub(super) struct RequestShape {
    /// The transactional id, if the producer has one.
    pub(super) transactional_id: Option<String>,
    /// The broker's time to replicate before answering (`acks=all`).
    pub(super) timeout_ms: i32,
}

/// A batch on its way to a broker.
struct Outgoing {
    conn: Arc<Connection>,
    topic: String,
    partition: i32,
    batch: Carried,
    answer: oneshot::Sender<Result<PartitionProduceResponse>>,
}

/// A producer's lanes, one per broker, each drained by a task of its own that ends with the
/// producer.
#[derive(Debug)]
pub(super) struct Lanes {
    shape: RequestShape,
    lanes: Mutex<HashMap<i32, mpsc::UnboundedSender<Outgoing>>>,
}

impl Lanes {
    /// No lanes yet; each opens at its broker's first batch.
    pub(super) fn new(shape: RequestShape) -> Lanes {
        Lanes {
            shape,
            lanes: Mutex::default(),
        }
    }

    /// Queues `batch` for `topic`/`partition` on `broker` (reached over `conn`). Batches of
    /// one partition queued in order are written in that order.
    pub(super) fn write(
        &self,
        broker: i32,
        conn: Arc<Connection>,
        topic: &str,
        partition: i32,
        batch: Carried,
    ) -> Answer {
        let (answer, answered) = oneshot::channel();
        let mut outgoing = Outgoing {
            conn,
            topic: topic.to_owned(),
            partition,
            batch,
            answer,
        };
        let mut lanes = self.lanes.lock().expect("lanes lock");
        // A lane whose task has ended (never while the producer lives) is opened again.
        for _ in 0..2 {
            let lane = lanes.entry(broker).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(drain(self.shape.clone(), rx));
                tx
            });
            match lane.send(outgoing) {
                Ok(()) => break,
                Err(mpsc::error::SendError(back)) => {
                    lanes.remove(&broker);
                    outgoing = back;
                }
            }
        }
        answered
    }
}

/// Writes what the lane holds, a request at a time, until the producer is gone.
async fn drain(shape: RequestShape, mut queue: mpsc::UnboundedReceiver<Outgoing>) {
    let mut carried: Option<Outgoing> = None;
    loop {
        let first = match carried.take() {
            Some(outgoing) => outgoing,
            None => match queue.recv().await {
                Some(outgoing) => outgoing,
                None => return,
            },
        };
        let (request, next) = gather(
            first,
            || queue.try_recv().ok(),
            |o| Shape {
                partition: (o.topic.clone(), o.partition),
                conn: Arc::as_ptr(&o.conn) as usize,
                bytes: o.batch.named_by().len(),
            },
        );
        carried = next;
        send(&shape, request).await;
    }
}

/// What gathering looks at in a queued batch.
struct Shape {
    partition: (String, i32),
    /// The connection, by address.
    conn: usize,
    bytes: usize,
}

/// One request's batches: `first`, then what is queued (`next`) in order, until a second batch
/// of a partition, a batch for another connection, or [`REQUEST_BYTES`]; the batch that ended
/// it starts the next request.
fn gather<T>(
    first: T,
    mut next: impl FnMut() -> Option<T>,
    shape: impl Fn(&T) -> Shape,
) -> (Vec<T>, Option<T>) {
    let Shape {
        partition,
        conn,
        mut bytes,
    } = shape(&first);
    let mut named = HashSet::from([partition]);
    let mut request = vec![first];
    while bytes < REQUEST_BYTES {
        let Some(queued) = next() else {
            break;
        };
        let of = shape(&queued);
        if of.conn != conn || !named.insert(of.partition) {
            return (request, Some(queued));
        }
        bytes += of.bytes;
        request.push(queued);
    }
    (request, None)
}

/// Writes one request; its answer is spread to the batches' writers by a task of its own, so
/// the next request is written meanwhile.
async fn send(shape: &RequestShape, batches: Vec<Outgoing>) {
    let conn = batches[0].conn.clone();
    let mut topics: BTreeMap<&str, Vec<&Outgoing>> = BTreeMap::new();
    for b in &batches {
        topics.entry(&b.topic).or_default().push(b);
    }
    // In the order the codec writes them.
    let carried = topics.values().flatten().map(|b| b.batch.clone()).collect();
    let request = ProduceRequest::default()
        .with_transactional_id(
            shape
                .transactional_id
                .as_deref()
                .map(|id| TransactionalId(str_bytes(id))),
        )
        .with_acks(-1)
        .with_timeout_ms(shape.timeout_ms)
        .with_topic_data(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    TopicProduceData::default()
                        .with_name(TopicName(str_bytes(name)))
                        .with_partition_data(
                            partitions
                                .into_iter()
                                .map(|b| {
                                    PartitionProduceData::default()
                                        .with_index(b.partition)
                                        .with_records(Some(b.batch.named_by().clone()))
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    match conn.submit_carrying(&request, carried).await {
        Ok(pending) => {
            tokio::spawn(async move { answer(batches, pending.wait().await) });
        }
        Err(e) => answer(batches, Err(e)),
    }
}

/// Gives each batch its partition's entry of `response`, or the request's error.
fn answer(batches: Vec<Outgoing>, response: Result<ProduceResponse>) {
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            for b in batches {
                let _ = b.answer.send(Err(copy_for_each(&e, &b.conn)));
            }
            return;
        }
    };
    let mut entries: HashMap<(String, i32), PartitionProduceResponse> = HashMap::new();
    for topic in response.responses {
        let name = topic.name.0.to_string();
        for p in topic.partition_responses {
            entries.insert((name.clone(), p.index), p);
        }
    }
    for b in batches {
        let entry = entries
            .remove(&(b.topic.clone(), b.partition))
            .ok_or_else(|| Error::Metadata {
                cluster: b.conn.cluster().to_owned(),
                what: format!(
                    "produce response of broker {} lacks topic {} partition {}",
                    b.conn.broker(),
                    b.topic,
                    b.partition
                ),
            });
        let _ = b.answer.send(entry);
    }
}

/// The same failure, for each batch of a failed request on `conn` (errors are not `Clone`:
/// some carry an `io::Error`). Writing a request on an open connection fails in these ways
/// (re-authentication included); anything else is told as a lost connection with its message.
fn copy_for_each(e: &Error, conn: &Connection) -> Error {
    match e {
        Error::ConnectionLost {
            cluster,
            broker,
            reason,
        } => Error::ConnectionLost {
            cluster: cluster.clone(),
            broker: broker.clone(),
            reason: reason.clone(),
        },
        Error::Timeout {
            cluster,
            broker,
            api,
            timeout,
        } => Error::Timeout {
            cluster: cluster.clone(),
            broker: broker.clone(),
            api,
            timeout: *timeout,
        },
        Error::Protocol {
            cluster,
            broker,
            api,
            version,
            reason,
        } => Error::Protocol {
            cluster: cluster.clone(),
            broker: broker.clone(),
            api,
            version: *version,
            reason: reason.clone(),
        },
        Error::UnsupportedApi {
            cluster,
            broker,
            api,
            min,
            max,
        } => Error::UnsupportedApi {
            cluster: cluster.clone(),
            broker: broker.clone(),
            api,
            min: *min,
            max: *max,
        },
        Error::Auth {
            cluster,
            broker,
            mechanism,
            reason,
        } => Error::Auth {
            cluster: cluster.clone(),
            broker: broker.clone(),
            mechanism,
            reason: reason.clone(),
        },
        other => Error::ConnectionLost {
            cluster: conn.cluster().to_owned(),
            broker: conn.broker().to_owned(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (partition, connection, bytes)
    type Queued = (i32, usize, usize);

    fn gathered(queue: &[Queued]) -> Vec<Vec<i32>> {
        let mut queue = queue.iter().copied();
        let mut requests = Vec::new();
        let mut carried = None;
        while let Some(first) = carried.take().or_else(|| queue.next()) {
            let (request, next) = gather(
                first,
                || queue.next(),
                |&(p, conn, bytes)| Shape {
                    partition: ("t".to_owned(), p),
                    conn,
                    bytes,
                },
            );
            requests.push(request.iter().map(|q| q.0).collect());
            carried = next;
        }
        requests
    }

    #[test]
    fn batches_queued_meanwhile_share_a_request_one_per_partition_in_order() {
        let kib = 1024;
        assert_eq!(
            gathered(&[(0, 1, kib), (1, 1, kib), (2, 1, kib)]),
            vec![vec![0, 1, 2]],
            "three partitions: one request"
        );
        assert_eq!(
            gathered(&[(0, 1, kib), (1, 1, kib), (0, 1, kib), (2, 1, kib)]),
            vec![vec![0, 1], vec![0, 2]],
            "a partition's second batch starts the next request, nothing overtakes it"
        );
        assert_eq!(
            gathered(&[(0, 1, kib), (1, 2, kib), (2, 2, kib)]),
            vec![vec![0], vec![1, 2]],
            "a new connection starts a new request"
        );
        assert_eq!(
            gathered(&[
                (0, 1, REQUEST_BYTES),
                (1, 1, kib),
                (2, 1, REQUEST_BYTES - kib),
                (3, 1, 1)
            ]),
            vec![vec![0], vec![1, 2], vec![3]],
            "a full request takes nothing more; a batch over the limit still goes alone"
        );
    }
}
