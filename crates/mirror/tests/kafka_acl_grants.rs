//! The ACLs strait needs, on Apache Kafka with StandardAuthorizer (`kafka_acls_support`):
//!
//! - the example grants of docs/security.md, run as written, are enough for a whole mirror
//!   (data, configs, checkpoints, group offsets, heartbeats, ACLs) without one refusal;
//! - a missing ACL is named (operation, resource, cluster, how to grant it), everything else
//!   goes on, and once the ACL is granted strait catches up by itself.

mod kafka_acls_support;

use kafka_acls_support::*;
use strait_fixtures::*;
use strait_kafka::acl::{operation, pattern, resource};
use strait_kafka::batch::Compression;
use strait_kafka::{AclBinding, Producer};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(;
    // Only Apache Kafka runs an authorizer here.
    kafka_only: documented_grants_are_enough,
    documented_grants_are_enough_for_exactly_once,
    a_missing_acl_is_named_and_the_rest_goes_on,
);

const DOC: &str = include_str!("../../../docs/security.md");

/// The ACL grants of docs/security.md's example, for a source aliased `source` and a target
/// aliased `target` (the example's `east` and `west`), by cluster alias.
fn documented_grants(source: &str, target: &str) -> Vec<(String, AclBinding)> {
    let grants = grants_after("Example grants with Kafka's tool", source, target);
    assert!(grants.len() > 10, "parsed {grants:?}");
    grants
}

/// What exactly-once mode needs beyond [`documented_grants`] (docs/security.md).
fn documented_exactly_once_grants(source: &str, target: &str) -> Vec<(String, AclBinding)> {
    let grants = grants_after("In [exactly-once mode](exactly-once.md)", source, target);
    assert_eq!(grants.len(), 2, "parsed {grants:?}");
    grants
}

/// The grants of the first sh block after `heading` in docs/security.md.
fn grants_after(heading: &str, source: &str, target: &str) -> Vec<(String, AclBinding)> {
    let block = DOC
        .split(heading)
        .nth(1)
        .and_then(|rest| rest.split("```sh").nth(1))
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("docs/security.md has grants in a sh block after {heading:?}"));
    let joined = block.replace("\\\n", " ");
    let mut grants = Vec::new();
    for line in joined.lines().map(str::trim) {
        if !line.starts_with("kafka-acls.sh") {
            continue;
        }
        let line = line.replace("east", source).replace("west", target);
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| w.trim_matches('\'').to_owned())
            .collect();
        let (mut cluster, mut principal, mut prefixed) = (None, None, false);
        let (mut operations, mut resources) = (Vec::new(), Vec::new());
        let mut words = words.iter();
        while let Some(word) = words.next() {
            let mut value = || words.next().expect("option value").clone();
            match word.as_str() {
                "--bootstrap-server" => {
                    cluster = Some(value().split(':').next().unwrap().to_owned())
                }
                "--allow-principal" => principal = Some(value()),
                "--operation" => operations.push(operation_code(&value())),
                "--topic" => resources.push((resource::TOPIC, value())),
                "--group" => resources.push((resource::GROUP, value())),
                "--cluster" => resources.push((resource::CLUSTER, "kafka-cluster".to_owned())),
                "--transactional-id" => resources.push((resource::TRANSACTIONAL_ID, value())),
                "--resource-pattern-type" => prefixed = value() == "prefixed",
                _ => {}
            }
        }
        let cluster = cluster.expect("--bootstrap-server");
        let principal = principal
            .expect("--allow-principal")
            .replace("User:mm2", &format!("User:{MIRROR_USER}"));
        for (resource_type, name) in &resources {
            // `*` is Kafka's wildcard (a LITERAL pattern); prefixes name topics and
            // transactional ids here.
            let named = [resource::TOPIC, resource::TRANSACTIONAL_ID];
            let pattern_type = if prefixed && named.contains(resource_type) {
                pattern::PREFIXED
            } else {
                pattern::LITERAL
            };
            for &op in &operations {
                grants.push((
                    cluster.clone(),
                    AclBinding::allow(
                        *resource_type,
                        name.clone(),
                        pattern_type,
                        principal.clone(),
                        op,
                    ),
                ));
            }
        }
    }
    grants
}

fn operation_code(name: &str) -> i8 {
    match name {
        "All" => operation::ALL,
        "Read" => operation::READ,
        "Write" => operation::WRITE,
        "Create" => operation::CREATE,
        "Delete" => operation::DELETE,
        "Alter" => operation::ALTER,
        "Describe" => operation::DESCRIBE,
        "DescribeConfigs" => operation::DESCRIBE_CONFIGS,
        "AlterConfigs" => operation::ALTER_CONFIGS,
        "IdempotentWrite" => operation::IDEMPOTENT_WRITE,
        other => panic!("docs/security.md names an operation this test does not know: {other}"),
    }
}

/// Applies the documented grants to both clusters of `pair`, leaving out those `skip` rejects.
async fn grant_documented(pair: &SecurePair, skip: impl Fn(&str, &AclBinding) -> bool) {
    let grants = documented_grants(pair.source_alias, pair.target_alias);
    grant_to(pair, &grants, skip).await;
}

/// Applies `grants` (by cluster alias), leaving out those `skip` rejects.
async fn grant_to(
    pair: &SecurePair,
    grants: &[(String, AclBinding)],
    skip: impl Fn(&str, &AclBinding) -> bool,
) {
    for alias in [pair.source_alias, pair.target_alias] {
        let bindings: Vec<AclBinding> = grants
            .iter()
            .filter(|(c, b)| c == alias && !skip(c, b))
            .map(|(_, b)| b.clone())
            .collect();
        if !bindings.is_empty() {
            grant(pair.admin_of(alias), &bindings).await;
        }
    }
}

/// The tracing output of this test binary (every test's; filter by flow label).
fn captured_logs() -> CapturedLogs {
    capture_logs("strait_mirror=debug,strait_kafka=info")
}

/// The captured log lines of flow `label`.
fn flow_logs(label: &str) -> Vec<String> {
    captured_logs()
        .text()
        .lines()
        .filter(|l| l.contains(&format!("flow={label}")))
        .map(str::to_owned)
        .collect()
}

/// docs/security.md's example grants, as written: records, topic configs, checkpoints, group
/// offsets, heartbeats and ACLs all arrive, the flow's scale-out group forms, and no request of
/// strait's is refused.
async fn documented_grants_are_enough(_kind: BrokerKind) {
    captured_logs();
    let pair = SecurePair::start("east", "west").await;
    grant_documented(&pair, |_, _| false).await;
    create_topic_with(
        &pair.source,
        "orders",
        2,
        &[("max.message.bytes", "2000000")],
    )
    .await;
    // Partition 1 in two batches; the group commits at batch boundaries, which translate exactly.
    let producer = Producer::idempotent(&pair.source).await.unwrap();
    let records = fixture_records("orders", 0, 20);
    produce(&producer, "orders", 0, Compression::Zstd, &records).await;
    let records = fixture_records("orders", 1, 20);
    produce(&producer, "orders", 1, Compression::Zstd, &records[..10]).await;
    produce(&producer, "orders", 1, Compression::Zstd, &records[10..]).await;
    pair.source
        .commit_offsets("app-1", &[("orders", 0, 20, None), ("orders", 1, 10, None)])
        .await
        .expect("the group commits on the source");
    let reader_acl = AclBinding::allow(
        resource::TOPIC,
        "orders",
        pattern::LITERAL,
        user(READER),
        operation::READ,
    );
    grant(&pair.source, std::slice::from_ref(&reader_acl)).await;

    // In a group of one on the target (scale-out, on by default): the documented group grants
    // cover it.
    let mirror = start_mirror(&pair.properties("sync.group.offsets.enabled = true\n"));
    wait_for_records(&pair.target, "east.orders", 40).await;
    let target = &pair.target;
    eventually("strait's group stable on the target", || async move {
        let group = target
            .describe_group("strait-east-west")
            .await
            .map_err(|e| e.to_string())?;
        (group.state == "Stable" && group.protocol_type == "strait" && group.members.len() == 1)
            .then_some(())
            .ok_or(format!("{group:?}"))
    })
    .await;
    eventually("group app-1 synced to the target", || async move {
        let offsets = target
            .fetch_offsets("app-1", None)
            .await
            .map_err(|e| e.to_string())?;
        let at: Vec<(i32, i64)> = offsets.iter().map(|((_, p), o)| (*p, o.offset)).collect();
        (at == [(0, 20), (1, 10)])
            .then_some(())
            .ok_or(format!("{at:?}"))
    })
    .await;
    eventually("max.message.bytes on east.orders", || async move {
        let entry = topic_config(target, "east.orders", "max.message.bytes").await;
        match entry.and_then(|e| e.value) {
            Some(v) if v == "2000000" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    eventually("heartbeats on the target", || async move {
        match count_records(target, "heartbeats").await {
            0 => Err("none yet".to_owned()),
            _ => Ok(()),
        }
    })
    .await;
    let copied = &AclBinding::allow(
        resource::TOPIC,
        "east.orders",
        pattern::LITERAL,
        user(READER),
        operation::READ,
    );
    eventually("the reader's ACL copied", || async move {
        all_acls(target)
            .await
            .contains(&copied.to_string())
            .then_some(())
            .ok_or("not yet".to_owned())
    })
    .await;
    let stats = flow_stats(&mirror, "east->west");
    shutdown(mirror).await;
    let refusals: Vec<String> = flow_logs("east->west")
        .into_iter()
        .filter(|l| l.contains("AuthorizationFailed") || l.contains("lacks the ACL"))
        .collect();
    assert!(
        refusals.is_empty(),
        "the documented grants lack something:\n{}",
        refusals.join("\n")
    );
    assert_eq!(stats.sync_failures, 0, "{stats:?}");
}

/// Exactly-once mode with docs/security.md's grants and its transactional-id grant: every
/// record arrives in committed transactions and no request is refused.
async fn documented_grants_are_enough_for_exactly_once(_kind: BrokerKind) {
    captured_logs();
    let pair = SecurePair::start("dawn", "dusk").await;
    grant_documented(&pair, |_, _| false).await;
    let eos = documented_exactly_once_grants(pair.source_alias, pair.target_alias);
    grant_to(&pair, &eos, |_, _| false).await;
    create_topic(&pair.source, "orders", 2).await;
    let producer = Producer::idempotent(&pair.source).await.unwrap();
    for p in 0..2 {
        let records = fixture_records("orders", p, 20);
        produce(&producer, "orders", p, Compression::Lz4, &records).await;
    }
    let mirror = start_mirror(&pair.properties("dusk.exactly.once.source.support = enabled\n"));
    wait_for_records(&pair.target, "dawn.orders", 40).await;
    let stats = wait_for_stats(&mirror, "dawn->dusk", "committed", |s| {
        s.records >= 40 && s.transactions_committed > 0
    })
    .await;
    shutdown(mirror).await;
    let refusals: Vec<String> = flow_logs("dawn->dusk")
        .into_iter()
        .filter(|l| l.contains("AuthorizationFailed") || l.contains("lacks the ACL"))
        .collect();
    assert!(
        refusals.is_empty(),
        "the documented grants lack something for exactly-once mode:\n{}",
        refusals.join("\n")
    );
    assert_eq!(stats.transactions_failed, 0, "{stats:?}");
}

/// Without the target's Cluster Alter and without Create on one remote topic: each refusal
/// names the missing ACL, the cluster and the grant command; the other topic and everything
/// else is mirrored; granting the two ACLs later lets strait catch up by itself.
async fn a_missing_acl_is_named_and_the_rest_goes_on(_kind: BrokerKind) {
    captured_logs();
    let pair = SecurePair::start("south", "north").await;
    // Create on remote topics only under north's `south.orders`, not `south.` as documented.
    grant_documented(&pair, |alias, b| {
        alias == "north"
            && ((b.resource_type == resource::CLUSTER && b.operation == operation::ALTER)
                || (b.resource_name == "south." && b.operation == operation::CREATE))
    })
    .await;
    let create_orders = AclBinding::allow(
        resource::TOPIC,
        "south.orders",
        pattern::LITERAL,
        user(MIRROR_USER),
        operation::CREATE,
    );
    let create_internal = [
        AclBinding::allow(
            resource::TOPIC,
            "south.checkpoints.internal",
            pattern::LITERAL,
            user(MIRROR_USER),
            operation::CREATE,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "south.heartbeats",
            pattern::LITERAL,
            user(MIRROR_USER),
            operation::CREATE,
        ),
    ];
    grant(
        &pair.target,
        &[
            create_orders.clone(),
            create_internal[0].clone(),
            create_internal[1].clone(),
        ],
    )
    .await;
    topic_with_records(&pair, "orders", 2, 10).await;
    topic_with_records(&pair, "orders.audit", 1, 10).await;
    let reader_acl = AclBinding::allow(
        resource::TOPIC,
        "orders",
        pattern::LITERAL,
        user(READER),
        operation::READ,
    );
    grant(&pair.source, std::slice::from_ref(&reader_acl)).await;

    let mirror = start_mirror(&pair.properties(""));
    wait_for_records(&pair.target, "south.orders", 20).await;
    let label = "south->north";
    eventually("both refusals logged", || async move {
        let logs = flow_logs(label);
        let create = logs.iter().any(|l| {
            l.contains("cluster north")
                && l.contains("User:mm2 lacks the ACL ALLOW Create on topic south.orders.audit")
                && l.contains("--operation Create --topic 'south.orders.audit'")
        });
        // ACL sync describes the target's ACLs before creating the missing ones: without
        // Cluster Alter (which implies Describe) that is the first refusal.
        let alter = logs.iter().any(|l| {
            l.contains("cluster north")
                && l.contains("User:mm2 lacks the ACL ALLOW Describe on the cluster")
                && l.contains("--operation Describe --cluster")
        });
        (create && alter).then_some(()).ok_or(format!(
            "create named: {create}, cluster alter named: {alter}; logs:\n{}",
            logs.join("\n")
        ))
    })
    .await;
    let stats = flow_stats(&mirror, label);
    assert!(stats.sync_failures > 0, "{stats:?}");
    assert_eq!(count_records(&pair.target, "south.orders.audit").await, 0);
    assert_eq!(
        count_records(&pair.target, "south.orders").await,
        20,
        "the rest goes on"
    );

    // Granted later: the topic is created and mirrored, the ACL copied, with no restart.
    grant(
        &pair.target,
        &[
            AclBinding::allow(
                resource::TOPIC,
                "south.",
                pattern::PREFIXED,
                user(MIRROR_USER),
                operation::CREATE,
            ),
            AclBinding::allow(
                resource::CLUSTER,
                "kafka-cluster",
                pattern::LITERAL,
                user(MIRROR_USER),
                operation::ALTER,
            ),
        ],
    )
    .await;
    wait_for_records(&pair.target, "south.orders.audit", 10).await;
    let copied = &AclBinding::allow(
        resource::TOPIC,
        "south.orders",
        pattern::LITERAL,
        user(READER),
        operation::READ,
    );
    let target = &pair.target;
    eventually("the reader's ACL copied once allowed", || async move {
        all_acls(target)
            .await
            .contains(&copied.to_string())
            .then_some(())
            .ok_or("not yet".to_owned())
    })
    .await;
    shutdown(mirror).await;
}
