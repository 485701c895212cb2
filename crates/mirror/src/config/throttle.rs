//! strait-only keys for throttling (docs/throttling.md): a bytes-per-second limit on a whole
//! flow, and on groups of its topics chosen by pattern. Each key may be set for all flows or for
//! one (`A->B.strait.throttle.bytes.per.second`), the flow's setting winning.

use super::error::{ConfigError, KeyProblem};
use super::group::strait_keys;
use super::properties::Properties;
use super::values::{key_error, Layer, Typed};
use crate::filter::PatternList;

/// `strait.throttle.bytes.per.second`: the most record-batch bytes per second the flow writes
/// to its target, all its partitions together (default: no limit).
pub const THROTTLE_BYTES: &str = "strait.throttle.bytes.per.second";
/// `strait.throttle.rules`: names of topic rules, each with `strait.throttle.rule.<name>.topics`
/// (Java regexes, full match, like `topics`) and `strait.throttle.rule.<name>.bytes.per.second`.
pub const THROTTLE_RULES: &str = "strait.throttle.rules";
/// The prefix of a rule's keys.
pub const THROTTLE_RULE_PREFIX: &str = "strait.throttle.rule.";

/// A flow's throttles; both empty: no limit.
#[derive(Debug, Clone, Default)]
pub struct ThrottleSettings {
    /// The whole flow's limit, bytes per second.
    pub flow: Option<u64>,
    /// Limits on groups of topics, in the order of `strait.throttle.rules`: a topic counts
    /// against the first rule whose patterns match it (and against the flow's limit).
    pub rules: Vec<ThrottleRule>,
}

/// A limit shared by the topics matching `topics`.
#[derive(Debug, Clone)]
pub struct ThrottleRule {
    /// The rule's name (metric label).
    pub name: String,
    /// The patterns as written.
    pub patterns: Vec<String>,
    /// The patterns, compiled.
    pub topics: PatternList,
    /// Bytes per second.
    pub bytes_per_second: u64,
}

impl ThrottleSettings {
    /// Whether anything is limited.
    pub fn is_empty(&self) -> bool {
        self.flow.is_none() && self.rules.is_empty()
    }

    /// The rule governing `topic`, if any.
    pub fn rule_for(&self, topic: &str) -> Option<&ThrottleRule> {
        self.rules.iter().find(|r| r.topics.matches(topic))
    }
}

/// The flow's throttle keys.
pub(crate) fn throttle_settings(
    props: &Properties,
    connector: &Layer,
) -> Result<ThrottleSettings, ConfigError> {
    let layer = strait_keys(props, connector, "strait.throttle.");
    let t = Typed(&layer);
    let flow = rate(&layer, THROTTLE_BYTES)?;
    let mut rules = Vec::new();
    for name in t.list(THROTTLE_RULES).unwrap_or_default() {
        if name.is_empty() {
            continue;
        }
        let topics_key = format!("{THROTTLE_RULE_PREFIX}{name}.topics");
        let bytes_key = format!("{THROTTLE_RULE_PREFIX}{name}.bytes.per.second");
        let missing = |key: &str| ConfigError::Key {
            key: key.to_owned(),
            line: layer
                .get(THROTTLE_RULES)
                .and_then(|v| v.origin.as_ref().map(|o| o.line)),
            problem: KeyProblem::Invalid {
                reason: format!("throttle rule {name} (in {THROTTLE_RULES}) needs it"),
            },
        };
        let patterns = t.list(&topics_key).ok_or_else(|| missing(&topics_key))?;
        let topics =
            PatternList::new(&patterns).map_err(|e| key_error(&layer, &topics_key, e.into()))?;
        let bytes_per_second = rate(&layer, &bytes_key)?.ok_or_else(|| missing(&bytes_key))?;
        rules.push(ThrottleRule {
            name,
            patterns,
            topics,
            bytes_per_second,
        });
    }
    Ok(ThrottleSettings { flow, rules })
}

/// A positive bytes-per-second value, if set.
fn rate(layer: &Layer, key: &str) -> Result<Option<u64>, ConfigError> {
    if layer.get(key).is_none() {
        return Ok(None);
    }
    let value = Typed(layer).long(key, 0)?;
    match u64::try_from(value) {
        Ok(v) if v > 0 => Ok(Some(v)),
        _ => Err(key_error(
            layer,
            key,
            KeyProblem::OutOfRange {
                value: value.to_string(),
                requirement: "must be a positive number of bytes per second",
            },
        )),
    }
}
