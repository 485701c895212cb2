//! ACL sync on Apache Kafka with StandardAuthorizer, so ACLs are enforced
//! (`kafka_acls_support`): ACL sync follows MM2's rules on a real authorizer, and the synced ACLs
//! are in force on the target (the reader may read the replica, the writer may not write it).
//! The documented grants and a missing ACL: `kafka_acl_grants`.

mod kafka_acls_support;

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_acls_support::*;
use strait_fixtures::*;
use strait_kafka::acl::{operation, pattern, resource};
use strait_kafka::batch::Compression;
use strait_kafka::{AclBinding, Cluster, FetchOptions, Producer};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(;
    // Only Apache Kafka runs an authorizer here.
    kafka_only: acl_sync_on_a_real_authorizer,
);

/// ACL sync as MM2 does it, on a real authorizer, plus strait's two opt-ins; then the synced
/// ACLs at work: the reader may read the replica, the writer may not write it.
async fn acl_sync_on_a_real_authorizer(_kind: BrokerKind) {
    let pair = SecurePair::start("primary", "backup").await;
    // strait may do anything on both clusters: this test is about what it copies.
    let everything = |c: &Cluster| {
        let c = c.clone();
        async move {
            let all = [
                AclBinding::allow(
                    resource::TOPIC,
                    "*",
                    pattern::LITERAL,
                    user(MIRROR_USER),
                    operation::ALL,
                ),
                AclBinding::allow(
                    resource::GROUP,
                    "*",
                    pattern::LITERAL,
                    user(MIRROR_USER),
                    operation::ALL,
                ),
                AclBinding::allow(
                    resource::CLUSTER,
                    "kafka-cluster",
                    pattern::LITERAL,
                    user(MIRROR_USER),
                    operation::ALL,
                ),
            ];
            grant(&c, &all).await;
        }
    };
    everything(&pair.source).await;
    everything(&pair.target).await;
    topic_with_records(&pair, "orders", 2, 10).await;
    create_topic(&pair.source, "secret", 1).await;

    let source_acls = [
        // Copied: ALLOW READ and DESCRIBE, DENY of any operation.
        AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            user(READER),
            operation::READ,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            user(READER),
            operation::DESCRIBE,
        ),
        AclBinding::deny(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            "User:eve",
            operation::READ,
        ),
        // Downgraded: ALLOW ALL becomes ALLOW READ.
        AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            "User:carol",
            operation::ALL,
        ),
        // Never copied: ALLOW WRITE (only the mirror writes remote topics).
        AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            user(WRITER),
            operation::WRITE,
        ),
        // Not mirrored by this flow's topic filter.
        AclBinding::allow(
            resource::TOPIC,
            "secret",
            pattern::LITERAL,
            user(READER),
            operation::READ,
        ),
        // PREFIXED: copied (renamed) with sync.topic.acls.prefixed.enabled.
        AclBinding::allow(
            resource::TOPIC,
            "orders-",
            pattern::PREFIXED,
            "User:dan",
            operation::READ,
        ),
        // Groups: copied as they are with sync.group.acls.enabled, ALL downgraded too.
        AclBinding::allow(
            resource::GROUP,
            "app-1",
            pattern::LITERAL,
            user(READER),
            operation::READ,
        ),
        AclBinding::allow(
            resource::GROUP,
            "app-",
            pattern::PREFIXED,
            "User:carol",
            operation::ALL,
        ),
        AclBinding::allow(
            resource::GROUP,
            "other",
            pattern::LITERAL,
            user(READER),
            operation::READ,
        ),
    ];
    grant(&pair.source, &source_acls).await;
    let before = all_acls(&pair.target).await;

    let mirror = start_mirror(&pair.properties(
        "sync.topic.acls.enabled = true\n\
         sync.topic.acls.prefixed.enabled = true\n\
         sync.group.acls.enabled = true\n",
    ));
    let expected = &expected_set();
    let target = &pair.target;
    let before_ref = &before;
    let synced = eventually("the source's ACLs on the target", || async move {
        let now = all_acls(target).await;
        let added: BTreeSet<String> = now.difference(before_ref).cloned().collect();
        (added.len() >= expected.len())
            .then_some(added.clone())
            .ok_or(format!("added so far: {added:#?}"))
    })
    .await;
    // A few more passes: nothing else appears (WRITE, the filtered topic, the other group).
    let passes = flow_stats(&mirror, "primary->backup").acls_synced;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = flow_stats(&mirror, "primary->backup");
    assert_eq!(
        stats.acls_synced, passes,
        "later passes create nothing: {stats:?}"
    );
    let now: BTreeSet<String> = all_acls(&pair.target)
        .await
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(now, synced);
    assert_eq!(now, expected_set(), "exactly MM2's rules plus the opt-ins");
    wait_for_records(&pair.target, "primary.orders", 20).await;
    shutdown(mirror).await;

    // The copied ACLs are in force: the reader reads the replica, the writer cannot write it.
    let reader_client = pair.client_as(&pair.target_node, READER).await;
    let position = fetch_position("primary.orders", 0, 0);
    let fetched = reader_client
        .fetch(&position, &FetchOptions::default())
        .await
        .expect("alice may read primary.orders");
    assert!(fetched.batches().count() > 0);
    let writer_client = pair.client_as(&pair.target_node, WRITER).await;
    let refused = match Producer::idempotent(&writer_client).await {
        Ok(producer) => producer
            .send(
                "primary.orders",
                0,
                &batch(Compression::None, &fixture_records("x", 0, 1)),
            )
            .await
            .expect_err("bob's WRITE was not copied"),
        Err(e) => e,
    };
    let denied = refused
        .denied()
        .unwrap_or_else(|| panic!("an authorization error: {refused}"));
    assert_eq!(denied.principal.as_deref(), Some("User:bob"), "{refused}");
    assert!(
        refused.to_string().contains("kafka-acls.sh --add"),
        "{refused}"
    );
}

/// The ACLs `acl_sync_on_a_real_authorizer` expects strait to add to the target.
fn expected_set() -> BTreeSet<String> {
    [
        AclBinding::allow(
            resource::TOPIC,
            "primary.orders",
            pattern::LITERAL,
            user(READER),
            operation::READ,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "primary.orders",
            pattern::LITERAL,
            user(READER),
            operation::DESCRIBE,
        ),
        AclBinding::deny(
            resource::TOPIC,
            "primary.orders",
            pattern::LITERAL,
            "User:eve",
            operation::READ,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "primary.orders",
            pattern::LITERAL,
            "User:carol",
            operation::READ,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "primary.orders-",
            pattern::PREFIXED,
            "User:dan",
            operation::READ,
        ),
        AclBinding::allow(
            resource::GROUP,
            "app-1",
            pattern::LITERAL,
            user(READER),
            operation::READ,
        ),
        AclBinding::allow(
            resource::GROUP,
            "app-",
            pattern::PREFIXED,
            "User:carol",
            operation::READ,
        ),
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}
