//! Reading the target cluster (the source may be down): the checkpoints of the selected
//! groups and the target groups' offsets, turned into one row per group and target partition;
//! the offset syncs (target, or source when reachable) only label how precise a row is.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use strait_kafka::{Cluster, CommittedOffset, Isolation, OffsetSpec};
use strait_mirror::checkpoint::{checkpoints_topic, CheckpointStore, OffsetSyncStore, Translation};
use strait_mirror::config::FlowConfig;
use strait_mirror::filter::PatternList;
use strait_mirror::formats::Checkpoint;
use strait_mirror::policy::ReplicationPolicy;

use super::flow::within;
use super::syncs::{self, Syncs};

/// How a row's target offset was found (the "how" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// A checkpoint, confirmed by an offset sync for that exact position: nothing re-read.
    Exact,
    /// A checkpoint one past an earlier sync: may re-read records (at most one strait batch
    /// when the sync is recent), never skips one.
    Conservative,
    /// A checkpoint whose precision cannot be checked (the offset syncs live on the source and
    /// it is unreachable, or no kept sync matches the checkpoint).
    Checkpoint,
    /// No checkpoint: the first offset at or after `--to-datetime`.
    Timestamp,
    /// No checkpoint and no `--to-datetime`: left alone.
    Untranslatable,
}

impl How {
    /// The word printed in tables and JSON.
    pub(crate) fn word(self) -> &'static str {
        match self {
            How::Exact => "exact",
            How::Conservative => "conservative",
            How::Checkpoint => "checkpoint",
            How::Timestamp => "timestamp",
            How::Untranslatable => "untranslatable",
        }
    }
}

/// One group and target partition.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Consumer group.
    pub(crate) group: String,
    /// Topic on the target cluster.
    pub(crate) topic: String,
    /// Partition.
    pub(crate) partition: i32,
    /// The group's committed offset on the source, as of the checkpoint.
    pub(crate) source_offset: Option<i64>,
    /// Where the group resumes on the target.
    pub(crate) target_offset: Option<i64>,
    /// Commit metadata to carry over.
    pub(crate) metadata: String,
    /// How `target_offset` was found.
    pub(crate) how: How,
    /// The group's committed offset on the target now.
    pub(crate) current: Option<i64>,
}

/// Which groups: one by name, or every checkpointed group matching a regex.
#[derive(Debug, Clone)]
pub(crate) enum GroupSelector {
    /// Exactly this group.
    Name(String),
    /// Groups whose whole id matches (Java regex syntax, like `groups`).
    Regex(PatternList),
}

impl GroupSelector {
    /// From `--group` / `--group-regex`.
    pub(crate) fn new(group: Option<String>, regex: Option<String>) -> anyhow::Result<Self> {
        match (group, regex) {
            (Some(g), None) => Ok(GroupSelector::Name(g)),
            (None, Some(r)) => Ok(GroupSelector::Regex(
                PatternList::new(std::slice::from_ref(&r))
                    .with_context(|| format!("--group-regex {r:?}"))?,
            )),
            _ => anyhow::bail!("name the group with --group or --group-regex"),
        }
    }

    fn matches(&self, group: &str) -> bool {
        match self {
            GroupSelector::Name(g) => g == group,
            GroupSelector::Regex(r) => r.matches(group),
        }
    }
}

/// The source topic a downstream topic was mirrored from (inverse of MM2's rename).
fn upstream_topic(policy: &ReplicationPolicy, source: &str, target: &str, topic: &str) -> String {
    if policy.topic_source(topic).as_deref() == Some(source) {
        policy
            .upstream_topic(topic)
            .unwrap_or_else(|| topic.to_owned())
    } else {
        policy.format_remote_topic(target, topic)
    }
}

/// The rows, and a note for the operator when their precision could not be checked.
pub(crate) struct Translated {
    /// One per group and target partition.
    pub(crate) rows: Vec<Row>,
    /// Why checkpointed rows say `checkpoint` (the source holding the syncs is unreachable).
    pub(crate) note: Option<String>,
}

/// Builds the rows for the selected groups; offsets come from the target cluster alone.
pub(crate) async fn translate(
    flow: &FlowConfig,
    target: &Cluster,
    selector: &GroupSelector,
    to_datetime: Option<i64>,
) -> anyhow::Result<Translated> {
    let topic = checkpoints_topic(flow);
    let checkpoints = within(
        format!("reading {topic} on cluster {}", flow.target),
        CheckpointStore::load(target, &topic, |g| selector.matches(g)),
    )
    .await?;
    let (syncs, note) = match syncs::load(flow, target).await? {
        Syncs::Read(store) => (Some(store), None),
        Syncs::SourceUnreachable(note) => (None, Some(note)),
    };
    let mut groups = checkpoints.groups();
    if let GroupSelector::Name(g) = selector {
        groups.insert(g.clone());
    }
    let mut rows = Vec::new();
    for group in groups {
        let current = within(
            format!(
                "fetching offsets of group {group} on cluster {}",
                flow.target
            ),
            target.fetch_offsets(&group, None),
        )
        .await?;
        let mine: Vec<&Checkpoint> = checkpoints.group(&group).collect();
        let topics: BTreeSet<&str> = mine.iter().map(|c| c.topic.as_str()).collect();
        for topic in topics {
            let partitions = partition_count(target, &flow.target, topic).await?;
            for partition in 0..partitions {
                let checkpoint = mine
                    .iter()
                    .find(|c| c.topic == topic && c.partition == partition);
                let row = match checkpoint {
                    Some(c) => from_checkpoint(flow, syncs.as_ref(), c),
                    None => {
                        by_time(target, &flow.target, &group, topic, partition, to_datetime).await?
                    }
                };
                rows.push(Row {
                    current: committed(&current, topic, partition),
                    ..row
                });
            }
        }
    }
    Ok(Translated { rows, note })
}

fn committed(
    current: &BTreeMap<(String, i32), CommittedOffset>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    current
        .get(&(topic.to_owned(), partition))
        .map(|c| c.offset)
}

fn from_checkpoint(flow: &FlowConfig, syncs: Option<&OffsetSyncStore>, c: &Checkpoint) -> Row {
    let how = match syncs {
        None => How::Checkpoint,
        Some(store) => {
            let upstream = upstream_topic(&flow.policy, &flow.source, &flow.target, &c.topic);
            match store.translate(&upstream, c.partition, c.upstream_offset) {
                Translation::Exact { downstream } if downstream == c.downstream_offset => {
                    How::Exact
                }
                Translation::Conservative { downstream, .. }
                    if downstream == c.downstream_offset =>
                {
                    How::Conservative
                }
                _ => How::Checkpoint,
            }
        }
    };
    Row {
        group: c.group.clone(),
        topic: c.topic.clone(),
        partition: c.partition,
        source_offset: Some(c.upstream_offset),
        target_offset: Some(c.downstream_offset),
        metadata: c.metadata.clone(),
        how,
        current: None,
    }
}

async fn by_time(
    target: &Cluster,
    alias: &str,
    group: &str,
    topic: &str,
    partition: i32,
    to_datetime: Option<i64>,
) -> anyhow::Result<Row> {
    let mut row = Row {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partition,
        source_offset: None,
        target_offset: None,
        metadata: String::new(),
        how: How::Untranslatable,
        current: None,
    };
    if let Some(ts) = to_datetime {
        let what =
            format!("cluster {alias}: topic {topic} partition {partition}: offset at time {ts}");
        let found = within(
            what.clone(),
            target.list_offsets(
                topic,
                &[partition],
                OffsetSpec::Timestamp(ts),
                Isolation::ReadCommitted,
            ),
        )
        .await?;
        let mut offset = found.first().map_or(-1, |(_, o)| o.offset);
        if offset < 0 {
            // Nothing written at or after that time: the log end, like kafka-consumer-groups.sh.
            let end = within(
                what,
                target.list_offsets(
                    topic,
                    &[partition],
                    OffsetSpec::Latest,
                    Isolation::ReadCommitted,
                ),
            )
            .await?;
            offset = end.first().map_or(0, |(_, o)| o.offset);
        }
        row.target_offset = Some(offset);
        row.how = How::Timestamp;
    }
    Ok(row)
}

async fn partition_count(target: &Cluster, alias: &str, topic: &str) -> anyhow::Result<i32> {
    let metadata = within(
        format!("cluster {alias}: metadata of topic {topic}"),
        target.refresh_topics(&[topic]),
    )
    .await?;
    let n = metadata.topic(topic).map_or(0, |t| t.partitions.len());
    anyhow::ensure!(
        n > 0,
        "cluster {alias}: topic {topic} (named by a checkpoint) does not exist"
    );
    Ok(n as i32)
}
