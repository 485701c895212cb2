//! Exactly-once mode's part of a partition pipeline: the open transaction its batches go into,
//! the entries that settle while it is open (held back until it commits: their progress,
//! offset syncs and counters only count for committed data), and the commit, which writes the
//! partition's progress record into the same transaction.

use std::time::Instant;

use strait_kafka::Producer;
use uuid::Uuid;

use super::discovery::PartitionRoute;
use super::error::EngineError;
use super::ledger::Settled;
use crate::config::TransactionBoundary;
use crate::internal::{Position, ProgressStore};

/// One partition's transaction state (a new one for every run of the pipeline).
pub(crate) struct Transaction {
    boundary: TransactionBoundary,
    /// When the open transaction began; `None` while none is open.
    open_since: Option<Instant>,
    /// Entries settled (acknowledged) in the open transaction.
    held: Vec<Settled>,
}

impl Transaction {
    /// No transaction open yet.
    pub(crate) fn new(boundary: TransactionBoundary) -> Self {
        Transaction {
            boundary,
            open_since: None,
            held: Vec::new(),
        }
    }

    /// Starts a transaction before the first write, adding the remote partition and the
    /// offsets-topic partition of this partition's progress.
    pub(crate) async fn begin(
        &mut self,
        producer: &Producer,
        route: &PartitionRoute,
        progress: &ProgressStore,
    ) -> Result<(), strait_kafka::Error> {
        if self.open_since.is_some() {
            return Ok(());
        }
        let stored_in = progress.partition_of(&route.topic, route.partition);
        producer
            .add_to_transaction(&[
                (route.remote_topic.as_str(), route.partition),
                (progress.topic(), stored_in),
            ])
            .await?;
        self.open_since = Some(Instant::now());
        Ok(())
    }

    /// Holds entries settled in the open transaction until it commits.
    pub(crate) fn hold(&mut self, settled: Vec<Settled>) {
        self.held.extend(settled);
    }

    /// Whether the transaction should commit after the fetch just written.
    pub(crate) fn due(&self) -> bool {
        match (self.boundary, self.open_since) {
            (_, None) => false,
            (TransactionBoundary::Poll, Some(_)) => true,
            (TransactionBoundary::Interval(every), Some(since)) => since.elapsed() >= every,
        }
    }

    /// Commits what was written and settled (every write must be acknowledged), with the
    /// progress record of the last settled entry; returns the committed entries. Nothing to do
    /// when nothing settled.
    pub(crate) async fn commit(
        &mut self,
        producer: &Producer,
        route: &PartitionRoute,
        progress: &ProgressStore,
        topic_id: Option<Uuid>,
    ) -> Result<Vec<Settled>, EngineError> {
        let produce = |source| EngineError::Produce {
            topic: route.topic.clone(),
            partition: route.partition,
            offset: None,
            source,
        };
        match self.held.last() {
            Some(last) => {
                let position = committed_position(last, topic_id);
                let (stored_in, record) =
                    progress.entry(&route.topic, route.partition, position)?;
                self.begin(producer, route, progress)
                    .await
                    .map_err(produce)?;
                producer
                    .send(progress.topic(), stored_in, &record)
                    .await
                    .map_err(produce)?;
            }
            None if self.open_since.is_none() => return Ok(Vec::new()),
            None => {}
        }
        producer.end_transaction(true).await.map_err(produce)?;
        self.open_since = None;
        Ok(std::mem::take(&mut self.held))
    }
}

/// The progress a committed entry stores. No target offset: what follows a commit on the target
/// is its marker, and a restart in this mode never looks for batches past stored progress (a
/// transaction that did not commit is aborted and written again).
pub(crate) fn committed_position(settled: &Settled, topic_id: Option<Uuid>) -> Position {
    Position {
        offset: settled.last_offset,
        target_next: None,
        topic_id,
        leader_epoch: settled.leader_epoch,
    }
}
