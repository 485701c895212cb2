//! Exactly-once mode: MM2's worker key `<target>.exactly.once.source.support = enabled`
//! (KIP-618). Each source partition's forwarded batches and its progress record are written in
//! one transaction on the target, under a transactional id of its own (docs/exactly-once.md).

use std::time::Duration;

use super::client::ClientProps;
use super::error::{ConfigError, KeyProblem};
use super::group::strait_keys;
use super::properties::Properties;
use super::values::{java_trim, key_error, Layer, Typed};

/// `strait.transactional.id.prefix`: what every transactional id of a flow starts with
/// (default `strait-<source>-<target>`; the id is `<prefix>-<topic>-<partition>`).
pub const TRANSACTIONAL_ID_PREFIX: &str = "strait.transactional.id.prefix";

/// The Java producer's `transaction.timeout.ms` default.
const DEFAULT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// How exactly-once mode writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactlyOnce {
    /// The start of every transactional id of the flow.
    pub transactional_id_prefix: String,
    /// The target producer's `transaction.timeout.ms`: the coordinator aborts a transaction
    /// open longer (a stalled or frozen strait).
    pub transaction_timeout: Duration,
    /// When a partition commits its transaction.
    pub boundary: TransactionBoundary,
}

/// When a transaction ends (Connect's `transaction.boundary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// After the batches of each fetch are written (`poll`, the default).
    Poll,
    /// Once the transaction has been open this long, or the partition has caught up
    /// (`interval`, `transaction.boundary.interval.ms`).
    Interval(Duration),
}

impl ExactlyOnce {
    /// The transactional id of source partition `topic`-`partition`: stable, so whoever
    /// writes the partition next fences every earlier writer of it.
    pub fn transactional_id(&self, topic: &str, partition: i32) -> String {
        format!("{}-{topic}-{partition}", self.transactional_id_prefix)
    }
}

/// The flow's exactly-once settings; `None` unless the worker key enables it.
pub(crate) fn exactly_once(
    props: &Properties,
    worker: &Layer,
    connector: &Layer,
    target_producer: &ClientProps,
    offset_flush_interval: Duration,
    (source, target): (&str, &str),
) -> Result<Option<ExactlyOnce>, ConfigError> {
    const SUPPORT: &str = "exactly.once.source.support";
    let w = Typed(worker);
    let support = w.string(SUPPORT).map(java_trim);
    match support.map(str::to_ascii_lowercase).as_deref() {
        None | Some("disabled") => return Ok(None),
        Some("preparing") => {
            tracing::info!(
                "{target}.{SUPPORT} = preparing: {source}->{target} mirrors without \
                 transactions (strait needs no preparation round: set it to enabled)"
            );
            return Ok(None);
        }
        Some("enabled") => {}
        Some(_) => {
            return Err(key_error(
                worker,
                SUPPORT,
                KeyProblem::InvalidChoice {
                    value: support.unwrap_or_default().to_owned(),
                    expected: "enabled, preparing or disabled",
                },
            ))
        }
    }
    let c = Typed(connector);
    if let Some(v) = c.string("exactly.once.support") {
        if !["requested", "required"].contains(&java_trim(v).to_ascii_lowercase().as_str()) {
            let value = v.to_owned();
            let expected = "requested or required";
            let problem = KeyProblem::InvalidChoice { value, expected };
            return Err(key_error(connector, "exactly.once.support", problem));
        }
    }
    let boundary = match c.string("transaction.boundary").map(java_trim) {
        None => TransactionBoundary::Poll,
        Some(b) if b.eq_ignore_ascii_case("poll") => TransactionBoundary::Poll,
        Some(b) if b.eq_ignore_ascii_case("interval") => {
            let ms = c.long(
                "transaction.boundary.interval.ms",
                offset_flush_interval.as_millis() as i64,
            )?;
            match u64::try_from(ms) {
                Ok(ms) if ms > 0 => TransactionBoundary::Interval(Duration::from_millis(ms)),
                _ => {
                    let value = ms.to_string();
                    let requirement = "must be positive";
                    let problem = KeyProblem::OutOfRange { value, requirement };
                    return Err(key_error(
                        connector,
                        "transaction.boundary.interval.ms",
                        problem,
                    ));
                }
            }
        }
        Some(b) => {
            let expected = if b.eq_ignore_ascii_case("connector") {
                "poll or interval (MirrorSourceConnector defines no transaction boundaries)"
            } else {
                "poll or interval"
            };
            let value = b.to_owned();
            let problem = KeyProblem::InvalidChoice { value, expected };
            return Err(key_error(connector, "transaction.boundary", problem));
        }
    };
    let transaction_timeout = target_producer
        .get_duration_ms("transaction.timeout.ms")?
        .unwrap_or(DEFAULT_TRANSACTION_TIMEOUT);
    if transaction_timeout.is_zero() {
        let problem = KeyProblem::OutOfRange {
            value: "0".to_owned(),
            requirement: "must be positive",
        };
        return Err(target_producer.error("transaction.timeout.ms", problem));
    }
    Ok(Some(ExactlyOnce {
        transactional_id_prefix: transactional_id_prefix(props, connector, source, target)?,
        transaction_timeout,
        boundary,
    }))
}

/// `strait.transactional.id.prefix`, the flow's (`A->B.strait…`) setting winning.
fn transactional_id_prefix(
    props: &Properties,
    connector: &Layer,
    source: &str,
    target: &str,
) -> Result<String, ConfigError> {
    let layer = strait_keys(props, connector, TRANSACTIONAL_ID_PREFIX);
    match layer.get(TRANSACTIONAL_ID_PREFIX) {
        None => Ok(format!("strait-{source}-{target}")),
        Some(v) if java_trim(&v.value).is_empty() => Err(v.error(
            TRANSACTIONAL_ID_PREFIX,
            KeyProblem::Invalid {
                reason: "must not be empty".to_owned(),
            },
        )),
        Some(v) => Ok(java_trim(&v.value).to_owned()),
    }
}
