//! strait-only keys for scale-out: the group a flow's processes form on its target cluster
//! (docs/scale-out.md). Each key may be set for all flows (`strait.group.id`) or for one
//! (`A->B.strait.group.id`), the flow's setting winning, as with MM2's own keys.

use std::time::Duration;

use super::error::{ConfigError, KeyProblem};
use super::properties::Properties;
use super::providers;
use super::values::{java_trim, key_error, Layer, Typed, Val};

/// `strait.group.enabled`: share the flow's work with the other processes running it (default
/// true; false: this process mirrors everything, whatever else runs; docs/scale-out.md).
pub const GROUP_ENABLED: &str = "strait.group.enabled";
/// `strait.group.id`: the group's id on the target cluster (default `strait-<source>-<target>`).
pub const GROUP_ID: &str = "strait.group.id";
/// `strait.group.session.timeout.ms`: how long a silent member keeps its partitions (default
/// 10000; the broker bounds it by `group.min/max.session.timeout.ms`).
pub const GROUP_SESSION_TIMEOUT: &str = "strait.group.session.timeout.ms";
/// `strait.group.heartbeat.interval.ms`: how often members heartbeat (default 1000).
pub const GROUP_HEARTBEAT_INTERVAL: &str = "strait.group.heartbeat.interval.ms";
/// `strait.group.instance.id`: this process's static instance id in the group (KIP-345; no
/// default): restarted within the session, it takes its place back without a rebalance.
pub const GROUP_INSTANCE_ID: &str = "strait.group.instance.id";

/// How the processes running one flow find each other and share its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// The group's id on the target cluster.
    pub id: String,
    /// Without a heartbeat for this long a member is dropped and its partitions move.
    pub session_timeout: Duration,
    /// How often members heartbeat.
    pub heartbeat_interval: Duration,
    /// This process's static instance id, unique among the group's members.
    pub instance_id: Option<String>,
}

/// The flow's group settings; `None` when `strait.group.enabled=false`. `mm2_group` is the
/// flow's MM2 Connect group (`group.id`, default `<source>-mm2`), which strait must not join.
pub(crate) fn group_settings(
    props: &Properties,
    connector: &Layer,
    source: &str,
    target: &str,
    mm2_group: &str,
) -> Result<Option<GroupSettings>, ConfigError> {
    let layer = strait_keys(props, connector, "strait.group.");
    let g = Typed(&layer);
    if !g.boolean(GROUP_ENABLED, true)? {
        return Ok(None);
    }
    let id = match g.get(GROUP_ID) {
        None => format!("strait-{source}-{target}"),
        Some(v) => {
            let id = java_trim(&v.value);
            if id.is_empty() || id == mm2_group {
                let reason = if id.is_empty() {
                    "must not be empty".to_owned()
                } else {
                    format!("is MM2's Connect group for {source}->{target} (group.id); strait needs a group of its own")
                };
                return Err(v.error(GROUP_ID, KeyProblem::Invalid { reason }));
            }
            id.to_owned()
        }
    };
    let millis = |key: &str, default: i64| -> Result<Duration, ConfigError> {
        let ms = g.long(key, default)?;
        match u64::try_from(ms) {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(out_of_range(&layer, key, ms, "must be positive")),
        }
    };
    let session_timeout = millis(GROUP_SESSION_TIMEOUT, 10_000)?;
    let heartbeat_interval = millis(GROUP_HEARTBEAT_INTERVAL, 1_000)?;
    if heartbeat_interval * 3 > session_timeout {
        let ms = heartbeat_interval.as_millis() as i64;
        let requirement = "must be at most a third of strait.group.session.timeout.ms";
        return Err(out_of_range(
            &layer,
            GROUP_HEARTBEAT_INTERVAL,
            ms,
            requirement,
        ));
    }
    let instance_id = match g.get(GROUP_INSTANCE_ID) {
        None => None,
        Some(v) => {
            let invalid = |reason| v.error(GROUP_INSTANCE_ID, KeyProblem::Invalid { reason });
            // `${env:HOSTNAME}`: the pod name on Kubernetes.
            let resolved = providers::resolve(java_trim(&v.value)).map_err(invalid)?;
            let id = java_trim(&resolved);
            if let Some(reason) = invalid_instance_id(id) {
                return Err(invalid(reason));
            }
            Some(id.to_owned())
        }
    };
    Ok(Some(GroupSettings {
        id,
        session_timeout,
        heartbeat_interval,
        instance_id,
    }))
}

/// Why Kafka would refuse `id` as a `group.instance.id`: it takes 1 to 249 of ASCII letters,
/// digits, `.`, `_` and `-`.
fn invalid_instance_id(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("must not be empty".to_owned());
    }
    if id.len() > 249 {
        return Some(format!("is {} characters long, Kafka allows 249", id.len()));
    }
    id.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .map(|c| format!("contains {c:?}: Kafka allows ASCII letters, digits, '.', '_' and '-'"))
}

/// The strait keys starting with `prefix` as a flow sees them: top-level ones, overridden by the
/// flow's own (`A->B.strait…`, in `connector`).
pub(crate) fn strait_keys(props: &Properties, connector: &Layer, prefix: &str) -> Layer {
    let mut layer: Layer = props
        .iter()
        .filter(|p| p.key.starts_with(prefix))
        .map(|p| (p.key.clone(), Val::from_property(p)))
        .collect();
    layer.extend(
        connector
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    layer
}

fn out_of_range(layer: &Layer, key: &str, value: i64, requirement: &'static str) -> ConfigError {
    let value = value.to_string();
    key_error(layer, key, KeyProblem::OutOfRange { value, requirement })
}
