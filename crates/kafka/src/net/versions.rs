//! ApiVersions negotiation: the highest version both sides speak, capped where a newer version
//! would need topic ids.

use std::collections::HashMap;

use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::{Request, VersionRange};

/// Versions this client never uses although the codec has them: Fetch 13+ and Produce 13
/// address topics by id only; AddPartitionsToTxn 4+ is the broker-to-broker form; EndTxn 5+
/// opts into transaction version 2 (KIP-890), where every commit or abort bumps the producer
/// epoch (Kafka 4 then fences a producer that keeps its epoch, as this one does).
pub const VERSION_CAPS: &[(ApiKey, i16)] = &[
    (ApiKey::Fetch, 12),
    (ApiKey::Produce, 12),
    (ApiKey::AddPartitionsToTxn, 3),
    (ApiKey::EndTxn, 4),
];

/// What one broker advertised.
#[derive(Debug, Clone, Default)]
pub struct ApiVersions {
    ranges: HashMap<i16, VersionRange>,
}

impl ApiVersions {
    /// Reads a broker's ApiVersions response.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let ranges = response
            .api_keys
            .iter()
            .map(|k| {
                let range = VersionRange {
                    min: k.min_version,
                    max: k.max_version,
                };
                (k.api_key, range)
            })
            .collect();
        ApiVersions { ranges }
    }

    /// The version to use for request type `R`, or `None` if there is no common version.
    pub fn pick<R: Request>(&self) -> Option<i16> {
        self.pick_key(R::KEY, R::VERSIONS)
    }

    /// The version to use for an API key given the range this client speaks.
    pub fn pick_key(&self, key: i16, ours: VersionRange) -> Option<i16> {
        let mut ours = ours;
        if let Some((_, cap)) = VERSION_CAPS.iter().find(|(k, _)| *k as i16 == key) {
            ours.max = ours.max.min(*cap);
        }
        let common = self.ranges.get(&key)?.intersect(&ours);
        (!common.is_empty()).then_some(common.max)
    }

    /// Whether the broker advertises the API at all.
    pub fn supports(&self, key: i16) -> bool {
        self.ranges.contains_key(&key)
    }
}

/// A readable name for an API key, for errors and logs.
pub fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(k) => api_key_name(k),
        Err(()) => "UnknownApi",
    }
}

fn api_key_name(key: ApiKey) -> &'static str {
    match key {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::SaslHandshake => "SaslHandshake",
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::DescribeAcls => "DescribeAcls",
        ApiKey::CreateAcls => "CreateAcls",
        ApiKey::DeleteAcls => "DeleteAcls",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::AlterConfigs => "AlterConfigs",
        ApiKey::SaslAuthenticate => "SaslAuthenticate",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::AddPartitionsToTxn => "AddPartitionsToTxn",
        ApiKey::AddOffsetsToTxn => "AddOffsetsToTxn",
        ApiKey::EndTxn => "EndTxn",
        ApiKey::TxnOffsetCommit => "TxnOffsetCommit",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::DescribeCluster => "DescribeCluster",
        _ => "OtherApi",
    }
}
