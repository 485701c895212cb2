//! Schema Registry sync (docs/schema-registry.md): each cluster's registry
//! (`<alias>.schema.registry.url`, the Confluent REST API that Apicurio, Karapace and Redpanda
//! also speak) and a flow's opt-in to copy subjects, versions and compatibility settings from
//! its source's registry to its target's (`strait.schemas.*`, for all flows or one:
//! `A->B.strait.schemas.sync.enabled`).

use std::time::Duration;

use strait_kafka::net::http::HttpUrl;

use super::error::{ConfigError, KeyProblem};
use super::group::strait_keys;
use super::hierarchy::cluster_props;
use super::properties::Properties;
use super::values::{key_error, Layer, Typed};
use crate::filter::PatternList;

/// Whether the flow syncs schemas (default false).
pub const SCHEMAS_SYNC_ENABLED: &str = "strait.schemas.sync.enabled";
/// Seconds between sync passes (default 30).
pub const SCHEMAS_SYNC_INTERVAL: &str = "strait.schemas.sync.interval.seconds";
/// Java regexes (full match) of the subjects synced (default `.*`).
pub const SCHEMAS_SUBJECTS: &str = "strait.schemas.subjects";
/// Java regexes of subjects never synced (default none).
pub const SCHEMAS_SUBJECTS_EXCLUDE: &str = "strait.schemas.subjects.exclude";
/// Whether the registry-wide compatibility level is copied too (default true).
pub const SCHEMAS_SYNC_GLOBAL: &str = "strait.schemas.sync.global.compatibility";
/// A cluster's registry base URL (`A.schema.registry.url`).
pub const REGISTRY_URL: &str = "schema.registry.url";
/// A cluster's registry credentials, `user:password` (HTTP basic auth).
pub const REGISTRY_USER_INFO: &str = "schema.registry.basic.auth.user.info";
/// CA certificates (PEM file) trusted for an `https://` registry (default: public web roots).
pub const REGISTRY_TRUSTSTORE: &str = "schema.registry.ssl.truststore.location";

/// How often a flow syncs schemas unless configured.
pub const DEFAULT_SCHEMAS_SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// One cluster's Schema Registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryEndpoint {
    /// The cluster alias.
    pub cluster: String,
    /// The base URL as written (messages name it).
    pub url: String,
    /// The base URL, parsed.
    pub base: HttpUrl,
    /// `user:password` for basic auth.
    pub user_info: Option<String>,
    /// A PEM file of trusted CAs for `https://`.
    pub truststore: Option<String>,
}

impl std::fmt::Debug for RegistryEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryEndpoint")
            .field("cluster", &self.cluster)
            .field("url", &self.url)
            .field("basic_auth", &self.user_info.is_some())
            .field("truststore", &self.truststore)
            .finish()
    }
}

/// What a flow's schema sync copies, from where to where.
#[derive(Debug, Clone)]
pub struct SchemaSyncSettings {
    /// The source cluster's registry.
    pub source: RegistryEndpoint,
    /// The target cluster's registry.
    pub target: RegistryEndpoint,
    /// Time between passes.
    pub interval: Duration,
    /// Subjects synced.
    pub subjects: PatternList,
    /// Subjects never synced.
    pub subjects_exclude: PatternList,
    /// Whether the registry-wide compatibility level is copied.
    pub global_compatibility: bool,
}

impl SchemaSyncSettings {
    /// Whether `subject` is synced.
    pub fn selects(&self, subject: &str) -> bool {
        self.subjects.matches(subject) && !self.subjects_exclude.matches(subject)
    }
}

/// The flow's schema sync, `None` unless enabled; enabled without a registry URL for either
/// cluster is an error naming the missing key.
pub(crate) fn schema_sync(
    props: &Properties,
    connector: &Layer,
    (source, target): (&str, &str),
) -> Result<Option<SchemaSyncSettings>, ConfigError> {
    let layer = strait_keys(props, connector, "strait.schemas.");
    let t = Typed(&layer);
    if !t.boolean(SCHEMAS_SYNC_ENABLED, false)? {
        return Ok(None);
    }
    let secs = t.long(
        SCHEMAS_SYNC_INTERVAL,
        DEFAULT_SCHEMAS_SYNC_INTERVAL.as_secs() as i64,
    )?;
    let interval = u64::try_from(secs)
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            key_error(
                &layer,
                SCHEMAS_SYNC_INTERVAL,
                KeyProblem::OutOfRange {
                    value: secs.to_string(),
                    requirement: "must be a positive number of seconds",
                },
            )
        })?;
    let patterns = |key: &str, default: &[&str]| {
        let list = t
            .list(key)
            .unwrap_or_else(|| default.iter().map(|p| (*p).to_owned()).collect());
        PatternList::new(&list).map_err(|e| key_error(&layer, key, e.into()))
    };
    Ok(Some(SchemaSyncSettings {
        source: endpoint(props, source, &layer)?,
        target: endpoint(props, target, &layer)?,
        interval,
        subjects: patterns(SCHEMAS_SUBJECTS, &[".*"])?,
        subjects_exclude: patterns(SCHEMAS_SUBJECTS_EXCLUDE, &[])?,
        global_compatibility: t.boolean(SCHEMAS_SYNC_GLOBAL, true)?,
    }))
}

/// `<alias>.schema.registry.*`.
fn endpoint(
    props: &Properties,
    alias: &str,
    flow_keys: &Layer,
) -> Result<RegistryEndpoint, ConfigError> {
    let cluster = cluster_props(props, alias);
    let c = Typed(&cluster);
    let Some(url) = c.string(REGISTRY_URL).filter(|u| !u.is_empty()) else {
        return Err(ConfigError::Key {
            key: format!("{alias}.{REGISTRY_URL}"),
            line: flow_keys
                .get(SCHEMAS_SYNC_ENABLED)
                .and_then(|v| v.origin.as_ref().map(|o| o.line)),
            problem: KeyProblem::Invalid {
                reason: format!(
                    "{SCHEMAS_SYNC_ENABLED} needs the Schema Registry of cluster `{alias}`, \
                     e.g. `{alias}.{REGISTRY_URL} = http://registry.{alias}:8081`"
                ),
            },
        });
    };
    let url = url.trim_end_matches('/').to_owned();
    let base = HttpUrl::parse(&url)
        .map_err(|reason| key_error(&cluster, REGISTRY_URL, KeyProblem::Invalid { reason }))?;
    if base.target.contains('?') {
        let reason = "a registry URL takes no query (`?…`)".to_owned();
        return Err(key_error(
            &cluster,
            REGISTRY_URL,
            KeyProblem::Invalid { reason },
        ));
    }
    let user_info = c.string(REGISTRY_USER_INFO).map(str::to_owned);
    if let Some(info) = &user_info {
        if !info.contains(':') {
            let reason = "expected `user:password`".to_owned();
            return Err(key_error(
                &cluster,
                REGISTRY_USER_INFO,
                KeyProblem::Invalid { reason },
            ));
        }
    }
    Ok(RegistryEndpoint {
        cluster: alias.to_owned(),
        url,
        base,
        user_info,
        truststore: c.string(REGISTRY_TRUSTSTORE).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_str, ConfigError};

    const BASE: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n";

    fn parse(extra: &str) -> Result<crate::config::MirrorConfig, ConfigError> {
        parse_str(&format!("{BASE}{extra}"))
    }

    fn flow_sync(extra: &str) -> Option<super::SchemaSyncSettings> {
        let config = parse(extra).expect("valid config");
        config.flows[0].schema_sync.clone()
    }

    #[test]
    fn off_unless_enabled() {
        assert!(flow_sync("A.schema.registry.url = http://a:8081\n").is_none());
    }

    #[test]
    fn enabled_flow_reads_both_registries() {
        let s = flow_sync(
            "A.schema.registry.url = http://a:8081/apis/ccompat/v7/\n\
             B.schema.registry.url = https://b.example.com\n\
             B.schema.registry.basic.auth.user.info = mirror:pw\n\
             A->B.strait.schemas.sync.enabled = true\n\
             strait.schemas.subjects = orders-.*, users-value\n\
             strait.schemas.subjects.exclude = .*-test\n\
             strait.schemas.sync.interval.seconds = 5\n",
        )
        .expect("enabled");
        assert_eq!(s.source.url, "http://a:8081/apis/ccompat/v7");
        assert_eq!(s.source.base.target, "/apis/ccompat/v7");
        assert_eq!((s.target.base.tls, s.target.base.port), (true, 443));
        assert_eq!(s.target.user_info.as_deref(), Some("mirror:pw"));
        assert_eq!(s.interval.as_secs(), 5);
        assert!(s.selects("orders-value") && s.selects("users-value"));
        assert!(!s.selects("orders-test") && !s.selects("users-key"));
        assert!(s.global_compatibility);
        assert!(
            !format!("{:?}", s.target).contains("pw"),
            "no secret in Debug"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let enable = "strait.schemas.sync.enabled = true\n";
        let err = parse(&format!("A.schema.registry.url = http://a\n{enable}")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`B.schema.registry.url`"), "{text}");
        assert!(text.contains("line 6"), "{text}");
        for (extra, key) in [
            ("A.schema.registry.url = ftp://a\n", "A.schema.registry.url"),
            (
                "A.schema.registry.url = http://a\nB.schema.registry.url = http://b\nstrait.schemas.sync.interval.seconds = 0\n",
                "strait.schemas.sync.interval.seconds",
            ),
            (
                "A.schema.registry.url = http://a\nB.schema.registry.url = http://b\nB.schema.registry.basic.auth.user.info = nocolon\n",
                "B.schema.registry.basic.auth.user.info",
            ),
            (
                "A.schema.registry.url = http://a\nB.schema.registry.url = http://b\nstrait.schemas.subjects = (\n",
                "strait.schemas.subjects",
            ),
        ] {
            let text = parse(&format!("{enable}{extra}")).unwrap_err().to_string();
            assert!(text.contains(&format!("`{key}`")), "{extra}: {text}");
        }
    }
}
