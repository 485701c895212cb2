//! ACL sync (MM2's `syncTopicAcls`, §7.4): the source's topic ACLs are mirrored onto the remote
//! topics, so that consumers allowed to read a topic may read its replica.
//!
//! MM2's rules: from the source's ACLs on topics (any pattern), keep the LITERAL ones whose
//! topic this flow replicates (`shouldReplicateTopic`) and that are not ALLOW+WRITE (only the
//! mirror writes remote topics); rename the resource with the replication policy and turn
//! ALLOW+ALL into ALLOW+READ; copy everything else (DENY of any operation, ALLOW READ,
//! DESCRIBE, ...) unchanged, same principal and host. Like MM2 a literal `*` topic ACL is
//! treated as a topic named `*` (its remote name is `<source>.*`, which matches nothing).
//!
//! strait opt-ins (off by default, MM2 has neither):
//! * `sync.topic.acls.prefixed.enabled`: PREFIXED topic ACLs too, the prefix filtered as if it
//!   were a topic name and renamed by the policy (`orders-` → `<source>.orders-`);
//! * `sync.group.acls.enabled`: ACLs of the consumer groups this flow selects
//!   (`groups`/`groups.exclude`), LITERAL or PREFIXED, copied under the same group name (group
//!   names are not renamed), ALLOW+ALL turned into ALLOW+READ.
//!
//! Only bindings the target lacks are created (the target is described first), so a pass over
//! a target already in step sends no CreateAcls request and logs nothing. Target ACLs are never
//! deleted, also when the source's are. A source without an authorizer (`SECURITY_DISABLED`)
//! makes the pass a no-op, logged once at info per flow; a target without one is a failure
//! (warned once, counted every pass).

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use strait_kafka::acl::{operation, pattern, permission, resource};
use strait_kafka::{AclBinding, AclFilter, Cluster, ResponseError};

use super::PassReport;
use crate::config::FlowConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Source,
    Target,
}

/// ACL sync of one flow, with what it has already told the operator.
#[derive(Debug, Default)]
pub(crate) struct AclSync {
    /// Sides already logged as running no authorizer; a side leaves the set when it answers
    /// again, so a later loss of the authorizer is logged anew.
    told_no_authorizer: Mutex<BTreeSet<Side>>,
}

impl AclSync {
    /// Records that `side` has no authorizer; true the first time.
    fn first_no_authorizer(&self, side: Side) -> bool {
        self.told().insert(side)
    }

    /// Records that `side` answered ACL requests.
    fn authorizer_seen(&self, side: Side) {
        self.told().remove(&side);
    }

    fn told(&self) -> std::sync::MutexGuard<'_, BTreeSet<Side>> {
        self.told_no_authorizer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// One pass of ACL sync for `flow`; `applied` counts the bindings created on the target.
    pub(crate) async fn pass(
        &self,
        flow: &FlowConfig,
        source: &Cluster,
        target: &Cluster,
    ) -> PassReport {
        let label = flow.name();
        let source_acls = match describe(flow, source).await {
            Ok(acls) => {
                self.authorizer_seen(Side::Source);
                acls
            }
            Err(e) if no_authorizer(&e) => {
                if self.first_no_authorizer(Side::Source) {
                    tracing::info!(flow = %label, "ACL sync skipped: source cluster {} has no authorizer (SECURITY_DISABLED)", flow.source);
                }
                return PassReport::default();
            }
            Err(e) => {
                tracing::warn!(flow = %label, "ACL sync: could not describe the ACLs of {}, retrying at the next interval: {e}", flow.source);
                return PassReport::failed();
            }
        };
        let wanted = dedup(target_bindings(flow, &source_acls));
        if wanted.is_empty() {
            return PassReport::default();
        }
        let existing: HashSet<AclBinding> = match describe(flow, target).await {
            Ok(acls) => {
                self.authorizer_seen(Side::Target);
                acls.into_iter().collect()
            }
            Err(e) if no_authorizer(&e) => {
                if self.first_no_authorizer(Side::Target) {
                    tracing::warn!(flow = %label, "ACL sync: target cluster {} has no authorizer (SECURITY_DISABLED), {} ACLs cannot be mirrored; retrying at every interval", flow.target, wanted.len());
                }
                return PassReport::failed();
            }
            Err(e) => {
                tracing::warn!(flow = %label, "ACL sync: could not describe the ACLs of {}, retrying at the next interval: {e}", flow.target);
                return PassReport::failed();
            }
        };
        let missing: Vec<AclBinding> = wanted
            .into_iter()
            .filter(|b| !existing.contains(b))
            .collect();
        create_missing(flow, target, &missing).await
    }
}

/// Creates `missing` on the target, each binding logged.
async fn create_missing(flow: &FlowConfig, target: &Cluster, missing: &[AclBinding]) -> PassReport {
    let label = flow.name();
    if missing.is_empty() {
        return PassReport::default();
    }
    let results = match target.create_acls(missing).await {
        Ok(results) => results,
        Err(e) => {
            let resources: BTreeSet<String> = missing.iter().map(ToString::to_string).collect();
            let resources: Vec<String> = resources.into_iter().collect();
            tracing::warn!(flow = %label, "ACL sync: could not create {} ACLs on {} ({}), retrying at the next interval: {e}", missing.len(), flow.target, resources.join(", "));
            return PassReport::failed();
        }
    };
    let mut report = PassReport::default();
    let mut failed = false;
    for (binding, result) in missing.iter().zip(results) {
        match result {
            Ok(()) => {
                report.applied += 1;
                tracing::info!(flow = %label, "ACL sync: created on {}: {}", flow.target, binding);
            }
            Err(e) => {
                failed = true;
                tracing::warn!(flow = %label, "ACL sync: could not create the ACL {} on {}, retrying at the next interval: {e}", binding, flow.target);
            }
        }
    }
    report.failures = u64::from(failed);
    report
}

/// The target bindings for source bindings (pure; MM2's filter + transform, plus strait opt-ins).
pub(crate) fn target_bindings(flow: &FlowConfig, source: &[AclBinding]) -> Vec<AclBinding> {
    source
        .iter()
        .filter_map(|binding| target_binding(flow, binding))
        .collect()
}

/// The target binding for one source binding, if it is mirrored.
fn target_binding(flow: &FlowConfig, binding: &AclBinding) -> Option<AclBinding> {
    let resource_name = match binding.resource_type {
        resource::TOPIC => {
            let mirrored_pattern = binding.pattern_type == pattern::LITERAL
                || (flow.sync_prefixed_topic_acls && binding.pattern_type == pattern::PREFIXED);
            // MM2's shouldReplicateAcl: the remote topic is written by the mirror only.
            let allow_write = binding.permission_type == permission::ALLOW
                && binding.operation == operation::WRITE;
            if !mirrored_pattern || allow_write || !flow.replicates_topic(&binding.resource_name) {
                return None;
            }
            flow.policy
                .format_remote_topic(&flow.source, &binding.resource_name)
        }
        resource::GROUP => {
            let mirrored_pattern = binding.pattern_type == pattern::LITERAL
                || binding.pattern_type == pattern::PREFIXED;
            if !flow.sync_group_acls
                || !mirrored_pattern
                || !flow.group_filter.test(&binding.resource_name)
            {
                return None;
            }
            binding.resource_name.clone()
        }
        _ => return None,
    };
    let operation =
        if binding.permission_type == permission::ALLOW && binding.operation == operation::ALL {
            operation::READ
        } else {
            binding.operation
        };
    Some(AclBinding {
        resource_name,
        operation,
        ..binding.clone()
    })
}

/// The source (or target) ACLs this flow may mirror: on topics, and on groups when group ACL
/// sync is on.
async fn describe(flow: &FlowConfig, cluster: &Cluster) -> strait_kafka::Result<Vec<AclBinding>> {
    let mut acls = cluster.describe_acls(&AclFilter::any_topic()).await?;
    if flow.sync_group_acls {
        let groups = AclFilter {
            resource_type: resource::GROUP,
            ..AclFilter::any_topic()
        };
        acls.extend(cluster.describe_acls(&groups).await?);
    }
    Ok(acls)
}

/// Whether the cluster said it runs no authorizer.
fn no_authorizer(e: &strait_kafka::Error) -> bool {
    e.code() == Some(ResponseError::SecurityDisabled)
}

/// `bindings` without repeats (ALLOW ALL and ALLOW READ of one principal both become ALLOW
/// READ), in first-seen order.
fn dedup(bindings: Vec<AclBinding>) -> Vec<AclBinding> {
    let mut seen = HashSet::new();
    bindings
        .into_iter()
        .filter(|b| seen.insert(b.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
