//! Bad configurations and the messages they produce: each names the key and, when the key is
//! written in the file, its line.

use strait_mirror::config::{parse_str, ConfigError};

/// Two clusters with bootstrap servers (lines 1–3) and the flow A->B enabled (line 4).
const BASE: &str = "clusters = A, B\n\
    A.bootstrap.servers = a:9092\n\
    B.bootstrap.servers = b:9092\n\
    A->B.enabled = true\n";

struct Case {
    name: &'static str,
    config: String,
    /// Substrings the message must contain (key, line, explanation).
    expected: &'static [&'static str],
}

fn with_base(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "throttle of no bytes",
            config: with_base("strait.throttle.bytes.per.second = 0\n"),
            expected: &[
                "strait.throttle.bytes.per.second",
                "line 5",
                "positive number of bytes per second",
            ],
        },
        Case {
            name: "throttle rule without its limit",
            config: with_base(
                "strait.throttle.rules = audit\nstrait.throttle.rule.audit.topics = audit.*\n",
            ),
            expected: &[
                "strait.throttle.rule.audit.bytes.per.second",
                "line 5",
                "throttle rule audit",
            ],
        },
        Case {
            name: "throttle rule with a regex Rust cannot run",
            config: with_base(
                "strait.throttle.rules = a\nstrait.throttle.rule.a.topics = (?<=x)y\n\
                 strait.throttle.rule.a.bytes.per.second = 10\n",
            ),
            expected: &["strait.throttle.rule.a.topics", "line 6"],
        },
        Case {
            name: "exactly-once support spelled wrong",
            config: with_base("B.exactly.once.source.support = on\n"),
            expected: &[
                "exactly.once.source.support",
                "line 5",
                "enabled, preparing or disabled",
            ],
        },
        Case {
            name: "connector-defined transaction boundaries",
            config: with_base(
                "B.exactly.once.source.support = enabled\nA->B.transaction.boundary = connector\n",
            ),
            expected: &[
                "transaction.boundary",
                "line 6",
                "MirrorSourceConnector defines no transaction boundaries",
            ],
        },
        Case {
            name: "empty transactional id prefix",
            config: with_base(
                "B.exactly.once.source.support = enabled\nstrait.transactional.id.prefix =\n",
            ),
            expected: &[
                "strait.transactional.id.prefix",
                "line 6",
                "must not be empty",
            ],
        },
        Case {
            name: "exactly-once support level",
            config: with_base(
                "B.exactly.once.source.support = enabled\nA->B.exactly.once.support = sometimes\n",
            ),
            expected: &["exactly.once.support", "line 6", "requested or required"],
        },
        Case {
            name: "missing clusters",
            config: "A.bootstrap.servers = a:9092\nA->B.enabled = true\n".into(),
            expected: &["missing required key `clusters`"],
        },
        Case {
            name: "unknown alias in a flow key",
            config: with_base("# comment\nA->C.enabled = true\n"),
            expected: &[
                "line 6: ",
                "key `A->C.enabled`",
                "unknown cluster alias `C`",
            ],
        },
        Case {
            name: "unknown source alias in a flow key",
            config: with_base("X->B.enabled = true\n"),
            expected: &[
                "line 5: ",
                "key `X->B.enabled`",
                "unknown cluster alias `X`",
            ],
        },
        Case {
            name: "missing bootstrap servers for an enabled flow's cluster",
            config:
                "clusters = A, B\nA.bootstrap.servers = a:9092\nemit.heartbeats.enabled = false\n\
                     A->B.enabled = true\n"
                    .into(),
            expected: &[
                "line 4: ",
                "key `A->B.enabled`",
                "cluster `B`",
                "add `B.bootstrap.servers`",
            ],
        },
        Case {
            name: "missing bootstrap servers of a replication source",
            config: "clusters = A, B\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n\
                     B->A.emit.heartbeats.enabled = false\n"
                .into(),
            expected: &[
                "line 3: ",
                "key `A->B.enabled`",
                "add `A.bootstrap.servers`",
            ],
        },
        Case {
            name: "empty bootstrap servers",
            config: with_base("B.bootstrap.servers =\n"),
            expected: &[
                "line 5: ",
                "key `B.bootstrap.servers`",
                "add `B.bootstrap.servers`",
            ],
        },
        Case {
            name: "look-behind",
            config: with_base("A->B.topics = (?<=x)a\n"),
            expected: &[
                "line 5: key `A->B.topics`: invalid regex `(?<=x)a`: look-behind is not supported \
                 by strait's regex engine",
            ],
        },
        Case {
            name: "look-ahead in an exclude list",
            config: with_base("topics.exclude = internal.*, (?!keep).*\n"),
            expected: &[
                "line 5: ",
                "key `topics.exclude`",
                "`(?!keep).*`",
                "look-ahead",
            ],
        },
        Case {
            name: "backreference",
            // `\\1` in the file is `\1` after Properties unescaping.
            config: with_base("topics = (a)\\\\1\n"),
            expected: &[
                "line 5: ",
                "key `topics`",
                "invalid regex `(a)\\1`",
                "backreference",
            ],
        },
        Case {
            name: "invalid regex",
            config: with_base("A->B.groups = [a-\n"),
            expected: &["line 5: ", "key `A->B.groups`", "invalid regex `[a-`"],
        },
        Case {
            name: "unknown policy class",
            config: with_base("replication.policy.class = com.example.MyPolicy\n"),
            expected: &[
                "line 5: ",
                "key `replication.policy.class`",
                "`com.example.MyPolicy`",
                "DefaultReplicationPolicy",
            ],
        },
        Case {
            name: "malformed boolean",
            config: with_base("A->B.emit.heartbeats.enabled = maybe\n"),
            expected: &[
                "line 5: ",
                "key `A->B.emit.heartbeats.enabled`",
                "invalid boolean `maybe`",
            ],
        },
        Case {
            name: "malformed boolean on a pair that only heartbeats",
            config: with_base("B->A.refresh.topics.enabled = yes\n"),
            expected: &[
                "line 5: ",
                "key `B->A.refresh.topics.enabled`",
                "invalid boolean `yes`",
            ],
        },
        Case {
            name: "malformed enabled flag",
            config: with_base("B->A.enabled = on\n"),
            expected: &["line 5: ", "key `B->A.enabled`", "invalid boolean `on`"],
        },
        Case {
            name: "malformed number",
            config: with_base("replication.factor = two\n"),
            expected: &["line 5: ", "key `replication.factor`", "invalid int `two`"],
        },
        Case {
            name: "replication factor out of range",
            config: with_base("A->B.replication.factor = 40000\n"),
            expected: &["line 5: ", "key `A->B.replication.factor`", "`40000`"],
        },
        Case {
            name: "malformed short",
            config: with_base("A->B.heartbeats.topic.replication.factor = 3.0\n"),
            expected: &[
                "line 5: ",
                "key `A->B.heartbeats.topic.replication.factor`",
                "invalid short `3.0`",
            ],
        },
        Case {
            name: "scale-out group id is MM2's Connect group",
            config: with_base("strait.group.id = A-mm2\n"),
            expected: &[
                "line 5: ",
                "key `strait.group.id`",
                "MM2's Connect group for A->B",
            ],
        },
        Case {
            name: "static instance id Kafka would refuse",
            config: with_base("A->B.strait.group.instance.id = node 1\n"),
            expected: &[
                "line 5: ",
                "key `A->B.strait.group.instance.id`",
                "contains ' '",
            ],
        },
        Case {
            name: "group heartbeat slower than a third of the session",
            config: with_base("strait.group.heartbeat.interval.ms = 5000\n"),
            expected: &[
                "line 5: ",
                "key `strait.group.heartbeat.interval.ms`",
                "at most a third of strait.group.session.timeout.ms",
            ],
        },
        Case {
            name: "zero interval",
            config: with_base("refresh.topics.interval.seconds = 0\n"),
            expected: &[
                "line 5: ",
                "key `refresh.topics.interval.seconds`",
                "must be positive",
            ],
        },
        Case {
            name: "bad worker setting",
            config: with_base("B.offset.flush.interval.ms = soon\n"),
            expected: &[
                "line 5: ",
                "key `B.offset.flush.interval.ms`",
                "invalid long `soon`",
            ],
        },
        Case {
            name: "bad offset-syncs location",
            config: with_base("offset-syncs.topic.location = middle\n"),
            expected: &[
                "line 5: ",
                "key `offset-syncs.topic.location`",
                "invalid value `middle`",
                "source or target",
            ],
        },
        Case {
            name: "bad security protocol",
            config: with_base("A.security.protocol = TLS\n"),
            expected: &[
                "line 5: ",
                "key `A.security.protocol`",
                "invalid value `TLS`",
                "SASL_SSL",
            ],
        },
        Case {
            name: "bad top-level security protocol",
            config: with_base("\nsecurity.protocol = plaintext-ish\n"),
            expected: &["line 6: ", "key `security.protocol`"],
        },
        Case {
            name: "bad auto.offset.reset",
            config: with_base("A.consumer.auto.offset.reset = none\n"),
            expected: &[
                "line 5: ",
                "key `A.consumer.auto.offset.reset`",
                "earliest or latest",
            ],
        },
        Case {
            name: "empty cluster alias",
            config: "clusters = A,,B\n".into(),
            expected: &["line 1: ", "key `clusters`", "empty cluster alias"],
        },
        Case {
            name: "malformed unicode escape",
            config: with_base("A->B.topics = caf\\u00g9\n"),
            expected: &["line 5: ", "\\uxxxx"],
        },
        Case {
            name: "no flows",
            config: "clusters = A\nA.bootstrap.servers = a:9092\n".into(),
            expected: &["No source->target replication flows."],
        },
    ]
}

#[test]
fn bad_configs_are_explained() {
    let mut failures = Vec::new();
    for case in cases() {
        match parse_str(&case.config) {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err(e) => {
                let message = e.to_string();
                for expected in case.expected {
                    if !message.contains(expected) {
                        failures.push(format!("{}: {message:?} lacks {expected:?}", case.name));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn lower_case_security_protocol_is_accepted() {
    assert!(parse_str(&with_base("security.protocol = sasl_ssl\n")).is_ok());
}

#[test]
fn unknown_keys_and_aliases_that_mm2_ignores_are_not_errors() {
    let config = with_base(
        "some.unknown.key = 1\n\
         C.bootstrap.servers = c:9092\n\
         A->C.topics = ignored\n\
         A->C.enabled = false\n\
         A->A.enabled = true\n",
    );
    let config = parse_str(&config).unwrap();
    assert_eq!(config.flows.len(), 2);
}

#[test]
fn key_errors_expose_key_and_line() {
    match parse_str(&with_base("replication.factor = two\n")).unwrap_err() {
        ConfigError::Key { key, line, .. } => {
            assert_eq!(key, "replication.factor");
            assert_eq!(line, Some(5));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_file_names_the_path() {
    let path = std::path::Path::new("/nonexistent/strait/mm2.properties");
    let message = strait_mirror::config::parse_file(path)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("/nonexistent/strait/mm2.properties"),
        "{message}"
    );
}
