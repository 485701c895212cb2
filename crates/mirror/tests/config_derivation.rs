//! Deriving flows from mm2.properties: MM2's `MirrorMakerConfigTest` vectors and the §1.3
//! precedence rules.

use std::time::Duration;

use strait_mirror::config::{
    parse_str, ConfigError, FlowConfig, GroupSettings, MirrorConfig, OffsetReset, SyncsLocation,
};
use strait_mirror::policy::ReplicationPolicy;

const THREE_CLUSTERS: &str = "clusters = a, b, c\n\
    a.bootstrap.servers = a:9092\n\
    b.bootstrap.servers = b:9092\n\
    c.bootstrap.servers = c:9092\n";

const TWO_CLUSTERS: &str = "clusters = a, b\n\
    a.bootstrap.servers = servers-one\n\
    b.bootstrap.servers = servers-two\n";

fn load(text: &str) -> MirrorConfig {
    parse_str(text).unwrap_or_else(|e| panic!("{e}\n--- config ---\n{text}"))
}

fn flow<'a>(config: &'a MirrorConfig, source: &str, target: &str) -> &'a FlowConfig {
    config
        .flow(source, target)
        .unwrap_or_else(|| panic!("no flow {source}->{target}"))
}

fn pairs(config: &MirrorConfig) -> Vec<String> {
    config.flows.iter().map(FlowConfig::name).collect()
}

// ---- cluster pairs (§1.2) -----------------------------------------------------------------

#[test]
fn every_ordered_pair_gets_a_flow_by_default() {
    let config = load(THREE_CLUSTERS);
    assert_eq!(config.clusters, ["a", "b", "c"]);
    assert_eq!(
        pairs(&config),
        ["a->b", "a->c", "b->a", "b->c", "c->a", "c->b"]
    );
    assert!(config.flows.iter().all(|f| !f.replication_enabled));
    assert!(config
        .flows
        .iter()
        .all(|f| f.emit_heartbeats_interval == Some(Duration::from_secs(1))));
}

#[test]
fn no_flows_when_heartbeats_are_disabled_and_nothing_is_enabled() {
    let err = parse_str(&format!(
        "{THREE_CLUSTERS}emit.heartbeats.enabled = false\n"
    ))
    .unwrap_err();
    assert!(matches!(err, ConfigError::NoFlows), "{err:?}");
    assert_eq!(err.to_string(), "No source->target replication flows.");
}

#[test]
fn two_pairs_without_heartbeats() {
    let config = load(&format!(
        "{THREE_CLUSTERS}a->b.emit.heartbeats.enabled = false\na->c.emit.heartbeats.enabled = false\n"
    ));
    assert_eq!(pairs(&config), ["b->a", "b->c", "c->a", "c->b"]);
}

#[test]
fn only_enabled_pairs_when_heartbeats_are_globally_off() {
    let config = load(&format!(
        "{THREE_CLUSTERS}emit.heartbeats.enabled = false\na->b.enabled = true\nc->a.enabled = TRUE\n"
    ));
    assert_eq!(pairs(&config), ["a->b", "c->a"]);
    let ab = flow(&config, "a", "b");
    assert!(ab.replication_enabled);
    // The top-level key also reaches the pair's heartbeat connector.
    assert_eq!(ab.emit_heartbeats_interval, None);
}

#[test]
fn heartbeats_can_be_reenabled_per_pair() {
    let config = load(&format!(
        "{THREE_CLUSTERS}emit.heartbeats.enabled = false\nb->c.emit.heartbeats.enabled = true\n"
    ));
    assert_eq!(pairs(&config), ["b->c"]);
    assert_eq!(
        flow(&config, "b", "c").emit_heartbeats_interval,
        Some(Duration::from_secs(1))
    );
}

#[test]
fn pair_detection_uses_untrimmed_parse_boolean() {
    // `Boolean.parseBoolean("true ")` is false: with heartbeats off the pair does not exist.
    let err = parse_str(&format!(
        "{TWO_CLUSTERS}emit.heartbeats.enabled=false\na->b.enabled = true \n"
    ))
    .unwrap_err();
    assert!(matches!(err, ConfigError::NoFlows), "{err:?}");

    // With heartbeats on, the pair exists and its connector reads `enabled` trimmed (ConfigDef).
    let config = load(&format!("{TWO_CLUSTERS}a->b.enabled = true \n"));
    assert!(flow(&config, "a", "b").replication_enabled);
    assert!(!flow(&config, "b", "a").replication_enabled);

    // `emit.heartbeats.enabled = true ` is false for pair detection, true for the connector.
    let config = load(&format!(
        "{TWO_CLUSTERS}emit.heartbeats.enabled = true \na->b.enabled = true\n"
    ));
    assert_eq!(pairs(&config), ["a->b"]);
    assert_eq!(
        flow(&config, "a", "b").emit_heartbeats_interval,
        Some(Duration::from_secs(1))
    );
}

#[test]
fn top_level_enabled_enables_every_pair() {
    // MM2 copies top-level connector keys, `enabled` included, into every pair's connectors.
    let config = load(&format!("{TWO_CLUSTERS}enabled = true\n"));
    assert!(config.flows.iter().all(|f| f.replication_enabled));
}

#[test]
fn duplicate_aliases_are_ignored() {
    let config = load("clusters = a, b, a\na.bootstrap.servers=x\nb.bootstrap.servers=y\n");
    assert_eq!(config.clusters, ["a", "b"]);
    assert_eq!(pairs(&config), ["a->b", "b->a"]);
}

// ---- connector settings -------------------------------------------------------------------

#[test]
fn defaults() {
    let config = load(&format!("{TWO_CLUSTERS}a->b.enabled = true\n"));
    let f = flow(&config, "a", "b");
    assert_eq!(f.topics, [".*"]);
    assert_eq!(
        f.topics_exclude,
        [".*[\\-\\.]internal", ".*\\.replica", "__.*"]
    );
    assert_eq!(f.groups, [".*"]);
    assert_eq!(
        f.groups_exclude,
        ["console-consumer-.*", "connect-.*", "__.*"]
    );
    assert_eq!(f.config_properties_exclude.len(), 6);
    assert_eq!(f.policy, ReplicationPolicy::default());
    assert_eq!(f.replication_factor, 2);
    assert_eq!(f.refresh_topics_interval, Some(Duration::from_secs(5)));
    assert_eq!(f.emit_heartbeats_interval, Some(Duration::from_secs(1)));
    assert!(f.heartbeats_replication_enabled);
    assert_eq!(f.heartbeats_topic_replication_factor, 3);
    assert_eq!(f.checkpoints_topic_replication_factor, 3);
    assert!(f.emit_offset_syncs);
    assert_eq!(f.offset_syncs_location, SyncsLocation::Source);
    assert_eq!(f.offset_syncs_topic_replication_factor, 3);
    assert_eq!(f.offset_lag_max, 100);
    assert!(f.sync_topic_configs_enabled);
    // strait's default (MM2: 600 s), see docs/compatibility.md.
    assert_eq!(f.sync_topic_configs_interval, Duration::from_secs(10));
    assert_eq!(f.sync_topic_acls_interval, Some(Duration::from_secs(10)));
    assert!(
        !f.sync_prefixed_topic_acls && !f.sync_group_acls,
        "strait's ACL opt-ins are off"
    );
    assert_eq!(f.offset_storage_topic, "mm2-offsets.a.internal");
    assert_eq!(f.offset_storage_partitions, 25);
    assert_eq!(f.offset_storage_replication_factor, 3);
    assert_eq!(f.offset_flush_interval, Duration::from_millis(1000));
    assert_eq!(f.auto_offset_reset, OffsetReset::Earliest);
    assert!(f.topic_filter.test("orders"));
    assert!(!f.topic_filter.test("__consumer_offsets"));
    assert!(f.group_filter.test("app"));
    assert!(!f.group_filter.test("console-consumer-1"));
    // Scale-out is on by default (docs/scale-out.md): a group of its own per flow.
    assert_eq!(
        f.group,
        Some(GroupSettings {
            id: "strait-a-b".into(),
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(1),
            instance_id: None,
        })
    );

    assert_eq!(f.source_consumer.cluster, "a");
    assert_eq!(
        f.source_consumer.get("bootstrap.servers"),
        Some("servers-one")
    );
    assert_eq!(f.source_consumer.get("enable.auto.commit"), Some("false"));
    assert_eq!(f.source_consumer.get("auto.offset.reset"), Some("earliest"));
    assert_eq!(f.target_producer.cluster, "b");
    assert_eq!(
        f.target_producer.bootstrap_servers().unwrap(),
        "servers-two"
    );
    assert_eq!(f.source_admin.bootstrap_servers().unwrap(), "servers-one");
    assert_eq!(f.target_admin.bootstrap_servers().unwrap(), "servers-two");
    assert_eq!(f.offset_syncs_producer.cluster, "a");
    assert_eq!(
        f.offset_syncs_producer.bootstrap_servers().unwrap(),
        "servers-one"
    );
}

#[test]
fn top_level_topics_reach_flows_and_pair_keys_override() {
    let config = load(&format!(
        "{THREE_CLUSTERS}topics = topic-1, topic-2\ngroups = g1\na->b.topics = topic-3\n\
         a->b.enabled = true\nunknown.key = ignored\n"
    ));
    assert_eq!(flow(&config, "a", "b").topics, ["topic-3"]);
    assert_eq!(flow(&config, "b", "a").topics, ["topic-1", "topic-2"]);
    assert_eq!(flow(&config, "c", "a").groups, ["g1"]);
    let ab = flow(&config, "a", "b");
    assert!(ab.topic_filter.test("topic-3"));
    assert!(!ab.topic_filter.test("topic-1"));
}

#[test]
fn empty_topics_replicate_nothing() {
    let config = load(&format!(
        "{TWO_CLUSTERS}a->b.enabled = true\na->b.topics =\n"
    ));
    let f = flow(&config, "a", "b");
    assert!(f.topics.is_empty());
    assert!(!f.topic_filter.test("anything"));
}

#[test]
fn exclude_lists_and_their_deprecated_aliases() {
    let config = load(&format!(
        "{THREE_CLUSTERS}topics.blacklist = secret.*\na->b.topics.exclude = private.*\n\
         config.properties.exclude = retention\\\\.ms\n"
    ));
    assert_eq!(flow(&config, "a", "b").topics_exclude, ["private.*"]);
    assert_eq!(flow(&config, "b", "a").topics_exclude, ["secret.*"]);
    assert!(!flow(&config, "b", "a").topic_filter.test("secret-topic"));
    assert_eq!(
        flow(&config, "b", "a").config_properties_exclude,
        ["retention\\.ms"]
    );
}

#[test]
fn flow_settings() {
    let config = load(&format!(
        "{TWO_CLUSTERS}a->b.enabled = true\n\
         replication.factor = -1\n\
         a->b.replication.factor = 1\n\
         refresh.topics.interval.seconds = 600\n\
         b->a.refresh.topics.enabled = false\n\
         emit.heartbeats.interval.seconds = 5\n\
         a->b.emit.heartbeats.interval.seconds = -1\n\
         heartbeats.replication.enabled = false\n\
         heartbeats.topic.replication.factor = 1\n\
         a->b.emit.offset-syncs.enabled = false\n\
         a->b.offset-syncs.topic.location = target\n\
         offset-syncs.topic.replication.factor = 2\n\
         offset.lag.max = 7\n\
         sync.topic.configs.interval.seconds = 30\n\
         b->a.sync.topic.configs.enabled = false\n"
    ));
    let ab = flow(&config, "a", "b");
    let ba = flow(&config, "b", "a");
    assert_eq!((ab.replication_factor, ba.replication_factor), (1, -1));
    assert_eq!(ab.refresh_topics_interval, Some(Duration::from_secs(600)));
    assert_eq!(ba.refresh_topics_interval, None);
    assert_eq!(
        ab.emit_heartbeats_interval, None,
        "negative interval disables"
    );
    assert_eq!(ba.emit_heartbeats_interval, Some(Duration::from_secs(5)));
    assert!(!ab.heartbeats_replication_enabled);
    assert_eq!(ab.heartbeats_topic_replication_factor, 1);
    assert!(!ab.emit_offset_syncs);
    assert!(ba.emit_offset_syncs);
    assert_eq!(ab.offset_syncs_location, SyncsLocation::Target);
    assert_eq!(ab.offset_syncs_producer.cluster, "b");
    assert_eq!(
        ab.offset_syncs_producer.bootstrap_servers().unwrap(),
        "servers-two"
    );
    assert_eq!(ba.offset_syncs_location, SyncsLocation::Source);
    assert_eq!(ab.offset_syncs_topic_replication_factor, 2);
    assert_eq!(ab.offset_lag_max, 7);
    assert!(ab.sync_topic_configs_enabled);
    assert_eq!(ab.sync_topic_configs_interval, Duration::from_secs(30));
    assert!(!ba.sync_topic_configs_enabled);
    assert!(!ab.use_source_defaults);
}

#[test]
fn use_defaults_from_only_works_per_pair() {
    let config = config_two("use.defaults.from = source\nb->a.use.defaults.from = source\n");
    assert!(
        !flow(&config, "a", "b").use_source_defaults,
        "dropped at top level, as in MM2"
    );
    assert!(flow(&config, "b", "a").use_source_defaults);
}

#[test]
fn replication_policy_settings() {
    let config = load(&format!(
        "{THREE_CLUSTERS}replication.policy.separator = _\n\
         b.replication.policy.separator = __\n\
         a->c.replication.policy.class = IdentityReplicationPolicy\n\
         b->a.replication.policy.separator = __\n\
         b->a.replication.policy.internal.topic.separator.enabled = false\n\
         c->a.replication.policy.internal.topic.separator.enabled = false\n"
    ));
    // `b.replication.policy.separator` is a cluster (client) setting, not the connector's.
    let ab = flow(&config, "a", "b");
    assert_eq!(ab.policy.separator(), "_");
    assert_eq!(ab.policy.format_remote_topic("a", "t"), "a_t");
    assert_eq!(
        ab.policy.offset_syncs_topic("b"),
        "mm2-offset-syncs_b_internal"
    );
    assert_eq!(
        flow(&config, "a", "c").policy,
        ReplicationPolicy::Identity {
            separator: "_".into(),
            internal_separator_enabled: true,
            source_alias: Some("a".into())
        }
    );
    let ba = flow(&config, "b", "a");
    assert_eq!(ba.policy.format_remote_topic("b", "t"), "b__t");
    assert_eq!(ba.policy.checkpoints_topic("b"), "b.checkpoints.internal");
    // The flag works with the top-level separator too.
    assert_eq!(
        flow(&config, "c", "a").policy.checkpoints_topic("c"),
        "c.checkpoints.internal"
    );

    // Without a configured separator the flag is ignored, as in Java.
    let config = config_two("replication.policy.internal.topic.separator.enabled = false\n");
    assert_eq!(flow(&config, "a", "b").policy, ReplicationPolicy::default());
}

fn config_two(extra: &str) -> MirrorConfig {
    load(&format!("{TWO_CLUSTERS}{extra}"))
}

// ---- worker settings (§1.3(b)) -------------------------------------------------------------

#[test]
fn worker_settings_use_target_prefix_and_inverted_precedence() {
    let config = load(&format!(
        "{THREE_CLUSTERS}offset.flush.interval.ms = 7000\n\
         b.offset.flush.interval.ms = 5000\n\
         b.offset.storage.topic = b-offsets\n\
         b.offset.storage.replication.factor = 2\n\
         offset.storage.replication.factor = 1\n\
         c.offset.storage.partitions = 3\n"
    ));
    let ab = flow(&config, "a", "b");
    assert_eq!(ab.offset_flush_interval, Duration::from_millis(5000));
    assert_eq!(ab.offset_storage_topic, "b-offsets");
    assert_eq!(
        ab.offset_storage_replication_factor, 1,
        "top-level storage keys win"
    );
    // The top-level flush key is not a worker prefix key: ignored.
    assert_eq!(
        flow(&config, "b", "a").offset_flush_interval,
        Duration::from_millis(1000)
    );
    assert_eq!(
        flow(&config, "b", "a").offset_storage_topic,
        "mm2-offsets.b.internal"
    );
    assert_eq!(flow(&config, "a", "c").offset_storage_partitions, 3);
    assert_eq!(flow(&config, "a", "b").offset_storage_partitions, 25);

    let config = config_two("b.offset.storage.topic = mine\noffset.storage.topic = shared\n");
    assert_eq!(flow(&config, "a", "b").offset_storage_topic, "shared");
    assert_eq!(flow(&config, "b", "a").offset_storage_topic, "shared");
}

// ---- client settings (§1.3(a), (c), (d)) --------------------------------------------------

#[test]
fn client_config_properties() {
    // MirrorMakerConfigTest.testClientConfigProperties, adapted to flows.
    let config = load(&format!(
        "{TWO_CLUSTERS}config.providers = fake\n\
         security.protocol = SSL\n\
         ssl.truststore.password = secret1\n\
         ssl.key.password = ${{fake:secret:password}}\n\
         b.security.protocol = PLAINTEXT\n\
         b.producer.client.id = client-one\n\
         b.producer.security.protocol = SASL_SSL\n\
         ssl.keystore.location = /tmp/mykeystore.jks\n"
    ));
    let ab = flow(&config, "a", "b");
    let consumer = &ab.source_consumer;
    assert_eq!(consumer.get("security.protocol"), Some("SSL"));
    assert_eq!(consumer.get("ssl.truststore.password"), Some("secret1"));
    assert_eq!(
        consumer.get("ssl.key.password"),
        Some("${fake:secret:password}")
    );
    assert_eq!(
        consumer.get("ssl.keystore.location"),
        Some("/tmp/mykeystore.jks")
    );
    // `b.producer.security.protocol` overrides `b.security.protocol` for producers only.
    assert_eq!(
        ab.target_producer.get("security.protocol"),
        Some("SASL_SSL")
    );
    assert_eq!(ab.target_producer.get("client.id"), Some("client-one"));
    assert_eq!(ab.target_admin.get("security.protocol"), Some("PLAINTEXT"));
    assert_eq!(ab.target_admin.get("client.id"), None);
    assert_eq!(ab.source_admin.get("security.protocol"), Some("SSL"));
    let ba = flow(&config, "b", "a");
    assert_eq!(
        ba.source_consumer.get("security.protocol"),
        Some("PLAINTEXT")
    );
    assert_eq!(
        ba.offset_syncs_producer.get("security.protocol"),
        Some("SASL_SSL")
    );
    assert_eq!(ba.target_producer.get("security.protocol"), Some("SSL"));
}

#[test]
fn replication_consumer_precedence() {
    // Non-client keys: `a.consumer.k` > `a->b.consumer.k`; `a->b.source.consumer.k` beats all;
    // top-level `k` and `consumer.k` are not used.
    let base = format!(
        "{TWO_CLUSTERS}a->b.enabled = true\nmax.poll.records = 1\nconsumer.max.poll.records = 2\n"
    );
    let get = |extra: &str| {
        let config = load(&format!("{base}{extra}"));
        flow(&config, "a", "b")
            .source_consumer
            .get("max.poll.records")
            .map(str::to_owned)
    };
    assert_eq!(get(""), None);
    assert_eq!(
        get("a->b.consumer.max.poll.records = 3\n").as_deref(),
        Some("3")
    );
    assert_eq!(
        get("a->b.consumer.max.poll.records = 3\na.consumer.max.poll.records = 4\n").as_deref(),
        Some("4")
    );
    assert_eq!(
        get(
            "a->b.consumer.max.poll.records = 3\na.consumer.max.poll.records = 4\n\
             a->b.source.consumer.max.poll.records = 5\n"
        )
        .as_deref(),
        Some("5")
    );
    assert_eq!(
        get("a.max.poll.records = 6\n"),
        None,
        "`a.k` is not a consumer key"
    );

    // Client keys: `a.consumer.k` > `a.k` > top-level `k` > `a->b.consumer.k`.
    let key = "ssl.truststore.location";
    let layers = [
        format!("a->b.consumer.{key} = pair\n"),
        format!("{key} = top\n"),
        format!("a.{key} = cluster\n"),
        format!("a.consumer.{key} = cluster-consumer\n"),
        format!("a->b.source.consumer.{key} = pair-source-consumer\n"),
    ];
    let expected = [
        "pair",
        "top",
        "cluster",
        "cluster-consumer",
        "pair-source-consumer",
    ];
    for n in 1..=layers.len() {
        let config = load(&format!("{TWO_CLUSTERS}{}", layers[..n].concat()));
        assert_eq!(
            flow(&config, "a", "b").source_consumer.get(key),
            Some(expected[n - 1]),
            "{n} layers"
        );
    }
}

#[test]
fn forced_consumer_settings_and_offset_reset() {
    let config =
        config_two("a.consumer.enable.auto.commit = true\na.consumer.auto.offset.reset = LATEST\n");
    let ab = flow(&config, "a", "b");
    assert_eq!(ab.source_consumer.get("enable.auto.commit"), Some("false"));
    assert_eq!(ab.auto_offset_reset, OffsetReset::Latest);
    assert_eq!(
        flow(&config, "b", "a").auto_offset_reset,
        OffsetReset::Earliest
    );
}

#[test]
fn worker_producer_takes_connector_overrides() {
    let config = config_two("b.producer.linger.ms = 5\na->b.producer.override.linger.ms = 50\n");
    assert_eq!(
        flow(&config, "a", "b").target_producer.get("linger.ms"),
        Some("50")
    );
    assert_eq!(
        flow(&config, "b", "a")
            .offset_syncs_producer
            .get("linger.ms"),
        Some("5")
    );
}

#[test]
fn client_props_typed_getters_name_the_key_and_line() {
    let config =
        config_two("a.consumer.fetch.max.wait.ms = 250\na.consumer.fetch.max.bytes = lots\n");
    let consumer = &flow(&config, "a", "b").source_consumer;
    assert_eq!(
        consumer.get_duration_ms("fetch.max.wait.ms").unwrap(),
        Some(Duration::from_millis(250))
    );
    assert_eq!(consumer.get_i32("request.timeout.ms").unwrap(), None);
    let err = consumer.get_i32("fetch.max.bytes").unwrap_err().to_string();
    assert_eq!(
        err,
        "line 5: key `a.consumer.fetch.max.bytes`: invalid int `lots`"
    );
    let origin = consumer.origin("fetch.max.wait.ms").unwrap();
    assert_eq!(
        (origin.key.as_str(), origin.line),
        ("a.consumer.fetch.max.wait.ms", 4)
    );
}

#[test]
fn properties_stay_available() {
    let config = config_two("dedicated.mode.enable.internal.rest = true\n");
    assert_eq!(
        config
            .properties
            .value("dedicated.mode.enable.internal.rest"),
        Some("true")
    );
}

#[test]
fn group_keys_apply_to_every_flow_and_a_flow_key_wins() {
    let config = load(&format!(
        "{THREE_CLUSTERS}a->b.enabled = true\na->c.enabled = true\nc->a.enabled = true\n\
         strait.group.instance.id = node-1\n\
         strait.group.session.timeout.ms = 30000\n\
         a->c.strait.group.id = mirror-to-c\n\
         a->c.strait.group.instance.id = node-1.c\n\
         c->a.strait.group.enabled = false\n"
    ));
    let ab = flow(&config, "a", "b").group.clone().expect("a->b group");
    assert_eq!(ab.id, "strait-a-b");
    assert_eq!(ab.instance_id.as_deref(), Some("node-1"));
    assert_eq!(ab.session_timeout, Duration::from_secs(30));
    let ac = flow(&config, "a", "c").group.clone().expect("a->c group");
    assert_eq!(ac.id, "mirror-to-c");
    assert_eq!(ac.instance_id.as_deref(), Some("node-1.c"));
    assert_eq!(flow(&config, "c", "a").group, None, "c->a mirrors alone");
}

#[test]
fn the_instance_id_may_come_from_a_config_provider() {
    let dir = std::env::temp_dir().join(format!("strait-instance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("node.properties");
    std::fs::write(&file, "id = node-7\n").unwrap();
    let config = load(&format!(
        "{TWO_CLUSTERS}a->b.enabled = true\nstrait.group.instance.id = ${{file:{}:id}}\n",
        file.display()
    ));
    let group = flow(&config, "a", "b").group.clone().expect("group");
    assert_eq!(group.instance_id.as_deref(), Some("node-7"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- exactly-once mode (KIP-618 keys) --------------------------------------------------------

#[test]
fn exactly_once_is_a_worker_key_of_the_target() {
    use strait_mirror::config::TransactionBoundary;
    let base = format!("{TWO_CLUSTERS}a->b.enabled = true\n");
    assert_eq!(flow(&load(&base), "a", "b").exactly_once, None);
    // A worker key: only the target-prefixed form counts (MM2 ignores the top-level one).
    let top_level = load(&format!("{base}exactly.once.source.support = enabled\n"));
    assert_eq!(flow(&top_level, "a", "b").exactly_once, None);
    let preparing = load(&format!(
        "{base}b.exactly.once.source.support = preparing\n"
    ));
    assert_eq!(flow(&preparing, "a", "b").exactly_once, None);

    let config = load(&format!(
        "{base}b.exactly.once.source.support = Enabled\n\
         b.producer.transaction.timeout.ms = 3000\n"
    ));
    let eos = flow(&config, "a", "b").exactly_once.clone().expect("on");
    assert_eq!(eos.transaction_timeout, Duration::from_millis(3000));
    assert_eq!(eos.boundary, TransactionBoundary::Poll);
    assert_eq!(eos.transactional_id("orders", 3), "strait-a-b-orders-3");
    assert_eq!(
        flow(&config, "b", "a").exactly_once,
        None,
        "b->a writes to a, whose workers keep the default"
    );

    let config = load(&format!(
        "{base}b.exactly.once.source.support = enabled\n\
         b.offset.flush.interval.ms = 250\n\
         a->b.transaction.boundary = interval\n\
         strait.transactional.id.prefix = dc1-mirror\n"
    ));
    let eos = flow(&config, "a", "b").exactly_once.clone().expect("on");
    assert_eq!(
        eos.boundary,
        TransactionBoundary::Interval(Duration::from_millis(250)),
        "the interval defaults to offset.flush.interval.ms, as in Connect"
    );
    assert_eq!(eos.transaction_timeout, Duration::from_secs(60));
    assert_eq!(eos.transactional_id("orders", 0), "dc1-mirror-orders-0");
    let config = load(&format!(
        "{base}b.exactly.once.source.support = enabled\n\
         a->b.transaction.boundary = interval\n\
         a->b.transaction.boundary.interval.ms = 40\n\
         a->b.strait.transactional.id.prefix = only-this-flow\n\
         strait.transactional.id.prefix = every-flow\n"
    ));
    let eos = flow(&config, "a", "b").exactly_once.clone().expect("on");
    assert_eq!(
        eos.boundary,
        TransactionBoundary::Interval(Duration::from_millis(40))
    );
    assert_eq!(eos.transactional_id_prefix, "only-this-flow");
}

// ---- throttling (strait keys) ------------------------------------------------------------------

#[test]
fn throttle_keys_for_all_flows_or_one() {
    let base = format!("{TWO_CLUSTERS}a->b.enabled = true\nb->a.enabled = true\n");
    assert!(flow(&load(&base), "a", "b").throttle.is_empty());
    let config = load(&format!(
        "{base}strait.throttle.bytes.per.second = 50000000\n\
         b->a.strait.throttle.bytes.per.second = 1000\n\
         strait.throttle.rules = audit, big\n\
         strait.throttle.rule.audit.topics = audit\\..*, logs\n\
         strait.throttle.rule.audit.bytes.per.second = 100\n\
         strait.throttle.rule.big.topics = .*\n\
         strait.throttle.rule.big.bytes.per.second = 200\n"
    ));
    let ab = &flow(&config, "a", "b").throttle;
    assert_eq!(ab.flow, Some(50_000_000));
    assert_eq!(
        flow(&config, "b", "a").throttle.flow,
        Some(1000),
        "the flow's own wins"
    );
    let names: Vec<&str> = ab.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["audit", "big"]);
    assert_eq!(
        ab.rule_for("audit.eu").map(|r| r.bytes_per_second),
        Some(100)
    );
    assert_eq!(ab.rule_for("logs").map(|r| r.name.as_str()), Some("audit"));
    assert_eq!(
        ab.rule_for("orders").map(|r| r.name.as_str()),
        Some("big"),
        "the first rule that matches"
    );
}
