//! Fetch of raw record batches (read_committed by default), per partition, without decoding them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};

use super::cluster::Cluster;
use super::fetch_session::{FetchSession, SessionRequest};
use super::str_bytes;
use super::RequiredAcl;
use crate::batch::{split_batches, SplitBatches};
use crate::error::{Error, Result};

/// Which records a fetch may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Everything up to the high watermark, aborted transactions included.
    ReadUncommitted,
    /// Only up to the last stable offset; the response lists aborted transactions.
    ReadCommitted,
}

/// Request-wide fetch settings.
#[derive(Debug, Clone, Copy)]
pub struct FetchOptions {
    /// How long the broker may wait for `min_bytes`.
    pub max_wait: Duration,
    /// Bytes the broker waits for before answering.
    pub min_bytes: i32,
    /// Upper bound for the whole response (brokers may exceed it to return one batch).
    pub max_bytes: i32,
    /// Isolation level.
    pub isolation: Isolation,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            isolation: Isolation::ReadCommitted,
        }
    }
}

/// Where to fetch one partition from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPosition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// First offset wanted.
    pub offset: i64,
    /// Upper bound of bytes for this partition.
    pub max_bytes: i32,
    /// The leader epoch of the last batch read before `offset`, if known: the leader then says
    /// when its log no longer holds that epoch up to `offset` (KIP-320, Fetch v12), as after an
    /// unclean leader election.
    pub last_fetched_epoch: Option<i32>,
}

impl FetchPosition {
    /// Up to `max_bytes` of `topic`-`partition` from `offset`, no epoch to validate.
    pub fn new(topic: &str, partition: i32, offset: i64, max_bytes: i32) -> Self {
        FetchPosition {
            topic: topic.to_owned(),
            partition,
            offset,
            max_bytes,
            last_fetched_epoch: None,
        }
    }
}

/// Where the leader's log stops agreeing with what was read (Fetch v12's diverging epoch): the
/// largest epoch up to the last fetched one, and its end offset; records from `end_offset` on
/// are not the ones read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivergingEpoch {
    /// The epoch.
    pub epoch: i32,
    /// Its end offset on the leader.
    pub end_offset: i64,
}

/// A transaction the broker reports as aborted within the fetched range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTransaction {
    /// Producer whose transaction aborted.
    pub producer_id: i64,
    /// First offset of the aborted transaction.
    pub first_offset: i64,
}

/// What one partition returned.
#[derive(Debug, Clone)]
pub struct PartitionFetch {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The offset that was asked for.
    pub fetch_offset: i64,
    /// Error for this partition, if any.
    pub error: Option<ResponseError>,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset (-1 if the broker does not report it).
    pub last_stable_offset: i64,
    /// Log start offset (-1 if unknown).
    pub log_start_offset: i64,
    /// Aborted transactions overlapping the returned records (read_committed only).
    pub aborted: Vec<AbortedTransaction>,
    /// Set when the position's last fetched epoch no longer leads up to it on the leader.
    pub diverging: Option<DivergingEpoch>,
    /// Raw record batches, possibly ending in a truncated batch.
    pub records: Bytes,
}

impl PartitionFetch {
    /// The whole batches of this response at or after the fetch offset.
    pub fn batches(&self) -> SplitBatches {
        split_batches(&self.records, self.fetch_offset)
    }
}

/// The epoch of a request outside any session.
const SESSIONLESS: i32 = -1;

/// Whether the broker no longer holds the session the request named, or refused its epoch:
/// a new session, not a failure.
fn is_lost_session(e: &Error) -> bool {
    matches!(
        e,
        Error::Broker {
            code: ResponseError::FetchSessionIdNotFound | ResponseError::InvalidFetchSessionEpoch,
            ..
        }
    )
}

impl Cluster {
    /// One Fetch request to broker `broker` for partitions it leads. Partition-level errors are
    /// returned in each [`PartitionFetch`], so one failing partition never hides the others.
    /// Where the answer shows the metadata is stale (a request or partition error saying so, a
    /// partition left out), metadata is refreshed before this returns, so the caller's next
    /// [`Cluster::leader_id`] sees the move.
    pub async fn fetch_from(
        &self,
        broker: i32,
        positions: &[FetchPosition],
        options: &FetchOptions,
    ) -> Result<Vec<PartitionFetch>> {
        let request = SessionRequest {
            id: 0,
            epoch: SESSIONLESS,
            named: (0..positions.len()).collect(),
            forget: Vec::new(),
        };
        let result = self
            .fetch_once(broker, positions, &request, options)
            .await
            .map(|(_, fetched)| fetched);
        self.refresh_if_stale(positions, &result).await;
        result
    }

    /// As [`Cluster::fetch_from`], within `session` (KIP-227): once the broker holds the
    /// session, a request names only partitions new to it or asking from another offset, and
    /// the broker answers only partitions with news; the others are answered from what it last
    /// reported. The session is used by one request at a time. A broker that lost the session
    /// or refused its epoch is asked again with a new one; any failed request resets it.
    pub async fn fetch_in_session(
        &self,
        broker: i32,
        session: &mut FetchSession,
        positions: &[FetchPosition],
        options: &FetchOptions,
    ) -> Result<Vec<PartitionFetch>> {
        let mut result = self
            .fetch_session_once(broker, session, positions, options)
            .await;
        if result.as_ref().is_err_and(is_lost_session) {
            result = self
                .fetch_session_once(broker, session, positions, options)
                .await;
        }
        self.refresh_if_stale(positions, &result).await;
        result
    }

    /// Closes `session` on `broker` (KIP-227's final epoch), so the broker frees its slot at
    /// once instead of when its cache evicts it (as the Java consumer does when it closes);
    /// the session is forgotten whatever the answer. Nothing is sent when none is open.
    pub async fn close_fetch_session(&self, broker: i32, session: &mut FetchSession) -> Result<()> {
        let Some(request) = session.close() else {
            return Ok(());
        };
        let options = FetchOptions {
            max_wait: Duration::ZERO,
            ..FetchOptions::default()
        };
        self.fetch_once(broker, &[], &request, &options)
            .await
            .map(|_| ())
    }

    async fn fetch_session_once(
        &self,
        broker: i32,
        session: &mut FetchSession,
        positions: &[FetchPosition],
        options: &FetchOptions,
    ) -> Result<Vec<PartitionFetch>> {
        let request = session.plan(positions);
        match self.fetch_once(broker, positions, &request, options).await {
            Ok((answered_id, answered)) => {
                Ok(session.complete(&request, positions, answered_id, answered))
            }
            Err(e) => {
                session.reset();
                Err(e)
            }
        }
    }

    async fn refresh_if_stale(
        &self,
        positions: &[FetchPosition],
        result: &Result<Vec<PartitionFetch>>,
    ) {
        let stale = match result {
            Ok(fetched) => {
                fetched.len() < positions.len()
                    || fetched
                        .iter()
                        .any(|f| f.error.is_some_and(crate::is_stale_metadata_code))
            }
            Err(e) => e.needs_metadata_refresh(),
        };
        if stale {
            let _ = self.refresh_metadata().await;
        }
    }

    /// One Fetch request naming `request.named` of `positions`; the broker's session id and the
    /// partitions it answered.
    async fn fetch_once(
        &self,
        broker: i32,
        positions: &[FetchPosition],
        request: &SessionRequest,
        options: &FetchOptions,
    ) -> Result<(i32, Vec<PartitionFetch>)> {
        let mut topics: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
        for p in request.named.iter().map(|&i| &positions[i]) {
            topics.entry(&p.topic).or_default().push(
                FetchPartition::default()
                    .with_partition(p.partition)
                    .with_fetch_offset(p.offset)
                    .with_last_fetched_epoch(p.last_fetched_epoch.unwrap_or(-1))
                    .with_partition_max_bytes(p.max_bytes),
            );
        }
        let mut forgotten: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in &request.forget {
            forgotten.entry(topic).or_default().push(*partition);
        }
        let fetch = FetchRequest::default()
            .with_max_wait_ms(options.max_wait.as_millis() as i32)
            .with_min_bytes(options.min_bytes)
            .with_max_bytes(options.max_bytes)
            .with_isolation_level(match options.isolation {
                Isolation::ReadUncommitted => 0,
                Isolation::ReadCommitted => 1,
            })
            .with_session_id(request.id)
            .with_session_epoch(request.epoch)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(topic, partitions)| {
                        FetchTopic::default()
                            .with_topic(TopicName(str_bytes(topic)))
                            .with_partitions(partitions)
                    })
                    .collect(),
            )
            .with_forgotten_topics_data(
                forgotten
                    .into_iter()
                    .map(|(topic, partitions)| {
                        ForgottenTopic::default()
                            .with_topic(TopicName(str_bytes(topic)))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let conn = self.broker(broker).await?;
        let version = conn.version_for::<FetchRequest>()?;
        let response = conn
            .submit_with_wait(&fetch, version, options.max_wait)
            .await?
            .wait()
            .await?;
        if let Some(e) = self.broker_error(
            format!("fetch from broker {broker}"),
            response.error_code,
            None,
        ) {
            return Err(e);
        }
        // One lookup per answered partition: a fetch may carry thousands.
        let asked: HashMap<(&str, i32), i64> = positions
            .iter()
            .map(|p| ((p.topic.as_str(), p.partition), p.offset))
            .collect();
        let mut out = Vec::with_capacity(request.named.len());
        for topic in response.responses {
            let name = topic.topic.0.to_string();
            for p in topic.partitions {
                let fetch_offset = asked
                    .get(&(name.as_str(), p.partition_index))
                    .copied()
                    .unwrap_or(-1);
                out.push(PartitionFetch {
                    topic: name.clone(),
                    partition: p.partition_index,
                    fetch_offset,
                    error: ResponseError::try_from_code(p.error_code),
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                    aborted: p
                        .aborted_transactions
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| AbortedTransaction {
                            producer_id: a.producer_id.0,
                            first_offset: a.first_offset,
                        })
                        .collect(),
                    diverging: (p.diverging_epoch.epoch >= 0 && p.diverging_epoch.end_offset >= 0)
                        .then_some(DivergingEpoch {
                            epoch: p.diverging_epoch.epoch,
                            end_offset: p.diverging_epoch.end_offset,
                        }),
                    records: p.records.unwrap_or_default(),
                });
            }
        }
        Ok((response.session_id, out))
    }

    /// Fetches one partition from its leader, retrying leader moves and other retriable errors.
    /// A partition-level error such as OFFSET_OUT_OF_RANGE is returned as an [`Error::Broker`]
    /// naming the topic, partition and offset.
    pub async fn fetch(
        &self,
        position: &FetchPosition,
        options: &FetchOptions,
    ) -> Result<PartitionFetch> {
        self.with_retries("fetch", || async {
            let (leader, _) = self.leader(&position.topic, position.partition).await?;
            let mut fetched = self
                .fetch_from(leader, std::slice::from_ref(position), options)
                .await?;
            let fetched = fetched.pop().ok_or_else(|| Error::Metadata {
                cluster: self.name().to_owned(),
                what: format!(
                    "fetch response from broker {leader} lacks topic {} partition {}",
                    position.topic, position.partition
                ),
            })?;
            match fetched.error {
                None => Ok(fetched),
                Some(code) => {
                    let error = Error::Broker {
                        cluster: self.name().to_owned(),
                        op: format!(
                            "fetch topic {} partition {} at offset {}",
                            position.topic, position.partition, position.offset
                        ),
                        code,
                        message: None,
                        denied: None,
                    };
                    Err(self.explain_denial(error, &[RequiredAcl::topic("Read", &position.topic)]))
                }
            }
        })
        .await
    }
}
