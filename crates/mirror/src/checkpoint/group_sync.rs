//! Writing translated offsets into the target cluster's consumer groups (spec §6.4,
//! `sync.group.offsets.enabled`), and the same rules for `strait offsets apply`: never while
//! the group has active members there, never rewinding a committed offset.

use std::collections::BTreeMap;

use strait_kafka::{Cluster, CommittedOffset, GroupDescription};

/// A consumer group as seen on the target cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetGroup {
    /// No such group (state Dead or unknown): offsets may be written.
    Absent,
    /// The group exists without members: offsets may be written, never rewound.
    Empty,
    /// The group has members (state given): offsets must not be written.
    Active(String),
}

impl TargetGroup {
    /// Classifies a DescribeGroups answer.
    pub fn from_description(d: &GroupDescription) -> TargetGroup {
        match d.state.as_str() {
            "Dead" | "" => TargetGroup::Absent,
            "Empty" if d.members.is_empty() => TargetGroup::Empty,
            state => TargetGroup::Active(format!("{state} with {} members", d.members.len())),
        }
    }
}

/// An offset wanted for a target group partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedOffset {
    /// Downstream topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset to commit.
    pub offset: i64,
    /// Commit metadata.
    pub metadata: String,
}

/// What to do with one wanted offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Commit it (the group has nothing for the partition, or is behind).
    Write,
    /// Already there.
    Unchanged,
    /// The group is ahead: writing would rewind it (and re-deliver records).
    WouldRewind,
}

/// Decides per wanted offset against what the target group committed.
pub fn decide(
    committed: &BTreeMap<(String, i32), CommittedOffset>,
    wanted: &WantedOffset,
    allow_rewind: bool,
) -> Decision {
    match committed.get(&(wanted.topic.clone(), wanted.partition)) {
        None => Decision::Write,
        Some(c) if c.offset == wanted.offset => Decision::Unchanged,
        Some(c) if c.offset < wanted.offset || allow_rewind => Decision::Write,
        Some(_) => Decision::WouldRewind,
    }
}

/// Outcome of syncing one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSyncOutcome {
    /// This many offsets were committed.
    Written(usize),
    /// The group has active members on the target: left alone.
    SkippedActive(String),
}

/// Commits `wanted` to `group` on `target` when the group has no active members there,
/// skipping offsets that would rewind it (MM2's `syncGroupOffset`).
pub async fn sync_group(
    target: &Cluster,
    group: &str,
    wanted: &[WantedOffset],
) -> Result<GroupSyncOutcome, strait_kafka::Error> {
    let state = TargetGroup::from_description(&target.describe_group(group).await?);
    let committed = match &state {
        TargetGroup::Active(s) => return Ok(GroupSyncOutcome::SkippedActive(s.clone())),
        TargetGroup::Absent => BTreeMap::new(),
        TargetGroup::Empty => target.fetch_offsets(group, None).await?,
    };
    let writes: Vec<(&str, i32, i64, Option<&str>)> = wanted
        .iter()
        .filter(|w| decide(&committed, w, false) == Decision::Write)
        .map(|w| {
            let metadata = Some(w.metadata.as_str());
            (w.topic.as_str(), w.partition, w.offset, metadata)
        })
        .collect();
    target.commit_offsets(group, &writes).await?;
    Ok(GroupSyncOutcome::Written(writes.len()))
}
