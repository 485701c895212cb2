//! The scripted ACL peer that ACL sync is tested against, checked through strait's own client.
//!
//! No test broker here runs an authorizer (noida answers ACL requests with SECURITY_DISABLED,
//! tansu describes an empty list and answers CreateAcls with a malformed response), so ACL sync
//! (`engine::acl_sync`) is tested against `strait_testkit::AclPeer`, a stand-in for an
//! authorizer-enabled broker. Its vectors (MM2's `testAclFiltering`/`testAclTransformation`,
//! strait's opt-ins) and whole passes are unit tests in `engine/acl_sync.rs`, because
//! `sync_topic_acls` and `target_bindings` are crate-private. This file checks that the peer
//! speaks the protocol at every version it advertises and filters like Kafka's authorizer, and
//! that its "no authorizer" mode answers like a real noida broker. None of this proves
//! behaviour against a real broker with an authorizer.

use strait_kafka::acl::{operation, pattern, permission, resource};
use strait_kafka::protocol::messages::create_acls_request::AclCreation;
use strait_kafka::protocol::messages::metadata_request::MetadataRequestTopic;
use strait_kafka::protocol::messages::{
    CreateAclsRequest, DescribeAclsRequest, ListOffsetsRequest, MetadataRequest, TopicName,
};
use strait_kafka::protocol::protocol::{Request, StrBytes};
use strait_kafka::{AclBinding, AclFilter, Cluster, Error, ResponseError};
use strait_testkit::{AclPeer, BrokerKind, PeerAcl};

async fn connect(peer: &AclPeer) -> Cluster {
    strait_fixtures::connect("peer", &peer.bootstrap()).await
}

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

fn names(mut acls: Vec<AclBinding>) -> Vec<String> {
    acls.sort_by(|a, b| {
        (
            a.resource_type,
            &a.resource_name,
            a.pattern_type,
            &a.principal,
        )
            .cmp(&(
                b.resource_type,
                &b.resource_name,
                b.pattern_type,
                &b.principal,
            ))
    });
    acls.into_iter()
        .map(|a| format!("{}:{}:{}", a.resource_type, a.pattern_type, a.resource_name))
        .collect()
}

fn creation(b: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(b.resource_type)
        .with_resource_name(StrBytes::from_string(b.resource_name.clone()))
        .with_resource_pattern_type(b.pattern_type)
        .with_principal(StrBytes::from_string(b.principal.clone()))
        .with_host(StrBytes::from_string(b.host.clone()))
        .with_operation(b.operation)
        .with_permission_type(b.permission_type)
}

#[tokio::test]
async fn the_peer_advertises_four_apis_and_lists_itself_and_its_topics() {
    let peer = AclPeer::start(&[("orders", 3), ("source.orders", 1)], true);
    let cluster = connect(&peer).await;
    let metadata = cluster.metadata();
    assert_eq!(metadata.brokers.len(), 1);
    let broker = metadata.brokers.values().next().unwrap();
    assert_eq!(format!("{}:{}", broker.host, broker.port), peer.bootstrap());
    assert_eq!(metadata.topics["orders"].partitions.len(), 3);
    assert_eq!(metadata.topics["source.orders"].partitions.len(), 1);
    assert_eq!(metadata.leader("orders", 2), Some(1));

    let conn = cluster.any_broker().await.unwrap();
    assert_eq!(conn.versions().pick::<DescribeAclsRequest>(), Some(3));
    assert_eq!(conn.versions().pick::<CreateAclsRequest>(), Some(3));
    assert_eq!(conn.versions().pick::<MetadataRequest>(), Some(12));
    assert!(!conn.versions().supports(ListOffsetsRequest::KEY));

    // Every advertised Metadata version, all topics and one unknown topic.
    for version in 0..=12 {
        let all = MetadataRequest::default().with_topics(if version == 0 {
            Some(Vec::new())
        } else {
            None
        });
        let response = conn
            .submit_version(&all, version)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_or_else(|e| panic!("Metadata v{version}: {e}"));
        assert_eq!(response.topics.len(), 2, "Metadata v{version}");
        let one = MetadataRequest::default()
            .with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("missing"))))]));
        let response = conn
            .submit_version(&one, version)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert_eq!(response.topics.len(), 1);
        assert_eq!(
            response.topics[0].error_code, 3,
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
    }
}

#[tokio::test]
async fn acls_are_created_and_described_at_every_version() {
    let peer = AclPeer::start(&[], true);
    let cluster = connect(&peer).await;
    let conn = cluster.any_broker().await.unwrap();
    for version in 1..=3i16 {
        let acl = AclBinding::allow(
            resource::TOPIC,
            format!("topic-v{version}"),
            pattern::LITERAL,
            "User:alice",
            operation::READ,
        );
        let create = CreateAclsRequest::default().with_creations(vec![creation(&acl)]);
        let response = conn
            .submit_version(&create, version)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_or_else(|e| panic!("CreateAcls v{version}: {e}"));
        assert_eq!(response.results.len(), 1);
        assert_eq!(response.results[0].error_code, 0, "CreateAcls v{version}");

        let describe = DescribeAclsRequest::default()
            .with_resource_type_filter(resource::TOPIC)
            .with_resource_name_filter(Some(StrBytes::from_string(acl.resource_name.clone())))
            .with_pattern_type_filter(pattern::LITERAL)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(operation::ANY)
            .with_permission_type(permission::ANY);
        let response = conn
            .submit_version(&describe, version)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_or_else(|e| panic!("DescribeAcls v{version}: {e}"));
        assert_eq!(response.error_code, 0);
        assert_eq!(response.resources.len(), 1, "DescribeAcls v{version}");
        assert_eq!(response.resources[0].acls.len(), 1);
        assert_eq!(&*response.resources[0].acls[0].principal, "User:alice");
    }
    assert_eq!(peer.acls().len(), 3);
}

#[tokio::test]
async fn describe_filters_like_kafkas_authorizer() {
    let peer = AclPeer::start(&[], true);
    let acls = [
        AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            "User:a",
            operation::READ,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "*",
            pattern::LITERAL,
            "User:b",
            operation::DESCRIBE,
        ),
        AclBinding::deny(
            resource::TOPIC,
            "ord",
            pattern::PREFIXED,
            "User:c",
            operation::READ,
        ),
        AclBinding::allow(
            resource::TOPIC,
            "pay",
            pattern::PREFIXED,
            "User:a",
            operation::ALL,
        ),
        AclBinding::allow(
            resource::GROUP,
            "app",
            pattern::LITERAL,
            "User:a",
            operation::READ,
        ),
    ];
    for acl in &acls {
        peer.add_acl(peer_acl(acl));
    }
    let cluster = connect(&peer).await;
    let describe = |filter: AclFilter| {
        let cluster = cluster.clone();
        async move { names(cluster.describe_acls(&filter).await.unwrap()) }
    };
    let topic = AclFilter::any_topic();
    let named = |name: &str, pattern_type| AclFilter {
        resource_name: Some(name.to_owned()),
        pattern_type,
        ..AclFilter::any_topic()
    };

    assert_eq!(
        describe(topic.clone()).await,
        ["2:3:*", "2:4:ord", "2:3:orders", "2:4:pay"]
    );
    assert_eq!(describe(AclFilter::any()).await.len(), 5);
    assert_eq!(
        describe(named("orders", pattern::ANY)).await,
        ["2:3:orders"],
        "ANY with a name: that exact name"
    );
    assert_eq!(
        describe(named("orders", pattern::MATCH)).await,
        ["2:3:*", "2:4:ord", "2:3:orders"],
        "MATCH: the literal, the wildcard and matching prefixes"
    );
    assert_eq!(describe(named("ord", pattern::PREFIXED)).await, ["2:4:ord"]);
    assert_eq!(
        describe(AclFilter {
            pattern_type: pattern::LITERAL,
            ..topic.clone()
        })
        .await,
        ["2:3:*", "2:3:orders"]
    );
    assert_eq!(
        describe(AclFilter {
            principal: Some("User:a".into()),
            ..topic.clone()
        })
        .await,
        ["2:3:orders", "2:4:pay"]
    );
    assert_eq!(
        describe(AclFilter {
            permission_type: permission::DENY,
            ..topic.clone()
        })
        .await,
        ["2:4:ord"]
    );
    assert_eq!(
        describe(AclFilter {
            operation: operation::ALL,
            ..topic.clone()
        })
        .await,
        ["2:4:pay"]
    );
    assert!(describe(AclFilter {
        host: Some("10.0.0.1".into()),
        ..topic
    })
    .await
    .is_empty());
}

#[tokio::test]
async fn creation_is_idempotent_and_validated() {
    let peer = AclPeer::start(&[], true);
    let cluster = connect(&peer).await;
    let good = AclBinding::allow(
        resource::TOPIC,
        "orders",
        pattern::LITERAL,
        "User:a",
        operation::READ,
    );
    let no_principal_type = AclBinding {
        principal: "a".into(),
        ..good.clone()
    };
    let match_pattern = AclBinding {
        pattern_type: pattern::MATCH,
        ..good.clone()
    };
    let results = cluster
        .create_acls(&[good.clone(), good.clone(), no_principal_type, match_pattern])
        .await
        .unwrap();
    assert!(results[0].is_ok() && results[1].is_ok());
    for rejected in &results[2..] {
        let e = rejected.as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ResponseError::InvalidRequest), "{e}");
    }
    assert_eq!(peer.acls(), vec![peer_acl(&good)]);
}

#[tokio::test]
async fn an_unknown_api_closes_the_connection() {
    let peer = AclPeer::start(&[("orders", 1)], true);
    let cluster = connect(&peer).await;
    let conn = cluster.any_broker().await.unwrap();
    let outcome = conn
        .submit_version(&ListOffsetsRequest::default(), 1)
        .await
        .unwrap()
        .wait()
        .await;
    assert!(
        matches!(outcome, Err(Error::ConnectionLost { .. })),
        "{outcome:?}"
    );
}

fn assert_security_disabled(e: &Error) {
    assert_eq!(e.code(), Some(ResponseError::SecurityDisabled), "{e}");
}

/// DescribeAcls and CreateAcls (one binding) are both answered with SECURITY_DISABLED.
async fn assert_no_authorizer(cluster: &Cluster) {
    let e = cluster
        .describe_acls(&AclFilter::any_topic())
        .await
        .expect_err("no authorizer");
    assert_security_disabled(&e);
    let created = cluster
        .create_acls(&[AclBinding::allow(
            resource::TOPIC,
            "orders",
            pattern::LITERAL,
            "User:b",
            operation::READ,
        )])
        .await
        .unwrap();
    assert_security_disabled(created[0].as_ref().unwrap_err());
}

#[tokio::test]
async fn without_authorizer_the_peer_answers_security_disabled() {
    let peer = AclPeer::start(&[("orders", 1)], false);
    peer.add_acl(peer_acl(&AclBinding::allow(
        resource::TOPIC,
        "orders",
        pattern::LITERAL,
        "User:a",
        operation::READ,
    )));
    let cluster = connect(&peer).await;
    assert_no_authorizer(&cluster).await;
    assert_eq!(peer.acls().len(), 1, "nothing created");
}

/// The peer's "no authorizer" mode answers like a real noida broker: DescribeAcls with
/// SECURITY_DISABLED, CreateAcls with SECURITY_DISABLED per binding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_noida_broker_answers_like_the_peer_without_authorizer() {
    if !strait_testkit::kinds_under_test().contains(&BrokerKind::Noida) {
        eprintln!("not run: broker noida is not selected by STRAIT_TEST_BROKERS");
        return;
    }
    let (_node, cluster) = strait_fixtures::start_cluster(BrokerKind::Noida, "noida").await;
    assert_no_authorizer(&cluster).await;
}
