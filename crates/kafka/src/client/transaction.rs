//! Transactions: a producer bound to a transactional id adds partitions to its transaction,
//! writes batches with the transactional bit, and commits or aborts. The basis of exactly-once
//! mirroring, and how tests make aborted data for read_committed.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest, TransactionalId,
};

use kafka_protocol::protocol::Request;

use super::cluster::Cluster;
use super::coordinator::CoordinatorType;
use super::produce::Producer;
use super::str_bytes;
use super::RequiredAcl;
use crate::error::Result;

impl Producer {
    /// A producer for `transactional_id`. Obtaining its id and epoch fences any older producer
    /// with the same transactional id.
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
            .with_retries(&op, || async {
                let response = send_to_coordinator(cluster, transactional_id, &request).await?;
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
        cluster
            .with_retries("add partitions to transaction", || async {
                let response = send_to_coordinator(cluster, id, &request).await?;
                let op = format!("add partitions to transaction {id}");
                if let Some(e) = cluster.broker_error(op.as_str(), response.error_code, None) {
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
                        if let Some(e) = cluster.broker_error(op, p.partition_error_code, None) {
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
            .with_retries(&op, || async {
                let response = send_to_coordinator(cluster, id, &request).await?;
                match cluster.broker_error(op.as_str(), response.error_code, None) {
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
}

/// Sends a request to the transaction coordinator of `transactional_id`.
async fn send_to_coordinator<R: Request>(
    cluster: &Cluster,
    transactional_id: &str,
    request: &R,
) -> Result<R::Response> {
    let coordinator = cluster
        .lookup_coordinator(CoordinatorType::Transaction, transactional_id)
        .await?;
    cluster.broker(coordinator).await?.send(request).await
}
