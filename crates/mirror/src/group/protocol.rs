//! The bytes strait's members exchange through the group coordinator: what each member owns
//! (its JoinGroup metadata) and the leader's assignment (the same table for every member, so
//! any member can show who owns what). JSON, versioned by the protocol name.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::assignor::PartitionKey;

/// The group's protocol type: only strait members join groups of this type.
pub const PROTOCOL_TYPE: &str = "strait";
/// The one protocol (assignor and encoding) members offer.
pub const PROTOCOL: &str = "strait-cooperative-v1";

/// A member's JoinGroup metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Where the member runs (`host:pid`), for status and logs.
    pub host: String,
    /// Its static instance id (`strait.group.instance.id`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The partitions it runs now (draining ones included): topic → [partition, bytes/s].
    pub owned: BTreeMap<String, Vec<(i32, u64)>>,
}

impl MemberInfo {
    /// The metadata of a member on `host` (static as `instance`) running `owned` (with recent
    /// bytes per second).
    pub fn new(
        host: &str,
        instance: Option<&str>,
        owned: &BTreeMap<PartitionKey, u64>,
    ) -> MemberInfo {
        let mut by_topic: BTreeMap<String, Vec<(i32, u64)>> = BTreeMap::new();
        for ((topic, partition), rate) in owned {
            by_topic
                .entry(topic.clone())
                .or_default()
                .push((*partition, *rate));
        }
        MemberInfo {
            host: host.to_owned(),
            instance: instance.map(str::to_owned),
            owned: by_topic,
        }
    }

    /// The partitions with their rates.
    pub fn partitions(&self) -> impl Iterator<Item = (PartitionKey, u64)> + '_ {
        self.owned
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |(p, r)| ((t.clone(), *p), *r)))
    }
}

/// One member as the assignment lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// Where it runs.
    pub host: String,
    /// Its static instance id, if it has one: a member restarted in its place finds its
    /// partitions by it (the coordinator hands it the old assignment, under the old member id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Its partitions this generation: topic → partitions.
    pub partitions: BTreeMap<String, Vec<i32>>,
}

impl MemberView {
    /// A member on `host` (static as `instance`) with the partitions `keys`.
    pub fn new<'k>(
        host: String,
        instance: Option<String>,
        keys: impl IntoIterator<Item = &'k PartitionKey>,
    ) -> MemberView {
        let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in keys {
            partitions
                .entry(topic.clone())
                .or_default()
                .push(*partition);
        }
        MemberView {
            host,
            instance,
            partitions,
        }
    }

    /// Its partitions as keys.
    pub fn keys(&self) -> BTreeSet<PartitionKey> {
        self.partitions
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect()
    }

    /// How many partitions it has.
    pub fn count(&self) -> usize {
        self.partitions.values().map(Vec::len).sum()
    }
}

/// The leader's assignment of one generation, sent to every member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentInfo {
    /// The generation it belongs to.
    pub generation: i32,
    /// The leader's member id.
    pub leader: String,
    /// Every member and its partitions.
    pub members: BTreeMap<String, MemberView>,
    /// Partitions held back this generation (being handed over).
    pub held_back: usize,
}

/// Bytes that are not what a strait member sends.
#[derive(Debug, thiserror::Error)]
#[error("group {group}: {what} is not {PROTOCOL} data: {source}")]
pub struct ProtocolError {
    /// The group.
    pub group: String,
    /// Whose bytes (`metadata of member m-1`, `assignment`).
    pub what: String,
    /// Why they do not parse.
    #[source]
    pub source: serde_json::Error,
}

/// Encodes metadata or an assignment.
pub fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("plain data serializes"))
}

/// Decodes metadata or an assignment (`what` names them in the error).
pub fn decode<T: for<'de> Deserialize<'de>>(
    group: &str,
    what: &str,
    bytes: &[u8],
) -> Result<T, ProtocolError> {
    serde_json::from_slice(bytes).map_err(|source| ProtocolError {
        group: group.to_owned(),
        what: what.to_owned(),
        source,
    })
}

/// Where this process runs: `host:pid`.
pub fn this_host() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_info_round_trips_and_lists_its_partitions() {
        let owned = BTreeMap::from([
            (("orders".to_owned(), 0), 10),
            (("orders".to_owned(), 3), 0),
            (("pay".to_owned(), 1), 7),
        ]);
        let info = MemberInfo::new("h:1", None, &owned);
        let bytes = encode(&info);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"host":"h:1","owned":{"orders":[[0,10],[3,0]],"pay":[[1,7]]}}"#
        );
        let back: MemberInfo = decode("g", "metadata", &bytes).unwrap();
        assert_eq!(back.partitions().collect::<BTreeMap<_, _>>(), owned);

        let static_member = MemberInfo::new("h:2", Some("node-a"), &owned);
        let bytes = encode(&static_member);
        assert!(
            std::str::from_utf8(&bytes)
                .unwrap()
                .starts_with(r#"{"host":"h:2","instance":"node-a","#),
            "{bytes:?}"
        );
        let back: MemberInfo = decode("g", "metadata", &bytes).unwrap();
        assert_eq!(back, static_member);
    }

    #[test]
    fn garbage_is_named() {
        let err = decode::<AssignmentInfo>("strait-a-b", "assignment", b"\x00").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("strait-a-b") && text.contains("assignment"),
            "{text}"
        );
    }
}
