//! `strait.cycle.detection`: how a flow recognises records that would go back where they came
//! from (docs/active-active.md). MM2 knows a record's origin only from the topic's name, which
//! `IdentityReplicationPolicy` does not change; `producer.id` recognises the batches that mirror
//! writers produced instead, so two clusters can mirror a same-name topic both ways. Like the
//! throttle keys it may be set for all flows or for one (`A->B.strait.cycle.detection`).

use super::error::{ConfigError, KeyProblem};
use super::exactly_once::ExactlyOnce;
use super::group::strait_keys;
use super::properties::Properties;
use super::values::{key_error, Layer, Typed};

/// The key.
pub const CYCLE_DETECTION: &str = "strait.cycle.detection";

/// How a flow detects replication cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CycleDetection {
    /// MM2's rule: a topic whose name says it came from the target is not mirrored back
    /// (`topic.name`, the default). Identity naming can not tell, so it detects nothing there.
    #[default]
    TopicName,
    /// Also: a batch written by a mirror whose data came from the target is not mirrored back
    /// (`producer.id`). Each cluster lists its mirror writers' producer ids in
    /// `strait-writers.internal`.
    ProducerId,
}

/// The flow's cycle detection; refused together with exactly-once mode, whose one
/// transactional producer per partition can not write on behalf of several origins.
pub(crate) fn cycle_detection(
    props: &Properties,
    connector: &Layer,
    exactly_once: Option<&ExactlyOnce>,
) -> Result<CycleDetection, ConfigError> {
    let layer = strait_keys(props, connector, CYCLE_DETECTION);
    let typed = Typed(&layer);
    let Some(value) = typed.string(CYCLE_DETECTION) else {
        return Ok(CycleDetection::TopicName);
    };
    let detection = match value.to_ascii_lowercase().as_str() {
        "topic.name" => CycleDetection::TopicName,
        "producer.id" => CycleDetection::ProducerId,
        _ => {
            let problem = KeyProblem::InvalidChoice {
                value: value.to_owned(),
                expected: "topic.name or producer.id",
            };
            return Err(key_error(&layer, CYCLE_DETECTION, problem));
        }
    };
    if detection == CycleDetection::ProducerId && exactly_once.is_some() {
        let problem = KeyProblem::InvalidChoice {
            value: value.to_owned(),
            expected: "topic.name while exactly.once.source.support is enabled (producer.id \
                       with exactly-once mode is not supported yet)",
        };
        return Err(key_error(&layer, CYCLE_DETECTION, problem));
    }
    Ok(detection)
}

#[cfg(test)]
mod tests {
    use super::CycleDetection;
    use crate::config::parse_str;

    const BASE: &str = "clusters = a, b\na.bootstrap.servers = h:1\nb.bootstrap.servers = h:2\n\
                        a->b.enabled = true\n";

    fn detection(extra: &str) -> CycleDetection {
        parse_str(&format!("{BASE}{extra}")).unwrap().flows[0].cycle_detection
    }

    #[test]
    fn default_global_and_per_flow() {
        assert_eq!(detection(""), CycleDetection::TopicName);
        let global = "strait.cycle.detection = producer.id\n";
        assert_eq!(detection(global), CycleDetection::ProducerId);
        let per_flow = "strait.cycle.detection = producer.id\na->b.strait.cycle.detection = \
                        topic.name\n";
        assert_eq!(detection(per_flow), CycleDetection::TopicName);
        assert_eq!(
            detection("a->b.strait.cycle.detection = Producer.Id\n"),
            CycleDetection::ProducerId
        );
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        let e = parse_str(&format!("{BASE}strait.cycle.detection = headers\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("strait.cycle.detection") && e.contains("line 5"),
            "{e}"
        );
        let eos = "b.exactly.once.source.support = enabled\nstrait.cycle.detection = producer.id\n";
        let e = parse_str(&format!("{BASE}{eos}")).unwrap_err().to_string();
        assert!(
            e.contains("strait.cycle.detection") && e.contains("exactly.once.source.support"),
            "{e}"
        );
    }
}
