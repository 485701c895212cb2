//! Topic and group filters: lists of Java regexes with full-match semantics.
//!
//! MM2 joins a list of `java.util.regex` patterns with `|` and requires a full match; an empty
//! list matches nothing. strait translates the Java dialect to Rust's `regex` crate: Java-only
//! syntax with a faithful equivalent is rewritten (`\Q…\E`, ASCII `\d \w \s`, POSIX `\p{Lower}`,
//! octal and control escapes, `\h \v \R`), and constructs a linear-time engine cannot run
//! (look-around, backreferences, possessive quantifiers, atomic groups) are rejected with an
//! error naming them.

mod java_regex;

use java_regex::compile_full_match;

use crate::policy::{is_cycle, ReplicationPolicy};

/// Default `topics`: every topic.
pub const DEFAULT_TOPICS: &[&str] = &[".*"];
/// Default `topics.exclude`.
pub const DEFAULT_TOPICS_EXCLUDE: &[&str] = &[".*[\\-\\.]internal", ".*\\.replica", "__.*"];
/// Default `groups`: every group.
pub const DEFAULT_GROUPS: &[&str] = &[".*"];
/// Default `groups.exclude`.
pub const DEFAULT_GROUPS_EXCLUDE: &[&str] = &["console-consumer-.*", "connect-.*", "__.*"];
/// Default `config.properties.exclude`: topic configs never copied to remote topics.
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &[&str] = &[
    "follower\\.replication\\.throttled\\.replicas",
    "leader\\.replication\\.throttled\\.replicas",
    "message\\.timestamp\\.difference\\.max\\.ms",
    "message\\.timestamp\\.type",
    "unclean\\.leader\\.election\\.enable",
    "min\\.insync\\.replicas",
];

/// A pattern list cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The pattern uses a Java construct strait's regex engine cannot run.
    #[error("invalid regex `{pattern}`: {construct} is not supported by strait's regex engine")]
    Unsupported {
        /// The offending pattern as configured.
        pattern: String,
        /// What it uses, e.g. "look-behind".
        construct: String,
    },
    /// The pattern is not a valid regex.
    #[error("invalid regex `{pattern}`: {reason}")]
    Invalid {
        /// The offending pattern as configured.
        pattern: String,
        /// Why it does not compile.
        reason: String,
    },
}

/// A compiled list of Java regexes joined with `|`, full match; an empty list matches nothing.
#[derive(Debug, Clone)]
pub struct PatternList {
    patterns: Vec<String>,
    regex: Option<regex::Regex>,
}

impl PatternList {
    /// Compiles `patterns` like MM2's `MirrorUtils.compilePatternList`.
    pub fn new(patterns: &[String]) -> Result<Self, FilterError> {
        if patterns.is_empty() {
            return Ok(Self {
                patterns: Vec::new(),
                regex: None,
            });
        }
        // Java compiles the joined string, so `(a` and `b)` in two list entries form `(a|b)`.
        let joined = patterns.join("|");
        let regex = compile_full_match(&joined).map_err(|e| attribute(patterns, e))?;
        Ok(Self {
            patterns: patterns.to_vec(),
            regex: Some(regex),
        })
    }

    /// Compiles a list of string literals (the built-in defaults).
    pub fn from_strs(patterns: &[&str]) -> Result<Self, FilterError> {
        let owned: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        Self::new(&owned)
    }

    /// Whether `s` fully matches one of the patterns.
    pub fn matches(&self, s: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(s))
    }

    /// The patterns as configured.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// MM2's `DefaultTopicFilter`: a topic passes when it matches `topics` and not `topics.exclude`.
#[derive(Debug, Clone)]
pub struct TopicFilter {
    /// `topics`.
    pub include: PatternList,
    /// `topics.exclude`.
    pub exclude: PatternList,
}

impl TopicFilter {
    /// A filter from compiled include and exclude lists.
    pub fn new(include: PatternList, exclude: PatternList) -> Self {
        Self { include, exclude }
    }

    /// Whether `topic` passes the filter.
    pub fn test(&self, topic: &str) -> bool {
        self.include.matches(topic) && !self.exclude.matches(topic)
    }
}

impl Default for TopicFilter {
    /// MM2's defaults: every topic except `DEFAULT_TOPICS_EXCLUDE`.
    fn default() -> Self {
        Self::new(defaults(DEFAULT_TOPICS), defaults(DEFAULT_TOPICS_EXCLUDE))
    }
}

/// MM2's `DefaultGroupFilter`: a group passes when it matches `groups` and not `groups.exclude`.
#[derive(Debug, Clone)]
pub struct GroupFilter {
    /// `groups`.
    pub include: PatternList,
    /// `groups.exclude`.
    pub exclude: PatternList,
}

impl GroupFilter {
    /// A filter from compiled include and exclude lists.
    pub fn new(include: PatternList, exclude: PatternList) -> Self {
        Self { include, exclude }
    }

    /// Whether `group` passes the filter.
    pub fn test(&self, group: &str) -> bool {
        self.include.matches(group) && !self.exclude.matches(group)
    }
}

impl Default for GroupFilter {
    /// MM2's defaults: every group except `DEFAULT_GROUPS_EXCLUDE`.
    fn default() -> Self {
        Self::new(defaults(DEFAULT_GROUPS), defaults(DEFAULT_GROUPS_EXCLUDE))
    }
}

fn defaults(patterns: &[&str]) -> PatternList {
    PatternList::from_strs(patterns).expect("built-in default patterns compile")
}

/// MM2's `MirrorSourceConnector.shouldReplicateTopic` for the flow to `target_alias` (§2.4).
pub fn should_replicate_topic(
    policy: &ReplicationPolicy,
    filter: &TopicFilter,
    target_alias: &str,
    heartbeats_replication_enabled: bool,
    topic: &str,
) -> bool {
    (filter.test(topic) || (heartbeats_replication_enabled && policy.is_heartbeats_topic(topic)))
        && !policy.is_internal_topic(topic)
        && !is_cycle(policy, target_alias, topic)
}

/// Names the list entry responsible for an error in the joined pattern, when one can be found.
fn attribute(patterns: &[String], joined: FilterError) -> FilterError {
    if patterns.len() == 1 {
        return joined;
    }
    let same_kind = |e: &FilterError| match (e, &joined) {
        (
            FilterError::Unsupported { construct: a, .. },
            FilterError::Unsupported { construct: b, .. },
        ) => a == b,
        (FilterError::Invalid { .. }, FilterError::Invalid { .. }) => true,
        _ => false,
    };
    patterns
        .iter()
        .filter_map(|p| compile_full_match(p).err())
        .find(same_kind)
        .unwrap_or(joined)
}
