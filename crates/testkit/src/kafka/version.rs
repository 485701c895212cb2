//! The pinned Apache Kafka versions and what differs between them.

use std::fmt;

/// A pinned Apache Kafka release: broker, MirrorMaker 2 and Java clients of the same version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KafkaVersion {
    /// 4.3.1: the newest release whose `connect-mirror` Maven Central serves here (the default).
    V4_3,
    /// 3.9.2: the last 3.x release, what many MM2 deployments still run.
    V3_9,
}

impl KafkaVersion {
    /// Every pinned version, newest first.
    pub const ALL: [KafkaVersion; 2] = [KafkaVersion::V4_3, KafkaVersion::V3_9];

    /// The Maven version string, e.g. "4.3.1".
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaVersion::V4_3 => "4.3.1",
            KafkaVersion::V3_9 => "3.9.2",
        }
    }

    /// Parses "4.3.1" / "3.9.2" (or the line, "4.3" / "3.9").
    pub fn parse(s: &str) -> Option<KafkaVersion> {
        let s = s.trim();
        KafkaVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s || v.as_str().starts_with(&format!("{s}.")))
    }

    /// The version `BrokerKind::Kafka` runs: env `STRAIT_KAFKA_VERSION`, default 4.3.1.
    ///
    /// Panics with a clear message on an unknown version, so a typo never tests the wrong broker.
    pub fn from_env() -> KafkaVersion {
        match std::env::var("STRAIT_KAFKA_VERSION") {
            Ok(v) if !v.trim().is_empty() => KafkaVersion::parse(&v).unwrap_or_else(|| {
                panic!(
                    "STRAIT_KAFKA_VERSION: unknown Kafka version `{v}`; expected one of: {}",
                    KafkaVersion::ALL.map(KafkaVersion::as_str).join(", ")
                )
            }),
            _ => KafkaVersion::V4_3,
        }
    }

    /// The checked-in pom listing this version's jars.
    pub(crate) fn pom(self) -> &'static str {
        match self {
            KafkaVersion::V4_3 => include_str!("../../kafka/pom-4.3.1.xml"),
            KafkaVersion::V3_9 => include_str!("../../kafka/pom-3.9.2.xml"),
        }
    }

    /// The logging config file (name, contents) and the JVM flag that points at it.
    pub(crate) fn log_config(self) -> (&'static str, &'static str, &'static str) {
        match self {
            KafkaVersion::V4_3 => (
                "log4j2.properties",
                include_str!("../../kafka/log4j2.properties"),
                "-Dlog4j2.configurationFile=",
            ),
            KafkaVersion::V3_9 => (
                "log4j.properties",
                include_str!("../../kafka/log4j.properties"),
                "-Dlog4j.configuration=file:",
            ),
        }
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_and_lines() {
        assert_eq!(KafkaVersion::parse("4.3.1"), Some(KafkaVersion::V4_3));
        assert_eq!(KafkaVersion::parse(" 3.9 "), Some(KafkaVersion::V3_9));
        assert_eq!(KafkaVersion::parse("3"), Some(KafkaVersion::V3_9));
        assert_eq!(KafkaVersion::parse("4.4.0"), None);
        assert_eq!(KafkaVersion::parse("3.9.1"), None);
    }

    #[test]
    fn poms_pin_their_version() {
        for v in KafkaVersion::ALL {
            let pin = format!("<kafka.version>{v}</kafka.version>");
            assert!(v.pom().contains(&pin), "{v}: pom must pin {pin}");
        }
    }
}
