//! MM2's vectors (`MirrorSourceConnectorTest.testAclFiltering`/`testAclTransformation`),
//! strait's opt-ins, and whole passes against [`AclPeer`]s (scripted stand-ins for
//! authorizer-enabled brokers; no test broker here runs an authorizer) and a real noida
//! broker without one.

use strait_kafka::ClusterConfig;
use strait_testkit::{AclPeer, BrokerKind, PeerAcl, TestCluster};

use super::*;
use std::sync::Mutex as TotalsLock;

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
    sync: AclSync,
    totals: TotalsLock<Totals>,
}

async fn setup(source: &AclPeer, target: &AclPeer, extra: &str) -> Setup {
    let flow = flow_with(&source.bootstrap(), &target.bootstrap(), extra);
    Setup {
        source: connect("source", &source.bootstrap()).await,
        target: connect("target", &target.bootstrap()).await,
        flow,
        sync: AclSync::default(),
        totals: TotalsLock::default(),
    }
}

impl Setup {
    async fn pass(&self) -> usize {
        let report = self.sync.pass(&self.flow, &self.source, &self.target).await;
        self.totals.lock().unwrap().add(report);
        report.applied
    }

    fn stats(&self) -> Totals {
        *self.totals.lock().unwrap()
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
    assert_eq!(s.stats(), Totals::default(), "not a failure");
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
    let mut stats = Totals::default();
    let error = source
        .describe_acls(&AclFilter::any_topic())
        .await
        .expect_err("noida has no authorizer");
    assert!(no_authorizer(&error), "{error}");
    let report = AclSync::default()
        .pass(&flow, &source, &target_cluster)
        .await;
    stats.add(report);
    assert_eq!(report.applied, 0);
    assert_eq!(stats, Totals::default());
    assert!(target.acls().is_empty());
}

/// What the flow's counters would hold after the passes (as `FlowStats::acl_pass` counts them).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    acls_synced: u64,
    sync_failures: u64,
}

impl Totals {
    fn add(&mut self, report: PassReport) {
        self.acls_synced += report.applied as u64;
        self.sync_failures += report.failures;
    }
}
