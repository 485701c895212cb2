//! The least-privilege ACL table in docs/security.md covers every request strait sends: a
//! mirror runs through counting proxies in front of both real brokers (replication, topic config
//! sync, ACL sync, heartbeats, offset syncs, its scale-out group), and each API seen on each side must map to ACLs
//! listed for that side. No broker here runs an authorizer, so this checks the list against
//! what strait does, not against a broker denying requests.

use std::collections::BTreeSet;

use strait_fixtures::*;
use strait_kafka::protocol::messages::ApiKey;
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(acl_table_covers_every_request);

const DOC: &str = include_str!("../../../docs/security.md");

/// The ACLs (resource, operation) Kafka checks for a request; `None` for an API this map does
/// not know (the test then fails, asking for the table and this map to be extended).
fn required(key: i16) -> Option<&'static [(&'static str, &'static str)]> {
    let key = ApiKey::try_from(key).ok()?;
    Some(match key {
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => &[],
        ApiKey::Metadata | ApiKey::ListOffsets => &[("Topic", "Describe")],
        ApiKey::Fetch => &[("Topic", "Read")],
        ApiKey::Produce => &[("Topic", "Write")],
        ApiKey::InitProducerId => &[("Topic", "Write")],
        ApiKey::CreateTopics => &[("Topic", "Create")],
        ApiKey::DescribeConfigs => &[("Topic", "DescribeConfigs")],
        ApiKey::IncrementalAlterConfigs | ApiKey::AlterConfigs => &[("Topic", "AlterConfigs")],
        ApiKey::CreatePartitions => &[("Topic", "Alter")],
        ApiKey::DescribeAcls => &[("Cluster", "Describe")],
        ApiKey::CreateAcls => &[("Cluster", "Alter")],
        ApiKey::FindCoordinator | ApiKey::DescribeGroups => &[("Group", "Describe")],
        ApiKey::ListGroups => &[("Group", "Describe")],
        ApiKey::OffsetFetch => &[("Group", "Describe"), ("Topic", "Describe")],
        ApiKey::OffsetCommit => &[("Group", "Read"), ("Topic", "Read")],
        ApiKey::JoinGroup | ApiKey::SyncGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup => {
            &[("Group", "Read")]
        }
        _ => return None,
    })
}

/// Rows `| cluster | resource ... | operation | ... |` of the ACL table.
fn documented() -> BTreeSet<(String, String, String)> {
    DOC.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, side, resource, operation, ..] = cells[..] else {
                return None;
            };
            if side != "source" && side != "target" {
                return None;
            }
            let resource = resource.split_whitespace().next()?;
            Some((side.to_owned(), resource.to_owned(), operation.to_owned()))
        })
        .collect()
}

async fn acl_table_covers_every_request(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let source = start_proxy(&pair.primary_node.bootstrap(), None, None).await;
    let target = start_proxy(&pair.backup_node.bootstrap(), None, None).await;
    create_topic(&pair.primary, "acl-topic", 2).await;
    produce_fixture(&pair.primary, "acl-topic", 0..2, 10, "acl").await;
    // The flow's scale-out group is on by default (on tansu the member works alone after its
    // first join: the coordinator answers generation 0).
    let properties = pair.properties(&format!(
        "topics = acl-.*\n\
         backup->primary.enabled = false\n\
         backup->primary.emit.heartbeats.enabled = false\n\
         sync.topic.acls.enabled = true\n\
         sync.topic.acls.interval.seconds = 1\n\
         sync.topic.configs.interval.seconds = 1\n\
         primary.bootstrap.servers = {}\n\
         backup.bootstrap.servers = {}\n",
        source.bootstrap(),
        target.bootstrap(),
    ));
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, "primary.acl-topic", 20).await;
    // Two rounds of the periodic syncs.
    let (s, t) = (&source, &target);
    eventually("config and ACL syncs ran twice", || async move {
        let described = s.stats().requests(ApiKey::DescribeConfigs as i16);
        let acls = s.stats().requests(ApiKey::DescribeAcls as i16);
        let heartbeats = t.stats().requests(ApiKey::Produce as i16);
        if described >= 2 && acls >= 2 && heartbeats >= 2 {
            Ok(())
        } else {
            Err(format!(
                "DescribeConfigs {described}, DescribeAcls {acls}, target Produce {heartbeats}"
            ))
        }
    })
    .await;
    shutdown(mirror).await;

    let table = documented();
    assert!(
        table.len() >= 15,
        "ACL table not found in docs/security.md: {table:?}"
    );
    let mut missing = Vec::new();
    for (side, proxy) in [("source", &source), ("target", &target)] {
        let keys = proxy.stats().request_keys();
        eprintln!(
            "{side}: {:?}",
            keys.iter()
                .map(|k| strait_kafka::net::api_name(*k))
                .collect::<Vec<_>>()
        );
        for key in keys {
            let api = strait_kafka::net::api_name(key);
            let Some(acls) = required(key) else {
                missing.push(format!("{side}: {api} (unknown to this test's map)"));
                continue;
            };
            for (resource, operation) in acls {
                let row = (side.to_owned(), resource.to_string(), operation.to_string());
                if !table.contains(&row) {
                    missing.push(format!("{side}: {api} needs {resource} {operation}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/security.md lacks ACLs for: {missing:#?}"
    );
}
