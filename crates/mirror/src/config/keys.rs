//! Key names MM2 knows: client keys, connector config names, worker prefixes.

/// `MirrorClientConfig.CLIENT_CONFIG_DEF` names that are listed exactly.
const CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "security.protocol",
    "ssl.protocol",
    "ssl.provider",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.certificates",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.endpoint.identification.algorithm",
    "ssl.secure.random.implementation",
    "ssl.engine.factory.class",
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.client.callback.handler.class",
    // librdkafka-style credentials, accepted by strait besides sasl.jaas.config.
    "sasl.username",
    "sasl.password",
];

/// SASL client key families (`sasl.kerberos.*`, `sasl.login.*`, `sasl.oauthbearer.*`).
const CLIENT_KEY_PREFIXES: &[&str] = &["sasl.kerberos.", "sasl.login.", "sasl.oauthbearer."];

/// Whether `key` is a client key: bootstrap servers, security protocol, SSL or SASL client keys.
pub(crate) fn is_client_key(key: &str) -> bool {
    CLIENT_KEYS.contains(&key) || CLIENT_KEY_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Connector `ConfigDef` names of the three MM2 connectors (besides the SSL/SASL client keys).
const CONNECTOR_KEYS: &[&str] = &[
    // Connect ConnectorConfig
    "name",
    "connector.class",
    "tasks.max",
    "tasks.max.enforce",
    "key.converter",
    "value.converter",
    "header.converter",
    "config.action.reload",
    "transforms",
    "predicates",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.tolerance",
    "errors.log.enable",
    "errors.log.include.messages",
    // MirrorConnectorConfig
    "enabled",
    "source.cluster.alias",
    "target.cluster.alias",
    "admin.timeout.ms",
    "replication.policy.class",
    "replication.policy.separator",
    "replication.policy.internal.topic.separator.enabled",
    "forwarding.admin.class",
    "metric.reporters",
    "security.protocol",
    // MirrorSourceConfig
    "topics",
    "topics.exclude",
    "topics.blacklist",
    "config.properties.exclude",
    "config.properties.blacklist",
    "topic.filter.class",
    "config.property.filter.class",
    "consumer.poll.timeout.ms",
    "refresh.topics.enabled",
    "refresh.topics.interval.seconds",
    "sync.topic.configs.enabled",
    "sync.topic.configs.interval.seconds",
    "sync.topic.acls.enabled",
    "sync.topic.acls.interval.seconds",
    // strait's opt-ins beyond MM2's ACL sync
    "sync.topic.acls.prefixed.enabled",
    "sync.group.acls.enabled",
    "replication.factor",
    "offset-syncs.topic.replication.factor",
    "offset.lag.max",
    "offset-syncs.topic.location",
    "emit.offset-syncs.enabled",
    "heartbeats.replication.enabled",
    "use.incremental.alter.configs",
    // MirrorCheckpointConfig
    "groups",
    "groups.exclude",
    "groups.blacklist",
    "group.filter.class",
    "refresh.groups.enabled",
    "refresh.groups.interval.seconds",
    "emit.checkpoints.enabled",
    "emit.checkpoints.interval.seconds",
    "sync.group.offsets.enabled",
    "sync.group.offsets.interval.seconds",
    "checkpoints.topic.replication.factor",
    // MirrorHeartbeatConfig
    "emit.heartbeats.enabled",
    "emit.heartbeats.interval.seconds",
    "heartbeats.topic.replication.factor",
];

/// Whether a top-level key reaches connector configs (MM2's `allConfigNames`).
pub(crate) fn is_connector_key(key: &str) -> bool {
    CONNECTOR_KEYS.contains(&key) || (is_client_key(key) && key != "bootstrap.servers")
}

/// Top-level key prefixes copied into every worker config, overriding `<target>.` keys.
const WORKER_PREFIXES: &[&str] = &[
    "offset.storage",
    "config.storage",
    "status.storage",
    "key.converter",
    "value.converter",
    "header.converter",
    "task",
    "worker",
    "replication.policy",
];

/// Whether a top-level key is copied into worker configs (§1.3(b)).
pub(crate) fn is_worker_key(key: &str) -> bool {
    WORKER_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Dedicated-mode top-level keys (`MirrorMakerConfig` and Connect's internal REST keys).
const DEDICATED_KEYS: &[&str] = &[
    "clusters",
    "dedicated.mode.enable.internal.rest",
    "listeners",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "response.http.headers.config",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "ssl.client.auth",
];

/// strait's own keys (MM2 ignores them); the group keys may also be set per flow.
pub(crate) const STRAIT_KEYS: &[&str] = &[
    "strait.http.enabled",
    "strait.http.listen",
    "strait.http.token.file",
    "strait.metrics.partition.labels",
    "strait.group.enabled",
    "strait.group.instance.id",
    "strait.group.id",
    "strait.group.session.timeout.ms",
    "strait.group.heartbeat.interval.ms",
    "strait.transactional.id.prefix",
    "strait.throttle.bytes.per.second",
    "strait.throttle.rules",
    "strait.buffer.max.bytes",
    "strait.cycle.detection",
];

/// Whether MM2 (or strait, for its own keys) reads the top-level `key` anywhere.
pub(crate) fn is_known_top_level(key: &str) -> bool {
    DEDICATED_KEYS.contains(&key)
        || STRAIT_KEYS.contains(&key)
        || key.starts_with("strait.throttle.rule.")
        || key.starts_with("config.providers")
        || is_connector_key(key)
        || is_client_key(key)
        || is_worker_key(key)
}
