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

use super::stats::FlowStats;
use crate::config::FlowConfig;
use crate::filter::should_replicate_topic;

/// `(flow, side)` pairs already told that the cluster on that side has no authorizer; an entry
/// is removed when the cluster answers again, so a later loss of the authorizer is logged anew.
static NO_AUTHORIZER_LOGGED: Mutex<BTreeSet<(String, Side)>> = Mutex::new(BTreeSet::new());

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Source,
    Target,
}

/// Records that `side` of `flow` has no authorizer; true the first time.
fn first_no_authorizer(flow: &str, side: Side) -> bool {
    NO_AUTHORIZER_LOGGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((flow.to_owned(), side))
}

/// Records that `side` of `flow` answered ACL requests.
fn authorizer_seen(flow: &str, side: Side) {
    NO_AUTHORIZER_LOGGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(flow.to_owned(), side));
}

/// One pass of ACL sync for a flow. Returns the number of bindings created on the target.
pub(crate) async fn sync_topic_acls(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
    stats: &FlowStats,
) -> usize {
    let label = flow.name();
    let source_acls = match describe(flow, source).await {
        Ok(acls) => {
            authorizer_seen(&label, Side::Source);
            acls
        }
        Err(e) if no_authorizer(&e) => {
            if first_no_authorizer(&label, Side::Source) {
                tracing::info!(flow = %label, "ACL sync skipped: source cluster {} has no authorizer (SECURITY_DISABLED)", flow.source);
            }
            return 0;
        }
        Err(e) => {
            tracing::warn!(flow = %label, "ACL sync: could not describe the ACLs of {}, retrying at the next interval: {e}", flow.source);
            stats.sync_failed();
            return 0;
        }
    };
    let wanted = dedup(target_bindings(flow, &source_acls));
    if wanted.is_empty() {
        return 0;
    }
    let existing: HashSet<AclBinding> = match describe(flow, target).await {
        Ok(acls) => {
            authorizer_seen(&label, Side::Target);
            acls.into_iter().collect()
        }
        Err(e) if no_authorizer(&e) => {
            if first_no_authorizer(&label, Side::Target) {
                tracing::warn!(flow = %label, "ACL sync: target cluster {} has no authorizer (SECURITY_DISABLED), {} ACLs cannot be mirrored; retrying at every interval", flow.target, wanted.len());
            }
            stats.sync_failed();
            return 0;
        }
        Err(e) => {
            tracing::warn!(flow = %label, "ACL sync: could not describe the ACLs of {}, retrying at the next interval: {e}", flow.target);
            stats.sync_failed();
            return 0;
        }
    };
    let missing: Vec<AclBinding> = wanted
        .into_iter()
        .filter(|b| !existing.contains(b))
        .collect();
    if missing.is_empty() {
        return 0;
    }
    let results = match target.create_acls(&missing).await {
        Ok(results) => results,
        Err(e) => {
            let resources: BTreeSet<String> = missing.iter().map(ToString::to_string).collect();
            let resources: Vec<String> = resources.into_iter().collect();
            tracing::warn!(flow = %label, "ACL sync: could not create {} ACLs on {} ({}), retrying at the next interval: {e}", missing.len(), flow.target, resources.join(", "));
            stats.sync_failed();
            return 0;
        }
    };
    let mut created = 0;
    let mut failed = false;
    for (binding, result) in missing.iter().zip(results) {
        match result {
            Ok(()) => {
                created += 1;
                tracing::info!(flow = %label, "ACL sync: created on {}: {}", flow.target, binding);
            }
            Err(e) => {
                failed = true;
                tracing::warn!(flow = %label, "ACL sync: could not create the ACL {} on {}, retrying at the next interval: {e}", binding, flow.target);
            }
        }
    }
    if created > 0 {
        stats.acls_synced(created as u64);
    }
    if failed {
        stats.sync_failed();
    }
    created
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
            if !mirrored_pattern
                || allow_write
                || !should_replicate_topic(
                    &flow.policy,
                    &flow.topic_filter,
                    &flow.target,
                    flow.heartbeats_replication_enabled,
                    &binding.resource_name,
                )
            {
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
mod tests {
    //! MM2's vectors (`MirrorSourceConnectorTest.testAclFiltering`/`testAclTransformation`),
    //! strait's opt-ins, and whole passes against [`AclPeer`]s (scripted stand-ins for
    //! authorizer-enabled brokers; no test broker here runs an authorizer) and a real noida
    //! broker without one.

    use strait_kafka::ClusterConfig;
    use strait_testkit::{AclPeer, BrokerKind, PeerAcl, TestCluster};

    use super::*;
    use crate::engine::stats::StatsSnapshot;

    const TOPIC: i8 = resource::TOPIC;
    const GROUP: i8 = resource::GROUP;
    const LITERAL: i8 = pattern::LITERAL;
    const PREFIXED: i8 = pattern::PREFIXED;
    const ALLOW: i8 = permission::ALLOW;
    const DENY: i8 = permission::DENY;
    const ALL: i8 = operation::ALL;
    const READ: i8 = operation::READ;
    const WRITE: i8 = operation::WRITE;
    const DESCRIBE: i8 = operation::DESCRIBE;

    /// The `source->target` flow of a two-cluster file with ACL sync on, plus `extra` lines.
    fn flow_with(source: &str, target: &str, extra: &str) -> FlowConfig {
        let text = format!(
            "clusters = source, target\n\
             source.bootstrap.servers = {source}\n\
             target.bootstrap.servers = {target}\n\
             source->target.enabled = true\n\
             sync.topic.acls.enabled = true\n\
             {extra}\n"
        );
        crate::config::parse_str(&text)
            .expect("test config parses")
            .flow("source", "target")
            .expect("flow source->target")
            .clone()
    }

    fn config_for(extra: &str) -> FlowConfig {
        flow_with("localhost:9092", "localhost:9093", extra)
    }

    fn binding(
        resource_type: i8,
        name: &str,
        pattern_type: i8,
        principal: &str,
        operation: i8,
        permission_type: i8,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            resource_name: name.to_owned(),
            pattern_type,
            principal: principal.to_owned(),
            host: "*".to_owned(),
            operation,
            permission_type,
        }
    }

    fn topic_acl(name: &str, principal: &str, operation: i8, permission: i8) -> AclBinding {
        binding(TOPIC, name, LITERAL, principal, operation, permission)
    }

    fn one(flow: &FlowConfig, b: AclBinding) -> Option<AclBinding> {
        let mut out = target_bindings(flow, &[b]);
        assert!(out.len() <= 1, "one binding maps to at most one: {out:?}");
        out.pop()
    }

    // --- MM2's vectors -----------------------------------------------------------------------

    /// `testAclFiltering`: ALLOW WRITE is not replicated, ALLOW ALL is.
    #[test]
    fn mm2_acl_filtering() {
        let flow = config_for("");
        let acl = |operation| AclBinding {
            host: String::new(),
            ..topic_acl("test_topic", "kafka", operation, ALLOW)
        };
        assert_eq!(
            one(&flow, acl(WRITE)),
            None,
            "should not replicate ALLOW WRITE"
        );
        assert!(one(&flow, acl(ALL)).is_some(), "should replicate ALLOW ALL");
    }

    /// `testAclTransformation`: renamed `source.test_topic`; ALLOW ALL → ALLOW READ; DENY ALL
    /// unchanged.
    #[test]
    fn mm2_acl_transformation() {
        let flow = config_for("");
        let allow_all = AclBinding {
            host: String::new(),
            ..topic_acl("test_topic", "kafka", ALL, ALLOW)
        };
        let processed = one(&flow, allow_all.clone()).unwrap();
        assert_eq!(
            processed.resource_name, "source.test_topic",
            "should change topic name"
        );
        assert_eq!(processed.operation, READ, "should change ALL to READ");
        assert_eq!(processed.permission_type, ALLOW, "should not change ALLOW");
        assert_eq!(
            (processed.principal.as_str(), processed.host.as_str()),
            ("kafka", "")
        );
        assert_eq!(
            (processed.resource_type, processed.pattern_type),
            (TOPIC, LITERAL)
        );

        let deny_all = AclBinding {
            permission_type: DENY,
            ..allow_all
        };
        let processed = one(&flow, deny_all).unwrap();
        assert_eq!(processed.operation, ALL, "should not change ALL");
        assert_eq!(processed.permission_type, DENY, "should not change DENY");
    }

    #[test]
    fn deny_write_and_other_allows_are_copied_unchanged_but_renamed() {
        let flow = config_for("");
        for (operation, permission) in [
            (WRITE, DENY),
            (READ, DENY),
            (READ, ALLOW),
            (DESCRIBE, ALLOW),
            (operation::DESCRIBE_CONFIGS, ALLOW),
            (operation::DELETE, DENY),
        ] {
            let source = AclBinding {
                host: "10.0.0.1".into(),
                ..topic_acl("orders", "User:alice", operation, permission)
            };
            let expected = AclBinding {
                resource_name: "source.orders".into(),
                ..source.clone()
            };
            assert_eq!(one(&flow, source), Some(expected));
        }
    }

    #[test]
    fn prefixed_and_non_topic_acls_are_ignored_by_default() {
        let flow = config_for("");
        assert_eq!(
            one(
                &flow,
                binding(TOPIC, "orders-", PREFIXED, "User:a", READ, ALLOW)
            ),
            None
        );
        assert_eq!(
            one(&flow, binding(GROUP, "app", LITERAL, "User:a", READ, ALLOW)),
            None
        );
        assert_eq!(
            one(
                &flow,
                binding(
                    resource::CLUSTER,
                    "kafka-cluster",
                    LITERAL,
                    "User:a",
                    ALL,
                    ALLOW
                )
            ),
            None
        );
    }

    #[test]
    fn acls_of_topics_the_flow_does_not_replicate_are_ignored() {
        let flow = config_for("topics = test-topic-.*\ntopics.exclude = test-topic-secret");
        let acl = |topic: &str| one(&flow, topic_acl(topic, "User:a", READ, ALLOW));
        assert!(acl("test-topic-1").is_some());
        assert_eq!(acl("other"), None, "not in `topics`");
        assert_eq!(acl("test-topic-secret"), None, "in `topics.exclude`");
        let all = flow_with("a:1", "b:1", "");
        let acl = |topic: &str| one(&all, topic_acl(topic, "User:a", READ, ALLOW));
        assert_eq!(acl("__consumer_offsets"), None, "internal topic");
        assert_eq!(
            acl("mm2-offset-syncs.target.internal"),
            None,
            "MM2 internal topic"
        );
        assert_eq!(acl("target.orders"), None, "came from the target: a cycle");
        assert_eq!(
            acl("other.orders").unwrap().resource_name,
            "source.other.orders",
            "remote topics of a third cluster are replicated (renamed again)"
        );
    }

    #[test]
    fn the_policy_names_the_remote_topic() {
        let flow = config_for("replication.policy.separator = _");
        assert_eq!(
            one(&flow, topic_acl("orders", "User:a", READ, ALLOW))
                .unwrap()
                .resource_name,
            "source_orders"
        );
        let identity = config_for(
            "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        );
        assert_eq!(
            one(&identity, topic_acl("orders", "User:a", READ, ALLOW))
                .unwrap()
                .resource_name,
            "orders"
        );
    }

    // --- strait opt-ins ----------------------------------------------------------------------

    #[test]
    fn prefixed_topic_acls_are_renamed_when_opted_in() {
        let flow = config_for("sync.topic.acls.prefixed.enabled = true\ntopics = orders.*");
        let prefixed = |prefix: &str, operation, permission| {
            one(
                &flow,
                binding(TOPIC, prefix, PREFIXED, "User:a", operation, permission),
            )
        };
        assert_eq!(
            prefixed("orders-", READ, ALLOW),
            Some(binding(
                TOPIC,
                "source.orders-",
                PREFIXED,
                "User:a",
                READ,
                ALLOW
            ))
        );
        assert_eq!(
            prefixed("orders-", ALL, ALLOW),
            Some(binding(
                TOPIC,
                "source.orders-",
                PREFIXED,
                "User:a",
                READ,
                ALLOW
            ))
        );
        assert_eq!(
            prefixed("orders-", ALL, DENY),
            Some(binding(
                TOPIC,
                "source.orders-",
                PREFIXED,
                "User:a",
                ALL,
                DENY
            ))
        );
        assert_eq!(
            prefixed("orders-", WRITE, ALLOW),
            None,
            "ALLOW WRITE dropped"
        );
        assert_eq!(prefixed("pay", READ, ALLOW), None, "prefix not in `topics`");
        assert_eq!(prefixed("__", READ, ALLOW), None, "internal prefix");
        // LITERAL ones still work as in MM2.
        assert_eq!(
            one(&flow, topic_acl("orders", "User:a", READ, ALLOW))
                .unwrap()
                .resource_name,
            "source.orders"
        );
    }

    #[test]
    fn group_acls_are_copied_for_selected_groups_when_opted_in() {
        let flow = config_for("sync.group.acls.enabled = true\ngroups = app-.*");
        let group = |name: &str, pattern_type, operation, permission| {
            one(
                &flow,
                binding(GROUP, name, pattern_type, "User:a", operation, permission),
            )
        };
        assert_eq!(
            group("app-1", LITERAL, READ, ALLOW),
            Some(binding(GROUP, "app-1", LITERAL, "User:a", READ, ALLOW)),
            "group names are not renamed"
        );
        assert_eq!(
            group("app-1", LITERAL, ALL, ALLOW),
            Some(binding(GROUP, "app-1", LITERAL, "User:a", READ, ALLOW))
        );
        assert_eq!(
            group("app-1", LITERAL, ALL, DENY),
            Some(binding(GROUP, "app-1", LITERAL, "User:a", ALL, DENY))
        );
        assert_eq!(
            group("app-", PREFIXED, DESCRIBE, ALLOW),
            Some(binding(GROUP, "app-", PREFIXED, "User:a", DESCRIBE, ALLOW))
        );
        assert_eq!(
            group("billing", LITERAL, READ, ALLOW),
            None,
            "not in `groups`"
        );
        let excluded = flow_with("a:1", "b:1", "sync.group.acls.enabled = true");
        assert_eq!(
            one(
                &excluded,
                binding(GROUP, "console-consumer-1", LITERAL, "User:a", READ, ALLOW)
            ),
            None,
            "in the default `groups.exclude`"
        );
        // Off by default.
        assert_eq!(
            one(
                &config_for("groups = app-.*"),
                binding(GROUP, "app-1", LITERAL, "User:a", READ, ALLOW)
            ),
            None
        );
    }

    #[test]
    fn repeats_are_created_once() {
        let flow = config_for("");
        let bindings = target_bindings(
            &flow,
            &[
                topic_acl("orders", "User:a", ALL, ALLOW),
                topic_acl("orders", "User:a", READ, ALLOW),
            ],
        );
        assert_eq!(bindings.len(), 2);
        assert_eq!(dedup(bindings).len(), 1);
    }

    #[test]
    fn bindings_are_described_in_words() {
        assert_eq!(
            topic_acl("source.orders", "User:alice", READ, ALLOW).to_string(),
            "User:alice ALLOW READ on topic source.orders (LITERAL) from host *"
        );
        assert!(binding(GROUP, "app-", PREFIXED, "User:a", 42, DENY)
            .to_string()
            .contains("on group app- (PREFIXED)"));
    }

    // --- passes against scripted peers and a real broker -------------------------------------

    fn peer_acl(b: &AclBinding) -> PeerAcl {
        PeerAcl {
            resource_type: b.resource_type,
            resource_name: b.resource_name.clone(),
            pattern_type: b.pattern_type,
            principal: b.principal.clone(),
            host: b.host.clone(),
            operation: b.operation,
            permission_type: b.permission_type,
        }
    }

    fn sorted(mut acls: Vec<PeerAcl>) -> Vec<PeerAcl> {
        acls.sort();
        acls
    }

    async fn connect(name: &str, bootstrap: &str) -> Cluster {
        Cluster::connect(ClusterConfig::new(name, bootstrap).unwrap())
            .await
            .expect("client connects")
    }

    /// The source of the end-to-end tests: `test-topic-1` with MM2-relevant ACLs.
    fn source_peer() -> AclPeer {
        let peer = AclPeer::start(&[("test-topic-1", 1), ("other-topic", 2)], true);
        for acl in [
            topic_acl("test-topic-1", "User:alice", READ, ALLOW),
            topic_acl("test-topic-1", "User:bob", WRITE, ALLOW),
            topic_acl("test-topic-1", "User:carol", ALL, ALLOW),
            topic_acl("test-topic-1", "User:mallory", READ, DENY),
            binding(TOPIC, "test-", PREFIXED, "User:dave", READ, ALLOW),
            binding(GROUP, "app-1", LITERAL, "User:alice", READ, ALLOW),
            binding(
                resource::CLUSTER,
                "kafka-cluster",
                LITERAL,
                "User:ops",
                ALL,
                ALLOW,
            ),
        ] {
            peer.add_acl(peer_acl(&acl));
        }
        peer
    }

    struct Setup {
        flow: FlowConfig,
        source: Cluster,
        target: Cluster,
        stats: FlowStats,
    }

    async fn setup(source: &AclPeer, target: &AclPeer, extra: &str) -> Setup {
        let flow = flow_with(&source.bootstrap(), &target.bootstrap(), extra);
        Setup {
            source: connect("source", &source.bootstrap()).await,
            target: connect("target", &target.bootstrap()).await,
            flow,
            stats: FlowStats::default(),
        }
    }

    impl Setup {
        async fn pass(&self) -> usize {
            sync_topic_acls(&self.flow, &self.source, &self.target, &self.stats).await
        }

        fn stats(&self) -> StatsSnapshot {
            self.stats.snapshot()
        }
    }

    fn remote(principal: &str, operation: i8, permission: i8) -> PeerAcl {
        peer_acl(&topic_acl(
            "source.test-topic-1",
            principal,
            operation,
            permission,
        ))
    }

    #[tokio::test]
    async fn a_pass_mirrors_mm2s_bindings_once() {
        let source = source_peer();
        let target = AclPeer::start(&[("source.test-topic-1", 1)], true);
        let s = setup(&source, &target, "").await;

        assert_eq!(s.pass().await, 3);
        assert_eq!(
            sorted(target.acls()),
            sorted(vec![
                remote("User:alice", READ, ALLOW),
                remote("User:carol", READ, ALLOW),
                remote("User:mallory", READ, DENY),
            ])
        );
        assert_eq!((s.stats().acls_synced, s.stats().sync_failures), (3, 0));

        // Idempotent: a second pass finds everything in place.
        assert_eq!(s.pass().await, 0);
        assert_eq!(target.acls().len(), 3);
        assert_eq!((s.stats().acls_synced, s.stats().sync_failures), (3, 0));
        assert_eq!(source.acls().len(), 7, "the source is only read");
    }

    #[tokio::test]
    async fn target_acls_are_neither_duplicated_nor_deleted() {
        let source = source_peer();
        let target = AclPeer::start(&[("source.test-topic-1", 1), ("local", 1)], true);
        let pre_existing = remote("User:alice", READ, ALLOW);
        let unrelated = peer_acl(&topic_acl("local", "User:zed", DESCRIBE, ALLOW));
        let mirror_write = remote("User:mm2", WRITE, ALLOW);
        for acl in [&pre_existing, &unrelated, &mirror_write] {
            target.add_acl(acl.clone());
        }
        let s = setup(&source, &target, "").await;

        assert_eq!(s.pass().await, 2, "carol and mallory only");
        assert_eq!(
            sorted(target.acls()),
            sorted(vec![
                pre_existing,
                unrelated,
                mirror_write,
                remote("User:carol", READ, ALLOW),
                remote("User:mallory", READ, DENY),
            ])
        );
        assert_eq!(s.pass().await, 0);
    }

    #[tokio::test]
    async fn opt_ins_mirror_prefixed_topic_and_group_acls() {
        let source = source_peer();
        let target = AclPeer::start(&[("source.test-topic-1", 1)], true);
        let s = setup(
            &source,
            &target,
            "sync.topic.acls.prefixed.enabled = true\nsync.group.acls.enabled = true",
        )
        .await;

        assert_eq!(s.pass().await, 5);
        assert_eq!(
            sorted(target.acls()),
            sorted(vec![
                remote("User:alice", READ, ALLOW),
                remote("User:carol", READ, ALLOW),
                remote("User:mallory", READ, DENY),
                peer_acl(&binding(
                    TOPIC,
                    "source.test-",
                    PREFIXED,
                    "User:dave",
                    READ,
                    ALLOW
                )),
                peer_acl(&binding(GROUP, "app-1", LITERAL, "User:alice", READ, ALLOW)),
            ])
        );
        assert_eq!(s.pass().await, 0);
    }

    #[tokio::test]
    async fn a_source_without_authorizer_is_skipped_quietly() {
        let source = AclPeer::start(&[("test-topic-1", 1)], false);
        let target = AclPeer::start(&[("source.test-topic-1", 1)], true);
        let s = setup(&source, &target, "").await;
        assert_eq!(s.pass().await, 0);
        assert_eq!(s.pass().await, 0);
        assert_eq!(s.stats(), StatsSnapshot::default(), "not a failure");
        assert!(target.acls().is_empty());
    }

    #[tokio::test]
    async fn a_target_without_authorizer_counts_a_failure_per_pass() {
        let source = source_peer();
        let target = AclPeer::start(&[("source.test-topic-1", 1)], false);
        let s = setup(&source, &target, "").await;
        assert_eq!(s.pass().await, 0);
        assert_eq!(s.pass().await, 0);
        assert_eq!((s.stats().acls_synced, s.stats().sync_failures), (0, 2));
        assert!(target.acls().is_empty());
    }

    #[tokio::test]
    async fn rejected_bindings_are_counted_and_the_others_created() {
        let source = AclPeer::start(&[("test-topic-1", 1)], true);
        source.add_acl(peer_acl(&topic_acl(
            "test-topic-1",
            "User:alice",
            READ,
            ALLOW,
        )));
        // The peer, like Kafka, rejects a principal that is not `Type:name`.
        source.add_acl(peer_acl(&topic_acl("test-topic-1", "alice", READ, ALLOW)));
        let target = AclPeer::start(&[("source.test-topic-1", 1)], true);
        let s = setup(&source, &target, "").await;
        assert_eq!(s.pass().await, 1);
        assert_eq!(target.acls(), vec![remote("User:alice", READ, ALLOW)]);
        assert_eq!((s.stats().acls_synced, s.stats().sync_failures), (1, 1));
    }

    /// A real broker without an authorizer (noida answers SECURITY_DISABLED) as the source: the
    /// pass does nothing and is no failure.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_real_broker_without_authorizer_as_source_creates_nothing() {
        if !strait_testkit::kinds_under_test().contains(&BrokerKind::Noida) {
            eprintln!("not run: broker noida is not selected by STRAIT_TEST_BROKERS");
            return;
        }
        let node = tokio::task::spawn_blocking(|| TestCluster::start(BrokerKind::Noida))
            .await
            .unwrap()
            .expect("noida test broker must start");
        let target = AclPeer::start(&[], true);
        let flow = flow_with(&node.bootstrap(), &target.bootstrap(), "");
        let source = connect("source", &node.bootstrap()).await;
        let target_cluster = connect("target", &target.bootstrap()).await;
        let stats = FlowStats::default();
        let error = source
            .describe_acls(&AclFilter::any_topic())
            .await
            .expect_err("noida has no authorizer");
        assert!(no_authorizer(&error), "{error}");
        assert_eq!(
            sync_topic_acls(&flow, &source, &target_cluster, &stats).await,
            0
        );
        assert_eq!(stats.snapshot(), StatsSnapshot::default());
        assert!(target.acls().is_empty());
    }
}
