//! The rules both topic creation and config sync follow: which source topic configs count, and
//! how a target's refusal of one property is kept from holding back the others.

use std::collections::BTreeMap;

use strait_kafka::{AlterOp, Cluster, ConfigEntry, ConfigResource, ConfigSource, ResponseError};

use crate::filter::PatternList;

/// Whether a source topic config entry is one a remote topic follows: not read-only, not
/// sensitive, not from the broker's static config, not `config.properties.exclude`d.
pub(crate) fn counts(entry: &ConfigEntry, excluded: &PatternList) -> bool {
    !entry.read_only
        && !entry.sensitive
        && entry.source != ConfigSource::StaticBroker
        && !excluded.matches(&entry.name)
}

/// The source topic configs a new remote topic gets (MM2's creation set): the ones that count
/// and are explicitly set (not a default).
pub(crate) fn creation_configs(
    entries: &[ConfigEntry],
    excluded: &PatternList,
) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter(|e| counts(e, excluded) && !e.is_default && e.source != ConfigSource::Default)
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect()
}

/// Sends each of `ops` on `resource` in a request of its own, so one property the target
/// refuses holds back no other; returns the target's answer to each, in order.
pub(crate) async fn alter_one_by_one(
    target: &Cluster,
    resource: &ConfigResource,
    ops: &[(String, AlterOp)],
) -> Vec<strait_kafka::Result<()>> {
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        results.push(
            target
                .incremental_alter_configs(resource, std::slice::from_ref(op))
                .await,
        );
    }
    results
}

/// Whether the broker refused the request for its content (a name or value it does not accept)
/// rather than for the topic or the connection.
pub(crate) fn is_rejected_value(e: &strait_kafka::Error) -> bool {
    matches!(
        e.code(),
        Some(
            ResponseError::InvalidConfig
                | ResponseError::InvalidRequest
                | ResponseError::PolicyViolation
        )
    )
}
