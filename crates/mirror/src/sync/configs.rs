//! Continuous topic config sync (MM2's `syncTopicConfigs`, incremental): every remote topic's
//! configs follow its source topic, one IncrementalAlterConfigs request per topic carrying only
//! what differs.
//!
//! Which source configs count: everything the source describes except read-only, sensitive and
//! static-broker entries and the names `config.properties.exclude` matches. For each:
//! * a source *default* (source `DEFAULT_CONFIG`) with `use.defaults.from = target` (the
//!   default): the remote topic should fall back to the target's own default, so an override on
//!   the target is deleted;
//! * otherwise the remote topic should hold the source value, which is set when it differs.
//!
//! Unlike MM2 ≤ 3.4 (whole-set AlterConfigs), nothing else is touched: target-side values of
//! excluded properties and target overrides of properties the source does not list survive.
//! And unlike MM2 trunk, unchanged configs are not re-sent every interval, so a pass over topics
//! already in step sends no request and logs nothing; a value the target rejects (say a property
//! its Kafka version no longer knows) holds back only itself, not the topic's other changes.
//! Failures are logged and counted, and retried at the next pass.

use std::collections::HashMap;

use strait_kafka::{AlterOp, Cluster, ConfigEntry, ConfigResource, ConfigSource};

use super::config_rules::{alter_one_by_one, counts, is_rejected_value};
use super::topics::replicated_topics;
use super::PassReport;
use crate::config::FlowConfig;
use crate::filter::PatternList;

/// One change to a remote topic's config, with what it replaces (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    name: String,
    op: AlterOp,
    /// The target's value before the change (`None`: not listed or null).
    old: Option<String>,
}

/// One pass of topic config sync for a flow: for every replicated topic, make the remote topic's
/// non-excluded configs match the source, incrementally; `applied` counts config changes.
pub(crate) async fn sync_topic_configs(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
) -> PassReport {
    let label = flow.name();
    let topics = match replicated_topics(flow, source, target).await {
        Ok(topics) => topics,
        Err(e) => {
            tracing::warn!(flow = %label, "topic config sync skipped, retrying at the next interval: listing topics: {e}");
            return PassReport::failed();
        }
    };
    let pass = Pass {
        flow,
        label: &label,
        source,
        target,
    };
    let mut report = PassReport::default();
    for (topic, remote) in topics {
        report += pass.sync_topic(&topic, &remote).await;
    }
    report
}

/// One sync pass of a flow: its clusters.
struct Pass<'a> {
    flow: &'a FlowConfig,
    label: &'a str,
    source: &'a Cluster,
    target: &'a Cluster,
}

impl Pass<'_> {
    /// Syncs one remote topic.
    async fn sync_topic(&self, topic: &str, remote: &str) -> PassReport {
        let (flow, label) = (self.flow, self.label);
        let source_resource = ConfigResource::Topic(topic.to_owned());
        let resource = ConfigResource::Topic(remote.to_owned());
        let (source_entries, target_entries) = tokio::join!(
            self.source.describe_configs(&source_resource),
            self.target.describe_configs(&resource),
        );
        let (source_entries, target_entries) = match (source_entries, target_entries) {
            (Ok(s), Ok(t)) => (s, t),
            (Err(e), _) => {
                tracing::warn!(flow = %label, "could not describe the configs of {} topic {topic}, retrying at the next interval: {e}", flow.source);
                return PassReport::failed();
            }
            (_, Err(e)) => {
                tracing::warn!(flow = %label, "could not describe the configs of {} topic {remote}, retrying at the next interval: {e}", flow.target);
                return PassReport::failed();
            }
        };
        let changes = plan_changes(
            &source_entries,
            &target_entries,
            &flow.excluded_configs,
            flow.use_source_defaults,
        );
        if changes.is_empty() {
            return PassReport::default();
        }
        match self.alter(&resource, &changes).await {
            Ok(()) => self.applied(remote, &changes),
            // The broker rejected a value (e.g. a property it does not know): apply the others
            // one by one so that one bad property does not hold back the whole topic.
            Err(e) if changes.len() > 1 && is_rejected_value(&e) => {
                let results = alter_one_by_one(self.target, &resource, &ops(&changes)).await;
                let mut applied = Vec::new();
                let mut failed = Vec::new();
                for (change, result) in changes.into_iter().zip(results) {
                    match result {
                        Ok(()) => applied.push(change),
                        Err(e) => failed.push(format!("{}: {e}", change.name)),
                    }
                }
                let mut report = self.applied(remote, &applied);
                if !failed.is_empty() {
                    tracing::warn!(flow = %label, "could not sync config of {} topic {remote}, retrying at the next interval: {}", flow.target, failed.join("; "));
                    report.failures += 1;
                }
                report
            }
            Err(e) => {
                let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
                tracing::warn!(flow = %label, "could not sync config of {} topic {remote} ({}), retrying at the next interval: {e}", flow.target, names.join(", "));
                PassReport::failed()
            }
        }
    }

    /// Sends `changes` as one IncrementalAlterConfigs request.
    async fn alter(
        &self,
        resource: &ConfigResource,
        changes: &[Change],
    ) -> strait_kafka::Result<()> {
        self.target
            .incremental_alter_configs(resource, &ops(changes))
            .await
    }

    /// Logs (once each: property, old value -> new value) changes the target took.
    fn applied(&self, remote: &str, changes: &[Change]) -> PassReport {
        for change in changes {
            let old = change.old.as_deref().unwrap_or("(unset)");
            let new = match &change.op {
                AlterOp::Set(v) => v.as_str(),
                _ => "(target default)",
            };
            tracing::info!(flow = %self.label, "synced config of {} topic {remote}: {} {old} -> {new}", self.flow.target, change.name);
        }
        PassReport {
            applied: changes.len(),
            failures: 0,
        }
    }
}

/// The IncrementalAlterConfigs operations of `changes`.
fn ops(changes: &[Change]) -> Vec<(String, AlterOp)> {
    changes
        .iter()
        .map(|c| (c.name.clone(), c.op.clone()))
        .collect()
}

/// The changes that make `target`'s configs match `source`'s, by name, in the source's order.
fn plan_changes(
    source: &[ConfigEntry],
    target: &[ConfigEntry],
    excluded: &PatternList,
    use_source_defaults: bool,
) -> Vec<Change> {
    let target: HashMap<&str, &ConfigEntry> = target.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut changes = Vec::new();
    for entry in source {
        if !counts(entry, excluded) {
            continue;
        }
        let current = target.get(entry.name.as_str());
        let old = current.and_then(|t| t.value.clone());
        let is_default = entry.source == ConfigSource::Default;
        // A null value cannot be set; the nearest is no override on the target.
        let wanted = match &entry.value {
            Some(v) if !is_default || use_source_defaults => Some(v),
            Some(_) => None,
            None if is_default => None,
            None => continue,
        };
        match wanted {
            None => {
                if current.is_some_and(|t| t.source == ConfigSource::DynamicTopic) {
                    changes.push(Change {
                        name: entry.name.clone(),
                        op: AlterOp::Delete,
                        old,
                    });
                }
            }
            Some(value) => {
                if old.as_ref() != Some(value) {
                    changes.push(Change {
                        name: entry.name.clone(),
                        op: AlterOp::Set(value.clone()),
                        old,
                    });
                }
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: Option<&str>, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.to_owned(),
            value: value.map(str::to_owned),
            source,
            read_only: false,
            sensitive: false,
            is_default: source == ConfigSource::Default,
        }
    }

    fn set(name: &str, value: &str, old: Option<&str>) -> Change {
        Change {
            name: name.to_owned(),
            op: AlterOp::Set(value.to_owned()),
            old: old.map(str::to_owned),
        }
    }

    fn delete(name: &str, old: &str) -> Change {
        Change {
            name: name.to_owned(),
            op: AlterOp::Delete,
            old: Some(old.to_owned()),
        }
    }

    fn excluded(patterns: &[&str]) -> PatternList {
        PatternList::from_strs(patterns).unwrap()
    }

    use ConfigSource::{Default, DynamicDefaultBroker, DynamicTopic, StaticBroker};

    #[test]
    fn source_overrides_are_set_when_the_target_differs() {
        let source = [
            entry("retention.bytes", Some("1000"), DynamicTopic),
            entry("cleanup.policy", Some("compact"), DynamicTopic),
        ];
        let target = [
            entry("retention.bytes", Some("2000"), DynamicTopic),
            entry("cleanup.policy", Some("compact"), DynamicTopic),
        ];
        assert_eq!(
            plan_changes(&source, &target, &excluded(&[]), false),
            vec![set("retention.bytes", "1000", Some("2000"))]
        );
    }

    #[test]
    fn a_config_the_target_does_not_list_is_set() {
        let source = [entry("retention.bytes", Some("1000"), DynamicTopic)];
        assert_eq!(
            plan_changes(&source, &[], &excluded(&[]), false),
            vec![set("retention.bytes", "1000", None)]
        );
    }

    #[test]
    fn source_defaults_remove_target_overrides_only() {
        let source = [
            entry("retention.bytes", Some("-1"), Default),
            entry("segment.bytes", Some("1073741824"), Default),
            entry("retention.ms", Some("604800000"), Default),
        ];
        let target = [
            entry("retention.bytes", Some("2000"), DynamicTopic),
            // The target's own default differs: kept, it is the target's business.
            entry("segment.bytes", Some("1000000"), Default),
        ];
        assert_eq!(
            plan_changes(&source, &target, &excluded(&[]), false),
            vec![delete("retention.bytes", "2000")]
        );
    }

    #[test]
    fn source_defaults_are_copied_with_use_defaults_from_source() {
        let source = [
            entry("retention.bytes", Some("-1"), Default),
            entry("segment.bytes", Some("1073741824"), Default),
            entry("retention.ms", Some("604800000"), Default),
        ];
        let target = [
            entry("retention.bytes", Some("2000"), DynamicTopic),
            entry("segment.bytes", Some("1000000"), Default),
            entry("retention.ms", Some("604800000"), Default),
        ];
        assert_eq!(
            plan_changes(&source, &target, &excluded(&[]), true),
            vec![
                set("retention.bytes", "-1", Some("2000")),
                set("segment.bytes", "1073741824", Some("1000000")),
            ]
        );
    }

    #[test]
    fn dynamic_broker_defaults_of_the_source_count_as_values() {
        // Like MM2: only DEFAULT_CONFIG is a default; a dynamic broker default is copied.
        let source = [entry("retention.ms", Some("1000"), DynamicDefaultBroker)];
        let target = [entry("retention.ms", Some("604800000"), Default)];
        assert_eq!(
            plan_changes(&source, &target, &excluded(&[]), false),
            vec![set("retention.ms", "1000", Some("604800000"))]
        );
    }

    #[test]
    fn excluded_read_only_sensitive_and_static_entries_are_never_touched() {
        let mut read_only = entry("segment.bytes", Some("1"), DynamicTopic);
        read_only.read_only = true;
        let mut sensitive = entry("secret", None, DynamicTopic);
        sensitive.sensitive = true;
        let source = [
            entry("delete.retention.ms", Some("1000"), DynamicTopic),
            entry("min.insync.replicas", Some("1"), Default),
            read_only,
            sensitive,
            entry("retention.ms", Some("5"), StaticBroker),
        ];
        let target = [
            entry("delete.retention.ms", Some("2000"), DynamicTopic),
            entry("min.insync.replicas", Some("2"), DynamicTopic),
            entry("segment.bytes", Some("2"), DynamicTopic),
            entry("retention.ms", Some("6"), DynamicTopic),
        ];
        let excluded = excluded(&["delete\\.retention\\..*", "min\\.insync\\.replicas"]);
        assert_eq!(plan_changes(&source, &target, &excluded, false), vec![]);
        assert_eq!(plan_changes(&source, &target, &excluded, true), vec![]);
    }

    #[test]
    fn target_overrides_the_source_does_not_list_survive() {
        let source = [entry("retention.bytes", Some("1000"), DynamicTopic)];
        let target = [
            entry("retention.bytes", Some("1000"), DynamicTopic),
            entry("x.target.only", Some("1"), DynamicTopic),
        ];
        assert_eq!(
            plan_changes(&source, &target, &excluded(&[]), false),
            vec![]
        );
    }

    #[test]
    fn null_values() {
        let source = [
            entry("a", None, Default),
            entry("b", None, DynamicTopic),
            entry("c", None, Default),
        ];
        let target = [
            entry("a", Some("x"), DynamicTopic),
            entry("b", Some("y"), DynamicTopic),
            entry("c", None, Default),
        ];
        assert_eq!(
            plan_changes(&source, &target, &excluded(&[]), true),
            vec![delete("a", "x")]
        );
    }
}
