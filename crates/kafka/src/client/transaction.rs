//! Transactions: a producer bound to a transactional id adds partitions to its transaction,
//! writes batches with the transactional bit, and commits or aborts. The basis of exactly-once
//! mirroring, and how tests make aborted data for read_committed.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest, TransactionalId,
};
use kafka_protocol::protocol::Request;

use super::cluster::Cluster;
use super::coordinator::CoordinatorType;
use super::produce::Producer;
use super::retry::RetryPolicy;
use super::str_bytes;
use super::RequiredAcl;
use crate::error::{Error, Result};

/// Retries of transaction calls: the coordinator answers CONCURRENT_TRANSACTIONS to a new
/// transaction while it still writes the markers of the last one (milliseconds), so the first
/// retries come quickly, like the Java producer's 20 ms.
const TRANSACTION_RETRY: RetryPolicy = RetryPolicy {
    min_backoff: Duration::from_millis(5),
    max_backoff: Duration::from_secs(1),
    max_attempts: 20,
};

impl Producer {
    /// A producer for `transactional_id`. Obtaining its id and epoch fences any older producer
    /// with the same transactional id: its open transaction is aborted (or, if it was
    /// committing, completed) before this returns.
    pub async fn transactional(
        cluster: &Cluster,
        transactional_id: &str,
        transaction_timeout: Duration,
    ) -> Result<Producer> {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(str_bytes(transactional_id))))
            .with_transaction_timeout_ms(transaction_timeout.as_millis() as i32);
        let op = format!("init producer id for transactional id {transactional_id}");
        let response = cluster
            .with_retries_by(TRANSACTION_RETRY, &op, || async {
                let coordinator = cluster
                    .lookup_coordinator(CoordinatorType::Transaction, transactional_id)
                    .await?;
                let response = cluster.broker(coordinator).await?.send(&request).await?;
                match cluster.broker_error(op.as_str(), response.error_code, None) {
                    Some(e) => Err(cluster.explain_denial(
                        e,
                        &[RequiredAcl::transactional_id("Write", transactional_id)],
                    )),
                    None => Ok(response),
                }
            })
            .await?;
        Ok(Producer::new(
            cluster,
            Some(transactional_id.to_owned()),
            &response,
        ))
    }

    /// The transactional id, if this producer has one.
    pub fn transactional_id(&self) -> Option<&str> {
        self.transactional_id.as_deref()
    }

    /// Adds partitions to the ongoing transaction (starting one); required before producing to them.
    pub async fn add_to_transaction(&self, partitions: &[(&str, i32)]) -> Result<()> {
        let id = self.transaction_id();
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in partitions {
            topics.entry(topic).or_default().push(*partition);
        }
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(str_bytes(id)))
            .with_v3_and_below_producer_id(self.producer_id.into())
            .with_v3_and_below_producer_epoch(self.producer_epoch)
            .with_v3_and_below_topics(
                topics
                    .into_iter()
                    .map(|(topic, partitions)| {
                        AddPartitionsToTxnTopic::default()
                            .with_name(super::admin::topic_name(topic))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let cluster = self.cluster();
        let op = format!("add partitions to transaction {id}");
        cluster
            .with_retries_by(TRANSACTION_RETRY, &op, || async {
                let response = self.send_to_coordinator(&request).await?;
                if let Some(e) = self.coordinator_error(&op, response.error_code) {
                    return Err(
                        cluster.explain_denial(e, &[RequiredAcl::transactional_id("Write", id)])
                    );
                }
                for topic in &response.results_by_topic_v3_and_below {
                    for p in &topic.results_by_partition {
                        let op = format!(
                            "add topic {} partition {} to transaction {id}",
                            topic.name.0, p.partition_index
                        );
                        if let Some(e) = self.coordinator_error(&op, p.partition_error_code) {
                            let needed = [RequiredAcl::topic("Write", &topic.name.0)];
                            return Err(cluster.explain_denial(e, &needed));
                        }
                    }
                }
                Ok(())
            })
            .await
    }

    /// Commits (`true`) or aborts (`false`) the ongoing transaction.
    pub async fn end_transaction(&self, commit: bool) -> Result<()> {
        let id = self.transaction_id();
        let request = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(str_bytes(id)))
            .with_producer_id(self.producer_id.into())
            .with_producer_epoch(self.producer_epoch)
            .with_committed(commit);
        let cluster = self.cluster();
        let op = format!(
            "{} transaction {id}",
            if commit { "commit" } else { "abort" }
        );
        cluster
            .with_retries_by(TRANSACTION_RETRY, &op, || async {
                let response = self.send_to_coordinator(&request).await?;
                match self.coordinator_error(&op, response.error_code) {
                    Some(e) => {
                        Err(cluster
                            .explain_denial(e, &[RequiredAcl::transactional_id("Write", id)]))
                    }
                    None => Ok(()),
                }
            })
            .await
    }

    fn transaction_id(&self) -> &str {
        self.transactional_id
            .as_deref()
            .expect("transaction calls need a producer made by Producer::transactional")
    }

    /// Sends a request to the transaction coordinator of this producer's transactional id,
    /// found once and looked up again after it moved.
    async fn send_to_coordinator<R: Request>(&self, request: &R) -> Result<R::Response> {
        let cluster = self.cluster();
        let known = *self.coordinator.lock().expect("coordinator lock");
        let coordinator = match known {
            Some(id) => id,
            None => {
                let found = cluster
                    .lookup_coordinator(CoordinatorType::Transaction, self.transaction_id())
                    .await?;
                *self.coordinator.lock().expect("coordinator lock") = Some(found);
                found
            }
        };
        let sent = async { cluster.broker(coordinator).await?.send(request).await }.await;
        if sent.is_err() {
            self.forget_coordinator();
        }
        sent
    }

    /// The error of a coordinator's answer, forgetting the coordinator if it has moved.
    fn coordinator_error(&self, op: &str, code: i16) -> Option<Error> {
        let e = self.cluster().broker_error(op, code, None)?;
        if matches!(
            e.code(),
            Some(ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable)
        ) {
            self.forget_coordinator();
        }
        Some(e)
    }

    fn forget_coordinator(&self) {
        *self.coordinator.lock().expect("coordinator lock") = None;
    }
}
