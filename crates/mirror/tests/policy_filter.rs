//! Replication policies and topic filters against MM2's own test vectors
//! (`ReplicationPolicyTest`, `MirrorClientTest`, `MirrorSourceConnectorTest`, `MirrorSourceConfigTest`).

use proptest::prelude::*;
use strait_mirror::filter::{
    should_replicate_topic, FilterError, GroupFilter, PatternList, TopicFilter,
    DEFAULT_CONFIG_PROPERTIES_EXCLUDE, DEFAULT_TOPICS_EXCLUDE,
};
use strait_mirror::policy::{count_hops_for_topic, is_cycle, PolicyError, ReplicationPolicy};

fn default_policy() -> ReplicationPolicy {
    ReplicationPolicy::default()
}

fn with_separator(separator: &str, internal_separator_enabled: bool) -> ReplicationPolicy {
    ReplicationPolicy::from_class(
        "DefaultReplicationPolicy",
        separator,
        internal_separator_enabled,
        None,
    )
    .unwrap()
}

fn identity(source_alias: Option<&str>) -> ReplicationPolicy {
    ReplicationPolicy::from_class(
        "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        ".",
        true,
        source_alias,
    )
    .unwrap()
}

fn list(patterns: &[&str]) -> PatternList {
    PatternList::from_strs(patterns).unwrap()
}

fn accept_all() -> TopicFilter {
    TopicFilter::new(list(&[".*"]), list(&[]))
}

fn reject_all() -> TopicFilter {
    TopicFilter::new(list(&[]), list(&[]))
}

// ---- policy -------------------------------------------------------------------------------

#[test]
fn policy_classes() {
    assert_eq!(
        ReplicationPolicy::from_class(
            "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            ".",
            true,
            None
        )
        .unwrap(),
        default_policy()
    );
    assert_eq!(
        ReplicationPolicy::from_class("IdentityReplicationPolicy", ".", true, Some("a")).unwrap(),
        ReplicationPolicy::Identity {
            separator: ".".into(),
            internal_separator_enabled: true,
            source_alias: Some("a".into())
        }
    );
    let err = ReplicationPolicy::from_class("com.example.Custom", ".", true, None).unwrap_err();
    assert_eq!(
        err,
        PolicyError::UnknownClass {
            class: "com.example.Custom".into()
        }
    );
    let message = err.to_string();
    assert!(message.contains("`com.example.Custom`"), "{message}");
    assert!(message.contains("DefaultReplicationPolicy"), "{message}");
    assert!(message.contains("IdentityReplicationPolicy"), "{message}");
}

#[test]
fn topic_source_follows_java_split() {
    let p = default_policy();
    assert_eq!(p.topic_source("a.b.c").as_deref(), Some("a"));
    assert_eq!(p.topic_source("abc"), None);
    assert_eq!(p.topic_source(".foo").as_deref(), Some(""));
    assert_eq!(p.topic_source("foo."), None);
    assert_eq!(p.topic_source("a..b").as_deref(), Some("a"));
    assert_eq!(p.upstream_topic("a.b.c").as_deref(), Some("b.c"));
    assert_eq!(p.upstream_topic("a..b").as_deref(), Some(".b"));
    assert_eq!(p.upstream_topic(".foo").as_deref(), Some("foo"));
    assert_eq!(p.upstream_topic("abc"), None);
    assert_eq!(p.original_topic("a.b.c"), "c");
    assert_eq!(p.original_topic("abc"), "abc");
    assert_eq!(p.format_remote_topic("us-west", "orders"), "us-west.orders");
}

#[test]
fn internal_topics() {
    let p = default_policy();
    assert!(p.is_internal_topic("__consumer_offsets"));
    assert!(p.is_internal_topic(".hiddentopic"));
    assert!(p.is_internal_topic("mm2-offsets.CLUSTER.internal"));
    assert!(p.is_internal_topic("mm2-offsets-CLUSTER-internal"));
    assert!(!p.is_internal_topic("mm2-offsets_CLUSTER_internal"));
    assert!(p.is_mm2_internal_topic("A.checkpoints.internal"));
    assert!(p.is_checkpoints_topic("A.checkpoints.internal"));
    assert!(!p.is_checkpoints_topic("A.checkpoints"));
}

#[test]
fn internal_topic_names_with_custom_separator() {
    let enabled = with_separator("__", true);
    assert_eq!(
        enabled.offset_syncs_topic("CLUSTER"),
        "mm2-offset-syncs__CLUSTER__internal"
    );
    assert_eq!(
        enabled.checkpoints_topic("CLUSTER"),
        "CLUSTER__checkpoints__internal"
    );
    assert_eq!(enabled.heartbeats_topic(), "heartbeats");
    assert!(enabled.is_checkpoints_topic("CLUSTER__checkpoints__internal"));
    assert!(!enabled.is_checkpoints_topic("CLUSTER.checkpoints.internal"));
    assert!(enabled.is_mm2_internal_topic("x__internal"));

    let disabled = with_separator("__", false);
    assert_eq!(
        disabled.offset_syncs_topic("CLUSTER"),
        "mm2-offset-syncs.CLUSTER.internal"
    );
    assert_eq!(
        disabled.checkpoints_topic("CLUSTER"),
        "CLUSTER.checkpoints.internal"
    );
    assert_eq!(disabled.heartbeats_topic(), "heartbeats");
    assert!(disabled.is_checkpoints_topic("CLUSTER.checkpoints.internal"));
    // Remote topics still use the custom separator.
    assert_eq!(disabled.format_remote_topic("src", "t"), "src__t");
    assert_eq!(
        disabled.topic_source("source1__topic4").as_deref(),
        Some("source1")
    );

    let p = default_policy();
    assert_eq!(
        p.offset_syncs_topic("target2"),
        "mm2-offset-syncs.target2.internal"
    );
    assert_eq!(
        p.checkpoints_topic("source1"),
        "source1.checkpoints.internal"
    );
}

#[test]
fn no_cycles() {
    let p = default_policy();
    let replicate = |topic: &str| should_replicate_topic(&p, &accept_all(), "target", true, topic);
    for topic in [
        "target.topic1",
        "target.source.topic1",
        "source.target.topic1",
        "target.source.target.topic1",
        "source.target.source.topic1",
    ] {
        assert!(!replicate(topic), "{topic} must not be replicated (cycle)");
        assert!(is_cycle(&p, "target", topic), "{topic}");
    }
    assert!(replicate("topic1"));
    assert!(replicate("source.topic1"));
}

#[test]
fn identity_replication_allows_cycles_except_heartbeats() {
    let p = identity(None);
    let replicate = |topic: &str| should_replicate_topic(&p, &accept_all(), "target", true, topic);
    for topic in [
        "target.topic1",
        "target.source.topic1",
        "source.target.topic1",
        "target.source.target.topic1",
        "source.target.source.topic1",
        "topic1",
        "othersource.topic1",
        "heartbeats",
        "othersource.heartbeats",
    ] {
        assert!(replicate(topic), "{topic} should be replicated");
    }
    for topic in [
        "target.heartbeats",
        "target.source.heartbeats",
        "source.target.heartbeats",
        "target.source.target.heartbeats",
        "source.target.source.heartbeats",
    ] {
        assert!(!replicate(topic), "{topic}: heartbeat cycle");
    }
}

#[test]
fn identity_policy_names() {
    let p = identity(Some("primary"));
    assert_eq!(p.format_remote_topic("primary", "topic1"), "topic1");
    assert_eq!(p.topic_source("topic1").as_deref(), Some("primary"));
    assert_eq!(p.upstream_topic("topic1").as_deref(), Some("topic1"));
    assert_eq!(p.original_topic("topic1"), "topic1");
    // Heartbeats are handled as a special case.
    assert_eq!(
        p.format_remote_topic("backup", "heartbeats"),
        "backup.heartbeats"
    );
    assert_eq!(
        p.topic_source("backup.heartbeats").as_deref(),
        Some("backup")
    );
    assert_eq!(p.topic_source("heartbeats"), None);
    assert!(p.is_heartbeats_topic("source1.source2.heartbeats"));
    // Identity with the alias configured is still no cycle for the flow's own source.
    assert!(!is_cycle(&p, "backup", "topic1"));
    assert_eq!(identity(None).topic_source("topic1"), None);
}

#[test]
fn replicates_heartbeats_despite_filter() {
    let p = default_policy();
    assert!(should_replicate_topic(
        &p,
        &reject_all(),
        "target",
        true,
        "heartbeats"
    ));
    assert!(should_replicate_topic(
        &p,
        &reject_all(),
        "target",
        true,
        "us-west.heartbeats"
    ));
    assert!(!should_replicate_topic(
        &p,
        &reject_all(),
        "target",
        true,
        "topic1"
    ));

    let underscore = with_separator("_", true);
    assert!(should_replicate_topic(
        &underscore,
        &reject_all(),
        "target",
        true,
        "heartbeats"
    ));
    assert!(!should_replicate_topic(
        &underscore,
        &reject_all(),
        "target",
        true,
        "us-west.heartbeats"
    ));
    assert!(!underscore.is_heartbeats_topic("us-west.heartbeats"));
    assert!(underscore.is_heartbeats_topic("us_west_heartbeats"));
}

#[test]
fn heartbeats_replication_can_be_disabled() {
    let p = default_policy();
    assert!(!should_replicate_topic(
        &p,
        &reject_all(),
        "target",
        false,
        "heartbeats"
    ));
    assert!(!should_replicate_topic(
        &p,
        &reject_all(),
        "target",
        false,
        "us-west.heartbeats"
    ));
    assert!(should_replicate_topic(
        &p,
        &accept_all(),
        "target",
        false,
        "heartbeats"
    ));
    // A heartbeats topic that came from the target is a cycle either way.
    assert!(!should_replicate_topic(
        &p,
        &accept_all(),
        "target",
        true,
        "target.heartbeats"
    ));
}

#[test]
fn count_hops() {
    let p = default_policy();
    assert_eq!(count_hops_for_topic(&p, "topic", "source"), -1);
    assert_eq!(count_hops_for_topic(&p, "source", "source"), -1);
    assert_eq!(count_hops_for_topic(&p, "sourcetopic", "source"), -1);
    assert_eq!(count_hops_for_topic(&p, "source1.topic", "source1"), 1);
    assert_eq!(
        count_hops_for_topic(&p, "source2.source1.topic", "source2"),
        1
    );
    assert_eq!(
        count_hops_for_topic(&p, "source2.source1.topic", "source1"),
        2
    );
    assert_eq!(
        count_hops_for_topic(&p, "source3.source2.source1.topic", "source1"),
        3
    );
    assert_eq!(
        count_hops_for_topic(&p, "source3.source2.source1.topic", "source4"),
        -1
    );
    // Identity policies never reach another source: the visited set stops the loop.
    assert_eq!(count_hops_for_topic(&identity(Some("a")), "topic", "b"), -1);
    assert_eq!(count_hops_for_topic(&identity(Some("a")), "topic", "a"), 1);
}

// ---- filters ------------------------------------------------------------------------------

#[test]
fn empty_topic_list_replicates_nothing() {
    let filter = TopicFilter::new(list(&[]), list(DEFAULT_TOPICS_EXCLUDE));
    assert!(!filter.test("topic1"));
    assert!(!filter.test(""));
}

#[test]
fn topic_lists_and_regexes() {
    let filter = TopicFilter::new(list(&["topic1", "topic2"]), list(&[]));
    assert!(filter.test("topic1"));
    assert!(filter.test("topic2"));
    assert!(!filter.test("topic3"));
    assert!(!filter.test("xtopic1"), "full match, not search");

    let filter = TopicFilter::new(list(&["topic[0-9]+", "other"]), list(&["topic3"]));
    assert!(filter.test("topic1"));
    assert!(filter.test("topic22"));
    assert!(!filter.test("topic3"));
    assert!(!filter.test("topicX"));
    assert!(filter.test("other"));
}

#[test]
fn default_exclusions() {
    let filter = TopicFilter::default();
    assert!(filter.test("orders"));
    assert!(filter.test("us-west.orders"));
    for topic in [
        "foo.internal",
        "foo-internal",
        "__consumer_offsets",
        "x.replica",
    ] {
        assert!(!filter.test(topic), "{topic} is excluded by default");
    }
    let groups = GroupFilter::default();
    assert!(groups.test("my-app"));
    for group in ["console-consumer-1234", "connect-mm2", "__strimzi"] {
        assert!(!groups.test(group), "{group}");
    }
    let configs = list(DEFAULT_CONFIG_PROPERTIES_EXCLUDE);
    assert!(configs.matches("min.insync.replicas"));
    assert!(configs.matches("message.timestamp.type"));
    assert!(!configs.matches("retention.ms"));
    assert!(!configs.matches("minXinsync.replicas"), "dots are escaped");
}

#[test]
fn list_entries_are_joined_before_compiling_like_java() {
    // Java compiles "(a|b)" from the entries "(a" and "b)".
    let joined = list(&["(a", "b)"]);
    assert!(joined.matches("a") && joined.matches("b"));
}

fn unsupported(pattern: &str) -> String {
    match PatternList::from_strs(&[pattern]).unwrap_err() {
        FilterError::Unsupported {
            construct,
            pattern: p,
        } => {
            assert_eq!(p, pattern);
            construct
        }
        other => panic!("{pattern}: expected Unsupported, got {other:?}"),
    }
}

#[test]
fn constructs_rust_cannot_run_are_rejected() {
    assert_eq!(unsupported("(?=a)a"), "look-ahead");
    assert_eq!(unsupported("(?!a)b"), "look-ahead");
    assert_eq!(unsupported("(?<=x)a"), "look-behind");
    assert_eq!(unsupported("(?<!x)a"), "look-behind");
    assert_eq!(unsupported("(a)\\1"), "backreference");
    assert_eq!(unsupported("(?<n>a)\\k<n>"), "named backreference");
    for possessive in ["a*+", "a++", "a?+", "a{2}+", "(ab)*+"] {
        assert_eq!(
            unsupported(possessive),
            "possessive quantifier",
            "{possessive}"
        );
    }
    assert_eq!(unsupported("(?>a|ab)c"), "atomic group");
    assert!(unsupported("\\p{javaLowerCase}").contains("javaLowerCase"));
    assert!(unsupported("\\p{InGreek}").contains("block"));
    assert!(unsupported("(?U)\\w").contains("(?U)"));

    let err = PatternList::from_strs(&["(?<=x)a"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid regex `(?<=x)a`: look-behind is not supported by strait's regex engine"
    );
    // In a list, the offending entry is named.
    let err = PatternList::from_strs(&["ok.*", "(?=x)y"]).unwrap_err();
    assert!(
        matches!(err, FilterError::Unsupported { ref pattern, .. } if pattern == "(?=x)y"),
        "{err:?}"
    );
}

#[test]
fn look_alikes_inside_quotes_and_classes_are_fine() {
    assert!(list(&["\\Q(?=x)\\E"]).matches("(?=x)"));
    assert!(list(&["[(?=]+"]).matches("(?=="));
    assert!(
        list(&["a\\*+"]).matches("a**"),
        "escaped star then a plain quantifier"
    );
    assert!(
        list(&["(?<name>a)b"]).matches("ab"),
        "named groups are fine"
    );
    assert!(list(&["a*?b"]).matches("aab"), "lazy quantifiers are fine");
}

#[test]
fn invalid_patterns_are_reported() {
    for pattern in ["[a", "(a", "a)", "*a", "a{x}", "\\"] {
        match PatternList::from_strs(&[pattern]) {
            Err(FilterError::Invalid { pattern: p, reason }) => {
                assert_eq!(p, pattern);
                assert!(!reason.is_empty());
            }
            other => panic!("{pattern}: expected Invalid, got {other:?}"),
        }
    }
    // A stray `)` must not escape the anchoring: Java rejects it, so does strait.
    assert!(PatternList::from_strs(&["a)|(b"]).is_err());
}

#[test]
fn java_dialect_is_translated() {
    // \Q...\E quoting.
    let quoted = list(&["\\Qa.b*\\E"]);
    assert!(quoted.matches("a.b*"));
    assert!(!quoted.matches("axb"));
    let in_class = list(&["[\\Q-]\\E]+"]);
    assert!(in_class.matches("-]-"));
    // Java's \d \w \s are ASCII-only.
    assert!(list(&["\\d+"]).matches("123"));
    assert!(!list(&["\\d+"]).matches("١٢٣"));
    assert!(list(&["\\w+"]).matches("a_Z9"));
    assert!(!list(&["\\w+"]).matches("é"));
    assert!(list(&["\\W"]).matches("é"));
    assert!(list(&["a\\sb"]).matches("a\u{0B}b"));
    assert!(!list(&["a\\sb"]).matches("a\u{A0}b"));
    assert!(list(&["[\\w.-]+"]).matches("my-topic.v1"));
    // POSIX classes are ASCII-only in Java.
    assert!(list(&["\\p{Lower}+"]).matches("abc"));
    assert!(!list(&["\\p{Lower}"]).matches("é"));
    assert!(list(&["\\P{Digit}"]).matches("x"));
    assert!(list(&["[\\p{Upper}_]+"]).matches("A_B"));
    // Unicode properties, with Java's optional `Is` prefix.
    assert!(list(&["\\p{L}+"]).matches("héllo"));
    assert!(list(&["\\p{IsLatin}+"]).matches("abc"));
    // Escapes: octal, hex, Unicode, control, escape.
    assert!(list(&["\\0101"]).matches("A"));
    assert!(list(&["\\x41\\x{42}"]).matches("AB"));
    assert!(list(&["\\u00e9"]).matches("é"));
    assert!(list(&["\\uD83D\\uDE00"]).matches("😀"));
    assert!(list(&["\\cA"]).matches("\u{1}"));
    assert!(list(&["\\e"]).matches("\u{1B}"));
    // `\<` and `\>` are literals in Java (word boundaries in Rust).
    assert!(list(&["\\<a\\>"]).matches("<a>"));
    // `[:x:]` and `~~` have no special meaning inside Java classes.
    assert!(list(&["[[:a]]+"]).matches(":a:"));
    assert!(list(&["[~~]"]).matches("~"));
    // Flags: case-insensitive, and Java's d/u which strait drops.
    assert!(list(&["(?i)orders"]).matches("ORDERS"));
    assert!(list(&["(?iu:orders)"]).matches("Orders"));
    assert!(list(&["(?d)a.b"]).matches("axb"));
    // Java lets any punctuation be escaped.
    assert!(list(&["a\\_b\\-c\\@d"]).matches("a_b-c@d"));
    // Ranges ending at `-`.
    assert!(list(&["[+--]"]).matches(","));
}

proptest! {
    #[test]
    fn remote_topic_names_round_trip(
        alias in "[a-zA-Z0-9_-]{1,12}",
        topic in "[a-zA-Z0-9._-]{0,10}[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,10}",
    ) {
        let p = ReplicationPolicy::default();
        let remote = p.format_remote_topic(&alias, &topic);
        prop_assert_eq!(p.topic_source(&remote), Some(alias.clone()));
        prop_assert_eq!(p.upstream_topic(&remote), Some(topic.clone()));
        prop_assert!(is_cycle(&p, &alias, &remote));
        prop_assert_eq!(count_hops_for_topic(&p, &remote, &alias), 1);
    }

    #[test]
    fn plain_topics_are_never_cycles(topic in "[a-zA-Z0-9_-]{1,20}", target in "[a-z]{1,5}") {
        let p = ReplicationPolicy::default();
        prop_assert_eq!(p.topic_source(&topic), None);
        prop_assert!(!is_cycle(&p, &target, &topic));
        prop_assert_eq!(p.original_topic(&topic), topic);
    }

    #[test]
    fn quoted_text_matches_itself(text in "[ -~]{0,20}") {
        prop_assume!(!text.contains("\\E"));
        let quoted = format!("\\Q{text}\\E");
        let list = PatternList::from_strs(&[&quoted]).unwrap();
        prop_assert!(list.matches(&text));
    }
}
