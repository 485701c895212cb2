//! Replication policies: remote topic names, internal topic names, cycle detection.
//!
//! A faithful port of MM2's `DefaultReplicationPolicy` and `IdentityReplicationPolicy`, including
//! Java's `String.split` quirks when parsing remote topic names (`.foo` has the source `""`,
//! `foo.` has none).

/// Fully qualified class name of MM2's default policy.
pub const DEFAULT_POLICY_CLASS: &str = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
/// Fully qualified class name of MM2's identity (no renaming) policy.
pub const IDENTITY_POLICY_CLASS: &str = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";
/// Default `replication.policy.separator`.
pub const DEFAULT_SEPARATOR: &str = ".";

const HEARTBEATS_TOPIC: &str = "heartbeats";

/// A replication policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `replication.policy.class` names a class strait does not implement.
    #[error(
        "unknown replication policy class `{class}`: strait supports {DEFAULT_POLICY_CLASS} and \
         {IDENTITY_POLICY_CLASS} (custom Java policies cannot be loaded)"
    )]
    UnknownClass {
        /// The class name as configured.
        class: String,
    },
}

/// How topics are renamed on the target cluster and how MM2's internal topics are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `DefaultReplicationPolicy`: remote topics are `<source><separator><topic>`.
    Default {
        /// `replication.policy.separator`, used verbatim (Java does not trim it).
        separator: String,
        /// `replication.policy.internal.topic.separator.enabled` (KIP-949).
        internal_separator_enabled: bool,
    },
    /// `IdentityReplicationPolicy`: remote topics keep their names (heartbeats excepted).
    Identity {
        /// `replication.policy.separator`, used for heartbeats and internal topics.
        separator: String,
        /// `replication.policy.internal.topic.separator.enabled` (KIP-949).
        internal_separator_enabled: bool,
        /// `source.cluster.alias` the policy was configured with (the flow's source in MM2).
        source_alias: Option<String>,
    },
}

impl Default for ReplicationPolicy {
    /// `DefaultReplicationPolicy` with separator `.`.
    fn default() -> Self {
        Self::Default {
            separator: DEFAULT_SEPARATOR.to_owned(),
            internal_separator_enabled: true,
        }
    }
}

impl ReplicationPolicy {
    /// From `replication.policy.class` (full or simple class name: org.apache.kafka.connect.mirror.DefaultReplicationPolicy / IdentityReplicationPolicy, or "DefaultReplicationPolicy"), separator, internal flag, and (Identity) the flow's source alias.
    pub fn from_class(
        class: &str,
        separator: &str,
        internal_separator_enabled: bool,
        source_alias: Option<&str>,
    ) -> Result<Self, PolicyError> {
        let simple = class
            .strip_prefix("org.apache.kafka.connect.mirror.")
            .unwrap_or(class);
        let separator = separator.to_owned();
        match simple {
            "DefaultReplicationPolicy" => Ok(Self::Default {
                separator,
                internal_separator_enabled,
            }),
            "IdentityReplicationPolicy" => Ok(Self::Identity {
                separator,
                internal_separator_enabled,
                source_alias: source_alias.map(str::to_owned),
            }),
            _ => Err(PolicyError::UnknownClass {
                class: class.to_owned(),
            }),
        }
    }

    /// The separator between source alias and topic name in remote topics.
    pub fn separator(&self) -> &str {
        match self {
            Self::Default { separator, .. } | Self::Identity { separator, .. } => separator,
        }
    }

    /// The separator used in internal topic names: the separator, or `.` when KIP-949's flag is off.
    fn internal_separator(&self) -> &str {
        match self {
            Self::Default {
                separator,
                internal_separator_enabled,
            }
            | Self::Identity {
                separator,
                internal_separator_enabled,
                ..
            } => {
                if *internal_separator_enabled {
                    separator
                } else {
                    DEFAULT_SEPARATOR
                }
            }
        }
    }

    /// Identity's configured source alias, when this is an identity policy applying to `topic`.
    fn identity_alias(&self, topic: &str) -> Option<Option<&str>> {
        match self {
            Self::Identity { source_alias, .. } if !topic.ends_with(HEARTBEATS_TOPIC) => {
                Some(source_alias.as_deref())
            }
            _ => None,
        }
    }

    /// Name of `topic` from `source_alias` on the target cluster.
    pub fn format_remote_topic(&self, source_alias: &str, topic: &str) -> String {
        match self.identity_alias(topic) {
            Some(_) => topic.to_owned(),
            None => format!("{source_alias}{}{topic}", self.separator()),
        }
    }

    /// The cluster `topic` was replicated from, `None` when it is not a remote topic.
    pub fn topic_source(&self, topic: &str) -> Option<String> {
        match self.identity_alias(topic) {
            Some(alias) => alias.map(str::to_owned),
            None => default_topic_source(self.separator(), topic).map(str::to_owned),
        }
    }

    /// `topic` one hop upstream (`a.b.c` → `b.c`), `None` when it is not a remote topic.
    pub fn upstream_topic(&self, topic: &str) -> Option<String> {
        if self.identity_alias(topic).is_some() {
            return Some(topic.to_owned());
        }
        let source = default_topic_source(self.separator(), topic)?;
        Some(topic[source.len() + self.separator().len()..].to_owned())
    }

    /// The topic's name on the cluster it was first produced to.
    pub fn original_topic(&self, topic: &str) -> String {
        let mut current = topic.to_owned();
        loop {
            match self.upstream_topic(&current) {
                Some(upstream) if upstream != current => current = upstream,
                _ => return current,
            }
        }
    }

    /// Name of the heartbeats topic (`heartbeats`; the separator never changes it).
    pub fn heartbeats_topic(&self) -> &'static str {
        HEARTBEATS_TOPIC
    }

    /// Offset-syncs topic for `cluster_alias`: `mm2-offset-syncs.<alias>.internal` by default.
    pub fn offset_syncs_topic(&self, cluster_alias: &str) -> String {
        let sep = self.internal_separator();
        format!("mm2-offset-syncs{sep}{cluster_alias}{sep}internal")
    }

    /// Checkpoints topic for `cluster_alias`: `<alias>.checkpoints.internal` by default.
    pub fn checkpoints_topic(&self, cluster_alias: &str) -> String {
        let sep = self.internal_separator();
        format!("{cluster_alias}{sep}checkpoints{sep}internal")
    }

    /// Whether `topic` is a heartbeats topic, possibly replicated several hops.
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS_TOPIC
    }

    /// Whether `topic` is a checkpoints topic.
    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let sep = self.internal_separator();
        topic.ends_with(&format!("{sep}checkpoints{sep}internal"))
    }

    /// Whether `topic` is one of MM2's internal topics (ends with `<sep>internal`).
    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        topic.ends_with(&format!("{}internal", self.internal_separator()))
    }

    /// Whether `topic` is internal to MM2, Kafka or Connect; such topics are never replicated.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        self.is_mm2_internal_topic(topic)
            || topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with("-internal")
            || topic.ends_with(".internal")
    }
}

/// `DefaultReplicationPolicy.topicSource`: the first part of Java's `topic.split(quote(separator))`.
///
/// Java's split keeps a leading empty part (`.foo` → `["", "foo"]`) and drops trailing empty parts
/// (`foo.` → `["foo"]`); fewer than two parts means "not a remote topic". An empty separator
/// splits between every character (Java splits between UTF-16 units; strait between characters).
fn default_topic_source<'t>(separator: &str, topic: &'t str) -> Option<&'t str> {
    if separator.is_empty() {
        let mut chars = topic.char_indices();
        let (_, first) = chars.next()?;
        chars.next()?;
        return Some(&topic[..first.len_utf8()]);
    }
    let (first, rest) = topic.split_once(separator)?;
    // Trailing empty parts are removed: the topic needs a non-empty part after the first one.
    let has_second_part = rest.split(separator).any(|part| !part.is_empty());
    has_second_part.then_some(first)
}

/// Whether replicating `topic` to `target_alias` would send it back where it came from (§2.4).
pub fn is_cycle(policy: &ReplicationPolicy, target_alias: &str, topic: &str) -> bool {
    let mut topic = topic.to_owned();
    loop {
        let Some(source) = policy.topic_source(&topic) else {
            return false;
        };
        if source == target_alias {
            return true;
        }
        match policy.upstream_topic(&topic) {
            // Identity-like policies cannot detect cycles: stop instead of looping forever.
            Some(upstream) if upstream != topic => topic = upstream,
            _ => return false,
        }
    }
}

/// Hops from the cluster `alias` to `topic` (`MirrorClient.countHopsForTopic`), −1 if unreachable.
pub fn count_hops_for_topic(policy: &ReplicationPolicy, topic: &str, alias: &str) -> i32 {
    let mut hops = 0;
    let mut visited = std::collections::HashSet::new();
    let mut topic = topic.to_owned();
    loop {
        hops += 1;
        let Some(source) = policy.topic_source(&topic) else {
            return -1;
        };
        if source == alias {
            return hops;
        }
        if !visited.insert(source) {
            return -1;
        }
        match policy.upstream_topic(&topic) {
            Some(upstream) => topic = upstream,
            None => return -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_split_semantics() {
        let cases = [
            ("a.b.c", Some("a")),
            ("abc", None),
            (".foo", Some("")),
            ("foo.", None),
            ("a..b", Some("a")),
            (".", None),
            ("..", None),
            ("a.", None),
            ("a..", None),
            ("a..b.", Some("a")),
            ("", None),
        ];
        for (topic, want) in cases {
            assert_eq!(default_topic_source(".", topic), want, "{topic:?}");
        }
        assert_eq!(default_topic_source("__", "a__b"), Some("a"));
        assert_eq!(default_topic_source("__", "a_b"), None);
        assert_eq!(default_topic_source("", "ab"), Some("a"));
        assert_eq!(default_topic_source("", "a"), None);
    }
}
