//! One `source->target` flow: the typed settings of MM2's connectors and worker for the pair.

use std::time::Duration;

use super::buffer::buffer_max_bytes;
use super::client::ClientProps;
use super::cycles::{cycle_detection, CycleDetection};
use super::error::{ConfigError, KeyProblem};
use super::exactly_once::{exactly_once, ExactlyOnce};
use super::group::{group_settings, GroupSettings};
use super::hierarchy::{
    cluster_props, connector_client, connector_config, worker_config, worker_producer, Client, Side,
};
use super::properties::Properties;
use super::schemas::{schema_sync, SchemaSyncSettings};
use super::throttle::{throttle_settings, ThrottleSettings};
use super::values::{java_parse_boolean, java_trim, key_error, Layer, Typed, Val};
use crate::filter::{
    FilterError, GroupFilter, PatternList, TopicFilter, DEFAULT_CONFIG_PROPERTIES_EXCLUDE,
    DEFAULT_GROUPS, DEFAULT_GROUPS_EXCLUDE, DEFAULT_TOPICS, DEFAULT_TOPICS_EXCLUDE,
};
use crate::policy::{ReplicationPolicy, DEFAULT_POLICY_CLASS, DEFAULT_SEPARATOR};

/// strait's `refresh.topics.interval.seconds` when the key is absent (MM2: 600).
pub const DEFAULT_REFRESH_TOPICS_INTERVAL: Duration = Duration::from_secs(5);
/// strait's default config and ACL sync interval (MM2: 600 s).
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(10);
/// strait's `emit.checkpoints.interval.seconds` and `sync.group.offsets.interval.seconds`
/// when the keys are absent (MM2: 60 s): a failover seconds after a commit is exact.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// strait's `refresh.groups.interval.seconds` when the key is absent (MM2: 600).
pub const DEFAULT_REFRESH_GROUPS_INTERVAL: Duration = Duration::from_secs(5);
/// strait's `<target>.offset.flush.interval.ms` when the key is absent (MM2: 60000).
pub const DEFAULT_OFFSET_FLUSH_INTERVAL: Duration = Duration::from_millis(1000);

/// Where the offset-syncs topic lives (`offset-syncs.topic.location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncsLocation {
    /// On the source cluster, named after the target (MM2's default).
    Source,
    /// On the target cluster, named after the source.
    Target,
}

/// Where a replicated partition without stored progress starts (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// At the log start (MM2's default).
    Earliest,
    /// At the log end.
    Latest,
}

/// The typed configuration of one `source->target` flow.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// `s->t.enabled`: whether topics are replicated (heartbeats may run regardless).
    pub replication_enabled: bool,
    /// `topics` regexes.
    pub topics: Vec<String>,
    /// `topics.exclude` regexes.
    pub topics_exclude: Vec<String>,
    /// `topics` and `topics.exclude`, compiled.
    pub topic_filter: TopicFilter,
    /// `groups` regexes.
    pub groups: Vec<String>,
    /// `groups.exclude` regexes.
    pub groups_exclude: Vec<String>,
    /// `groups` and `groups.exclude`, compiled.
    pub group_filter: GroupFilter,
    /// `replication.policy.*`.
    pub policy: ReplicationPolicy,
    /// `replication.factor` of remote topics (-1 = broker default).
    pub replication_factor: i16,
    /// `refresh.topics.interval.seconds`; `None` when refreshing is disabled.
    pub refresh_topics_interval: Option<Duration>,
    /// `emit.heartbeats.interval.seconds`; `None` when heartbeats are disabled.
    pub emit_heartbeats_interval: Option<Duration>,
    /// `heartbeats.replication.enabled`: replicate heartbeats topics despite the topic filter.
    pub heartbeats_replication_enabled: bool,
    /// `heartbeats.topic.replication.factor`.
    pub heartbeats_topic_replication_factor: i16,
    /// `checkpoints.topic.replication.factor`.
    pub checkpoints_topic_replication_factor: i16,
    /// `emit.checkpoints.interval.seconds`; `None` when `emit.checkpoints.enabled=false`
    /// (strait default 1 s; MM2 60 s).
    pub emit_checkpoints_interval: Option<Duration>,
    /// `refresh.groups.interval.seconds`; `None` when `refresh.groups.enabled=false`
    /// (strait default 5 s; MM2 600 s).
    pub refresh_groups_interval: Option<Duration>,
    /// `sync.group.offsets.interval.seconds`; `None` unless `sync.group.offsets.enabled=true`
    /// (strait default 1 s; MM2 60 s).
    pub sync_group_offsets_interval: Option<Duration>,
    /// `emit.offset-syncs.enabled`.
    pub emit_offset_syncs: bool,
    /// `offset-syncs.topic.location`.
    pub offset_syncs_location: SyncsLocation,
    /// `offset-syncs.topic.replication.factor`.
    pub offset_syncs_topic_replication_factor: i16,
    /// `offset.lag.max`.
    pub offset_lag_max: i64,
    /// `config.properties.exclude` regexes: topic configs not copied to remote topics.
    pub config_properties_exclude: Vec<String>,
    /// `config.properties.exclude`, compiled once for the flow's topic creation and config sync.
    pub excluded_configs: PatternList,
    /// `use.defaults.from = source`: copy the source's default topic configs too (only
    /// effective as `s->t.use.defaults.from`, like in MM2).
    pub use_source_defaults: bool,
    /// `sync.topic.configs.enabled` (false also when the interval is negative).
    pub sync_topic_configs_enabled: bool,
    /// `sync.topic.configs.interval.seconds` (strait default 10 s; MM2 600 s).
    pub sync_topic_configs_interval: Duration,
    /// `sync.topic.acls.interval.seconds`; `None` when `sync.topic.acls.enabled=false`
    /// (strait default 10 s; MM2 600 s).
    pub sync_topic_acls_interval: Option<Duration>,
    /// strait opt-in `sync.topic.acls.prefixed.enabled`: also mirror PREFIXED topic ACLs, the
    /// prefix renamed by the policy (MM2 syncs LITERAL only).
    pub sync_prefixed_topic_acls: bool,
    /// strait opt-in `sync.group.acls.enabled`: also mirror group ACLs of the groups this flow
    /// selects with `groups`/`groups.exclude`.
    pub sync_group_acls: bool,
    /// Worker `offset.storage.topic` (default `mm2-offsets.<source>.internal`).
    pub offset_storage_topic: String,
    /// Worker `offset.storage.partitions`.
    pub offset_storage_partitions: i32,
    /// Worker `offset.storage.replication.factor`.
    pub offset_storage_replication_factor: i16,
    /// Worker `<target>.offset.flush.interval.ms`: how often progress is stored.
    pub offset_flush_interval: Duration,
    /// The replication consumer (source cluster).
    pub source_consumer: ClientProps,
    /// The producer writing replicated records (target cluster; Connect's worker producer).
    pub target_producer: ClientProps,
    /// Admin client of the source cluster.
    pub source_admin: ClientProps,
    /// Admin client of the target cluster.
    pub target_admin: ClientProps,
    /// Producer of offset syncs, on the cluster given by `offset_syncs_location`.
    pub offset_syncs_producer: ClientProps,
    /// Consumer of offset syncs (checkpoints), on the cluster given by `offset_syncs_location`.
    pub offset_syncs_consumer: ClientProps,
    /// `auto.offset.reset` of the replication consumer.
    pub auto_offset_reset: OffsetReset,
    /// The group this flow's processes share its work through; `None`: this process alone.
    pub group: Option<GroupSettings>,
    /// Exactly-once mode (`<target>.exactly.once.source.support = enabled`); `None`: batches
    /// are written by idempotent producers, progress stored every `offset_flush_interval`.
    pub exactly_once: Option<ExactlyOnce>,
    /// Bytes-per-second limits on the flow and on groups of its topics (strait keys).
    pub throttle: ThrottleSettings,
    /// The most bytes fetched from the source and not yet written to the target
    /// (`strait.buffer.max.bytes`).
    pub buffer_max_bytes: u32,
    /// How records going back where they came from are recognised (`strait.cycle.detection`).
    pub cycle_detection: CycleDetection,
    /// Schema Registry sync from the source's registry to the target's
    /// (`strait.schemas.sync.enabled`), `None` when off.
    pub schema_sync: Option<SchemaSyncSettings>,
}

impl FlowConfig {
    /// `source->target`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// Whether this flow mirrors source topic `topic` (MM2's `shouldReplicateTopic`).
    pub fn replicates_topic(&self, topic: &str) -> bool {
        crate::filter::should_replicate_topic(
            &self.policy,
            &self.topic_filter,
            &self.target,
            self.heartbeats_replication_enabled,
            topic,
        )
    }
}

/// Builds the flow `source->target` from the file's properties.
pub(crate) fn build_flow(
    props: &Properties,
    source: &str,
    target: &str,
) -> Result<FlowConfig, ConfigError> {
    let connector = connector_config(props, source, target);
    let c = Typed(&connector);
    let replication_enabled = c.boolean("enabled", false)?;
    let name = format!("{source}->{target}");
    require_bootstrap(
        props,
        &name,
        target,
        connector.get("enabled").filter(|_| replication_enabled),
    )?;
    if replication_enabled {
        require_bootstrap(props, &name, source, connector.get("enabled"))?;
    }

    let topics = c.list("topics").unwrap_or_else(|| owned(DEFAULT_TOPICS));
    let (exclude_key, topics_exclude) = exclude_list(
        &c,
        "topics.exclude",
        "topics.blacklist",
        DEFAULT_TOPICS_EXCLUDE,
    );
    let topic_filter = TopicFilter::new(
        compile(&connector, "topics", &topics)?,
        compile(&connector, exclude_key, &topics_exclude)?,
    );
    let groups = c.list("groups").unwrap_or_else(|| owned(DEFAULT_GROUPS));
    let (exclude_key, groups_exclude) = exclude_list(
        &c,
        "groups.exclude",
        "groups.blacklist",
        DEFAULT_GROUPS_EXCLUDE,
    );
    let group_filter = GroupFilter::new(
        compile(&connector, "groups", &groups)?,
        compile(&connector, exclude_key, &groups_exclude)?,
    );
    let (exclude_key, config_properties_exclude) = exclude_list(
        &c,
        "config.properties.exclude",
        "config.properties.blacklist",
        DEFAULT_CONFIG_PROPERTIES_EXCLUDE,
    );
    let excluded_configs = compile(&connector, exclude_key, &config_properties_exclude)?;

    let offset_syncs_location = match c.string("offset-syncs.topic.location").unwrap_or("source") {
        "source" => SyncsLocation::Source,
        "target" => SyncsLocation::Target,
        _ => {
            return Err(invalid_choice(
                &connector,
                "offset-syncs.topic.location",
                "source or target",
            ))
        }
    };
    let sync_topic_configs = interval_secs(
        &c,
        "sync.topic.configs.enabled",
        "sync.topic.configs.interval.seconds",
        DEFAULT_SYNC_INTERVAL,
    )?;

    let worker = worker_config(props, target);
    let w = Typed(&worker);
    let offset_storage_topic = match w.get("offset.storage.topic") {
        None => format!("mm2-offsets.{source}.internal"),
        Some(v) if java_trim(&v.value).is_empty() => {
            return Err(v.error(
                "offset.storage.topic",
                KeyProblem::Invalid {
                    reason: "must not be empty".to_owned(),
                },
            ))
        }
        Some(v) => java_trim(&v.value).to_owned(),
    };
    let mm2_group = w
        .string("group.id")
        .map_or_else(|| format!("{source}-mm2"), |g| java_trim(g).to_owned());
    let group = group_settings(props, &connector, source, target, &mm2_group)?;
    let flush_ms = w.long(
        "offset.flush.interval.ms",
        DEFAULT_OFFSET_FLUSH_INTERVAL.as_millis() as i64,
    )?;
    let offset_flush_interval = positive_millis(&worker, "offset.flush.interval.ms", flush_ms)?;

    let client = |side: Side, kind: Client| {
        let alias = if side == Side::Source { source } else { target };
        ClientProps::from_layer(alias, connector_client(&connector, side, kind))
    };
    let source_consumer = client(Side::Source, Client::Consumer);
    let auto_offset_reset = auto_offset_reset(&source_consumer)?;
    let target_producer = ClientProps::from_layer(target, worker_producer(&worker, &connector));
    let exactly_once = exactly_once(
        props,
        &worker,
        &connector,
        &target_producer,
        offset_flush_interval,
        (source, target),
    )?;
    let cycle_detection = cycle_detection(props, &connector, exactly_once.as_ref())?;
    let syncs_side = match offset_syncs_location {
        SyncsLocation::Source => Side::Source,
        SyncsLocation::Target => Side::Target,
    };

    Ok(FlowConfig {
        source: source.to_owned(),
        target: target.to_owned(),
        replication_enabled,
        topics,
        topics_exclude,
        topic_filter,
        groups,
        groups_exclude,
        group_filter,
        policy: policy(&connector)?,
        replication_factor: replication_factor(&connector)?,
        refresh_topics_interval: interval_secs(
            &c,
            "refresh.topics.enabled",
            "refresh.topics.interval.seconds",
            DEFAULT_REFRESH_TOPICS_INTERVAL,
        )?,
        emit_heartbeats_interval: interval_secs(
            &c,
            "emit.heartbeats.enabled",
            "emit.heartbeats.interval.seconds",
            Duration::from_secs(1),
        )?,
        heartbeats_replication_enabled: c.boolean("heartbeats.replication.enabled", true)?,
        heartbeats_topic_replication_factor: c.short("heartbeats.topic.replication.factor", 3)?,
        checkpoints_topic_replication_factor: c.short("checkpoints.topic.replication.factor", 3)?,
        emit_checkpoints_interval: interval_secs(
            &c,
            "emit.checkpoints.enabled",
            "emit.checkpoints.interval.seconds",
            DEFAULT_CHECKPOINT_INTERVAL,
        )?,
        refresh_groups_interval: interval_secs(
            &c,
            "refresh.groups.enabled",
            "refresh.groups.interval.seconds",
            DEFAULT_REFRESH_GROUPS_INTERVAL,
        )?,
        sync_group_offsets_interval: if c.boolean("sync.group.offsets.enabled", false)? {
            interval_secs(
                &c,
                "sync.group.offsets.enabled",
                "sync.group.offsets.interval.seconds",
                DEFAULT_CHECKPOINT_INTERVAL,
            )?
        } else {
            None
        },
        emit_offset_syncs: c.boolean("emit.offset-syncs.enabled", true)?,
        offset_syncs_location,
        offset_syncs_topic_replication_factor: c
            .short("offset-syncs.topic.replication.factor", 3)?,
        offset_lag_max: c.long("offset.lag.max", 100)?,
        config_properties_exclude,
        excluded_configs,
        use_source_defaults: c.string("use.defaults.from") == Some("source"),
        sync_topic_configs_enabled: sync_topic_configs.is_some(),
        sync_topic_configs_interval: sync_topic_configs.unwrap_or(DEFAULT_SYNC_INTERVAL),
        sync_topic_acls_interval: interval_secs(
            &c,
            "sync.topic.acls.enabled",
            "sync.topic.acls.interval.seconds",
            DEFAULT_SYNC_INTERVAL,
        )?,
        sync_prefixed_topic_acls: c.boolean("sync.topic.acls.prefixed.enabled", false)?,
        sync_group_acls: c.boolean("sync.group.acls.enabled", false)?,
        offset_storage_topic,
        offset_storage_partitions: w.int("offset.storage.partitions", 25)?,
        offset_storage_replication_factor: w.short("offset.storage.replication.factor", 3)?,
        offset_flush_interval,
        source_consumer,
        target_producer,
        source_admin: client(Side::Source, Client::Admin),
        target_admin: client(Side::Target, Client::Admin),
        offset_syncs_producer: client(syncs_side, Client::Producer),
        offset_syncs_consumer: client(syncs_side, Client::Consumer),
        auto_offset_reset,
        group,
        exactly_once,
        throttle: throttle_settings(props, &connector)?,
        buffer_max_bytes: buffer_max_bytes(props, &connector)?,
        cycle_detection,
        schema_sync: schema_sync(props, &connector, (source, target))?,
    })
}

fn owned(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|p| (*p).to_owned()).collect()
}

fn invalid_choice(layer: &Layer, key: &str, expected: &'static str) -> ConfigError {
    let value = layer.get(key).map(|v| v.value.clone()).unwrap_or_default();
    key_error(layer, key, KeyProblem::InvalidChoice { value, expected })
}

/// Each cluster a flow connects to needs bootstrap servers (MM2 would silently use localhost).
fn require_bootstrap(
    props: &Properties,
    flow: &str,
    alias: &str,
    enabled_by: Option<&Val>,
) -> Result<(), ConfigError> {
    let cluster = cluster_props(props, alias);
    let problem = KeyProblem::MissingBootstrapServers {
        flow: flow.to_owned(),
        cluster: alias.to_owned(),
    };
    match cluster.get("bootstrap.servers") {
        Some(v) if !java_trim(&v.value).is_empty() => Ok(()),
        Some(v) => Err(v.error("bootstrap.servers", problem)),
        None => Err(match enabled_by {
            Some(v) => v.error("enabled", problem),
            None => ConfigError::Key {
                key: format!("{alias}.bootstrap.servers"),
                line: None,
                problem,
            },
        }),
    }
}

/// An exclude list with its deprecated 3.x `*.blacklist` alias (the `.exclude` key wins).
fn exclude_list<'k>(
    c: &Typed<'_>,
    key: &'k str,
    deprecated: &'k str,
    default: &[&str],
) -> (&'k str, Vec<String>) {
    match (c.list(key), c.list(deprecated)) {
        (Some(list), old) => {
            if old.is_some() {
                tracing::warn!(
                    "both `{key}` and the deprecated `{deprecated}` are set; using `{key}`"
                );
            }
            (key, list)
        }
        (None, Some(list)) => {
            tracing::warn!("`{deprecated}` is deprecated (removed in Kafka 4.0); use `{key}`");
            (deprecated, list)
        }
        (None, None) => (key, owned(default)),
    }
}

fn compile(layer: &Layer, key: &str, patterns: &[String]) -> Result<PatternList, ConfigError> {
    PatternList::new(patterns).map_err(|e: FilterError| key_error(layer, key, e.into()))
}

/// `replication.policy.*` as MM2's policy sees them: raw (untrimmed) connector originals.
fn policy(connector: &Layer) -> Result<ReplicationPolicy, ConfigError> {
    let c = Typed(connector);
    let class = c
        .string("replication.policy.class")
        .unwrap_or(DEFAULT_POLICY_CLASS);
    let separator = connector
        .get("replication.policy.separator")
        .map(|v| v.value.as_str());
    let flag_key = "replication.policy.internal.topic.separator.enabled";
    c.boolean(flag_key, true)?;
    // Java reads the flag with Boolean.parseBoolean, and only when the separator is configured.
    let internal_separator_enabled = match (separator, connector.get(flag_key)) {
        (Some(_), Some(v)) => java_parse_boolean(Some(&v.value)),
        _ => true,
    };
    let separator = separator.unwrap_or(DEFAULT_SEPARATOR);
    if separator != java_trim(separator) {
        tracing::warn!(
            "replication.policy.separator {separator:?} has surrounding whitespace, which MM2 \
             (and strait) keep as part of the separator"
        );
    }
    let source_alias = connector
        .get("source.cluster.alias")
        .map(|v| v.value.as_str());
    ReplicationPolicy::from_class(class, separator, internal_separator_enabled, source_alias)
        .map_err(|e| key_error(connector, "replication.policy.class", e.into()))
}

/// `replication.factor`: an `int` MM2 casts to `short`; strait rejects values that do not fit.
fn replication_factor(connector: &Layer) -> Result<i16, ConfigError> {
    let rf = Typed(connector).int("replication.factor", 2)?;
    i16::try_from(rf).map_err(|_| {
        key_error(
            connector,
            "replication.factor",
            KeyProblem::OutOfRange {
                value: rf.to_string(),
                requirement: "does not fit a replication factor",
            },
        )
    })
}

/// An `X.enabled` + `X.interval.seconds` pair; negative intervals disable, like MM2's scheduler.
fn interval_secs(
    c: &Typed<'_>,
    enabled_key: &str,
    interval_key: &str,
    default: Duration,
) -> Result<Option<Duration>, ConfigError> {
    if !c.boolean(enabled_key, true)? {
        return Ok(None);
    }
    let secs = c.long(interval_key, default.as_secs() as i64)?;
    if secs == 0 {
        return Err(key_error(
            c.0,
            interval_key,
            KeyProblem::OutOfRange {
                value: "0".to_owned(),
                requirement: "must be positive (or negative to disable)",
            },
        ));
    }
    Ok(u64::try_from(secs).ok().map(Duration::from_secs))
}

fn positive_millis(layer: &Layer, key: &str, ms: i64) -> Result<Duration, ConfigError> {
    match u64::try_from(ms) {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(key_error(
            layer,
            key,
            KeyProblem::OutOfRange {
                value: ms.to_string(),
                requirement: "must be positive",
            },
        )),
    }
}

/// `auto.offset.reset` of the replication consumer (case-insensitive, like Kafka's consumer).
fn auto_offset_reset(consumer: &ClientProps) -> Result<OffsetReset, ConfigError> {
    let value = consumer.get("auto.offset.reset").unwrap_or("earliest");
    if value.eq_ignore_ascii_case("earliest") {
        Ok(OffsetReset::Earliest)
    } else if value.eq_ignore_ascii_case("latest") {
        Ok(OffsetReset::Latest)
    } else {
        Err(consumer.error(
            "auto.offset.reset",
            KeyProblem::InvalidChoice {
                value: value.to_owned(),
                expected: "earliest or latest",
            },
        ))
    }
}
