//! Continuous topic config sync, ported from MM2's integration suite
//! (`MirrorConnectorsIntegrationBaseTest`): `testSyncTopicConfigs`, `testReplicateSourceDefault`,
//! `testReplicateTargetDefault`, the creation check of `testReplication` (a topic created with an
//! excluded property gets only the allowed ones), and strait's own check that target-side values
//! of the default-excluded properties survive (MM2 ≤ 3.4 replaced a remote topic's whole config
//! set and clobbered them).
//!
//! The mirror runs with MM2's suite settings: `config.properties.exclude = delete\.retention\..*`
//! (unless a test needs the default list) and `sync.topic.configs.interval.seconds = 1`.

use strait_fixtures::*;
use strait_kafka::{AlterOp, Cluster, ConfigEntry, ConfigResource, ConfigSource};
use strait_mirror::engine::Mirror;
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(;
    // tansu is left out of all of them for a broker gap: it describes a topic's explicitly set
    // configs with source DEFAULT and lists no built-in defaults, so neither side can tell an
    // override from a default, and MM2's rules (which strait follows) have nothing to sync.
    not_tansu: sync_topic_configs,
    replicate_source_default,
    replicate_target_default,
    topic_created_with_an_excluded_property_gets_only_the_allowed_ones,
    target_values_of_default_excluded_properties_survive,
    refused_creation_config_does_not_block_the_topic,
);

const FLOW: &str = "primary->backup";
const TOPIC: &str = "test-topic-with-config";
const REMOTE: &str = "primary.test-topic-with-config";

/// MM2's suite settings, one way (`backup->primary` would only add a second, idle flow).
/// `\\.` in the file is `\.` in the regex (Java properties unescape a backslash).
const SETTINGS: &str = "backup->primary.enabled = false\n\
     topics = test-topic-.*\n\
     sync.topic.configs.interval.seconds = 1\n";
const EXCLUDE_DELETE_RETENTION: &str = "config.properties.exclude = delete\\\\.retention\\\\..*\n";

/// Starts the mirror with MM2's suite settings plus `extra`, after checking the flow's
/// config-sync settings came out as meant.
fn start(pair: &Pair, extra: &str, use_source_defaults: bool, exclude: &[&str]) -> Mirror {
    let properties = pair.properties(&format!("{SETTINGS}{extra}"));
    let config = strait_mirror::config::parse_str(&properties).expect("mm2.properties parses");
    let flow = config
        .flows
        .iter()
        .find(|f| f.name() == FLOW)
        .expect("flow primary->backup");
    assert!(flow.sync_topic_configs_enabled);
    assert_eq!(
        flow.sync_topic_configs_interval,
        std::time::Duration::from_secs(1)
    );
    assert_eq!(flow.use_source_defaults, use_source_defaults);
    assert_eq!(flow.config_properties_exclude, exclude);
    start_mirror(&properties)
}

/// Topic config `name` of `topic`, `None` while the topic (or the config) is not there.
async fn config(cluster: &Cluster, topic: &str, name: &str) -> Option<ConfigEntry> {
    cluster
        .describe_configs(&ConfigResource::Topic(topic.to_owned()))
        .await
        .ok()?
        .into_iter()
        .find(|e| e.name == name)
}

/// Waits until topic config `name` of `topic` satisfies `done`; returns it.
async fn wait_for_config(
    cluster: &Cluster,
    topic: &str,
    name: &str,
    what: &str,
    done: impl Fn(&ConfigEntry) -> bool,
) -> ConfigEntry {
    let done = &done;
    let what = format!("{name} of {topic} on {}: {what}", cluster.name());
    eventually(&what, || async move {
        match config(cluster, topic, name).await {
            Some(entry) if done(&entry) => Ok(entry),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

fn value(entry: &ConfigEntry) -> Option<&str> {
    entry.value.as_deref()
}

/// Applies `changes` to a topic's configs.
async fn alter(cluster: &Cluster, topic: &str, changes: &[(&str, AlterOp)]) {
    let changes: Vec<(String, AlterOp)> = changes
        .iter()
        .map(|(name, op)| ((*name).to_owned(), op.clone()))
        .collect();
    cluster
        .incremental_alter_configs(&ConfigResource::Topic(topic.to_owned()), &changes)
        .await
        .unwrap_or_else(|e| panic!("alter configs of {topic} on {}: {e}", cluster.name()));
}

fn set(value: &str) -> AlterOp {
    AlterOp::Set(value.to_owned())
}

/// [`start`] with `config.properties.exclude = delete\.retention\..*` (MM2's suite) and `extra`.
fn start_excluding_delete_retention(pair: &Pair, extra: &str, use_source_defaults: bool) -> Mirror {
    start(
        pair,
        &format!("{EXCLUDE_DELETE_RETENTION}{extra}"),
        use_source_defaults,
        &["delete\\.retention\\..*"],
    )
}

/// Waits until topic config `name` of the remote topic has the value `want`; returns it.
async fn wait_for_remote(pair: &Pair, name: &str, what: &str, want: &str) -> ConfigEntry {
    wait_for_config(&pair.backup, REMOTE, name, what, |e| value(e) == Some(want)).await
}

/// Edits the remote topic's `retention.bytes` (to 2000) and `other` on the target, and waits
/// until a sync pass has set `retention.bytes` back to the source's 1000.
async fn edit_the_remote_topic(pair: &Pair, mirror: &Mirror, other: (&str, &str)) {
    alter(
        &pair.backup,
        REMOTE,
        &[(other.0, set(other.1)), ("retention.bytes", set("2000"))],
    )
    .await;
    wait_for_stats(mirror, FLOW, "the target edit reverted", |s| {
        s.configs_synced >= 1
    })
    .await;
    wait_for_remote(pair, "retention.bytes", "back to 1000", "1000").await;
}

/// Checks the flow synced at least `configs_synced` times without a failure, and shuts down.
/// A pass counts its changes when it has gone through every topic, a moment after the broker
/// shows them: wait for the count.
async fn finish(mirror: Mirror, configs_synced: u64) {
    let stats = wait_for_stats(&mirror, FLOW, "the config syncs counted", |s| {
        s.configs_synced >= configs_synced
    })
    .await;
    assert_eq!(stats.sync_failures, 0, "{stats:?}");
    shutdown(mirror).await;
}

/// `testSyncTopicConfigs`: a target-side edit of the excluded `delete.retention.ms` survives,
/// a target-side edit of `retention.bytes` is forced back to the source value, and a later
/// change of `retention.bytes` on the source reaches the target without a restart.
async fn sync_topic_configs(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic_with(
        &pair.primary,
        TOPIC,
        1,
        &[("delete.retention.ms", "1000"), ("retention.bytes", "1000")],
    )
    .await;
    let mirror = start_excluding_delete_retention(&pair, "", false);
    wait_for_remote(&pair, "retention.bytes", "created as 1000", "1000").await;

    edit_the_remote_topic(&pair, &mirror, ("delete.retention.ms", "2000")).await;
    // The pass that reverted retention.bytes saw delete.retention.ms = 2000 and left it.
    let source = config(&pair.primary, TOPIC, "delete.retention.ms").await;
    let target = config(&pair.backup, REMOTE, "delete.retention.ms").await;
    assert_eq!(source.as_ref().and_then(value), Some("1000"), "{source:?}");
    assert_eq!(target.as_ref().and_then(value), Some("2000"), "{target:?}");

    alter(&pair.primary, TOPIC, &[("retention.bytes", set("3000"))]).await;
    let synced = wait_for_remote(
        &pair,
        "retention.bytes",
        "follows the source to 3000",
        "3000",
    )
    .await;
    assert_eq!(synced.source, ConfigSource::DynamicTopic, "{synced:?}");
    let target = config(&pair.backup, REMOTE, "delete.retention.ms").await;
    assert_eq!(target.as_ref().and_then(value), Some("2000"), "{target:?}");

    finish(mirror, 2).await;
}

/// `testReplicateSourceDefault` with `primary->backup.use.defaults.from = source` (MM2's test
/// sets the key at top level, where MM2 drops it; the assertions hold either way there because
/// both defaults are -1): a target-side `retention.bytes` of 2000 returns to the source's
/// default -1, which strait sets as a value on the remote topic (that is what "defaults from the
/// source" means), while the excluded `delete.retention.ms` keeps its target-side 2000.
async fn replicate_source_default(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 1).await;
    let mirror = start_excluding_delete_retention(
        &pair,
        &format!("{FLOW}.use.defaults.from = source\n"),
        true,
    );
    eventually("the remote topic", || async {
        match topic_exists(&pair.backup, REMOTE).await {
            true => Ok(()),
            false => Err("not there".to_owned()),
        }
    })
    .await;

    alter(
        &pair.backup,
        REMOTE,
        &[
            ("delete.retention.ms", set("2000")),
            ("retention.bytes", set("2000")),
        ],
    )
    .await;
    let source = config(&pair.primary, TOPIC, "retention.bytes")
        .await
        .expect("retention.bytes described on the source");
    assert_eq!(value(&source), Some("-1"), "{source:?}");
    assert_eq!(source.source, ConfigSource::Default, "{source:?}");
    let synced = wait_for_remote(
        &pair,
        "retention.bytes",
        "set to the source default -1",
        "-1",
    )
    .await;
    assert_eq!(
        synced.source,
        ConfigSource::DynamicTopic,
        "the source default is copied as a value: {synced:?}"
    );
    let target = config(&pair.backup, REMOTE, "delete.retention.ms").await;
    assert_eq!(target.as_ref().and_then(value), Some("2000"), "{target:?}");

    finish(mirror, 1).await;
}

/// `testReplicateTargetDefault`: the source override `retention.bytes = 1000` is copied; once it
/// is deleted on the source, the remote topic's override is removed too and the target shows its
/// own default -1.
async fn replicate_target_default(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic_with(&pair.primary, TOPIC, 1, &[("retention.bytes", "1000")]).await;
    let mirror = start_excluding_delete_retention(&pair, "", false);
    wait_for_remote(&pair, "retention.bytes", "copied as 1000", "1000").await;

    alter(
        &pair.primary,
        TOPIC,
        &[("retention.bytes", AlterOp::Delete)],
    )
    .await;
    let synced = wait_for_remote(
        &pair,
        "retention.bytes",
        "back to the target default -1",
        "-1",
    )
    .await;
    assert_eq!(
        synced.source,
        ConfigSource::Default,
        "the override is removed, not set to -1: {synced:?}"
    );

    finish(mirror, 1).await;
}

/// From `testReplication`: a source topic created with the excluded `delete.retention.ms = 1000`
/// and `retention.bytes = 1000` becomes a remote topic with `retention.bytes = 1000` and
/// `delete.retention.ms` at its default, and config sync does not add it later.
async fn topic_created_with_an_excluded_property_gets_only_the_allowed_ones(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let mirror = start_excluding_delete_retention(&pair, "", false);
    // Created while the mirror runs, like MM2's test.
    create_topic_with(
        &pair.primary,
        TOPIC,
        1,
        &[("delete.retention.ms", "1000"), ("retention.bytes", "1000")],
    )
    .await;
    wait_for_remote(&pair, "retention.bytes", "created as 1000", "1000").await;
    let excluded = config(&pair.backup, REMOTE, "delete.retention.ms")
        .await
        .expect("delete.retention.ms described on the target");
    assert_eq!(value(&excluded), Some("86400000"), "{excluded:?}");
    assert_eq!(excluded.source, ConfigSource::Default, "{excluded:?}");

    // A source change reaching the target proves a sync pass ran after the creation.
    alter(&pair.primary, TOPIC, &[("retention.bytes", set("3000"))]).await;
    wait_for_remote(&pair, "retention.bytes", "synced to 3000", "3000").await;
    let excluded = config(&pair.backup, REMOTE, "delete.retention.ms")
        .await
        .expect("delete.retention.ms described on the target");
    assert_eq!(excluded.source, ConfigSource::Default, "{excluded:?}");

    finish(mirror, 0).await;
}

/// With the default `config.properties.exclude` (MM2 ≤ 3.4 replaced the remote topic's whole
/// config set and so clobbered these): an operator's target-side `unclean.leader.election.enable`
/// survives config sync, while a target-side edit of the synced `retention.bytes` is reverted in
/// the same pass.
async fn target_values_of_default_excluded_properties_survive(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic_with(&pair.primary, TOPIC, 1, &[("retention.bytes", "1000")]).await;
    let defaults = [
        "follower\\.replication\\.throttled\\.replicas",
        "leader\\.replication\\.throttled\\.replicas",
        "message\\.timestamp\\.difference\\.max\\.ms",
        "message\\.timestamp\\.type",
        "unclean\\.leader\\.election\\.enable",
        "min\\.insync\\.replicas",
    ];
    let mirror = start(&pair, "", false, &defaults);
    wait_for_remote(&pair, "retention.bytes", "created as 1000", "1000").await;

    edit_the_remote_topic(&pair, &mirror, ("unclean.leader.election.enable", "true")).await;
    let kept = config(&pair.backup, REMOTE, "unclean.leader.election.enable").await;
    assert_eq!(kept.as_ref().and_then(value), Some("true"), "{kept:?}");
    let source = config(&pair.primary, TOPIC, "unclean.leader.election.enable").await;
    assert_eq!(source.as_ref().and_then(value), Some("false"), "{source:?}");

    finish(mirror, 0).await;
}

/// A property the target refuses at creation (as a Kafka 4 target refuses
/// `message.format.version`; here the test proxy in front of the real target spoils the value
/// of `segment.ms` on the way) does not keep the remote topic from being created: it gets the
/// other properties, one by one, and records flow. Config sync is off, so this is the creation
/// path alone.
async fn refused_creation_config_does_not_block_the_topic(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let proxy = start_proxy(&pair.backup_node.bootstrap(), None, None).await;
    proxy.spoil_topic_config("segment.ms");
    create_topic_with(
        &pair.primary,
        TOPIC,
        1,
        &[("segment.ms", "3600000"), ("max.message.bytes", "2000000")],
    )
    .await;
    let expected = produce_fixture(&pair.primary, TOPIC, 0..1, 20, "refused").await;
    let mirror = start_mirror(&pair.properties(&format!(
        "backup->primary.enabled = false\n\
         topics = test-topic-.*\n\
         sync.topic.configs.enabled = false\n\
         backup.bootstrap.servers = {}\n",
        proxy.bootstrap()
    )));
    wait_for_records(&pair.backup, REMOTE, 20).await;
    assert_same_records(
        "remote topic",
        &expected[&0],
        &read_partition(&pair.backup, REMOTE, 0).await,
    );
    let value = |e: Option<ConfigEntry>| e.and_then(|e| e.value);
    assert_eq!(
        value(config(&pair.backup, REMOTE, "max.message.bytes").await).as_deref(),
        Some("2000000"),
        "an accepted property is set"
    );
    assert_eq!(
        value(config(&pair.backup, REMOTE, "retention.ms").await).as_deref(),
        Some("-1"),
        "an accepted property is set"
    );
    let segment = config(&pair.backup, REMOTE, "segment.ms")
        .await
        .expect("segment.ms is described");
    assert_ne!(
        segment.value.as_deref(),
        Some("3600000"),
        "the refused one is not"
    );
    assert_eq!(segment.source, ConfigSource::Default, "{segment:?}");
    shutdown(mirror).await;
}
